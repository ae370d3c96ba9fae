package sts

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/mint-id/mint/internal/store"
)

const (
	spaAppID  = "5aaaaaaa-0000-4000-8000-00000000005a"
	spaObjID  = "5aaaaaaa-0000-4000-8000-0000000005a0"
	spaRedir  = "https://spa.example/app/"
	spaOrigin = "https://spa.example"
)

// spaSignIn signs alice in to the SPA through mint's pages with response_mode=fragment and
// returns the code from the fragment.
func spaSignIn(t *testing.T, f *fixture, extra url.Values) string {
	t.Helper()
	b := &browser{t: t, f: f, cookies: map[string]string{}}
	q := url.Values{"client_id": {spaAppID}, "redirect_uri": {spaRedir}, "response_mode": {"fragment"}}
	for k, v := range extra {
		q[k] = v
	}
	path := strings.Replace(authorizeQuery(q), "/organizations/", "/"+testTenantID+"/", 1)
	w := b.do("GET", path, nil)
	page := fields(w.Body.String())
	w = b.do("POST", "/"+testTenantID+"/login", url.Values{"ctx": {page.Get("ctx")}, "csrf": {page.Get("csrf")}, "action": {"signin"},
		"login": {aliceUPN}, "passwd": {alicePass}})
	target, frag, _ := strings.Cut(w.Header().Get("Location"), "#")
	vals, err := url.ParseQuery(frag)
	if w.Code != 302 || target != spaRedir || err != nil || vals.Get("code") == "" || vals.Get("state") != "xyzSTATE" {
		t.Fatalf("fragment redirect: %d %q", w.Code, w.Header().Get("Location"))
	}
	return vals.Get("code")
}

type spaTokens struct {
	userTokens
	RefreshTokenExpiresIn int64 `json:"refresh_token_expires_in"`
}

func TestSinglePageAppRules(t *testing.T) {
	f, _ := newSignInFixture(t)
	f.dir.principals = append(f.dir.principals, store.ServicePrincipal{ObjectID: spaObjID, AppID: spaAppID, TenantID: testTenantID,
		Kind: store.KindApplication, DisplayName: "SPA", RedirectURIs: store.RedirectURIs{SPA: []string{spaRedir, "http://localhost:3000/"}}})
	token := func(form url.Values, origin string) *httptest.ResponseRecorder {
		form.Set("client_id", spaAppID)
		if origin == "" {
			return f.post("/"+testTenantID+"/oauth2/v2.0/token", form)
		}
		return f.post("/"+testTenantID+"/oauth2/v2.0/token", form, "Origin", origin)
	}
	redeem := func(code, origin string) *httptest.ResponseRecorder {
		return token(url.Values{"grant_type": {"authorization_code"}, "code": {code}, "code_verifier": {pkceVerifier},
			"redirect_uri": {spaRedir}, "scope": {vaultScope + " offline_access openid"}, "client_info": {"1"}}, origin)
	}
	decode := func(w *httptest.ResponseRecorder) spaTokens {
		t.Helper()
		decodeTokens(t, w)
		var tok spaTokens
		_ = json.Unmarshal(w.Body.Bytes(), &tok)
		return tok
	}

	// Redeemed by a server (no Origin): AADSTS9002327, and the code is still unused.
	code := spaSignIn(t, f, nil)
	wantError(t, redeem(code, ""), "invalid_request", 9002327)
	w := redeem(code, spaOrigin)
	tok := decode(w)
	if got := w.Header().Get("Access-Control-Allow-Origin"); got != spaOrigin {
		t.Errorf("Access-Control-Allow-Origin %q, want %q", got, spaOrigin)
	}
	if tok.RefreshTokenExpiresIn < 86390 || tok.RefreshTokenExpiresIn > 86400 {
		t.Errorf("refresh_token_expires_in %d, want 24 h", tok.RefreshTokenExpiresIn)
	}

	// Another origin gets its answer, but no CORS header: its browser cannot read it.
	w = redeem(spaSignIn(t, f, nil), "https://evil.example")
	if w.Code != 200 || w.Header().Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("foreign origin: %d, Access-Control-Allow-Origin %q", w.Code, w.Header().Get("Access-Control-Allow-Origin"))
	}
	// A loopback SPA origin on another port matches, as its redirect URI does.
	if !spaOriginAllowed("http://localhost:5173", []string{"http://localhost:3000/"}) || spaOriginAllowed("https://localhost:5173", []string{"http://localhost:3000/"}) {
		t.Error("loopback origin rule")
	}

	// The refresh token: cross-origin only, 24 hours from the sign-in, not sliding.
	refresh := func(rt, origin string) *httptest.ResponseRecorder {
		return token(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}, "scope": {armScope + " offline_access"}}, origin)
	}
	wantError(t, refresh(tok.RefreshToken, ""), "invalid_request", 9002327)
	f.now = f.now.Add(23 * time.Hour)
	tok2 := decode(refresh(tok.RefreshToken, spaOrigin))
	if tok2.RefreshTokenExpiresIn < 3590 || tok2.RefreshTokenExpiresIn > 3600 {
		t.Errorf("refresh_token_expires_in after 23 h: %d, want about 3600", tok2.RefreshTokenExpiresIn)
	}
	f.now = f.now.Add(time.Hour + time.Second)
	wantError(t, refresh(tok2.RefreshToken, spaOrigin), "invalid_grant", 700084)
	if w := refresh(tok2.RefreshToken, spaOrigin); w.Header().Get("Access-Control-Allow-Origin") != spaOrigin {
		t.Errorf("the SPA cannot read its error: %v", w.Header())
	}

	// A SPA's code needs PKCE.
	code = spaSignIn(t, f, url.Values{"code_challenge": nil, "code_challenge_method": nil})
	wantError(t, token(url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {spaRedir},
		"scope": {vaultScope}}, spaOrigin), "invalid_request", 9002325)

	// The preflight of MSAL.js's refresh (it sends X-AnchorMailbox).
	req := httptest.NewRequest(http.MethodOptions, testBaseURL+"/"+testTenantID+"/oauth2/v2.0/token", nil)
	req.Header.Set("Origin", spaOrigin)
	req.Header.Set("Access-Control-Request-Method", "POST")
	req.Header.Set("Access-Control-Request-Headers", "content-type,x-anchormailbox")
	pw := httptest.NewRecorder()
	f.srv.ServeHTTP(pw, req)
	if pw.Code != 204 || pw.Header().Get("Access-Control-Allow-Origin") != spaOrigin || pw.Header().Get("Access-Control-Allow-Headers") != "content-type,x-anchormailbox" {
		t.Errorf("preflight: %d %v", pw.Code, pw.Header())
	}
	// OPTIONS that is not a preflight is the token endpoint's refusal of any method but POST.
	req = httptest.NewRequest(http.MethodOptions, testBaseURL+"/"+testTenantID+"/oauth2/v2.0/token", nil)
	pw = httptest.NewRecorder()
	f.srv.ServeHTTP(pw, req)
	if pw.Code < 400 || pw.Header().Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("OPTIONS without Origin: %d", pw.Code)
	}
}

// A public client's refresh token is unaffected: no Origin needed, no fixed lifetime.
func TestPublicClientRefreshNotSPA(t *testing.T) {
	f := newPublicClientFixture(t, false)
	code := signInForCode(t, f, "http://localhost:40000")
	w := f.post("/"+testTenantID+"/oauth2/v2.0/token", url.Values{"grant_type": {"authorization_code"}, "client_id": {desktopAppID}, "code": {code},
		"code_verifier": {pkceVerifier}, "redirect_uri": {"http://localhost:40000"}, "scope": {vaultScope + " offline_access"}})
	if w.Code != 200 || strings.Contains(w.Body.String(), "refresh_token_expires_in") || w.Header().Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("public client: %d %s %v", w.Code, w.Body, w.Header())
	}
}

func FuzzSPAOrigin(f *testing.F) {
	for _, s := range []string{"https://spa.example", "http://localhost:3000", "null", "https://spa.example/x", "https://a@b", ""} {
		f.Add(s, "content-type,x-anchormailbox")
	}
	f.Fuzz(func(t *testing.T, origin, headers string) {
		if spaOriginAllowed(origin, []string{spaRedir, "http://localhost/"}) && !strings.Contains(strings.ToLower(origin), "spa.example") && !strings.Contains(strings.ToLower(origin), "localhost") {
			t.Fatalf("origin %q allowed", origin)
		}
		_ = headerListOK(headers)
	})
}

// The other way round: a cross-origin request that redeems no SPA's grant is AADSTS9002326,
// readable by the page (Access-Control-Allow-Origin: *), and the grant stays usable by a server.
func TestCrossOriginRedemptionOnlyForSPA(t *testing.T) {
	f := newPublicClientFixture(t, false)
	tokenPath := "/" + testTenantID + "/oauth2/v2.0/token"
	const origin = "http://localhost:3000"
	crossOrigin := func(w *httptest.ResponseRecorder) {
		t.Helper()
		wantError(t, w, "invalid_request", 9002326)
		if !strings.Contains(w.Body.String(), "Request origin: '"+origin+"'.") || w.Header().Get("Access-Control-Allow-Origin") != "*" {
			t.Errorf("9002326 answer: %v %s", w.Header(), w.Body)
		}
	}
	redeem := func(code, redirectURI string, extra url.Values, header ...string) *httptest.ResponseRecorder {
		form := url.Values{"grant_type": {"authorization_code"}, "client_id": {desktopAppID}, "code": {code},
			"code_verifier": {pkceVerifier}, "redirect_uri": {redirectURI}, "scope": {vaultScope + " offline_access"}}
		for k, v := range extra {
			form[k] = v
		}
		return f.post(tokenPath, form, header...)
	}

	// A web redirect URI's code, with or without the secret; then redeemed by the server.
	code := signInForCode(t, f, webAppRedir)
	crossOrigin(redeem(code, webAppRedir, nil, "Origin", origin))
	crossOrigin(redeem(code, webAppRedir, url.Values{"client_secret": {appSecret}}, "Origin", origin))
	web := decodeTokens(t, redeem(code, webAppRedir, url.Values{"client_secret": {appSecret}}))

	// A publicClient redirect URI's code, and its refresh token.
	code = signInForCode(t, f, "http://localhost:40000")
	crossOrigin(redeem(code, "http://localhost:40000", nil, "Origin", origin))
	native := decodeTokens(t, redeem(code, "http://localhost:40000", nil))
	refresh := func(rt string, extra url.Values, header ...string) *httptest.ResponseRecorder {
		form := url.Values{"grant_type": {"refresh_token"}, "client_id": {desktopAppID}, "refresh_token": {rt}, "scope": {armScope}}
		for k, v := range extra {
			form[k] = v
		}
		return f.post(tokenPath, form, header...)
	}
	crossOrigin(refresh(native.RefreshToken, nil, "Origin", origin))
	decodeTokens(t, refresh(native.RefreshToken, nil))
	crossOrigin(refresh(web.RefreshToken, url.Values{"client_secret": {appSecret}}, "Origin", origin))
	decodeTokens(t, refresh(web.RefreshToken, url.Values{"client_secret": {appSecret}}))

	// A first-party client's refresh token (the Azure CLI's, from the password grant).
	cli := decodeTokens(t, f.post("/organizations/oauth2/v2.0/token", ropc(armScope, aliceUPN, alicePass)))
	crossOrigin(f.post(tokenPath, url.Values{"grant_type": {"refresh_token"}, "client_id": {azCLI}, "refresh_token": {cli.RefreshToken},
		"scope": {vaultScope}}, "Origin", origin))

	// A client credential from a browser, whatever the grant.
	crossOrigin(f.post(tokenPath, secretForm(vaultScope), "Origin", origin))
	decodeTokens(t, f.post(tokenPath, secretForm(vaultScope)))
	if rec := f.rec.last(t); rec.Result != "success" {
		t.Errorf("server-side client credentials: %+v", rec)
	}
}
