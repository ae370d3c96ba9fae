package server

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"runtime/metrics"
	"strings"
	"testing"

	"github.com/mint-id/mint/internal/cputime"
)

// The token endpoint's user grants through the whole process's handler, on a real SQLite store
// (no TLS, no sockets): what `mint bench`'s refresh-token figure measures, less the network, so
// that a CPU profile shows the server's own cost per redemption beside client credentials.
//
//	go test ./internal/server -run '^$' -bench 'Refresh|ClientCredentials' -cpuprofile cpu.out

const (
	benchCLIClient = "04b07795-8ddb-461a-bbee-02f9e1bf7b46"
	benchScope     = "https://management.azure.com//.default offline_access"
)

type benchServer struct {
	h        http.Handler
	env      map[string]string
	dev      DeveloperCredentials
	endpoint string
}

func newBenchServer(b *testing.B) *benchServer {
	b.Helper()
	ctx := context.Background()
	dir := b.TempDir()
	s, err := New(ctx, Config{DataDir: dir, Addr: "127.0.0.1:0", CreateKEK: true,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.listener.Close(); s.close() })
	in, err := s.Bootstrap(ctx)
	if err != nil {
		b.Fatal(err)
	}
	pc, err := s.Directory.AddPassword(ctx, in.Admin.ObjectID, "bench", 0)
	if err != nil {
		b.Fatal(err)
	}
	env := map[string]string{}
	vars, err := s.environment(in, pc.SecretText)
	if err != nil {
		b.Fatal(err)
	}
	for _, v := range vars {
		env[v.Name] = v.Value
	}
	path, err := s.EnsureDeveloper(ctx, in)
	if err != nil {
		b.Fatal(err)
	}
	var dev DeveloperCredentials
	data, err := os.ReadFile(filepath.Clean(path))
	if err != nil {
		b.Fatal(err)
	}
	if err := json.Unmarshal(data, &dev); err != nil {
		b.Fatal(err)
	}
	return &benchServer{h: s.Handler(), env: env, dev: dev, endpoint: s.BaseURL + "/" + in.Tenant.ID + "/oauth2/v2.0/token"}
}

func (bs *benchServer) post(b *testing.B, form url.Values) map[string]any {
	// A context that can be cancelled, as net/http gives every request (it is cancelled when
	// the handler returns): code that watches it pays for the watching here as in the server.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req := httptest.NewRequestWithContext(ctx, http.MethodPost, bs.endpoint, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	w := httptest.NewRecorder()
	bs.h.ServeHTTP(w, req)
	var a map[string]any
	if err := json.Unmarshal(w.Body.Bytes(), &a); err != nil || w.Code != http.StatusOK {
		b.Fatalf("HTTP %d: %s", w.Code, w.Body.String())
	}
	return a
}

// BenchmarkRefreshRedemption redeems a refresh token and keeps the new one, as a client does.
func BenchmarkRefreshRedemption(b *testing.B) {
	bs := newBenchServer(b)
	a := bs.post(b, url.Values{"grant_type": {"password"}, "client_id": {benchCLIClient}, "username": {bs.dev.UserPrincipalName},
		"password": {bs.dev.Password}, "scope": {benchScope}})
	rt := a["refresh_token"].(string)
	b.ReportAllocs()
	b.ResetTimer()
	defer reportCPU(b)()
	for b.Loop() {
		a := bs.post(b, url.Values{"grant_type": {"refresh_token"}, "client_id": {benchCLIClient}, "refresh_token": {rt}, "scope": {benchScope}})
		rt = a["refresh_token"].(string)
	}
}

// BenchmarkClientCredentials is the admin application's client-credentials grant, the figure
// the refresh path is compared with.
func BenchmarkClientCredentials(b *testing.B) {
	bs := newBenchServer(b)
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {bs.env["AZURE_CLIENT_ID"]},
		"client_secret": {bs.env["AZURE_CLIENT_SECRET"]}, "scope": {"https://management.azure.com//.default"}}
	b.ReportAllocs()
	b.ResetTimer()
	defer reportCPU(b)()
	for b.Loop() {
		bs.post(b, form)
	}
}

// reportCPU reports the process's CPU time per operation (the sign-in log's writes included)
// and the goroutines started per operation when the returned function runs after the loop.
// Goroutines are counted because each costs a wake-up or two on top of its own work, which a
// CPU profile spreads over the scheduler; the count is exact however loaded the machine is.
func reportCPU(b *testing.B) func() {
	start, started := cputime.Process(), goroutinesCreated()
	return func() {
		if cpu := cputime.Process() - start; cpu > 0 && b.N > 0 {
			b.ReportMetric(float64(cpu.Microseconds())/float64(b.N), "cpu-µs/op")
		}
		if b.N > 0 {
			b.ReportMetric(float64(goroutinesCreated()-started)/float64(b.N), "goroutines/op")
		}
	}
}

// goroutinesCreated is how many goroutines the process has started.
func goroutinesCreated() uint64 {
	s := []metrics.Sample{{Name: "/sched/goroutines-created:goroutines"}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return s[0].Value.Uint64()
}

// BenchmarkRSASign is one RSA-2048 PKCS#1 v1.5 signature, the ceiling both figures are read
// against: run it beside them to see what each request costs beyond its signature.
func BenchmarkRSASign(b *testing.B) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		b.Fatal(err)
	}
	digest := sha256.Sum256([]byte("a token's signing input"))
	b.ResetTimer()
	defer reportCPU(b)()
	for b.Loop() {
		if _, err := rsa.SignPKCS1v15(nil, key, crypto.SHA256, digest[:]); err != nil {
			b.Fatal(err)
		}
	}
}
