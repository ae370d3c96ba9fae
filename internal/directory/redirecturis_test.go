package directory

import (
	"errors"
	"strings"
	"testing"

	"github.com/mint-id/mint/internal/store"
)

func TestCheckRedirectURIs(t *testing.T) {
	long := "https://app.example/" + strings.Repeat("a", MaxRedirectURILength)
	many := make([]string, MaxRedirectURIs+1)
	for i := range many {
		many[i] = "https://app.example/" + strings.Repeat("x", i%200)
	}
	cases := []struct {
		name string
		r    store.RedirectURIs
		ok   bool
	}{
		{"none", store.RedirectURIs{}, true},
		{"web https", store.RedirectURIs{Web: []string{"https://app.example/signin-oidc"}}, true},
		{"web loopback http", store.RedirectURIs{Web: []string{"http://localhost:5000/cb", "http://127.0.0.1/cb"}}, true},
		{"web http elsewhere", store.RedirectURIs{Web: []string{"http://app.example/cb"}}, false},
		{"web custom scheme", store.RedirectURIs{Web: []string{"myapp://auth"}}, false},
		{"web urn", store.RedirectURIs{Web: []string{"urn:ietf:wg:oauth:2.0:oob"}}, false},
		{"spa http elsewhere", store.RedirectURIs{SPA: []string{"http://spa.example/"}}, false},
		{"public loopback any port", store.RedirectURIs{PublicClient: []string{"http://localhost", "http://127.0.0.1:8400/"}}, true},
		{"public custom scheme and urn", store.RedirectURIs{PublicClient: []string{"msal00000000-0000-0000-0000-000000000001://auth", "urn:ietf:wg:oauth:2.0:oob"}}, true},
		{"public http elsewhere", store.RedirectURIs{PublicClient: []string{"http://desktop.example/"}}, false},
		{"public [::1]", store.RedirectURIs{PublicClient: []string{"http://[::1]/"}}, false},
		{"fragment", store.RedirectURIs{PublicClient: []string{"http://localhost/#x"}}, false},
		{"wildcard", store.RedirectURIs{Web: []string{"https://*.app.example/"}}, false},
		{"special character", store.RedirectURIs{Web: []string{"https://app.example/a;b"}}, false},
		{"query, single tenant", store.RedirectURIs{Web: []string{"https://app.example/?a=b"}}, true},
		{"query, AzureADMyOrg named", store.RedirectURIs{Web: []string{"https://app.example/cb?a=b"}, SignInAudience: AudienceMyOrg}, true},
		{"query, multitenant", store.RedirectURIs{SPA: []string{"https://app.example/?a=b"}, SignInAudience: AudienceMultipleOrgs}, true},
		{"query, personal accounts too", store.RedirectURIs{Web: []string{"https://app.example/?a=b"}, SignInAudience: AudienceOrgsAndPersonal}, false},
		{"query, personal accounts", store.RedirectURIs{PublicClient: []string{"http://localhost/?a=b"}, SignInAudience: AudiencePersonal}, false},
		{"no query, personal accounts", store.RedirectURIs{Web: []string{"https://app.example/cb"}, SignInAudience: AudiencePersonal}, true},
		{"two question marks", store.RedirectURIs{Web: []string{"https://app.example/?a=b?c"}}, false},
		{"unknown audience", store.RedirectURIs{SignInAudience: "Everyone"}, false},
		{"empty", store.RedirectURIs{Web: []string{""}}, false},
		{"relative", store.RedirectURIs{Web: []string{"/signin"}}, false},
		{"user info", store.RedirectURIs{Web: []string{"https://u@app.example/"}}, false},
		{"too long", store.RedirectURIs{Web: []string{long}}, false},
		{"too many", store.RedirectURIs{Web: many}, false},
	}
	for _, c := range cases {
		err := CheckRedirectURIs(c.r)
		var in *InputError
		if c.ok != (err == nil) || (err != nil && !errors.As(err, &in)) {
			t.Errorf("%s: CheckRedirectURIs = %v, want ok=%v", c.name, err, c.ok)
		}
	}
}

// FuzzCheckRedirectURIs: any string is either accepted or refused with an InputError, and an
// accepted public-client URI that uses http names a loopback host.
func FuzzCheckRedirectURIs(f *testing.F) {
	for _, s := range []string{"http://localhost", "https://app.example/cb", "msal1://auth", "urn:ietf:wg:oauth:2.0:oob", "http://x/", "http://[::1]:80/", "%zz://a"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, u string) {
		for _, r := range []store.RedirectURIs{{Web: []string{u}}, {SPA: []string{u}}, {PublicClient: []string{u}}} {
			err := CheckRedirectURIs(r)
			var in *InputError
			if err != nil && !errors.As(err, &in) {
				t.Fatalf("%q: %v is not an InputError", u, err)
			}
			if err == nil && strings.HasPrefix(strings.ToLower(u), "http://") {
				rest := strings.ToLower(u[len("http://"):])
				if !strings.HasPrefix(rest, "localhost") && !strings.HasPrefix(rest, "127.0.0.1") {
					t.Fatalf("%q accepted with http on a host that is not loopback", u)
				}
			}
		}
	})
}
