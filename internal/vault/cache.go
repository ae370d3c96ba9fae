package vault

import (
	"hash/maphash"
	"sync"
	"time"
)

// MaxCacheTTL bounds how long any answer the data plane derives from the store may be reused:
// token verdicts (signature, claims, revocation), role assignments and vault records. A change
// made through any replica (a principal deleted, an identity detached, a role removed, a vault's
// permission model switched) therefore counts within MaxCacheTTL plus one request's time.
const MaxCacheTTL = 500 * time.Millisecond

// ttlCache keeps values for a short time and loads each missing key once however many requests
// ask for it at the same moment. Errors are not kept. It is sharded to keep lock contention low
// under load; expired entries are swept as new ones are added.
type ttlCache[V any] struct {
	now    func() time.Time
	seed   maphash.Seed
	shards [32]cacheShard[V]
}

type cacheShard[V any] struct {
	mu      sync.RWMutex
	m       map[string]*cacheEntry[V]
	inserts int
}

type cacheEntry[V any] struct {
	ready   chan struct{} // closed once val/err are set
	val     V
	err     error
	expires time.Time
}

func newTTLCache[V any](now func() time.Time) *ttlCache[V] {
	c := &ttlCache[V]{now: now, seed: maphash.MakeSeed()}
	for i := range c.shards {
		c.shards[i].m = map[string]*cacheEntry[V]{}
	}
	return c
}

func (c *ttlCache[V]) shard(key string) *cacheShard[V] {
	return &c.shards[maphash.String(c.seed, key)%uint64(len(c.shards))]
}

// get returns the value for key, calling load when there is none or it has expired. load
// returns the value and how long it may be kept (at most MaxCacheTTL; <= 0 means not at all).
func (c *ttlCache[V]) get(key string, load func() (V, time.Duration, error)) (V, error) {
	sh := c.shard(key)
	sh.mu.RLock()
	e := sh.m[key]
	sh.mu.RUnlock()
	if e != nil {
		select {
		case <-e.ready:
			if e.err == nil && c.now().Before(e.expires) {
				return e.val, nil
			}
		default:
			<-e.ready // another request is loading it: share its answer
			if e.err == nil {
				return e.val, nil
			}
		}
	}

	sh.mu.Lock()
	if cur := sh.m[key]; cur != nil && cur != e {
		// Another request installed a newer entry meanwhile: share it.
		sh.mu.Unlock()
		<-cur.ready
		if cur.err == nil {
			return cur.val, nil
		}
		sh.mu.Lock()
	}
	ne := &cacheEntry[V]{ready: make(chan struct{})}
	sh.m[key] = ne
	sh.inserts++
	if sh.inserts >= 256 {
		sh.inserts = 0
		now := c.now()
		for k, old := range sh.m {
			select {
			case <-old.ready:
				if !now.Before(old.expires) {
					delete(sh.m, k)
				}
			default:
			}
		}
	}
	sh.mu.Unlock()

	val, ttl, err := load()
	ne.val, ne.err = val, err
	ne.expires = c.now().Add(min(ttl, MaxCacheTTL))
	close(ne.ready)
	if err != nil || ttl <= 0 {
		sh.mu.Lock()
		if sh.m[key] == ne {
			delete(sh.m, key)
		}
		sh.mu.Unlock()
	}
	return val, err
}

// put replaces key's entry with a value loaded elsewhere.
func (c *ttlCache[V]) put(key string, val V, ttl time.Duration) {
	if ttl <= 0 {
		return
	}
	e := &cacheEntry[V]{ready: make(chan struct{}), val: val, expires: c.now().Add(min(ttl, MaxCacheTTL))}
	close(e.ready)
	sh := c.shard(key)
	sh.mu.Lock()
	sh.m[key] = e
	sh.mu.Unlock()
}
