package nodeagent

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mint-id/mint/internal/proxy"
)

// pinnedUpstream is a server whose answers cover the framings net/http writes: a length, chunks
// (flushed pieces), none (HEAD, 204, 304), an interim 103 before the answer, a body larger than
// a TLS record, a slow answer, and one that closes its connection.
func pinnedUpstream(t *testing.T) *httptest.Server {
	t.Helper()
	big := strings.Repeat("0123456789abcdef", 6000) // 96,000 bytes: several TLS records
	s := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/slow":
			time.Sleep(50 * time.Millisecond)
			io.WriteString(w, "slow")
		case "/chunked":
			io.WriteString(w, "piece1,")
			w.(http.Flusher).Flush()
			io.WriteString(w, "piece2")
		case "/trailer":
			w.Header().Set("Trailer", "X-Sum")
			io.WriteString(w, "with a trailer")
			w.Header().Set("X-Sum", "42")
		case "/empty":
			w.WriteHeader(http.StatusNoContent)
		case "/unchanged":
			w.WriteHeader(http.StatusNotModified)
		case "/early":
			w.Header().Set("Link", "</style.css>; rel=preload")
			w.WriteHeader(http.StatusEarlyHints)
			io.WriteString(w, "after hints")
		case "/big":
			io.WriteString(w, big)
		case "/last":
			w.Header().Set("Connection", "close")
			io.WriteString(w, "last")
		case "/echo":
			b, _ := io.ReadAll(r.Body)
			w.Write(b)
		default:
			io.WriteString(w, r.Method+" "+r.URL.Path)
		}
	}))
	s.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		switch st {
		case http.StateNew:
			openConns.Add(1)
		case http.StateClosed, http.StateHijacked:
			openConns.Add(-1)
		}
	}
	s.StartTLS()
	t.Cleanup(s.Close)
	return s
}

// openConns counts the connections open at the pinnedUpstream servers (tests using it do not
// run in parallel).
var openConns atomic.Int64

// rawTunnel opens a CONNECT tunnel to host through the proxy at pu and returns its decrypted
// stream, for requests written by hand (pipelined, cut short).
func rawTunnel(t *testing.T, pu *url.URL, pool *x509.CertPool, host string) (*tls.Conn, *bufio.Reader) {
	t.Helper()
	c, err := net.Dial("tcp", pu.Host)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(10 * time.Second))
	io.WriteString(c, "CONNECT "+host+":443 HTTP/1.1\r\nHost: "+host+":443\r\n\r\n")
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, &http.Request{Method: http.MethodConnect})
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("CONNECT: %v %v", resp, err)
	}
	tc := tls.Client(c, &tls.Config{RootCAs: pool, ServerName: host, NextProtos: []string{"http/1.1"}})
	if err := tc.Handshake(); err != nil {
		t.Fatal(err)
	}
	return tc, bufio.NewReader(tc)
}

// readAnswer reads the next final answer on a tunnel (interim ones skipped) and its whole body.
func readAnswer(t *testing.T, br *bufio.Reader, method string) (*http.Response, string) {
	t.Helper()
	resp, err := http.ReadResponse(br, &http.Request{Method: method})
	for err == nil && resp.StatusCode < 200 {
		resp, err = http.ReadResponse(br, &http.Request{Method: method})
	}
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(b)
}

// A client that pipelines gets every answer whole and in order, whatever its framing, all on
// the tunnel's one connection to the server: the tunnel sends a request on only once the answer
// before it has been copied back.
func TestPinnedTunnelPipelinedAnswersInOrder(t *testing.T) {
	upstream := pinnedUpstream(t)
	_, dialled, f := forwarderTo(t, upstream)
	pu, pool := startTestProxy(t, f)
	tc, br := rawTunnel(t, pu, pool, "kv1.vault.azure.net")
	paths := []string{"/slow", "/chunked", "/empty", "/trailer", "/unchanged", "/early", "/big", "/head", "/a"}
	var reqs strings.Builder
	for _, p := range paths {
		m := "GET"
		if p == "/head" {
			m = "HEAD"
		}
		reqs.WriteString(m + " " + p + " HTTP/1.1\r\nHost: kv1.vault.azure.net\r\nAuthorization: Bearer x\r\n\r\n")
	}
	reqs.WriteString("POST /echo HTTP/1.1\r\nHost: kv1.vault.azure.net\r\nContent-Length: 5\r\n\r\nhello")
	if _, err := io.WriteString(tc, reqs.String()); err != nil { // one write: all pipelined
		t.Fatal(err)
	}
	want := map[string]string{"/slow": "slow", "/chunked": "piece1,piece2", "/empty": "", "/trailer": "with a trailer",
		"/unchanged": "", "/early": "after hints", "/big": strings.Repeat("0123456789abcdef", 6000), "/head": "", "/a": "GET /a"}
	for _, p := range paths {
		m := http.MethodGet
		if p == "/head" {
			m = http.MethodHead
		}
		resp, body := readAnswer(t, br, m)
		if body != want[p] {
			t.Fatalf("%s: %d, body %.60q, want %.60q", p, resp.StatusCode, body, want[p])
		}
		if p == "/trailer" && resp.Trailer.Get("X-Sum") != "42" {
			t.Errorf("/trailer: trailer %v", resp.Trailer)
		}
	}
	if resp, body := readAnswer(t, br, http.MethodPost); resp.StatusCode != http.StatusOK || body != "hello" {
		t.Errorf("POST /echo: %d %q", resp.StatusCode, body)
	}
	if n := dialled.Load(); n != 1 {
		t.Errorf("%d connections to the server for one tunnel, want 1", n)
	}
}

// The proxy's own answers come after the server's answers to the requests before them: a
// request the loop hands to the inner server (another Host: 421) and one whose body is cut
// short (400, and the tunnel ends), each pipelined behind a slow request.
func TestPinnedTunnelOwnAnswersFollowTheServers(t *testing.T) {
	upstream := pinnedUpstream(t)
	_, _, f := forwarderTo(t, upstream)
	pu, pool := startTestProxy(t, f)

	tc, br := rawTunnel(t, pu, pool, "kv1.vault.azure.net")
	io.WriteString(tc, "GET /slow HTTP/1.1\r\nHost: kv1.vault.azure.net\r\n\r\n"+
		"GET /other HTTP/1.1\r\nHost: kv2.vault.azure.net\r\n\r\n")
	if resp, body := readAnswer(t, br, http.MethodGet); resp.StatusCode != http.StatusOK || body != "slow" {
		t.Fatalf("first answer: %d %q, want the server's to /slow", resp.StatusCode, body)
	}
	if resp, body := readAnswer(t, br, http.MethodGet); resp.StatusCode != http.StatusMisdirectedRequest {
		t.Fatalf("second answer: %d %q, want the proxy's 421", resp.StatusCode, body)
	}

	tc, br = rawTunnel(t, pu, pool, "kv1.vault.azure.net")
	io.WriteString(tc, "GET /slow HTTP/1.1\r\nHost: kv1.vault.azure.net\r\n\r\n"+
		"POST /echo HTTP/1.1\r\nHost: kv1.vault.azure.net\r\nContent-Length: 10\r\n\r\nabc")
	tc.CloseWrite()
	if resp, body := readAnswer(t, br, http.MethodGet); resp.StatusCode != http.StatusOK || body != "slow" {
		t.Fatalf("first answer: %d %q, want the server's to /slow", resp.StatusCode, body)
	}
	resp, body := readAnswer(t, br, http.MethodPost)
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, "reading the request body") || !resp.Close {
		t.Fatalf("second answer: %d %q close=%v, want the proxy's 400 ending the tunnel", resp.StatusCode, body, resp.Close)
	}
	if _, err := br.ReadByte(); err != io.EOF {
		t.Errorf("after the 400: %v, want the tunnel closed", err)
	}
}

// The server closing its connection after an answer closes the client's after the same answer;
// a connection the server closed while the tunnel was idle is replaced, the request sent again;
// a tunnel idle for PinnedIdle lets its connection go, and opens a new one for its next request.
func TestPinnedTunnelFollowsTheServersConnection(t *testing.T) {
	upstream := pinnedUpstream(t)
	_, dialled, f := forwarderTo(t, upstream)
	pu, pool := startTestProxy(t, f, func(c *proxy.Config) { c.PinnedIdle = 200 * time.Millisecond })

	tc, br := rawTunnel(t, pu, pool, "kv1.vault.azure.net")
	io.WriteString(tc, "GET /last HTTP/1.1\r\nHost: kv1.vault.azure.net\r\n\r\n")
	if resp, body := readAnswer(t, br, http.MethodGet); body != "last" || !resp.Close {
		t.Fatalf("/last: %d %q close=%v", resp.StatusCode, body, resp.Close)
	}
	if _, err := br.ReadByte(); err != io.EOF {
		t.Errorf("after the server closed: %v, want the tunnel closed", err)
	}

	tc, br = rawTunnel(t, pu, pool, "kv1.vault.azure.net")
	before := dialled.Load()
	get := func(path string) {
		t.Helper()
		io.WriteString(tc, "GET "+path+" HTTP/1.1\r\nHost: kv1.vault.azure.net\r\n\r\n")
		if resp, body := readAnswer(t, br, http.MethodGet); resp.StatusCode != http.StatusOK || body != "GET "+path {
			t.Fatalf("%s: %d %q", path, resp.StatusCode, body)
		}
	}
	get("/a")
	upstream.CloseClientConnections()
	time.Sleep(50 * time.Millisecond)
	get("/b")
	if n := dialled.Load() - before; n != 2 {
		t.Errorf("%d connections to the server, want 2 (the first closed by the server)", n)
	}
	time.Sleep(500 * time.Millisecond) // > PinnedIdle
	if n := openConns.Load(); n != 0 {
		t.Errorf("%d connections open at the server after PinnedIdle, want 0", n)
	}
	get("/c")
	if n := dialled.Load() - before; n != 3 {
		t.Errorf("%d connections to the server, want 3 (a new one after the idle wait)", n)
	}
}

// The framer finds the same ends whether the server's bytes come whole or one at a time, and
// refuses what net/http's writer would never send.
func TestAnswerFramer(t *testing.T) {
	ok := []struct {
		name, in string
		head     bool
		closing  bool
	}{
		{"length", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Type: text/plain\r\n\r\nhello", false, false},
		{"no body", "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", false, false},
		{"chunked", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n1;ext=1\r\n!\r\n0\r\n\r\n", false, false},
		{"trailer", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: X-Sum\r\n\r\n2\r\nab\r\n0\r\nX-Sum: 3\r\n\r\n", false, false},
		{"head", "HTTP/1.1 200 OK\r\nContent-Length: 55\r\n\r\n", true, false},
		{"204", "HTTP/1.1 204 No Content\r\nDate: x\r\n\r\n", false, false},
		{"304", "HTTP/1.1 304 Not Modified\r\nContent-Length: 9\r\n\r\n", false, false},
		{"interim", "HTTP/1.1 103 Early Hints\r\nLink: <a>\r\n\r\nHTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok", false, false},
		{"close", "HTTP/1.1 400 Bad Request\r\nConnection: keep-alive, Close\r\nContent-Length: 3\r\n\r\nbad", false, true},
	}
	for _, c := range ok {
		for _, step := range []int{len(c.in), 1, 7} {
			var a answerFramer
			a.reset(c.head)
			used, done := 0, false
			for i := 0; i < len(c.in) && !done; i += step {
				n, d, err := a.feed([]byte(c.in[i:min(i+step, len(c.in))]))
				if err != nil {
					t.Fatalf("%s (step %d): %v", c.name, step, err)
				}
				used, done = i+n, d
			}
			if !done || used != len(c.in) || a.closing != c.closing {
				t.Errorf("%s (step %d): done %v at %d of %d, closing %v", c.name, step, done, used, len(c.in), a.closing)
			}
		}
	}
	// Bytes after the answer are not its.
	var a answerFramer
	a.reset(false)
	if n, done, err := a.feed([]byte("HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nxHTTP/1.1")); n != 39 || !done || err != nil {
		t.Errorf("overrun: %d %v %v", n, done, err)
	}
	// An answer without a length lasts until the connection ends.
	a.reset(false)
	if _, done, err := a.feed([]byte("HTTP/1.1 200 OK\r\n\r\nstream")); done || err != nil || !a.untilEOF || !a.closing {
		t.Errorf("until EOF: %v %v %+v", done, err, a)
	}
	for _, bad := range []string{
		"HTTP/2 200 OK\r\n\r\n",
		"HTTP/1.1 2000 OK\r\n\r\n",
		"HTTP/1.1 +20 OK\r\n\r\n",
		"HTTP/1.1 099 Low\r\n\r\n",
		"HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\n\r\n",
		"HTTP/1.1 200 OK\r\nno colon\r\n\r\n",
		"HTTP/1.1 200 OK\r\n folded: x\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: +1\r\n\r\n",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabX\r\n",
		"HTTP/1.1 200 OK\r\nX: " + strings.Repeat("v", maxAnswerHead) + "\r\n\r\n",
	} {
		a.reset(false)
		if _, _, err := a.feed([]byte(bad)); err == nil {
			t.Errorf("%.60q: no error", bad)
		}
	}
}

// FuzzAnswerFramer: any bytes, fed whole or in pieces, give the same end (or the same refusal)
// and never more than was fed.
func FuzzAnswerFramer(f *testing.F) {
	f.Add([]byte("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"), uint8(3), false)
	f.Add([]byte("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\nX: y\r\n\r\n"), uint8(1), false)
	f.Add([]byte("HTTP/1.1 103 Early Hints\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n"), uint8(5), true)
	f.Fuzz(func(t *testing.T, in []byte, step uint8, head bool) {
		feedAll := func(step int) (int, bool, bool) {
			var a answerFramer
			a.reset(head)
			used := 0
			for i := 0; i < len(in); i += step {
				p := in[i:min(i+step, len(in))]
				n, done, err := a.feed(p)
				if n < 0 || n > len(p) {
					t.Fatalf("used %d of %d", n, len(p))
				}
				used += n
				if err != nil || done {
					return used, done, err != nil
				}
			}
			return used, false, false
		}
		whole, wdone, werr := feedAll(max(len(in), 1))
		s := int(step%16) + 1
		part, pdone, perr := feedAll(s)
		if wdone != pdone || werr != perr || (wdone && whole != part) {
			t.Fatalf("whole: end %d done %v err %v; in steps of %d: end %d done %v err %v", whole, wdone, werr, s, part, pdone, perr)
		}
		if wdone && !bytes.HasPrefix(in, []byte("HTTP/1.")) {
			t.Fatalf("an answer ended that does not start with a status line")
		}
	})
}
