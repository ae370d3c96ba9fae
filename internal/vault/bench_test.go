package vault

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// BenchmarkGetSecret is the data plane's share of a secret GET (no TLS, no network): token and
// role caches warm, one store read, decryption, JSON.
func BenchmarkGetSecret(b *testing.B) {
	t := &testing.T{}
	e := newEnv(t, envOptions{})
	tok := e.token(e.app("reader", userRole), nil)
	officer := e.token(e.app("officer", officerRole), nil)
	if r := e.do("PUT", "", "/secrets/bench", officer, map[string]string{"value": "a benchmark secret value"}); r.status != 200 {
		b.Fatalf("set: %d", r.status)
	}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req := httptest.NewRequest("GET", "https://"+testHost+"/secrets/bench/?api-version=2026-04-01", nil)
			req.Header.Set("Authorization", "Bearer "+tok)
			rec := httptest.NewRecorder()
			e.srv.ServeHTTP(rec, req)
			if rec.Code != http.StatusOK {
				b.Fatalf("get: %d %s", rec.Code, rec.Body)
			}
		}
	})
}
