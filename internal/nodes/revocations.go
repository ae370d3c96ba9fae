package nodes

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/mint-id/mint/internal/nodewire"
	"github.com/mint-id/mint/internal/store"
)

// The revocation feed, server side. The store writes an entry in the same transaction as each
// change that revokes tokens (store.Revocation), numbered in commit order. Every server polls
// the store for new entries (Feed.Run, every FeedInterval), keeps the recent ones in memory and
// wakes the node agents' long polls, so a change made through any replica reaches the agents
// connected to any other within one interval plus a round trip.

// FeedInterval is how often a server reads new revocations from the store.
const FeedInterval = 100 * time.Millisecond

// feedMemory bounds the entries a server keeps in memory; an agent further behind is answered
// from the store.
const feedMemory = 4096

// feedRetention is how long entries stay in the store: past the longest token lifetime (24 h),
// an agent that was away longer has no token left that an entry could concern... except the
// tokens it still holds, which is why an agent whose cursor is older than the oldest entry is
// told to drop everything (Reset).
const feedRetention = 25 * time.Hour

// maxPollWait caps how long a long poll is held, under the server's 30 s read timeout.
const maxPollWait = 20 * time.Second

// FeedStore is what the feed reads.
type FeedStore interface {
	ListRevocations(ctx context.Context, after int64, limit int) ([]store.Revocation, error)
	RevocationBounds(ctx context.Context) (first, last int64, err error)
	PurgeRevocations(ctx context.Context, before time.Time) (int64, error)
}

// Feed is one server's view of the revocation feed.
type Feed struct {
	st       FeedStore
	log      *slog.Logger
	interval time.Duration

	mu      sync.Mutex
	ready   bool
	floor   int64              // every entry after floor up to last is in buf
	last    int64              // the highest seq seen
	buf     []store.Revocation // ascending
	changed chan struct{}      // closed (and replaced) when last moves or the feed becomes ready
	done    chan struct{}      // closed when Run ends, to release the long polls at shutdown
	polls   int64              // answered polls, for the operator (Stats)
	seen    int64              // entries read from the store
	errors  int64              // failed reads of the store
}

// NewFeed returns a feed over st; interval 0 means FeedInterval.
func NewFeed(st FeedStore, interval time.Duration, logger *slog.Logger) *Feed {
	if interval <= 0 {
		interval = FeedInterval
	}
	if logger == nil {
		logger = slog.Default()
	}
	return &Feed{st: st, log: logger, interval: interval, changed: make(chan struct{}), done: make(chan struct{})}
}

// Run polls the store until ctx ends, and purges entries older than the retention every 10
// minutes (every server does; deleting what another deleted is harmless).
func (f *Feed) Run(ctx context.Context) {
	tick := time.NewTicker(f.interval)
	defer tick.Stop()
	defer close(f.done)
	lastPurge := time.Now()
	failing := false
	for {
		err := f.poll(ctx)
		if err != nil && ctx.Err() == nil {
			f.mu.Lock()
			f.errors++
			f.mu.Unlock()
		}
		switch {
		case err != nil && ctx.Err() == nil && !failing:
			f.log.Warn("revocation feed: cannot read the store; node agents keep their tokens until it answers", "err", err)
			failing = true
		case err == nil && failing:
			f.log.Info("revocation feed: the store answers again")
			failing = false
		}
		if time.Since(lastPurge) > 10*time.Minute {
			lastPurge = time.Now()
			if n, err := f.st.PurgeRevocations(ctx, time.Now().Add(-feedRetention)); err != nil {
				f.log.Warn("revocation feed: purge failed", "err", err)
			} else if n > 0 {
				f.log.Info("revocation feed: old entries purged", "count", n)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// poll reads the entries after the last one seen.
func (f *Feed) poll(ctx context.Context) error {
	f.mu.Lock()
	ready, last := f.ready, f.last
	f.mu.Unlock()
	if !ready {
		_, last, err := f.st.RevocationBounds(ctx)
		if err != nil {
			return err
		}
		f.mu.Lock()
		f.ready, f.floor, f.last = true, last, last
		f.wakeLocked()
		f.mu.Unlock()
		return nil
	}
	for {
		page, err := f.st.ListRevocations(ctx, last, 1000)
		if err != nil || len(page) == 0 {
			return err
		}
		f.mu.Lock()
		f.buf = append(f.buf, page...)
		if over := len(f.buf) - feedMemory; over > 0 {
			f.floor = f.buf[over-1].Seq
			f.buf = append(f.buf[:0:0], f.buf[over:]...)
		}
		f.last = page[len(page)-1].Seq
		f.seen += int64(len(page))
		last = f.last
		f.wakeLocked()
		f.mu.Unlock()
		f.log.Info("revocations seen", "count", len(page), "cursor", last)
		if len(page) < 1000 {
			return nil
		}
	}
}

func (f *Feed) wakeLocked() {
	close(f.changed)
	f.changed = make(chan struct{})
}

// Since answers a poll at cursor after (negative: the agent has none yet) without waiting.
func (f *Feed) Since(ctx context.Context, after int64) (nodewire.Revocations, error) {
	f.mu.Lock()
	if !f.ready {
		f.mu.Unlock()
		return nodewire.Revocations{}, fmt.Errorf("the revocation feed has not read the store yet")
	}
	last, floor := f.last, f.floor
	if after < 0 || after > last {
		// A first poll, or a cursor from another database: the agent drops everything.
		f.mu.Unlock()
		return nodewire.Revocations{Cursor: last, Reset: true, Revocations: []nodewire.Revocation{}}, nil
	}
	if after >= floor {
		out := nodewire.Revocations{Cursor: last, Revocations: []nodewire.Revocation{}}
		for _, r := range f.buf {
			if r.Seq > after {
				out.Revocations = append(out.Revocations, nodewire.Revocation{ResourceID: r.ResourceID, PrincipalID: r.PrincipalID})
			}
		}
		f.mu.Unlock()
		return out, nil
	}
	f.mu.Unlock()
	// Further behind than memory: the store, if it still has every entry after the cursor.
	first, _, err := f.st.RevocationBounds(ctx)
	if err != nil {
		return nodewire.Revocations{}, err
	}
	if after < first-1 {
		return nodewire.Revocations{Cursor: last, Reset: true, Revocations: []nodewire.Revocation{}}, nil
	}
	page, err := f.st.ListRevocations(ctx, after, 1000)
	if err != nil {
		return nodewire.Revocations{}, err
	}
	out := nodewire.Revocations{Cursor: after, Revocations: []nodewire.Revocation{}}
	for _, r := range page {
		out.Revocations = append(out.Revocations, nodewire.Revocation{ResourceID: r.ResourceID, PrincipalID: r.PrincipalID})
		out.Cursor = r.Seq
	}
	return out, nil
}

// Wait answers a poll at cursor after as soon as there is something after it, or with nothing
// when wait has passed or ctx ends.
func (f *Feed) Wait(ctx context.Context, after int64, wait time.Duration) (nodewire.Revocations, error) {
	timer := time.NewTimer(wait)
	defer timer.Stop()
	for {
		f.mu.Lock()
		ready, last, changed := f.ready, f.last, f.changed
		f.mu.Unlock()
		if ready && after != last {
			return f.Since(ctx, after)
		}
		select {
		case <-changed:
		case <-timer.C:
			if !ready {
				return nodewire.Revocations{}, fmt.Errorf("the revocation feed has not read the store yet")
			}
			return nodewire.Revocations{Cursor: last, Revocations: []nodewire.Revocation{}}, nil
		case <-ctx.Done():
			return nodewire.Revocations{Cursor: last, Revocations: []nodewire.Revocation{}}, nil
		case <-f.done:
			return nodewire.Revocations{}, fmt.Errorf("the server is shutting down")
		}
	}
}

// FeedStats is what an operator reads about the feed (mint's /metrics).
type FeedStats struct {
	Cursor int64 // the highest entry this server has seen
	Seen   int64 // entries read from the store since start
	Polls  int64 // node agents' polls answered
	Errors int64 // failed reads of the store
}

// Stats reports the feed's position and use.
func (f *Feed) Stats() FeedStats {
	f.mu.Lock()
	defer f.mu.Unlock()
	return FeedStats{Cursor: f.last, Seen: f.seen, Polls: f.polls, Errors: f.errors}
}

// WithRevocations serves the revocation feed to nodes.
func (h *Handler) WithRevocations(f *Feed) *Handler {
	h.feed = f
	return h
}

// revocations serves a node agent's long poll. The caller signs in as the node and must still be
// one (hold the broker role somewhere): a node that lost it is answered 403, and drops every
// token it holds.
func (h *Handler) revocations(w http.ResponseWriter, r *http.Request) {
	if h.feed == nil {
		writeError(w, &InputError{http.StatusNotFound, "NotFound", "this server has no revocation feed"})
		return
	}
	claims, ok := h.node(w, r, "hold no managed-identity token")
	if !ok {
		return
	}
	q := r.URL.Query()
	after := int64(-1) // the agent's first poll
	if s := q.Get(nodewire.ParamAfter); s != "" {
		var err error
		if after, err = strconv.ParseInt(s, 10, 64); err != nil {
			after = -1
		}
	}
	if q.Get(nodewire.ParamAfter) != "" && after < 0 {
		writeError(w, &InputError{http.StatusBadRequest, "InvalidCursor", fmt.Sprintf("%s must be the cursor of an earlier answer (a non-negative integer)", nodewire.ParamAfter)})
		return
	}
	wait := time.Duration(0)
	if s := q.Get(nodewire.ParamWait); s != "" {
		var err error
		if wait, err = time.ParseDuration(s); err != nil || wait < 0 {
			writeError(w, &InputError{http.StatusBadRequest, "InvalidWait", fmt.Sprintf("%s must be a duration like 20s", nodewire.ParamWait)})
			return
		}
	}
	wait = min(wait, maxPollWait)
	out, err := h.feed.Wait(r.Context(), after, wait)
	if err != nil {
		h.log.Warn("revocation poll failed", "client_id", claims.ClientID(), "err", err)
		w.Header().Set("Retry-After", "1")
		writeError(w, &InputError{http.StatusServiceUnavailable, "ServiceUnavailable", "the revocation feed cannot read the store now; retry later"})
		return
	}
	h.feed.mu.Lock()
	h.feed.polls++
	h.feed.mu.Unlock()
	writeJSON(w, http.StatusOK, out)
}
