package agent

import (
	"sync/atomic"
	"time"
)

// RateLimit is the per-workload token-request limit. The zero value is IMDS's managed-identity
// category: 20 requests/s with bursts of 40.
type RateLimit struct {
	PerSecond float64 // sustained rate; 0 means 20
	Burst     int     // requests allowed at once; 0 means 40
	Disabled  bool    // no limit at all
}

// Default rate limit, IMDS's managed-identity category (20 req/s per VM), with a burst of 40.
const (
	DefaultRatePerSecond = 20
	DefaultRateBurst     = 40
)

// limiter is a GCRA token bucket in one atomic word, so a workload's requests never take a lock
// and one workload's limit never slows another's.
type limiter struct {
	tat       atomic.Int64 // theoretical arrival time, unix nanoseconds
	interval  int64        // nanoseconds per request at the sustained rate
	tolerance int64        // burst × interval
}

func newLimiter(rl RateLimit) *limiter {
	if rl.Disabled {
		return nil
	}
	rate, burst := rl.PerSecond, rl.Burst
	if rate <= 0 {
		rate = DefaultRatePerSecond
	}
	if burst <= 0 {
		burst = DefaultRateBurst
	}
	interval := int64(float64(time.Second) / rate)
	if interval < 1 {
		interval = 1
	}
	return &limiter{interval: interval, tolerance: int64(burst) * interval}
}

// allow takes one request at now (unix nanoseconds); when refused it says how long until the
// next request would be allowed.
func (l *limiter) allow(now int64) (bool, time.Duration) {
	if l == nil {
		return true, 0
	}
	for {
		old := l.tat.Load()
		tat := old
		if tat < now {
			tat = now
		}
		next := tat + l.interval
		if over := next - now - l.tolerance; over > 0 {
			return false, time.Duration(over)
		}
		if l.tat.CompareAndSwap(old, next) {
			return true, 0
		}
	}
}
