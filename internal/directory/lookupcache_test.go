package directory

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/mint-id/mint/internal/store"
	"github.com/mint-id/mint/internal/store/sqlite"
)

// fakeClock is a clock the test moves by hand.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// cachedServer is one server's view: its store (watched by its cache) and its directories.
type cachedServer struct {
	dir    *Directory
	cached *Cached
	clock  *fakeClock
}

func newCachedServer(t *testing.T, path string) cachedServer {
	t.Helper()
	st, err := sqlite.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	clock := &fakeClock{t: time.Now()}
	c := NewLookupCache(MaxLookupCacheTTL, clock.now)
	d := New(c.Watch(st), Options{})
	return cachedServer{dir: d, cached: d.Cached(c), clock: clock}
}

// app registers an application with an identifier URI and a secret through s, and warms s's
// cache with a successful client credentials lookup.
func (s cachedServer) app(t *testing.T, tenantID, uri string) (store.ServicePrincipal, PasswordCredential) {
	t.Helper()
	ctx := context.Background()
	sp, err := s.dir.CreateApplication(ctx, tenantID, ApplicationSpec{DisplayName: "cached", IdentifierURIs: []string{uri}})
	if err != nil {
		t.Fatal(err)
	}
	pc, err := s.dir.AddPassword(ctx, sp.ObjectID, "s", 0)
	if err != nil {
		t.Fatal(err)
	}
	s.mustAccept(t, tenantID, sp, pc.SecretText, uri)
	return sp, pc
}

// mustAccept checks that the client, its secret and the resource are all found.
func (s cachedServer) mustAccept(t *testing.T, tenantID string, sp store.ServicePrincipal, secret, uri string) {
	t.Helper()
	ctx := context.Background()
	if got, err := s.cached.Client(ctx, tenantID, sp.AppID); err != nil || got.ObjectID != sp.ObjectID {
		t.Fatalf("client lookup = %+v, %v", got, err)
	}
	if ok, err := s.cached.VerifySecret(ctx, sp.ObjectID, secret); err != nil || !ok {
		t.Fatalf("secret refused: %v, %v", ok, err)
	}
	if got, err := s.cached.Resource(ctx, tenantID, uri); err != nil || got.ObjectID != sp.ObjectID {
		t.Fatalf("resource lookup = %+v, %v", got, err)
	}
}

// A write through the same server counts at the next request, though the clock does not move:
// without the invalidation every check below would still answer from the cache.
func TestLookupCacheForgetsThisServersWrites(t *testing.T) {
	ctx := context.Background()
	s := newCachedServer(t, filepath.Join(t.TempDir(), "mint.db"))
	in, err := s.dir.Bootstrap(ctx)
	if err != nil {
		t.Fatal(err)
	}
	tenant := in.Tenant.ID

	// A removed secret.
	sp, pc := s.app(t, tenant, "api://removed-secret")
	if err := s.dir.RemoveCredential(ctx, sp.ObjectID, pc.KeyID); err != nil {
		t.Fatal(err)
	}
	if ok, err := s.cached.VerifySecret(ctx, sp.ObjectID, pc.SecretText); err != nil || ok {
		t.Fatalf("removed secret still accepted: %v, %v", ok, err)
	}

	// A reset secret: the old one is refused, the new one accepted at once.
	sp, pc = s.app(t, tenant, "api://reset-secret")
	fresh, err := s.dir.ResetPasswords(ctx, sp.ObjectID, "new", 0)
	if err != nil {
		t.Fatal(err)
	}
	if ok, _ := s.cached.VerifySecret(ctx, sp.ObjectID, pc.SecretText); ok {
		t.Fatal("replaced secret still accepted")
	}
	if ok, err := s.cached.VerifySecret(ctx, sp.ObjectID, fresh.SecretText); err != nil || !ok {
		t.Fatalf("new secret refused: %v, %v", ok, err)
	}

	// A changed identifier URI: the old one names nothing, the new one the app.
	sp, _ = s.app(t, tenant, "api://renamed")
	sp.IdentifierURIs = []string{"api://renamed-2"}
	if err := s.dir.st.UpdatePrincipal(ctx, sp); err != nil {
		t.Fatal(err)
	}
	if _, err := s.cached.Resource(ctx, tenant, "api://renamed"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("old identifier URI: %v, want not found", err)
	}
	if got, err := s.cached.Resource(ctx, tenant, "api://renamed-2"); err != nil || got.ObjectID != sp.ObjectID {
		t.Fatalf("new identifier URI = %+v, %v", got, err)
	}

	// A deleted application.
	sp, pc = s.app(t, tenant, "api://deleted")
	if err := s.dir.DeletePrincipal(ctx, sp.ObjectID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.cached.Client(ctx, tenant, sp.AppID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("deleted client: %v, want not found", err)
	}
	if _, err := s.cached.Resource(ctx, tenant, "api://deleted"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("deleted resource: %v, want not found", err)
	}
	if ok, _ := s.cached.VerifySecret(ctx, sp.ObjectID, pc.SecretText); ok {
		t.Fatal("deleted app's secret still accepted")
	}

	// A managed identity whose resource is deleted (its principal goes with it, in the store).
	if _, err := s.dir.st.PutResourceGroup(ctx, store.ResourceGroup{SubscriptionID: in.Subscription.ID, Name: "rg", Location: "westeurope"}); err != nil {
		t.Fatal(err)
	}
	mi := NewManagedIdentityPrincipal(tenant, "id1", "/subscriptions/"+in.Subscription.ID+"/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id1")
	res := store.Resource{ID: mi.AlternativeNames[0], SubscriptionID: in.Subscription.ID, ResourceGroup: "rg", Type: "Microsoft.ManagedIdentity/userAssignedIdentities",
		Name: "id1", Location: "westeurope", Properties: []byte("{}"), PrincipalID: mi.ObjectID}
	if _, err := s.dir.st.PutResource(ctx, res, []store.ServicePrincipal{mi}, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := s.cached.Client(ctx, tenant, mi.AppID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.dir.st.DeleteResource(ctx, res.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.cached.Client(ctx, tenant, mi.AppID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("managed identity of a deleted resource: %v, want not found", err)
	}
}

// Another server's write counts here within MaxLookupCacheTTL, and only successful reads are
// kept: an application another server creates is found at once.
func TestLookupCacheSeesAnotherServersWritesWithinItsTTL(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "mint.db")
	a := newCachedServer(t, path)
	b := newCachedServer(t, path)
	in, err := a.dir.Bootstrap(ctx)
	if err != nil {
		t.Fatal(err)
	}
	tenant := in.Tenant.ID

	if _, err := a.cached.Client(ctx, tenant, "9a7e1fd4-4a1b-4c34-9f1e-0d6c0c1f3b1a"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("unknown client: %v", err)
	}
	sp, pc := b.app(t, tenant, "api://elsewhere")
	a.mustAccept(t, tenant, sp, pc.SecretText, "api://elsewhere") // found at once: misses are not kept

	if err := b.dir.RemoveCredential(ctx, sp.ObjectID, pc.KeyID); err != nil {
		t.Fatal(err)
	}
	if err := b.dir.DeletePrincipal(ctx, sp.ObjectID); err != nil {
		t.Fatal(err)
	}
	// Within the TTL a's answers may still be the cached ones; once it has passed they are not.
	a.clock.add(MaxLookupCacheTTL)
	if _, err := a.cached.Client(ctx, tenant, sp.AppID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("client deleted elsewhere, after the TTL: %v, want not found", err)
	}
	if _, err := a.cached.Resource(ctx, tenant, "api://elsewhere"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("resource deleted elsewhere, after the TTL: %v, want not found", err)
	}
	if ok, _ := a.cached.VerifySecret(ctx, sp.ObjectID, pc.SecretText); ok {
		t.Fatal("secret removed elsewhere still accepted after the TTL")
	}
}

// The cache is used (a second lookup does not read the store) and a read that raced a write
// is not kept past it.
func TestLookupCacheGenerations(t *testing.T) {
	clock := &fakeClock{t: time.Now()}
	c := NewLookupCache(time.Hour, clock.now) // clamped to MaxLookupCacheTTL
	if c.ttl != MaxLookupCacheTTL {
		t.Fatalf("ttl = %v, want %v", c.ttl, MaxLookupCacheTTL)
	}
	sp := store.ServicePrincipal{ObjectID: "o"}
	gen := c.gen.Load()
	c.putPrincipal("k", gen, sp)
	if _, ok := c.principal("k"); !ok {
		t.Fatal("fresh entry not found")
	}
	clock.add(MaxLookupCacheTTL)
	if _, ok := c.principal("k"); ok {
		t.Fatal("entry outlived its TTL")
	}
	gen = c.gen.Load()
	c.Invalidate() // a write committed while the read was under way
	c.putPrincipal("k", gen, sp)
	if _, ok := c.principal("k"); ok {
		t.Fatal("entry read before a write outlived it")
	}
}

func TestLookupCacheIsBounded(t *testing.T) {
	c := NewLookupCache(MaxLookupCacheTTL, nil)
	for i := range 3 * maxLookupEntries {
		c.putPrincipal(fmt.Sprint(i), c.gen.Load(), store.ServicePrincipal{})
		c.putCredentials(fmt.Sprint(i), c.gen.Load(), nil)
	}
	if len(c.principals) > maxLookupEntries || len(c.creds) > maxLookupEntries {
		t.Fatalf("cache grew to %d principals, %d credential lists", len(c.principals), len(c.creds))
	}
}
