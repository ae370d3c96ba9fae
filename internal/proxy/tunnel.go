package proxy

import (
	"context"
	"crypto/tls"
	"net"
	"sync"
)

// pendingConn is a connection some of whose bytes were already read: it gives those first.
type pendingConn struct {
	net.Conn
	pending []byte
}

func (c *pendingConn) Read(b []byte) (int, error) {
	if len(c.pending) > 0 {
		n := copy(b, c.pending)
		c.pending = c.pending[n:]
		return n, nil
	}
	return c.Conn.Read(b)
}

// tunnelConn is a hijacked CONNECT connection: it remembers the tunnel's target, replays
// bytes the client sent before our 200, and frees the tunnel's slot when closed.
type tunnelConn struct {
	pendingConn
	target  tunnelTarget
	release func()
}

func (c *tunnelConn) Close() error {
	err := c.Conn.Close()
	c.release()
	return err
}

type tunnelTargetKey struct{}

// tunnelInfo is what the inner server's handler knows of a request's tunnel: its target, and
// its TLS state when the loop did the handshake (net/http sets Request.TLS only for a
// *tls.Conn).
type tunnelInfo struct {
	target tunnelTarget
	tls    *tls.ConnectionState
}

// tunnelContext is the inner server's ConnContext: it puts the tunnel's target in every
// request's context.
func tunnelContext(ctx context.Context, c net.Conn) context.Context {
	switch c := c.(type) {
	case *tls.Conn:
		if t, ok := c.NetConn().(*tunnelConn); ok {
			return context.WithValue(ctx, tunnelTargetKey{}, tunnelInfo{target: t.target})
		}
	case *replayConn:
		return context.WithValue(ctx, tunnelTargetKey{}, tunnelInfo{target: c.target, tls: c.tls})
	}
	return ctx
}

// tunnelListener hands tunnels to the inner http.Server, which then does the TLS handshake and
// serves HTTP/1.1 or HTTP/2 on them like on any accepted connection.
type tunnelListener struct {
	addr   net.Addr
	conns  chan net.Conn
	done   chan struct{}
	closed sync.Once
}

func newTunnelListener(addr net.Addr) *tunnelListener {
	return &tunnelListener{addr: addr, conns: make(chan net.Conn), done: make(chan struct{})}
}

func (l *tunnelListener) push(c net.Conn) {
	select {
	case l.conns <- c:
	case <-l.done:
		c.Close()
	}
}

func (l *tunnelListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *tunnelListener) Close() error {
	l.closed.Do(func() { close(l.done) })
	return nil
}

func (l *tunnelListener) Addr() net.Addr { return l.addr }
