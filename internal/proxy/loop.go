package proxy

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// The tunnel's request loop: when the proxy's handler is a Forwarder (the node agent's
// forwarder to the server), an HTTP/1.1 tunnel is served by a small loop on the CONNECT's own
// goroutine instead of by the inner net/http server. It reads each request with net/http's own
// wire reader (http.ReadRequest), checks it, has the Forwarder send it on and copies the answer
// back with one flush. net/http's server costs, per request, a background read goroutine (to
// notice a client leaving), response buffering and a chunking layer, and the hand-off of every
// tunnel to the goroutine its Accept starts; on the 2-core machine of docs/benchmarks.md that
// was most of what the node's proxy spent beyond the bytes.
//
// The loop takes only the plain request every Azure SDK call is: HTTP/1.1 in origin form, the
// tunnel's own Host, a body of known length within MaxBodyBytes, no Expect, no upgrade, no
// Connection: close, and one the Forwarder takes (http.ReadRequest has already refused invalid
// header fields and two Hosts). Anything else (and anything it cannot parse)
// hands the tunnel, from that request on, to the inner server, replaying the bytes the loop had
// read: net/http then serves it exactly as it serves every tunnel of mint dev, with the same
// answers (400, 417, 431, 501, 100-continue) and the handler's ServeHTTP. An HTTP/2 tunnel
// (ALPN h2) goes to the inner server after the handshake.
//
// A Forwarder that is also a Pinner (the node agent's) gives each tunnel a server connection of
// its own and copies the answers back as the server's bytes (Relay) instead of returning them
// parsed for the loop to write.
//
// With no background read, a client that leaves while its request is at the server is noticed
// when its answer is written, not before: the forwarder's request then runs to its end (the
// server's own timeouts bound it) instead of being cancelled.

// Forwarder is a handler that can also answer a plain request by forwarding it and returning
// the answer (its body not yet read), which the tunnel's loop writes back itself.
type Forwarder interface {
	http.Handler
	// Forwards says whether Forward takes r. If not, the tunnel goes to the inner server and r
	// to ServeHTTP.
	Forwards(r *http.Request) bool
	// Forward answers r. The loop reads the answer's body (to its end, unless writing to the
	// client fails) and closes it. An answer with Close set ends the tunnel.
	Forward(r *http.Request) *http.Response
}

// Pinner is a Forwarder that gives each tunnel a connection of its own to the server, for the
// tunnel's life (as a bare TLS forwarder does): the requests are still read and checked by the
// loop and re-written by the forwarder, but the answers are copied back as the server's bytes,
// with no parse of their own head and no re-write. The tunnel serves one request at a time, so
// an answer of the forwarder's own (400, 502) or a hand-over to the inner server always comes
// after the server's answers to the requests before it.
type Pinner interface {
	Forwarder
	// Pin returns the tunnel's forwarder; the loop calls it once per tunnel and closes it at the
	// tunnel's end.
	Pin() Pinned
}

// Pinned forwards one tunnel's requests on the tunnel's own connection to the server.
type Pinned interface {
	// Relay forwards r and copies the server's whole answer to w as it comes (w flushed at each
	// piece but the last), or, having written nothing to w, returns an answer of its own. keep
	// false ends the tunnel after the answer.
	Relay(r *http.Request, w *bufio.Writer) (own *http.Response, keep bool)
	// Idle lets the connection to the server go: the tunnel has waited Config.PinnedIdle for a
	// request. An idle tunnel then holds only the client's connection (the next request opens a
	// new one), so idle SDK clients do not hold the server's connections for the tunnel's whole
	// idle timeout.
	Idle()
	// Close closes the connection to the server, if open.
	Close()
}

// TextAnswer is an answer in http.Error's shape (text/plain, nosniff, the message and a
// newline), for a Forwarder's own errors.
func TextAnswer(status int, msg string) *http.Response {
	body := msg + "\n"
	return &http.Response{
		StatusCode: status, Status: strconv.Itoa(status) + " " + http.StatusText(status),
		Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header:        http.Header{"Content-Type": {"text/plain; charset=utf-8"}, "X-Content-Type-Options": {"nosniff"}},
		ContentLength: int64(len(body)), Body: io.NopCloser(strings.NewReader(body)),
	}
}

// tunnelReadTimeout bounds reading a whole request in a tunnel, body included, as the inner
// server's ReadTimeout does.
const tunnelReadTimeout = time.Minute

// serveTunnel does a loop tunnel's TLS handshake and serves it: HTTP/1.1 with the loop, h2 with
// the inner server.
func (p *Proxy) serveTunnel(tc *tunnelConn) {
	conn := tls.Server(tc, p.tls)
	conn.SetDeadline(time.Now().Add(p.headerTimeout))
	if err := conn.Handshake(); err != nil {
		p.errorLog.Printf("http: TLS handshake error from %s: %v", tc.RemoteAddr(), err)
		conn.Close()
		return
	}
	conn.SetDeadline(time.Time{})
	state := conn.ConnectionState()
	if state.NegotiatedProtocol == "h2" {
		p.tunnels.push(conn)
		return
	}
	p.serveLoop(conn, tc.target, &state)
}

// tunnelLoop is one tunnel served by the loop.
type tunnelLoop struct {
	p       *Proxy
	conn    net.Conn // the decrypted tunnel
	target  tunnelTarget
	tls     *tls.ConnectionState
	remote  string
	in      wireReader
	br      *bufio.Reader
	bw      *bufio.Writer
	idle    atomic.Bool // waiting for a request (Proxy.closeLoops may interrupt it)
	pinned  Pinned      // the tunnel's own connection to the server; nil: the Forwarder's
	handed  bool        // handed to the inner server, which now owns conn
	scratch [64]byte
	body    io.LimitedReader // an answer's body, with the length it says
}

// serveLoop serves conn's requests until the client closes it, a timeout, an answer that ends
// it, or a request the loop hands to the inner server. It never returns with conn open unless
// it handed conn over.
func (p *Proxy) serveLoop(conn net.Conn, target tunnelTarget, state *tls.ConnectionState) {
	l := &tunnelLoop{p: p, conn: conn, target: target, tls: state, remote: conn.RemoteAddr().String()}
	l.in.conn = conn
	l.br = bufio.NewReader(&l.in)
	l.bw = bufio.NewWriter(conn)
	if !p.addLoop(l) {
		conn.Close()
		return
	}
	defer p.removeLoop(l)
	if pinner, ok := p.forwarder.(Pinner); ok {
		l.pinned = pinner.Pin()
		defer l.pinned.Close()
	}
	defer func() {
		if err := recover(); err != nil && err != http.ErrAbortHandler {
			buf := make([]byte, 64<<10)
			buf = buf[:runtime.Stack(buf, false)]
			p.errorLog.Printf("http: panic serving %v: %v\n%s", l.remote, err, buf)
		}
		if !l.handed {
			conn.Close()
		}
	}()
	for l.serveOne() {
	}
}

// serveOne waits for a request and answers it; false ends the loop.
func (l *tunnelLoop) serveOne() bool {
	l.idle.Store(true)
	if !l.awaitRequest() {
		return false
	}
	l.idle.Store(false)
	start := time.Now()
	l.conn.SetReadDeadline(start.Add(l.p.headerTimeout))
	l.in.record(l.br, int64(l.p.maxHeader)+4096) // net/http's own allowance beyond MaxHeaderBytes
	req, err := http.ReadRequest(l.br)
	replay := l.in.stop()
	if err != nil {
		var ne net.Error
		if errors.As(l.in.err, &ne) && ne.Timeout() {
			return false // a client too slow to send a header is dropped, as net/http does
		}
		l.handOver(replay, "unparsed") // the inner server answers what it cannot parse (400, 431, 501)
		return false
	}
	if !l.plain(req) {
		l.handOver(replay, "not plain")
		return false
	}
	req.Host = l.target.hostHeader()
	req.RemoteAddr, req.TLS = l.remote, l.tls
	if !l.p.forwarder.Forwards(req) {
		l.handOver(replay, "not forwarded")
		return false
	}
	if req.ContentLength > 0 {
		l.conn.SetReadDeadline(start.Add(l.p.readTimeout))
	}
	var keep bool
	if l.pinned != nil {
		own, k := l.pinned.Relay(req, l.bw)
		keep = k
		if own != nil {
			keep = l.writeAnswer(req, own) && k
		}
	} else {
		keep = l.writeAnswer(req, l.p.forwarder.Forward(req))
	}
	// What of the body the forwarder did not read is read here, so the next request starts at
	// its first byte (the body is at most MaxBodyBytes).
	if _, err := io.Copy(io.Discard, req.Body); err != nil {
		keep = false
	}
	if err := l.bw.Flush(); err != nil {
		return false
	}
	return keep
}

// awaitRequest waits for the first byte of a request, up to the idle timeout; false: none came
// (or the proxy is closing). A pinned tunnel lets its connection to the server go after
// Config.PinnedIdle of it.
func (l *tunnelLoop) awaitRequest() bool {
	start := time.Now()
	wait := l.p.idleTimeout
	if l.pinned != nil && l.p.pinnedIdle < wait {
		wait = l.p.pinnedIdle
	}
	for {
		l.conn.SetReadDeadline(start.Add(wait))
		if l.p.loops.closing.Load() {
			return false
		}
		_, err := l.br.Peek(1)
		if err == nil {
			return true
		}
		var ne net.Error
		if wait == l.p.idleTimeout || !errors.As(err, &ne) || !ne.Timeout() || l.p.loops.closing.Load() {
			return false
		}
		l.pinned.Idle() // a read that timed out leaves the TLS connection usable
		wait = l.p.idleTimeout
	}
}

// plain says whether the loop serves req itself (see the top of this file); everything else
// goes to the inner server, which answers it (or refuses it) as it always has: a Host that is
// not the tunnel's gets its 421 from serveTunneled, a malformed one net/http's 400. Header
// names and values need no check here: http.ReadRequest refuses invalid ones.
func (l *tunnelLoop) plain(req *http.Request) bool {
	if req.ProtoMajor != 1 || req.ProtoMinor != 1 || req.Close || len(req.TransferEncoding) != 0 ||
		req.ContentLength < 0 || req.ContentLength > l.p.maxBody || req.Method == http.MethodConnect {
		return false
	}
	if _, ok := req.Header["Expect"]; ok {
		return false
	}
	if _, ok := req.Header["Upgrade"]; ok {
		return false
	}
	// The Host, the tunnel's (whose name and port are valid, so the Host is too). ReadRequest
	// refuses two Hosts; net/http's server also refuses none and a malformed one in an
	// absolute-form request, which only it can tell (ReadRequest drops the Host header), so
	// those go to it.
	return req.URL.Host == "" && req.Host != "" && hostHeaderMatches(req.Host, l.target)
}

// handOver gives the tunnel to the inner server, the bytes read for the current request first.
func (l *tunnelLoop) handOver(replay []byte, why string) {
	l.p.log.Debug("proxy tunnel handed to net/http's server", "host", l.target.host, "why", why, "remote", l.remote)
	l.handed = true
	l.conn.SetDeadline(time.Time{})
	l.p.tunnels.push(&replayConn{pendingConn: pendingConn{Conn: l.conn, pending: slices.Clone(replay)}, target: l.target, tls: l.tls})
}

// Header fields the loop writes itself, never copied from an answer's Header.
var (
	framingHeaders  = map[string]bool{"Content-Length": true, "Transfer-Encoding": true, "Trailer": true, "Connection": true}
	bodylessHeaders = map[string]bool{"Transfer-Encoding": true, "Trailer": true, "Connection": true}
)

// writeAnswer writes resp (and closes its body); false: the tunnel must end after it.
func (l *tunnelLoop) writeAnswer(req *http.Request, resp *http.Response) bool {
	defer resp.Body.Close()
	bw := l.bw
	code := resp.StatusCode
	text := http.StatusText(code)
	if text == "" {
		text = "status code " + strconv.Itoa(code)
	}
	bw.WriteString("HTTP/1.1 ")
	bw.Write(strconv.AppendInt(l.scratch[:0], int64(code), 10))
	bw.WriteByte(' ')
	bw.WriteString(text)
	bw.WriteString("\r\n")
	bodyless := req.Method == http.MethodHead || code < 200 || code == http.StatusNoContent || code == http.StatusNotModified
	chunked := !bodyless && resp.ContentLength < 0
	if bodyless {
		resp.Header.WriteSubset(bw, bodylessHeaders)
	} else {
		resp.Header.WriteSubset(bw, framingHeaders)
	}
	if _, ok := resp.Header["Date"]; !ok {
		bw.WriteString("Date: ")
		bw.Write(time.Now().UTC().AppendFormat(l.scratch[:0], http.TimeFormat))
		bw.WriteString("\r\n")
	}
	switch {
	case chunked:
		bw.WriteString("Transfer-Encoding: chunked\r\n")
		if len(resp.Trailer) > 0 {
			bw.WriteString("Trailer: " + strings.Join(slices.Sorted(mapKeys(resp.Trailer)), ", ") + "\r\n")
		}
	case !bodyless:
		bw.WriteString("Content-Length: ")
		bw.Write(strconv.AppendInt(l.scratch[:0], resp.ContentLength, 10))
		bw.WriteString("\r\n")
	}
	keep := !resp.Close && code >= 200
	if !keep {
		bw.WriteString("Connection: close\r\n")
	}
	bw.WriteString("\r\n")
	switch {
	case bodyless:
		return keep
	case chunked:
		return l.copyChunked(resp) && keep
	}
	l.body = io.LimitedReader{R: resp.Body, N: resp.ContentLength}
	n, err := io.Copy(bw, &l.body)
	l.body.R = nil
	return err == nil && n == resp.ContentLength && keep
}

// copyChunked streams a body of unknown length, each piece sent as it comes.
func (l *tunnelLoop) copyChunked(resp *http.Response) bool {
	bw := l.bw
	buf := make([]byte, 8<<10)
	for {
		n, err := resp.Body.Read(buf)
		if n > 0 {
			fmt.Fprintf(bw, "%x\r\n", n)
			bw.Write(buf[:n])
			bw.WriteString("\r\n")
			if bw.Flush() != nil {
				return false
			}
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return false
		}
	}
	bw.WriteString("0\r\n")
	resp.Trailer.Write(bw)
	bw.WriteString("\r\n")
	return true
}

func mapKeys(h http.Header) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range h {
			if !yield(k) {
				return
			}
		}
	}
}

func misdirected(t tunnelTarget, host string) string {
	return fmt.Sprintf("mint proxy: this tunnel is for %s, not %s", t.hostHeader(), truncate(host, 100))
}

// wireReader is what the loop's bufio.Reader reads: the tunnel, with, while a request's head is
// read, a copy of every byte (so the request can be replayed to the inner server) and net/http's
// bound on a head's size.
type wireReader struct {
	conn      net.Conn
	recording bool
	rec       []byte // the bytes of the current request read so far
	remain    int64  // bytes still allowed for the head
	err       error  // the last error of the tunnel while recording
}

// record starts a request: what br holds already is its first bytes.
func (w *wireReader) record(br *bufio.Reader, limit int64) {
	w.rec = w.rec[:0]
	if n := br.Buffered(); n > 0 {
		b, _ := br.Peek(n)
		w.rec = append(w.rec, b...)
	}
	w.recording, w.remain, w.err = true, limit, nil
}

// stop ends recording and returns the request's bytes read so far.
func (w *wireReader) stop() []byte {
	w.recording = false
	return w.rec
}

func (w *wireReader) Read(b []byte) (int, error) {
	if !w.recording {
		return w.conn.Read(b)
	}
	if w.remain <= 0 {
		return 0, io.EOF // net/http's server then answers 431 from the replay
	}
	if int64(len(b)) > w.remain {
		b = b[:w.remain]
	}
	n, err := w.conn.Read(b)
	w.remain -= int64(n)
	w.rec = append(w.rec, b[:n]...)
	if err != nil {
		w.err = err
	}
	return n, err
}

// replayConn is a tunnel handed to the inner server: it reads the replayed bytes first.
type replayConn struct {
	pendingConn
	target tunnelTarget
	tls    *tls.ConnectionState
}

// loops tracks the tunnels served by the loop, so that Serve's end closes them.
type loops struct {
	mu      sync.Mutex
	all     map[*tunnelLoop]struct{}
	wg      sync.WaitGroup
	closing atomic.Bool
}

func (p *Proxy) addLoop(l *tunnelLoop) bool {
	p.loops.mu.Lock()
	defer p.loops.mu.Unlock()
	if p.loops.closing.Load() {
		return false
	}
	p.loops.all[l] = struct{}{}
	p.loops.wg.Add(1)
	return true
}

func (p *Proxy) removeLoop(l *tunnelLoop) {
	p.loops.mu.Lock()
	delete(p.loops.all, l)
	p.loops.mu.Unlock()
	p.loops.wg.Done()
}

// closeLoops ends the loops: those waiting for a request at once, the others after their
// answer; those still busy when ctx ends are closed.
func (p *Proxy) closeLoops(ctx context.Context) {
	p.loops.mu.Lock()
	p.loops.closing.Store(true)
	for l := range p.loops.all {
		if l.idle.Load() {
			l.conn.SetReadDeadline(time.Unix(1, 0))
		}
	}
	p.loops.mu.Unlock()
	done := make(chan struct{})
	go func() { p.loops.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		p.loops.mu.Lock()
		for l := range p.loops.all {
			l.conn.Close()
		}
		p.loops.mu.Unlock()
	}
}
