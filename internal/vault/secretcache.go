package vault

import (
	"hash/maphash"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mint-id/mint/internal/store"
)

// secretCache keeps the secret versions GETs read from the store, as the store holds them:
// sealed (the value is ciphertext under the vault's data key, opened again on every request),
// for at most the data plane's cache TTL. It exists because the store read was the largest
// cost of a vault GET after TLS (a SQLite read transaction takes two fcntl lock round trips on
// the WAL index; see docs/benchmarks.md). Every write this server makes to any secret (set,
// update, delete, recover, purge, restore) invalidates the whole cache before it answers, so a
// client reading through the server it wrote to always sees its write; a write made through
// another replica counts within the TTL, as role assignments and vault records do
// (MaxCacheTTL). Only successful reads are kept; a miss, a deleted secret or an error always
// goes to the store. Enabled, nbf and exp are checked on every request against the cached
// attributes, and authentication, revocation and RBAC run before the cache is consulted.
type secretCache struct {
	now    func() time.Time
	ttl    time.Duration
	gen    atomic.Uint64 // bumped by every write; entries of an older generation are stale
	seed   maphash.Seed
	shards [16]secretShard
}

// maxSecretEntriesPerShard bounds the cache: 16 shards of 512 entries (8,192 secret versions,
// each a few hundred bytes of ciphertext and attributes up to the 25 KiB value limit).
const maxSecretEntriesPerShard = 512

type secretShard struct {
	mu sync.RWMutex
	m  map[secretCacheKey]secretEntry
}

// sealedSecret is a cached version: as the store holds it, and the additional data its value is
// sealed with (valueAD: fixed for a version, so derived once rather than on every GET).
type sealedSecret struct {
	v  store.SecretVersion
	ad []byte
}

type secretEntry struct {
	s       *sealedSecret
	gen     uint64
	expires time.Time
}

func newSecretCache(now func() time.Time, ttl time.Duration) *secretCache {
	c := &secretCache{now: now, ttl: min(ttl, MaxCacheTTL), seed: maphash.MakeSeed()}
	for i := range c.shards {
		c.shards[i].m = map[secretCacheKey]secretEntry{}
	}
	return c
}

// secretCacheKey names a version of a secret of one incarnation of a vault (a vault created
// again under the same name has the same ARM id but a new data key, whose sealed form is part of
// its incarnation, so its secrets never match the old one's entries); version "" is the latest.
// A struct rather than one joined string: building the key costs no allocation.
type secretCacheKey struct {
	incarnation, name, version string
}

func secretKey(v *vaultEntry, name, version string) secretCacheKey {
	return secretCacheKey{incarnation: v.incarnation, name: name, version: version}
}

// generation is read before a store read whose result may be kept with put.
func (c *secretCache) generation() uint64 { return c.gen.Load() }

// invalidate forgets every entry; called after a write reached the store and before it is
// answered.
func (c *secretCache) invalidate() { c.gen.Add(1) }

func (c *secretCache) shard(key secretCacheKey) *secretShard {
	h := maphash.String(c.seed, key.name) ^ maphash.String(c.seed, key.version)
	return &c.shards[h%uint64(len(c.shards))]
}

func (c *secretCache) get(key secretCacheKey) (*sealedSecret, bool) {
	if c.ttl <= 0 {
		return nil, false
	}
	sh := c.shard(key)
	sh.mu.RLock()
	e, ok := sh.m[key]
	sh.mu.RUnlock()
	if !ok || e.gen != c.gen.Load() || !c.now().Before(e.expires) {
		return nil, false
	}
	return e.s, true
}

// put keeps v, read from the store after generation returned gen. If a write happened since,
// the entry is stale at once (its generation is old), so a read that raced a write never
// outlives it. Entries are never changed once put: readers share them.
func (c *secretCache) put(key secretCacheKey, gen uint64, v *sealedSecret) {
	if c.ttl <= 0 {
		return
	}
	now := c.now()
	sh := c.shard(key)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if len(sh.m) >= maxSecretEntriesPerShard {
		cur := c.gen.Load()
		for k, old := range sh.m {
			if old.gen != cur || !now.Before(old.expires) {
				delete(sh.m, k)
			}
		}
		if len(sh.m) >= maxSecretEntriesPerShard {
			clear(sh.m) // all live: start again rather than grow
		}
	}
	sh.m[key] = secretEntry{s: v, gen: gen, expires: now.Add(c.ttl)}
}

// writes reports whether an operation changes secrets in the store.
func (op operation) writes() bool {
	switch op {
	case opSet, opUpdate, opDelete, opRecover, opPurge, opRestore:
		return true
	}
	return false
}

// invalidatingWriter invalidates the secret cache before the first byte of a write's answer.
type invalidatingWriter struct {
	http.ResponseWriter
	c    *secretCache
	done bool
}

func (w *invalidatingWriter) WriteHeader(code int) {
	if !w.done {
		w.done = true
		w.c.invalidate()
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *invalidatingWriter) Write(b []byte) (int, error) {
	if !w.done {
		w.done = true
		w.c.invalidate()
	}
	return w.ResponseWriter.Write(b)
}

func (w *invalidatingWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
