package sts

import (
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Single-page applications, as Entra treats a redirect URI registered under Graph's "spa"
// platform (https://learn.microsoft.com/entra/identity-platform/reference-third-party-cookies-spas
// and https://learn.microsoft.com/entra/identity-platform/refresh-tokens):
//   - the code is redeemed by the browser itself, so the token request must be cross-origin (it
//     carries an Origin header); a server redeeming it gets AADSTS9002327, and a code without
//     PKCE gets AADSTS9002325;
//   - the token endpoint answers such a request with CORS headers for the SPA's origin, which is
//     the origin of one of its registered spa redirect URIs (Entra does not say which origins it
//     allows; mint allows only those, a browser on any other origin cannot read the answer);
//   - the other way round, a token request that carries an Origin header is refused with
//     AADSTS9002326 unless what it redeems is a SPA's: a code issued through a web or publicClient
//     redirect URI, a refresh token issued through one, and any request presenting a client
//     credential (a secret or an assertion, whatever the grant: "the Microsoft identity platform
//     also prevents the use of client credentials in all flows in the presence of an Origin
//     header", https://learn.microsoft.com/entra/identity-platform/v2-oauth2-auth-code-flow).
//     Entra answers that refusal with "Access-Control-Allow-Origin: *", so the page's script
//     reads the error (as in https://github.com/supabase/auth/issues/1387, a web app's refresh
//     token redeemed from a browser, and https://github.com/databricks/databricks-sdk-py/issues/671,
//     a publicClient one). Programs outside a browser send no Origin and are not concerned;
//   - the refresh tokens last 24 hours from the sign-in, and the ones a refresh hands out keep
//     that expiry (AADSTS700084 after it); the answer says so in refresh_token_expires_in.
const spaRefreshTokenLifetime = 24 * time.Hour

func errSPANotCrossOrigin() *Error {
	return NewError(http.StatusBadRequest, "invalid_request", 9002327,
		"Tokens issued for the 'Single-Page Application' client-type may only be redeemed via cross-origin requests.")
}

// errCrossOriginNotSPA is Entra's refusal of a cross-origin request that redeems no SPA's
// grant; refuse adds the CORS header that lets the page read it.
func errCrossOriginNotSPA(origin string) *Error {
	return NewError(http.StatusBadRequest, "invalid_request", codeCrossOriginNotSPA,
		"Cross-origin token redemption is permitted only for the 'Single-Page Application' client-type. Request origin: '%s'.", truncate(origin, 300))
}

func errSPAWithoutPKCE() *Error {
	return NewError(http.StatusBadRequest, "invalid_request", 9002325,
		"Proof Key for Code Exchange is required for cross-origin authorization code redemption.")
}

func errSPARefreshExpired(issued time.Time) *Error {
	return NewError(http.StatusBadRequest, "invalid_grant", 700084,
		"The refresh token was issued to a single page app (SPA), and therefore has a fixed, limited lifetime of 1.00:00:00, "+
			"which cannot be extended. It is now expired and a new sign in request must be sent by the SPA to the sign in page. "+
			"The token was issued on %s.", issued.UTC().Format(time.RFC3339))
}

// spaOriginAllowed reports whether origin (an Origin header: scheme://host[:port]) is the origin
// of one of the spa redirect URIs registered; as for the redirect URIs themselves, the port of
// http://localhost and http://127.0.0.1 is ignored.
func spaOriginAllowed(origin string, registered []string) bool {
	if origin == "" || len(origin) > 300 || strings.Contains(origin, "?") {
		return false
	}
	oscheme, oh, op, opath, ok := splitURI(origin)
	if !ok || opath != "" {
		return false
	}
	for _, reg := range registered {
		rs, rh, rp, _, ok := splitURI(reg)
		if !ok || !strings.EqualFold(oscheme, rs) || !strings.EqualFold(oh, rh) {
			continue
		}
		if op == rp || strings.EqualFold(oscheme, "http") && (strings.EqualFold(oh, "localhost") || oh == "127.0.0.1") {
			return true
		}
	}
	return false
}

// allowSPAOrigin adds the CORS headers that let the SPA's script read the token endpoint's
// answer, success or error alike, when the request comes from an origin of client's.
func allowSPAOrigin(h http.Header, origin string, client userClient) {
	h["Vary"] = []string{"Origin"}
	if spaOriginAllowed(origin, client.spaRedirects) {
		h["Access-Control-Allow-Origin"] = []string{origin}
	}
}

// servePreflight answers a CORS preflight of the token endpoint. MSAL.js's refresh-token
// request carries X-AnchorMailbox, which makes the browser ask first. The preflight carries no
// client id, so it is allowed for any origin; the answer to the request itself is readable
// only by the client's own origins (allowSPAOrigin).
func (s *Server) servePreflight(w http.ResponseWriter, r *http.Request) bool {
	origin := r.Header.Get("Origin")
	method := r.Header.Get("Access-Control-Request-Method")
	if origin == "" || method == "" || len(origin) > 300 {
		return false // not a preflight: the token endpoint refuses the method
	}
	h := w.Header()
	h["Vary"] = []string{"Origin"}
	if method != http.MethodPost {
		w.WriteHeader(http.StatusNoContent) // no Allow-Origin: the browser refuses
		return true
	}
	h["Access-Control-Allow-Origin"] = []string{origin}
	h["Access-Control-Allow-Methods"] = []string{"POST, OPTIONS"}
	if rh := r.Header.Get("Access-Control-Request-Headers"); rh != "" && len(rh) <= 1000 && headerListOK(rh) {
		h["Access-Control-Allow-Headers"] = []string{rh}
	}
	h["Access-Control-Max-Age"] = []string{strconv.Itoa(86400)}
	w.WriteHeader(http.StatusNoContent)
	return true
}

// headerListOK reports whether v is a comma-separated list of header names (RFC 9110 tokens).
func headerListOK(v string) bool {
	for _, name := range strings.Split(v, ",") {
		name = strings.TrimSpace(name)
		if name == "" {
			return false
		}
		for i := 0; i < len(name); i++ {
			c := name[i]
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0) {
				return false
			}
		}
	}
	return true
}
