package directory

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"runtime"
	"strings"
	"sync/atomic"
	"time"
	"unicode"
	"unicode/utf8"

	"golang.org/x/crypto/argon2"
	"golang.org/x/sync/semaphore"
)

// People's passwords are kept as Argon2id hashes with OWASP's recommended parameters
// (https://cheatsheetseries.owasp.org/cheatsheets/Password_Storage_Cheat_Sheet.html: m=19 MiB,
// t=2, p=1), a 16-byte random salt and a 32-byte key, in the PHC string format
// ($argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>, unpadded standard base64) so that the
// parameters travel with each hash and can be raised later without breaking old ones.
//
// Each computation takes 19 MiB and tens of milliseconds of one core. A flood of password
// attempts must not starve token issuance for everyone else, so at most PasswordSlots() of them
// run at once; at most PasswordQueue() further checks wait for a slot (or give up with their
// context), and a check beyond that is refused at once with ErrPasswordChecksBusy. The refusal
// depends on the queue only, never on the account, and an unknown user's dummy check queues
// the same way, so neither the answer nor its timing says whether a user exists.
const (
	argonMemoryKiB uint32 = 19456
	argonTime      uint32 = 2
	argonThreads   uint8  = 1
	argonSaltLen          = 16
	argonKeyLen    uint32 = 32
)

// Password length limits of Entra's password policy
// (https://learn.microsoft.com/entra/identity/authentication/concept-password-ban-bad-combined-policy).
const (
	minPasswordLen = 8
	maxPasswordLen = 256
)

// PasswordSlots is the number of Argon2 computations that may run at once: all CPUs but a
// quarter of them, and at least one CPU left free on a machine with two or more (2 CPUs: 1 slot,
// 4: 3, 8: 6), so that a password spray can never take every core from token issuance; on one
// CPU, one slot.
func PasswordSlots() int64 {
	n := runtime.NumCPU()
	return int64(max(1, n-max(1, n/4)))
}

// PasswordQueue is how many password checks may wait for a slot: enough for a burst of honest
// sign-ins (16 a slot, under a second or two of waiting), not an attacker's thousands.
func PasswordQueue() int64 { return 16 * PasswordSlots() }

// ErrPasswordChecksBusy is VerifyPassword's and DummyPasswordCheck's error when every Argon2
// slot is busy and the queue is full. Its RetryAfter is how long a client should wait (the STS
// answers it as Entra answers throttling: 429 with Retry-After).
var ErrPasswordChecksBusy error = busyError{}

type busyError struct{}

func (busyError) Error() string {
	return "too many password checks waiting: every Argon2 slot is busy and the queue is full"
}

// RetryAfter is the wait a refused client is told: about what the queue takes to drain.
func (busyError) RetryAfter() time.Duration { return time.Second }

// passwordHasher computes and checks Argon2id hashes under the concurrency cap.
type passwordHasher struct {
	slots   *semaphore.Weighted
	waiting atomic.Int64 // checks waiting for a slot, bounded by PasswordQueue()
	// dummy is a hash of a random password, checked against when the user is unknown so that
	// the answer takes the same time as for a known user.
	dummy string
}

func newPasswordHasher() *passwordHasher {
	h := &passwordHasher{slots: semaphore.NewWeighted(PasswordSlots())}
	h.dummy = encodePHC(randomBytes(argonSaltLen), argon2.IDKey(randomBytes(24), randomBytes(argonSaltLen), argonTime, argonMemoryKiB, argonThreads, argonKeyLen),
		argonMemoryKiB, argonTime, argonThreads)
	return h
}

// hash returns the PHC string of password with a fresh salt.
func (h *passwordHasher) hash(ctx context.Context, password string) (string, error) {
	if err := h.slots.Acquire(ctx, 1); err != nil {
		return "", fmt.Errorf("wait for a password hashing slot: %w", err)
	}
	defer h.slots.Release(1)
	salt := randomBytes(argonSaltLen)
	key := argon2.IDKey([]byte(password), salt, argonTime, argonMemoryKiB, argonThreads, argonKeyLen)
	return encodePHC(salt, key, argonMemoryKiB, argonTime, argonThreads), nil
}

// verify reports whether password matches the PHC string phc, comparing in constant time. A
// malformed phc never matches (and still costs a computation, so its timing says nothing).
func (h *passwordHasher) verify(ctx context.Context, phc, password string) (bool, error) {
	p, ok := parsePHC(phc)
	if !ok {
		p, _ = parsePHC(h.dummy)
		p.key = nil // never matches
	}
	if err := h.acquireBounded(ctx); err != nil {
		return false, err
	}
	defer h.slots.Release(1)
	got := argon2.IDKey([]byte(password), p.salt, p.time, p.memory, p.threads, uint32(max(len(p.key), int(argonKeyLen))))
	return len(p.key) > 0 && subtle.ConstantTimeCompare(got, p.key) == 1, nil
}

// acquireBounded takes a slot, waiting only if fewer than PasswordQueue() checks already wait.
// Creating or resetting a password (hash) waits without that bound: an administrator's action,
// not something a stranger can send thousands of.
func (h *passwordHasher) acquireBounded(ctx context.Context) error {
	if h.slots.TryAcquire(1) {
		return nil
	}
	if h.waiting.Add(1) > PasswordQueue() {
		h.waiting.Add(-1)
		return ErrPasswordChecksBusy
	}
	defer h.waiting.Add(-1)
	if err := h.slots.Acquire(ctx, 1); err != nil {
		return fmt.Errorf("wait for a password hashing slot: %w", err)
	}
	return nil
}

type phcParams struct {
	memory  uint32
	time    uint32
	threads uint8
	salt    []byte
	key     []byte
}

var phcB64 = base64.RawStdEncoding

func encodePHC(salt, key []byte, m, t uint32, p uint8) string {
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, m, t, p, phcB64.EncodeToString(salt), phcB64.EncodeToString(key))
}

// parsePHC reads an Argon2id PHC string. Parameters outside sane bounds are refused, so that a
// tampered record cannot make a check allocate gigabytes.
func parsePHC(s string) (phcParams, bool) {
	parts := strings.Split(s, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" || parts[2] != fmt.Sprintf("v=%d", argon2.Version) {
		return phcParams{}, false
	}
	var p phcParams
	var threads uint32
	if n, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &p.memory, &p.time, &threads); err != nil || n != 3 {
		return phcParams{}, false
	}
	if p.memory < 8 || p.memory > 256*1024 || p.time < 1 || p.time > 10 || threads < 1 || threads > 16 {
		return phcParams{}, false
	}
	p.threads = uint8(threads)
	var err error
	if p.salt, err = phcB64.DecodeString(parts[4]); err != nil || len(p.salt) < 8 || len(p.salt) > 64 {
		return phcParams{}, false
	}
	if p.key, err = phcB64.DecodeString(parts[5]); err != nil || len(p.key) < 16 || len(p.key) > 64 {
		return phcParams{}, false
	}
	return p, true
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	return b
}

// weakPasswordMessage is Graph's refusal of a password that breaks the tenant's password policy.
const weakPasswordMessage = "The specified password does not comply with password complexity requirements. Please provide a different password."

// CheckPasswordComplexity applies Entra's cloud password policy: 8 to 256 characters, and at
// least three of lower-case letters, upper-case letters, digits and symbols. Graph answers a
// password that breaks it with Request_BadRequest and weakPasswordMessage.
func CheckPasswordComplexity(password string) error {
	n := utf8.RuneCountInString(password)
	if n < minPasswordLen || n > maxPasswordLen || !utf8.ValidString(password) {
		return &InputError{weakPasswordMessage}
	}
	var lower, upper, digit, symbol bool
	for _, r := range password {
		switch {
		case unicode.IsLower(r):
			lower = true
		case unicode.IsUpper(r):
			upper = true
		case unicode.IsDigit(r):
			digit = true
		case unicode.IsControl(r):
			return &InputError{weakPasswordMessage}
		default:
			symbol = true
		}
	}
	kinds := 0
	for _, k := range []bool{lower, upper, digit, symbol} {
		if k {
			kinds++
		}
	}
	if kinds < 3 {
		return &InputError{weakPasswordMessage}
	}
	return nil
}

// GeneratePassword returns a random password that meets the complexity rule: 24 characters
// from letters, digits and a few symbols, always with one of each kind.
func GeneratePassword() string {
	const (
		lower   = "abcdefghijkmnopqrstuvwxyz"
		upper   = "ABCDEFGHJKLMNPQRSTUVWXYZ"
		digits  = "23456789"
		symbols = "-_.~" // no '!': an interactive shell expands it even in double quotes
		all     = lower + upper + digits + symbols
	)
	r := randomBytes(24)
	b := make([]byte, 24)
	for i := range b {
		b[i] = all[int(r[i])%len(all)]
	}
	// A letter first: a password starting with '-' is read as an option by `az login -p`.
	b[0] = upper[int(r[0])%len(upper)]
	b[3] = lower[int(r[3])%len(lower)]
	b[9] = upper[int(r[9])%len(upper)]
	b[14] = digits[int(r[14])%len(digits)]
	b[19] = symbols[int(r[19])%len(symbols)]
	return string(b)
}
