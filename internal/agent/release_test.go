package agent

import (
	"sync/atomic"
	"testing"
	"time"
)

// TestReleaserWaitsForQuietAndSpacesReleases: a burst of calls is followed by one release once
// calls stop for the quiet period, none while they continue, and releases are spaced by at
// least minInterval however calls come.
func TestReleaserWaitsForQuietAndSpacesReleases(t *testing.T) {
	var n atomic.Int32
	var at []time.Time
	released := make(chan struct{}, 10)
	r := newReleaser(40*time.Millisecond, func() { n.Add(1); at = append(at, time.Now()); released <- struct{}{} })
	defer r.stop()

	// Calls every 10 ms for 200 ms: never quiet for 40 ms, so no release yet.
	for range 20 {
		r.callDone()
		time.Sleep(10 * time.Millisecond)
	}
	if got := n.Load(); got != 0 {
		t.Fatalf("%d releases during the burst, want 0", got)
	}
	select {
	case <-released:
	case <-time.After(2 * time.Second):
		t.Fatal("no release after the burst")
	}
	// Another call at once: its release waits for minInterval after the first.
	r.callDone()
	select {
	case <-released:
	case <-time.After(2 * time.Second):
		t.Fatal("no release after the second call")
	}
	if gap := at[1].Sub(at[0]); gap < r.minInterval {
		t.Errorf("releases %v apart, want at least %v", gap, r.minInterval)
	}
	r.stop()
	r.callDone()
	time.Sleep(3 * r.minInterval)
	if got := n.Load(); got != 2 {
		t.Errorf("%d releases, want 2 (none after stop)", got)
	}
}
