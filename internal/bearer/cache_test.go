package bearer

import (
	"crypto/rand"
	"crypto/rsa"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// countingKeys is a key source that counts the signature verifications the validator could do.
type countingKeys struct {
	keys    map[string]*rsa.PublicKey
	lookups atomic.Int64
}

func (k *countingKeys) PublicKey(kid string) (*rsa.PublicKey, bool) {
	k.lookups.Add(1)
	p, ok := k.keys[kid]
	return p, ok
}

func signTestToken(t testing.TB, key *rsa.PrivateKey, kid string, claims map[string]any) string {
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: key}, (&jose.SignerOptions{}).WithHeader("kid", kid))
	if err != nil {
		t.Fatal(err)
	}
	tok, err := jwt.Signed(s).Claims(claims).Serialize()
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func TestVerifiedTokenCache(t *testing.T) {
	key, _ := rsa.GenerateKey(rand.Reader, 2048)
	now := time.Unix(1_800_000_000, 0)
	const base, tid = "https://127.0.0.1:8443", "t1"
	claims := func(oid string, exp time.Time) map[string]any {
		return map[string]any{"aud": "https://vault.azure.net", "iss": base + "/" + tid + "/", "tid": tid, "oid": oid,
			"exp": exp.Unix(), "nbf": now.Add(-time.Minute).Unix(), "iat": now.Unix()}
	}
	keys := &countingKeys{keys: map[string]*rsa.PublicKey{"k1": &key.PublicKey}}
	clock := now
	v := &Validator{Keys: keys, IssuerBase: base, Audiences: []string{"https://vault.azure.net"}, Clock: func() time.Time { return clock }}
	tok := signTestToken(t, key, "k1", claims("o1", now.Add(time.Hour)))

	if _, err := v.Validate(tok); err != nil {
		t.Fatal(err)
	}
	if v.cache.len() != 1 {
		t.Fatalf("cache holds %d tokens after one valid token, want 1", v.cache.len())
	}
	c, err := v.Validate(tok)
	if err != nil || c.ObjectID != "o1" {
		t.Fatalf("second validation: %v %q", err, c.ObjectID)
	}

	t.Run("a token differing in its signature is verified, not served from the cache", func(t *testing.T) {
		parts := strings.Split(tok, ".")
		sig := []byte(parts[2])
		if sig[10] == 'A' {
			sig[10] = 'B'
		} else {
			sig[10] = 'A'
		}
		forged := parts[0] + "." + parts[1] + "." + string(sig)
		if _, err := v.Validate(forged); err == nil || !strings.Contains(err.Error(), "signature") {
			t.Fatalf("forged signature: %v, want a signature error", err)
		}
	})

	t.Run("expiry is decided on every call", func(t *testing.T) {
		clock = now.Add(2 * time.Hour)
		defer func() { clock = now }()
		if _, err := v.Validate(tok); err == nil || !strings.Contains(err.Error(), "expired") {
			t.Fatalf("cached but expired token: %v, want expired", err)
		}
	})

	t.Run("another audience's validator does not trust this one's cache", func(t *testing.T) {
		arm := &Validator{Keys: keys, IssuerBase: base, Audiences: []string{"https://management.azure.com"}, Clock: func() time.Time { return clock }}
		if _, err := arm.Validate(tok); err == nil || !strings.Contains(err.Error(), "audience") {
			t.Fatalf("vault token at ARM: %v, want an audience error", err)
		}
		// and a hit is still checked for audience, too
		if _, err := arm.Validate(tok); err == nil {
			t.Fatal("vault token accepted at ARM on the second call")
		}
	})

	t.Run("a retired signing key takes its cached tokens with it", func(t *testing.T) {
		delete(keys.keys, "k1")
		defer func() { keys.keys["k1"] = &key.PublicKey }()
		if _, err := v.Validate(tok); err == nil || !strings.Contains(err.Error(), "signing key") {
			t.Fatalf("token of a retired key: %v, want a signing-key error", err)
		}
	})

	t.Run("bounded", func(t *testing.T) {
		small := &Validator{Keys: keys, IssuerBase: base, Audiences: []string{"https://vault.azure.net"}, Clock: func() time.Time { return now }, CacheSize: 16}
		for i := range 100 {
			if _, err := small.Validate(signTestToken(t, key, "k1", claims(fmt.Sprint("o", i), now.Add(time.Hour)))); err != nil {
				t.Fatal(err)
			}
			if n := small.cache.len(); n > 16 {
				t.Fatalf("cache grew to %d entries, bound 16", n)
			}
		}
	})

	t.Run("disabled", func(t *testing.T) {
		off := &Validator{Keys: keys, IssuerBase: base, Audiences: []string{"https://vault.azure.net"}, Clock: func() time.Time { return now }, CacheSize: -1}
		if _, err := off.Validate(tok); err != nil {
			t.Fatal(err)
		}
		if off.cache.len() != 0 {
			t.Fatal("a validator with CacheSize -1 cached a token")
		}
	})
}

// BenchmarkValidate shows what the cache takes off the hot path: a hit skips the RSA
// verification.
func BenchmarkValidate(b *testing.B) {
	key, _ := rsa.GenerateKey(rand.Reader, 2048)
	now := time.Now()
	tok := signTestToken(b, key, "k1", map[string]any{"aud": "https://vault.azure.net", "iss": "https://h/t1/", "tid": "t1", "oid": "o",
		"exp": now.Add(time.Hour).Unix(), "nbf": now.Unix(), "iat": now.Unix()})
	for _, size := range []int{-1, 0} {
		name := map[int]string{-1: "uncached", 0: "cached"}[size]
		b.Run(name, func(b *testing.B) {
			v := &Validator{Keys: &countingKeys{keys: map[string]*rsa.PublicKey{"k1": &key.PublicKey}}, IssuerBase: "https://h", Audiences: []string{"https://vault.azure.net"}, CacheSize: size}
			for b.Loop() {
				if _, err := v.Validate(tok); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
