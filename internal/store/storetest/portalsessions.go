package storetest

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/mint-id/mint/internal/store"
)

func testPortalSessions(t *testing.T, s store.Store) {
	ctx := context.Background()
	now := time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)
	a := store.PortalSession{IDHash: "a1", Sealed: []byte{0, 1, 2, 255}, ExpiresAt: now.Add(8 * time.Hour), CreatedAt: now}
	if err := s.PutPortalSession(ctx, a); err != nil {
		t.Fatal(err)
	}
	got, err := s.GetPortalSession(ctx, "a1", now)
	if err != nil || !bytes.Equal(got.Sealed, a.Sealed) || !got.ExpiresAt.Equal(a.ExpiresAt) || !got.CreatedAt.Equal(now) {
		t.Fatalf("get: %+v, %v", got, err)
	}
	if _, err := s.GetPortalSession(ctx, "nope", now); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("unknown: %v", err)
	}
	// Expired: not returned.
	if _, err := s.GetPortalSession(ctx, "a1", a.ExpiresAt); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("expired session returned: %v", err)
	}
	// Replace (a rotated refresh token): new sealed bytes, same creation time.
	a2 := a
	a2.Sealed, a2.CreatedAt = []byte("resealed"), now.Add(time.Hour)
	if err := s.PutPortalSession(ctx, a2); err != nil {
		t.Fatal(err)
	}
	if got, err := s.GetPortalSession(ctx, "a1", now); err != nil || string(got.Sealed) != "resealed" || !got.CreatedAt.Equal(now) {
		t.Fatalf("after replace: %+v, %v", got, err)
	}
	// A Put purges the sessions expired before it.
	old := store.PortalSession{IDHash: "old", Sealed: []byte("x"), ExpiresAt: now.Add(time.Minute), CreatedAt: now}
	if err := s.PutPortalSession(ctx, old); err != nil {
		t.Fatal(err)
	}
	later := store.PortalSession{IDHash: "b1", Sealed: []byte("y"), ExpiresAt: now.Add(9 * time.Hour), CreatedAt: now.Add(2 * time.Minute)}
	if err := s.PutPortalSession(ctx, later); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetPortalSession(ctx, "old", now); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("expired session not purged: %v", err)
	}
	// Sign-out.
	if err := s.DeletePortalSession(ctx, "a1"); err != nil {
		t.Fatal(err)
	}
	if err := s.DeletePortalSession(ctx, "a1"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("second delete: %v", err)
	}
	if _, err := s.GetPortalSession(ctx, "a1", now); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("deleted session returned: %v", err)
	}
	if _, err := s.GetPortalSession(ctx, "b1", now); err != nil {
		t.Errorf("other session gone: %v", err)
	}
}
