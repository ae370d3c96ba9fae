package postgres

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
)

// pool is a small pool of pgx connections. pgxpool is the usual choice, but it needs
// github.com/jackc/puddle/v2, which go.mod does not carry; this does the part the store needs:
// bound the connections, reuse healthy ones, drop broken ones.
type pool struct {
	cfg   *pgx.ConnConfig
	slots chan struct{} // a token per connection checked out or being dialled

	mu     sync.Mutex
	idle   []idleConn // most recently used last
	closed bool
}

type idleConn struct {
	conn  *pgx.Conn
	since time.Time
}

// checkAfter is how long a connection may sit idle before it is pinged on checkout, so that one
// the server closed meanwhile (restart, idle timeout) is replaced rather than failing a call.
const checkAfter = time.Second

var errPoolClosed = errors.New("store closed")

func newPool(cfg *pgx.ConnConfig, size int) *pool {
	return &pool{cfg: cfg, slots: make(chan struct{}, size)}
}

func (p *pool) acquire(ctx context.Context) (*pgx.Conn, error) {
	select {
	case p.slots <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	for {
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			<-p.slots
			return nil, errPoolClosed
		}
		n := len(p.idle)
		if n == 0 {
			p.mu.Unlock()
			break
		}
		ic := p.idle[n-1]
		p.idle = p.idle[:n-1]
		p.mu.Unlock()
		if time.Since(ic.since) < checkAfter {
			return ic.conn, nil
		}
		if err := ic.conn.Ping(ctx); err == nil {
			return ic.conn, nil
		}
		closeConn(ic.conn)
		if err := ctx.Err(); err != nil {
			<-p.slots
			return nil, err
		}
	}
	conn, err := pgx.ConnectConfig(ctx, p.cfg)
	if err != nil {
		<-p.slots
		return nil, err
	}
	return conn, nil
}

// release returns conn to the pool, or closes it if a failed or cancelled call left it broken,
// busy or inside a transaction.
func (p *pool) release(conn *pgx.Conn) {
	defer func() { <-p.slots }()
	healthy := !conn.IsClosed() && !conn.PgConn().IsBusy() && conn.PgConn().TxStatus() == 'I'
	p.mu.Lock()
	if healthy && !p.closed {
		p.idle = append(p.idle, idleConn{conn: conn, since: time.Now()})
		p.mu.Unlock()
		return
	}
	p.mu.Unlock()
	closeConn(conn)
}

// close closes the idle connections now and the others as they are released.
func (p *pool) close() {
	p.mu.Lock()
	idle := p.idle
	p.idle, p.closed = nil, true
	p.mu.Unlock()
	for _, ic := range idle {
		closeConn(ic.conn)
	}
}

func closeConn(conn *pgx.Conn) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	conn.Close(ctx)
}
