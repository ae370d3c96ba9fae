package proxy

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// fakeForwarder stands in for the node agent's forwarder: Forward and ServeHTTP both answer
// with echo (or by path, below), and count which of the two served.
type fakeForwarder struct {
	forwarded, served atomic.Int32
}

func (f *fakeForwarder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.served.Add(1)
	echo.ServeHTTP(w, r)
}

func (f *fakeForwarder) Forwards(r *http.Request) bool { return r.URL.Path != "/not-lean" }

func (f *fakeForwarder) Forward(r *http.Request) *http.Response {
	f.forwarded.Add(1)
	switch r.URL.Path {
	case "/panic":
		panic("forwarder bug")
	case "/close":
		resp := TextAnswer(http.StatusBadRequest, "closing")
		resp.Close = true
		return resp
	case "/no-content":
		return &http.Response{StatusCode: http.StatusNoContent, Header: http.Header{"X-A": {"1"}}, Body: http.NoBody}
	case "/trailers":
		// An answer of unknown length with a trailer, as an upstream's chunked answer reads.
		pr, pw := io.Pipe()
		resp := &http.Response{StatusCode: 200, Header: http.Header{"Content-Type": {"text/plain"}}, ContentLength: -1,
			Body: pr, Trailer: http.Header{"X-Sum": nil}}
		go func() {
			io.WriteString(pw, "part one,")
			io.WriteString(pw, "part two")
			resp.Trailer.Set("X-Sum", "42")
			pw.Close()
		}()
		return resp
	}
	rec := httptest.NewRecorder()
	echo.ServeHTTP(rec, r)
	resp := rec.Result()
	resp.ContentLength = int64(rec.Body.Len())
	return resp
}

func startLoopProxy(t *testing.T, cfg Config) (*fixture, *fakeForwarder) {
	t.Helper()
	fw := &fakeForwarder{}
	cfg.Handler = fw
	return startProxy(t, cfg), fw
}

// tunnel opens a tunnel to target and does the TLS handshake offering protos.
func (f *fixture) tunnel(t *testing.T, target string, protos ...string) (*tls.Conn, *bufio.Reader) {
	t.Helper()
	resp, conn, _ := rawConnect(t, f.p.Addr(), target)
	if resp.StatusCode != 200 {
		t.Fatalf("CONNECT %s: %d", target, resp.StatusCode)
	}
	t.Cleanup(func() { conn.Close() })
	pool := x509.NewCertPool()
	pool.AddCert(f.ca.Certificate())
	if protos == nil {
		protos = []string{"http/1.1"}
	}
	host, _, _ := net.SplitHostPort(target)
	tc := tls.Client(conn, &tls.Config{RootCAs: pool, ServerName: host, NextProtos: protos})
	if err := tc.Handshake(); err != nil {
		t.Fatal(err)
	}
	return tc, bufio.NewReader(tc)
}

// exchange writes raw on the tunnel and reads one answer.
func exchange(t *testing.T, tc *tls.Conn, br *bufio.Reader, raw string) (*http.Response, string) {
	t.Helper()
	if _, err := io.WriteString(tc, raw); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(br, nil)
	for err == nil && resp.StatusCode < 200 { // 100 Continue
		resp, err = http.ReadResponse(br, nil)
	}
	if err != nil {
		t.Fatalf("answer to %q: %v", raw, err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, string(body)
}

// closedByProxy says whether the proxy closed the tunnel (within a few seconds).
func closedByProxy(tc *tls.Conn, br *bufio.Reader) bool {
	tc.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, err := br.ReadByte()
	var ne net.Error
	return err != nil && !(errors.As(err, &ne) && ne.Timeout())
}

func TestLoopForwardsPlainRequestsOnOneTunnel(t *testing.T) {
	f, fw := startLoopProxy(t, Config{})
	tc, br := f.tunnel(t, "kv1.vault.azure.net:443")
	for i, raw := range []string{
		"GET /secrets/x?api-version=1 HTTP/1.1\r\nHost: kv1.vault.azure.net\r\n\r\n",
		"POST /keys/k/sign HTTP/1.1\r\nHost: kv1.vault.azure.net:443\r\nContent-Length: 5\r\n\r\nhello",
	} {
		resp, body := exchange(t, tc, br, raw)
		var got echoed
		if err := json.Unmarshal([]byte(body), &got); err != nil || resp.StatusCode != 200 {
			t.Fatalf("request %d: %d %q", i, resp.StatusCode, body)
		}
		if got.Host != "kv1.vault.azure.net" || got.URLHost != "" || got.ServerName != "kv1.vault.azure.net" || got.Proto != "HTTP/1.1" {
			t.Errorf("request %d: the forwarder saw %+v", i, got)
		}
		if resp.Header.Get("Date") == "" || resp.ContentLength != int64(len(body)) || resp.Close {
			t.Errorf("request %d: answer framing %v, length %d, close %v", i, resp.Header, resp.ContentLength, resp.Close)
		}
	}
	// Two requests in one write (pipelined) get two answers, in order.
	io.WriteString(tc, "GET /a HTTP/1.1\r\nHost: kv1.vault.azure.net\r\n\r\nGET /b HTTP/1.1\r\nHost: kv1.vault.azure.net\r\n\r\n")
	for _, want := range []string{"/a", "/b"} {
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		var got echoed
		json.NewDecoder(resp.Body).Decode(&got)
		resp.Body.Close()
		if got.Path != want {
			t.Errorf("pipelined: answer for %q, want %q", got.Path, want)
		}
	}
	if fw.forwarded.Load() != 4 || fw.served.Load() != 0 {
		t.Errorf("forwarded %d, served by net/http %d: want every request forwarded by the loop", fw.forwarded.Load(), fw.served.Load())
	}
	// An ordinary Go client, keep-alive, as the SDKs are.
	c := f.client(false)
	for range 3 {
		resp, err := c.Get("https://management.azure.com/subscriptions?api-version=1")
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	if fw.served.Load() != 0 {
		t.Errorf("a Go client's GETs went to net/http's server %d times", fw.served.Load())
	}
}

func TestLoopAnswerShapes(t *testing.T) {
	f, _ := startLoopProxy(t, Config{})
	tc, br := f.tunnel(t, "kv1.vault.azure.net:443")
	resp, body := exchange(t, tc, br, "GET /trailers HTTP/1.1\r\nHost: kv1.vault.azure.net\r\n\r\n")
	if body != "part one,part two" || resp.Trailer.Get("X-Sum") != "42" || len(resp.TransferEncoding) != 1 {
		t.Errorf("streamed answer: %q, trailer %v, transfer encoding %v", body, resp.Trailer, resp.TransferEncoding)
	}
	resp, body = exchange(t, tc, br, "GET /no-content HTTP/1.1\r\nHost: kv1.vault.azure.net\r\n\r\n")
	if resp.StatusCode != 204 || body != "" || resp.Header.Get("X-A") != "1" {
		t.Errorf("204: %d %q %v", resp.StatusCode, body, resp.Header)
	}
	io.WriteString(tc, "HEAD /x HTTP/1.1\r\nHost: kv1.vault.azure.net\r\n\r\n")
	resp, err := http.ReadResponse(br, &http.Request{Method: "HEAD"})
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("HEAD: %v %v", resp, err)
	}
	// The tunnel is still in step after those.
	if resp, _ := exchange(t, tc, br, "GET /x HTTP/1.1\r\nHost: kv1.vault.azure.net\r\n\r\n"); resp.StatusCode != 200 {
		t.Errorf("after HEAD: %d", resp.StatusCode)
	}
	// An answer that says so ends the tunnel.
	resp, _ = exchange(t, tc, br, "GET /close HTTP/1.1\r\nHost: kv1.vault.azure.net\r\n\r\n")
	if resp.StatusCode != 400 || !resp.Close || !closedByProxy(tc, br) {
		t.Errorf("closing answer: %d, close %v", resp.StatusCode, resp.Close)
	}
}

// Each request the loop does not take goes, with the rest of its tunnel, to net/http's server,
// which serves it as it serves mint dev's tunnels.
func TestLoopHandsOverWhatItDoesNotServe(t *testing.T) {
	for _, tt := range []struct {
		name, raw string
		status    int
		closed    bool // the answer ends the tunnel
	}{
		{"HTTP/1.0", "GET /x HTTP/1.0\r\nHost: kv1.vault.azure.net\r\n\r\n", 200, true},
		{"Connection: close", "GET /x HTTP/1.1\r\nHost: kv1.vault.azure.net\r\nConnection: close\r\n\r\n", 200, true},
		{"chunked body", "POST /x HTTP/1.1\r\nHost: kv1.vault.azure.net\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n", 200, false},
		{"upgrade", "GET /x HTTP/1.1\r\nHost: kv1.vault.azure.net\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n", 200, false},
		{"Expect: 100-continue", "POST /x HTTP/1.1\r\nHost: kv1.vault.azure.net\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\nhello", 200, false},
		{"not for the forwarder", "GET /not-lean HTTP/1.1\r\nHost: kv1.vault.azure.net\r\n\r\n", 200, false},
		{"Host of another vault", "GET /x HTTP/1.1\r\nHost: kv2.vault.azure.net\r\n\r\n", http.StatusMisdirectedRequest, false},
		{"absolute form", "GET https://kv1.vault.azure.net/x HTTP/1.1\r\nHost: kv1.vault.azure.net\r\n\r\n", 200, false},
		{"absolute form to another vault", "GET https://kv2.vault.azure.net/x HTTP/1.1\r\nHost: kv1.vault.azure.net\r\n\r\n", http.StatusMisdirectedRequest, false},
		{"two Hosts", "GET /x HTTP/1.1\r\nHost: kv1.vault.azure.net\r\nHost: kv1.vault.azure.net\r\n\r\n", 400, true},
		{"no Host", "GET /x HTTP/1.1\r\n\r\n", 400, true},
		{"body over the limit", "POST /x HTTP/1.1\r\nHost: kv1.vault.azure.net\r\nContent-Length: 2048\r\n\r\n" + strings.Repeat("a", 2048), http.StatusRequestEntityTooLarge, true},
		{"malformed header", "GET /x HTTP/1.1\r\nHost: kv1.vault.azure.net\r\nBad Header\r\n\r\n", 400, true},
		{"malformed request line", "GET\r\n\r\n", 400, true},
		{"unsupported transfer encoding", "POST /x HTTP/1.1\r\nHost: kv1.vault.azure.net\r\nTransfer-Encoding: gzip\r\n\r\n", 501, true},
		{"header over the limit", "GET /x HTTP/1.1\r\nHost: kv1.vault.azure.net\r\nX-Big: " + strings.Repeat("a", 8<<10) + "\r\n\r\n", http.StatusRequestHeaderFieldsTooLarge, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f, fw := startLoopProxy(t, Config{MaxBodyBytes: 1024, MaxHeaderBytes: 1024})
			tc, br := f.tunnel(t, "kv1.vault.azure.net:443")
			// A first request served by the loop, so the hand-over happens mid-tunnel.
			exchange(t, tc, br, "GET /first HTTP/1.1\r\nHost: kv1.vault.azure.net\r\n\r\n")
			resp, body := exchange(t, tc, br, tt.raw)
			if resp.StatusCode != tt.status {
				t.Fatalf("%d %q, want %d", resp.StatusCode, body, tt.status)
			}
			if tt.status == http.StatusMisdirectedRequest && body != "mint proxy: this tunnel is for kv1.vault.azure.net, not kv2.vault.azure.net\n" {
				t.Errorf("421 body %q", body)
			}
			if fw.forwarded.Load() != 1 {
				t.Errorf("the loop forwarded %d requests, want only the first", fw.forwarded.Load())
			}
			if tt.status == 200 && fw.served.Load() != 1 {
				t.Errorf("net/http's server served %d requests, want 1", fw.served.Load())
			}
			if tt.closed {
				if !closedByProxy(tc, br) {
					t.Error("tunnel still open after the answer")
				}
				return
			}
			// The tunnel goes on, now served by net/http's server.
			if resp, _ := exchange(t, tc, br, "GET /after HTTP/1.1\r\nHost: kv1.vault.azure.net\r\n\r\n"); resp.StatusCode != 200 {
				t.Errorf("next request: %d", resp.StatusCode)
			}
		})
	}
}

func TestLoopLeavesHTTP2ToNetHTTP(t *testing.T) {
	f, fw := startLoopProxy(t, Config{})
	resp, err := f.client(true).Get("https://kv1.vault.azure.net/secrets/x")
	if err != nil {
		t.Fatal(err)
	}
	var got echoed
	json.NewDecoder(resp.Body).Decode(&got)
	resp.Body.Close()
	if resp.ProtoMajor != 2 || got.Proto != "HTTP/2.0" || got.Host != "kv1.vault.azure.net" || fw.served.Load() != 1 || fw.forwarded.Load() != 0 {
		t.Errorf("h2 tunnel: answer %s, handler saw %+v, served %d, forwarded %d", resp.Proto, got, fw.served.Load(), fw.forwarded.Load())
	}
}

// Each bound has a proxy of its own where only it is short, so that each case fails without
// the deadline it checks.
func TestLoopTimeouts(t *testing.T) {
	const short, long = 300 * time.Millisecond, time.Minute

	// Idle after an answer.
	f, _ := startLoopProxy(t, Config{HeaderTimeout: long, IdleTimeout: short})
	tc, br := f.tunnel(t, "kv1.vault.azure.net:443")
	exchange(t, tc, br, "GET /x HTTP/1.1\r\nHost: kv1.vault.azure.net\r\n\r\n")
	if !closedByProxy(tc, br) {
		t.Error("idle tunnel still open")
	}

	// Half a header, then nothing: closed without an answer.
	f, _ = startLoopProxy(t, Config{HeaderTimeout: short, IdleTimeout: long})
	tc, br = f.tunnel(t, "kv1.vault.azure.net:443")
	io.WriteString(tc, "GET /x HTTP/1.1\r\nHost: kv1")
	if !closedByProxy(tc, br) {
		t.Error("tunnel with half a header still open")
	}

	// Half a body, then nothing.
	f, _ = startLoopProxy(t, Config{HeaderTimeout: long, IdleTimeout: long})
	f.p.readTimeout = short
	tc, br = f.tunnel(t, "kv1.vault.azure.net:443")
	io.WriteString(tc, "POST /x HTTP/1.1\r\nHost: kv1.vault.azure.net\r\nContent-Length: 10\r\n\r\nhello")
	if resp, err := http.ReadResponse(br, nil); err == nil { // the fake forwarder answers what it read
		io.Copy(io.Discard, resp.Body)
	}
	if !closedByProxy(tc, br) {
		t.Error("tunnel with half a body still open")
	}
}

func TestLoopSurvivesAPanic(t *testing.T) {
	f, _ := startLoopProxy(t, Config{})
	tc, br := f.tunnel(t, "kv1.vault.azure.net:443")
	io.WriteString(tc, "GET /panic HTTP/1.1\r\nHost: kv1.vault.azure.net\r\n\r\n")
	if !closedByProxy(tc, br) {
		t.Error("tunnel open after the forwarder panicked")
	}
	tc, br = f.tunnel(t, "kv1.vault.azure.net:443")
	if resp, _ := exchange(t, tc, br, "GET /x HTTP/1.1\r\nHost: kv1.vault.azure.net\r\n\r\n"); resp.StatusCode != 200 {
		t.Errorf("next tunnel: %d", resp.StatusCode)
	}
}

func TestServeStopsWithLoopTunnelsOpen(t *testing.T) {
	ca := newTestCA(t)
	p, err := New(Config{Addr: "127.0.0.1:0", CA: ca, Handler: &fakeForwarder{}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Serve(ctx) }()
	u, _ := url.Parse(p.URL())
	f := &fixture{p: p, ca: ca, url: u}
	tc, br := f.tunnel(t, "kv1.vault.azure.net:443")
	exchange(t, tc, br, "GET /x HTTP/1.1\r\nHost: kv1.vault.azure.net\r\n\r\n")
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Serve: %v", err)
		}
	case <-time.After(3 * time.Second):
		t.Fatal("Serve did not return within 3 s with an idle tunnel open")
	}
	if !closedByProxy(tc, br) {
		t.Error("idle tunnel still open after Serve returned")
	}
}

// pipeConn is a tunnel's plaintext for the fuzz target: it reads the input, then EOF, and
// records what is written and whether it was closed.
type pipeConn struct {
	in     *bytes.Reader
	out    bytes.Buffer
	mu     chan struct{} // a one-slot lock: Write and Close may come from net/http's goroutines
	closed chan struct{}
}

func newPipeConn(in []byte) *pipeConn {
	return &pipeConn{in: bytes.NewReader(in), mu: make(chan struct{}, 1), closed: make(chan struct{})}
}

func (c *pipeConn) Read(b []byte) (int, error) { return c.in.Read(b) }
func (c *pipeConn) Write(b []byte) (int, error) {
	c.mu <- struct{}{}
	defer func() { <-c.mu }()
	select {
	case <-c.closed:
		return 0, net.ErrClosed
	default:
	}
	return c.out.Write(b)
}
func (c *pipeConn) Close() error {
	c.mu <- struct{}{}
	defer func() { <-c.mu }()
	select {
	case <-c.closed:
	default:
		close(c.closed)
	}
	return nil
}
func (c *pipeConn) LocalAddr() net.Addr { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 443} }
func (c *pipeConn) RemoteAddr() net.Addr {
	return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 50000}
}
func (c *pipeConn) SetDeadline(t time.Time) error      { return nil }
func (c *pipeConn) SetReadDeadline(t time.Time) error  { return nil }
func (c *pipeConn) SetWriteDeadline(t time.Time) error { return nil }

// FuzzTunnelLoop feeds random bytes as a tunnel's decrypted stream to the loop: it never
// panics, and the tunnel always ends closed, having answered with HTTP/1.x answers or nothing.
func FuzzTunnelLoop(f *testing.F) {
	for _, seed := range []string{
		"GET /secrets/x HTTP/1.1\r\nHost: kv1.vault.azure.net\r\n\r\n",
		"POST /x HTTP/1.1\r\nHost: kv1.vault.azure.net\r\nContent-Length: 5\r\n\r\nhelloGET /y HTTP/1.1\r\nHost: kv1.vault.azure.net\r\n\r\n",
		"POST /x HTTP/1.1\r\nHost: kv1.vault.azure.net\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
		"GET /x HTTP/1.0\r\n\r\n",
		"GET /x HTTP/1.1\r\nHost: kv2.vault.azure.net\r\n\r\n",
		"GET /x HTTP/1.1\r\nHost: kv1.vault.azure.net\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\nabc",
		"GET /trailers HTTP/1.1\r\nHost: kv1.vault.azure.net\r\n\r\nHEAD /x HTTP/1.1\r\nHost: kv1.vault.azure.net\r\n\r\n",
		"GET /close HTTP/1.1\r\nHost: kv1.vault.azure.net\r\n\r\n",
		"\x16\x03\x01\x00",
		"GET / HTTP/1.1\r\nHost: kv1.vault.azure.net\r\nContent-Length: 99999999999\r\n\r\n",
	} {
		f.Add([]byte(seed))
	}
	ca := newTestCA(f)
	fw := &fakeForwarder{}
	p, err := New(Config{Addr: "127.0.0.1:0", CA: ca, Handler: fuzzForwarder{fw}, MaxBodyBytes: 1024, MaxHeaderBytes: 1024})
	if err != nil {
		f.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go p.Serve(ctx)
	target := tunnelTarget{"kv1.vault.azure.net", "443"}
	f.Fuzz(func(t *testing.T, in []byte) {
		c := newPipeConn(in)
		p.serveLoop(c, target, &tls.ConnectionState{ServerName: target.host})
		select {
		case <-c.closed:
		case <-time.After(10 * time.Second):
			t.Fatalf("tunnel still open 10 s after its input ended; wrote %q", c.out.String())
		}
		c.mu <- struct{}{}
		out := c.out.String()
		<-c.mu
		if out != "" && !strings.HasPrefix(out, "HTTP/1.") {
			t.Fatalf("answered %q", out)
		}
	})
}

// fuzzForwarder is fakeForwarder without the panic.
type fuzzForwarder struct{ *fakeForwarder }

func (f fuzzForwarder) Forward(r *http.Request) *http.Response {
	if r.URL.Path == "/panic" {
		return TextAnswer(500, "no panic here")
	}
	return f.fakeForwarder.Forward(r)
}
