package portal

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"time"
)

// Sign-in: the portal is a confidential client of mint's STS and uses the authorization code
// flow with PKCE (RFC 6749 §4.1, RFC 7636) on the server side, as the Azure portal's server does
// with Entra: the browser is sent to /{tenant}/oauth2/v2.0/authorize, comes back to
// /portal/signin-oidc with a code, and the server redeems it at /token with its client secret
// and the PKCE verifier. The tokens never reach the browser.

// Scopes the portal asks for.
const (
	ScopeARM   = "https://management.azure.com/.default"
	ScopeGraph = "https://graph.microsoft.com/.default"
	ScopeVault = "https://vault.azure.net/.default"
	// signInScope: the ID token, a refresh token, and the first access token (ARM).
	signInScope = "openid profile offline_access " + ScopeARM
	// CallbackPath is the redirect URI's path, registered on the portal's application.
	CallbackPath = "/portal/signin-oidc"
	pendingTTL   = 10 * time.Minute
	maxPending   = 10000
)

// RedirectURI is the portal's registered redirect URI for a mint at baseURL.
func RedirectURI(baseURL string) string { return strings.TrimSuffix(baseURL, "/") + CallbackPath }

// pendingSignIn is a sign-in between the redirect to authorize and the callback.
type pendingSignIn struct {
	verifier, nonce, binding, returnTo string
	expires                            time.Time
}

type pendingSignIns struct {
	mu    sync.Mutex
	m     map[string]pendingSignIn // by state
	clock func() time.Time
}

func newPendingSignIns(clock func() time.Time) *pendingSignIns {
	return &pendingSignIns{m: map[string]pendingSignIn{}, clock: clock}
}

func (ps *pendingSignIns) put(state string, p pendingSignIn) {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	now := ps.clock()
	if len(ps.m) >= maxPending {
		for k, v := range ps.m {
			if now.After(v.expires) {
				delete(ps.m, k)
			}
		}
		if len(ps.m) >= maxPending {
			for k := range ps.m { // still full: forget an arbitrary one (it can start again)
				delete(ps.m, k)
				break
			}
		}
	}
	ps.m[state] = p
}

// take removes and returns the pending sign-in of state (each state is redeemable once).
func (ps *pendingSignIns) take(state string) (pendingSignIn, bool) {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	p, ok := ps.m[state]
	delete(ps.m, state)
	if !ok || ps.clock().After(p.expires) {
		return pendingSignIn{}, false
	}
	return p, true
}

// SafeReturnPath is where to send the browser after sign-in: raw when it is a path of this
// portal (so never another site, a scheme-relative "//host" or a backslash trick), else the
// portal's home. Pure; fuzzed.
func SafeReturnPath(raw string) string {
	if raw == "" || len(raw) > 2048 {
		return Prefix
	}
	for _, c := range raw {
		if c < 0x20 || c == 0x7f || c == '\\' {
			return Prefix
		}
	}
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || u.Opaque != "" {
		return Prefix
	}
	if !strings.HasPrefix(raw, Prefix) || strings.HasPrefix(raw, "//") {
		return Prefix
	}
	// Reject dot segments that would climb out of /portal/ once a browser normalises the path.
	clean := u.Path
	if strings.Contains(clean, "/../") || strings.HasSuffix(clean, "/..") || strings.Contains(clean, "/./") {
		return Prefix
	}
	if strings.HasPrefix(raw, CallbackPath) || strings.HasPrefix(raw, "/portal/signin") {
		return Prefix
	}
	return raw
}

func pkceChallenge(verifier string) string {
	sum := sha256.Sum256([]byte(verifier))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// signIn starts the authorization code flow.
func (p *Portal) signIn(w http.ResponseWriter, r *http.Request) {
	reg := p.client()
	if reg.ClientID == "" {
		p.render(w, r, nil, http.StatusServiceUnavailable, "message", page{Title: "Sign-in unavailable",
			Error: &APIError{Code: "PortalNotRegistered", Message: "The portal has no application registration in this directory, so it cannot sign anyone in."}})
		return
	}
	state, verifier, nonce, binding := randomToken(), randomToken(), randomToken(), randomToken()
	p.pending.put(state, pendingSignIn{verifier: verifier, nonce: nonce, binding: binding,
		returnTo: SafeReturnPath(r.URL.Query().Get("return")), expires: p.cfg.Clock().Add(pendingTTL)})
	http.SetCookie(w, &http.Cookie{Name: pendingCookie, Value: binding, Path: "/", Secure: true, HttpOnly: true,
		SameSite: http.SameSiteLaxMode, MaxAge: int(pendingTTL / time.Second)})
	q := url.Values{
		"client_id":             {reg.ClientID},
		"response_type":         {"code"},
		"redirect_uri":          {RedirectURI(p.cfg.BaseURL)},
		"response_mode":         {"query"},
		"scope":                 {signInScope},
		"state":                 {state},
		"nonce":                 {nonce},
		"code_challenge":        {pkceChallenge(verifier)},
		"code_challenge_method": {"S256"},
	}
	http.Redirect(w, r, p.cfg.BaseURL+"/"+url.PathEscape(reg.TenantID)+"/oauth2/v2.0/authorize?"+q.Encode(), http.StatusFound)
}

// signInCallback redeems the code and starts a session.
func (p *Portal) signInCallback(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	fail := func(code, msg string) {
		p.render(w, r, nil, http.StatusBadRequest, "signedout", page{Title: "Sign-in failed",
			Error: &APIError{Code: code, Message: msg}, Data: map[string]string{"Return": Prefix}})
	}
	pend, ok := p.pending.take(q.Get("state"))
	if !ok {
		fail("InvalidState", "This sign-in response does not belong to a sign-in this portal started (or it has expired). Start again.")
		return
	}
	c, err := r.Cookie(pendingCookie)
	if err != nil || subtle.ConstantTimeCompare([]byte(c.Value), []byte(pend.binding)) != 1 {
		fail("InvalidState", "This sign-in response was started in another browser. Start again.")
		return
	}
	http.SetCookie(w, &http.Cookie{Name: pendingCookie, Value: "", Path: "/", Secure: true, HttpOnly: true, SameSite: http.SameSiteLaxMode, MaxAge: -1})
	if e := q.Get("error"); e != "" {
		fail(e, q.Get("error_description"))
		return
	}
	code := q.Get("code")
	if code == "" {
		fail("invalid_request", "The sign-in response carries no authorization code.")
		return
	}
	tr, err := p.tokenRequest(r.Context(), url.Values{
		"grant_type":    {"authorization_code"},
		"code":          {code},
		"redirect_uri":  {RedirectURI(p.cfg.BaseURL)},
		"code_verifier": {pend.verifier},
		"scope":         {signInScope},
	})
	if err != nil {
		var oe *oauthError
		if errors.As(err, &oe) {
			fail(oe.Code, oe.Description)
			return
		}
		p.log.Error("portal sign-in: token request failed", "err", err)
		fail("temporarily_unavailable", "The token service did not answer the sign-in. Try again.")
		return
	}
	u, err := p.userFromIDToken(tr.IDToken, pend.nonce)
	if err != nil {
		fail("invalid_id_token", err.Error())
		return
	}
	t := &refreshTokens{p: p, refresh: tr.RefreshToken, cache: map[string]cachedToken{}}
	t.remember(ScopeARM, tr)
	if _, err := p.sessions.start(w, r, u, t); err != nil {
		p.log.Error("portal sign-in: the session could not be kept", "err", err)
		fail("temporarily_unavailable", "The portal could not keep your session (mint's store did not answer). Try again.")
		return
	}
	http.Redirect(w, r, pend.returnTo, http.StatusSeeOther)
}

// tokenResponse is the token endpoint's answer.
type tokenResponse struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
	IDToken      string `json:"id_token"`
	ExpiresIn    int    `json:"expires_in"`
	Scope        string `json:"scope"`
}

type oauthError struct {
	Status      int
	Code        string `json:"error"`
	Description string `json:"error_description"`
}

func (e *oauthError) Error() string { return e.Code + ": " + e.Description }

// tokenRequest posts form (plus the portal's client credentials) to the STS's v2 token endpoint,
// in-process.
func (p *Portal) tokenRequest(ctx context.Context, form url.Values) (tokenResponse, error) {
	reg := p.client()
	form.Set("client_id", reg.ClientID)
	form.Set("client_secret", reg.ClientSecret)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.cfg.BaseURL+"/"+url.PathEscape(reg.TenantID)+"/oauth2/v2.0/token",
		strings.NewReader(form.Encode()))
	if err != nil {
		return tokenResponse{}, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	rec := p.serve(req)
	var tr tokenResponse
	if rec.Code != http.StatusOK {
		oe := &oauthError{Status: rec.Code}
		if json.Unmarshal(rec.Body.Bytes(), oe) != nil || oe.Code == "" {
			return tr, fmt.Errorf("token endpoint answered %d", rec.Code)
		}
		return tr, oe
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &tr); err != nil || tr.AccessToken == "" {
		return tr, fmt.Errorf("token endpoint answered 200 without an access token")
	}
	return tr, nil
}

// userFromIDToken reads the person from the ID token. The token came straight from the token
// endpoint in-process (OIDC Core §3.1.3.7: the TLS channel to the token endpoint may stand in for
// the signature check), so the portal checks what binds it to this sign-in: audience, tenant,
// nonce and lifetime.
func (p *Portal) userFromIDToken(raw, nonce string) (User, error) {
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		return User{}, errors.New("the token service returned no ID token")
	}
	body, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return User{}, errors.New("the ID token is malformed")
	}
	var c struct {
		Aud               any    `json:"aud"`
		TID               string `json:"tid"`
		OID               string `json:"oid"`
		Nonce             string `json:"nonce"`
		Exp               int64  `json:"exp"`
		Name              string `json:"name"`
		PreferredUsername string `json:"preferred_username"`
	}
	if err := json.Unmarshal(body, &c); err != nil {
		return User{}, errors.New("the ID token is malformed")
	}
	aud, _ := c.Aud.(string)
	reg := p.client()
	switch {
	case aud != reg.ClientID || aud == "":
		return User{}, errors.New("the ID token was issued to another application")
	case c.Nonce != nonce:
		return User{}, errors.New("the ID token does not belong to this sign-in (nonce)")
	case !strings.EqualFold(c.TID, reg.TenantID):
		return User{}, errors.New("the ID token is from another directory")
	case time.Unix(c.Exp, 0).Before(p.cfg.Clock()):
		return User{}, errors.New("the ID token has expired")
	case c.OID == "":
		return User{}, errors.New("the ID token names no user (oid)")
	}
	name := c.Name
	if name == "" {
		name = c.PreferredUsername
	}
	return User{ObjectID: c.OID, Name: name, Username: c.PreferredUsername, TenantID: c.TID}, nil
}

// refreshTokens is a session's token source: access tokens per scope, cached until shortly
// before they expire, then redeemed again with the person's refresh token (rotated when the STS
// returns a new one).
type refreshTokens struct {
	p       *Portal
	mu      sync.Mutex
	refresh string
	cache   map[string]cachedToken
	rotated func() // called (under mu) when the STS returned a new refresh token
}

func (t *refreshTokens) refreshToken() string { return t.refresh }
func (t *refreshTokens) onRotate(f func())    { t.rotated = f }

type cachedToken struct {
	token   string
	expires time.Time
}

func (t *refreshTokens) remember(scope string, tr tokenResponse) {
	t.cache[scope] = cachedToken{token: tr.AccessToken, expires: t.p.cfg.Clock().Add(time.Duration(tr.ExpiresIn) * time.Second)}
	if tr.RefreshToken != "" && tr.RefreshToken != t.refresh {
		t.refresh = tr.RefreshToken
		if t.rotated != nil {
			t.rotated()
		}
	}
}

func (t *refreshTokens) Token(ctx context.Context, scope string) (string, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if c, ok := t.cache[scope]; ok && t.p.cfg.Clock().Add(2*time.Minute).Before(c.expires) {
		return c.token, nil
	}
	if t.refresh == "" {
		return "", errors.New("the session holds no refresh token: sign in again")
	}
	tr, err := t.p.tokenRequest(ctx, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {t.refresh}, "scope": {scope + " offline_access"}})
	if err != nil {
		return "", err
	}
	t.remember(scope, tr)
	return tr.AccessToken, nil
}

// serve runs one request through mint's API handler in-process.
func (p *Portal) serve(req *http.Request) *httptest.ResponseRecorder {
	req.RemoteAddr = "127.0.0.1:0"
	if req.Host == "" {
		req.Host = req.URL.Host
	}
	req.Header.Set("User-Agent", "mint-portal")
	rec := httptest.NewRecorder()
	p.cfg.API.ServeHTTP(rec, req)
	return rec
}
