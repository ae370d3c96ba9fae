// Package connlimit bounds the connections a listener keeps open: in total, and from one client
// address. A connection over either bound is closed as soon as it is accepted, so that a flood of
// slow or idle connections from one client is refused fast instead of queueing everyone else
// behind it (a listener that waits for a free slot, or file descriptors running out, stops
// /healthz and token requests for all). It knows nothing of HTTP: the deadline for reading a
// whole request is the http.Server's ReadTimeout (see ServerTimeouts).
package connlimit

import (
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// Limits bound one listener. Zero values take the defaults.
type Limits struct {
	// Total is the most connections open at once (default DefaultTotal()).
	Total int
	// PerClient is the most connections open at once from one IP address (default Total/8;
	// listeners that only loopback clients reach set it to Total).
	PerClient int
}

// DefaultTotal is 8192, or less when the process may open fewer files: three quarters of
// RLIMIT_NOFILE, so that the store, logs and outgoing connections always have descriptors.
func DefaultTotal() int {
	n := 8192
	if max := fileLimit(); max > 0 && max*3/4 < n {
		n = max * 3 / 4
	}
	if n < 16 {
		n = 16
	}
	return n
}

// Listener is a net.Listener that enforces Limits.
type Listener struct {
	net.Listener
	lim     Limits
	log     *slog.Logger
	mu      sync.Mutex
	open    int
	byIP    map[string]int
	refused atomic.Uint64
	logged  atomic.Int64 // unix seconds of the last refusal log line
}

// Wrap returns l bounded by lim; refusals are logged at most once every 10 s (with the count).
func Wrap(l net.Listener, lim Limits, log *slog.Logger) *Listener {
	if lim.Total <= 0 {
		lim.Total = DefaultTotal()
	}
	if lim.PerClient <= 0 {
		lim.PerClient = max(lim.Total/8, 1)
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Listener{Listener: l, lim: lim, log: log, byIP: map[string]int{}}
}

// Refused is how many connections were closed at accept for being over a limit.
func (l *Listener) Refused() uint64 { return l.refused.Load() }

// Open is how many accepted connections are open now.
func (l *Listener) Open() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.open
}

// Accept returns the next connection within the limits, closing those over them.
func (l *Listener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		ip := clientIP(c.RemoteAddr())
		l.mu.Lock()
		over := l.open >= l.lim.Total || l.byIP[ip] >= l.lim.PerClient
		if !over {
			l.open++
			l.byIP[ip]++
		}
		l.mu.Unlock()
		if !over {
			return &conn{Conn: c, l: l, ip: ip}, nil
		}
		if tc, ok := c.(*net.TCPConn); ok {
			_ = tc.SetLinger(0) // a reset, at once: the client learns now, not after a timeout
		}
		_ = c.Close()
		n := l.refused.Add(1)
		now := time.Now().Unix()
		if last := l.logged.Load(); now-last >= 10 && l.logged.CompareAndSwap(last, now) {
			l.log.Warn("connections refused: over the limit", "addr", l.Addr().String(), "client", ip,
				"total_limit", l.lim.Total, "per_client_limit", l.lim.PerClient, "refused_so_far", n)
		}
	}
}

func (l *Listener) release(ip string) {
	l.mu.Lock()
	l.open--
	if l.byIP[ip]--; l.byIP[ip] <= 0 {
		delete(l.byIP, ip)
	}
	l.mu.Unlock()
}

type conn struct {
	net.Conn
	l    *Listener
	ip   string
	once sync.Once
}

func (c *conn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() { c.l.release(c.ip) })
	return err
}

func clientIP(a net.Addr) string {
	if ta, ok := a.(*net.TCPAddr); ok {
		return ta.IP.String()
	}
	host, _, err := net.SplitHostPort(a.String())
	if err != nil {
		return a.String()
	}
	return host
}

// NetConn is the connection accepted, for a caller that needs its type (io.Copy splices between
// two *net.TCPConn); Close must still be the wrapper's.
func (c *conn) NetConn() net.Conn { return c.Conn }
