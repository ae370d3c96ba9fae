package vault

import (
	"context"
	"testing"
	"time"

	"github.com/mint-id/mint/internal/store"
)

// Every write made through the server is seen by the next GET, although the GET before it
// put the secret in the cache.
func TestSecretCacheSeesEveryWriteOfThisServer(t *testing.T) {
	e := newEnv(t, envOptions{})
	tok := e.token(e.app("officer", officerRole), nil)
	get := func(want int, value, what string) {
		t.Helper()
		r := e.do("GET", "", "/secrets/s/", tok, nil)
		e.mustStatus(r, want, what)
		if want == 200 && r.json(t)["value"] != value {
			t.Fatalf("%s: %s, want value %q", what, r.body, value)
		}
	}
	e.mustStatus(e.do("PUT", "", "/secrets/s", tok, map[string]any{"value": "one"}), 200, "set one")
	get(200, "one", "get one")
	e.mustStatus(e.do("PUT", "", "/secrets/s", tok, map[string]any{"value": "two"}), 200, "set two")
	get(200, "two", "get after a new version")
	e.mustStatus(e.do("PATCH", "", "/secrets/s/", tok, map[string]any{"attributes": map[string]any{"enabled": false}}), 200, "disable")
	get(403, "", "get after disabling")
	e.mustStatus(e.do("PATCH", "", "/secrets/s/", tok, map[string]any{"attributes": map[string]any{"enabled": true}}), 200, "enable")
	get(200, "two", "get after enabling")
	r := e.do("POST", "", "/secrets/s/backup", tok, nil)
	e.mustStatus(r, 200, "backup")
	blob := r.json(t)["value"]
	e.mustStatus(e.do("DELETE", "", "/secrets/s", tok, nil), 200, "delete")
	get(404, "", "get after delete")
	e.mustStatus(e.do("POST", "", "/deletedsecrets/s/recover", tok, nil), 200, "recover")
	get(200, "two", "get after recover")
	e.mustStatus(e.do("DELETE", "", "/secrets/s", tok, nil), 200, "delete again")
	get(404, "", "get after the second delete")
	e.mustStatus(e.do("DELETE", "", "/deletedsecrets/s", tok, nil), 204, "purge")
	get(404, "", "get after purge")
	e.mustStatus(e.do("POST", "", "/secrets/restore", tok, map[string]any{"value": blob}), 200, "restore")
	get(200, "two", "get after restore")
}

// A write that reaches the store some other way (another replica) counts within the TTL.
func TestSecretCacheBoundedByTTL(t *testing.T) {
	e := newEnv(t, envOptions{})
	tok := e.token(e.app("officer", officerRole), nil)
	e.mustStatus(e.do("PUT", "", "/secrets/s", tok, map[string]any{"value": "one"}), 200, "set")
	e.mustStatus(e.do("GET", "", "/secrets/s/", tok, nil), 200, "get")
	v, err := e.st.GetSecretVersion(context.Background(), "kv1", "s", "")
	if err != nil {
		t.Fatal(err)
	}
	v.Enabled = false
	if err := e.st.UpdateSecretVersion(context.Background(), v); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(MaxCacheTTL)
	e.mustStatus(e.do("GET", "", "/secrets/s/", tok, nil), 403, "get after another replica disabled it and the TTL passed")
}

// A read that raced a write (loaded before it, kept after it) is never served.
func TestSecretCacheReadRacingAWrite(t *testing.T) {
	c := newSecretCache(time.Now, MaxCacheTTL)
	gen := c.generation()
	c.invalidate() // the write lands while the read is in flight
	var e vaultEntry
	c.put(secretKey(&e, "s", ""), gen, storeVersion("old"))
	if _, ok := c.get(secretKey(&e, "s", "")); ok {
		t.Fatal("a version read before a write was served after it")
	}
	c.put(secretKey(&e, "s", ""), c.generation(), storeVersion("new"))
	if v, ok := c.get(secretKey(&e, "s", "")); !ok || v.v.Version != "new" {
		t.Fatalf("a fresh read was not kept: %v %v", v, ok)
	}
	// Bounded: far more keys than it holds leave it within its bound.
	for i := range 20 * maxSecretEntriesPerShard {
		c.put(secretKey(&e, "s", string(rune(i))), c.generation(), storeVersion("x"))
	}
	for i := range c.shards {
		if n := len(c.shards[i].m); n > maxSecretEntriesPerShard {
			t.Fatalf("shard %d holds %d entries", i, n)
		}
	}
}

func storeVersion(version string) *sealedSecret {
	return &sealedSecret{v: store.SecretVersion{Version: version}}
}

// Readers, writers and a full cache at once (run with -race).
func TestSecretCacheConcurrent(t *testing.T) {
	c := newSecretCache(time.Now, MaxCacheTTL)
	var e vaultEntry
	done := make(chan struct{})
	for w := range 4 {
		go func() {
			defer func() { done <- struct{}{} }()
			for i := range 5000 {
				key := secretKey(&e, "s", string(rune('a'+(i+w)%40)))
				if _, ok := c.get(key); !ok {
					gen := c.generation()
					c.put(key, gen, storeVersion("v"))
				}
				if i%97 == 0 {
					c.invalidate()
				}
			}
		}()
	}
	for range 4 {
		<-done
	}
}
