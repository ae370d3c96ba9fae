package sts

import (
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
)

// The grants people sign in with.
const (
	GrantPassword          = "password"
	GrantRefreshToken      = "refresh_token"
	GrantAuthorizationCode = "authorization_code"
	// GrantDeviceCode is how MSAL Go and msal-node spell the device-code grant; MSAL Python
	// sends GrantDeviceCodeURN (RFC 8628). Both are accepted.
	GrantDeviceCode    = "device_code"
	GrantDeviceCodeURN = "urn:ietf:params:oauth:grant-type:device_code"
)

// isUserGrant reports whether grant_type names one of the grants that sign a person in.
func isUserGrant(grantType string) bool {
	switch strings.TrimSpace(grantType) {
	case GrantPassword, GrantRefreshToken, GrantAuthorizationCode, GrantDeviceCode, GrantDeviceCodeURN:
		return true
	}
	return false
}

// UserTokenRequest is a parsed token request of a user grant. It holds a password or a
// refresh token: its String and LogValue redact them.
type UserTokenRequest struct {
	Endpoint  Version
	GrantType string // normalized: GrantDeviceCodeURN becomes GrantDeviceCode
	ClientID  string
	// ClientSecret / ClientAssertion are kept to authenticate a confidential client, or to
	// refuse them from a public one (AADSTS700025).
	ClientSecret    string
	ClientAssertion string
	BasicAuth       bool
	Username        string
	Password        string
	RefreshToken    string
	Code            string
	CodeVerifier    string
	RedirectURI     string
	DeviceCode      string
	// Scope is v2's scope parameter as sent; Resource is v1's resource parameter.
	Scope    string
	Resource string
	// ClientInfo is true when client_info=1 was sent: the response then carries client_info.
	ClientInfo bool
	// Origin is the request's Origin header: a browser's cross-origin request (a SPA's).
	Origin string
}

func (r UserTokenRequest) String() string {
	return fmt.Sprintf("UserTokenRequest{v%d grant=%s client_id=%s scope=%q resource=%q user=%q password=%t refresh_token=%t code=%t}",
		r.Endpoint, r.GrantType, r.ClientID, r.Scope, r.Resource, r.Username, r.Password != "", r.RefreshToken != "", r.Code != "")
}

// GoString keeps %#v from printing secrets.
func (r UserTokenRequest) GoString() string { return r.String() }

// LogValue keeps slog from printing secrets.
func (r UserTokenRequest) LogValue() slog.Value { return slog.StringValue(r.String()) }

var userSingleValued = [...]string{"grant_type", "client_id", "client_secret", "client_assertion", "scope", "resource",
	"username", "password", "refresh_token", "code_verifier", "redirect_uri", "device_code"}

// ParseUserTokenRequest checks the form of a password, refresh-token, authorization-code or
// device-code request. Unknown parameters (claims, x-client-*, MSAL Python's duplicate "code"
// beside device_code, ...) are ignored.
func ParseUserTokenRequest(v Version, form url.Values, authorization string) (UserTokenRequest, *Error) {
	req := UserTokenRequest{Endpoint: v}
	for _, name := range userSingleValued {
		if len(form[name]) > 1 {
			return req, errMalformed("The parameter '%s' appears more than once; send it once.", name)
		}
	}
	req.GrantType = strings.TrimSpace(form.Get("grant_type"))
	if req.GrantType == GrantDeviceCodeURN {
		req.GrantType = GrantDeviceCode
	}
	if !isUserGrant(req.GrantType) {
		return req, NewError(http.StatusBadRequest, "unsupported_grant_type", codeUnsupportedGrant,
			"The app requested an unsupported grant type '%s'.", truncate(req.GrantType, 100))
	}
	req.ClientID = strings.TrimSpace(form.Get("client_id"))
	req.ClientSecret = form.Get("client_secret")
	req.ClientAssertion = strings.TrimSpace(form.Get("client_assertion"))
	if id, secret, ok, e := parseBasic(authorization); e != nil {
		return req, e
	} else if ok {
		if req.ClientID != "" && !strings.EqualFold(req.ClientID, id) {
			return req, errMalformed("The 'client_id' in the body does not match the client id in the HTTP Basic Authorization header.")
		}
		req.ClientID, req.ClientSecret, req.BasicAuth = id, secret, true
	}
	if req.ClientID == "" {
		return req, errMissingParameter("client_id")
	}
	if len(req.ClientID) > 200 {
		return req, errMalformed("The 'client_id' is too long.")
	}
	req.ClientInfo = strings.TrimSpace(form.Get("client_info")) == "1"
	req.Scope = strings.TrimSpace(form.Get("scope"))
	req.Resource = strings.TrimSpace(form.Get("resource"))
	if len(req.Scope) > 2000 || len(req.Resource) > 2000 {
		return req, errMalformed("The 'scope' or 'resource' parameter is too long.")
	}
	switch req.GrantType {
	case GrantPassword:
		req.Username = strings.TrimSpace(form.Get("username"))
		req.Password = form.Get("password")
		if req.Username == "" {
			return req, errMissingParameter("username")
		}
		if req.Password == "" {
			return req, errMissingParameter("password")
		}
		if len(req.Username) > 256 {
			return req, errInvalidPassword()
		}
	case GrantRefreshToken:
		req.RefreshToken = strings.TrimSpace(form.Get("refresh_token"))
		if req.RefreshToken == "" {
			return req, errMissingParameter("refresh_token")
		}
	case GrantAuthorizationCode:
		// MSAL Python also sends "code" beside device_code on the device grant; here it is the code.
		if len(form["code"]) > 1 {
			return req, errMalformed("The parameter 'code' appears more than once; send it once.")
		}
		req.Code = strings.TrimSpace(form.Get("code"))
		req.CodeVerifier = form.Get("code_verifier")
		req.RedirectURI = form.Get("redirect_uri")
		if req.Code == "" {
			return req, errMissingParameter("code")
		}
	case GrantDeviceCode:
		req.DeviceCode = strings.TrimSpace(form.Get("device_code"))
		if req.DeviceCode == "" {
			return req, errMissingParameter("device_code")
		}
	}
	if v == V2 {
		if _, e := ParseUserScope(req.Scope); e != nil {
			return req, e
		}
	}
	return req, nil
}

// UserScope is a v2 scope parameter of a user grant, taken apart.
type UserScope struct {
	// Resource is the one resource the non-OIDC scopes name ("https://management.core.windows.net/"
	// for "https://management.core.windows.net//.default"); "" when only OIDC scopes were asked.
	Resource string
	// Scopes are the non-OIDC scopes as sent; the response's scope echoes them.
	Scopes        []string
	OpenID        bool
	OfflineAccess bool
}

// graphResource is what a bare permission name ("User.Read") is a scope of, as in Entra.
const graphResource = "https://graph.microsoft.com"

// ParseUserScope reads a v2 scope parameter: OIDC scopes (openid, profile, email,
// offline_access) and scopes of at most one resource ("<resource>/.default",
// "<resource>/<permission>", or a bare Microsoft Graph permission).
func ParseUserScope(scope string) (UserScope, *Error) {
	var us UserScope
	for _, s := range strings.Fields(scope) {
		switch {
		case strings.EqualFold(s, "openid"):
			us.OpenID = true
			continue
		case strings.EqualFold(s, "offline_access"):
			us.OfflineAccess = true
			continue
		case strings.EqualFold(s, "profile"), strings.EqualFold(s, "email"):
			continue
		}
		res := graphResource
		if i := strings.LastIndexByte(s, '/'); i >= 0 {
			res = s[:i]
		}
		if res == "" || strings.HasSuffix(s, "/") {
			return us, NewError(http.StatusBadRequest, "invalid_scope", codeInvalidScope,
				"The provided value for the input parameter 'scope' is not valid. The scope %s is not valid.", truncate(s, 200))
		}
		if us.Resource != "" && !strings.EqualFold(us.Resource, res) {
			return us, NewError(http.StatusBadRequest, "invalid_scope", 28000,
				"Provided value for the input parameter scope is not valid because it contains more than one resource. Scope %s is not valid.",
				truncate(scope, 300))
		}
		us.Resource = res
		us.Scopes = append(us.Scopes, s)
	}
	return us, nil
}
