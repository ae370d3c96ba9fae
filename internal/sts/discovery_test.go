package sts

import (
	"encoding/json"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"testing"
)

func wantOpenIDV2(authority, issuer string, regionScope any) map[string]any {
	return map[string]any{
		"token_endpoint":                        authority + "/oauth2/v2.0/token",
		"token_endpoint_auth_methods_supported": []any{"client_secret_post", "private_key_jwt", "client_secret_basic"},
		"jwks_uri":                              authority + "/discovery/v2.0/keys",
		"response_modes_supported":              []any{"query", "fragment", "form_post"},
		"subject_types_supported":               []any{"pairwise"},
		"id_token_signing_alg_values_supported": []any{"RS256"},
		"response_types_supported":              []any{"code", "id_token", "code id_token", "id_token token"},
		"scopes_supported":                      []any{"openid", "profile", "email", "offline_access"},
		"issuer":                                issuer,
		"request_uri_parameter_supported":       false,
		"userinfo_endpoint":                     "https://graph.microsoft.com/oidc/userinfo",
		"authorization_endpoint":                authority + "/oauth2/v2.0/authorize",
		"device_authorization_endpoint":         authority + "/oauth2/v2.0/devicecode",
		"http_logout_supported":                 true,
		"frontchannel_logout_supported":         true,
		"end_session_endpoint":                  authority + "/oauth2/v2.0/logout",
		"claims_supported": []any{"sub", "iss", "cloud_instance_name", "cloud_instance_host_name", "cloud_graph_host_name", "msgraph_host",
			"aud", "exp", "iat", "auth_time", "acr", "nonce", "preferred_username", "name", "tid", "ver", "at_hash", "c_hash", "email"},
		"kerberos_endpoint":     authority + "/kerberos",
		"tenant_region_scope":   regionScope,
		"cloud_instance_name":   "microsoftonline.com",
		"cloud_graph_host_name": "graph.windows.net",
		"msgraph_host":          "graph.microsoft.com",
		"rbac_url":              "https://pas.windows.net",
	}
}

func wantOpenIDV1(authority, issuer string, regionScope any) map[string]any {
	return map[string]any{
		"token_endpoint":                        authority + "/oauth2/token",
		"token_endpoint_auth_methods_supported": []any{"client_secret_post", "private_key_jwt", "client_secret_basic"},
		"jwks_uri":                              authority + "/discovery/keys",
		"response_modes_supported":              []any{"query", "fragment", "form_post"},
		"subject_types_supported":               []any{"pairwise"},
		"id_token_signing_alg_values_supported": []any{"RS256"},
		"response_types_supported":              []any{"code", "id_token", "code id_token", "token id_token", "token"},
		"scopes_supported":                      []any{"openid"},
		"issuer":                                issuer,
		"microsoft_multi_refresh_token":         true,
		"authorization_endpoint":                authority + "/oauth2/authorize",
		"device_authorization_endpoint":         authority + "/oauth2/devicecode",
		"http_logout_supported":                 true,
		"frontchannel_logout_supported":         true,
		"end_session_endpoint":                  authority + "/oauth2/logout",
		"claims_supported": []any{"sub", "iss", "cloud_instance_name", "cloud_instance_host_name", "cloud_graph_host_name", "msgraph_host",
			"aud", "exp", "iat", "auth_time", "acr", "amr", "nonce", "email", "given_name", "family_name", "nickname"},
		"check_session_iframe":  authority + "/oauth2/checksession",
		"userinfo_endpoint":     authority + "/openid/userinfo",
		"kerberos_endpoint":     authority + "/kerberos",
		"tenant_region_scope":   regionScope,
		"cloud_instance_name":   "microsoftonline.com",
		"cloud_graph_host_name": "graph.windows.net",
		"msgraph_host":          "graph.microsoft.com",
		"rbac_url":              "https://pas.windows.net",
	}
}

func TestOpenIDConfiguration(t *testing.T) {
	f := newFixture(t)
	tenantAuthority := testBaseURL + "/" + testTenantID
	tests := []struct {
		name string
		path string
		want map[string]any
	}{
		{"v2 by id", "/" + testTenantID + "/v2.0/.well-known/openid-configuration?",
			wantOpenIDV2(tenantAuthority, entraV2Issuer, "NA")},
		{"v2 by upper-case id", "/" + strings.ToUpper(testTenantID) + "/v2.0/.well-known/openid-configuration",
			wantOpenIDV2(tenantAuthority, entraV2Issuer, "NA")},
		{"v2 by domain, any case", "/Mint.LocalHost/v2.0/.well-known/openid-configuration",
			wantOpenIDV2(tenantAuthority, entraV2Issuer, "NA")},
		{"v2 path case-insensitive, trailing slash", "/" + testDomain + "/V2.0/.Well-Known/OpenID-Configuration/",
			wantOpenIDV2(tenantAuthority, entraV2Issuer, "NA")},
		{"v2 common", "/common/v2.0/.well-known/openid-configuration",
			wantOpenIDV2(testBaseURL+"/common", "https://login.microsoftonline.com/{tenantid}/v2.0", nil)},
		{"v2 organizations", "/Organizations/v2.0/.well-known/openid-configuration",
			wantOpenIDV2(testBaseURL+"/organizations", "https://login.microsoftonline.com/{tenantid}/v2.0", nil)},
		{"v1 by id", "/" + testTenantID + "/.well-known/openid-configuration",
			wantOpenIDV1(tenantAuthority, entraV1Issuer, "NA")},
		{"v1 by domain", "/MINT.LOCALHOST/.well-known/openid-configuration",
			wantOpenIDV1(tenantAuthority, entraV1Issuer, "NA")},
		{"v1 common", "/common/.well-known/openid-configuration",
			wantOpenIDV1(testBaseURL+"/common", "https://sts.windows.net/{tenantid}/", nil)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := f.get(tt.path)
			if w.Code != http.StatusOK {
				t.Fatalf("status %d: %s", w.Code, w.Body)
			}
			if ct := w.Header().Get("Content-Type"); ct != "application/json; charset=utf-8" {
				t.Errorf("Content-Type %q", ct)
			}
			var got map[string]any
			if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil {
				t.Fatal(err)
			}
			for k, want := range tt.want {
				if !reflect.DeepEqual(got[k], want) {
					t.Errorf("%s = %#v, want %#v", k, got[k], want)
				}
			}
			for k := range got {
				if _, ok := tt.want[k]; !ok {
					t.Errorf("unexpected field %s", k)
				}
			}
		})
	}
}

func TestDiscoveryErrors(t *testing.T) {
	f := newFixture(t)
	tests := []struct {
		name   string
		method string
		path   string
		status int
		err    string
		code   int
	}{
		{"unknown tenant id", "GET", "/00000000-0000-4000-8000-00000000dead/v2.0/.well-known/openid-configuration", 400, "invalid_request", 90002},
		{"unknown domain", "GET", "/nowhere.example/.well-known/openid-configuration", 400, "invalid_request", 90002},
		{"not a domain", "GET", "/tenant1/v2.0/.well-known/openid-configuration", 400, "invalid_request", 900023},
		{"malformed segment", "GET", "/%7Btenant%7D/v2.0/.well-known/openid-configuration", 400, "invalid_request", 900023},
		{"POST on discovery", "POST", "/" + testTenantID + "/v2.0/.well-known/openid-configuration", 400, "invalid_request", 900561},
		{"unknown tenant keys", "GET", "/nowhere.example/discovery/v2.0/keys", 400, "invalid_request", 90002},
		{"unknown path", "GET", "/" + testTenantID + "/oauth2/v2.0/userinfo", 404, "not_found", 0},
		{"root", "GET", "/", 404, "not_found", 0},
		{"tenant only", "GET", "/common", 404, "not_found", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptestRequest(tt.method, tt.path)
			w := serve(f, req)
			if w.Code != tt.status {
				t.Fatalf("status %d, want %d: %s", w.Code, tt.status, w.Body)
			}
			e := decodeError(t, w)
			if e.Error != tt.err {
				t.Errorf("error %q, want %q", e.Error, tt.err)
			}
			if tt.code != 0 && (len(e.ErrorCodes) != 1 || e.ErrorCodes[0] != tt.code) {
				t.Errorf("error_codes %v, want [%d]", e.ErrorCodes, tt.code)
			}
			if e.TraceID == "" || e.CorrelationID == "" || e.Timestamp != "2026-11-22 00:00:00Z" {
				t.Errorf("envelope %+v", e)
			}
		})
	}
}

func TestKeys(t *testing.T) {
	f := newFixture(t)
	for _, p := range []string{
		"/" + testTenantID + "/discovery/v2.0/keys",
		"/" + testDomain + "/discovery/keys",
		"/common/discovery/keys",
		"/common/discovery/v2.0/keys",
		"/organizations/discovery/v2.0/keys?appid=x",
	} {
		w := f.get(p)
		if w.Code != http.StatusOK {
			t.Fatalf("%s: status %d: %s", p, w.Code, w.Body)
		}
		if w.Body.String() != string(f.signer.JWKS()) {
			t.Errorf("%s: body is not the signer's JWKS", p)
		}
		if ct := w.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
			t.Errorf("%s: Content-Type %q", p, ct)
		}
		if cc := w.Header().Get("Cache-Control"); !strings.Contains(cc, "max-age=300") {
			t.Errorf("%s: Cache-Control %q", p, cc)
		}
	}
}

func TestInstanceDiscovery(t *testing.T) {
	f := newFixture(t)
	aliases := []any{"127.0.0.1:8443", "login.microsoftonline.com", "login.windows.net", "login.microsoft.com", "sts.windows.net"}
	tests := []struct {
		name       string
		query      string
		wantTenant string
	}{
		{"go encoded", "api-version=1.1&authorization_endpoint=" + url.QueryEscape("https://127.0.0.1:8443/Tenant1/oauth2/v2.0/authorize"), "Tenant1"},
		{"js unencoded", "api-version=1.1&authorization_endpoint=https://127.0.0.1:8443/" + testTenantID + "/oauth2/v2.0/authorize", testTenantID},
		{"no endpoint", "api-version=1.1", "common"},
	}
	for _, tt := range tests {
		for _, seg := range []string{"common", testTenantID} {
			w := f.get("/" + seg + "/discovery/instance?" + tt.query)
			if w.Code != http.StatusOK {
				t.Fatalf("%s: status %d: %s", tt.name, w.Code, w.Body)
			}
			var got map[string]any
			if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil {
				t.Fatal(err)
			}
			want := map[string]any{
				"tenant_discovery_endpoint": testBaseURL + "/" + tt.wantTenant + "/v2.0/.well-known/openid-configuration",
				"api-version":               "1.1",
				"metadata": []any{map[string]any{
					"preferred_network": "127.0.0.1:8443", "preferred_cache": "127.0.0.1:8443", "aliases": aliases}},
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("%s: got %#v\nwant %#v", tt.name, got, want)
			}
		}
	}
	w := f.get("/common/discovery/instance?api-version=1.1&authorization_endpoint=not-a-url")
	if w.Code != 400 || decodeError(t, w).Error != "invalid_instance" {
		t.Errorf("bad authorization_endpoint: %d %s", w.Code, w.Body)
	}
}

// Entra's issuers, which every discovery document names as Entra's do (MSAL Go accepts an issuer
// on login.microsoftonline.com whatever the authority's host: it is a trusted host).
const (
	entraV2Issuer = "https://login.microsoftonline.com/" + testTenantID + "/v2.0"
	entraV1Issuer = "https://sts.windows.net/" + testTenantID + "/"
)

// Through the Azure-name proxy a client that keeps login.microsoftonline.com as its authority
// fetches the document from that host; the endpoints are on that host too.
func TestOpenIDConfigurationThroughEntraHostName(t *testing.T) {
	f := newFixture(t)
	for _, host := range []string{"login.microsoftonline.com", "LOGIN.MICROSOFTONLINE.COM:443", "login.windows.net"} {
		req := httptestRequest("GET", "/"+testTenantID+"/v2.0/.well-known/openid-configuration")
		req.Host = host
		w := serve(f, req)
		var got map[string]any
		if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil {
			t.Fatal(err)
		}
		base := "https://" + strings.ToLower(strings.TrimSuffix(host, ":443"))
		if got["issuer"] != entraV2Issuer || got["token_endpoint"] != base+"/"+testTenantID+"/oauth2/v2.0/token" {
			t.Errorf("%s: issuer %v token_endpoint %v", host, got["issuer"], got["token_endpoint"])
		}
	}
	req := httptestRequest("GET", "/"+testTenantID+"/v2.0/.well-known/openid-configuration")
	req.Host = "evil.example"
	var got map[string]any
	_ = json.Unmarshal(serve(f, req).Body.Bytes(), &got)
	if got["issuer"] != entraV2Issuer || got["token_endpoint"] != testBaseURL+"/"+testTenantID+"/oauth2/v2.0/token" {
		t.Errorf("other Host header: issuer %v", got["issuer"])
	}
}
