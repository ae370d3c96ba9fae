package agent

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// workload is a process (or, for the host binding, the whole host) that runs as a resource.
type workload struct {
	secret     string // 32 random bytes, base64url; empty for the host binding
	resourceID string
	pid        int    // 0: not watched
	pidStart   uint64 // the process's start time, to tell a reused pid from the original
	limiter    *limiter
	conn       uint64 // the socket connection it is bound to (0: none)
	registered time.Time
}

// registry holds the workloads by secret. Reads (every token request) load an immutable map
// through one atomic pointer; writes (registrations, rare) copy it.
type registry struct {
	mu     sync.Mutex // serialises writers
	m      atomic.Pointer[map[string]*workload]
	host   atomic.Pointer[workload]
	limits RateLimit
}

func newRegistry(limits RateLimit) *registry {
	r := &registry{limits: limits}
	m := map[string]*workload{}
	r.m.Store(&m)
	return r
}

func (r *registry) lookup(secret string) *workload {
	return (*r.m.Load())[secret]
}

// validResourceID checks that id looks like an ARM resource id; the server decides whether it exists.
func validResourceID(id string) error {
	if !strings.HasPrefix(id, "/") || len(id) > 2048 {
		return fmt.Errorf("resource id %q is not an ARM resource id (/subscriptions/.../providers/...)", truncateID(id))
	}
	for i := 0; i < len(id); i++ {
		if id[i] < 0x21 || id[i] == 0x7f {
			return fmt.Errorf("resource id %q contains a space or control character", truncateID(id))
		}
	}
	return nil
}

func truncateID(s string) string {
	if len(s) > 200 {
		return s[:200] + "..."
	}
	return s
}

func newSecret() (string, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("generate secret: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b[:]), nil
}

func (r *registry) add(resourceID string, pid int, conn uint64, now time.Time) (*workload, error) {
	if err := validResourceID(resourceID); err != nil {
		return nil, err
	}
	var start uint64
	if pid != 0 {
		var ok bool
		if start, ok = processStart(pid); !ok {
			return nil, fmt.Errorf("process %d does not exist", pid)
		}
	}
	secret, err := newSecret()
	if err != nil {
		return nil, err
	}
	w := &workload{secret: secret, resourceID: resourceID, pid: pid, pidStart: start, limiter: newLimiter(r.limits), conn: conn, registered: now}
	r.mu.Lock()
	defer r.mu.Unlock()
	old := *r.m.Load()
	m := make(map[string]*workload, len(old)+1)
	for k, v := range old {
		m[k] = v
	}
	m[secret] = w
	r.m.Store(&m)
	return w, nil
}

// remove revokes the workloads matching drop and returns them.
func (r *registry) remove(drop func(*workload) bool) []*workload {
	r.mu.Lock()
	defer r.mu.Unlock()
	old := *r.m.Load()
	var gone []*workload
	for _, w := range old {
		if drop(w) {
			gone = append(gone, w)
		}
	}
	if len(gone) == 0 {
		return nil
	}
	m := make(map[string]*workload, len(old)-len(gone))
	for k, v := range old {
		if !drop(v) {
			m[k] = v
		}
	}
	r.m.Store(&m)
	return gone
}

var errUnknownSecret = errors.New("no workload is registered with that secret")

func (r *registry) revoke(secret string) error {
	if gone := r.remove(func(w *workload) bool { return w.secret == secret }); len(gone) == 0 {
		return errUnknownSecret
	}
	return nil
}

// watched returns the workloads whose process is watched.
func (r *registry) watched() []*workload {
	var ws []*workload
	for _, w := range *r.m.Load() {
		if w.pid != 0 {
			ws = append(ws, w)
		}
	}
	return ws
}

func (r *registry) count() int { return len(*r.m.Load()) }

func (r *registry) bindHost(resourceID string, now time.Time) error {
	if err := validResourceID(resourceID); err != nil {
		return err
	}
	r.host.Store(&workload{resourceID: resourceID, limiter: newLimiter(r.limits), registered: now})
	return nil
}
