// Package audit keeps mint's sign-in log (every token issued or refused) and, with the control
// plane, its activity log. It records what happened and why; it never records a secret or a token.
package audit

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/mint-id/mint/internal/store"
)

// SignInLog records sign-ins in batches so that the token path never waits for a disk flush:
// Record queues, a background loop writes a batch every FlushInterval or BatchSize entries.
// Entries still queued at Close are written before Close returns.
type SignInLog struct {
	st       store.SignIns
	log      *slog.Logger
	interval time.Duration
	batch    int

	mu      sync.Mutex
	pending []store.SignIn
	kick    chan struct{}
	done    chan struct{}
	stopped chan struct{}
	once    sync.Once
}

func NewSignInLog(st store.SignIns, logger *slog.Logger) *SignInLog {
	if logger == nil {
		logger = slog.Default()
	}
	l := &SignInLog{
		st: st, log: logger, interval: 50 * time.Millisecond, batch: 512,
		kick: make(chan struct{}, 1), done: make(chan struct{}), stopped: make(chan struct{}),
	}
	go l.loop()
	return l
}

// Record queues one entry; it never blocks on I/O.
func (l *SignInLog) Record(e store.SignIn) {
	if e.ID == "" {
		e.ID = uuid.NewString()
	}
	if e.Time.IsZero() {
		e.Time = time.Now()
	}
	e.Time = e.Time.UTC()
	l.mu.Lock()
	l.pending = append(l.pending, e)
	full := len(l.pending) >= l.batch
	l.mu.Unlock()
	if full {
		select {
		case l.kick <- struct{}{}:
		default:
		}
	}
}

// Flush writes everything queued so far.
func (l *SignInLog) Flush(ctx context.Context) error {
	l.mu.Lock()
	batch := l.pending
	l.pending = nil
	l.mu.Unlock()
	if len(batch) == 0 {
		return nil
	}
	if err := l.st.RecordSignIns(ctx, batch); err != nil {
		// Put the entries back so that a store outage delays the log instead of losing it.
		l.mu.Lock()
		l.pending = append(batch, l.pending...)
		l.mu.Unlock()
		return err
	}
	return nil
}

func (l *SignInLog) loop() {
	defer close(l.stopped)
	t := time.NewTicker(l.interval)
	defer t.Stop()
	for {
		select {
		case <-l.done:
			return
		case <-t.C:
		case <-l.kick:
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		if err := l.Flush(ctx); err != nil {
			l.log.Warn("sign-in log write failed; will retry", "err", err)
		}
		cancel()
	}
}

// Close stops the loop and writes what is left.
func (l *SignInLog) Close(ctx context.Context) error {
	l.once.Do(func() { close(l.done) })
	<-l.stopped
	return l.Flush(ctx)
}
