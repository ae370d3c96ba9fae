package bearer

import (
	"crypto/sha256"
	"sync"
	"time"
)

const defaultCacheSize = 10_000

// verifiedCache remembers the claims of tokens whose signature this process verified itself,
// keyed by the SHA-256 of the whole token, so that a token differing in any byte (a forged
// signature included) misses and is verified in full. An entry is used only while the key that
// signed it is still published (a retired key takes its tokens with it) and is dropped when the
// token expires. It holds no token, only a hash of it.
type verifiedCache struct {
	mu      sync.RWMutex
	entries map[[32]byte]verifiedEntry
}

type verifiedEntry struct {
	kid     string
	claims  Claims
	expires time.Time // the token's exp plus the largest skew: after this it can never pass check
}

func (vc *verifiedCache) get(token string, keys KeySource) (Claims, bool) {
	h := sha256.Sum256([]byte(token))
	vc.mu.RLock()
	e, ok := vc.entries[h]
	vc.mu.RUnlock()
	if !ok {
		return Claims{}, false
	}
	if _, published := keys.PublicKey(e.kid); !published {
		vc.mu.Lock()
		delete(vc.entries, h)
		vc.mu.Unlock()
		return Claims{}, false
	}
	return e.claims, true
}

func (vc *verifiedCache) put(token, kid string, c Claims, size int) {
	if size < 0 {
		return
	}
	if size == 0 {
		size = defaultCacheSize
	}
	h := sha256.Sum256([]byte(token))
	// Kept an hour past exp, beyond any skew a validator allows, then dropped as garbage.
	e := verifiedEntry{kid: kid, claims: c, expires: time.Unix(c.Expiry, 0).Add(time.Hour)}
	vc.mu.Lock()
	defer vc.mu.Unlock()
	if vc.entries == nil {
		vc.entries = make(map[[32]byte]verifiedEntry)
	}
	if len(vc.entries) >= size {
		now := time.Now()
		for k, old := range vc.entries {
			if now.After(old.expires) {
				delete(vc.entries, k)
			}
		}
		// Still full: drop an eighth, chosen by map order (unpredictable), so that a flood of
		// distinct valid tokens costs each a verification but never grows memory.
		for k := range vc.entries {
			if len(vc.entries) < size-size/8 {
				break
			}
			delete(vc.entries, k)
		}
	}
	vc.entries[h] = e
}

func (vc *verifiedCache) len() int {
	vc.mu.RLock()
	defer vc.mu.RUnlock()
	return len(vc.entries)
}
