package portal

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"net/http"
	"sync"
	"time"
)

// Browser sessions. The cookie carries only a random session id; the tokens stay on the server,
// in memory. A session id is issued fresh at every sign-in (no fixation), an unknown or tampered
// id is simply no session (the person is signed out), and signing out deletes the session. A
// restart of mint, or a request reaching another replica, asks the person to sign in again:
// sessions are per process.

const (
	// sessionCookie has the __Host- prefix: the browser keeps it only if it is Secure, has Path=/
	// and no Domain, so no other host or path can set or shadow it.
	sessionCookie = "__Host-mint-portal"
	// pendingCookie binds a sign-in in progress to the browser that started it.
	pendingCookie = "__Host-mint-portal-signin"
	maxSessions   = 10000
)

// User is the signed-in person, from the ID token.
type User struct {
	ObjectID string
	Name     string
	Username string
	TenantID string
}

// Tokens gives bearer tokens for a session. scope is an OAuth scope such as
// "https://management.azure.com/.default". The shipped implementation holds the person's
// refresh token from the sign-in and redeems it at mint's STS.
type Tokens interface {
	Token(ctx context.Context, scope string) (string, error)
}

// Session is one signed-in browser.
type Session struct {
	ID      string
	CSRF    string
	User    User
	Tokens  Tokens
	Expires time.Time
}

func (s *Session) validCSRF(token string) bool {
	return token != "" && subtle.ConstantTimeCompare([]byte(token), []byte(s.CSRF)) == 1
}

type sessions struct {
	mu       sync.Mutex
	byID     map[string]*Session
	clock    func() time.Time
	lifetime time.Duration
}

func newSessions(clock func() time.Time, lifetime time.Duration) *sessions {
	return &sessions{byID: map[string]*Session{}, clock: clock, lifetime: lifetime}
}

func randomToken() string {
	b := make([]byte, 32)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// start creates a new session and sets its cookie, replacing the one the browser sent (if any).
func (ss *sessions) start(w http.ResponseWriter, r *http.Request, u User, t Tokens) *Session {
	if old := ss.fromRequest(r); old != nil {
		ss.end(old.ID)
	}
	now := ss.clock()
	s := &Session{ID: randomToken(), CSRF: randomToken(), User: u, Tokens: t, Expires: now.Add(ss.lifetime)}
	ss.mu.Lock()
	if len(ss.byID) >= maxSessions {
		for id, o := range ss.byID {
			if now.After(o.Expires) {
				delete(ss.byID, id)
			}
		}
		if len(ss.byID) >= maxSessions { // still full: drop the one closest to its end
			var oldest *Session
			for _, o := range ss.byID {
				if oldest == nil || o.Expires.Before(oldest.Expires) {
					oldest = o
				}
			}
			delete(ss.byID, oldest.ID)
		}
	}
	ss.byID[s.ID] = s
	ss.mu.Unlock()
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: s.ID, Path: "/", Secure: true, HttpOnly: true,
		SameSite: http.SameSiteLaxMode, Expires: s.Expires})
	return s
}

// fromRequest is the request's live session, or nil.
func (ss *sessions) fromRequest(r *http.Request) *Session {
	c, err := r.Cookie(sessionCookie)
	if err != nil || c.Value == "" {
		return nil
	}
	ss.mu.Lock()
	defer ss.mu.Unlock()
	s := ss.byID[c.Value]
	if s == nil {
		return nil
	}
	if ss.clock().After(s.Expires) {
		delete(ss.byID, s.ID)
		return nil
	}
	return s
}

func (ss *sessions) end(id string) {
	ss.mu.Lock()
	delete(ss.byID, id)
	ss.mu.Unlock()
}

func (ss *sessions) clearCookie(w http.ResponseWriter) {
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: "", Path: "/", Secure: true, HttpOnly: true,
		SameSite: http.SameSiteLaxMode, MaxAge: -1})
}

// StartSession signs a browser in with tokens the caller already holds and returns the session.
// The portal's own sign-in (authorization code + PKCE at mint's STS) is the only caller in mint;
// tests of the screens use it with a token source of their own.
func (p *Portal) StartSession(w http.ResponseWriter, r *http.Request, u User, t Tokens) *Session {
	return p.sessions.start(w, r, u, t)
}

// signOut ends the session and shows the signed-out page.
func (p *Portal) signOut(w http.ResponseWriter, r *http.Request) {
	s := p.sessions.fromRequest(r)
	if s != nil {
		if err := r.ParseForm(); err != nil || !s.validCSRF(r.PostForm.Get("csrf")) {
			p.render(w, r, s, http.StatusForbidden, "message", page{Title: "Request refused",
				Error: &APIError{Code: "InvalidCsrfToken", Message: "The sign-out form was not sent from this portal session, so you are still signed in."}})
			return
		}
		p.sessions.end(s.ID)
	}
	p.sessions.clearCookie(w)
	p.render(w, r, nil, http.StatusOK, "signedout", page{Title: "Signed out", Notice: "You signed out of the mint portal.",
		Data: map[string]string{"Return": Prefix}})
}
