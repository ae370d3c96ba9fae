package sts

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mint-id/mint/internal/nodewire"
	"github.com/mint-id/mint/internal/store"
)

const (
	v2TokenPath = "/" + testTenantID + "/oauth2/v2.0/token"
	v1TokenPath = "/" + testTenantID + "/oauth2/token"
	testCorrID  = "0d7c1e39-6f0a-4bb0-9a51-3c3a5e7c9a11"
)

func TestTokenV2Response(t *testing.T) {
	f := newFixture(t)
	w := f.post(v2TokenPath+"?", secretForm("https://vault.azure.net/.default openid offline_access profile"), "Client-Request-Id", testCorrID)
	if w.Code != http.StatusOK {
		t.Fatalf("status %d: %s", w.Code, w.Body)
	}
	var body map[string]json.RawMessage
	if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil {
		t.Fatalf("%v: %s", err, w.Body)
	}
	if len(body) != 4 {
		t.Errorf("fields %v, want token_type, expires_in, ext_expires_in, access_token", keys(body))
	}
	for k, want := range map[string]string{"token_type": `"Bearer"`, "expires_in": `3599`, "ext_expires_in": `3599`} {
		if string(body[k]) != want {
			t.Errorf("%s = %s, want %s", k, body[k], want)
		}
	}
	var at string
	if err := json.Unmarshal(body["access_token"], &at); err != nil || strings.Count(at, ".") != 2 {
		t.Fatalf("access_token %s", body["access_token"])
	}
	h := w.Header()
	for k, want := range map[string]string{
		"Content-Type":      "application/json; charset=utf-8",
		"Cache-Control":     "no-store, no-cache",
		"Pragma":            "no-cache",
		"Client-Request-Id": testCorrID,
	} {
		if got := h.Get(k); got != want {
			t.Errorf("header %s = %q, want %q", k, got, want)
		}
	}
	if !isGUID(h.Get("X-Ms-Request-Id")) {
		t.Errorf("x-ms-request-id %q", h.Get("X-Ms-Request-Id"))
	}
	_, claims := decodeJWT(t, at)
	if claims["aud"] != "https://vault.azure.net" || claims["ver"] != "1.0" {
		t.Errorf("aud %v ver %v", claims["aud"], claims["ver"])
	}
}

func TestTokenV1Response(t *testing.T) {
	f := newFixture(t)
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {appClientID}, "client_secret": {appSecret},
		"resource": {"https://management.azure.com/"}}
	w := f.post("/"+testDomain+"/oauth2/token", form)
	if w.Code != http.StatusOK {
		t.Fatalf("status %d: %s", w.Code, w.Body)
	}
	var body map[string]any
	if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"token_type":     "Bearer",
		"expires_in":     "3599",
		"ext_expires_in": "3599",
		"expires_on":     strconv.FormatInt(testNow.Add(time.Hour).Unix(), 10),
		"not_before":     strconv.FormatInt(testNow.Unix(), 10),
		"resource":       "https://management.azure.com/",
	}
	at, _ := body["access_token"].(string)
	delete(body, "access_token")
	if !reflect.DeepEqual(body, want) {
		t.Errorf("body %v\nwant %v", body, want)
	}
	_, claims := decodeJWT(t, at)
	if claims["aud"] != "https://management.azure.com/" {
		t.Errorf("aud %v", claims["aud"])
	}
}

func TestTokenClaimsV1(t *testing.T) {
	f := newFixture(t)
	w := f.post(v2TokenPath, secretForm("https://management.azure.com//.default"))
	if w.Code != 200 {
		t.Fatalf("status %d: %s", w.Code, w.Body)
	}
	hdr, c := decodeJWT(t, accessToken(t, w))
	if hdr["alg"] != "RS256" || hdr["kid"] != "kid-1" || hdr["x5t"] != "kid-1" {
		t.Errorf("header %v", hdr)
	}
	iss := "https://sts.windows.net/" + testTenantID + "/"
	want := map[string]any{
		"aud": "https://management.azure.com/", "iss": iss, "idp": iss,
		"iat": json.Number(strconv.FormatInt(testNow.Unix(), 10)), "nbf": json.Number(strconv.FormatInt(testNow.Unix(), 10)),
		"exp":   json.Number(strconv.FormatInt(testNow.Add(time.Hour).Unix(), 10)),
		"appid": appClientID, "appidacr": "1", "idtyp": "app", "oid": appObjectID, "sub": appObjectID,
		"tid": testTenantID, "ver": "1.0", "xms_tcdt": json.Number(strconv.FormatInt(testTenantCreated.Unix(), 10)),
	}
	for k, v := range want {
		if c[k] != v {
			t.Errorf("%s = %#v, want %#v", k, c[k], v)
		}
	}
	checkOpaqueClaims(t, c)
	for _, k := range []string{"azp", "azpacr", "roles", "scp", "xms_mirid", "xms_az_rid"} {
		if _, ok := c[k]; ok {
			t.Errorf("unexpected claim %s", k)
		}
	}
	if len(c) != len(want)+3 { // + aio, rh, uti
		t.Errorf("claims %v", keys(c))
	}
}

func TestTokenClaimsV2(t *testing.T) {
	f := newFixture(t)
	for _, tc := range []struct {
		name string
		path string
		form url.Values
	}{
		{"v2 endpoint", v2TokenPath, secretForm(apiURI + "/.default")},
		{"v1 endpoint: the resource decides the version", v1TokenPath, url.Values{"grant_type": {"client_credentials"},
			"client_id": {appClientID}, "client_secret": {appSecret}, "resource": {apiURI}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := f.post(tc.path, tc.form)
			if w.Code != 200 {
				t.Fatalf("status %d: %s", w.Code, w.Body)
			}
			hdr, c := decodeJWT(t, accessToken(t, w))
			if _, ok := hdr["x5t"]; ok || hdr["kid"] != "kid-1" {
				t.Errorf("v2 header %v: kid only", hdr)
			}
			want := map[string]any{
				"aud": apiAppID, "iss": "https://login.microsoftonline.com/" + testTenantID + "/v2.0",
				"iat": json.Number(strconv.FormatInt(testNow.Unix(), 10)), "nbf": json.Number(strconv.FormatInt(testNow.Unix(), 10)),
				"exp": json.Number(strconv.FormatInt(testNow.Add(time.Hour).Unix(), 10)),
				"azp": appClientID, "azpacr": "1", "idtyp": "app", "oid": appObjectID, "sub": appObjectID,
				"tid": testTenantID, "ver": "2.0", "xms_tcdt": json.Number(strconv.FormatInt(testTenantCreated.Unix(), 10)),
			}
			for k, v := range want {
				if c[k] != v {
					t.Errorf("%s = %#v, want %#v", k, c[k], v)
				}
			}
			if !reflect.DeepEqual(c["roles"], []any{"Data.Read", "Data.Write"}) {
				t.Errorf("roles %v", c["roles"])
			}
			checkOpaqueClaims(t, c)
			for _, k := range []string{"appid", "appidacr", "idp"} {
				if _, ok := c[k]; ok {
					t.Errorf("v2 token has %s", k)
				}
			}
			if len(c) != len(want)+4 { // + roles, aio, rh, uti
				t.Errorf("claims %v", keys(c))
			}
		})
	}
}

func checkOpaqueClaims(t *testing.T, c map[string]any) {
	t.Helper()
	uti, _ := c["uti"].(string)
	if b, err := base64.RawURLEncoding.DecodeString(uti); err != nil || len(b) != 16 {
		t.Errorf("uti %q: want base64url of 16 bytes", uti)
	}
	if aio, _ := c["aio"].(string); len(aio) < 16 {
		t.Errorf("aio %q", aio)
	}
	if rh, _ := c["rh"].(string); !strings.HasPrefix(rh, "0.") || !strings.HasSuffix(rh, ".") {
		t.Errorf("rh %q", rh)
	}
}

func accessToken(t *testing.T, w *httptest.ResponseRecorder) string {
	t.Helper()
	var body struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil || body.AccessToken == "" {
		t.Fatalf("no access_token in %s", w.Body)
	}
	return body.AccessToken
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

func TestScopeToAudience(t *testing.T) {
	f := newFixture(t)
	for scope, wantAud := range map[string]string{
		"https://management.azure.com//.default":                               "https://management.azure.com/",
		"https://management.azure.com/.default":                                "https://management.azure.com",
		"https://vault.azure.net/.default openid offline_access profile":       "https://vault.azure.net",
		"openid HTTPS://VAULT.AZURE.NET/.DEFAULT":                              "HTTPS://VAULT.AZURE.NET",
		"https://management.core.windows.net//.default":                        "https://management.core.windows.net/",
		vaultAppID + "/.default":                                               vaultAppID,
		"  https://vault.azure.net/.default  offline_access\tprofile openid  ": "https://vault.azure.net",
	} {
		w := f.post(v2TokenPath, secretForm(scope))
		if w.Code != 200 {
			t.Errorf("%q: status %d: %s", scope, w.Code, w.Body)
			continue
		}
		if _, c := decodeJWT(t, accessToken(t, w)); c["aud"] != wantAud {
			t.Errorf("%q: aud %v, want %s", scope, c["aud"], wantAud)
		}
	}
}

func TestBasicAuth(t *testing.T) {
	f := newFixture(t)
	const odd = "a:b+c/d%e f~"
	f.dir.secrets[appObjectID] = append(f.dir.secrets[appObjectID], fakeSecret{value: odd})
	for _, secret := range []string{appSecret, odd} {
		basic := "Basic " + base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(appClientID)+":"+url.QueryEscape(secret)))
		form := url.Values{"grant_type": {"client_credentials"}, "scope": {"https://vault.azure.net/.default"}}
		w := f.post(v2TokenPath, form, "Authorization", basic)
		if w.Code != 200 {
			t.Fatalf("status %d: %s", w.Code, w.Body)
		}
		if rec := f.rec.last(t); rec.Grant != "client_secret" || rec.Result != "success" {
			t.Errorf("sign-in %+v", rec)
		}
	}
	basic := "Basic " + base64.StdEncoding.EncodeToString([]byte(appClientID+":nope"))
	w := f.post(v2TokenPath, url.Values{"grant_type": {"client_credentials"}, "scope": {"https://vault.azure.net/.default"}}, "Authorization", basic)
	if e := decodeError(t, w); w.Code != 401 || e.ErrorCodes[0] != 7000215 {
		t.Errorf("wrong basic secret: %d %s", w.Code, w.Body)
	}
}

func TestUnknownParametersIgnored(t *testing.T) {
	f := newFixture(t)
	form := secretForm("https://vault.azure.net/.default")
	form.Set("claims", `{"access_token":{"xms_cc":{"values":["CP1"]}}}`)
	form.Set("client_info", "1")
	form.Set("x-client-SKU", "msal.js.node")
	form.Set("x-client-VER", "7.2.1")
	form.Set("x-ms-lib-capability", "retry-after, h429")
	form.Set("client-request-id", testCorrID)
	form.Set("resource", "ignored on v2")
	w := f.post(v2TokenPath+"?client-request-id="+testCorrID+"&foo=bar", form)
	if w.Code != 200 {
		t.Fatalf("status %d: %s", w.Code, w.Body)
	}
	if got := w.Header().Get("Client-Request-Id"); got != testCorrID {
		t.Errorf("client-request-id echo %q", got)
	}
	if rec := f.rec.last(t); rec.CorrelationID != testCorrID {
		t.Errorf("correlation %q", rec.CorrelationID)
	}
}

func TestTokenErrors(t *testing.T) {
	base := func(mut func(url.Values)) url.Values {
		v := secretForm("https://vault.azure.net/.default")
		if mut != nil {
			mut(v)
		}
		return v
	}
	type tc struct {
		name     string
		path     string
		form     url.Values
		rawBody  string // sent instead of form when set
		ctype    string
		header   []string
		setup    func(*fixture)
		status   int
		err      string
		code     int
		contains string
	}
	tests := []tc{
		{name: "unknown tenant", path: "/00000000-0000-4000-8000-00000000dead/oauth2/v2.0/token", form: base(nil),
			status: 400, err: "invalid_request", code: 90002, contains: "Tenant '00000000-0000-4000-8000-00000000dead' not found."},
		{name: "unknown domain", path: "/nowhere.example/oauth2/token", form: base(nil),
			status: 400, err: "invalid_request", code: 90002},
		{name: "malformed tenant", path: "/%7Btenant%7D/oauth2/v2.0/token", form: base(nil),
			status: 400, err: "invalid_request", code: 900023, contains: "is neither a valid DNS name"},
		{name: "common tenant", path: "/common/oauth2/v2.0/token", form: base(nil),
			status: 400, err: "invalid_request", code: 50059},
		{name: "missing grant_type", form: base(func(v url.Values) { v.Del("grant_type") }),
			status: 400, err: "invalid_request", code: 900144, contains: "The request body must contain the following parameter: 'grant_type'."},
		{name: "unsupported grant", form: base(func(v url.Values) { v.Set("grant_type", "implicit") }),
			status: 400, err: "unsupported_grant_type", code: 70003, contains: "'implicit'"},
		{name: "missing client_id", form: base(func(v url.Values) { v.Del("client_id") }),
			status: 400, err: "invalid_request", code: 900144, contains: "'client_id'"},
		{name: "missing scope", form: base(func(v url.Values) { v.Del("scope") }),
			status: 400, err: "invalid_request", code: 900144, contains: "'scope'"},
		{name: "missing resource (v1)", path: v1TokenPath, form: base(func(v url.Values) { v.Del("scope") }),
			status: 400, err: "invalid_request", code: 900144, contains: "'resource'"},
		{name: "unknown client", form: base(func(v url.Values) { v.Set("client_id", "aaaaaaaa-0000-4000-8000-0000000000ff") }),
			status: 400, err: "unauthorized_client", code: 700016,
			contains: "Application with identifier 'aaaaaaaa-0000-4000-8000-0000000000ff' was not found in the directory 'Mint Test'."},
		{name: "no secret or assertion", form: base(func(v url.Values) { v.Del("client_secret") }),
			status: 401, err: "invalid_client", code: 7000218, contains: "'client_assertion' or 'client_secret'"},
		{name: "wrong secret", form: base(func(v url.Values) { v.Set("client_secret", "wrong-secret-value") }),
			status: 401, err: "invalid_client", code: 7000215,
			contains: "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '" + appClientID + "'."},
		{name: "expired secret", form: base(func(v url.Values) { v.Set("client_id", expiredAppClientID); v.Set("client_secret", expiredSecret) }),
			status: 401, err: "invalid_client", code: 7000222, contains: "The provided client secret keys for app '" + expiredAppClientID + "' are expired."},
		{name: "managed identity client", form: base(func(v url.Values) { v.Set("client_id", miClientID) }),
			status: 401, err: "invalid_client", code: 70002, contains: "is a managed identity"},
		{name: "unknown resource", form: base(func(v url.Values) { v.Set("scope", "https://nothing.example/.default") }),
			status: 400, err: "invalid_resource", code: 500011,
			contains: "The resource principal named https://nothing.example was not found in the tenant named Mint Test."},
		{name: "scope without .default", form: base(func(v url.Values) { v.Set("scope", "https://vault.azure.net/user_impersonation") }),
			status: 400, err: "invalid_scope", code: 1002012,
			contains: "The provided value for scope https://vault.azure.net/user_impersonation is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI)."},
		{name: "only oidc scopes", form: base(func(v url.Values) { v.Set("scope", "openid profile offline_access") }),
			status: 400, err: "invalid_scope", code: 1002012},
		{name: "bare .default", form: base(func(v url.Values) { v.Set("scope", "/.default") }),
			status: 400, err: "invalid_scope", code: 1002012},
		{name: "two resources", form: base(func(v url.Values) {
			v.Set("scope", "https://vault.azure.net/.default https://management.azure.com//.default")
		}),
			status: 400, err: "invalid_scope", code: 70011},
		{name: "json body", rawBody: `{"grant_type":"client_credentials"}`, ctype: "application/json",
			status: 400, err: "invalid_request", code: 90014, contains: "application/x-www-form-urlencoded"},
		{name: "malformed form", rawBody: "grant_type=client_credentials&client_id=%zz",
			status: 400, err: "invalid_request", code: 90014, contains: "not valid application/x-www-form-urlencoded"},
		{name: "duplicate client_id", rawBody: base(nil).Encode() + "&client_id=other",
			status: 400, err: "invalid_request", code: 9002313, contains: "'client_id' appears more than once"},
		{name: "basic and body secret", form: base(nil),
			header: []string{"Authorization", "Basic " + base64.StdEncoding.EncodeToString([]byte(appClientID+":"+appSecret))},
			status: 400, err: "invalid_request", code: 9002313},
		{name: "malformed basic", form: base(func(v url.Values) { v.Del("client_secret") }), header: []string{"Authorization", "Basic !!!"},
			status: 400, err: "invalid_request", code: 9002313},
		{name: "assertion without type", form: base(func(v url.Values) { v.Del("client_secret"); v.Set("client_assertion", "a.b.c") }),
			status: 400, err: "invalid_request", code: 900144, contains: "'client_assertion_type'"},
		{name: "assertion with wrong type", form: base(func(v url.Values) {
			v.Del("client_secret")
			v.Set("client_assertion", "a.b.c")
			v.Set("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:saml2-bearer")
		}), status: 400, err: "invalid_request", code: 9002313},
		{name: "secret and assertion", form: base(func(v url.Values) {
			v.Set("client_assertion", "a.b.c")
			v.Set("client_assertion_type", nodewire.AssertionTypeJWTBearer)
		}), status: 400, err: "invalid_request", code: 9002313},
		{name: "directory down", form: base(nil), setup: func(f *fixture) { f.dir.failWith = errStoreDown },
			status: 500, err: "server_error", code: 50000, contains: "There was an error issuing a token"},
		{name: "signer down", form: base(nil), setup: func(f *fixture) { f.signer.fail = errStoreDown },
			status: 500, err: "server_error", code: 50000},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			if tt.setup != nil {
				tt.setup(f)
			}
			path := tt.path
			if path == "" {
				path = v2TokenPath
			}
			body := tt.rawBody
			if body == "" {
				body = tt.form.Encode()
			}
			req := httptest.NewRequest(http.MethodPost, "https://127.0.0.1:8443"+path, strings.NewReader(body))
			ctype := tt.ctype
			if ctype == "" {
				ctype = "application/x-www-form-urlencoded"
			}
			req.Header.Set("Content-Type", ctype)
			req.Header.Set("Client-Request-Id", testCorrID)
			for i := 0; i+1 < len(tt.header); i += 2 {
				req.Header.Set(tt.header[i], tt.header[i+1])
			}
			w := serve(f, req)
			if w.Code != tt.status {
				t.Fatalf("status %d, want %d: %s", w.Code, tt.status, w.Body)
			}
			e := decodeError(t, w)
			checkEnvelope(t, w, e, tt.err, tt.code)
			if e.CorrelationID != testCorrID || w.Header().Get("Client-Request-Id") != testCorrID {
				t.Errorf("correlation_id %q, echo %q", e.CorrelationID, w.Header().Get("Client-Request-Id"))
			}
			if tt.contains != "" && !strings.Contains(e.ErrorDescription, tt.contains) {
				t.Errorf("description %q\nwant it to contain %q", e.ErrorDescription, tt.contains)
			}
			if strings.Contains(w.Body.String(), "10.0.0.5") || strings.Contains(w.Body.String(), "hunter2") {
				t.Errorf("internal error leaked: %s", w.Body)
			}
			rec := f.rec.last(t)
			if rec.Result != "failure" || rec.ErrorCode != fmt.Sprintf("AADSTS%d", tt.code) || rec.Reason == "" ||
				strings.Contains(rec.Reason, "Trace ID") || rec.CorrelationID != testCorrID || rec.TokenID != "" {
				t.Errorf("sign-in record %+v", rec)
			}
		})
	}
}

// checkEnvelope checks the parts of Entra's error envelope every error has.
func checkEnvelope(t *testing.T, w *httptest.ResponseRecorder, e entraError, wantErr string, wantCode int) {
	t.Helper()
	if e.Error != wantErr {
		t.Errorf("error %q, want %q", e.Error, wantErr)
	}
	if len(e.ErrorCodes) != 1 || e.ErrorCodes[0] != wantCode {
		t.Fatalf("error_codes %v, want [%d]", e.ErrorCodes, wantCode)
	}
	prefix := fmt.Sprintf("AADSTS%d: ", wantCode)
	suffix := "\r\nTrace ID: " + e.TraceID + "\r\nCorrelation ID: " + e.CorrelationID + "\r\nTimestamp: 2026-11-22 00:00:00Z"
	if !strings.HasPrefix(e.ErrorDescription, prefix) || !strings.HasSuffix(e.ErrorDescription, suffix) {
		t.Errorf("error_description %q", e.ErrorDescription)
	}
	if e.Timestamp != "2026-11-22 00:00:00Z" || !isGUID(e.TraceID) || !isGUID(e.CorrelationID) {
		t.Errorf("envelope %+v", e)
	}
	if e.ErrorURI != fmt.Sprintf("%s/error?code=%d", testBaseURL, wantCode) {
		t.Errorf("error_uri %q", e.ErrorURI)
	}
	if w.Header().Get("X-Ms-Request-Id") != e.TraceID || w.Header().Get("Cache-Control") != "no-store, no-cache" ||
		w.Header().Get("Content-Type") != "application/json; charset=utf-8" {
		t.Errorf("headers %v", w.Header())
	}
}

func TestTokenEndpointMethod(t *testing.T) {
	f := newFixture(t)
	for _, p := range []string{v2TokenPath, v1TokenPath} {
		for _, m := range []string{http.MethodGet, http.MethodPut} {
			w := serve(f, httptestRequest(m, p))
			if w.Code != 400 {
				t.Fatalf("%s %s: status %d", m, p, w.Code)
			}
			e := decodeError(t, w)
			checkEnvelope(t, w, e, "invalid_request", 900561)
			want := "The endpoint only accepts POST requests. Received a " + m + " request."
			if !strings.Contains(e.ErrorDescription, want) {
				t.Errorf("description %q", e.ErrorDescription)
			}
		}
	}
}

func TestOversizedBody(t *testing.T) {
	pad := strings.Repeat("x", 70<<10)
	for _, tc := range []struct {
		name    string
		max     int64
		body    func() io.Reader
		wantErr bool
	}{
		{"default limit, known length", 0, func() io.Reader {
			return strings.NewReader(secretForm("https://vault.azure.net/.default").Encode() + "&pad=" + pad)
		}, true},
		{"default limit, chunked", 0, func() io.Reader {
			return io.MultiReader(strings.NewReader(secretForm("https://vault.azure.net/.default").Encode()+"&pad="), strings.NewReader(pad))
		}, true},
		{"small limit", 100, func() io.Reader { return strings.NewReader(secretForm("https://vault.azure.net/.default").Encode()) }, true},
		{"under the limit", 0, func() io.Reader { return strings.NewReader(secretForm("https://vault.azure.net/.default").Encode()) }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, func(c *Config) { c.MaxBodyBytes = tc.max })
			req := httptest.NewRequest(http.MethodPost, "https://127.0.0.1:8443"+v2TokenPath, tc.body())
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			w := serve(f, req)
			if !tc.wantErr {
				if w.Code != 200 {
					t.Fatalf("status %d: %s", w.Code, w.Body)
				}
				return
			}
			if w.Code != 400 {
				t.Fatalf("status %d: %s", w.Code, w.Body)
			}
			e := decodeError(t, w)
			checkEnvelope(t, w, e, "invalid_request", 90014)
			if !strings.Contains(e.ErrorDescription, "larger than the limit") {
				t.Errorf("description %q", e.ErrorDescription)
			}
		})
	}
}

func TestCorrelationID(t *testing.T) {
	f := newFixture(t)
	form := secretForm("https://vault.azure.net/.default")
	form.Set("client_secret", "wrong")
	w := f.post(v2TokenPath, form, "Client-Request-Id", "not-a-guid")
	e := decodeError(t, w)
	if e.CorrelationID == "not-a-guid" || !isGUID(e.CorrelationID) || e.CorrelationID == e.TraceID {
		t.Errorf("correlation_id %q trace %q", e.CorrelationID, e.TraceID)
	}
	if w.Header().Get("Client-Request-Id") != "" {
		t.Errorf("echoed an invalid client-request-id")
	}
}

func TestLifetimeClamp(t *testing.T) {
	for _, tc := range []struct {
		cfg  time.Duration
		want string
	}{{0, "3599"}, {time.Minute, "299"}, {10 * time.Minute, "599"}, {72 * time.Hour, "86399"}} {
		f := newFixture(t, func(c *Config) { c.AppTokenLifetime = tc.cfg })
		w := f.post(v1TokenPath, url.Values{"grant_type": {"client_credentials"}, "client_id": {appClientID},
			"client_secret": {appSecret}, "resource": {"https://vault.azure.net"}})
		var body map[string]string
		if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil {
			t.Fatal(err)
		}
		if body["expires_in"] != tc.want {
			t.Errorf("lifetime %v: expires_in %s, want %s", tc.cfg, body["expires_in"], tc.want)
		}
	}
}

func TestSignInRecords(t *testing.T) {
	f := newFixture(t)
	w := f.post(v2TokenPath, secretForm("https://vault.azure.net/.default"), "Client-Request-Id", testCorrID)
	if w.Code != 200 {
		t.Fatalf("status %d: %s", w.Code, w.Body)
	}
	_, c := decodeJWT(t, accessToken(t, w))
	ok := f.rec.last(t)
	want := store.SignIn{ID: w.Header().Get("X-Ms-Request-Id"), Time: testNow, TenantID: testTenantID, PrincipalID: appObjectID,
		AppID: appClientID, Resource: "https://vault.azure.net", Grant: "client_secret", Result: "success",
		CorrelationID: testCorrID, TokenID: c["uti"].(string)}
	if ok != want {
		t.Errorf("success record\n%+v\nwant\n%+v", ok, want)
	}

	form := secretForm("https://vault.azure.net/.default")
	form.Set("client_secret", "wrong-secret-value")
	w = f.post(v2TokenPath, form, "Client-Request-Id", testCorrID)
	bad := f.rec.last(t)
	e := decodeError(t, w)
	want = store.SignIn{ID: e.TraceID, Time: testNow, TenantID: testTenantID, PrincipalID: appObjectID, AppID: appClientID,
		Resource: "https://vault.azure.net", Grant: "client_secret", Result: "failure", ErrorCode: "AADSTS7000215",
		Reason: "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the " +
			"client secret ID, for a secret added to app '" + appClientID + "'.",
		CorrelationID: testCorrID}
	if bad != want {
		t.Errorf("failure record\n%+v\nwant\n%+v", bad, want)
	}
}

// TestNoSecretsRecordedOrLogged drives every credential path and greps the sign-in log and the
// slog output for the secrets, assertions and tokens that went through.
func TestNoSecretsRecordedOrLogged(t *testing.T) {
	f := newFixture(t)
	var sensitive []string
	send := func(path string, form url.Values, header ...string) {
		w := f.post(path, form, header...)
		for _, k := range []string{"client_secret", "client_assertion"} {
			if v := form.Get(k); v != "" {
				sensitive = append(sensitive, v)
			}
		}
		if tok := gjsonString(w.Body.Bytes(), "access_token"); tok != "" {
			sensitive = append(sensitive, tok, strings.Split(tok, ".")[2])
		}
	}
	send(v2TokenPath, secretForm("https://vault.azure.net/.default"))
	wrong := secretForm("https://vault.azure.net/.default")
	wrong.Set("client_secret", "wrong-secret-value")
	send(v2TokenPath, wrong)
	unknown := secretForm("https://nothing.example/.default")
	send(v2TokenPath, unknown)
	send(v2TokenPath, url.Values{"grant_type": {"client_credentials"}, "scope": {"https://vault.azure.net/.default"}},
		"Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(appClientID+":basic-secret-value")))
	sensitive = append(sensitive, "basic-secret-value")
	send(v2TokenPath, assertionForm(msalGoAssertion(t, f.now, v2Audience)))
	bad := assertionForm(msalGoAssertion(t, f.now, "https://wrong.example/token"))
	send(v2TokenPath, bad)
	expired := url.Values{"grant_type": {"client_credentials"}, "client_id": {expiredAppClientID}, "client_secret": {expiredSecret},
		"resource": {"https://vault.azure.net"}}
	send(v1TokenPath, expired)

	if len(f.rec.entries) != 7 {
		t.Fatalf("%d sign-ins recorded, want 7", len(f.rec.entries))
	}
	records := fmt.Sprintf("%+v", f.rec.entries)
	logs := f.logs.String()
	if !strings.Contains(logs, "uti=") {
		t.Errorf("issued tokens are not logged by uti: %s", logs)
	}
	for _, s := range sensitive {
		if strings.Contains(records, s) {
			t.Errorf("sign-in log holds a secret/assertion/token: %.40q…", s)
		}
		if strings.Contains(logs, s) {
			t.Errorf("slog output holds a secret/assertion/token: %.40q…", s)
		}
	}
	// A TokenRequest printed by mistake does not show its secret either.
	req, _ := ParseTokenRequest(V2, secretForm("https://vault.azure.net/.default"), "")
	for _, out := range []string{fmt.Sprint(req), fmt.Sprintf("%+v", req), fmt.Sprintf("%#v", req)} {
		if strings.Contains(out, appSecret) {
			t.Errorf("TokenRequest formatting leaks the secret: %s", out)
		}
	}
}

func gjsonString(b []byte, key string) string {
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	s, _ := m[key].(string)
	return s
}

func TestIssueManagedIdentity(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	tenant, _ := f.dir.Tenant(ctx, testTenantID)
	mi, _ := f.dir.Client(ctx, testTenantID, miClientID)
	arm, _ := f.dir.Resource(ctx, testTenantID, "https://management.azure.com/")
	const mirid = "/subscriptions/s/resourcegroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id1"
	const azrid = "/subscriptions/s/resourcegroups/rg/providers/Microsoft.App/containerApps/web"
	tok, err := f.srv.Issue(ctx, IssueRequest{Tenant: tenant, Client: mi, Resource: arm, Audience: "https://management.azure.com/",
		CredentialKind: CredentialManagedIdentity, ManagedIdentity: &ManagedIdentityClaims{MIResourceID: mirid, AzResourceID: azrid}})
	if err != nil {
		t.Fatal(err)
	}
	if tok.Version != V1 || tok.ExpiresIn() != 86399 || tok.ExpiresAt.Sub(tok.IssuedAt) != 24*time.Hour {
		t.Errorf("token %+v", tok)
	}
	_, c := decodeJWT(t, tok.AccessToken)
	for k, v := range map[string]any{"appid": miClientID, "appidacr": "2", "oid": miObjectID, "xms_mirid": mirid, "xms_az_rid": azrid,
		"uti": tok.TokenID, "aud": "https://management.azure.com/"} {
		if c[k] != v {
			t.Errorf("%s = %v, want %v", k, c[k], v)
		}
	}
	rec := f.rec.last(t)
	if rec.Grant != "managed_identity" || rec.ResourceID != azrid || rec.TokenID != tok.TokenID || rec.Result != "success" {
		t.Errorf("sign-in %+v", rec)
	}

	f.dir.failWith = errStoreDown
	_, err = f.srv.Issue(ctx, IssueRequest{Tenant: tenant, Client: mi, Resource: arm, CredentialKind: CredentialManagedIdentity})
	var e *Error
	if !errors.As(err, &e) || e.Status != 500 {
		t.Errorf("store failure: %v", err)
	}
}

// checkerDirectory tells expired secrets apart through SecretExpiryChecker instead of
// ErrSecretExpired, as internal/directory does.
type checkerDirectory struct{ *fakeDirectory }

func (d checkerDirectory) VerifySecret(ctx context.Context, principalID, secret string) (bool, error) {
	ok, err := d.fakeDirectory.VerifySecret(ctx, principalID, secret)
	if errors.Is(err, ErrSecretExpired) {
		return false, nil
	}
	return ok, err
}

func (d checkerDirectory) SecretExpired(ctx context.Context, principalID, secret string) (bool, error) {
	_, err := d.fakeDirectory.VerifySecret(ctx, principalID, secret)
	return errors.Is(err, ErrSecretExpired), nil
}

func TestSecretExpiryChecker(t *testing.T) {
	f := newFixture(t)
	f.srv = New(Config{BaseURL: testBaseURL, Clock: func() time.Time { return f.now }}, checkerDirectory{f.dir}, f.signer, f.rec, f.assertions)
	for _, tc := range []struct {
		clientID, secret string
		code             int
	}{{expiredAppClientID, expiredSecret, 7000222}, {expiredAppClientID, "other", 7000215}, {appClientID, "wrong", 7000215}} {
		form := secretForm("https://vault.azure.net/.default")
		form.Set("client_id", tc.clientID)
		form.Set("client_secret", tc.secret)
		w := f.post(v2TokenPath, form)
		checkEnvelope(t, w, decodeError(t, w), "invalid_client", tc.code)
	}
}
