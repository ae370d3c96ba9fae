// Package audit keeps mint's sign-in log (every token issued or refused) and, with the control
// plane, its activity log, and applies their retention. It records what happened and why; it
// never records a secret or a token.
package audit

import (
	"context"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"github.com/mint-id/mint/internal/store"
)

// Options tune a SignInLog; zero fields take the defaults.
type Options struct {
	// FlushInterval is how often the queue is looked at (default 50 ms): a queue of fewer than
	// BusyRows entries is written then.
	FlushInterval time.Duration
	// BusyRows is the queue length at a look from which the log is busy (default 16, i.e. 320
	// sign-ins a second at the default interval): a busy queue is written once it holds a full
	// batch or its oldest entry has waited MaxDelay, so that each commit carries hundreds of
	// rows rather than a few dozen. A commit has a fixed cost (on SQLite the WAL's frames and
	// an fsync, a millisecond or two of CPU on a virtual disk) that at 72 rows was a third of
	// the write.
	BusyRows int
	// MaxDelay bounds how long a busy queue waits to fill a batch (default 500 ms).
	MaxDelay time.Duration
	// BatchSize bounds the rows of one insert, and a queue this long is written at once
	// (default 1,000).
	BatchSize int
	// MaxPending bounds the queue while the store does not take writes (default 10,000 entries,
	// a few MB): beyond it the oldest entries are dropped and counted (Dropped).
	MaxPending int
	// ReportInterval is how often the log says that writes fail, and summarises the anonymous
	// refusals of the interval (default 1 min).
	ReportInterval time.Duration
	Logger         *slog.Logger
}

// SignInLog records sign-ins in batches so that the token path never waits for a disk flush:
// Record queues, a background loop writes every FlushInterval, or, while sign-ins arrive fast
// (BusyRows), once a batch is full or MaxDelay has passed. Entries still queued at Close are
// written before Close returns.
//
// Refusals of a principal mint identified (a wrong secret, an expired certificate, a person's
// wrong password) are kept one row each, with their reason. Refusals nobody can be named for
// (an unknown tenant or client, a malformed request: no principal) are anonymous noise that
// anyone on the network can produce at will: they are not stored, only counted
// (AnonymousRefusals, and mint_tokens_total by error code in /metrics) and summarised in one log
// line per ReportInterval, so that 20,000 bad requests do not grow the store.
type SignInLog struct {
	st   store.SignIns
	log  *slog.Logger
	opts Options

	mu      sync.Mutex
	pending []store.SignIn
	since   time.Time      // when the oldest pending entry was queued (about)
	noise   map[string]int // anonymous refusals of the interval, by AADSTS code

	dropped, anonymous atomic.Uint64
	failures           int // failed writes since the last report
	lastErr            error

	kick    chan struct{}
	done    chan struct{}
	stopped chan struct{}
	once    sync.Once
}

// NewSignInLog starts a sign-in log with the default Options.
func NewSignInLog(st store.SignIns, logger *slog.Logger) *SignInLog {
	return NewSignInLogWithOptions(st, Options{Logger: logger})
}

// NewSignInLogWithOptions starts a sign-in log.
func NewSignInLogWithOptions(st store.SignIns, o Options) *SignInLog {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.FlushInterval <= 0 {
		o.FlushInterval = 50 * time.Millisecond
	}
	if o.BatchSize <= 0 {
		o.BatchSize = 1000
	}
	if o.BusyRows <= 0 {
		o.BusyRows = 16
	}
	if o.MaxDelay <= 0 {
		o.MaxDelay = 500 * time.Millisecond
	}
	if o.MaxPending <= 0 {
		o.MaxPending = 10_000
	}
	if o.ReportInterval <= 0 {
		o.ReportInterval = time.Minute
	}
	l := &SignInLog{
		st: st, log: o.Logger, opts: o, noise: map[string]int{},
		kick: make(chan struct{}, 1), done: make(chan struct{}), stopped: make(chan struct{}),
	}
	go l.loop()
	return l
}

// anonymous reports whether e is a refusal no principal can be named for.
func anonymous(e store.SignIn) bool { return e.Result != "success" && e.PrincipalID == "" }

// Record queues one entry (or counts it, when anonymous); it never blocks on I/O.
func (l *SignInLog) Record(e store.SignIn) {
	if anonymous(e) {
		l.anonymous.Add(1)
		l.mu.Lock()
		l.noise[e.ErrorCode]++
		l.mu.Unlock()
		return
	}
	if e.ID == "" {
		e.ID = newID()
	}
	if e.Time.IsZero() {
		e.Time = time.Now()
	}
	e.Time = e.Time.UTC()
	l.mu.Lock()
	if len(l.pending) == 0 {
		l.since = time.Now()
	}
	l.pending = append(l.pending, e)
	l.trimLocked()
	full := len(l.pending) >= l.opts.BatchSize
	l.mu.Unlock()
	if full {
		select {
		case l.kick <- struct{}{}:
		default:
		}
	}
}

// newID is a version 7 (time-ordered) UUID, so that entries are appended at the end of the
// log's primary-key index rather than spread over it.
func newID() string {
	if id, err := uuid.NewV7(); err == nil {
		return id.String()
	}
	return uuid.NewString()
}

// trimLocked drops the oldest entries beyond MaxPending.
func (l *SignInLog) trimLocked() {
	if over := len(l.pending) - l.opts.MaxPending; over > 0 {
		clear(l.pending[:over])
		l.pending = l.pending[over:]
		l.dropped.Add(uint64(over))
	}
}

// Dropped is how many entries were dropped because the queue was full while the store did not
// take writes.
func (l *SignInLog) Dropped() uint64 { return l.dropped.Load() }

// AnonymousRefusals is how many refusals were counted rather than stored.
func (l *SignInLog) AnonymousRefusals() uint64 { return l.anonymous.Load() }

// Pending is how many entries wait to be written.
func (l *SignInLog) Pending() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.pending)
}

// Flush writes everything queued so far, in inserts of at most BatchSize rows. On a failure the
// entries not written go back to the front of the queue (a store outage delays the log rather
// than losing it, up to MaxPending).
func (l *SignInLog) Flush(ctx context.Context) error {
	for {
		l.mu.Lock()
		n := min(len(l.pending), l.opts.BatchSize)
		batch := slices.Clone(l.pending[:n])
		l.mu.Unlock()
		if n == 0 {
			return nil
		}
		if err := l.st.RecordSignIns(ctx, batch); err != nil {
			return err
		}
		l.mu.Lock()
		// Entries dropped meanwhile may have shifted the queue: remove what was written by id.
		written := make(map[string]bool, n)
		for _, e := range batch {
			written[e.ID] = true
		}
		l.pending = slices.DeleteFunc(l.pending, func(e store.SignIn) bool { return written[e.ID] })
		if len(l.pending) > 0 {
			l.since = time.Now() // those left came during the write, or wait for the next insert
		}
		l.mu.Unlock()
	}
}

func (l *SignInLog) loop() {
	defer close(l.stopped)
	flush := time.NewTicker(l.opts.FlushInterval)
	defer flush.Stop()
	report := time.NewTicker(l.opts.ReportInterval)
	defer report.Stop()
	for {
		select {
		case <-l.done:
			l.report()
			return
		case <-report.C:
			l.report()
			continue
		case now := <-flush.C:
			if !l.due(now) {
				continue
			}
		case <-l.kick:
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		if err := l.Flush(ctx); err != nil {
			l.mu.Lock()
			l.failures++
			l.lastErr = err
			l.mu.Unlock()
		}
		cancel()
	}
}

// due reports whether the queue is to be written at a look at time now: a short queue at once,
// a busy one when its oldest entry has waited MaxDelay (a full one is written on its kick).
func (l *SignInLog) due(now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := len(l.pending)
	return n > 0 && (n < l.opts.BusyRows || now.Sub(l.since) >= l.opts.MaxDelay)
}

// report writes at most two log lines for the interval: failed writes (with the queue and the
// drops), and the anonymous refusals by code.
func (l *SignInLog) report() {
	l.mu.Lock()
	failures, lastErr, pending := l.failures, l.lastErr, len(l.pending)
	noise := l.noise
	l.failures, l.lastErr, l.noise = 0, nil, map[string]int{}
	l.mu.Unlock()
	if failures > 0 {
		l.log.Warn("sign-in log writes failed; will retry", "failures", failures, "pending", pending,
			"dropped_total", l.dropped.Load(), "err", lastErr)
	}
	if len(noise) > 0 {
		attrs := []any{"interval", l.opts.ReportInterval.String()}
		total := 0
		for _, code := range slices.Sorted(maps.Keys(noise)) {
			name := code
			if name == "" {
				name = "none"
			}
			attrs = append(attrs, name, noise[code])
			total += noise[code]
		}
		l.log.Info("anonymous sign-in refusals (not stored)", append([]any{"total", total}, attrs...)...)
	}
}

// Close stops the loop and writes what is left.
func (l *SignInLog) Close(ctx context.Context) error {
	l.once.Do(func() { close(l.done) })
	<-l.stopped
	return l.Flush(ctx)
}
