package sts

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mint-id/mint/internal/store"
)

const (
	azCLI      = "04b07795-8ddb-461a-bbee-02f9e1bf7b46"
	aliceID    = "a11ce000-0000-4000-8000-000000000001"
	aliceUPN   = "alice@" + testDomain
	alicePass  = "Correct-Horse-9"
	groupA     = "90000000-0000-4000-8000-00000000000a"
	armScope   = "https://management.core.windows.net//.default offline_access openid profile"
	vaultScope = "https://vault.azure.net/.default offline_access openid profile"
)

// fakePeople is an in-memory People; passwords compared in clear (the real one uses Argon2id).
type fakePeople struct {
	mu        sync.Mutex
	users     map[string]store.User
	passwords map[string]string
	groups    map[string][]string
	dummies   int
	busy      bool // every password check refused as the directory refuses one with its queue full
}

// busyChecks is what the directory's password checks answer with every slot busy and the queue full.
type busyChecks struct{}

func (busyChecks) Error() string             { return "busy" }
func (busyChecks) RetryAfter() time.Duration { return 1500 * time.Millisecond }

func newFakePeople() *fakePeople {
	return &fakePeople{
		users: map[string]store.User{aliceID: {ObjectID: aliceID, TenantID: testTenantID, UserPrincipalName: aliceUPN,
			DisplayName: "Alice <script>alert(1)</script>", AccountEnabled: true}},
		passwords: map[string]string{aliceID: alicePass},
		groups:    map[string][]string{aliceID: {groupA}},
	}
}

func (p *fakePeople) UserByPrincipalName(_ context.Context, tenantID, upn string) (store.User, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, u := range p.users {
		if u.TenantID == tenantID && strings.EqualFold(u.UserPrincipalName, upn) {
			return u, nil
		}
	}
	return store.User{}, store.ErrNotFound
}

func (p *fakePeople) User(_ context.Context, id string) (store.User, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	u, ok := p.users[id]
	if !ok {
		return u, store.ErrNotFound
	}
	return u, nil
}

// UserForToken gives only the fields the real one reads, so that a test fails if a redemption
// comes to need another.
func (p *fakePeople) UserForToken(ctx context.Context, id string) (store.User, error) {
	u, err := p.User(ctx, id)
	return store.User{ObjectID: u.ObjectID, TenantID: u.TenantID, UserPrincipalName: u.UserPrincipalName, DisplayName: u.DisplayName,
		AccountEnabled: u.AccountEnabled, TokensValidAfter: u.TokensValidAfter}, err
}

func (p *fakePeople) VerifyPassword(_ context.Context, u store.User, password string) (bool, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.busy {
		return false, fmt.Errorf("check: %w", busyChecks{})
	}
	return p.passwords[u.ObjectID] == password, nil
}

func (p *fakePeople) DummyPasswordCheck(context.Context, string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.dummies++
	if p.busy {
		return fmt.Errorf("check: %w", busyChecks{})
	}
	return nil
}

func (p *fakePeople) TransitiveGroupIDs(_ context.Context, id string) ([]string, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.groups[id], nil
}

func (p *fakePeople) update(id string, f func(*store.User)) {
	p.mu.Lock()
	defer p.mu.Unlock()
	u := p.users[id]
	f(&u)
	p.users[id] = u
}

func newSignInFixture(t testing.TB) (*fixture, *fakePeople) {
	people := newFakePeople()
	f := newFixture(t, func(c *Config) { c.People = people; c.SealKey = make([]byte, 32) })
	return f, people
}

type userTokens struct {
	TokenType    string `json:"token_type"`
	Scope        string `json:"scope"`
	ExpiresIn    any    `json:"expires_in"`
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
	IDToken      string `json:"id_token"`
	ClientInfo   string `json:"client_info"`
	Error        string `json:"error"`
}

func decodeTokens(t *testing.T, w *httptest.ResponseRecorder) userTokens {
	t.Helper()
	if w.Code != 200 {
		t.Fatalf("status %d: %s", w.Code, w.Body)
	}
	var tok userTokens
	if err := json.Unmarshal(w.Body.Bytes(), &tok); err != nil {
		t.Fatal(err)
	}
	return tok
}

func ropc(scope, user, pass string) url.Values {
	return url.Values{"grant_type": {"password"}, "client_id": {azCLI}, "username": {user}, "password": {pass}, "scope": {scope},
		"client_info": {"1"}, "claims": {`{"access_token": {"xms_cc": {"values": ["CP1"]}}}`}}
}

func TestPasswordGrantIssuesEntraShapedTokens(t *testing.T) {
	f, _ := newSignInFixture(t)
	tok := decodeTokens(t, f.post("/organizations/oauth2/v2.0/token", ropc(armScope, aliceUPN, alicePass)))
	if _, ok := tok.ExpiresIn.(float64); !ok { // MSAL Python adds it to now
		t.Errorf("expires_in %v is not a JSON number", tok.ExpiresIn)
	}
	if tok.Scope != "https://management.core.windows.net//.default" {
		t.Errorf("scope %q", tok.Scope)
	}
	if strings.Contains(tok.ClientInfo, "=") {
		t.Errorf("client_info %q is padded", tok.ClientInfo)
	}
	ci, err := base64.RawURLEncoding.DecodeString(tok.ClientInfo)
	if err != nil || string(ci) != `{"uid":"`+aliceID+`","utid":"`+testTenantID+`"}` {
		t.Errorf("client_info %s (%v)", ci, err)
	}
	_, at := decodeJWT(t, tok.AccessToken)
	want := map[string]any{"aud": "https://management.core.windows.net/", "oid": aliceID, "idtyp": "user", "upn": aliceUPN,
		"scp": "user_impersonation", "appid": azCLI, "appidacr": "0", "tid": testTenantID, "ver": "1.0", "iss": testBaseURL + "/" + testTenantID + "/"}
	for k, v := range want {
		if at[k] != v {
			t.Errorf("access token %s = %v, want %v", k, at[k], v)
		}
	}
	if _, ok := at["groups"]; ok {
		t.Errorf("ARM token has groups: %v", at["groups"])
	}
	_, id := decodeJWT(t, tok.IDToken)
	if id["aud"] != azCLI || id["preferred_username"] != aliceUPN || id["tid"] != testTenantID || id["oid"] != aliceID {
		t.Errorf("id token %v", id)
	}
	if _, ok := id["nonce"]; ok {
		t.Error("id token has a nonce that was never sent")
	}
	if _, ok := id["exp"].(json.Number); !ok {
		t.Errorf("id token exp %v", id["exp"])
	}
	if rec := f.rec.last(t); rec.PrincipalID != aliceID || rec.Grant != "password" || rec.Result != "success" || rec.AppID != azCLI {
		t.Errorf("sign-in log %+v", rec)
	}
}

func TestRefreshTokenServesSeveralResourcesAndIsRevoked(t *testing.T) {
	f, people := newSignInFixture(t)
	tok := decodeTokens(t, f.post("/organizations/oauth2/v2.0/token", ropc(armScope, aliceUPN, alicePass)))
	refresh := func(rt, scope string) *httptest.ResponseRecorder {
		return f.post("/"+testTenantID+"/oauth2/v2.0/token", url.Values{"grant_type": {"refresh_token"}, "client_id": {azCLI},
			"refresh_token": {rt}, "scope": {scope}, "client_info": {"1"}})
	}
	vault := decodeTokens(t, refresh(tok.RefreshToken, vaultScope))
	if _, at := decodeJWT(t, vault.AccessToken); at["aud"] != "https://vault.azure.net" || at["oid"] != aliceID {
		t.Errorf("vault token %v", at)
	}
	if vault.RefreshToken == "" || vault.RefreshToken == tok.RefreshToken || vault.IDToken == "" || vault.ClientInfo == "" {
		t.Errorf("refresh answer lacks a new refresh token, id token or client_info: %+v", vault)
	}
	// Entra does not revoke the old one on rotation.
	decodeTokens(t, refresh(tok.RefreshToken, armScope))
	// A custom API gets the groups claim.
	api := decodeTokens(t, refresh(tok.RefreshToken, apiURI+"/.default offline_access"))
	if _, at := decodeJWT(t, api.AccessToken); at["aud"] != apiAppID || at["azp"] != azCLI || len(at["groups"].([]any)) != 1 {
		t.Errorf("api token %v", at)
	}
	// Another client cannot use it.
	w := f.post("/"+testTenantID+"/oauth2/v2.0/token", url.Values{"grant_type": {"refresh_token"}, "client_id": {"1950a258-227b-4e31-a9cf-717495945fc2"},
		"refresh_token": {tok.RefreshToken}, "scope": {armScope}})
	wantError(t, w, "invalid_grant", 70000)
	// Tampered.
	w = refresh(tok.RefreshToken[:len(tok.RefreshToken)-2]+"AA", armScope)
	wantError(t, w, "invalid_grant", 70000)

	f.now = f.now.Add(time.Minute)
	people.update(aliceID, func(u *store.User) { u.TokensValidAfter = f.now }) // password reset
	w = refresh(vault.RefreshToken, armScope)
	wantError(t, w, "invalid_grant", 50173)
	if rec := f.rec.last(t); rec.Result != "failure" || rec.ErrorCode != "AADSTS50173" || rec.PrincipalID != aliceID {
		t.Errorf("sign-in log %+v", rec)
	}
	// Signing in again works, and the new refresh token is good.
	f.now = f.now.Add(time.Second)
	tok = decodeTokens(t, f.post("/"+testTenantID+"/oauth2/v2.0/token", ropc(armScope, aliceUPN, alicePass)))
	decodeTokens(t, refresh(tok.RefreshToken, vaultScope))
	people.update(aliceID, func(u *store.User) { u.AccountEnabled = false })
	w = refresh(tok.RefreshToken, armScope)
	wantError(t, w, "invalid_grant", 50057)
	people.mu.Lock()
	delete(people.users, aliceID)
	people.mu.Unlock()
	w = refresh(tok.RefreshToken, armScope)
	wantError(t, w, "invalid_grant", 50173)
}

func TestPasswordErrorsDoNotEnumerate(t *testing.T) {
	f, people := newSignInFixture(t)
	tests := []struct {
		name, user, pass string
		code             int
	}{
		{"wrong password", aliceUPN, "nope", 50126},
		{"unknown user", "bob@" + testDomain, "nope", 50126},
		{"unknown domain", "bob@nowhere.example", "nope", 50126},
		{"no domain", "bob", "nope", 50126},
	}
	for _, tt := range tests {
		w := f.post("/organizations/oauth2/v2.0/token", ropc(armScope, tt.user, tt.pass))
		wantError(t, w, "invalid_grant", tt.code)
	}
	if people.dummies != 3 {
		t.Errorf("dummy password checks %d, want 3 (one per unknown user)", people.dummies)
	}
	people.update(aliceID, func(u *store.User) { u.AccountEnabled = false })
	w := f.post("/organizations/oauth2/v2.0/token", ropc(armScope, aliceUPN, alicePass))
	wantError(t, w, "invalid_grant", 50057)
	// A public client presenting a secret.
	form := ropc(armScope, aliceUPN, alicePass)
	form.Set("client_secret", "x")
	w = f.post("/organizations/oauth2/v2.0/token", form)
	wantError(t, w, "invalid_client", 700025)
}

// TestPasswordChecksBusyAnswers429: with the directory's password-check queue full, a known
// user and an unknown one get the same answer (Entra's throttling: 429, Retry-After, AADSTS50196),
// the refusal does not count towards the account's lockout, and sign-ins work once it drains.
func TestPasswordChecksBusyAnswers429(t *testing.T) {
	f, people := newSignInFixture(t)
	people.busy = true
	for _, user := range []string{aliceUPN, "bob@" + testDomain} {
		for range 12 { // more than the lockout threshold
			w := f.post("/organizations/oauth2/v2.0/token", ropc(armScope, user, "nope"))
			e := decodeError(t, w)
			if w.Code != http.StatusTooManyRequests || w.Header().Get("Retry-After") != "2" || e.Error != "invalid_grant" ||
				len(e.ErrorCodes) != 1 || e.ErrorCodes[0] != 50196 {
				t.Fatalf("%s with the queue full: %d Retry-After %q %s %v", user, w.Code, w.Header().Get("Retry-After"), e.Error, e.ErrorCodes)
			}
		}
	}
	people.busy = false
	decodeTokens(t, f.post("/organizations/oauth2/v2.0/token", ropc(armScope, aliceUPN, alicePass)))
}

func TestSmartLockout(t *testing.T) {
	f, _ := newSignInFixture(t)
	post := func(pass string) *httptest.ResponseRecorder {
		return f.post("/"+testTenantID+"/oauth2/v2.0/token", ropc(armScope, aliceUPN, pass))
	}
	for i := 0; i < 20; i++ { // the same wrong password counts once
		wantError(t, post("same-wrong"), "invalid_grant", 50126)
	}
	decodeTokens(t, post(alicePass))
	for i := 0; i < lockoutThreshold; i++ {
		w := post("wrong-" + string(rune('a'+i)))
		wantError(t, w, "invalid_grant", 50126)
	}
	w := post(alicePass)
	wantError(t, w, "invalid_grant", 50053)
	f.now = f.now.Add(61 * time.Second)
	decodeTokens(t, post(alicePass))
}

func TestUserRealm(t *testing.T) {
	f, _ := newSignInFixture(t)
	for _, p := range []string{"/common/userrealm/" + aliceUPN + "?api-version=1.0", "/common/UserRealm/" + url.PathEscape("x@"+testDomain)} {
		w := f.get(p)
		var doc map[string]string
		if w.Code != 200 || json.Unmarshal(w.Body.Bytes(), &doc) != nil || doc["account_type"] != "Managed" || doc["domain_name"] != testDomain ||
			doc["cloud_instance_name"] == "" || doc["cloud_audience_urn"] == "" || doc["ver"] != "1.0" {
			t.Errorf("%s: %d %s", p, w.Code, w.Body)
		}
	}
	if w := f.get("/common/userrealm/x@elsewhere.example"); !strings.Contains(w.Body.String(), `"Unknown"`) {
		t.Errorf("unknown domain: %s", w.Body)
	}
}

// browser is a minimal cookie-keeping page client for the handler (the e2e tests use Chromium).
type browser struct {
	t       *testing.T
	f       *fixture
	cookies map[string]string
}

func (b *browser) do(method, path string, form url.Values) *httptest.ResponseRecorder {
	var req *http.Request
	if method == http.MethodPost {
		req = httptest.NewRequest(method, testBaseURL+path, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	} else {
		req = httptest.NewRequest(method, testBaseURL+path, nil)
	}
	for k, v := range b.cookies {
		req.AddCookie(&http.Cookie{Name: k, Value: v})
	}
	w := httptest.NewRecorder()
	b.f.srv.ServeHTTP(w, req)
	for _, c := range w.Result().Cookies() {
		if c.MaxAge < 0 {
			delete(b.cookies, c.Name)
		} else {
			b.cookies[c.Name] = c.Value
		}
	}
	if csp := w.Header().Get("Content-Security-Policy"); strings.HasPrefix(w.Header().Get("Content-Type"), "text/html") &&
		(csp == "" || strings.Contains(csp, "unsafe-inline")) {
		b.t.Errorf("page %s has CSP %q", path, csp)
	}
	return w
}

var hiddenRe = regexp.MustCompile(`name="(ctx|csrf)" value="([^"]*)"`)

// fields reads the hidden ctx and csrf of a page.
func fields(body string) url.Values {
	v := url.Values{}
	for _, m := range hiddenRe.FindAllStringSubmatch(body, -1) {
		v.Set(m[1], strings.ReplaceAll(m[2], "&#43;", "+"))
	}
	return v
}

func authorizeQuery(extra url.Values) string {
	q := url.Values{"client_id": {azCLI}, "response_type": {"code"}, "redirect_uri": {"http://localhost:34659"}, "scope": {armScope},
		"state": {"xyzSTATE"}, "code_challenge": {pkceChallenge}, "code_challenge_method": {"S256"}, "nonce": {"n-0S6_WzA2Mj"}, "client_info": {"1"}}
	for k, v := range extra {
		q[k] = v
	}
	return "/organizations/oauth2/v2.0/authorize?" + q.Encode()
}

const (
	pkceVerifier  = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
	pkceChallenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
)

func TestAuthorizationCodeWithPKCE(t *testing.T) {
	f, _ := newSignInFixture(t)
	b := &browser{t: t, f: f, cookies: map[string]string{}}
	w := b.do("GET", authorizeQuery(nil), nil)
	if w.Code != 200 || !strings.Contains(w.Body.String(), `<label for="passwd">Password</label>`) {
		t.Fatalf("sign-in page: %d %s", w.Code, w.Body)
	}
	page := fields(w.Body.String())
	// No CSRF token: refused.
	noCSRF := url.Values{"ctx": {page.Get("ctx")}, "action": {"signin"}, "login": {aliceUPN}, "passwd": {alicePass}}
	if w := b.do("POST", "/organizations/login", noCSRF); w.Code != 400 || w.Header().Get("Location") != "" {
		t.Errorf("no csrf: %d", w.Code)
	}
	// Wrong password: the page again, with Entra's words.
	form := url.Values{"ctx": {page.Get("ctx")}, "csrf": {page.Get("csrf")}, "action": {"signin"}, "login": {aliceUPN}, "passwd": {"bad"}}
	if w := b.do("POST", "/organizations/login", form); !strings.Contains(w.Body.String(), "Your account or password is incorrect") {
		t.Errorf("wrong password page: %s", w.Body)
	}
	form.Set("passwd", alicePass)
	form.Set("kmsi", "1")
	w = b.do("POST", "/organizations/login", form)
	loc, err := url.Parse(w.Header().Get("Location"))
	if w.Code != 302 || err != nil || loc.Host != "localhost:34659" || loc.Path != "/" || loc.Query().Get("state") != "xyzSTATE" || loc.Query().Get("client_info") == "" {
		t.Fatalf("redirect: %d %q", w.Code, w.Header().Get("Location"))
	}
	if b.cookies[sessionCookie] == "" {
		t.Fatal("no session cookie")
	}
	redeem := func(code, verifier string) *httptest.ResponseRecorder {
		return f.post("/organizations/oauth2/v2.0/token", url.Values{"grant_type": {"authorization_code"}, "client_id": {azCLI}, "code": {code},
			"code_verifier": {verifier}, "redirect_uri": {"http://localhost:34659"}, "scope": {armScope}, "client_info": {"1"}})
	}
	code := loc.Query().Get("code")
	w = redeem(code, pkceVerifier[:len(pkceVerifier)-1]+"x")
	wantError(t, w, "invalid_grant", 501481)
	tok := decodeTokens(t, redeem(code, pkceVerifier))
	if _, id := decodeJWT(t, tok.IDToken); id["nonce"] != "n-0S6_WzA2Mj" {
		t.Errorf("nonce %v", id["nonce"])
	}
	w = redeem(code, pkceVerifier)
	wantError(t, w, "invalid_grant", 54005)

	// The session signs the browser in again: select_account shows the picker (escaped name).
	w = b.do("GET", authorizeQuery(url.Values{"prompt": {"select_account"}, "response_mode": {"form_post"}}), nil)
	body := w.Body.String()
	if !strings.Contains(body, "Pick an account") || strings.Contains(body, "<script>alert") || !strings.Contains(body, "&lt;script&gt;") {
		t.Fatalf("picker: %s", body)
	}
	page = fields(body)
	w = b.do("POST", "/organizations/login", url.Values{"ctx": {page.Get("ctx")}, "csrf": {page.Get("csrf")}, "action": {"pick"}, "account": {aliceID}})
	if w.Code != 200 || !strings.Contains(w.Body.String(), `action="http://localhost:34659"`) || !strings.Contains(w.Body.String(), `name="state" value="xyzSTATE"`) {
		t.Fatalf("form_post: %d %s", w.Code, w.Body)
	}
	if csp := w.Header().Get("Content-Security-Policy"); !strings.Contains(csp, "form-action 'self' http://localhost:34659") {
		t.Errorf("form_post CSP %q", csp)
	}
	// prompt=none with the session: straight back with a code.
	if w := b.do("GET", authorizeQuery(url.Values{"prompt": {"none"}}), nil); w.Code != 302 || !strings.Contains(w.Header().Get("Location"), "code=") {
		t.Errorf("prompt=none: %d %s", w.Code, w.Header().Get("Location"))
	}
	// Logout ends the session; prompt=none then answers login_required, state echoed.
	b.do("GET", "/organizations/oauth2/v2.0/logout", nil)
	w = b.do("GET", authorizeQuery(url.Values{"prompt": {"none"}}), nil)
	loc, _ = url.Parse(w.Header().Get("Location"))
	if w.Code != 302 || loc.Query().Get("error") != "login_required" || loc.Query().Get("state") != "xyzSTATE" {
		t.Errorf("prompt=none after logout: %d %s", w.Code, w.Header().Get("Location"))
	}
}

func TestAuthorizeNeverRedirectsToUnregisteredURI(t *testing.T) {
	f, _ := newSignInFixture(t)
	b := &browser{t: t, f: f, cookies: map[string]string{}}
	for _, uri := range []string{"https://evil.example/cb", "http://localhost.evil.example:80", "http://[::1]:8400", "javascript:alert(1)"} {
		w := b.do("GET", authorizeQuery(url.Values{"redirect_uri": {uri}, "response_type": {"token"}}), nil)
		if w.Code != 400 || w.Header().Get("Location") != "" || !strings.Contains(w.Body.String(), "AADSTS") {
			t.Errorf("%s: %d %q", uri, w.Code, w.Header().Get("Location"))
		}
	}
	// A registered URI with a bad parameter: the error goes back, with state.
	w := b.do("GET", authorizeQuery(url.Values{"response_type": {"token"}}), nil)
	if loc, _ := url.Parse(w.Header().Get("Location")); w.Code != 302 || loc.Query().Get("error") != "unsupported_response_type" || loc.Query().Get("state") != "xyzSTATE" {
		t.Errorf("bad response_type: %d %s", w.Code, w.Header().Get("Location"))
	}
	// A parameter that is not UTF-8 is refused, not carried through the sealed (JSON) sign-in
	// context, which would hand state back changed (U+FFFD for each bad byte); a state that is
	// not UTF-8 is not sent back at all.
	for name, v := range map[string]string{"state": "s\xffs", "login_hint": "\xfe@x", "nonce": "n\xff"} {
		w := b.do("GET", authorizeQuery(url.Values{name: {v}}), nil)
		loc, _ := url.Parse(w.Header().Get("Location"))
		wantState := "xyzSTATE"
		if name == "state" {
			wantState = ""
		}
		if w.Code != 302 || loc.Query().Get("error") != "invalid_request" || !strings.Contains(loc.Query().Get("error_description"), "'"+name+"' is not valid UTF-8") ||
			loc.Query().Get("state") != wantState {
			t.Errorf("%s not UTF-8: %d %s", name, w.Code, w.Header().Get("Location"))
		}
	}
}

func TestDeviceCodeFlow(t *testing.T) {
	f, _ := newSignInFixture(t)
	start := func() map[string]any {
		w := f.post("/organizations/oauth2/v2.0/devicecode", url.Values{"client_id": {azCLI}, "scope": {armScope}})
		var dc map[string]any
		if w.Code != 200 || json.Unmarshal(w.Body.Bytes(), &dc) != nil {
			t.Fatalf("devicecode: %d %s", w.Code, w.Body)
		}
		if _, ok := dc["expires_in"].(float64); !ok {
			t.Errorf("expires_in %v", dc["expires_in"])
		}
		if dc["interval"] != float64(5) || !strings.Contains(dc["message"].(string), dc["user_code"].(string)) { // Entra's 5 s by default
			t.Errorf("devicecode answer %v", dc)
		}
		return dc
	}
	poll := func(dc map[string]any, grant string) *httptest.ResponseRecorder {
		return f.post("/organizations/oauth2/v2.0/token", url.Values{"grant_type": {grant}, "client_id": {azCLI},
			"device_code": {dc["device_code"].(string)}, "code": {dc["device_code"].(string)}, "client_info": {"1"}})
	}
	decide := func(dc map[string]any, action string) {
		b := &browser{t: t, f: f, cookies: map[string]string{}}
		page := fields(b.do("GET", "/devicelogin", nil).Body.String())
		w := b.do("POST", "/devicelogin", url.Values{"csrf": {page.Get("csrf")}, "otc": {strings.ToLower(dc["user_code"].(string))}})
		page = fields(w.Body.String())
		w = b.do("POST", "/organizations/login", url.Values{"ctx": {page.Get("ctx")}, "csrf": {page.Get("csrf")}, "action": {"signin"}, "login": {aliceUPN}, "passwd": {alicePass}})
		if !strings.Contains(w.Body.String(), "Are you trying to sign in to Microsoft Azure CLI?") {
			t.Fatalf("consent page: %s", w.Body)
		}
		page = fields(w.Body.String())
		w = b.do("POST", "/organizations/login", url.Values{"ctx": {page.Get("ctx")}, "csrf": {page.Get("csrf")}, "action": {action}})
		if w.Code != 200 {
			t.Fatalf("decision: %d %s", w.Code, w.Body)
		}
	}
	dc := start()
	w := poll(dc, GrantDeviceCodeURN)
	wantError(t, w, "authorization_pending", 70016)
	decide(dc, "approve")
	tok := decodeTokens(t, poll(dc, GrantDeviceCodeURN)) // no scope sent: the /devicecode scope is kept
	if tok.Scope != "https://management.core.windows.net//.default" || tok.RefreshToken == "" || tok.IDToken == "" {
		t.Errorf("device code tokens %+v", tok)
	}
	dc = start()
	decide(dc, "decline")
	w = poll(dc, GrantDeviceCode)
	wantError(t, w, "authorization_declined", 65004)
	dc = start()
	f.now = f.now.Add(16 * time.Minute)
	w = poll(dc, GrantDeviceCode)
	wantError(t, w, "expired_token", 70020)
	w = poll(map[string]any{"device_code": "nope"}, GrantDeviceCode)
	wantError(t, w, "bad_verification_code", 70018)
}

// wantError checks an Entra error envelope's error and code.
func wantError(t *testing.T, w *httptest.ResponseRecorder, wantErr string, wantCode int) {
	t.Helper()
	e := decodeError(t, w)
	if e.Error != wantErr || len(e.ErrorCodes) != 1 || e.ErrorCodes[0] != wantCode || w.Code/100 != 4 ||
		!strings.HasPrefix(e.ErrorDescription, "AADSTS") || !isGUID(e.TraceID) {
		t.Fatalf("got %d %s %v (%s), want %s %d", w.Code, e.Error, e.ErrorCodes, e.ErrorDescription, wantErr, wantCode)
	}
}

func TestIDTokenReusedOnlyBriefly(t *testing.T) {
	f, people := newSignInFixture(t)
	first := decodeTokens(t, f.post("/organizations/oauth2/v2.0/token", ropc(armScope, aliceUPN, alicePass)))
	refresh := func() userTokens {
		return decodeTokens(t, f.post("/"+testTenantID+"/oauth2/v2.0/token", url.Values{"grant_type": {"refresh_token"}, "client_id": {azCLI},
			"refresh_token": {first.RefreshToken}, "scope": {vaultScope}}))
	}
	f.now = f.now.Add(time.Minute)
	if got := refresh(); got.IDToken != first.IDToken {
		t.Error("an ID token a minute old was not reused")
	}
	people.update(aliceID, func(u *store.User) { u.DisplayName = "Alice B." })
	renamed := refresh()
	if _, c := decodeJWT(t, renamed.IDToken); c["name"] != "Alice B." {
		t.Errorf("a renamed user got a stale ID token: %v", c["name"])
	}
	f.now = f.now.Add(idTokenReuse)
	if got := refresh(); got.IDToken == renamed.IDToken {
		t.Error("an ID token older than the reuse window was handed out again")
	} else if _, c := decodeJWT(t, got.IDToken); c["iat"] != json.Number(strconv.FormatInt(f.now.Unix(), 10)) {
		t.Errorf("fresh ID token iat %v", c["iat"])
	}
}

// The device-code answer's interval: Entra's 5 s unless configured, in whole seconds, at least 1.
func TestDeviceCodeInterval(t *testing.T) {
	for _, c := range []struct {
		set  time.Duration
		want int
	}{{0, 5}, {time.Second, 1}, {1500 * time.Millisecond, 2}, {400 * time.Millisecond, 1}, {-time.Second, 1}, {30 * time.Second, 30}} {
		if got := New(Config{DeviceCodeInterval: c.set}, nil, nil, nil, nil).deviceInterval; got != c.want {
			t.Errorf("DeviceCodeInterval %v: interval %d, want %d", c.set, got, c.want)
		}
	}
}

// The error_uri of an error names a page mint serves, as Entra's does: the code, and where it is
// documented. A code that is not a number is the error page's 400.
func TestErrorURIIsServed(t *testing.T) {
	f, _ := newSignInFixture(t)
	w := f.post("/organizations/oauth2/v2.0/token", ropc(armScope, aliceUPN, "wrong"))
	var e struct {
		ErrorURI string `json:"error_uri"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &e); err != nil || !strings.HasPrefix(e.ErrorURI, testBaseURL+"/error?code=") {
		t.Fatalf("error_uri %q (%v)", e.ErrorURI, err)
	}
	b := &browser{t: t, f: f, cookies: map[string]string{}}
	w = b.do("GET", strings.TrimPrefix(e.ErrorURI, testBaseURL), nil)
	if w.Code != 200 || !strings.Contains(w.Body.String(), "AADSTS50126") || !strings.Contains(w.Body.String(), "learn.microsoft.com") {
		t.Errorf("%s: %d %s", e.ErrorURI, w.Code, w.Body)
	}
	for _, bad := range []string{"/error", "/error?code=x", "/error?code=050126", "/error?code=%3Cscript%3E"} {
		if w := b.do("GET", bad, nil); w.Code != 400 || strings.Contains(w.Body.String(), "<script>") {
			t.Errorf("%s: %d %s", bad, w.Code, w.Body)
		}
	}
}
