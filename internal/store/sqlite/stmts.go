package sqlite

import (
	"context"
	"database/sql"
	"sync"

	"github.com/mint-id/mint/internal/store/internal/sqlstore"
)

// stmtCache keeps the read connections' statements prepared, by their SQL text: parsing and
// planning a statement costs modernc's SQLite more than running a point query (GetTenant:
// 15.7 µs unprepared, 9.1 µs prepared), and the token path makes several per request. It is the
// SQL layer's Reader, whose queries are constants (or built from a few fixed pieces), so the
// cache stays small; a bound keeps a mistake (SQL built from input) from growing it without end,
// and such queries simply run unprepared.
type stmtCache struct {
	db *sql.DB
	mu sync.RWMutex
	m  map[string]*sql.Stmt
}

// maxCachedStmts is above the number of read query texts the SQL layer can build (about 350:
// some 30 constant queries, and the filters' combinations — ListResources 128, ListRoleAssignments
// about 70 with the scope depths ARM has, ListActivity 64, ListSignIns 32), so that no read runs
// unprepared because others filled the cache first.
const maxCachedStmts = 512

func newStmtCache(db *sql.DB) *stmtCache { return &stmtCache{db: db, m: map[string]*sql.Stmt{}} }

// get returns the prepared statement for query, preparing it the first time; nil if it could not
// be prepared (the caller then runs the query directly and reports its error).
func (c *stmtCache) get(ctx context.Context, query string) *sql.Stmt {
	c.mu.RLock()
	st, ok := c.m[query]
	c.mu.RUnlock()
	if ok {
		return st
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if st, ok := c.m[query]; ok {
		return st
	}
	if len(c.m) >= maxCachedStmts {
		return nil
	}
	// Not tied to this request: a cancelled request must not leave a failed preparation behind.
	st, err := c.db.PrepareContext(context.WithoutCancel(ctx), query)
	if err != nil {
		return nil
	}
	c.m[query] = st
	return st
}

func (c *stmtCache) close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	for q, st := range c.m {
		st.Close()
		delete(c.m, q)
	}
	return nil
}

// QueryRow runs a read-only single-row query on the read connections, prepared.
//
// The request's cancellation is checked before the query instead of watched during it. Both
// database/sql (for the Rows) and modernc's driver (to interrupt SQLite) start a goroutine per
// query that waits on a context that can be cancelled, and those two goroutines with their
// channels and wake-ups cost as much CPU as the read itself: a refresh-token redemption's user
// read took ~31 µs of CPU with a request's context and ~16 µs without
// (BenchmarkGetUserForToken). The single-row reads are reads by key, which finish in tens of
// microseconds, and a WAL reader does not wait for the writer, so there is nothing to interrupt.
func (c *stmtCache) QueryRow(ctx context.Context, query string, args ...any) sqlstore.Row {
	if err := ctx.Err(); err != nil {
		return errRow{err}
	}
	ctx = context.WithoutCancel(ctx)
	if st := c.get(ctx, query); st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	return c.db.QueryRowContext(ctx, query, args...)
}

// errRow is a row whose query did not run.
type errRow struct{ err error }

func (r errRow) Scan(...any) error { return r.err }

// Query runs a read-only query on the read connections, prepared.
func (c *stmtCache) Query(ctx context.Context, query string, args ...any) (sqlstore.Rows, error) {
	var rows *sql.Rows
	var err error
	if st := c.get(ctx, query); st != nil {
		rows, err = st.QueryContext(ctx, args...)
	} else {
		rows, err = c.db.QueryContext(ctx, query, args...)
	}
	if err != nil {
		return nil, err
	}
	return rows, nil
}
