package sts

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"

	"github.com/mint-id/mint/internal/bearer"
)

// openIDConfigV2 is the v2 OpenID configuration document, fields in Entra's order.
type openIDConfigV2 struct {
	TokenEndpoint                     string   `json:"token_endpoint"`
	TokenEndpointAuthMethodsSupported []string `json:"token_endpoint_auth_methods_supported"`
	JWKSURI                           string   `json:"jwks_uri"`
	ResponseModesSupported            []string `json:"response_modes_supported"`
	SubjectTypesSupported             []string `json:"subject_types_supported"`
	IDTokenSigningAlgValuesSupported  []string `json:"id_token_signing_alg_values_supported"`
	ResponseTypesSupported            []string `json:"response_types_supported"`
	ScopesSupported                   []string `json:"scopes_supported"`
	Issuer                            string   `json:"issuer"`
	RequestURIParameterSupported      bool     `json:"request_uri_parameter_supported"`
	UserinfoEndpoint                  string   `json:"userinfo_endpoint"`
	AuthorizationEndpoint             string   `json:"authorization_endpoint"`
	DeviceAuthorizationEndpoint       string   `json:"device_authorization_endpoint"`
	HTTPLogoutSupported               bool     `json:"http_logout_supported"`
	FrontchannelLogoutSupported       bool     `json:"frontchannel_logout_supported"`
	EndSessionEndpoint                string   `json:"end_session_endpoint"`
	ClaimsSupported                   []string `json:"claims_supported"`
	KerberosEndpoint                  string   `json:"kerberos_endpoint"`
	TenantRegionScope                 *string  `json:"tenant_region_scope"`
	CloudInstanceName                 string   `json:"cloud_instance_name"`
	CloudGraphHostName                string   `json:"cloud_graph_host_name"`
	MsgraphHost                       string   `json:"msgraph_host"`
	RbacURL                           string   `json:"rbac_url"`
}

// openIDConfigV1 is the v1 OpenID configuration document, fields in Entra's order.
type openIDConfigV1 struct {
	TokenEndpoint                     string   `json:"token_endpoint"`
	TokenEndpointAuthMethodsSupported []string `json:"token_endpoint_auth_methods_supported"`
	JWKSURI                           string   `json:"jwks_uri"`
	ResponseModesSupported            []string `json:"response_modes_supported"`
	SubjectTypesSupported             []string `json:"subject_types_supported"`
	IDTokenSigningAlgValuesSupported  []string `json:"id_token_signing_alg_values_supported"`
	ResponseTypesSupported            []string `json:"response_types_supported"`
	ScopesSupported                   []string `json:"scopes_supported"`
	Issuer                            string   `json:"issuer"`
	MicrosoftMultiRefreshToken        bool     `json:"microsoft_multi_refresh_token"`
	AuthorizationEndpoint             string   `json:"authorization_endpoint"`
	DeviceAuthorizationEndpoint       string   `json:"device_authorization_endpoint"`
	HTTPLogoutSupported               bool     `json:"http_logout_supported"`
	FrontchannelLogoutSupported       bool     `json:"frontchannel_logout_supported"`
	EndSessionEndpoint                string   `json:"end_session_endpoint"`
	ClaimsSupported                   []string `json:"claims_supported"`
	CheckSessionIframe                string   `json:"check_session_iframe"`
	UserinfoEndpoint                  string   `json:"userinfo_endpoint"`
	KerberosEndpoint                  string   `json:"kerberos_endpoint"`
	TenantRegionScope                 *string  `json:"tenant_region_scope"`
	CloudInstanceName                 string   `json:"cloud_instance_name"`
	CloudGraphHostName                string   `json:"cloud_graph_host_name"`
	MsgraphHost                       string   `json:"msgraph_host"`
	RbacURL                           string   `json:"rbac_url"`
}

var (
	authMethodsSupported = []string{"client_secret_post", "private_key_jwt", "client_secret_basic"}
	responseModes        = []string{"query", "fragment", "form_post"}
	subjectTypes         = []string{"pairwise"}
	idTokenAlgs          = []string{"RS256"}
	responseTypesV2      = []string{"code", "id_token", "code id_token", "id_token token"}
	responseTypesV1      = []string{"code", "id_token", "code id_token", "token id_token", "token"}
	scopesV2             = []string{"openid", "profile", "email", "offline_access"}
	scopesV1             = []string{"openid"}
	claimsV2             = []string{"sub", "iss", "cloud_instance_name", "cloud_instance_host_name", "cloud_graph_host_name", "msgraph_host",
		"aud", "exp", "iat", "auth_time", "acr", "nonce", "preferred_username", "name", "tid", "ver", "at_hash", "c_hash", "email"}
	claimsV1 = []string{"sub", "iss", "cloud_instance_name", "cloud_instance_host_name", "cloud_graph_host_name", "msgraph_host",
		"aud", "exp", "iat", "auth_time", "acr", "amr", "nonce", "email", "given_name", "family_name", "nickname"}
	regionScopeNA = "NA"
)

// serveOpenID answers /{tenant}/v2.0/.well-known/openid-configuration and
// /{tenant}/.well-known/openid-configuration. A tenant's documents use its id whatever segment
// named it; common and organizations keep the segment in the endpoints and carry the literal
// "{tenantid}" in the issuer, as Entra's do.
func (s *Server) serveOpenID(w http.ResponseWriter, r *http.Request, seg string, v Version) {
	traceID := newUUID()
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		s.writeError(w, errMethod("GET", r.Method), traceID, correlationFromHeader(r), s.clock())
		return
	}
	pathTenant, issuerTenant, e := s.discoveryTenant(r, seg)
	if e != nil {
		s.writeError(w, e, traceID, correlationFromHeader(r), s.clock())
		return
	}
	base := s.discoveryBase(r)
	authority := base + "/" + pathTenant
	var regionScope *string
	if pathTenant == issuerTenant {
		regionScope = &regionScopeNA
	}
	var doc any
	if v == V2 {
		doc = openIDConfigV2{
			TokenEndpoint:                     authority + "/oauth2/v2.0/token",
			TokenEndpointAuthMethodsSupported: authMethodsSupported,
			JWKSURI:                           authority + "/discovery/v2.0/keys",
			ResponseModesSupported:            responseModes,
			SubjectTypesSupported:             subjectTypes,
			IDTokenSigningAlgValuesSupported:  idTokenAlgs,
			ResponseTypesSupported:            responseTypesV2,
			ScopesSupported:                   scopesV2,
			Issuer:                            bearer.V2Issuer(issuerTenant), // Entra's, whatever host answers (MSAL Go trusts its host)
			UserinfoEndpoint:                  "https://graph.microsoft.com/oidc/userinfo",
			AuthorizationEndpoint:             authority + "/oauth2/v2.0/authorize",
			DeviceAuthorizationEndpoint:       authority + "/oauth2/v2.0/devicecode",
			HTTPLogoutSupported:               true,
			FrontchannelLogoutSupported:       true,
			EndSessionEndpoint:                authority + "/oauth2/v2.0/logout",
			ClaimsSupported:                   claimsV2,
			KerberosEndpoint:                  authority + "/kerberos",
			TenantRegionScope:                 regionScope,
			CloudInstanceName:                 "microsoftonline.com",
			CloudGraphHostName:                "graph.windows.net",
			MsgraphHost:                       "graph.microsoft.com",
			RbacURL:                           "https://pas.windows.net",
		}
	} else {
		doc = openIDConfigV1{
			TokenEndpoint:                     authority + "/oauth2/token",
			TokenEndpointAuthMethodsSupported: authMethodsSupported,
			JWKSURI:                           authority + "/discovery/keys",
			ResponseModesSupported:            responseModes,
			SubjectTypesSupported:             subjectTypes,
			IDTokenSigningAlgValuesSupported:  idTokenAlgs,
			ResponseTypesSupported:            responseTypesV1,
			ScopesSupported:                   scopesV1,
			Issuer:                            bearer.V1Issuer(issuerTenant),
			MicrosoftMultiRefreshToken:        true,
			AuthorizationEndpoint:             authority + "/oauth2/authorize",
			DeviceAuthorizationEndpoint:       authority + "/oauth2/devicecode",
			HTTPLogoutSupported:               true,
			FrontchannelLogoutSupported:       true,
			EndSessionEndpoint:                authority + "/oauth2/logout",
			ClaimsSupported:                   claimsV1,
			CheckSessionIframe:                authority + "/oauth2/checksession",
			UserinfoEndpoint:                  authority + "/openid/userinfo",
			KerberosEndpoint:                  authority + "/kerberos",
			TenantRegionScope:                 regionScope,
			CloudInstanceName:                 "microsoftonline.com",
			CloudGraphHostName:                "graph.windows.net",
			MsgraphHost:                       "graph.microsoft.com",
			RbacURL:                           "https://pas.windows.net",
		}
	}
	s.writeJSON(w, doc, traceID, "public, max-age=3600")
}

// discoveryBase is the host the OpenID documents name: BaseURL, unless the request came in on
// one of Entra's host names (through the Azure-name proxy). Then the documents name that host,
// because MSAL checks that the issuer's host is the authority's: a client that keeps
// login.microsoftonline.com as its authority must get documents about login.microsoftonline.com.
// The issuer is Entra's in every case (bearer.V1Issuer, V2Issuer), as in tokens.
func (s *Server) discoveryBase(r *http.Request) string {
	host := r.Host
	if h, port, ok := strings.Cut(host, ":"); ok && port == "443" {
		host = h
	}
	if isAuthorityAlias(host) {
		return "https://" + strings.ToLower(host)
	}
	return s.baseURL
}

// discoveryTenant resolves the tenant segment of a discovery request: the segment to use in
// endpoint URLs and the tenant to put in the issuer.
func (s *Server) discoveryTenant(r *http.Request, seg string) (pathTenant, issuerTenant string, e *Error) {
	switch classifySegment(seg) {
	case segmentInvalid:
		return "", "", errTenantInvalid(truncate(seg, 100))
	case segmentMultiTenant:
		seg = strings.ToLower(seg)
		return seg, "{tenantid}", nil
	}
	t, e := s.resolveTenant(r.Context(), seg)
	if e != nil {
		return "", "", e
	}
	return t.ID, t.ID, nil
}

// serveKeys answers the JWKS at /{tenant}/discovery/v2.0/keys and /{tenant}/discovery/keys.
func (s *Server) serveKeys(w http.ResponseWriter, r *http.Request, seg string) {
	traceID := newUUID()
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		s.writeError(w, errMethod("GET", r.Method), traceID, correlationFromHeader(r), s.clock())
		return
	}
	if _, _, e := s.discoveryTenant(r, seg); e != nil {
		s.writeError(w, e, traceID, correlationFromHeader(r), s.clock())
		return
	}
	h := w.Header()
	h["Content-Type"] = []string{"application/json; charset=utf-8"}
	// Short: verifiers refetch on an unknown kid anyway, and a new key must be seen soon.
	h["Cache-Control"] = []string{"public, max-age=300"}
	h["Access-Control-Allow-Origin"] = []string{"*"}
	h["X-Ms-Request-Id"] = []string{traceID}
	_, _ = w.Write(s.signer.JWKS())
}

// instanceDiscovery is the /common/discovery/instance answer.
type instanceDiscovery struct {
	TenantDiscoveryEndpoint string             `json:"tenant_discovery_endpoint"`
	APIVersion              string             `json:"api-version"`
	Metadata                []instanceMetadata `json:"metadata"`
}

type instanceMetadata struct {
	PreferredNetwork string   `json:"preferred_network"`
	PreferredCache   string   `json:"preferred_cache"`
	Aliases          []string `json:"aliases"`
}

// serveInstanceDiscovery answers MSAL's instance discovery (sent to login.microsoftonline.com,
// which the Azure-name proxy routes here): the tenant discovery endpoint on BaseURL for the
// tenant named in authorization_endpoint, with BaseURL's host and Entra's host names as aliases.
func (s *Server) serveInstanceDiscovery(w http.ResponseWriter, r *http.Request) {
	traceID := newUUID()
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		s.writeError(w, errMethod("GET", r.Method), traceID, correlationFromHeader(r), s.clock())
		return
	}
	tenant := "common"
	if ae := r.URL.Query().Get("authorization_endpoint"); ae != "" {
		u, err := url.Parse(ae)
		seg := ""
		if err == nil && u.Host != "" {
			seg, _, _ = strings.Cut(strings.TrimPrefix(u.Path, "/"), "/")
		}
		if classifySegment(seg) == segmentInvalid {
			s.writeError(w, &Error{Status: http.StatusBadRequest, Err: "invalid_instance", Code: codeInvalidInstance,
				Description: "Unknown or invalid instance. The authorization_endpoint parameter must be an absolute URL " +
					"https://<host>/<tenant>/oauth2/v2.0/authorize."}, traceID, correlationFromHeader(r), s.clock())
			return
		}
		tenant = seg
	}
	aliases := make([]string, 0, 1+len(AuthorityAliases))
	aliases = append(aliases, s.host)
	for _, a := range AuthorityAliases {
		if !strings.EqualFold(a, s.host) {
			aliases = append(aliases, a)
		}
	}
	doc := instanceDiscovery{
		TenantDiscoveryEndpoint: s.baseURL + "/" + tenant + "/v2.0/.well-known/openid-configuration",
		APIVersion:              "1.1",
		Metadata:                []instanceMetadata{{PreferredNetwork: s.host, PreferredCache: s.host, Aliases: aliases}},
	}
	s.writeJSON(w, doc, traceID, "public, max-age=3600")
}

func (s *Server) writeJSON(w http.ResponseWriter, v any, traceID, cacheControl string) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		s.log.Error("encode response", "err", err)
		s.writeError(w, errServer(err), traceID, "", s.clock())
		return
	}
	h := w.Header()
	h["Content-Type"] = []string{"application/json; charset=utf-8"}
	h["Cache-Control"] = []string{cacheControl}
	h["Access-Control-Allow-Origin"] = []string{"*"}
	h["X-Ms-Request-Id"] = []string{traceID}
	_, _ = w.Write(buf.Bytes())
}
