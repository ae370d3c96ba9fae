package nodes

import (
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/mint-id/mint/internal/store"
)

// memFeed is an in-memory FeedStore.
type memFeed struct {
	mu     sync.Mutex
	rows   []store.Revocation
	last   int64
	purged int64 // entries up to this seq were purged
}

func (m *memFeed) add(principals ...string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, p := range principals {
		m.last++
		m.rows = append(m.rows, store.Revocation{Seq: m.last, PrincipalID: p, CreatedAt: time.Now()})
	}
}

func (m *memFeed) ListRevocations(_ context.Context, after int64, limit int) ([]store.Revocation, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []store.Revocation
	for _, r := range m.rows {
		if r.Seq > after && r.Seq > m.purged && len(out) < limit {
			out = append(out, r)
		}
	}
	return out, nil
}

func (m *memFeed) RevocationBounds(context.Context) (int64, int64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	first := m.purged + 1
	return first, m.last, nil
}

func (m *memFeed) PurgeRevocations(context.Context, time.Time) (int64, error) { return 0, nil }

func principals(t *testing.T, f *Feed, after int64) (cursor int64, reset bool, ps []string) {
	t.Helper()
	out, err := f.Since(t.Context(), after)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range out.Revocations {
		ps = append(ps, r.PrincipalID)
	}
	return out.Cursor, out.Reset, ps
}

func TestFeed(t *testing.T) {
	st := &memFeed{}
	st.add("before-start")
	f := NewFeed(st, time.Millisecond, slog.New(slog.DiscardHandler))
	if _, err := f.Since(t.Context(), 0); err == nil {
		t.Error("a feed that has not read the store answered")
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	go f.Run(ctx)

	// A first poll (no cursor) resets the agent and hands it the current cursor.
	out, err := f.Wait(t.Context(), -1, time.Second)
	if err != nil || !out.Reset || out.Cursor != 1 {
		t.Fatalf("first poll: %+v, %v; want a reset at cursor 1", out, err)
	}
	// Nothing new: a long poll returns after its wait.
	began := time.Now()
	if out, err := f.Wait(t.Context(), 1, 50*time.Millisecond); err != nil || out.Reset || len(out.Revocations) != 0 || out.Cursor != 1 {
		t.Errorf("idle poll: %+v, %v", out, err)
	}
	if time.Since(began) < 50*time.Millisecond {
		t.Errorf("an idle poll returned before its wait")
	}
	// A waiting poll wakes for a new entry.
	got := make(chan []string, 1)
	go func() {
		out, _ := f.Wait(t.Context(), 1, 10*time.Second)
		var ps []string
		for _, r := range out.Revocations {
			ps = append(ps, r.PrincipalID)
		}
		got <- ps
	}()
	time.Sleep(20 * time.Millisecond)
	st.add("p2", "p3")
	select {
	case ps := <-got:
		if len(ps) == 0 || ps[0] != "p2" {
			t.Errorf("woken poll got %v, want p2 (and p3)", ps)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a waiting poll was not woken by a new entry")
	}
	waitCursor(t, f, 3)
	if c, r, ps := principals(t, f, 1); c != 3 || r || len(ps) != 2 {
		t.Errorf("since 1: cursor %d reset %v %v", c, r, ps)
	}
	// A cursor this database never gave (another database): reset.
	if _, r, _ := principals(t, f, 99); !r {
		t.Error("a cursor beyond the feed was not reset")
	}
	// Behind what memory keeps: answered from the store; behind what the store keeps: reset.
	f.mu.Lock()
	f.floor, f.buf = 3, nil
	f.mu.Unlock()
	if c, r, ps := principals(t, f, 1); r || c != 3 || len(ps) != 2 || ps[1] != "p3" {
		t.Errorf("from the store: cursor %d reset %v %v", c, r, ps)
	}
	st.mu.Lock()
	st.purged = 2
	st.mu.Unlock()
	if _, r, _ := principals(t, f, 1); !r {
		t.Error("a cursor older than the store's oldest entry was not reset")
	}
	if c, r, ps := principals(t, f, 2); r || c != 3 || len(ps) != 1 {
		t.Errorf("right at the purge: cursor %d reset %v %v", c, r, ps)
	}
	// Shutting down releases the long polls.
	cancel()
	done := make(chan struct{})
	go func() { f.Wait(context.Background(), 3, time.Minute); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Error("a long poll outlived the feed")
	}
}

func waitCursor(t *testing.T, f *Feed, want int64) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); f.Stats().Cursor < want; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("cursor %d, want %d", f.Stats().Cursor, want)
		}
	}
}
