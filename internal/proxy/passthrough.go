package proxy

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"time"
)

// TLS passthrough: when the proxy's Config.Passthrough is set (the node agent, with the server
// reached directly), a tunnel to a name the server answers itself is not terminated here. The
// proxy opens a connection to the server, reads the client's ClientHello once to check that its
// server name (SNI) is the CONNECT host, sends the hello on and then only copies bytes both ways:
// the workload's TLS ends at the server, which presents a certificate from the installation's
// CA for that name (internal/server), and the agent does no cryptography and no HTTP parsing at
// all. This is what Envoy's tls_passthrough and nginx's ssl_preread do for TLS they need not read.
// Between two TCP connections io.Copy uses splice(2) on Linux: the bytes do not even pass
// through the agent's memory.
//
// What stays terminated here: names forwarded to a Storage emulator, and a client that sends no
// server name (a ClientHello without SNI would reach the server as a request for the server's
// own name; the proxy replays the hello into its own TLS server instead).

// PassthroughDialer opens a connection to the server that answers Azure's names with its own
// TLS (Config.Passthrough).
type PassthroughDialer func(ctx context.Context) (net.Conn, error)

// passthroughDialTimeout bounds connecting to the server for one tunnel.
const passthroughDialTimeout = 10 * time.Second

// errHelloRead aborts the handshake the proxy starts only to read a ClientHello.
var errHelloRead = errors.New("mint proxy: client hello read")

// helloConn records what a TLS server reads from the client, and discards what it writes (the
// alert it sends when the hello-reading handshake is aborted) unless told to pass it on.
type helloConn struct {
	net.Conn
	read   []byte
	answer bool // pass writes on to the client (the server name did not match: it gets the alert)
}

func (c *helloConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	c.read = append(c.read, b[:n]...)
	return n, err
}

func (c *helloConn) Write(b []byte) (int, error) {
	if c.answer {
		return c.Conn.Write(b)
	}
	return len(b), nil
}

// readServerName reads conn's ClientHello with crypto/tls's own parser (a handshake aborted as
// soon as the hello is parsed) and returns its server name and every byte read, to be sent on
// as they are. A server name that is not host is answered with a TLS alert, as the terminating
// proxy answers it, and returned as an error.
func readServerName(conn net.Conn, host string) (serverName string, hello []byte, err error) {
	hc := &helloConn{Conn: conn}
	var mismatch error
	cfg := &tls.Config{
		GetConfigForClient: func(hi *tls.ClientHelloInfo) (*tls.Config, error) {
			serverName = hi.ServerName
			if serverName != "" && normalizeHost(serverName) != host {
				hc.answer = true
				mismatch = fmt.Errorf("mint proxy: TLS server name %q does not match the CONNECT host %s", truncate(serverName, 100), host)
				return nil, mismatch
			}
			return nil, errHelloRead
		},
	}
	err = tls.Server(hc, cfg).Handshake()
	switch {
	case mismatch != nil:
		return serverName, nil, mismatch
	case errors.Is(err, errHelloRead):
		return serverName, hc.read, nil
	case err == nil: // cannot happen: the configuration has no certificate
		err = errors.New("mint proxy: TLS handshake completed without a certificate")
	}
	return "", nil, fmt.Errorf("mint proxy: reading the client hello: %w", err)
}

// servePassthrough serves a tunnel to host whose client conn has had its 200: it reads the
// ClientHello and, if it names host, sends it to upstream and copies bytes both ways until both
// sides are done; with no server name it serves the tunnel terminated, as without passthrough.
// upstream is closed either way; the tunnel's slot is freed when it ends.
func (p *Proxy) servePassthrough(tc *tunnelConn, upstream net.Conn) {
	tc.SetReadDeadline(time.Now().Add(p.headerTimeout))
	serverName, hello, err := readServerName(tc, tc.target.host)
	tc.SetReadDeadline(time.Time{})
	if err != nil {
		p.log.Info("proxy tunnel refused", "host", tc.target.host, "remote", tc.RemoteAddr().String(), "err", err)
		upstream.Close()
		tc.Close()
		return
	}
	if serverName == "" {
		// Replay the hello into the proxy's own TLS server.
		upstream.Close()
		tc.pending = hello
		p.log.Debug("proxy tunnel terminated here: the client sent no server name", "host", tc.target.host)
		if p.forwarder != nil {
			p.serveTunnel(tc)
			return
		}
		p.tunnels.push(tls.Server(tc, p.tls))
		return
	}
	upstream.SetWriteDeadline(time.Now().Add(p.headerTimeout))
	if _, err := upstream.Write(hello); err != nil {
		p.log.Warn("proxy: sending a client hello to the mint server", "host", tc.target.host, "err", err)
		upstream.Close()
		tc.Close()
		return
	}
	upstream.SetWriteDeadline(time.Time{})
	p.log.Debug("proxy tunnel passed through", "host", tc.target.host, "remote", tc.RemoteAddr().String())
	p.splices.add(tc, upstream)
	splice(tc, upstream, p.idleTimeout)
	p.splices.remove(tc)
}

// splice copies bytes between client and upstream both ways. When one side ends its stream,
// the other is told (a half close, which TLS's close_notify then completes); once both ways
// are done, or linger after the first one ended, both connections are closed.
func splice(client, upstream net.Conn, linger time.Duration) {
	done := make(chan struct{}, 2)
	go func() {
		copyHalf(upstream, client)
		done <- struct{}{}
	}()
	go func() {
		copyHalf(client, upstream)
		done <- struct{}{}
	}()
	<-done
	t := time.NewTimer(linger)
	select {
	case <-done:
	case <-t.C:
	}
	t.Stop()
	client.Close()
	upstream.Close()
}

// copyHalf copies src to dst until src ends, then half-closes dst (or closes it, when it has no
// half close). Between two *net.TCPConn, io.Copy splices.
func copyHalf(dst, src net.Conn) {
	io.Copy(rawConn(dst), rawConn(src))
	if cw, ok := rawConn(dst).(interface{ CloseWrite() error }); ok {
		if cw.CloseWrite() == nil {
			return
		}
	}
	dst.Close()
}

// rawConn is c's own TCP connection when c wraps one (a tunnel, a connection counted by
// connlimit), so that io.Copy can splice; c itself otherwise.
func rawConn(c net.Conn) net.Conn {
	for {
		switch w := c.(type) {
		case *tunnelConn:
			if len(w.pending) > 0 {
				return c
			}
			c = w.Conn
		case interface{ NetConn() net.Conn }:
			if _, isTLS := c.(*tls.Conn); isTLS {
				return c
			}
			c = w.NetConn()
		default:
			return c
		}
	}
}

// spliceSet is the open passthrough tunnels, closed at shutdown.
type spliceSet struct {
	mu    sync.Mutex
	conns map[net.Conn]net.Conn
}

func (s *spliceSet) add(client, upstream net.Conn) {
	s.mu.Lock()
	if s.conns == nil {
		s.conns = map[net.Conn]net.Conn{}
	}
	s.conns[client] = upstream
	s.mu.Unlock()
}

func (s *spliceSet) remove(client net.Conn) {
	s.mu.Lock()
	delete(s.conns, client)
	s.mu.Unlock()
}

func (s *spliceSet) closeAll() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for c, u := range s.conns {
		c.Close()
		u.Close()
	}
}

// dialPassthrough connects to the server for a tunnel before the client's 200, so that a server
// it cannot reach is answered 502 on the CONNECT, naming the server.
func (p *Proxy) dialPassthrough(w http.ResponseWriter, r *http.Request) (net.Conn, bool) {
	ctx, cancel := context.WithTimeout(r.Context(), passthroughDialTimeout)
	defer cancel()
	c, err := p.passthrough(ctx)
	if err != nil {
		if r.Context().Err() == nil {
			p.log.Warn("proxy: mint server unreachable", "host", r.Host, "err", err)
		}
		p.refuse(w, r, &Refusal{http.StatusBadGateway, fmt.Sprintf("mint proxy: %v", err)})
		return nil, false
	}
	return c, true
}
