package nodeagent

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/textproto"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/mint-id/mint/internal/proxy"
)

// The node proxy's forwarder: every request decrypted from a tunnel goes over HTTPS to the
// server, Host intact (the Azure name: the server routes vaults and answers by it).
//
// The common request (a known body of at most leanMaxBody, no upgrade, no trailers: every
// Azure SDK call) takes the lean path: the tunnel's own goroutine writes it on a kept
// connection to the server and reads the answer back, with net/http's wire reader and nothing
// between. httputil.ReverseProxy over an http.Transport hands each request to the
// connection's write goroutine and the answer back from its read goroutine: two goroutine
// switches per request, which on a 2-core VM cost more than the copying (docs/benchmarks.md).
// Everything else (streamed or large bodies, upgrades, trailers, a server reached through an
// HTTPS_PROXY, a server URL with a path) takes that ReverseProxy, which handles it all.
//
// The tunnels the proxy's own loop serves do not use the kept connections below: each has one
// of its own (pinned.go). What is here serves the requests net/http's inner server handles (h2
// tunnels, and a tunnel from the first request the loop does not take).

const (
	// leanMaxBody is the largest request body the lean path takes: it is read whole before the
	// request is sent, so that a request on a connection the server had closed can be sent again.
	leanMaxBody = 64 << 10
	// leanIdleConns bounds the connections kept to the server between requests: as many as the
	// proxy's clients use at once in the common case (an SDK keeps a handful); more are closed.
	leanIdleConns = 16
	// leanIdleFor is how long a kept connection may wait; the server closes idle ones at two
	// minutes (internal/connlimit), and a connection it closed costs a failed first try.
	leanIdleFor = 30 * time.Second
	// dialTimeout bounds connecting (and the TLS handshake) to the server.
	dialTimeout = 10 * time.Second
)

// forwarder is the node proxy's handler (newForwarder).
type forwarder struct {
	server   *url.URL
	addr     string      // host:port dialled for server
	tls      *tls.Config // nil for an http:// server
	dial     func(ctx context.Context, network, addr string) (net.Conn, error)
	lean     bool // whether the lean path may be used at all
	idleFor  time.Duration
	fallback *httputil.ReverseProxy
	log      *slog.Logger

	mu    sync.Mutex
	idle  []*upstreamConn // kept connections, the most recently used last
	reaps *time.Timer     // closes the connections kept too long; nil when none are kept
}

// newForwarder forwards to server with base's dialer, TLS trust and proxy settings; dialled is
// called for every new connection to the server (each a TLS handshake).
func newForwarder(server *url.URL, base http.RoundTripper, dialled func(), log *slog.Logger) (*forwarder, error) {
	bt, ok := base.(*http.Transport)
	if !ok {
		return nil, fmt.Errorf("the agent's transport is a %T", base)
	}
	tr := bt.Clone()
	tr.MaxIdleConnsPerHost = leanIdleConns
	dial := tr.DialContext
	if dial == nil {
		dial = (&net.Dialer{}).DialContext
	}
	counted := func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := dial(ctx, network, addr)
		if err == nil {
			dialled()
		}
		return c, err
	}
	tr.DialContext = counted
	f := &forwarder{server: server, addr: canonicalHostPort(server), dial: counted, idleFor: leanIdleFor, log: log}
	f.fallback = &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(server)
			r.Out.Host = r.In.Host
		},
		Transport:    tr,
		BufferPool:   copyBuffers{},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) { f.unreachable(w, r, err) },
	}
	viaProxy := false
	if tr.Proxy != nil {
		u, err := tr.Proxy(&http.Request{URL: server})
		viaProxy = err != nil || u != nil
	}
	f.lean = !viaProxy && (server.Path == "" || server.Path == "/") && server.RawQuery == "" && (server.Scheme == "https" || server.Scheme == "http")
	if server.Scheme == "https" {
		f.tls = tr.TLSClientConfig.Clone()
		if f.tls == nil {
			f.tls = &tls.Config{}
		}
		if f.tls.ServerName == "" {
			f.tls.ServerName = server.Hostname()
		}
		f.tls.NextProtos = []string{"http/1.1"}
		f.tls.ClientSessionCache = tls.NewLRUClientSessionCache(leanIdleConns)
	}
	return f, nil
}

func (f *forwarder) unreachable(w http.ResponseWriter, r *http.Request, err error) {
	f.log.Warn("proxy: mint server unreachable", "host", r.Host, "err", err)
	http.Error(w, f.unreachableMessage(), http.StatusBadGateway)
}

func (f *forwarder) unreachableMessage() string {
	return fmt.Sprintf("mint proxy: the mint server %s is unreachable from this node", f.server.Redacted())
}

// takesLeanPath says whether r can be forwarded on the lean path.
func (f *forwarder) takesLeanPath(r *http.Request) bool {
	return f.lean && r.ContentLength >= 0 && r.ContentLength <= leanMaxBody && len(r.Trailer) == 0 &&
		r.Method != http.MethodConnect && r.Header.Get("Upgrade") == "" && r.Host != ""
}

// Forwards (proxy.Forwarder) says whether the tunnel's own loop may have r forwarded (by the
// tunnel's pinnedTunnel): the requests of the lean path.
func (f *forwarder) Forwards(r *http.Request) bool { return f.takesLeanPath(r) }

// Forward (proxy.Forwarder; the loop uses Pin, ServeHTTP this) forwards a lean request on a
// kept connection and returns the server's answer, its body
// still to be read from the connection, which is kept for the next request once the body was
// read whole (and closed otherwise); or an answer of the proxy's own (400, 502).
func (f *forwarder) Forward(r *http.Request) *http.Response {
	body, own := readLeanBody(r)
	if own != nil {
		return own
	}
	resp, c, err := f.roundTrip(r, body)
	if err != nil {
		return f.badGateway(r, err)
	}
	removeHopHeaders(resp.Header)
	kb := &keptBody{body: resp.Body, f: f, c: c, want: resp.ContentLength, closeConn: resp.Close}
	if resp.Body == http.NoBody {
		kb.want = 0
	}
	resp.Body, resp.Close = kb, false // Close said the server closes its connection, not the client's
	return resp
}

// readLeanBody reads a lean request's body whole (at most leanMaxBody), so that it can be sent
// again; or returns the proxy's 400, which ends the tunnel (its stream is cut mid-body).
func readLeanBody(r *http.Request) ([]byte, *http.Response) {
	if r.ContentLength <= 0 {
		return nil, nil
	}
	body := make([]byte, r.ContentLength)
	if _, err := io.ReadFull(r.Body, body); err != nil {
		resp := proxy.TextAnswer(http.StatusBadRequest, "mint proxy: reading the request body: "+err.Error())
		resp.Close = true
		return nil, resp
	}
	return body, nil
}

// badGateway is the proxy's answer when the server could not be reached for r.
func (f *forwarder) badGateway(r *http.Request, err error) *http.Response {
	if r.Context().Err() == nil { // else the client went away
		f.log.Warn("proxy: mint server unreachable", "host", r.Host, "err", err)
	}
	return proxy.TextAnswer(http.StatusBadGateway, f.unreachableMessage())
}

// keptBody is a forwarded answer's body: closing it keeps its connection for the next request
// when the body was read whole, and closes the connection otherwise.
type keptBody struct {
	body      io.ReadCloser
	f         *forwarder
	c         *upstreamConn
	read      int64
	want      int64 // the body's length; -1: until EOF
	eof       bool
	closeConn bool // the server said it closes the connection
	closed    bool
}

func (b *keptBody) Read(p []byte) (int, error) {
	n, err := b.body.Read(p)
	b.read += int64(n)
	if err == io.EOF {
		b.eof = true
	}
	return n, err
}

func (b *keptBody) Close() error {
	if b.closed {
		return nil
	}
	b.closed = true
	b.c.stopWatching()
	if (b.eof || b.want >= 0 && b.read == b.want) && !b.closeConn {
		b.f.put(b.c)
	} else {
		b.c.close() // unread bytes of the answer are still on it
	}
	return nil
}

func (f *forwarder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !f.takesLeanPath(r) {
		f.fallback.ServeHTTP(w, r)
		return
	}
	resp := f.Forward(r)
	body := resp.Body
	h := w.Header()
	for k, vv := range resp.Header {
		h[k] = vv
	}
	if resp.Close {
		h.Set("Connection", "close")
	}
	w.WriteHeader(resp.StatusCode)
	var err error
	if resp.ContentLength < 0 {
		err = copyFlushing(w, body) // a stream: each piece goes on as it comes
	} else {
		_, err = io.Copy(w, body)
	}
	if err != nil || r.Context().Err() != nil {
		if kb, ok := body.(*keptBody); ok {
			kb.closeConn = true
		}
	}
	body.Close()
	if err != nil {
		// The client already has the status: abort the response rather than end it as if whole.
		panic(http.ErrAbortHandler)
	}
	for k, vv := range resp.Trailer {
		h[http.TrailerPrefix+k] = vv
	}
}

// roundTrip sends r (with body) on a kept connection, or a new one, and reads the answer's
// head. A kept connection that fails before the first byte of an answer was closed by the
// server while idle: the request is sent once more on a new connection, whatever its method
// (the server never read it; browsers do the same).
func (f *forwarder) roundTrip(r *http.Request, body []byte) (*http.Response, *upstreamConn, error) {
	for {
		c, err := f.get(r.Context())
		if err != nil {
			return nil, nil, err
		}
		c.watch(r.Context())
		resp, err := c.exchange(r, body)
		if err == nil {
			return resp, c, nil
		}
		c.stopWatching()
		c.close()
		if !c.reused || c.answered || r.Context().Err() != nil {
			return nil, nil, err
		}
	}
}

// get takes the most recently kept connection, or dials a new one.
func (f *forwarder) get(ctx context.Context) (*upstreamConn, error) {
	if c := f.takeKept(); c != nil {
		return c, nil
	}
	return f.dialUpstream(ctx)
}

// dialUpstream opens a new connection to the server (a TLS handshake for an https server).
func (f *forwarder) dialUpstream(ctx context.Context) (*upstreamConn, error) {
	ctx, cancel := context.WithTimeout(ctx, dialTimeout)
	defer cancel()
	conn, err := f.dial(ctx, "tcp", f.addr)
	if err != nil {
		return nil, err
	}
	if f.tls != nil {
		tc := tls.Client(conn, f.tls)
		if err := tc.HandshakeContext(ctx); err != nil {
			conn.Close()
			return nil, err
		}
		conn = tc
	}
	return &upstreamConn{conn: conn, br: bufio.NewReader(conn), bw: bufio.NewWriter(conn)}, nil
}

func (f *forwarder) takeKept() *upstreamConn {
	f.mu.Lock()
	defer f.mu.Unlock()
	for n := len(f.idle); n > 0; n = len(f.idle) {
		c := f.idle[n-1]
		f.idle[n-1], f.idle = nil, f.idle[:n-1]
		if time.Since(c.idleSince) < f.idleFor {
			c.reused = true
			return c
		}
		c.close()
	}
	return nil
}

// put keeps c for the next request, or closes it when enough are kept.
func (f *forwarder) put(c *upstreamConn) {
	c.idleSince, c.reused, c.answered = time.Now(), false, false
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.idle) >= leanIdleConns {
		c.close()
		return
	}
	f.idle = append(f.idle, c)
	if f.reaps == nil {
		f.reaps = time.AfterFunc(f.idleFor, f.reap)
	}
}

// reap closes the connections kept longer than idleFor (leanIdleFor), so that an idle proxy holds no
// connection (nor its buffers) to the server.
func (f *forwarder) reap() {
	f.mu.Lock()
	defer f.mu.Unlock()
	now := time.Now()
	n := 0
	for _, c := range f.idle { // oldest first
		if now.Sub(c.idleSince) < f.idleFor {
			break
		}
		c.close()
		n++
	}
	kept := copy(f.idle, f.idle[n:])
	clear(f.idle[kept:])
	f.idle = f.idle[:kept]
	if len(f.idle) == 0 {
		f.reaps = nil
		return
	}
	f.reaps.Reset(f.idleFor - now.Sub(f.idle[0].idleSince))
}

// upstreamConn is one connection to the server, used by one request at a time.
type upstreamConn struct {
	conn      net.Conn
	br        *bufio.Reader
	bw        *bufio.Writer
	idleSince time.Time
	reused    bool // taken from the kept connections
	answered  bool // a byte of the answer arrived
	unwatch   func() bool
}

// watch makes the request's end (the client gone) interrupt the connection's reads and writes.
func (c *upstreamConn) watch(ctx context.Context) {
	if ctx.Done() == nil {
		return // the tunnel's own loop: nothing to watch
	}
	c.unwatch = context.AfterFunc(ctx, func() { c.conn.SetDeadline(time.Unix(1, 0)) })
}

func (c *upstreamConn) stopWatching() {
	if c.unwatch != nil {
		c.unwatch()
		c.unwatch = nil
	}
}

func (c *upstreamConn) close() { c.conn.Close() }

// exchange writes r's head and body and reads the answer's head (1xx answers skipped; the
// lean path sends no Expect and no Upgrade).
func (c *upstreamConn) exchange(r *http.Request, body []byte) (*http.Response, error) {
	if err := c.writeRequest(r, body); err != nil {
		return nil, err
	}
	for {
		if _, err := c.br.Peek(1); err != nil {
			return nil, err
		}
		c.answered = true
		resp, err := http.ReadResponse(c.br, r)
		if err != nil {
			return nil, err
		}
		if resp.StatusCode >= 200 || resp.StatusCode == http.StatusSwitchingProtocols {
			return resp, nil
		}
	}
}

// writeRequest writes r's head (the hop-by-hop headers dropped, the framing its own) and body,
// with one flush.
func (c *upstreamConn) writeRequest(r *http.Request, body []byte) error {
	bw := c.bw
	bw.WriteString(r.Method)
	bw.WriteByte(' ')
	bw.WriteString(requestTarget(r))
	bw.WriteString(" HTTP/1.1\r\nHost: ")
	bw.WriteString(r.Host)
	bw.WriteString("\r\n")
	hop := connectionTokens(r.Header)
	for k, vv := range r.Header {
		if skipRequestHeader(k, hop) {
			continue
		}
		for _, v := range vv {
			bw.WriteString(k)
			bw.WriteString(": ")
			bw.WriteString(v)
			bw.WriteString("\r\n")
		}
	}
	if len(body) > 0 || r.Method == http.MethodPost || r.Method == http.MethodPut || r.Method == http.MethodPatch {
		bw.WriteString("Content-Length: ")
		bw.WriteString(strconv.Itoa(len(body)))
		bw.WriteString("\r\n")
	}
	bw.WriteString("\r\n")
	bw.Write(body)
	return bw.Flush()
}

// requestTarget is r's request-target in origin form: as the client sent it when it was in
// that form (net/http's ReadRequest parsed it, so the server parses the same bytes the same
// way, and re-encoding it would cost three allocations per request), else r.URL's.
func requestTarget(r *http.Request) string {
	if t := r.RequestURI; len(t) > 0 && t[0] == '/' {
		return t
	}
	return r.URL.RequestURI()
}

// hopHeaders are the hop-by-hop headers (RFC 9110 section 7.6.1, and those ReverseProxy also
// drops), never forwarded.
var hopHeaders = map[string]bool{"Connection": true, "Proxy-Connection": true, "Keep-Alive": true, "Proxy-Authenticate": true,
	"Proxy-Authorization": true, "Te": true, "Trailer": true, "Transfer-Encoding": true, "Upgrade": true}

// skipRequestHeader says which of a request's headers the lean path does not copy: hop-by-hop
// ones, those its Connection header names, the framing it writes itself, Expect (it sends the
// body at once), and X-Forwarded-For/Host/Proto, which ReverseProxy's Rewrite mode drops too
// (a workload must not say where it is from).
func skipRequestHeader(k string, hop map[string]bool) bool {
	switch k {
	case "Content-Length", "Host", "Expect", "X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto":
		return true
	}
	return hopHeaders[k] || hop[k]
}

// connectionTokens are the header names h's Connection header lists (nil when none).
func connectionTokens(h http.Header) map[string]bool {
	var names map[string]bool
	for _, v := range h["Connection"] {
		for f := range strings.SplitSeq(v, ",") {
			if f = textproto.TrimString(f); f != "" {
				if names == nil {
					names = map[string]bool{}
				}
				names[textproto.CanonicalMIMEHeaderKey(f)] = true
			}
		}
	}
	return names
}

// removeHopHeaders drops an answer's hop-by-hop headers and those its Connection header names.
func removeHopHeaders(h http.Header) {
	for k := range connectionTokens(h) {
		delete(h, k)
	}
	for k := range hopHeaders {
		delete(h, k)
	}
}

// copyFlushing copies a body of unknown length, flushing after every piece (a stream).
func copyFlushing(w http.ResponseWriter, body io.Reader) error {
	rc := http.NewResponseController(w)
	buf := copyBuffers{}.Get()
	defer copyBuffers{}.Put(buf)
	for {
		n, err := body.Read(buf)
		if n > 0 {
			if _, werr := w.Write(buf[:n]); werr != nil {
				return werr
			}
			if ferr := rc.Flush(); ferr != nil && !errors.Is(ferr, http.ErrNotSupported) {
				return ferr
			}
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// copyBuffers lends ReverseProxy and copyFlushing their 32 KiB copy buffers (otherwise one is
// allocated per response: on the agent's small heap, a collection every few hundred requests).
type copyBuffers struct{}

var copyBufferPool = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

func (copyBuffers) Get() []byte  { return *copyBufferPool.Get().(*[]byte) }
func (copyBuffers) Put(b []byte) { copyBufferPool.Put(&b) }
