// Package sqlite is mint's single-file store: store.Store on SQLite through the pure-Go
// modernc.org/sqlite driver, for `mint dev` and single-server installations.
//
// SQLite allows one writer at a time. Rather than let concurrent writers fail with SQLITE_BUSY,
// every write goes through one connection, so writers queue in Go (honouring their contexts)
// while reads run on a separate pool that WAL mode never blocks. Another process or another Open
// of the same file is a second writer; BEGIN IMMEDIATE and busy_timeout make it wait its turn.
// With synchronous=FULL a write that has returned survives a crash or kill -9.
//
// The queries are the SQL layer's (internal/store/internal/sqlstore), shared with PostgreSQL; this
// package opens the file, applies its migrations (the DDL is SQLite's own) and gives the layer
// the writer, the read pool behind a prepared-statement cache, and SQLite's dialect.
//
// It is not for ":memory:" databases: each connection would get its own.
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"net/url"
	"runtime"
	"strings"
	"sync"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/mint-id/mint/internal/store"
	"github.com/mint-id/mint/internal/store/internal/sqlstore"
)

//go:embed migrations/*.sql
var migrations embed.FS

// busyTimeout is how long a write waits for another process's (or another Open's) write lock.
const busyTimeout = 10 * time.Second

// Store is a store.Store in one SQLite file.
type Store struct {
	*sqlstore.Store

	write *sql.DB    // one connection: the only writer this Store has
	read  *sql.DB    // query_only connections
	stmts *stmtCache // prepared statements on read

	closeOnce sync.Once
	closeErr  error
}

var _ store.Store = (*Store)(nil)

// Open opens or creates the database at path and brings its schema up to date. Migrations already
// applied are never re-run, so opening an existing file keeps its data.
func Open(ctx context.Context, path string) (*Store, error) {
	return OpenWithOptions(ctx, path, Options{})
}

// Options change how Open opens the file. The zero value is what mint runs with.
type Options struct {
	// Synchronous overrides PRAGMA synchronous on the write connection (default "FULL").
	// "OFF" skips every fsync: a crash may lose or corrupt recent writes. It exists only to
	// bulk-load data no one depends on (`mint bench` seeds 100,000 identities with it before
	// starting mint on the file); never serve with it.
	Synchronous string
}

// OpenWithOptions is Open with Options.
func OpenWithOptions(ctx context.Context, path string, opts Options) (*Store, error) {
	if path == "" || strings.ContainsRune(path, '?') || strings.HasPrefix(path, "file:") || path == ":memory:" {
		return nil, fmt.Errorf("open sqlite store: unsupported path %q", path)
	}
	switch strings.ToUpper(opts.Synchronous) {
	case "", "FULL", "NORMAL", "OFF":
	default:
		return nil, fmt.Errorf("open sqlite store: synchronous %q is not FULL, NORMAL or OFF", opts.Synchronous)
	}
	writeDSN := dsn(path, false)
	if opts.Synchronous != "" {
		writeDSN = strings.Replace(writeDSN, url.QueryEscape("synchronous(FULL)"), url.QueryEscape("synchronous("+strings.ToUpper(opts.Synchronous)+")"), 1)
	}
	write, err := sql.Open("sqlite", writeDSN)
	if err != nil {
		return nil, fmt.Errorf("open sqlite store %s: %w", path, err)
	}
	write.SetMaxOpenConns(1)
	write.SetMaxIdleConns(1)
	write.SetConnMaxIdleTime(0)
	write.SetConnMaxLifetime(0)
	if err := migrate(ctx, write); err != nil {
		write.Close()
		return nil, fmt.Errorf("open sqlite store %s: %w", path, err)
	}

	read, err := sql.Open("sqlite", dsn(path, true))
	if err != nil {
		write.Close()
		return nil, fmt.Errorf("open sqlite store %s: %w", path, err)
	}
	n := max(4, runtime.GOMAXPROCS(0))
	read.SetMaxOpenConns(n)
	read.SetMaxIdleConns(n)
	if err := read.PingContext(ctx); err != nil {
		write.Close()
		read.Close()
		return nil, fmt.Errorf("open sqlite store %s: %w", path, err)
	}
	stmts := newStmtCache(read)
	return &Store{Store: sqlstore.New(sqlstore.SQLDB(write), stmts, dialect), write: write, read: read, stmts: stmts}, nil
}

// dialect is SQLite's: one writer, so no row locks and no writable CTEs.
var dialect = sqlstore.Dialect{ErrorKind: errorKind, AnonymousParams: true}

// errorKind classifies SQLite's errors for the SQL layer: constraint violations, and the
// conditions that may pass (store.ErrUnavailable).
func errorKind(err error) error {
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() {
		case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
			return store.ErrConflict
		case sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY:
			return store.ErrNotFound
		}
		// The primary code (the low byte of an extended one): a full disk, a lock another
		// process held past busy_timeout, an I/O error or no memory may pass; retry later.
		switch se.Code() & 0xff {
		case sqlite3.SQLITE_FULL, sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED, sqlite3.SQLITE_IOERR, sqlite3.SQLITE_NOMEM, sqlite3.SQLITE_PROTOCOL:
			return store.ErrUnavailable
		}
	}
	return nil
}

// dsn sets the pragmas on every connection the pools open: they are per connection, except
// journal_mode which the file remembers.
func dsn(path string, readOnly bool) string {
	q := url.Values{}
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", busyTimeout.Milliseconds()))
	q.Add("_pragma", "foreign_keys(1)")
	// Times bound as arguments are stored as INTEGER microseconds (the schema's time columns).
	q.Set("_time_integer_format", "unix_micro")
	if readOnly {
		q.Add("_pragma", "query_only(1)")
	} else {
		q.Add("_pragma", "journal_mode(WAL)")
		q.Add("_pragma", "synchronous(FULL)")
		// A statement of a transaction that may fail half-way (a multi-row INSERT meeting a
		// duplicate key) keeps the pages it changes in a statement journal: in memory, not in a
		// temporary file written with a syscall per page (a third of the sign-in log's CPU).
		// The database's own durability is the WAL's, unchanged.
		q.Add("_pragma", "temp_store(MEMORY)")
		q.Add("_pragma", "temp_store(MEMORY)")
		// Take the write lock at BEGIN, so a transaction never fails upgrading a read lock.
		q.Set("_txlock", "immediate")
	}
	return path + "?" + q.Encode()
}

// Close closes the database. It is safe to call more than once.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		s.closeErr = errors.Join(s.stmts.close(), s.read.Close(), s.write.Close())
	})
	return s.closeErr
}

// migrate applies the migrations. BEGIN IMMEDIATE (the _txlock of the write pool) also
// serialises two processes migrating the same file at once: the second waits, then finds the work
// done.
func migrate(ctx context.Context, db *sql.DB) error {
	return sqlstore.Migrate(ctx, sqlstore.SQLDB(db), migrations, schemaMigrationsTable, "")
}

const schemaMigrationsTable = `CREATE TABLE IF NOT EXISTS schema_migrations (
	version    INTEGER NOT NULL PRIMARY KEY,
	name       TEXT NOT NULL,
	applied_at INTEGER NOT NULL
) STRICT`
