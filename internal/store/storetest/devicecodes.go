package storetest

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/mint-id/mint/internal/store"
)

func testDeviceCodes(t *testing.T, s store.Store) {
	ctx := context.Background()
	now := time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)
	c := store.DeviceCode{DeviceCodeHash: "h1", UserCode: "BCDFGHJKL", ClientID: "04b07795-8ddb-461a-bbee-02f9e1bf7b46", ClientName: "Microsoft Azure CLI",
		Version: 2, TenantSegment: "organizations", Scope: "https://management.core.windows.net//.default offline_access", ExpiresAt: now.Add(15 * time.Minute),
		State: store.DeviceCodePending, CreatedAt: now}
	if err := s.CreateDeviceCode(ctx, c); err != nil {
		t.Fatal(err)
	}
	for _, dup := range []store.DeviceCode{{DeviceCodeHash: "h1", UserCode: "OTHER", ExpiresAt: c.ExpiresAt, State: store.DeviceCodePending, CreatedAt: now},
		{DeviceCodeHash: "h2", UserCode: c.UserCode, ExpiresAt: c.ExpiresAt, State: store.DeviceCodePending, CreatedAt: now}} {
		if err := s.CreateDeviceCode(ctx, dup); !errors.Is(err, store.ErrConflict) {
			t.Errorf("duplicate %s/%s: %v, want ErrConflict", dup.DeviceCodeHash, dup.UserCode, err)
		}
	}
	got, err := s.GetDeviceCodeByUserCode(ctx, c.UserCode)
	if err != nil || got.DeviceCodeHash != "h1" || got.Scope != c.Scope || got.Version != 2 || !got.ExpiresAt.Equal(c.ExpiresAt) ||
		got.State != store.DeviceCodePending || !got.AuthTime.IsZero() {
		t.Fatalf("get by user code: %+v, %v", got, err)
	}
	if _, err := s.GetDeviceCodeByUserCode(ctx, "NOPE"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("unknown user code: %v", err)
	}
	if got, err := s.PollDeviceCode(ctx, "h1"); err != nil || got.State != store.DeviceCodePending {
		t.Errorf("poll pending: %+v %v", got, err)
	}
	if err := s.DecideDeviceCode(ctx, "h1", store.DeviceCodeApproved, "u1", "t1", now, now.Add(16*time.Minute)); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("decide after expiry: %v", err)
	}
	if err := s.DecideDeviceCode(ctx, "h1", store.DeviceCodeRedeemed, "u1", "t1", now, now); err == nil {
		t.Error("redeemed accepted as a decision")
	}
	authTime := now.Add(time.Minute)
	if err := s.DecideDeviceCode(ctx, "h1", store.DeviceCodeApproved, "u1", "t1", authTime, now); err != nil {
		t.Fatal(err)
	}
	if err := s.DecideDeviceCode(ctx, "h1", store.DeviceCodeDeclined, "", "", now, now); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("second decision: %v", err)
	}
	// Concurrent polls: exactly one sees it approved.
	var mu sync.Mutex
	approved := 0
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got, err := s.PollDeviceCode(ctx, "h1")
			if err != nil {
				t.Error(err)
				return
			}
			if got.State == store.DeviceCodeApproved {
				if got.UserID != "u1" || got.TenantID != "t1" || !got.AuthTime.Equal(authTime) {
					t.Errorf("approved poll: %+v", got)
				}
				mu.Lock()
				approved++
				mu.Unlock()
			} else if got.State != store.DeviceCodeRedeemed {
				t.Errorf("state %q", got.State)
			}
		}()
	}
	wg.Wait()
	if approved != 1 {
		t.Errorf("%d polls saw the code approved, want 1", approved)
	}
	if _, err := s.PollDeviceCode(ctx, "nope"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("unknown device code: %v", err)
	}
	// A new code removes expired ones.
	if err := s.CreateDeviceCode(ctx, store.DeviceCode{DeviceCodeHash: "h3", UserCode: "XYZ", ExpiresAt: now.Add(time.Hour), State: store.DeviceCodePending,
		CreatedAt: now.Add(20 * time.Minute)}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.PollDeviceCode(ctx, "h1"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("expired code kept: %v", err)
	}
}
