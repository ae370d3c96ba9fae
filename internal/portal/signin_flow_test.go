package portal_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"html/template"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/mint-id/mint/internal/authz"
	"github.com/mint-id/mint/internal/directory"
	"github.com/mint-id/mint/internal/rbac"
)

var (
	formActionRE = regexp.MustCompile(`<form method="post" action="([^"]*)"`)
	hiddenRE     = regexp.MustCompile(`<input type="hidden" name="([^"]+)" value="([^"]*)">`)
)

// TestSignInThroughMintSTS signs a person in the way a browser does: the portal sends it to
// mint's authorize endpoint, the person enters a password on mint's sign-in page, the portal
// redeems the code (PKCE, client secret) and the person lands on the page they asked for, with
// their own name, acting with their own token.
func TestSignInThroughMintSTS(t *testing.T) {
	e := newEnv(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.srv.Serve(ctx) }()
	t.Cleanup(func() { cancel(); <-done })

	const password = "Portal-test-pw-1!"
	u, err := e.srv.Directory.CreateUser(context.Background(), e.in.Tenant.ID, directory.UserSpec{
		UserPrincipalName: "ada@" + e.in.Tenant.DefaultDomain, DisplayName: "Ada Lovelace", MailNickname: "ada", AccountEnabled: true, Password: password})
	if err != nil {
		t.Fatal(err)
	}
	if err := authz.EnsureRole(context.Background(), e.srv.Store, u.ObjectID, rbac.ReaderRoleID, "/subscriptions/"+e.in.Subscription.ID, "test"); err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(e.srv.CA.CertPEM())
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}

	res, err := c.Get(e.srv.BaseURL + "/portal/signin?return=" + url.QueryEscape("/portal/identities"))
	if err != nil {
		t.Fatal(err)
	}
	page := readBody(t, res)
	if res.StatusCode != 200 || !strings.Contains(page, `name="passwd"`) {
		t.Fatalf("authorize did not show the sign-in page: %d %s", res.StatusCode, page)
	}
	m := formActionRE.FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no form on the sign-in page: %s", page)
	}
	form := url.Values{"login": {u.UserPrincipalName}, "passwd": {password}}
	for _, h := range hiddenRE.FindAllStringSubmatch(page, -1) {
		if form.Get(h[1]) == "" {
			form.Set(h[1], htmlUnescape(h[2]))
		}
	}
	action, _ := url.Parse(htmlUnescape(m[1]))
	res, err = c.PostForm(res.Request.URL.ResolveReference(action).String(), form)
	if err != nil {
		t.Fatal(err)
	}
	page = readBody(t, res)
	if res.StatusCode != 200 || res.Request.URL.Path != "/portal/identities" {
		t.Fatalf("after sign-in: %d at %s: %s", res.StatusCode, res.Request.URL, page)
	}
	mustContain(t, page, "Ada Lovelace", "Managed Identities", "Sign out")
	// The person acts with their own token: Reader may not create.
	csrf := csrfRE.FindStringSubmatch(page)[1]
	res, err = c.PostForm(e.srv.BaseURL+"/portal/identities/create", url.Values{"csrf": {csrf}, "subscription": {e.in.Subscription.ID},
		"newResourceGroup": {"app"}, "region": {"westeurope"}, "name": {"nope"}, "action": {"create"}})
	if err != nil {
		t.Fatal(err)
	}
	page = readBody(t, res)
	if res.StatusCode != http.StatusForbidden || !strings.Contains(page, "AuthorizationFailed") || !strings.Contains(page, u.ObjectID) {
		t.Fatalf("Reader's create: %d %s", res.StatusCode, page)
	}
	// Other APIs' tokens come from the refresh token: the IAM blade names people through Graph.
	res, err = c.Get(e.srv.BaseURL + "/portal/resource/subscriptions/" + e.in.Subscription.ID + "?view=iam")
	if err != nil {
		t.Fatal(err)
	}
	page = readBody(t, res)
	if res.StatusCode != 200 {
		t.Fatalf("IAM: %d %s", res.StatusCode, page)
	}
	// Principals are named with one directoryObjects/getByIds call, which a member of the
	// directory may make (as Entra's default user permissions allow reading directory objects):
	// the admin application is shown by name and app id.
	mustContain(t, page, "Reader (1)", "Ada Lovelace", "This resource", "Owner (1)", template.HTMLEscapeString(e.in.Admin.DisplayName), e.in.Admin.AppID)
	// The browser holds no token: only the session cookie, HttpOnly and Secure.
	for _, ck := range jar.Cookies(res.Request.URL) {
		if strings.Count(ck.Value, ".") == 2 && len(ck.Value) > 200 {
			t.Fatalf("cookie %s looks like a token", ck.Name)
		}
	}
}

func readBody(t *testing.T, res *http.Response) string {
	t.Helper()
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func htmlUnescape(s string) string {
	r := strings.NewReplacer("&amp;", "&", "&#43;", "+", "&#34;", `"`, "&#39;", "'", "&lt;", "<", "&gt;", ">", "&#x2f;", "/", "&#61;", "=")
	return r.Replace(s)
}
