package agent

import (
	"sync"
	"time"
)

// Returning memory after bursts of upstream calls. A token fetched from upstream costs the agent
// ~100 kB of short-lived garbage (the node's signed assertion, TLS records, the JSON answer)
// against ~2 kB kept; a burst of them (a node starting its workloads, a revocation dropping many
// tokens) leaves the Go heap grown to the GC's goal with freed spans, and goroutine stacks grown
// by the calls. The runtime's scavenger gives those pages back only slowly (it keeps ~10% above
// the heap goal) and stacks shrink only at a GC, so the resident set of a daemon that then
// serves from its cache, allocating almost nothing, would stay at the burst's peak. Once the
// calls have been quiet for a while, the agent collects and returns the freed pages at once
// (debug.FreeOSMemory). The cached path never triggers it, and a release is at most one GC of
// the cache's live heap per minInterval.

// releaser runs release once calls have been quiet for quiet, and not more often than once per
// minInterval.
type releaser struct {
	quiet, minInterval time.Duration
	release            func()

	mu      sync.Mutex
	timer   *time.Timer
	last    time.Time // the last release
	stopped bool
}

func newReleaser(quiet time.Duration, release func()) *releaser {
	return &releaser{quiet: quiet, minInterval: 4 * quiet, release: release}
}

// callDone notes that an upstream call finished: the release waits for quiet from now.
func (r *releaser) callDone() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.stopped {
		return
	}
	if r.timer == nil {
		r.timer = time.AfterFunc(r.quiet, r.fire)
		return
	}
	r.timer.Reset(r.quiet)
}

func (r *releaser) fire() {
	r.mu.Lock()
	if r.stopped {
		r.mu.Unlock()
		return
	}
	if wait := r.minInterval - time.Since(r.last); !r.last.IsZero() && wait > 0 {
		r.timer.Reset(wait)
		r.mu.Unlock()
		return
	}
	r.last = time.Now()
	r.mu.Unlock()
	r.release()
}

func (r *releaser) stop() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.stopped = true
	if r.timer != nil {
		r.timer.Stop()
	}
}
