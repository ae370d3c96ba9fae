package directory

import (
	"fmt"
	"net/url"
	"strings"

	"github.com/mint-id/mint/internal/store"
)

// Entra's limits on an application's redirect URIs (reply URLs), from
// https://learn.microsoft.com/entra/identity-platform/reply-url: at most 256 for an app that
// signs in accounts of one organization, at most 256 characters each, https except for loopback
// http, no fragment, none of the characters ! $ ' ( ) , ;.
const (
	MaxRedirectURIs      = 256
	MaxRedirectURILength = 256
)

// CheckRedirectURIs checks an application's redirect URIs by platform the way Entra checks them
// when they are registered. web and spa URIs are https, or http on a loopback host
// (localhost, 127.0.0.1); publicClient URIs may also use a custom scheme
// ("msal{appId}://auth") or a URN ("urn:ietf:wg:oauth:2.0:oob"), but plain http only on a
// loopback host too. A query string is allowed only for applications that sign in work or
// school accounts only (signInAudience AzureADMyOrg or AzureADMultipleOrgs), as the page says.
// mint also refuses wildcards, which Entra accepts in some cases (docs/compatibility.md says so).
func CheckRedirectURIs(r store.RedirectURIs) error {
	workOnly := false
	switch r.SignInAudience {
	case "", AudienceMyOrg, AudienceMultipleOrgs:
		workOnly = true
	case AudienceOrgsAndPersonal, AudiencePersonal:
	default:
		return &InputError{fmt.Sprintf("Invalid value specified for property 'signInAudience' of resource 'Application': %q; use %s, %s, %s or %s.",
			truncate(r.SignInAudience, 100), AudienceMyOrg, AudienceMultipleOrgs, AudienceOrgsAndPersonal, AudiencePersonal)}
	}
	if n := len(r.Web) + len(r.SPA) + len(r.PublicClient); n > MaxRedirectURIs {
		return &InputError{fmt.Sprintf("An application may have at most %d redirect URIs; this one would have %d.", MaxRedirectURIs, n)}
	}
	for _, p := range []struct {
		property string
		uris     []string
		public   bool
	}{{"web.redirectUris", r.Web, false}, {"spa.redirectUris", r.SPA, false}, {"publicClient.redirectUris", r.PublicClient, true}} {
		for _, u := range p.uris {
			why := redirectURIProblem(u, p.public)
			if why == "" && !workOnly && strings.Contains(u, "?") {
				why = "has a query string, which only applications that sign in work or school accounts only (signInAudience " +
					AudienceMyOrg + " or " + AudienceMultipleOrgs + ") may have"
			}
			if why != "" {
				return &InputError{fmt.Sprintf("Invalid value specified for property '%s' of resource 'Application': %q %s.", p.property, truncate(u, 300), why)}
			}
		}
	}
	return nil
}

// redirectURIProblem says what is wrong with one redirect URI, or "" when nothing is.
func redirectURIProblem(u string, public bool) string {
	switch {
	case u == "":
		return "is empty"
	case len(u) > MaxRedirectURILength:
		return fmt.Sprintf("is longer than %d characters", MaxRedirectURILength)
	case strings.Contains(u, "#"):
		return "has a fragment; redirect URIs may not"
	case strings.Contains(u, "*"):
		return "has a wildcard; register each redirect URI in full"
	case strings.ContainsAny(u, "!$'(),; \t\r\n\\"):
		return "has a character redirect URIs may not contain (! $ ' ( ) , ; or white space)"
	case strings.Count(u, "?") > 1:
		return "has more than one '?'"
	}
	parsed, err := url.Parse(u)
	if err != nil || parsed.Scheme == "" {
		return "is not an absolute URI"
	}
	scheme := strings.ToLower(parsed.Scheme)
	if parsed.Opaque != "" { // urn:ietf:wg:oauth:2.0:oob and the like
		if !public {
			return "must start with https:// (or http://localhost)"
		}
		return ""
	}
	if parsed.Host == "" || parsed.User != nil {
		return "must name a host and no user information"
	}
	switch {
	case scheme == "https":
		return ""
	case scheme == "http":
		if IsLoopbackHost(parsed.Hostname()) {
			return ""
		}
		return "uses http, which is allowed only for localhost and 127.0.0.1; use https"
	case public:
		return "" // a custom scheme of a mobile or desktop app
	default:
		return "must start with https:// (or http://localhost)"
	}
}

// Graph's signInAudience values.
const (
	AudienceMyOrg           = "AzureADMyOrg"
	AudienceMultipleOrgs    = "AzureADMultipleOrgs"
	AudienceOrgsAndPersonal = "AzureADandPersonalMicrosoftAccount"
	AudiencePersonal        = "PersonalMicrosoftAccount"
)

// IsLoopbackHost reports whether a redirect URI's host is a loopback name Entra treats as such:
// localhost and 127.0.0.1 ([::1] is not supported by Entra).
func IsLoopbackHost(host string) bool {
	return strings.EqualFold(host, "localhost") || host == "127.0.0.1"
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
