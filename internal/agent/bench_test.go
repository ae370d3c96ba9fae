package agent

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Benchmarks of the cached path against a bare net/http handler, in the same run, over loopback
// with keep-alive, the load generator sharing the machine as in the SPIRE baseline:
//
//	go test -run '^$' -bench 'BareHandler|Cached' -benchtime 5s ./internal/agent/
//
// Each runs at 1, 8 and 32 concurrent clients and reports req/s and the p50/p99 latency seen by
// the client.

func benchClient() *http.Client {
	return &http.Client{Transport: &http.Transport{MaxIdleConns: 1024, MaxIdleConnsPerHost: 1024, DisableCompression: true}}
}

// loadStats is what one load run measured.
type loadStats struct {
	reqs          int
	elapsed       time.Duration
	p50, p99      time.Duration
	reqsPerSecond float64
}

// load sends requests to url from c goroutines (each with its own keep-alive connection) until
// more() says stop, and measures client-side latency.
func load(c int, more func() bool, url string, headers ...string) (loadStats, error) {
	client := benchClient()
	lats := make([][]time.Duration, c)
	errs := make(chan error, c)
	var wg sync.WaitGroup
	start := time.Now()
	for g := 0; g < c; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			req, _ := http.NewRequest("GET", url, nil)
			for i := 0; i+1 < len(headers); i += 2 {
				req.Header.Set(headers[i], headers[i+1])
			}
			local := make([]time.Duration, 0, 4096)
			for more() {
				t0 := time.Now()
				resp, err := client.Do(req)
				if err != nil {
					errs <- err
					return
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 {
					errs <- fmt.Errorf("status %d", resp.StatusCode)
					return
				}
				local = append(local, time.Since(t0))
			}
			lats[g] = local
		}(g)
	}
	wg.Wait()
	st := loadStats{elapsed: time.Since(start)}
	select {
	case err := <-errs:
		return st, err
	default:
	}
	var lat []time.Duration
	for _, l := range lats {
		lat = append(lat, l...)
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	st.reqs = len(lat)
	if st.reqs > 0 {
		st.p50, st.p99 = lat[st.reqs/2], lat[st.reqs*99/100]
		st.reqsPerSecond = float64(st.reqs) / st.elapsed.Seconds()
	}
	return st, nil
}

// runLoad drives url with b.N requests from c goroutines and reports req/s and p50/p99.
func runLoad(b *testing.B, c int, url string, headers ...string) {
	var next atomic.Int64
	b.ResetTimer()
	st, err := load(c, func() bool { return next.Add(1) <= int64(b.N) }, url, headers...)
	b.StopTimer()
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(st.reqsPerSecond, "req/s")
	b.ReportMetric(float64(st.p50.Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(st.p99.Microseconds())/1000, "p99-ms")
}

// concurrencies are SPIRE baseline's rows.
var concurrencies = []int{1, 8, 32}

func loadAt(b *testing.B, url string, headers ...string) {
	for _, c := range concurrencies {
		b.Run("c="+strconv.Itoa(c), func(b *testing.B) { runLoad(b, c, url, headers...) })
	}
}

// BenchmarkBareHandler is the ceiling: a bare net/http handler returning fixed small JSON.
func BenchmarkBareHandler(b *testing.B) {
	loadAt(b, bareServer(b))
}

// bareServer serves fixed small JSON, the ceiling the issue compares against.
func bareServer(tb testing.TB) string {
	body := []byte(`{"access_token":"` + strings.Repeat("x", 100) + `","expires_on":"1795390000","resource":"https://vault.azure.net","token_type":"Bearer"}`)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write(body)
	})}
	go srv.Serve(l)
	tb.Cleanup(func() { srv.Close() })
	return "http://" + l.Addr().String() + "/msi/token?api-version=2019-08-01&resource=https%3A%2F%2Fvault.azure.net"
}

// TestThroughputVsBare alternates rounds of load on the bare handler and on the agent's cached
// App Service path (same run, same machine), and reports the median ratio and latencies at each
// concurrency. Opt in with MINT_AGENT_LOADTEST=1 (it takes about a minute):
//
//	MINT_AGENT_LOADTEST=1 go test -run TestThroughputVsBare -v ./internal/agent/
func TestThroughputVsBare(t *testing.T) {
	if os.Getenv("MINT_AGENT_LOADTEST") == "" {
		t.Skip("set MINT_AGENT_LOADTEST=1 to run the load comparison")
	}
	bare := bareServer(t)
	a, web := benchAgent(t)
	agentURL := a.Endpoints().IdentityEndpoint + "?api-version=2019-08-01&resource=https%3A%2F%2Fvault.azure.net"
	warm(t, agentURL, "X-IDENTITY-HEADER", web.Secret)
	const rounds, round = 5, 2 * time.Second
	for _, c := range concurrencies {
		var ratios []float64
		var bs, as []loadStats
		for r := 0; r < rounds; r++ {
			for _, which := range []int{0, 1} {
				deadline := time.Now().Add(round)
				more := func() bool { return time.Now().Before(deadline) }
				var st loadStats
				var err error
				if which == 0 {
					st, err = load(c, more, bare)
					bs = append(bs, st)
				} else {
					st, err = load(c, more, agentURL, "X-IDENTITY-HEADER", web.Secret)
					as = append(as, st)
				}
				if err != nil {
					t.Fatal(err)
				}
			}
			ratios = append(ratios, as[r].reqsPerSecond/bs[r].reqsPerSecond)
		}
		t.Logf("c=%-2d bare %6.0f req/s p50 %v p99 %v | agent %6.0f req/s p50 %v p99 %v | ratio median %.2f (min %.2f max %.2f)",
			c, median(bs, func(s loadStats) float64 { return s.reqsPerSecond }), medianDur(bs, func(s loadStats) time.Duration { return s.p50 }),
			medianDur(bs, func(s loadStats) time.Duration { return s.p99 }),
			median(as, func(s loadStats) float64 { return s.reqsPerSecond }), medianDur(as, func(s loadStats) time.Duration { return s.p50 }),
			medianDur(as, func(s loadStats) time.Duration { return s.p99 }),
			medianF(ratios), minF(ratios), maxF(ratios))
	}
}

func median(s []loadStats, f func(loadStats) float64) float64 {
	v := make([]float64, len(s))
	for i := range s {
		v[i] = f(s[i])
	}
	return medianF(v)
}

func medianDur(s []loadStats, f func(loadStats) time.Duration) time.Duration {
	return time.Duration(median(s, func(x loadStats) float64 { return float64(f(x)) })).Round(time.Microsecond)
}

func medianF(v []float64) float64 {
	v = append([]float64(nil), v...)
	sort.Float64s(v)
	return v[len(v)/2]
}

func minF(v []float64) float64 {
	m := v[0]
	for _, x := range v {
		m = min(m, x)
	}
	return m
}

func maxF(v []float64) float64 {
	m := v[0]
	for _, x := range v {
		m = max(m, x)
	}
	return m
}

func benchAgent(b testing.TB) (*Agent, Registration) {
	up := newFakeUpstream()
	up.pad = 1400 // a realistic ~1.5 kB JWT
	a := startAgent(b, up, func(c *Config) { c.RateLimit.Disabled = true })
	web, err := a.Register(webID, 0)
	if err != nil {
		b.Fatal(err)
	}
	return a, web
}

// BenchmarkCachedAppService: a cached token through the App Service dialect, as Go's azidentity asks.
func BenchmarkCachedAppService(b *testing.B) {
	a, web := benchAgent(b)
	url := a.Endpoints().IdentityEndpoint + "?api-version=2019-08-01&resource=https%3A%2F%2Fvault.azure.net"
	warm(b, url, "X-IDENTITY-HEADER", web.Secret)
	loadAt(b, url, "X-IDENTITY-HEADER", web.Secret)
}

// BenchmarkCachedIMDS: a cached token through IMDS (host binding).
func BenchmarkCachedIMDS(b *testing.B) {
	a, _ := benchAgent(b)
	_ = a.BindHost(vmID)
	url := a.Endpoints().IMDSProxy + "/metadata/identity/oauth2/token?api-version=2018-02-01&resource=https%3A%2F%2Fvault.azure.net"
	warm(b, url, "Metadata", "true")
	loadAt(b, url, "Metadata", "true")
}

func warm(b testing.TB, url string, headers ...string) {
	status, _, body := get(b, nil, "GET", url, nil, headers...)
	if status != 200 {
		b.Fatalf("warm-up: %d %s", status, body)
	}
}

// BenchmarkServeTokenInProcess measures the handler alone (no sockets): the agent's own cost
// per cached request, and its allocations.
func BenchmarkServeTokenInProcess(b *testing.B) {
	a, web := benchAgent(b)
	url := a.Endpoints().IdentityEndpoint + "?api-version=2019-08-01&resource=https%3A%2F%2Fvault.azure.net"
	warm(b, url, "X-IDENTITY-HEADER", web.Secret)
	h := a.Handler()
	req := httptest.NewRequest("GET", url, nil)
	req.Header.Set("X-IDENTITY-HEADER", web.Secret)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		w := discardWriter{h: http.Header{}}
		h.ServeHTTP(&w, req)
		if w.status != 0 && w.status != 200 {
			b.Fatal(w.status)
		}
	}
}

type discardWriter struct {
	h      http.Header
	status int
}

func (w *discardWriter) Header() http.Header         { return w.h }
func (w *discardWriter) Write(p []byte) (int, error) { return len(p), nil }
func (w *discardWriter) WriteHeader(s int)           { w.status = s }

// TestMemory1000Tokens measures, in a fresh child process, the agent with 1,000 cached tokens
// (1,000 audiences, each served once through App Service and once through IMDS so both
// pre-rendered bodies exist): Go heap in use and the process's RSS.
func TestMemory1000Tokens(t *testing.T) {
	if testing.Short() {
		t.Skip("memory measurement")
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = helperEnv("MINT_AGENT_TEST_HELPER=memory")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("helper: %v\n%s", err, stderr.String())
	}
	var m memoryReport
	if err := json.Unmarshal(out, &m); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	t.Logf("1,000 cached tokens (%d-byte tokens): RSS %.1f MiB (baseline before the agent %.1f MiB), Go heap in use %.1f MiB (%.1f MiB before), live heap %d bytes per cached token, cache entries %d",
		m.TokenBytes, mib(m.RSS), mib(m.RSSBefore), mib(m.HeapInuse), mib(m.HeapBefore), m.LivePerToken, m.Entries)
	if m.Entries != 1000 {
		t.Errorf("%d cache entries, want 1000", m.Entries)
	}
	if m.RSS > 30<<20 && !raceEnabled {
		t.Errorf("RSS %.1f MiB, goal < 30 MiB", mib(m.RSS))
	}
}

type memoryReport struct {
	RSS, RSSBefore, HeapInuse, HeapBefore uint64
	Entries, TokenBytes                   int
	// LivePerToken is the live heap (after a GC) the cache's entries add, per entry: with a
	// warmed-up agent, the bytes a cached token costs beyond its connections and buffers.
	LivePerToken int
}

func mib(n uint64) float64 { return float64(n) / (1 << 20) }

func memoryHelper() int {
	var ms runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms)
	rep := memoryReport{RSSBefore: rss(), HeapBefore: ms.HeapInuse}
	up := newFakeUpstream()
	up.pad = 1400
	a := startAgentNoTB(up)
	defer a.Close()
	web, _ := a.Register(webID, 0)
	_ = a.BindHost(webID)
	c := benchClient()
	var live0 uint64
	for i := 0; i < 1000; i++ {
		if i == 10 { // warmed up: connections open, first-use allocations made
			runtime.GC()
			runtime.ReadMemStats(&ms)
			live0 = ms.HeapAlloc
		}
		aud := "api://memory/" + strconv.Itoa(i)
		for _, u := range []struct{ url, k, v string }{
			{a.Endpoints().IdentityEndpoint + "?api-version=2019-08-01&resource=" + aud, "X-IDENTITY-HEADER", web.Secret},
			{a.Endpoints().IMDSProxy + "/metadata/identity/oauth2/token?api-version=2018-02-01&resource=" + aud, "Metadata", "true"},
		} {
			req, _ := http.NewRequest("GET", u.url, nil)
			req.Header.Set(u.k, u.v)
			resp, err := c.Do(req)
			if err != nil {
				fmt.Fprintln(os.Stderr, err)
				return 1
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 {
				fmt.Fprintln(os.Stderr, resp.StatusCode, string(b))
				return 1
			}
			if rep.TokenBytes == 0 {
				var m map[string]string
				_ = json.Unmarshal(b, &m)
				rep.TokenBytes = len(m["access_token"])
			}
		}
	}
	runtime.GC()
	runtime.ReadMemStats(&ms)
	rep.HeapInuse, rep.RSS, rep.Entries = ms.HeapInuse, rss(), a.cache.len()
	rep.LivePerToken = int(int64(ms.HeapAlloc)-int64(live0)) / 990
	_ = json.NewEncoder(os.Stdout).Encode(rep)
	return 0
}

// startAgentNoTB starts an agent outside a test (the memory helper runs in a child process).
func startAgentNoTB(up Upstream) *Agent {
	a, err := New(Config{Upstream: up, ListenAddr: "127.0.0.1:0", Logger: quietLogger(), RateLimit: RateLimit{Disabled: true}})
	if err != nil {
		panic(err)
	}
	go a.Serve(context.Background())
	return a
}

// rss reads VmRSS from /proc/self/status (0 where there is none).
func rss() uint64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, _ := strconv.ParseUint(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}
