// Package postgres is mint's shared store: store.Store on PostgreSQL through pgx, for
// installations that run several mint servers (or want PostgreSQL's operations story). It keeps
// no cache, so every server sees every other's writes as soon as they return.
//
// The queries are the SQL layer's (internal/store/internal/sqlstore), shared with SQLite, run on
// pgx's native interface; this package connects, applies its migrations (the DDL is PostgreSQL's own) and gives the layer
// PostgreSQL's dialect: row locks, so that the limits and read-then-write steps hold across
// servers.
package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io"
	"net"
	"runtime"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/mint-id/mint/internal/store"
	"github.com/mint-id/mint/internal/store/internal/sqlstore"
)

//go:embed migrations/*.sql
var migrations embed.FS

// migrationLock is the pg_advisory_xact_lock key that serialises servers migrating one database
// at once ("mint" in ASCII).
const migrationLock = 0x6d696e74

// checkAfter is how long a connection may sit idle before it is pinged on checkout, so that one
// the server closed meanwhile (restart, idle timeout) is replaced rather than failing a call.
const checkAfter = time.Second

// dialect is PostgreSQL's: other servers write at once, so transactions lock the rows they read.
var dialect = sqlstore.Dialect{ErrorKind: errorKind, RowLocks: true, WritableCTE: true}

// errorKind classifies PostgreSQL's errors for the SQL layer: constraint violations, and the
// conditions that may pass (store.ErrUnavailable: https://www.postgresql.org/docs/current/errcodes-appendix.html).
func errorKind(err error) error {
	// A connection that could not be made is an outage whatever the server said (a database
	// that refuses connections, too many clients, a server starting up).
	var connectErr *pgconn.ConnectError
	if errors.As(err, &connectErr) {
		return store.ErrUnavailable
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch pgErr.Code {
		case "23505": // unique_violation
			return store.ErrConflict
		case "23503": // foreign_key_violation
			return store.ErrNotFound
		case "57P01", "57P02", "57P03", // admin_shutdown, crash_shutdown, cannot_connect_now
			"40001", "40P01", // serialization_failure, deadlock_detected: the transaction may be retried
			"25006": // read_only_sql_transaction: a standby, during a failover
			return store.ErrUnavailable
		}
		switch pgErr.Code[:min(2, len(pgErr.Code))] {
		case "08", "53": // connection exception; insufficient resources (53100 disk_full, 53300 too_many_connections ...)
			return store.ErrUnavailable
		}
		return nil
	}
	// No answer from the server: refused, reset or lost connections and timeouts.
	var netErr net.Error
	if errors.As(err, &netErr) || pgconn.Timeout(err) || pgconn.SafeToRetry(err) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNREFUSED) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) {
		return store.ErrUnavailable
	}
	return nil
}

// Store is a store.Store in a PostgreSQL database.
type Store struct {
	*sqlstore.Store

	pool      *pgxpool.Pool
	closeOnce sync.Once
}

var _ store.Store = (*Store)(nil)

// Open connects to the database at url (a postgres:// URL or key=value connection string) and
// brings its schema up to date. The connections are a pgxpool.Pool: pool_max_conns in the
// connection string bounds them (default max(4, GOMAXPROCS)), and the other pool_* parameters
// are pgxpool's; the rest are pgx's.
func Open(ctx context.Context, url string) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("open postgres store: %w", err)
	}
	// pgxpool's own default is max(4, NumCPU); keep mint's, which follows GOMAXPROCS (and so a
	// container's CPU limit). ParseConfig has removed the parameter, so ask pgx whether it was set.
	if conn, err := pgx.ParseConfig(url); err == nil {
		if _, set := conn.RuntimeParams["pool_max_conns"]; !set {
			cfg.MaxConns = int32(max(4, runtime.GOMAXPROCS(0)))
		}
	}
	cfg.ShouldPing = func(_ context.Context, p pgxpool.ShouldPingParams) bool { return p.IdleDuration > checkAfter }
	conn := cfg.ConnConfig
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open postgres store %s@%s/%s: %w", conn.User, conn.Host, conn.Database, err)
	}
	db := newPgxDB(pool)
	s := &Store{Store: sqlstore.New(db, db, dialect), pool: pool}
	if err := s.migrate(ctx); err != nil {
		s.Close()
		return nil, fmt.Errorf("open postgres store %s@%s/%s: %w", conn.User, conn.Host, conn.Database, err)
	}
	return s, nil
}

// Close closes the connections, waiting for those in use to be returned. It is safe to call more
// than once; calls made after it fail.
func (s *Store) Close() error {
	s.closeOnce.Do(s.pool.Close)
	return nil
}

// migrate applies the migrations. Two servers starting at once: the second waits on the advisory
// lock, then finds the work done.
func (s *Store) migrate(ctx context.Context) error {
	return sqlstore.Migrate(ctx, newPgxDB(s.pool), migrations, schemaMigrationsTable, migrationLockStatement)
}

const schemaMigrationsTable = `CREATE TABLE IF NOT EXISTS schema_migrations (
	version    integer PRIMARY KEY,
	name       text NOT NULL,
	applied_at timestamptz NOT NULL DEFAULT now()
)`

var migrationLockStatement = `SELECT pg_advisory_xact_lock(` + strconv.Itoa(migrationLock) + `)`
