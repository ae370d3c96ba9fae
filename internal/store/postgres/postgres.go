// Package postgres is mint's shared store: store.Store on PostgreSQL through pgx, for
// installations that run several mint servers (or want PostgreSQL's operations story). It keeps
// no cache, so every server sees every other's writes as soon as they return.
package postgres

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/mint-id/mint/internal/store"
	"github.com/mint-id/mint/internal/store/internal/migration"
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

// errorKind classifies PostgreSQL's constraint errors for the SQL layer.
func errorKind(err error) error {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch pgErr.Code {
		case "23505": // unique_violation
			return store.ErrConflict
		case "23503": // foreign_key_violation
			return store.ErrNotFound
		}
	}
	return nil
}

// Store is a store.Store in a PostgreSQL database.
type Store struct {
	*sqlstore.Store

	pool      *pgxpool.Pool
	db        *sql.DB // database/sql over pool, for the SQL layer
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
	// database/sql over the pool: every statement takes a pool connection and gives it back, so
	// the pool's size and health checks stay in charge, and pgx still prepares and caches each
	// statement per connection.
	db := stdlib.OpenDBFromPool(pool)
	s := &Store{Store: sqlstore.New(db, db, dialect), pool: pool, db: db}
	if err := s.migrate(ctx); err != nil {
		s.Close()
		return nil, fmt.Errorf("open postgres store %s@%s/%s: %w", conn.User, conn.Host, conn.Database, err)
	}
	return s, nil
}

// Close closes the connections, waiting for those in use to be returned. It is safe to call more
// than once; calls made after it fail.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		s.db.Close()
		s.pool.Close()
	})
	return nil
}

func (s *Store) migrate(ctx context.Context) error {
	ms, err := migration.Load(migrations, "migrations")
	if err != nil {
		return err
	}
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		// Two servers starting at once: the second waits here, then finds the work done.
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, int64(migrationLock)); err != nil {
			return fmt.Errorf("lock: %w", err)
		}
		if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
			version    integer PRIMARY KEY,
			name       text NOT NULL,
			applied_at timestamptz NOT NULL DEFAULT now()
		)`); err != nil {
			return fmt.Errorf("create schema_migrations: %w", err)
		}
		var current int
		if err := tx.QueryRow(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&current); err != nil {
			return fmt.Errorf("read schema version: %w", err)
		}
		if current > len(ms) {
			return fmt.Errorf("database schema version %d is newer than this mint (%d)", current, len(ms))
		}
		for _, m := range ms[current:] {
			if _, err := tx.Exec(ctx, m.SQL); err != nil {
				return fmt.Errorf("apply %s: %w", m.Name, err)
			}
			if _, err := tx.Exec(ctx, `INSERT INTO schema_migrations (version, name) VALUES ($1, $2)`, m.Version, m.Name); err != nil {
				return fmt.Errorf("record %s: %w", m.Name, err)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	return nil
}

// withConn runs fn on a pooled connection. The pool closes a connection that fn leaves broken,
// busy or inside a transaction rather than reuse it.
func (s *Store) withConn(ctx context.Context, fn func(conn *pgx.Conn) error) error {
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return dbErr(ctx, err)
	}
	defer conn.Release()
	return dbErr(ctx, fn(conn.Conn()))
}

// inTx runs fn in a transaction and commits it.
func (s *Store) inTx(ctx context.Context, fn func(tx pgx.Tx) error) error {
	return s.withConn(ctx, func(conn *pgx.Conn) error { return pgx.BeginFunc(ctx, conn, fn) })
}

// exec runs one statement, its own transaction.
func (s *Store) exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	var tag pgconn.CommandTag
	err := s.withConn(ctx, func(conn *pgx.Conn) error {
		var err error
		tag, err = conn.Exec(ctx, sql, args...)
		return err
	})
	return tag, err
}

// execOne runs one update or delete; ErrNotFound when it touched no row.
func (s *Store) execOne(ctx context.Context, sql string, args ...any) error {
	tag, err := s.exec(ctx, sql, args...)
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 0 {
		return store.ErrNotFound
	}
	return nil
}

// get reads one row.
func get[T any](ctx context.Context, s *Store, scan func(pgx.Row) (T, error), sql string, args ...any) (T, error) {
	var v T
	err := s.withConn(ctx, func(conn *pgx.Conn) error {
		var err error
		v, err = scan(conn.QueryRow(ctx, sql, args...))
		return err
	})
	return v, err
}

// list reads rows; none is nil.
func list[T any](ctx context.Context, s *Store, scan func(pgx.Row) (T, error), sql string, args ...any) ([]T, error) {
	var vs []T
	err := s.withConn(ctx, func(conn *pgx.Conn) error {
		rows, err := conn.Query(ctx, sql, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			v, err := scan(rows)
			if err != nil {
				return err
			}
			vs = append(vs, v)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, err
	}
	return vs, nil
}

// dbErr turns driver errors into the store's sentinels, keeping the driver's message: a unique
// violation is ErrConflict, a foreign key violation (a credential or assignment naming a
// missing principal) is ErrNotFound, as is no row.
func dbErr(ctx context.Context, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrConflict) {
		return err
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return store.ErrNotFound
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch pgErr.Code {
		case "23505": // unique_violation
			return fmt.Errorf("%w: %w", store.ErrConflict, err)
		case "23503": // foreign_key_violation
			return fmt.Errorf("%w: %w", store.ErrNotFound, err)
		}
	}
	if ctxErr := ctx.Err(); ctxErr != nil && !errors.Is(err, ctxErr) {
		return fmt.Errorf("%w: %w", ctxErr, err)
	}
	return err
}
