package audit

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mint-id/mint/internal/store"
)

// fakeSignIns is a sign-in store that can be taken down; it remembers the size of every insert.
type fakeSignIns struct {
	mu      sync.Mutex
	down    bool
	stored  []store.SignIn
	batches []int
}

func (f *fakeSignIns) RecordSignIns(_ context.Context, es []store.SignIn) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.down {
		return fmt.Errorf("record: %w", store.ErrUnavailable)
	}
	f.stored = append(f.stored, es...)
	f.batches = append(f.batches, len(es))
	return nil
}

func (f *fakeSignIns) ListSignIns(context.Context, store.SignInFilter) ([]store.SignIn, error) {
	return nil, errors.New("not used")
}

func (f *fakeSignIns) PurgeSignIns(context.Context, time.Time, int) (int, error) { return 0, nil }

func (f *fakeSignIns) setDown(down bool) {
	f.mu.Lock()
	f.down = down
	f.mu.Unlock()
}

func (f *fakeSignIns) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.stored)
}

// lockedLog is a log sink safe for the loop's goroutine.
type lockedLog struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedLog) lines(substr string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Count(l.b.String(), substr)
}

// Refusals nobody can be named for are counted and summarised, not stored; refusals of a
// principal are stored with their reason, as issued tokens are.
func TestAnonymousRefusalsAreCountedNotStored(t *testing.T) {
	st := &fakeSignIns{}
	var out lockedLog
	l := NewSignInLogWithOptions(st, Options{Logger: slog.New(slog.NewTextHandler(&out, nil)), ReportInterval: time.Hour})
	for range 20_000 {
		l.Record(store.SignIn{Result: "failure", ErrorCode: "AADSTS90002", Reason: "Tenant 'x' not found."})
	}
	l.Record(store.SignIn{Result: "failure", TenantID: "t", AppID: "nobody", ErrorCode: "AADSTS700016"})
	l.Record(store.SignIn{Result: "failure", TenantID: "t", PrincipalID: "p1", AppID: "a1", ErrorCode: "AADSTS7000215", Reason: "Invalid client secret provided."})
	l.Record(store.SignIn{Result: "success", TenantID: "t", PrincipalID: "p1", AppID: "a1"})
	if err := l.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if st.count() != 2 || st.stored[0].ErrorCode != "AADSTS7000215" || st.stored[0].Reason == "" || st.stored[1].Result != "success" {
		t.Errorf("stored %+v, want the principal's refusal and the success", st.stored)
	}
	if got := l.AnonymousRefusals(); got != 20_001 {
		t.Errorf("anonymous refusals %d, want 20001", got)
	}
	if n := out.lines("anonymous sign-in refusals"); n != 1 || out.lines("AADSTS90002=20000") != 1 || out.lines("AADSTS700016=1") != 1 {
		t.Errorf("summary lines %d:\n%s", n, out.b.String())
	}
}

// While the store is down the queue stays bounded, dropping the oldest entries (counted), and
// the failure is logged once per report interval, not once per flush; when the store is back
// the queue is written in bounded inserts.
func TestQueueBoundedWhileStoreDown(t *testing.T) {
	st := &fakeSignIns{down: true}
	var out lockedLog
	l := NewSignInLogWithOptions(st, Options{Logger: slog.New(slog.NewTextHandler(&out, nil)),
		FlushInterval: time.Millisecond, BatchSize: 500, MaxPending: 2000, ReportInterval: 200 * time.Millisecond})
	start := time.Now()
	for i := range 100_000 {
		l.Record(store.SignIn{ID: fmt.Sprintf("e%06d", i), Result: "failure", PrincipalID: "p", ErrorCode: "AADSTS7000215"})
	}
	time.Sleep(700 * time.Millisecond) // several report intervals, hundreds of failed flushes
	if p := l.Pending(); p != 2000 {
		t.Errorf("pending %d, want the bound 2000", p)
	}
	if d := l.Dropped(); d != 98_000 {
		t.Errorf("dropped %d, want 98000", d)
	}
	// At most one line per report interval since the first Record (recording 100,000 entries
	// takes a while on a loaded machine, and the flushes fail all along), never one per flush.
	elapsed := time.Since(start)
	if n, most := out.lines("sign-in log writes failed"), int(elapsed/(200*time.Millisecond))+1; n < 1 || n > most {
		t.Errorf("%d failure lines in %v with a 0.2 s report interval (at most %d):\n%s", n, elapsed, most, out.b.String())
	}
	st.setDown(false)
	deadline := time.Now().Add(5 * time.Second)
	for st.count() < 2000 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if err := l.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if st.count() != 2000 || st.stored[0].ID != "e098000" || st.stored[1999].ID != "e099999" {
		t.Errorf("stored %d entries (first %v), want the newest 2000", st.count(), st.stored[0].ID)
	}
	for _, n := range st.batches {
		if n > 500 {
			t.Errorf("an insert of %d rows, want at most 500", n)
		}
	}
}

// fakePurger deletes from two lists of times, at most limit per call.
type fakePurger struct{ signIns, activity []time.Time }

func purgeFrom(list *[]time.Time, before time.Time, limit int) int {
	n := 0
	kept := (*list)[:0]
	for _, at := range *list {
		if at.Before(before) && n < limit {
			n++
			continue
		}
		kept = append(kept, at)
	}
	*list = kept
	return n
}

func (f *fakePurger) PurgeSignIns(_ context.Context, before time.Time, limit int) (int, error) {
	return purgeFrom(&f.signIns, before, limit), nil
}

func (f *fakePurger) PurgeActivity(_ context.Context, before time.Time, limit int) (int, error) {
	return purgeFrom(&f.activity, before, limit), nil
}

// Purge deletes everything past each log's retention, in as many batches as it takes.
func TestPurgeAppliesEachRetention(t *testing.T) {
	now := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	f := &fakePurger{}
	for i := range 2500 { // one an hour, about 104 days back
		at := now.Add(-time.Duration(i) * time.Hour)
		f.signIns = append(f.signIns, at)
		f.activity = append(f.activity, at)
	}
	signIns, activity, err := Purge(context.Background(), f, DefaultRetention, now)
	if err != nil {
		t.Fatal(err)
	}
	if signIns != 2500-721 || len(f.signIns) != 721 || activity != 2500-2161 || len(f.activity) != 2161 {
		t.Errorf("purged %d sign-ins (%d left), %d events (%d left); want 30 and 90 days kept", signIns, len(f.signIns), activity, len(f.activity))
	}
	if s, a, _ := Purge(context.Background(), f, Retention{}, now.Add(1000*time.Hour)); s != 0 || a != 0 {
		t.Errorf("zero retention purged %d, %d; want nothing (kept forever)", s, a)
	}
}

// A quiet log is written at the next look; a busy one waits (up to MaxDelay) to write a larger
// batch in one insert; Close writes what waits at once.
func TestBusyQueueWaitsForALargerBatch(t *testing.T) {
	quiet := &fakeSignIns{}
	l := NewSignInLogWithOptions(quiet, Options{FlushInterval: 5 * time.Millisecond, BusyRows: 8, MaxDelay: time.Hour})
	for i := range 3 {
		l.Record(store.SignIn{ID: fmt.Sprintf("q%d", i), Result: "success", PrincipalID: "p"})
	}
	deadline := time.Now().Add(5 * time.Second)
	for quiet.count() < 3 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if n := quiet.count(); n != 3 {
		t.Errorf("a quiet queue: %d of 3 entries written within 5 s", n)
	}
	l.Close(context.Background())

	// BusyRows 1: any queue is busy at a look, whatever the look's timing against the Records.
	busy := &fakeSignIns{}
	l = NewSignInLogWithOptions(busy, Options{FlushInterval: 5 * time.Millisecond, BusyRows: 1, MaxDelay: time.Hour})
	for i := range 20 {
		l.Record(store.SignIn{ID: fmt.Sprintf("b%02d", i), Result: "success", PrincipalID: "p"})
	}
	time.Sleep(100 * time.Millisecond) // twenty looks
	if n := busy.count(); n != 0 {
		t.Errorf("a busy queue was written before MaxDelay: %d entries stored", n)
	}
	if err := l.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := busy.count(); n != 20 || len(busy.batches) != 1 {
		t.Errorf("after Close: %d entries in inserts of %v, want 20 in one", n, busy.batches)
	}
}

// A busy queue is written once its oldest entry has waited MaxDelay, in one insert.
func TestBusyQueueIsWrittenAfterMaxDelay(t *testing.T) {
	st := &fakeSignIns{}
	l := NewSignInLogWithOptions(st, Options{FlushInterval: 5 * time.Millisecond, BusyRows: 1, MaxDelay: 300 * time.Millisecond})
	defer l.Close(context.Background())
	start := time.Now()
	for i := range 20 {
		l.Record(store.SignIn{ID: fmt.Sprintf("b%02d", i), Result: "success", PrincipalID: "p"})
	}
	for st.count() < 20 && time.Since(start) < 10*time.Second {
		time.Sleep(5 * time.Millisecond)
	}
	elapsed := time.Since(start)
	st.mu.Lock()
	defer st.mu.Unlock()
	if len(st.stored) != 20 || len(st.batches) != 1 {
		t.Fatalf("%d entries in inserts of %v, want 20 in one", len(st.stored), st.batches)
	}
	if elapsed < 300*time.Millisecond {
		t.Errorf("written after %v, before MaxDelay", elapsed)
	}
}
