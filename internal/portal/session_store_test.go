package portal_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/mint-id/mint/internal/authz"
	"github.com/mint-id/mint/internal/directory"
	"github.com/mint-id/mint/internal/portal"
	"github.com/mint-id/mint/internal/rbac"
)

// TestSessionsLiveInTheStore: a session signed in through the portal's own sign-in is kept in the
// store, sealed (no name, no token, no session id in clear), so another portal over the same
// store (a restarted server, another replica) serves it; signing out there ends it here too.
func TestSessionsLiveInTheStore(t *testing.T) {
	e := newEnv(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.srv.Serve(ctx) }()
	t.Cleanup(func() { cancel(); <-done })

	const password = "Portal-test-pw-2!"
	u, err := e.srv.Directory.CreateUser(context.Background(), e.in.Tenant.ID, directory.UserSpec{
		UserPrincipalName: "grace@" + e.in.Tenant.DefaultDomain, DisplayName: "Grace Hopper", MailNickname: "grace", AccountEnabled: true, Password: password})
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
	res, err := c.Get(e.srv.BaseURL + "/portal/signin")
	if err != nil {
		t.Fatal(err)
	}
	page := readBody(t, res)
	m := formActionRE.FindStringSubmatch(page)
	form := url.Values{"login": {u.UserPrincipalName}, "passwd": {password}}
	for _, h := range hiddenRE.FindAllStringSubmatch(page, -1) {
		if form.Get(h[1]) == "" {
			form.Set(h[1], htmlUnescape(h[2]))
		}
	}
	action, _ := url.Parse(htmlUnescape(m[1]))
	if res, err = c.PostForm(res.Request.URL.ResolveReference(action).String(), form); err != nil {
		t.Fatal(err)
	}
	mustContain(t, readBody(t, res), "Grace Hopper", "Sign out")
	base, _ := url.Parse(e.srv.BaseURL + "/portal/")
	var cookie string
	for _, ck := range jar.Cookies(base) {
		if ck.Name == "__Host-mint-portal" {
			cookie = ck.Value
		}
	}
	if cookie == "" {
		t.Fatal("no session cookie")
	}

	// The store holds the session sealed, under the hash of its id.
	sum := sha256.Sum256([]byte(cookie))
	kept, err := e.srv.Store.GetPortalSession(context.Background(), hex.EncodeToString(sum[:]), time.Now())
	if err != nil {
		t.Fatalf("session not in the store: %v", err)
	}
	for _, clear := range []string{"Grace Hopper", "grace@", cookie, "eyJ"} {
		if bytes.Contains(kept.Sealed, []byte(clear)) {
			t.Fatalf("the kept session holds %q in clear", clear)
		}
	}

	// Another portal over the same store and key (a restart, another replica).
	clientID, secret, err := portal.Register(context.Background(), e.srv.Directory, e.srv.Store, e.srv.KEK, e.in.Tenant.ID)
	if err != nil {
		t.Fatal(err)
	}
	p2, err := portal.New(portal.Config{BaseURL: e.srv.BaseURL, API: e.srv.Handler(), Sessions: e.srv.Store, Sealer: e.srv.KEK,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	p2.SetClient(e.in.Tenant.ID, clientID, secret)
	do := func(h http.Handler, method, target string, form url.Values) (int, string) {
		var body io.Reader
		if form != nil {
			body = strings.NewReader(form.Encode())
		}
		req := httptest.NewRequest(method, e.srv.BaseURL+target, body)
		if form != nil {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		req.AddCookie(&http.Cookie{Name: "__Host-mint-portal", Value: cookie})
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec.Code, rec.Body.String()
	}
	code, body := do(p2, http.MethodGet, "/portal/resource/subscriptions/"+e.in.Subscription.ID+"?view=iam", nil)
	if code != http.StatusOK {
		t.Fatalf("the other portal: %d %s", code, body)
	}
	mustContain(t, body, "Grace Hopper", "Sign out", "Owner (1)")
	// Sign out there; this server no longer knows the session.
	csrf := csrfRE.FindStringSubmatch(body)[1]
	if code, body := do(p2, http.MethodPost, "/portal/signout", url.Values{"csrf": {csrf}}); code != http.StatusOK || !strings.Contains(body, "You signed out") {
		t.Fatalf("sign-out on the other portal: %d %s", code, body)
	}
	if _, body := do(e.srv.Portal, http.MethodGet, "/portal/identities", nil); !strings.Contains(body, "Sign in to the mint portal") || strings.Contains(body, "Grace Hopper") {
		t.Fatalf("the session outlived its sign-out on another replica: %s", body)
	}
	if _, err := e.srv.Store.GetPortalSession(context.Background(), hex.EncodeToString(sum[:]), time.Now()); err == nil {
		t.Fatal("the session is still in the store after sign-out")
	}
}
