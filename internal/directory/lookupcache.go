package directory

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mint-id/mint/internal/store"
)

// MaxLookupCacheTTL bounds how long the token path reuses a principal or a principal's
// credentials read from the store: a change made through another server sharing the store
// (a deleted application, a removed secret) counts there within this time, as the vault's
// cached decisions do. A change made through this server counts at once (LookupCache.Watch).
const MaxLookupCacheTTL = 500 * time.Millisecond

// maxLookupEntries bounds each of the cache's maps: the token path of an installation with
// more active clients than this reads the store again for the others, as it did without the
// cache.
const maxLookupEntries = 4096

// LookupCache keeps, for at most its TTL, what the token endpoint reads from the store on every
// request: the client by app id, the resource by audience and the client's credentials. Those
// reads were a tenth of the token path's CPU after RSA signing (each a SQLite read
// transaction: two fcntl lock round trips on the WAL index, and the row's scan).
//
// Every write this server makes that can change those answers (a principal created, updated or
// deleted, a credential added or removed, a resource written or deleted, since resources own
// managed identities' principals) goes through the store Watch returns and forgets the whole
// cache once it has committed, before it is answered: a disabled, deleted or re-keyed client is
// refused by the next request to this server. Only successful reads are kept (a miss always goes
// to the store, so a principal created on another server is found at once), and an entry read
// while a write was under way is stale as soon as the write is (generations, as the vault's
// secret cache). What a token says about a person, the revocation checks and the broker's
// decision are not cached here.
type LookupCache struct {
	ttl time.Duration
	now func() time.Time
	gen atomic.Uint64

	mu         sync.RWMutex
	principals map[string]principalEntry
	creds      map[string]credentialEntry
}

type principalEntry struct {
	sp      store.ServicePrincipal
	gen     uint64
	expires time.Time
}

type credentialEntry struct {
	creds   []store.Credential
	gen     uint64
	expires time.Time
}

// NewLookupCache makes a cache whose entries live ttl (at most MaxLookupCacheTTL; 0 or less
// turns the cache off). now is the clock (time.Now when nil).
func NewLookupCache(ttl time.Duration, now func() time.Time) *LookupCache {
	if now == nil {
		now = time.Now
	}
	return &LookupCache{ttl: min(ttl, MaxLookupCacheTTL), now: now,
		principals: map[string]principalEntry{}, creds: map[string]credentialEntry{}}
}

// Invalidate forgets every entry.
func (c *LookupCache) Invalidate() { c.gen.Add(1) }

func (c *LookupCache) principal(key string) (store.ServicePrincipal, bool) {
	c.mu.RLock()
	e, ok := c.principals[key]
	c.mu.RUnlock()
	if !ok || e.gen != c.gen.Load() || !c.now().Before(e.expires) {
		return store.ServicePrincipal{}, false
	}
	return e.sp, true
}

func (c *LookupCache) credentials(principalID string) ([]store.Credential, bool) {
	c.mu.RLock()
	e, ok := c.creds[principalID]
	c.mu.RUnlock()
	if !ok || e.gen != c.gen.Load() || !c.now().Before(e.expires) {
		return nil, false
	}
	return e.creds, true
}

// putPrincipal keeps sp, read after generation gen was current: a write since then makes the
// entry stale at once.
func (c *LookupCache) putPrincipal(key string, gen uint64, sp store.ServicePrincipal) {
	now := c.now()
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.principals) >= maxLookupEntries {
		c.principals = sweep(c.principals, c.gen.Load(), now, func(e principalEntry) (uint64, time.Time) { return e.gen, e.expires })
	}
	c.principals[key] = principalEntry{sp: sp, gen: gen, expires: now.Add(c.ttl)}
}

func (c *LookupCache) putCredentials(principalID string, gen uint64, creds []store.Credential) {
	now := c.now()
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.creds) >= maxLookupEntries {
		c.creds = sweep(c.creds, c.gen.Load(), now, func(e credentialEntry) (uint64, time.Time) { return e.gen, e.expires })
	}
	c.creds[principalID] = credentialEntry{creds: creds, gen: gen, expires: now.Add(c.ttl)}
}

// sweep drops stale entries; if every entry is live it starts again rather than grow.
func sweep[E any](m map[string]E, gen uint64, now time.Time, meta func(E) (uint64, time.Time)) map[string]E {
	for k, e := range m {
		if g, exp := meta(e); g != gen || !now.Before(exp) {
			delete(m, k)
		}
	}
	if len(m) >= maxLookupEntries {
		return map[string]E{}
	}
	return m
}

// Watch returns st with every write that can change a cached answer forgetting the cache after
// it returns. Every part of the server must write through it (the server wires it in place of
// its store), or its writes count only after the TTL, as another server's do.
func (c *LookupCache) Watch(st store.Store) store.Store { return &watchedStore{Store: st, c: c} }

type watchedStore struct {
	store.Store
	c *LookupCache
}

func (s *watchedStore) CreatePrincipal(ctx context.Context, sp store.ServicePrincipal, creds []store.Credential) error {
	defer s.c.Invalidate()
	return s.Store.CreatePrincipal(ctx, sp, creds)
}

func (s *watchedStore) UpdatePrincipal(ctx context.Context, sp store.ServicePrincipal) error {
	defer s.c.Invalidate()
	return s.Store.UpdatePrincipal(ctx, sp)
}

func (s *watchedStore) DeletePrincipal(ctx context.Context, objectID string) error {
	defer s.c.Invalidate()
	return s.Store.DeletePrincipal(ctx, objectID)
}

func (s *watchedStore) AddCredential(ctx context.Context, cred store.Credential) error {
	defer s.c.Invalidate()
	return s.Store.AddCredential(ctx, cred)
}

func (s *watchedStore) DeleteCredential(ctx context.Context, principalID, keyID string) error {
	defer s.c.Invalidate()
	return s.Store.DeleteCredential(ctx, principalID, keyID)
}

func (s *watchedStore) PutResource(ctx context.Context, r store.Resource, create []store.ServicePrincipal, deletePrincipals []string) (bool, error) {
	defer s.c.Invalidate()
	return s.Store.PutResource(ctx, r, create, deletePrincipals)
}

func (s *watchedStore) DeleteResource(ctx context.Context, id string) ([]store.Resource, error) {
	defer s.c.Invalidate()
	return s.Store.DeleteResource(ctx, id)
}

func (s *watchedStore) DeleteResourceGroup(ctx context.Context, subscriptionID, name string) ([]store.Resource, error) {
	defer s.c.Invalidate()
	return s.Store.DeleteResourceGroup(ctx, subscriptionID, name)
}

func (s *watchedStore) RecoverVault(ctx context.Context, r store.Resource) (store.Vault, error) {
	defer s.c.Invalidate()
	return s.Store.RecoverVault(ctx, r)
}

// Cached is the directory as the token endpoint uses it: Client, Resource and the credential
// checks answer from a LookupCache; everything else (tenants, app roles, people) is the
// Directory's own.
type Cached struct {
	*Directory
	c *LookupCache
}

// Cached returns d with its token-path lookups cached in c.
func (d *Directory) Cached(c *LookupCache) *Cached { return &Cached{Directory: d, c: c} }

// Client is Directory.Client, cached.
func (d *Cached) Client(ctx context.Context, tenantID, clientID string) (store.ServicePrincipal, error) {
	return d.lookup("c\x00"+tenantID+"\x00"+strings.ToLower(clientID), func() (store.ServicePrincipal, error) {
		return d.Directory.Client(ctx, tenantID, clientID)
	})
}

// Resource is Directory.Resource, cached.
func (d *Cached) Resource(ctx context.Context, tenantID, audience string) (store.ServicePrincipal, error) {
	return d.lookup("r\x00"+tenantID+"\x00"+strings.ToLower(trimSlash(audience)), func() (store.ServicePrincipal, error) {
		return d.Directory.Resource(ctx, tenantID, audience)
	})
}

func (d *Cached) lookup(key string, read func() (store.ServicePrincipal, error)) (store.ServicePrincipal, error) {
	if d.c.ttl <= 0 {
		return read()
	}
	if sp, ok := d.c.principal(key); ok {
		return sp, nil
	}
	gen := d.c.gen.Load()
	sp, err := read()
	if err == nil {
		d.c.putPrincipal(key, gen, sp)
	}
	return sp, err
}

// VerifySecret is Directory.VerifySecret over the cached credentials.
func (d *Cached) VerifySecret(ctx context.Context, principalID, secret string) (bool, error) {
	creds, err := d.credentials(ctx, principalID)
	if err != nil {
		return false, err
	}
	return verifySecret(creds, secret, d.now()), nil
}

// SecretExpired is Directory.SecretExpired over the cached credentials.
func (d *Cached) SecretExpired(ctx context.Context, principalID, secret string) (bool, error) {
	creds, err := d.credentials(ctx, principalID)
	if err != nil {
		return false, err
	}
	return secretExpired(creds, secret, d.now()), nil
}

// Certificates is Directory.Certificates over the cached credentials.
func (d *Cached) Certificates(ctx context.Context, principalID string) ([]store.Credential, error) {
	creds, err := d.credentials(ctx, principalID)
	if err != nil {
		return nil, err
	}
	return validCertificates(creds, d.now()), nil
}

func (d *Cached) credentials(ctx context.Context, principalID string) ([]store.Credential, error) {
	if d.c.ttl <= 0 {
		return d.st.ListCredentials(ctx, principalID)
	}
	if creds, ok := d.c.credentials(principalID); ok {
		return creds, nil
	}
	gen := d.c.gen.Load()
	creds, err := d.st.ListCredentials(ctx, principalID)
	if err != nil {
		return nil, err
	}
	d.c.putCredentials(principalID, gen, creds)
	return creds, nil
}
