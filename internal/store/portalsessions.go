package store

import (
	"context"
	"time"
)

// PortalSession is a signed-in browser of the web portal, shared by every server so that a
// session survives a restart and works on any replica.
type PortalSession struct {
	// IDHash is the hex SHA-256 of the session id: the id, the bearer secret the browser's
	// cookie carries, is never stored.
	IDHash string
	// Sealed is the session (the person, the CSRF token, the person's refresh token) sealed
	// under the key-encryption key by the portal; the store never sees it in clear.
	Sealed    []byte
	ExpiresAt time.Time
	CreatedAt time.Time
}

// PortalSessions keeps the portal's browser sessions.
type PortalSessions interface {
	// PutPortalSession stores s, or replaces the session with its IDHash (a rotated refresh
	// token), and deletes the sessions expired before s.CreatedAt.
	PutPortalSession(ctx context.Context, s PortalSession) error
	// GetPortalSession returns the session unless it has expired at now; ErrNotFound otherwise.
	GetPortalSession(ctx context.Context, idHash string, now time.Time) (PortalSession, error)
	// DeletePortalSession ends a session (sign-out); ErrNotFound when there is none.
	DeletePortalSession(ctx context.Context, idHash string) error
}
