package agent

import (
	"math/rand/v2"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mint-id/mint/internal/agent/dialect"
)

// CacheConfig tunes the token cache.
type CacheConfig struct {
	// MaxEntries bounds the number of cached (resource, identity, audience) keys; 0 means 10,000.
	// When full, expired entries go first, then the least recently used.
	MaxEntries int
	// NegativeTTL is how long a refusal (identity not attached, node not allowed, ...) is
	// remembered for a key, so a retrying workload does not hammer the server; 0 means 2 s,
	// negative disables it.
	NegativeTTL time.Duration
}

const (
	defaultMaxEntries  = 10000
	defaultNegativeTTL = 2 * time.Second
	// minCacheLife: a token with less life than this is served but never cached. MSAL (Go, JS,
	// Python) will not cache it either, so the agent answers such a key's requests from upstream.
	minCacheLife = 5 * time.Minute
	// minRefreshDelay keeps a server that hands back an old token from being asked again at once.
	minRefreshDelay = time.Minute
	maxBackoff      = 30 * time.Second
)

// cache maps (resource id, identity selector, audience) to entries. Lookups take a read lock on
// a plain map with a []byte key converted in place, so the hit path does not allocate.
type cache struct {
	mu  sync.RWMutex
	m   map[string]*entry
	max int
}

func newCache(max int) *cache {
	if max <= 0 {
		max = defaultMaxEntries
	}
	return &cache{m: make(map[string]*entry), max: max}
}

// appendKey builds the cache key. Resource ids and identity ids are case-insensitive in Azure, so
// they are lower-cased (ASCII); the audience is kept exact because it is echoed into aud.
func appendKey(dst []byte, resourceID string, sel Selector, audience string) []byte {
	dst = appendLower(dst, resourceID)
	dst = append(dst, 0)
	switch {
	case sel.ClientID != "":
		dst = append(dst, 'c')
		dst = appendLower(dst, sel.ClientID)
	case sel.ObjectID != "":
		dst = append(dst, 'o')
		dst = appendLower(dst, sel.ObjectID)
	case sel.ResourceID != "":
		dst = append(dst, 'r')
		dst = appendLower(dst, sel.ResourceID)
	}
	dst = append(dst, 0)
	return append(dst, audience...)
}

func appendLower(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		dst = append(dst, c)
	}
	return dst
}

func (c *cache) get(key []byte) *entry {
	c.mu.RLock()
	e := c.m[string(key)]
	c.mu.RUnlock()
	return e
}

// getOrCreate returns the entry for key, creating it (and evicting if full).
func (c *cache) getOrCreate(key []byte, req TokenRequest, now time.Time) *entry {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e := c.m[string(key)]; e != nil {
		return e
	}
	if len(c.m) >= c.max {
		c.evictLocked(now)
	}
	e := &entry{key: string(key), req: req}
	// The audience ends the key (appendKey): share its bytes rather than keep the request's copy.
	if aud := e.key[len(e.key)-len(req.Resource):]; aud == req.Resource {
		e.req.Resource = aud
	}
	e.lastUsed.Store(now.Unix())
	c.m[e.key] = e
	return e
}

// evictLocked drops expired idle entries; if none, the least recently used idle one.
func (c *cache) evictLocked(now time.Time) {
	nowSec := now.Unix()
	var lru *entry
	removed := false
	for k, e := range c.m {
		if !e.idle() {
			continue
		}
		if st := e.st.Load(); st == nil || st.exp <= nowSec {
			delete(c.m, k)
			removed = true
			continue
		}
		if lru == nil || e.lastUsed.Load() < lru.lastUsed.Load() {
			lru = e
		}
	}
	if !removed && lru != nil {
		delete(c.m, lru.key)
	}
}

// sweep removes expired idle entries and returns the entries due for a proactive refresh.
func (c *cache) sweep(now time.Time) (due []*entry) {
	nowSec, nowNano := now.Unix(), now.UnixNano()
	c.mu.Lock()
	defer c.mu.Unlock()
	for k, e := range c.m {
		st := e.st.Load()
		if st == nil || st.exp <= nowSec {
			if e.idle() && e.negUntil.Load() <= nowNano {
				delete(c.m, k)
			}
			continue
		}
		// Refresh ahead only what is in use: read since its token was fetched.
		if nowNano >= st.refreshAt && nowNano >= e.nextAttempt.Load() && e.lastUsed.Load() >= st.fetched {
			due = append(due, e)
		}
	}
	return due
}

func (c *cache) len() int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.m)
}

// entry is one cache key's token and the single upstream call in flight for it.
type entry struct {
	key string
	req TokenRequest

	st       atomic.Pointer[tokenState]
	lastUsed atomic.Int64 // unix seconds

	// nextAttempt (unix ns): after a failed refresh, no background refresh before it.
	nextAttempt atomic.Int64
	// negUntil (unix ns) and negErr: a remembered refusal.
	negUntil atomic.Int64
	negErr   atomic.Pointer[error]

	mu       sync.Mutex
	call     *call // in flight, or nil
	failures int   // consecutive failed calls (mu)
}

func (e *entry) idle() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.call == nil
}

// call is one upstream request; every caller that missed for the key waits on it (singleflight).
type call struct {
	done chan struct{}
	st   *tokenState // on success (stored in the entry only if it lives long enough)
	err  error
}

// tokenState is an immutable token plus its pre-rendered response bodies. It keeps of the
// upstream's Token only what responses and revocations read (the token string, its client id,
// the Arc echoes and the times as unix numbers): with 1,000 cached tokens each field is a kB.
type tokenState struct {
	accessToken        string
	clientID           string
	objectID           string // as upstream gave it, for Arc's echo (oid below is for revocations)
	identityResourceID string // for Arc's echo
	exp, nbf           int64  // unix seconds
	fetched            int64  // unix seconds
	refreshAt          int64  // unix ns
	audience           string
	oid                string                                      // the token's principal, to match revocations (revoke.go)
	bodies             [dialect.NumFields]atomic.Pointer[rendered] // one per endpoint field set
}

// rendered is a body for one second (expires_in counts down each second, as IMDS's does).
type rendered struct {
	sec  int64
	body []byte
	clen []string // Content-Length header value
}

func newTokenState(tok Token, audience string, now time.Time) *tokenState {
	st := &tokenState{accessToken: tok.AccessToken, clientID: tok.ClientID, objectID: tok.ObjectID, identityResourceID: tok.IdentityResourceID,
		exp: tok.ExpiresOn.Unix(), fetched: now.Unix(), audience: audience, oid: tok.ObjectID}
	if st.oid == "" {
		st.oid = tokenOID(st.accessToken)
	}
	if !tok.NotBefore.IsZero() {
		st.nbf = tok.NotBefore.Unix()
	} else {
		st.nbf = now.Unix()
	}
	// Refresh at the remaining half-life, minus up to 10% of it so that tokens fetched together
	// are not refreshed together.
	remaining := tok.ExpiresOn.Sub(now)
	delay := remaining / 2
	delay -= time.Duration(rand.Int64N(int64(delay/10) + 1))
	if delay < minRefreshDelay {
		delay = minRefreshDelay
	}
	st.refreshAt = now.Add(delay).UnixNano()
	return st
}

// body returns the body with field set f for the second nowSec, rendering it at most once per
// second for a token asked for more than once a second. A token asked for once keeps only a
// marker of that second, not its ~1.7 kB body, which would be stale a second later anyway: most
// of a node's cached tokens are asked for rarely, and kept bodies were a third of the agent's
// heap with 1,000 cached tokens.
func (st *tokenState) body(f dialect.Fields, nowSec int64) *rendered {
	prev := st.bodies[f].Load()
	if prev != nil && prev.sec == nowSec && prev.body != nil {
		return prev
	}
	b := dialect.AppendToken(make([]byte, 0, len(st.accessToken)+len(st.audience)+len(st.clientID)+224), &dialect.TokenBody{
		AccessToken: st.accessToken,
		ClientID:    st.clientID,
		Resource:    st.audience,
		ExpiresOn:   st.exp,
		NotBefore:   st.nbf,
		Now:         nowSec,
		Fields:      f,
	})
	r := &rendered{sec: nowSec, body: b, clen: []string{strconv.Itoa(len(b))}}
	if prev != nil && nowSec-prev.sec <= 1 {
		st.bodies[f].Store(r) // asked for again within a second: worth keeping
	} else {
		st.bodies[f].Store(&rendered{sec: nowSec})
	}
	return r
}
