package portal

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/mint-id/mint/internal/store"
)

// Browser sessions. The cookie carries only a random session id. A session id is issued fresh at
// every sign-in (no fixation), an unknown or tampered id is simply no session (the person is
// signed out), and signing out deletes the session.
//
// With a SessionStore (mint server and mint dev wire the store), a session signed in through the
// portal's own sign-in is also kept in the store, so it survives a restart and works on every
// replica: the row is keyed by the SHA-256 of the id (the id, a bearer secret, is never stored),
// and holds the person, the CSRF token and the person's refresh token sealed under the
// key-encryption key (tokens are secrets: never in clear at rest). It expires with the session
// (SessionLifetime), each new session purges the expired ones, and sign-out deletes it, so every
// replica checks the store on every request and a sign-out on one ends the session on all. A
// replica keeps the sessions it has seen in memory too, with the access tokens it redeemed.
// Sessions whose token source cannot be kept (tests sign in with their own) stay in memory.

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
	// persisted: the session is in the store too, which decides whether it still exists.
	persisted bool
}

// SessionStore keeps sessions for every server (mint's store.PortalSessions).
type SessionStore interface {
	PutPortalSession(ctx context.Context, s store.PortalSession) error
	GetPortalSession(ctx context.Context, idHash string, now time.Time) (store.PortalSession, error)
	DeletePortalSession(ctx context.Context, idHash string) error
}

// Sealer seals what the store keeps (mint's key-encryption key, keys.KEK).
type Sealer interface {
	Seal(plaintext, additionalData []byte) ([]byte, error)
	Open(sealed, additionalData []byte) ([]byte, error)
}

// keptSession is what the store holds of a session, sealed.
type keptSession struct {
	User    User      `json:"user"`
	CSRF    string    `json:"csrf"`
	Refresh string    `json:"refresh"`
	Expires time.Time `json:"expires"`
}

// refreshHolder is a token source that can be kept: the portal's own (a refresh token).
type refreshHolder interface {
	refreshToken() string
	onRotate(func())
}

func sessionHash(id string) string {
	sum := sha256.Sum256([]byte(id))
	return hex.EncodeToString(sum[:])
}

func sealAD(idHash string) []byte { return []byte("mint portal session " + idHash) }

func (s *Session) validCSRF(token string) bool {
	return token != "" && subtle.ConstantTimeCompare([]byte(token), []byte(s.CSRF)) == 1
}

type sessions struct {
	mu       sync.Mutex
	byID     map[string]*Session
	clock    func() time.Time
	lifetime time.Duration
	st       SessionStore // nil: in memory only
	sealer   Sealer
	restore  func(refresh string) Tokens
	log      *slog.Logger
}

func newSessions(clock func() time.Time, lifetime time.Duration) *sessions {
	return &sessions{byID: map[string]*Session{}, clock: clock, lifetime: lifetime, log: slog.Default()}
}

func randomToken() string {
	b := make([]byte, 32)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// start creates a new session and sets its cookie, replacing the one the browser sent (if any).
// A session the store should keep but cannot is an error (the person would be signed out on the
// next replica).
func (ss *sessions) start(w http.ResponseWriter, r *http.Request, u User, t Tokens) (*Session, error) {
	if old, _ := ss.fromRequest(r); old != nil {
		ss.end(r.Context(), old.ID)
	}
	now := ss.clock()
	s := &Session{ID: randomToken(), CSRF: randomToken(), User: u, Tokens: t, Expires: now.Add(ss.lifetime)}
	if h, ok := t.(refreshHolder); ok && ss.st != nil {
		if err := ss.keep(r.Context(), s, h.refreshToken(), now); err != nil {
			return nil, err
		}
		s.persisted = true
		h.onRotate(func() {
			// A rotated refresh token replaces the kept one; if that fails, the old one still
			// works until it expires.
			if err := ss.keep(context.Background(), s, h.refreshToken(), ss.clock()); err != nil {
				ss.log.Warn("portal session: could not keep the rotated refresh token", "err", err)
			}
		})
	}
	ss.remember(s)
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: s.ID, Path: "/", Secure: true, HttpOnly: true,
		SameSite: http.SameSiteLaxMode, Expires: s.Expires})
	return s, nil
}

// keep seals the session and puts it in the store.
func (ss *sessions) keep(ctx context.Context, s *Session, refresh string, now time.Time) error {
	plain, err := json.Marshal(keptSession{User: s.User, CSRF: s.CSRF, Refresh: refresh, Expires: s.Expires})
	if err != nil {
		return err
	}
	h := sessionHash(s.ID)
	sealed, err := ss.sealer.Seal(plain, sealAD(h))
	if err != nil {
		return fmt.Errorf("seal portal session: %w", err)
	}
	return ss.st.PutPortalSession(ctx, store.PortalSession{IDHash: h, Sealed: sealed, ExpiresAt: s.Expires, CreatedAt: now})
}

// remember puts s in memory, making room if the map is full.
func (ss *sessions) remember(s *Session) {
	now := ss.clock()
	ss.mu.Lock()
	defer ss.mu.Unlock()
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
}

// fromRequest is the request's live session, or nil. With a store, a kept session is looked up
// there on every request (a sign-out elsewhere ends it here too) and restored from it when this
// server has not seen it; an error means the store could not answer.
func (ss *sessions) fromRequest(r *http.Request) (*Session, error) {
	c, err := r.Cookie(sessionCookie)
	if err != nil || c.Value == "" || len(c.Value) > 128 {
		return nil, nil
	}
	now := ss.clock()
	ss.mu.Lock()
	s := ss.byID[c.Value]
	if s != nil && now.After(s.Expires) {
		delete(ss.byID, s.ID)
		s = nil
	}
	ss.mu.Unlock()
	if ss.st == nil || (s != nil && !s.persisted) {
		return s, nil
	}
	h := sessionHash(c.Value)
	kept, err := ss.st.GetPortalSession(r.Context(), h, now)
	if errors.Is(err, store.ErrNotFound) {
		if s != nil {
			ss.forget(s.ID)
		}
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if s != nil {
		return s, nil
	}
	plain, err := ss.sealer.Open(kept.Sealed, sealAD(h))
	if err != nil {
		// Not sealed by this KEK for this id: no session.
		ss.log.Warn("portal session: a kept session does not open", "err", err)
		return nil, nil
	}
	var k keptSession
	if err := json.Unmarshal(plain, &k); err != nil {
		return nil, nil
	}
	s = &Session{ID: c.Value, CSRF: k.CSRF, User: k.User, Expires: k.Expires, persisted: true}
	t := ss.restore(k.Refresh)
	if hold, ok := t.(refreshHolder); ok {
		hold.onRotate(func() {
			if err := ss.keep(context.Background(), s, hold.refreshToken(), ss.clock()); err != nil {
				ss.log.Warn("portal session: could not keep the rotated refresh token", "err", err)
			}
		})
	}
	s.Tokens = t
	ss.remember(s)
	return s, nil
}

func (ss *sessions) forget(id string) {
	ss.mu.Lock()
	delete(ss.byID, id)
	ss.mu.Unlock()
}

// end ends a session here and in the store.
func (ss *sessions) end(ctx context.Context, id string) error {
	ss.forget(id)
	if ss.st == nil {
		return nil
	}
	if err := ss.st.DeletePortalSession(ctx, sessionHash(id)); err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	return nil
}

func (ss *sessions) clearCookie(w http.ResponseWriter) {
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: "", Path: "/", Secure: true, HttpOnly: true,
		SameSite: http.SameSiteLaxMode, MaxAge: -1})
}

// StartSession signs a browser in with tokens the caller already holds and returns the session.
// The portal's own sign-in (authorization code + PKCE at mint's STS) is the only caller in mint;
// tests of the screens use it with a token source of their own.
func (p *Portal) StartSession(w http.ResponseWriter, r *http.Request, u User, t Tokens) *Session {
	s, err := p.sessions.start(w, r, u, t)
	if err != nil {
		p.log.Error("portal session could not be kept", "err", err)
	}
	return s
}

// signOut ends the session and shows the signed-out page.
func (p *Portal) signOut(w http.ResponseWriter, r *http.Request) {
	s, err := p.sessions.fromRequest(r)
	if err != nil {
		p.storeUnavailable(w, r, err)
		return
	}
	if s != nil {
		if err := r.ParseForm(); err != nil || !s.validCSRF(r.PostForm.Get("csrf")) {
			p.render(w, r, s, http.StatusForbidden, "message", page{Title: "Request refused",
				Error: &APIError{Code: "InvalidCsrfToken", Message: "The sign-out form was not sent from this portal session, so you are still signed in."}})
			return
		}
		if err := p.sessions.end(r.Context(), s.ID); err != nil {
			p.storeUnavailable(w, r, err)
			return
		}
	}
	p.sessions.clearCookie(w)
	p.render(w, r, nil, http.StatusOK, "signedout", page{Title: "Signed out", Notice: "You signed out of the mint portal.",
		Data: map[string]string{"Return": Prefix}})
}

// storeUnavailable answers when the store cannot say whether a session exists: 503, the cookie
// kept (the person is not signed out by an outage).
func (p *Portal) storeUnavailable(w http.ResponseWriter, r *http.Request, err error) {
	p.log.Error("portal session store unavailable", "err", err)
	w.Header().Set("Retry-After", "5")
	p.render(w, r, nil, http.StatusServiceUnavailable, "message", page{Title: "Try again",
		Error: &APIError{Status: http.StatusServiceUnavailable, Code: "ServiceUnavailable", Message: "mint's store did not answer, so the portal cannot check your session. Nothing was changed; try again in a few seconds."}})
}
