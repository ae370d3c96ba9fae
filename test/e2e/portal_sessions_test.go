package e2e

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
)

// A portal session lives in the store: after mint restarts (a new process on the same store, as
// another replica would be), the browser's cookie still signs the person in; signing out there
// ends the session for that cookie everywhere.

// portalCookie is the browser's portal session cookie.
func (b *browserSession) portalCookie(base string) *network.Cookie {
	b.t.Helper()
	var cookies []*network.Cookie
	b.run("cookies", func(ctx context.Context, tg *chromedp.Target) (chromedp.Void, error) {
		res, err := cdp.Call(ctx, tg, network.GetCookies, network.GetCookiesParams{URLs: []string{base + "/portal/"}})
		cookies = res.Cookies
		return chromedp.Void{}, err
	})
	for _, c := range cookies {
		if c.Name == "__Host-mint-portal" {
			return c
		}
	}
	b.t.Fatal("the browser holds no portal session cookie")
	return nil
}

func TestPortalSessionSurvivesRestart(t *testing.T) {
	for _, st := range stores(t) {
		t.Run(st.name, func(t *testing.T) { portalSessionSurvivesRestart(t, st) })
	}
}

func portalSessionSurvivesRestart(t *testing.T, st storeKind) {
	m := startMint(t, options{store: st.url(t)})
	dev := readDeveloper(t, m)
	shots := portalShots(t, "sessions-"+st.name)
	b := newPortalBrowser(t, m, shots)
	b.signIn(m.URL, dev.UserPrincipalName, dev.Password)
	cookie := b.portalCookie(m.URL)

	// Restart: a new process, a new port and serving certificate, the same store.
	m.restart()
	// The same browser state (its cookie) in a Chromium that trusts the new certificate.
	b2 := newPortalBrowser(t, m, shots)
	b2.run("carry the cookie", func(ctx context.Context, tg *chromedp.Target) (chromedp.Void, error) {
		yes := true
		_, err := cdp.Call(ctx, tg, network.SetCookie, network.SetCookieParams{Name: cookie.Name, Value: cookie.Value, URL: m.URL + "/",
			Path: "/", Secure: &yes, HTTPOnly: &yes, SameSite: network.CookieSameSiteLax})
		return chromedp.Void{}, err
	})
	var who string
	b2.run("still signed in after the restart", chromedp.Navigate(m.URL+"/portal/identities"), waitRole("button", "Sign out"),
		waitRole("link", "+ Create"), into(&who, chromedp.Text(`//header`, chromedp.NodeVisible)))
	b2.shot("after-restart")
	if !strings.Contains(who, dev.UserPrincipalName) {
		t.Fatalf("after the restart the portal shows %q, not %s", who, dev.UserPrincipalName)
	}
	// The person's own token still works (a refresh token redeemed by the new process): search.
	b2.search("Managed Identities", "Managed Identities")

	// Sign out in the restarted server; the cookie no longer signs anyone in.
	b2.run("sign out", click("button", "Sign out"), waitRole("link", "Sign in"))
	req, _ := http.NewRequest(http.MethodGet, m.URL+"/portal/identities", nil)
	req.AddCookie(&http.Cookie{Name: cookie.Name, Value: cookie.Value})
	res, err := httpClient().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if !strings.Contains(string(body), "Sign in to the mint portal") || strings.Contains(string(body), "Sign out") {
		t.Fatalf("the signed-out session's cookie still works: %d %s", res.StatusCode, body)
	}
	m.restart()
	req, _ = http.NewRequest(http.MethodGet, m.URL+"/portal/identities", nil)
	req.AddCookie(&http.Cookie{Name: cookie.Name, Value: cookie.Value})
	if res, err = httpClient().Do(req); err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(res.Body)
	res.Body.Close()
	if strings.Contains(string(body), "Sign out") {
		t.Fatal("a signed-out session came back after another restart")
	}
}
