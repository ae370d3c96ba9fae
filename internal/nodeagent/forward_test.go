package nodeagent

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mint-id/mint/internal/keys"
	"github.com/mint-id/mint/internal/proxy"
)

// forwardTo starts the forwarder in front of upstream (an httptest TLS server) and returns the
// front's URL and the count of connections the forwarder opened.
func forwardTo(t *testing.T, upstream *httptest.Server) (string, *atomic.Int64) {
	t.Helper()
	front, dialled, _ := forwarderTo(t, upstream)
	return front, dialled
}

func forwarderTo(t *testing.T, upstream *httptest.Server) (string, *atomic.Int64, *forwarder) {
	t.Helper()
	u, _ := url.Parse(upstream.URL)
	var dialled atomic.Int64
	f, err := newForwarder(u, upstream.Client().Transport, func() { dialled.Add(1) }, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	if !f.lean {
		t.Fatal("an https server without a proxy takes the lean path")
	}
	front := httptest.NewServer(f)
	t.Cleanup(front.Close)
	return front.URL, &dialled, f
}

func do(t *testing.T, method, u, host, body string, h http.Header) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest(method, u, strings.NewReader(body))
	if body == "" {
		req.Body = nil
	}
	req.Host = host
	for k, vv := range h {
		req.Header[k] = vv
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(b)
}

// The request reaches the server as the client sent it, Host (the Azure name) intact, without
// hop-by-hop headers, those Connection names, or X-Forwarded-* a workload made up; the answer
// comes back without its hop-by-hop headers. Connections are kept: many requests, few
// handshakes.
func TestForwarderForwardsAndKeepsConnections(t *testing.T) {
	var mu sync.Mutex
	var seen []*http.Request
	var bodies []string
	upstream := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		seen, bodies = append(seen, r), append(bodies, string(b))
		mu.Unlock()
		w.Header().Set("X-Answer", "yes")
		w.Header().Set("Keep-Alive", "timeout=5")
		w.Header().Set("Connection", "X-Private")
		w.Header().Set("X-Private", "hop")
		io.WriteString(w, r.Method+" "+r.Host+" "+r.URL.RequestURI())
	}))
	defer upstream.Close()
	front, dialled := forwardTo(t, upstream)

	resp, body := do(t, http.MethodGet, front+"/secrets/s1/?api-version=7.4&x=%2F", "kv1.vault.azure.net", "",
		http.Header{"Authorization": {"Bearer t"}, "X-Forwarded-For": {"10.0.0.1"}, "X-Forwarded-Host": {"evil"}, "Connection": {"X-Drop"}, "X-Drop": {"1"}, "Proxy-Authorization": {"Basic x"}})
	if resp.StatusCode != 200 || body != "GET kv1.vault.azure.net /secrets/s1/?api-version=7.4&x=%2F" {
		t.Fatalf("got %d %q", resp.StatusCode, body)
	}
	if resp.Header.Get("X-Answer") != "yes" || resp.Header.Get("X-Private") != "" || resp.Header.Get("Keep-Alive") != "" {
		t.Errorf("answer headers %v", resp.Header)
	}
	r := seen[0]
	if r.Header.Get("Authorization") != "Bearer t" {
		t.Errorf("Authorization not forwarded: %v", r.Header)
	}
	for _, h := range []string{"X-Forwarded-For", "X-Forwarded-Host", "X-Drop", "Proxy-Authorization"} {
		if r.Header.Get(h) != "" {
			t.Errorf("%s forwarded: %v", h, r.Header)
		}
	}

	resp, body = do(t, http.MethodPut, front+"/secrets/s1?api-version=7.4", "kv1.vault.azure.net", `{"value":"v"}`, nil)
	if resp.StatusCode != 200 || bodies[1] != `{"value":"v"}` || seen[1].ContentLength != int64(len(`{"value":"v"}`)) {
		t.Fatalf("PUT: %d %q, server read %q", resp.StatusCode, body, bodies[1])
	}
	do(t, http.MethodPost, front+"/tenant/oauth2/v2.0/token", "login.microsoftonline.com", "", nil)
	if got := seen[2].Header.Get("Content-Length"); seen[2].ContentLength != 0 || got != "0" {
		t.Errorf("an empty POST carries Content-Length %q", got)
	}

	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 25 {
				do(t, http.MethodGet, front+"/secrets/s1", "kv1.vault.azure.net", "", nil)
			}
		}()
	}
	wg.Wait()
	if n := dialled.Load(); n > 9 {
		t.Errorf("%d connections to the server for 203 requests from at most 8 clients at once", n)
	}
}

// A kept connection the server closed while it was idle is found out on use, and the request
// (a POST too: the server never read it) goes again on a new connection.
func TestForwarderRetriesOnAConnectionTheServerClosed(t *testing.T) {
	var requests atomic.Int64
	upstream := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		b, _ := io.ReadAll(r.Body)
		w.Write(b)
	}))
	defer upstream.Close()
	front, dialled := forwardTo(t, upstream)
	if _, body := do(t, http.MethodPost, front+"/token", "login.microsoftonline.com", "first", nil); body != "first" {
		t.Fatalf("got %q", body)
	}
	upstream.CloseClientConnections()
	time.Sleep(50 * time.Millisecond) // the close reaches the forwarder's kept connection
	resp, body := do(t, http.MethodPost, front+"/token", "login.microsoftonline.com", "second", nil)
	if resp.StatusCode != 200 || body != "second" {
		t.Fatalf("after the server closed the kept connection: %d %q", resp.StatusCode, body)
	}
	if requests.Load() != 2 || dialled.Load() != 2 {
		t.Errorf("%d requests served, %d connections", requests.Load(), dialled.Load())
	}
}

// Kept connections do not outlive leanIdleFor: an idle proxy holds none.
func TestForwarderClosesConnectionsKeptTooLong(t *testing.T) {
	upstream := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer upstream.Close()
	front, dialled, f := forwarderTo(t, upstream)
	f.idleFor = 100 * time.Millisecond
	do(t, http.MethodGet, front+"/a", "kv1.vault.azure.net", "", nil)
	f.mu.Lock()
	kept := len(f.idle)
	f.mu.Unlock()
	if kept != 1 {
		t.Fatalf("%d connections kept after a request", kept)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		f.mu.Lock()
		kept, reaping := len(f.idle), f.reaps != nil
		f.mu.Unlock()
		if kept == 0 && !reaping {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d connections still kept", kept)
		}
		time.Sleep(20 * time.Millisecond)
	}
	do(t, http.MethodGet, front+"/b", "kv1.vault.azure.net", "", nil)
	if n := dialled.Load(); n != 2 {
		t.Errorf("%d connections; want a new one after the first was closed", n)
	}
}

// A server that cannot be reached is a 502 naming it.
func TestForwarderUnreachableServerIs502(t *testing.T) {
	upstream := httptest.NewTLSServer(http.NotFoundHandler())
	front, _ := forwardTo(t, upstream)
	upstream.Close()
	resp, body := do(t, http.MethodGet, front+"/secrets/s1", "kv1.vault.azure.net", "", nil)
	if resp.StatusCode != http.StatusBadGateway || !strings.Contains(body, "is unreachable from this node") {
		t.Fatalf("got %d %q", resp.StatusCode, body)
	}
}

// What the lean path does not take (a body larger than it reads whole, one of unknown length)
// still arrives whole, through ReverseProxy.
func TestForwarderLargeAndStreamedBodies(t *testing.T) {
	upstream := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, _ := io.Copy(io.Discard, r.Body)
		io.WriteString(w, r.Method+" "+strconv.FormatInt(n, 10))
	}))
	defer upstream.Close()
	front, _ := forwardTo(t, upstream)
	big := strings.Repeat("b", leanMaxBody+1)
	if _, body := do(t, http.MethodPut, front+"/blob", "kv1.vault.azure.net", big, nil); body != "PUT "+strconv.Itoa(len(big)) {
		t.Errorf("large body: %q", body)
	}
	req, _ := http.NewRequest(http.MethodPost, front+"/stream", io.NopCloser(strings.NewReader("chunked body")))
	req.ContentLength = -1
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(b) != "POST 12" {
		t.Errorf("chunked body: %q", b)
	}
}

// An answer of unknown length is streamed: each piece reaches the client as it is written.
func TestForwarderStreamsAnswers(t *testing.T) {
	next := make(chan struct{})
	upstream := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "first\n")
		w.(http.Flusher).Flush()
		<-next
		io.WriteString(w, "second\n")
	}))
	defer upstream.Close()
	front, _ := forwardTo(t, upstream)
	resp, err := http.Get(front + "/events")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	br := bufio.NewReader(resp.Body)
	line, err := br.ReadString('\n')
	if err != nil || line != "first\n" {
		t.Fatalf("first piece: %q %v", line, err)
	}
	close(next)
	if line, _ = br.ReadString('\n'); line != "second\n" {
		t.Fatalf("second piece: %q", line)
	}
}

// A client that goes away ends the request at the server too.
func TestForwarderClientGoneEndsTheServersRequest(t *testing.T) {
	ended := make(chan struct{})
	upstream := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done()
		close(ended)
	}))
	defer upstream.Close()
	front, _ := forwardTo(t, upstream)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, front+"/slow", nil)
	if resp, err := http.DefaultClient.Do(req); err == nil {
		resp.Body.Close()
		t.Fatal("a request that never ends answered")
	}
	select {
	case <-ended:
	case <-time.After(5 * time.Second):
		t.Fatal("the server's request did not end when the client went away")
	}
}

// BenchmarkForward compares the lean path with ReverseProxy over http.Transport for a vault-like
// GET (the same front, client and server): run with -benchmem for allocations per request.
func BenchmarkForward(b *testing.B) {
	body := strings.Repeat("s", 300)
	upstream := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		io.WriteString(w, body)
	}))
	defer upstream.Close()
	u, _ := url.Parse(upstream.URL)
	f, err := newForwarder(u, upstream.Client().Transport, func() {}, slog.New(slog.DiscardHandler))
	if err != nil {
		b.Fatal(err)
	}
	for _, c := range []struct {
		name string
		h    http.Handler
	}{{"lean", f}, {"ReverseProxy", f.fallback}} {
		b.Run(c.name, func(b *testing.B) {
			front := httptest.NewServer(c.h)
			defer front.Close()
			client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 8}}
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					req, _ := http.NewRequest(http.MethodGet, front.URL+"/secrets/s1/?api-version=7.4", nil)
					req.Host = "kv1.vault.azure.net"
					req.Header.Set("Authorization", "Bearer "+strings.Repeat("t", 1200))
					resp, err := client.Do(req)
					if err != nil {
						b.Error(err)
						return
					}
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
			})
		})
	}
}

// nodeProxyTo starts the node's Azure-name proxy with h as its handler and returns a client
// that uses it and trusts its CA, as `mint run --proxy` makes a program do.
func nodeProxyTo(tb testing.TB, h http.Handler) *http.Client {
	tb.Helper()
	pu, pool := startTestProxy(tb, h)
	return &http.Client{Transport: &http.Transport{Proxy: http.ProxyURL(pu), TLSClientConfig: &tls.Config{RootCAs: pool}, MaxIdleConnsPerHost: 8}}
}

// startTestProxy starts the node's Azure-name proxy with h as its handler and returns its URL
// and a pool trusting its CA.
func startTestProxy(tb testing.TB, h http.Handler, tweaks ...func(*proxy.Config)) (*url.URL, *x509.CertPool) {
	tb.Helper()
	dir := tb.TempDir()
	kek, err := keys.GenerateKEKFile(filepath.Join(dir, "kek"))
	if err != nil {
		tb.Fatal(err)
	}
	ca, err := keys.LoadOrCreateCA(dir, kek)
	if err != nil {
		tb.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca.Certificate())
	cfg := proxy.Config{Addr: "127.0.0.1:0", CA: ca, Handler: h}
	for _, tweak := range tweaks {
		tweak(&cfg)
	}
	p, err := proxy.New(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { p.Serve(ctx); close(done) }()
	tb.Cleanup(func() { cancel(); <-done })
	pu, _ := url.Parse(p.URL())
	return pu, pool
}

// Through the tunnel's own loop (the forwarder is a proxy.Pinner), the answers come back whole
// and the tunnel's connection to the server is kept across its requests: an answer copied to its
// end (without an EOF read) leaves the connection ready for the next request.
func TestNodeProxyLoopKeepsServerConnections(t *testing.T) {
	var hosts sync.Map
	upstream := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hosts.Store(r.Host, true)
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"value":"`+r.URL.Path+`"}`)
	}))
	defer upstream.Close()
	_, dialled, f := forwarderTo(t, upstream)
	c := nodeProxyTo(t, f)
	c.Timeout = 10 * time.Second
	for i := range 20 {
		resp, err := c.Get("https://kv1.vault.azure.net/secrets/s" + strconv.Itoa(i))
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if want := `{"value":"/secrets/s` + strconv.Itoa(i) + `"}`; string(body) != want || resp.Header.Get("Content-Type") != "application/json" {
			t.Fatalf("GET %d: %d %q %v", i, resp.StatusCode, body, resp.Header)
		}
	}
	if _, ok := hosts.Load("kv1.vault.azure.net"); !ok {
		t.Error("the server did not see the Azure name as Host")
	}
	if n := dialled.Load(); n != 1 {
		t.Errorf("%d connections to the server for 20 sequential GETs, want 1", n)
	}

	// The server gone: the proxy's own 502, in http.Error's shape, and the tunnel goes on.
	upstream.Close()
	resp, err := c.Get("https://kv1.vault.azure.net/secrets/x")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadGateway || !strings.Contains(string(body), "is unreachable from this node") ||
		resp.Header.Get("Content-Type") != "text/plain; charset=utf-8" || resp.Header.Get("X-Content-Type-Options") != "nosniff" {
		t.Errorf("server gone: %d %q %v", resp.StatusCode, body, resp.Header)
	}
}

// BenchmarkNodeProxy measures a vault-like GET through the node's Azure-name proxy (CONNECT,
// TLS terminated with a certificate from a CA, forwarded over HTTPS) to an httptest server:
// "loop" is the tunnel's own request loop (the forwarder is a proxy.Pinner: each tunnel its own
// server connection, the answers copied as bytes), "net/http" the same forwarder behind the
// inner net/http server (a plain http.Handler, as before the loop: the shared pool of server
// connections, each answer parsed and re-written).
// Client and server are in the process too, so compare the two, not the absolute figures:
// -benchmem's difference is the proxy's.
func BenchmarkNodeProxy(b *testing.B) {
	body := strings.Repeat("s", 300)
	upstream := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		io.WriteString(w, body)
	}))
	defer upstream.Close()
	u, _ := url.Parse(upstream.URL)
	f, err := newForwarder(u, upstream.Client().Transport, func() {}, slog.New(slog.DiscardHandler))
	if err != nil {
		b.Fatal(err)
	}
	for _, c := range []struct {
		name string
		h    http.Handler
	}{{"loop", f}, {"net/http", http.HandlerFunc(f.ServeHTTP)}} {
		b.Run(c.name, func(b *testing.B) {
			client := nodeProxyTo(b, c.h)
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					req, _ := http.NewRequest(http.MethodGet, "https://kv1.vault.azure.net/secrets/s1/?api-version=7.4", nil)
					req.Header.Set("Authorization", "Bearer "+strings.Repeat("t", 1200))
					resp, err := client.Do(req)
					if err != nil {
						b.Error(err)
						return
					}
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
			})
		})
	}
}
