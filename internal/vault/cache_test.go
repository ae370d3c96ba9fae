package vault

import (
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

// TestTTLCache runs in a synctest bubble: synctest.Wait returns once every goroutine is blocked,
// the loader on release and the others on its answer, with no sleep to guess how long that takes.
func TestTTLCache(t *testing.T) { synctest.Test(t, testTTLCache) }

func testTTLCache(t *testing.T) {
	clock := &fakeClock{}
	c := newTTLCache[int](clock.Now)
	var loads atomic.Int32
	release := make(chan struct{})
	load := func() (int, time.Duration, error) {
		loads.Add(1)
		<-release
		return 7, MaxCacheTTL, nil
	}
	// Concurrent misses of one key load it once.
	var wg sync.WaitGroup
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if v, err := c.get("k", load); err != nil || v != 7 {
				t.Errorf("get: %d %v", v, err)
			}
		}()
	}
	synctest.Wait()
	if n := loads.Load(); n != 1 {
		t.Fatalf("%d loads started for concurrent misses, want 1", n)
	}
	close(release)
	wg.Wait()
	if n := loads.Load(); n != 1 {
		t.Fatalf("%d loads for concurrent misses, want 1", n)
	}
	c.get("k", load)
	if n := loads.Load(); n != 1 {
		t.Fatalf("a fresh entry was loaded again (%d loads)", n)
	}
	// Past the TTL (which is never more than MaxCacheTTL) it is loaded again.
	clock.Advance(MaxCacheTTL)
	c.get("k", load)
	if n := loads.Load(); n != 2 {
		t.Fatalf("%d loads after expiry, want 2", n)
	}
	c.get("long", func() (int, time.Duration, error) { return 1, time.Hour, nil })
	clock.Advance(MaxCacheTTL)
	if v, _ := c.get("long", func() (int, time.Duration, error) { return 2, time.Hour, nil }); v != 2 {
		t.Fatal("a TTL above MaxCacheTTL was kept")
	}
	// Errors and zero TTLs are not kept.
	boom := errors.New("boom")
	if _, err := c.get("e", func() (int, time.Duration, error) { return 0, MaxCacheTTL, boom }); !errors.Is(err, boom) {
		t.Fatal(err)
	}
	if v, err := c.get("e", func() (int, time.Duration, error) { return 3, 0, nil }); err != nil || v != 3 {
		t.Fatal("an error was kept")
	}
	if v, _ := c.get("e", func() (int, time.Duration, error) { return 4, 0, nil }); v != 4 {
		t.Fatal("a zero TTL was kept")
	}
}
