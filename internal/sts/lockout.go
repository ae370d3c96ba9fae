package sts

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"sync"
	"time"
)

// Smart lockout, as Entra's: after lockoutThreshold failed sign-ins the account is locked for
// a minute, longer each time it locks again; while locked every sign-in is AADSTS50053 whatever
// the password. Repeating one of the last three wrong passwords does not count again (a client
// retrying a stale password must not lock its user out). State is per server process.
// https://learn.microsoft.com/entra/identity/authentication/howto-password-smart-lockout
const (
	lockoutThreshold = 10
	lockoutBase      = time.Minute
	lockoutMax       = 30 * time.Minute
	lockoutForget    = time.Hour // failures older than this are forgotten
	lockoutMaxUsers  = 100_000   // bound the table under a flood of distinct names
)

type lockoutEntry struct {
	failures    int
	recent      [3][32]byte // keyed hashes of the last wrong passwords, never the passwords
	nRecent     int
	lockedUntil time.Time
	locks       int // how many times it locked; the next lock lasts longer
	last        time.Time
}

type lockout struct {
	mu    sync.Mutex
	key   [32]byte
	users map[string]*lockoutEntry // by user object id
}

func newLockout() *lockout {
	l := &lockout{users: map[string]*lockoutEntry{}}
	_, _ = rand.Read(l.key[:])
	return l
}

// locked reports whether the user is locked out at now.
func (l *lockout) locked(userID string, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	e := l.users[userID]
	return e != nil && now.Before(e.lockedUntil)
}

// fail records a wrong password; it reports whether the account is now locked.
func (l *lockout) fail(userID, password string, now time.Time) bool {
	m := hmac.New(sha256.New, l.key[:])
	m.Write([]byte(password))
	var h [32]byte
	copy(h[:], m.Sum(nil))
	l.mu.Lock()
	defer l.mu.Unlock()
	e := l.users[userID]
	if e == nil {
		if len(l.users) >= lockoutMaxUsers {
			l.evict(now)
		}
		e = &lockoutEntry{}
		l.users[userID] = e
	}
	if now.Sub(e.last) > lockoutForget && !now.Before(e.lockedUntil) {
		e.failures, e.nRecent = 0, 0
	}
	e.last = now
	for i := 0; i < e.nRecent; i++ {
		if hmac.Equal(e.recent[i][:], h[:]) {
			return now.Before(e.lockedUntil)
		}
	}
	copy(e.recent[1:], e.recent[:2])
	e.recent[0] = h
	if e.nRecent < 3 {
		e.nRecent++
	}
	e.failures++
	// A failure after a lock expired locks again at once, as Entra does.
	if e.failures >= lockoutThreshold || e.locks > 0 {
		d := lockoutBase << min(e.locks, 5)
		if d > lockoutMax {
			d = lockoutMax
		}
		e.lockedUntil = now.Add(d)
		e.locks++
		e.failures = 0
		return true
	}
	return false
}

// succeed forgets the failures of a user who signed in.
func (l *lockout) succeed(userID string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.users, userID)
}

func (l *lockout) evict(now time.Time) {
	for id, e := range l.users {
		if now.Sub(e.last) > lockoutForget && !now.Before(e.lockedUntil) {
			delete(l.users, id)
		}
	}
	if len(l.users) >= lockoutMaxUsers { // still full: drop the oldest unlocked half at random
		n := 0
		for id, e := range l.users {
			if !now.Before(e.lockedUntil) {
				delete(l.users, id)
				if n++; n >= lockoutMaxUsers/2 {
					break
				}
			}
		}
	}
}
