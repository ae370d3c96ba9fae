package sts

import (
	"context"
	"fmt"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/mint-id/mint/internal/store"
)

// Applications of the directory as clients people sign in to: redirect URIs by platform decide
// where a code may go and whether its redemption is public (publicClient, spa) or confidential
// (web); isFallbackPublicClient decides for the device code and password grants.

const (
	desktopAppID = "dddddddd-0000-4000-8000-00000000000d"
	desktopObjID = "dddddddd-0000-4000-8000-0000000000d0"
	webAppRedir  = "https://web.example/signin-oidc"
)

func newPublicClientFixture(t *testing.T, fallback bool) *fixture {
	f, _ := newSignInFixture(t)
	f.dir.principals = append(f.dir.principals, store.ServicePrincipal{ObjectID: desktopObjID, AppID: desktopAppID, TenantID: testTenantID,
		Kind: store.KindApplication, DisplayName: "Desktop <b>app</b>",
		RedirectURIs: store.RedirectURIs{PublicClient: []string{"http://localhost"}, Web: []string{webAppRedir, "http://127.0.0.1:9000/web"},
			FallbackPublicClient: fallback}})
	f.dir.secrets[desktopObjID] = []fakeSecret{{value: appSecret}}
	return f
}

// signInForCode runs the authorize page for the desktop app and returns the code.
func signInForCode(t *testing.T, f *fixture, redirectURI string) string {
	t.Helper()
	b := &browser{t: t, f: f, cookies: map[string]string{}}
	q := authorizeQuery(url.Values{"client_id": {desktopAppID}, "redirect_uri": {redirectURI}})
	q = strings.Replace(q, "/organizations/", "/"+testTenantID+"/", 1)
	w := b.do("GET", q, nil)
	if w.Code != 200 {
		t.Fatalf("authorize %s: %d %s", redirectURI, w.Code, w.Body)
	}
	page := fields(w.Body.String())
	w = b.do("POST", "/"+testTenantID+"/login", url.Values{"ctx": {page.Get("ctx")}, "csrf": {page.Get("csrf")}, "action": {"signin"},
		"login": {aliceUPN}, "passwd": {alicePass}})
	loc, err := url.Parse(w.Header().Get("Location"))
	if w.Code != 302 || err != nil || loc.Query().Get("code") == "" {
		t.Fatalf("sign-in for %s: %d %q %s", redirectURI, w.Code, w.Header().Get("Location"), w.Body)
	}
	return loc.Query().Get("code")
}

func TestDirectoryAppRedirectURIsAtAuthorize(t *testing.T) {
	f := newPublicClientFixture(t, false)
	b := &browser{t: t, f: f, cookies: map[string]string{}}
	for _, c := range []struct {
		uri string
		ok  bool
	}{
		{"http://localhost:51234", true},           // publicClient loopback: any port
		{"http://localhost:51234/", true},          // a path-less URI matches "/"
		{"http://127.0.0.1:9000/web", true},        // web loopback, registered port
		{"http://127.0.0.1:9001/web", true},        // Entra ignores a loopback port whatever the platform
		{webAppRedir, true},                        // exact
		{"https://web.example/Signin-OIDC", false}, // paths compare case-sensitively
		{"https://web.example:444/signin-oidc", false},
		{"http://localhost:51234/other", false},
		{"https://evil.example/cb", false},
	} {
		q := authorizeQuery(url.Values{"client_id": {desktopAppID}, "redirect_uri": {c.uri}})
		q = strings.Replace(q, "/organizations/", "/"+testTenantID+"/", 1)
		w := b.do("GET", q, nil)
		switch {
		case c.ok && w.Code != 200:
			t.Errorf("%s: %d %s", c.uri, w.Code, w.Body)
		case !c.ok && (w.Code != 400 || w.Header().Get("Location") != "" || !strings.Contains(w.Body.String(), "AADSTS50011")):
			t.Errorf("%s: %d %q, want the AADSTS50011 page", c.uri, w.Code, w.Header().Get("Location"))
		}
	}
	// The app's display name is shown escaped.
	q := strings.Replace(authorizeQuery(url.Values{"client_id": {desktopAppID}}), "/organizations/", "/"+testTenantID+"/", 1)
	if body := b.do("GET", q, nil).Body.String(); strings.Contains(body, "<b>app</b>") {
		t.Errorf("display name not escaped: %s", body)
	}
	// An app without redirect URIs cannot use the browser sign-in at all.
	q = strings.Replace(authorizeQuery(url.Values{"client_id": {appClientID}}), "/organizations/", "/"+testTenantID+"/", 1)
	if w := b.do("GET", q, nil); w.Code != 400 || w.Header().Get("Location") != "" {
		t.Errorf("app without redirect URIs: %d %q", w.Code, w.Header().Get("Location"))
	}
}

func TestDirectoryAppCodeRedemptionPublicOrConfidential(t *testing.T) {
	f := newPublicClientFixture(t, false)
	redeem := func(code, redirectURI string, extra url.Values) *httptest.ResponseRecorder {
		form := url.Values{"grant_type": {"authorization_code"}, "client_id": {desktopAppID}, "code": {code},
			"code_verifier": {pkceVerifier}, "redirect_uri": {redirectURI}, "scope": {vaultScope}, "client_info": {"1"}}
		for k, v := range extra {
			form[k] = v
		}
		return f.post("/"+testTenantID+"/oauth2/v2.0/token", form)
	}
	// publicClient redirect URI: redeemed without a credential; a secret is AADSTS700025.
	code := signInForCode(t, f, "http://localhost:40000")
	wantError(t, redeem(code, "http://localhost:40000", url.Values{"client_secret": {appSecret}}), "invalid_client", 700025)
	tok := decodeTokens(t, redeem(code, "http://localhost:40000", nil))
	if _, c := decodeJWT(t, tok.AccessToken); c["appid"] != desktopAppID || c["appidacr"] != "0" || c["oid"] != aliceID {
		t.Errorf("public client token %v", c)
	}
	// Its refresh token is redeemed without a credential too; with one it is refused.
	refresh := func(extra url.Values) *httptest.ResponseRecorder {
		form := url.Values{"grant_type": {"refresh_token"}, "client_id": {desktopAppID}, "refresh_token": {tok.RefreshToken}, "scope": {armScope}}
		for k, v := range extra {
			form[k] = v
		}
		return f.post("/"+testTenantID+"/oauth2/v2.0/token", form)
	}
	decodeTokens(t, refresh(nil))
	wantError(t, refresh(url.Values{"client_secret": {appSecret}}), "invalid_client", 700025)

	// web redirect URI: a confidential redemption; without the secret AADSTS7000218.
	code = signInForCode(t, f, webAppRedir)
	wantError(t, redeem(code, webAppRedir, nil), "invalid_client", 7000218)
	wantError(t, redeem(code, webAppRedir, url.Values{"client_secret": {"wrong-secret-value-0123456789"}}), "invalid_client", 7000215)
	tok = decodeTokens(t, redeem(code, webAppRedir, url.Values{"client_secret": {appSecret}}))
	if _, c := decodeJWT(t, tok.AccessToken); c["appidacr"] != "1" {
		t.Errorf("confidential client token appidacr %v, want 1 (secret)", c["appidacr"])
	}
	// Its refresh token needs the secret: without it, 7000218.
	wantError(t, refresh(nil), "invalid_client", 7000218)
	decodeTokens(t, refresh(url.Values{"client_secret": {appSecret}}))
}

func TestDirectoryAppDeviceCodeAndPasswordFollowFallbackPublicClient(t *testing.T) {
	for _, fallback := range []bool{false, true} {
		f := newPublicClientFixture(t, fallback)
		tokenPath := "/" + testTenantID + "/oauth2/v2.0/token"
		w := f.post("/"+testTenantID+"/oauth2/v2.0/devicecode", url.Values{"client_id": {desktopAppID}, "scope": {armScope}})
		if w.Code != 200 {
			t.Fatalf("devicecode for a directory app: %d %s", w.Code, w.Body)
		}
		ropcForm := ropc(armScope, aliceUPN, alicePass)
		ropcForm.Set("client_id", desktopAppID)
		if !fallback {
			// Confidential: AADSTS7000218 without a credential, tokens with it.
			wantError(t, f.post(tokenPath, ropcForm), "invalid_client", 7000218)
			ropcForm.Set("client_secret", appSecret)
			decodeTokens(t, f.post(tokenPath, ropcForm))
			continue
		}
		decodeTokens(t, f.post(tokenPath, ropcForm))
		ropcForm.Set("client_secret", appSecret)
		wantError(t, f.post(tokenPath, ropcForm), "invalid_client", 700025)
	}
	// An unknown client gets no device code.
	f := newPublicClientFixture(t, true)
	w := f.post("/"+testTenantID+"/oauth2/v2.0/devicecode", url.Values{"client_id": {"eeeeeeee-0000-4000-8000-00000000000e"}, "scope": {armScope}})
	wantError(t, w, "unauthorized_client", 700016)
}

// adminPeople makes alice the directory's administrator.
type adminPeople struct{ *fakePeople }

func (adminPeople) IsDirectoryAdmin(_ context.Context, u store.User) bool {
	return u.ObjectID == aliceID
}

// The directory's administrator carries Entra's Global Administrator template id in wids; a
// directory without roles adds no wids.
func TestUserTokenWIDs(t *testing.T) {
	people := newFakePeople()
	f := newFixture(t, func(c *Config) { c.People = adminPeople{people}; c.SealKey = make([]byte, 32) })
	tok := decodeTokens(t, f.post("/organizations/oauth2/v2.0/token", ropc(armScope, aliceUPN, alicePass)))
	if _, c := decodeJWT(t, tok.AccessToken); fmt.Sprint(c["wids"]) != "["+GlobalAdministratorTemplateID+"]" {
		t.Errorf("administrator's wids %v", c["wids"])
	}
	f, _ = newSignInFixture(t)
	tok = decodeTokens(t, f.post("/organizations/oauth2/v2.0/token", ropc(armScope, aliceUPN, alicePass)))
	if _, c := decodeJWT(t, tok.AccessToken); c["wids"] != nil {
		t.Errorf("wids without directory roles: %v", c["wids"])
	}
}

// A redirect URI with a query string (Entra allows one for apps that sign in work or school
// accounts only) matches only with that exact query, and the answer keeps it.
func TestRedirectURIWithQuery(t *testing.T) {
	f, _ := newSignInFixture(t)
	f.dir.principals = append(f.dir.principals, store.ServicePrincipal{ObjectID: desktopObjID, AppID: desktopAppID, TenantID: testTenantID,
		Kind: store.KindApplication, DisplayName: "Query app",
		RedirectURIs: store.RedirectURIs{PublicClient: []string{"http://localhost/cb?tenant=contoso", "https://app.example?x=1"}}})
	b := &browser{t: t, f: f, cookies: map[string]string{}}
	for _, c := range []struct {
		uri string
		ok  bool
	}{
		{"http://localhost:4100/cb?tenant=contoso", true},
		{"https://app.example?x=1", true},
		{"https://app.example/?x=1", true},
		{"http://localhost:4100/cb?tenant=fabrikam", false},
		{"http://localhost:4100/cb", false},
		{"http://localhost:4100/cb?tenant=contoso&more=1", false},
		{"https://app.example", false},
	} {
		q := strings.Replace(authorizeQuery(url.Values{"client_id": {desktopAppID}, "redirect_uri": {c.uri}}), "/organizations/", "/"+testTenantID+"/", 1)
		w := b.do("GET", q, nil)
		if c.ok != (w.Code == 200) || !c.ok && !strings.Contains(w.Body.String(), "AADSTS50011") {
			t.Errorf("%s: %d, want ok=%v", c.uri, w.Code, c.ok)
		}
	}
	q := strings.Replace(authorizeQuery(url.Values{"client_id": {desktopAppID}, "redirect_uri": {"http://localhost:4100/cb?tenant=contoso"}}),
		"/organizations/", "/"+testTenantID+"/", 1)
	page := fields(b.do("GET", q, nil).Body.String())
	w := b.do("POST", "/"+testTenantID+"/login", url.Values{"ctx": {page.Get("ctx")}, "csrf": {page.Get("csrf")}, "action": {"signin"},
		"login": {aliceUPN}, "passwd": {alicePass}})
	loc, err := url.Parse(w.Header().Get("Location"))
	if w.Code != 302 || err != nil || loc.Path != "/cb" || loc.Query().Get("tenant") != "contoso" || loc.Query().Get("code") == "" {
		t.Fatalf("redirect: %d %q", w.Code, w.Header().Get("Location"))
	}
	tok := f.post("/"+testTenantID+"/oauth2/v2.0/token", url.Values{"grant_type": {"authorization_code"}, "client_id": {desktopAppID},
		"code": {loc.Query().Get("code")}, "code_verifier": {pkceVerifier}, "redirect_uri": {"http://localhost:4100/cb?tenant=contoso"}, "scope": {vaultScope}})
	decodeTokens(t, tok)
}
