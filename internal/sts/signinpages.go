package sts

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"errors"
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/mint-id/mint/internal/store"
)

// The sign-in pages: server-rendered with html/template (contextual escaping of everything a
// request or the directory supplies), no inline script or style (the Content-Security-Policy
// forbids them), every form carrying a CSRF token bound to a cookie.

//go:embed web/pages.html web/signin.css web/signin.js
var webFS embed.FS

var pages = template.Must(template.ParseFS(webFS, "web/pages.html"))

const (
	deviceLoginPath   = "/devicelogin"
	assetPrefix       = "/mint-signin/"
	errorPath         = "/error"
	sessionCookie     = "mint_session"
	csrfCookie        = "mint_csrf"
	loginContextLife  = 30 * time.Minute
	sessionLife       = 24 * time.Hour      // a browser session without "stay signed in"
	persistentSession = 90 * 24 * time.Hour // with it
	maxSessionUsers   = 5
)

// serveAsset serves the pages' stylesheet and script.
func (s *Server) serveAsset(w http.ResponseWriter, r *http.Request, name string) {
	var ctype string
	switch name {
	case "signin.css":
		ctype = "text/css; charset=utf-8"
	case "signin.js":
		ctype = "text/javascript; charset=utf-8"
	default:
		s.serveNotFound(w, r)
		return
	}
	b, _ := webFS.ReadFile("web/" + name)
	h := w.Header()
	h["Content-Type"] = []string{ctype}
	h["Cache-Control"] = []string{"public, max-age=3600"}
	h["X-Content-Type-Options"] = []string{"nosniff"}
	_, _ = w.Write(b)
}

// loginContext is the sealed state a sign-in page carries from one form to the next.
type loginContext struct {
	Seg      string           `json:"g"`
	Req      AuthorizeRequest `json:"q"`
	Device   string           `json:"d,omitempty"` // device-code flow: the device code's hash
	AppName  string           `json:"an"`
	UserID   string           `json:"u,omitempty"` // device-code flow, after sign-in
	AuthTime int64            `json:"a,omitempty"`
	Expiry   int64            `json:"e"`
}

// session is the browser session cookie's content: who signed in here, and when. No password,
// no token: a sealed list of object ids.
type session struct {
	Accounts   []sessionAccount `json:"a"`
	Persistent bool             `json:"p,omitempty"`
	Expiry     int64            `json:"e"`
}

type sessionAccount struct {
	UserID   string `json:"u"`
	AuthTime int64  `json:"t"`
}

// pageData is what every page template reads.
type pageData struct {
	Title, AppName, Error, Action, Ctx, CSRF, LoginHint string
	Accounts                                            []store.User
	UserName, Message, Detail, Target                   string
	Fields                                              []formField
}

type formField struct{ Name, Value string }

// writePage renders a page with the headers every sign-in page has. formTarget, when set, is
// an origin the page's forms may also post to (the redirect URI of form_post).
func (s *Server) writePage(w http.ResponseWriter, status int, name string, d pageData, formTargets ...string) {
	var buf bytes.Buffer
	if err := pages.ExecuteTemplate(&buf, name, d); err != nil {
		s.log.Error("render sign-in page", "page", name, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	formAction := "'self'"
	for _, t := range formTargets {
		formAction += " " + t
	}
	h := w.Header()
	h["Content-Type"] = []string{"text/html; charset=utf-8"}
	h["Content-Security-Policy"] = []string{"default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self'; form-action " + formAction +
		"; frame-ancestors 'none'; base-uri 'none'"}
	h["X-Frame-Options"] = []string{"DENY"}
	h["X-Content-Type-Options"] = []string{"nosniff"}
	h["Referrer-Policy"] = []string{"no-referrer"}
	h["Cache-Control"] = []string{"no-store, no-cache"}
	h["Pragma"] = []string{"no-cache"}
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// errorPage shows a refusal that must not go back to the client (unknown client, unregistered
// redirect URI, tampered form), in Entra's words.
func (s *Server) errorPage(w http.ResponseWriter, r *http.Request, e *Error) {
	traceID := newUUID()
	msg := e.Description
	if e.Code != 0 {
		msg = e.AADSTS() + ": " + msg
	}
	s.log.InfoContext(r.Context(), "sign-in page refused", "error_code", e.AADSTS(), "reason", e.Description, "trace_id", traceID)
	s.writePage(w, e.Status, "message", pageData{Title: "Sorry, but we're having trouble signing you in.", Message: msg,
		Detail: "Trace ID: " + traceID + " Timestamp: " + s.clock().UTC().Format(entraTimestamp)})
}

// serveErrorCode serves the page every error's error_uri names (/error?code=N), as Entra serves
// one at login.microsoftonline.com/error: the code, and where its meaning is documented.
func (s *Server) serveErrorCode(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		s.errorPage(w, r, NewError(http.StatusMethodNotAllowed, "invalid_request", 0,
			"This page only answers GET requests. Received a %s request.", truncate(r.Method, 20)))
		return
	}
	code := r.URL.Query().Get("code")
	n, err := strconv.Atoi(code)
	if err != nil || n < 1 || n > 99999999 || strconv.Itoa(n) != code {
		s.errorPage(w, r, NewError(http.StatusBadRequest, "invalid_request", 0,
			"The error code '%s' is not an AADSTS number; follow the error_uri of an error response unchanged.", truncate(code, 20)))
		return
	}
	s.writePage(w, http.StatusOK, "message", pageData{Title: "Error code AADSTS" + code,
		Message: "The error_description of the response that linked here says what went wrong with that request.",
		Detail:  "Microsoft documents every AADSTS code at https://learn.microsoft.com/entra/identity-platform/reference-error-codes."})
}

// csrfToken returns the form token for this browser, setting the CSRF cookie when missing.
// The token is an HMAC of the cookie's random value: a page of another site can neither read
// the cookie nor compute the token.
func (s *Server) csrfToken(w http.ResponseWriter, r *http.Request) string {
	v := ""
	if c, err := r.Cookie(csrfCookie); err == nil && len(c.Value) == 43 {
		v = c.Value
	} else {
		var b [32]byte
		_, _ = rand.Read(b[:])
		v = base64.RawURLEncoding.EncodeToString(b[:])
		http.SetCookie(w, &http.Cookie{Name: csrfCookie, Value: v, Path: "/", HttpOnly: true, Secure: true, SameSite: http.SameSiteStrictMode})
	}
	return s.csrfFor(v)
}

func (s *Server) csrfFor(cookieValue string) string {
	m := hmac.New(sha256.New, s.csrfKey)
	m.Write([]byte(cookieValue))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// csrfOK checks a posted form's token against the browser's CSRF cookie.
func (s *Server) csrfOK(r *http.Request, token string) bool {
	c, err := r.Cookie(csrfCookie)
	if err != nil || c.Value == "" || token == "" {
		return false
	}
	return hmac.Equal([]byte(s.csrfFor(c.Value)), []byte(token))
}

// readPageForm reads a form posted by a sign-in page (at most maxBytes) and checks its CSRF
// token; a failure is answered with the error page, whose anti-forgery message ends with again
// (what the person should do next), and ok is false.
func (s *Server) readPageForm(w http.ResponseWriter, r *http.Request, maxBytes int64, again string) (form url.Values, ok bool) {
	if s.people == nil {
		s.errorPage(w, r, NewError(http.StatusBadRequest, "invalid_request", codeUnsupportedGrant, "This server has no directory of people configured."))
		return nil, false
	}
	form, e := ReadForm(r, maxBytes)
	if e != nil {
		s.errorPage(w, r, e)
		return nil, false
	}
	if !s.csrfOK(r, form.Get("csrf")) {
		s.errorPage(w, r, NewError(http.StatusBadRequest, "invalid_request", 90023,
			"Invalid request: the form's anti-forgery token is missing or does not match this browser. %s", again))
		return nil, false
	}
	return form, true
}

// readSession returns the browser's session (empty when none or invalid).
func (s *Server) readSession(r *http.Request, now time.Time) session {
	var sess session
	c, err := r.Cookie(sessionCookie)
	if err != nil || s.seal.open(purposeSession, c.Value, &sess) != nil || now.Unix() > sess.Expiry {
		return session{}
	}
	return sess
}

// sessionUsers loads the session's people who may still sign in (enabled, not revoked since),
// restricted to tenantID unless it is empty.
func (s *Server) sessionUsers(ctx context.Context, sess session, tenantID string) []sessionUser {
	var out []sessionUser
	for _, a := range sess.Accounts {
		u, err := s.people.User(ctx, a.UserID)
		if err != nil {
			continue
		}
		at := time.Unix(a.AuthTime, 0)
		if userUsable(u, at) != nil || (tenantID != "" && u.TenantID != tenantID) {
			continue
		}
		out = append(out, sessionUser{user: u, authTime: at})
	}
	return out
}

type sessionUser struct {
	user     store.User
	authTime time.Time
}

// writeSession adds (or refreshes) a signed-in person in the browser session cookie.
func (s *Server) writeSession(w http.ResponseWriter, sess session, u store.User, authTime time.Time, persistent bool, now time.Time) {
	accounts := []sessionAccount{{UserID: u.ObjectID, AuthTime: authTime.Unix()}}
	for _, a := range sess.Accounts {
		if a.UserID != u.ObjectID && len(accounts) < maxSessionUsers {
			accounts = append(accounts, a)
		}
	}
	sess.Accounts = accounts
	sess.Persistent = sess.Persistent || persistent
	life := sessionLife
	if sess.Persistent {
		life = persistentSession
	}
	sess.Expiry = now.Add(life).Unix()
	v, err := s.seal.seal(purposeSession, sess)
	if err != nil {
		s.log.Error("seal session", "err", err)
		return
	}
	c := &http.Cookie{Name: sessionCookie, Value: v, Path: "/", HttpOnly: true, Secure: true, SameSite: http.SameSiteLaxMode}
	if sess.Persistent {
		c.MaxAge = int(life / time.Second)
	}
	http.SetCookie(w, c)
}

// clientForAuthorize finds the app of an authorize request and its registered redirect URIs:
// a first-party public client, or an application of the tenant with redirect URIs registered
// (web, spa and publicClient, through Graph), or given by Config.RedirectURIs (mint's portal).
func (s *Server) clientForAuthorize(ctx context.Context, clientID, tenantID, seg string) (userClient, *Error) {
	if pc, ok := publicClient(clientID); ok {
		return userClient{appID: pc.AppID, displayName: pc.DisplayName, public: true, firstParty: true, redirects: pc.RedirectURIs}, nil
	}
	if tenantID != "" {
		if sp, err := s.dir.Client(ctx, tenantID, clientID); err == nil && sp.Kind == store.KindApplication {
			r := sp.RedirectURIs
			uris := slices.Concat(r.PublicClient, r.SPA, r.Web)
			if s.redirectURIs != nil {
				uris = append(uris, s.redirectURIs(ctx, tenantID, sp.AppID)...)
			}
			if len(uris) > 0 {
				return userClient{appID: sp.AppID, displayName: sp.DisplayName, redirects: uris}, nil
			}
		}
	}
	return userClient{appID: clientID}, NewError(http.StatusBadRequest, "unauthorized_client", codeClientNotFound,
		"Application with identifier '%s' was not found in the directory '%s' as an application with registered redirect URIs. "+
			"Register the application's redirect URIs (az ad app update --id <appId> --public-client-redirect-uris http://localhost), "+
			"or sign in through a first-party public client (Azure CLI, Azure PowerShell, Visual Studio Code).",
		truncate(clientID, 100), truncate(seg, 100))
}

// serveAuthorize answers /{tenant}/oauth2/v2.0/authorize and /{tenant}/oauth2/authorize.
func (s *Server) serveAuthorize(w http.ResponseWriter, r *http.Request, seg string, v Version) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		s.errorPage(w, r, errMethod("GET", r.Method))
		return
	}
	if s.people == nil {
		s.errorPage(w, r, NewError(http.StatusBadRequest, "invalid_request", codeUnsupportedGrant, "This server has no directory of people configured."))
		return
	}
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil || len(r.URL.RawQuery) > 16<<10 {
		s.errorPage(w, r, errMalformed("The query string is not valid."))
		return
	}
	req, pageErr, redirectErr := ParseAuthorizeRequest(v, q)
	if pageErr != nil {
		s.errorPage(w, r, pageErr)
		return
	}
	tenantID, e := s.authorizeTenant(r.Context(), seg)
	if e != nil {
		s.errorPage(w, r, e)
		return
	}
	client, e := s.clientForAuthorize(r.Context(), req.ClientID, tenantID, seg)
	if e != nil {
		s.errorPage(w, r, e)
		return
	}
	if !RedirectURIRegistered(req.RedirectURI, client.redirects) {
		s.errorPage(w, r, NewError(http.StatusBadRequest, "invalid_request", codeRedirectMismatch,
			"The redirect URI '%s' specified in the request does not match the redirect URIs configured for the application '%s'. "+
				"Make sure the redirect URI sent in the request matches one added to your application.", truncate(req.RedirectURI, 300), client.appID))
		return
	}
	if redirectErr != nil {
		s.redirectError(w, r, req, redirectErr)
		return
	}
	if tenantID != "" {
		seg = tenantID
	}
	now := s.clock()
	lc := loginContext{Seg: strings.ToLower(seg), Req: req, AppName: client.displayName, Expiry: now.Add(loginContextLife).Unix()}
	users := s.sessionUsers(r.Context(), s.readSession(r, now), tenantID)
	var hinted *sessionUser
	for i := range users {
		if req.LoginHint != "" && strings.EqualFold(users[i].user.UserPrincipalName, req.LoginHint) {
			hinted = &users[i]
		}
	}
	switch {
	case req.Prompt == "login":
		s.showSignIn(w, r, lc, "")
	case req.Prompt == "none":
		switch {
		case hinted != nil:
			s.completeAuthorize(w, r, lc, hinted.user, hinted.authTime)
		case len(users) == 1 && req.LoginHint == "":
			s.completeAuthorize(w, r, lc, users[0].user, users[0].authTime)
		case len(users) == 0:
			s.redirectError(w, r, req, NewError(http.StatusBadRequest, "login_required", codeLoginRequired,
				"Single Sign-On: no user is signed in in this browser, and prompt=none forbids showing the sign-in page."))
		default:
			s.redirectError(w, r, req, NewError(http.StatusBadRequest, "interaction_required", codeInteractionRequired,
				"Application needs to know which of the accounts signed in in this browser to use, and prompt=none forbids asking."))
		}
	case req.Prompt == "select_account" || req.Prompt == "consent":
		if len(users) == 0 {
			s.showSignIn(w, r, lc, "")
		} else {
			s.showPicker(w, r, lc, users)
		}
	case hinted != nil:
		s.completeAuthorize(w, r, lc, hinted.user, hinted.authTime)
	case len(users) == 1 && req.LoginHint == "":
		s.completeAuthorize(w, r, lc, users[0].user, users[0].authTime)
	case len(users) > 1:
		s.showPicker(w, r, lc, users)
	default:
		s.showSignIn(w, r, lc, "")
	}
}

// authorizeTenant resolves the authority's tenant: "" for common and organizations.
func (s *Server) authorizeTenant(ctx context.Context, seg string) (string, *Error) {
	switch classifySegment(seg) {
	case segmentInvalid:
		return "", errTenantInvalid(truncate(seg, 100))
	case segmentMultiTenant:
		return "", nil
	}
	t, e := s.resolveTenant(ctx, seg)
	if e != nil {
		return "", e
	}
	return t.ID, nil
}

func (s *Server) sealContext(lc loginContext) string {
	v, err := s.seal.seal(purposeLoginContext, lc)
	if err != nil {
		s.log.Error("seal sign-in context", "err", err)
	}
	return v
}

func (s *Server) showSignIn(w http.ResponseWriter, r *http.Request, lc loginContext, errMsg string) {
	status := http.StatusOK
	if errMsg != "" {
		status = http.StatusBadRequest
	}
	s.writePage(w, status, "signin", pageData{Title: "Sign in to your account", AppName: lc.AppName, Error: errMsg, Action: "/" + lc.Seg + "/login",
		Ctx: s.sealContext(lc), CSRF: s.csrfToken(w, r), LoginHint: lc.Req.LoginHint}, s.redirectOrigin(lc)...)
}

func (s *Server) showPicker(w http.ResponseWriter, r *http.Request, lc loginContext, users []sessionUser) {
	d := pageData{Title: "Pick an account", AppName: lc.AppName, Action: "/" + lc.Seg + "/login", Ctx: s.sealContext(lc), CSRF: s.csrfToken(w, r)}
	for _, u := range users {
		d.Accounts = append(d.Accounts, u.user)
	}
	s.writePage(w, http.StatusOK, "picker", d, s.redirectOrigin(lc)...)
}

// redirectOrigin is the origin a sign-in page's form submission may end at (the browser
// follows the answer's redirect to the app, and form-action covers that redirect).
func (s *Server) redirectOrigin(lc loginContext) []string {
	if lc.Device != "" || lc.Req.RedirectURI == "" {
		return nil
	}
	scheme, host, port, _, ok := splitURI(lc.Req.RedirectURI)
	if !ok {
		return nil
	}
	o := strings.ToLower(scheme) + "://" + host
	if port != "" {
		o += ":" + port
	}
	return []string{o}
}

// serveLogin takes the sign-in pages' forms: a password, a pick from the account picker, "use
// another account", or a device code's approval.
func (s *Server) serveLogin(w http.ResponseWriter, r *http.Request, seg string) {
	if r.Method != http.MethodPost {
		s.errorPage(w, r, errMethod("POST", r.Method))
		return
	}
	form, ok := s.readPageForm(w, r, 16<<10, "Start the sign-in again from the application.")
	if !ok {
		return
	}
	now := s.clock()
	var lc loginContext
	if s.seal.open(purposeLoginContext, form.Get("ctx"), &lc) != nil || !strings.EqualFold(lc.Seg, seg) {
		s.errorPage(w, r, errMalformed("The sign-in page's context is missing or was altered. Start the sign-in again from the application."))
		return
	}
	if now.Unix() > lc.Expiry {
		s.errorPage(w, r, NewError(http.StatusBadRequest, "invalid_request", 50196,
			"This sign-in page has expired. Start the sign-in again from the application."))
		return
	}
	tenantID, e := s.authorizeTenant(r.Context(), seg)
	if e != nil {
		s.errorPage(w, r, e)
		return
	}
	sess := s.readSession(r, now)
	switch form.Get("action") {
	case "other":
		s.showSignIn(w, r, lc, "")
	case "pick":
		for _, u := range s.sessionUsers(r.Context(), sess, tenantID) {
			if u.user.ObjectID == form.Get("account") {
				s.signedInOnPage(w, r, lc, u.user, u.authTime)
				return
			}
		}
		s.showSignIn(w, r, lc, "That account is no longer signed in here. Sign in again.")
	case "signin":
		at := attempt{traceID: newUUID(), correlationID: newUUID(), now: now, appID: lc.Req.ClientID, grant: "interactive", tenantID: tenantID}
		var pathTenant *store.Tenant
		if tenantID != "" {
			t, e := s.resolveTenant(r.Context(), tenantID)
			if e != nil {
				s.errorPage(w, r, e)
				return
			}
			pathTenant = &t
		}
		login := strings.TrimSpace(form.Get("login"))
		lc.Req.LoginHint = truncate(login, 256)
		u, _, e := s.passwordSignIn(r.Context(), &at, pathTenant, login, form.Get("passwd"))
		if e == nil && len(login) > 256 {
			e = errInvalidPassword()
		}
		if e != nil {
			s.recordPage(&at, e)
			if e.Status >= 500 {
				s.errorPage(w, r, e)
				return
			}
			s.showSignIn(w, r, lc, pageMessage(e))
			return
		}
		s.record(store.SignIn{ID: at.traceID, Time: now, TenantID: u.TenantID, PrincipalID: u.ObjectID, AppID: lc.Req.ClientID,
			Grant: "interactive", Result: "success", Reason: "signed in with a password on the sign-in page", CorrelationID: at.correlationID})
		s.writeSession(w, sess, u, now, form.Get("kmsi") == "1", now)
		s.signedInOnPage(w, r, lc, u, now)
	case "approve", "decline":
		s.deviceDecision(w, r, lc, form.Get("action") == "approve")
	default:
		s.errorPage(w, r, errMalformed("Unknown sign-in page action."))
	}
}

func (s *Server) recordPage(at *attempt, e *Error) {
	s.record(store.SignIn{ID: at.traceID, Time: at.now, TenantID: at.tenantID, PrincipalID: at.principalID, AppID: at.appID,
		Grant: at.grant, Result: "failure", ErrorCode: e.AADSTS(), Reason: e.Description, CorrelationID: at.correlationID})
}

// pageMessage is how Entra's sign-in page words a refusal.
func pageMessage(e *Error) string {
	switch e.Code {
	case codeInvalidPassword:
		return "Your account or password is incorrect. (AADSTS50126)"
	case codeLocked:
		return "Your account is locked because you've tried to sign in too many times with an incorrect user ID or password. Wait a minute and try again. (AADSTS50053)"
	case codeDisabled:
		return "Your account has been disabled. Contact your administrator. (AADSTS50057)"
	case codePasswordExpired:
		return "Your password has expired. Ask your administrator to reset it. (AADSTS50055)"
	}
	return e.AADSTS() + ": " + e.Description
}

// signedInOnPage continues after a person is known: the code flow answers the app; the device
// flow asks the person to approve the code.
func (s *Server) signedInOnPage(w http.ResponseWriter, r *http.Request, lc loginContext, u store.User, authTime time.Time) {
	if lc.Device == "" {
		s.completeAuthorize(w, r, lc, u, authTime)
		return
	}
	lc.UserID, lc.AuthTime = u.ObjectID, authTime.Unix()
	s.writePage(w, http.StatusOK, "consent", pageData{Title: "Are you trying to sign in?", AppName: lc.AppName, UserName: u.UserPrincipalName,
		Action: "/" + lc.Seg + "/login", Ctx: s.sealContext(lc), CSRF: s.csrfToken(w, r)})
}

// completeAuthorize issues the authorization code and returns it to the app.
func (s *Server) completeAuthorize(w http.ResponseWriter, r *http.Request, lc loginContext, u store.User, authTime time.Time) {
	now := s.clock()
	var id [16]byte
	_, _ = rand.Read(id[:])
	code, err := s.seal.seal(purposeCode, codeGrant{ID: base64.RawURLEncoding.EncodeToString(id[:]), ClientID: lc.Req.ClientID, RedirectURI: lc.Req.RedirectURI,
		Challenge: lc.Req.CodeChallenge, Method: lc.Req.CodeChallengeMethod, UserID: u.ObjectID, TenantID: u.TenantID, Scope: lc.Req.Scope,
		Resource: lc.Req.Resource, Nonce: lc.Req.Nonce, AuthTime: authTime.Unix(), AMR: []string{"pwd"}, Expiry: now.Add(codeLifetime).Unix()})
	if err != nil {
		s.errorPage(w, r, errServer(err))
		return
	}
	params := []formField{{"code", code}}
	if lc.Req.ClientInfo {
		params = append(params, formField{"client_info", ClientInfo(u.ObjectID, u.TenantID)})
	}
	if lc.Req.State != "" {
		params = append(params, formField{"state", lc.Req.State})
	}
	params = append(params, formField{"session_state", pairwiseSubject(u.ObjectID, "session")[:36]})
	s.respondToApp(w, r, lc.Req, params)
}

// redirectError sends an error back to the (registered) redirect URI, state included.
func (s *Server) redirectError(w http.ResponseWriter, r *http.Request, req AuthorizeRequest, e *Error) {
	traceID := newUUID()
	desc := e.Description
	if e.Code != 0 {
		desc = e.AADSTS() + ": " + desc
	}
	desc += "\r\nTrace ID: " + traceID + "\r\nCorrelation ID: " + newUUID() + "\r\nTimestamp: " + s.clock().UTC().Format(entraTimestamp)
	params := []formField{{"error", e.Err}, {"error_description", desc}}
	if e.Code != 0 {
		params = append(params, formField{"error_uri", s.baseURL + "/error?code=" + itoa(e.Code)})
	}
	if req.State != "" {
		params = append(params, formField{"state", req.State})
	}
	s.respondToApp(w, r, req, params)
}

// respondToApp delivers parameters to the redirect URI: a 302 with a query (response_mode
// query, MSAL Python) or a fragment (fragment, MSAL.js), or an auto-submitting form (form_post,
// MSAL Go and msal-node).
func (s *Server) respondToApp(w http.ResponseWriter, r *http.Request, req AuthorizeRequest, params []formField) {
	if req.ResponseMode == "form_post" {
		s.writePage(w, http.StatusOK, "formpost", pageData{Title: "Working...", Target: req.RedirectURI, Fields: params},
			s.redirectOrigin(loginContext{Req: req})...)
		return
	}
	target, query, hasQuery := strings.Cut(req.RedirectURI, "?")
	if _, _, _, path, _ := splitURI(target); path == "" {
		target += "/" // a path-less redirect URI comes back with a trailing slash, as Entra's
	}
	if hasQuery {
		target += "?" + query // the registered query string is kept; the answer follows it
	}
	q := url.Values{}
	for _, p := range params {
		q.Set(p.Name, p.Value)
	}
	sep := "?"
	switch {
	case req.ResponseMode == "fragment": // MSAL.js's default: the code never reaches the SPA's server
		sep = "#"
	case hasQuery && query != "":
		sep = "&"
	case hasQuery:
		sep = ""
	}
	h := w.Header()
	h["Cache-Control"] = []string{"no-store, no-cache"}
	h["Location"] = []string{target + sep + q.Encode()}
	w.WriteHeader(http.StatusFound)
}

// serveLogout ends the browser session and returns to a registered post-logout URI, or shows
// that the person signed out.
func (s *Server) serveLogout(w http.ResponseWriter, r *http.Request, seg string) {
	if r.Method != http.MethodGet && r.Method != http.MethodPost {
		s.errorPage(w, r, errMethod("GET", r.Method))
		return
	}
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, Secure: true, SameSite: http.SameSiteLaxMode})
	target := r.URL.Query().Get("post_logout_redirect_uri")
	if target != "" {
		var regs []string
		if pc, ok := publicClient(r.URL.Query().Get("client_id")); ok {
			regs = pc.RedirectURIs
		} else if r.URL.Query().Get("client_id") == "" {
			for _, pc := range PublicClients {
				regs = append(regs, pc.RedirectURIs...)
			}
		}
		if RedirectURIRegistered(target, regs) {
			if st := r.URL.Query().Get("state"); st != "" && len(st) <= 2000 {
				sep := "?"
				if strings.Contains(target, "?") {
					sep = "&"
				}
				target += sep + "state=" + url.QueryEscape(st)
			}
			w.Header()["Location"] = []string{target}
			w.WriteHeader(http.StatusFound)
			return
		}
	}
	s.writePage(w, http.StatusOK, "message", pageData{Title: "You signed out of your account",
		Message: "It's a good idea to close all browser windows."})
}

// serveDeviceLogin is the device-code verification page: GET shows the code form, POST takes
// a typed code and continues to the sign-in (or account picker).
func (s *Server) serveDeviceLogin(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		s.writePage(w, http.StatusOK, "devicecode", pageData{Title: "Enter code", CSRF: s.csrfToken(w, r)})
		return
	case http.MethodPost:
	default:
		s.errorPage(w, r, errMethod("GET", r.Method))
		return
	}
	form, ok := s.readPageForm(w, r, 4<<10, "Open the page again.")
	if !ok {
		return
	}
	now := s.clock()
	f, ok, err := s.pendingDeviceCode(r.Context(), form.Get("otc"), now)
	if err != nil {
		s.log.ErrorContext(r.Context(), "device code lookup failed", "err", err)
		s.errorPage(w, r, errServer(err))
		return
	}
	if !ok {
		s.writePage(w, http.StatusBadRequest, "devicecode", pageData{Title: "Enter code", CSRF: s.csrfToken(w, r),
			Error: "That code didn't work. Check the code and try again, or request a new code. (AADSTS70018)"})
		return
	}
	seg := f.TenantSegment
	if classifySegment(seg) == segmentInvalid {
		seg = "organizations"
	}
	lc := loginContext{Seg: strings.ToLower(seg), Device: f.DeviceCodeHash, AppName: f.ClientName, Req: AuthorizeRequest{ClientID: f.ClientID},
		Expiry: now.Add(loginContextLife).Unix()}
	tenantID := ""
	if classifySegment(seg) == segmentTenant {
		tenantID = seg
	}
	if users := s.sessionUsers(r.Context(), s.readSession(r, now), tenantID); len(users) > 0 {
		s.showPicker(w, r, lc, users)
		return
	}
	s.showSignIn(w, r, lc, "")
}

// deviceDecision records the signed-in person's approval or refusal of a device code.
func (s *Server) deviceDecision(w http.ResponseWriter, r *http.Request, lc loginContext, approve bool) {
	if lc.Device == "" || lc.UserID == "" {
		s.errorPage(w, r, errMalformed("This page does not approve a device code."))
		return
	}
	now := s.clock()
	u, err := s.people.User(r.Context(), lc.UserID)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		s.errorPage(w, r, errServer(err))
		return
	}
	ok := false
	if err == nil && userUsable(u, time.Unix(lc.AuthTime, 0)) == nil {
		if ok, err = s.decideDevice(r.Context(), lc.Device, approve, u, time.Unix(lc.AuthTime, 0), now); err != nil {
			s.log.ErrorContext(r.Context(), "device code decision failed", "err", err)
			s.errorPage(w, r, errServer(err))
			return
		}
	}
	switch {
	case !ok:
		s.writePage(w, http.StatusBadRequest, "message", pageData{Title: "Sign-in failed",
			Message: "The code has expired or was already used. Request a new code on your device. (AADSTS70018)"})
	case approve:
		s.writePage(w, http.StatusOK, "message", pageData{Title: lc.AppName,
			Message: "You have signed in to the " + lc.AppName + " application on your device. You may now close this window."})
	default:
		s.writePage(w, http.StatusOK, "message", pageData{Title: "Sign-in cancelled",
			Message: "You declined to sign in to " + lc.AppName + " on your device. You may now close this window."})
	}
}

func itoa(n int) string {
	var b [20]byte
	i := len(b)
	for n >= 10 {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
	}
	i--
	b[i] = byte('0' + n)
	return string(b[i:])
}
