package vault

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/google/uuid"
)

// discardWriter is a ResponseWriter that keeps only the status, so that a benchmark measures the
// handler and not a recorder's copies.
type discardWriter struct {
	h      http.Header
	status int
	n      int
}

func (w *discardWriter) Header() http.Header { return w.h }
func (w *discardWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
}

func (w *discardWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	w.n += len(b)
	return len(b), nil
}

// BenchmarkGetSecretHandler is the data plane's own CPU and allocations per secret GET: one
// request reused, a writer that discards, token, role and secret caches warm. Read with
// -benchmem: what it allocates the server's garbage collector pays for under load.
func BenchmarkGetSecretHandler(b *testing.B) {
	t := &testing.T{}
	e := newEnv(t, envOptions{})
	tok := e.token(e.app("reader", userRole), nil)
	officer := e.token(e.app("officer", officerRole), nil)
	if r := e.do("PUT", "", "/secrets/bench", officer, map[string]string{"value": "a benchmark secret value"}); r.status != 200 {
		b.Fatalf("set: %d", r.status)
	}
	req := httptest.NewRequest("GET", "https://"+testHost+"/secrets/bench/?api-version=2026-04-01", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	w := &discardWriter{h: http.Header{}}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		clear(w.h)
		w.status, w.n = 0, 0
		e.srv.ServeHTTP(w, req)
		if w.status != http.StatusOK {
			b.Fatalf("get: %d", w.status)
		}
	}
}

// Request ids are distinct version 4 UUIDs.
func TestRequestIDsAreRandomVersion4(t *testing.T) {
	seen := map[string]bool{}
	for range 3 * 64 { // more than one buffer's worth
		id := newRequestID()
		u, err := uuid.Parse(id)
		if err != nil || u.Version() != 4 || u.Variant() != uuid.RFC4122 || seen[id] {
			t.Fatalf("request id %q: %v version %d variant %v seen %v", id, err, u.Version(), u.Variant(), seen[id])
		}
		seen[id] = true
	}
}
