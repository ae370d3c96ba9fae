// Package sqlstore is mint's one SQL layer: every aggregate of store.Store written once, in SQL
// both SQLite and PostgreSQL accept. The sqlite and postgres packages open their database, apply
// their own migrations (the DDL is per database) and hand New a DB (where writes and transactions
// run: database/sql for SQLite through SQLDB, pgx's native pool for PostgreSQL), a Reader (where
// the other reads run) and a Dialect: the few things that really differ.
//
// What the Dialect covers, and nothing else:
//   - errors: which driver error is a unique violation (store.ErrConflict) or a foreign key
//     violation (store.ErrNotFound);
//   - row locks: PostgreSQL has other writers (other servers), so a transaction that reads before
//     it writes locks what it read (s.lock("UPDATE"), s.lock("KEY SHARE")) and an upsert tells a
//     new row by xmax (s.upsert); SQLite has one writer whose transaction excludes every other,
//     and no such syntax;
//   - writable CTEs: a DELETE inside WITH, which PostgreSQL has and SQLite has not.
//
// Times, the other difference, need no code here: pass time.Time as an argument (SQLite's driver
// is opened to bind it as INTEGER microseconds, pgx binds timestamptz; nullTime for a time that
// may be absent) and scan a time column through tm(&field), which reads either and NULL as the
// zero time. Write placeholders as $1, $2 ...: both drivers take them, and a $N used twice is one
// argument. Fold case-insensitive ids in Go (column.Key), not with SQL lower().
//
// Reads outside a transaction go to s.read, writes and transactions to s.write. On SQLite those
// are a pool of read-only connections whose statements stay prepared and a single writer
// connection; keep read queries constant strings (or built from a few fixed pieces with where, as
// the filters are) so that the prepared-statement cache serves them: the token path (GetTenant,
// GetPrincipalByAppID, ListCredentials ...) depends on it.
//
// To add an aggregate (users.go, groups.go): write its methods on *Store in a file of this
// package named after it, with get/list for reads, exec/execOne for one write, s.inTx for
// several (tx.Exec, tx.QueryRow, all(ctx, tx, ...)), insertRows for a batch; the helpers turn
// driver errors into the store's sentinels (s.err), and each method wraps them with what was
// asked ("get user %s: %w"). Add its tables to both migrations directories (sqlite/migrations and
// postgres/migrations, the same next free number), add its interface to store.Store, and run the
// conformance suite (internal/store/storetest) on both: `go test ./internal/store/...` and
// `scripts/with-postgres.sh go test ./internal/store/...`.
package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgtype"

	"github.com/mint-id/mint/internal/store"
)

// Dialect is what differs between the databases beyond their DDL.
type Dialect struct {
	// ErrorKind classifies a driver error: store.ErrConflict for a unique or primary key
	// violation, store.ErrNotFound for a foreign key violation, nil for anything else.
	ErrorKind func(error) error
	// RowLocks says other writers may run at once (PostgreSQL): reads in a write transaction
	// lock the rows they read, and upserts tell a new row from RETURNING (xmax = 0). Without it
	// (SQLite) the store's single writer serialises every write transaction.
	RowLocks bool
	// WritableCTE says a statement may run a DELETE inside WITH (PostgreSQL).
	WritableCTE bool
	// AnonymousParams says the database takes "?" for the next parameter (SQLite). SQLite reads
	// "$N" as a named parameter, found by a linear search of the names when the statement is
	// prepared and again when each argument is bound: a multi-row INSERT of n parameters costs
	// n² there (the sign-in log's batches of 1,000 parameters spent half their CPU on it).
	AnonymousParams bool
}

// Row is one row of a query (*sql.Row, pgx.Row).
type Row interface {
	Scan(dest ...any) error
}

// Rows are the rows of a query (*sql.Rows, or pgx.Rows behind an adapter).
type Rows interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
	Close() error
}

// Reader runs queries: what the reads outside transactions run on.
type Reader interface {
	Query(ctx context.Context, query string, args ...any) (Rows, error)
	QueryRow(ctx context.Context, query string, args ...any) Row
}

// Querier runs statements: a database or a transaction.
type Querier interface {
	Reader
	// Exec runs a statement and returns how many rows it touched.
	Exec(ctx context.Context, query string, args ...any) (int64, error)
}

// DB is where writes and transactions run. SQLDB makes one of a *sql.DB; the PostgreSQL store
// adapts its pgxpool.Pool, so that pgx's native protocol serves PostgreSQL.
type DB interface {
	Querier
	Begin(ctx context.Context) (Tx, error)
}

// Tx is a transaction.
type Tx interface {
	Querier
	Commit(ctx context.Context) error
	Rollback(ctx context.Context) error
}

// Store implements store.Store but Close, which the opening package owns.
type Store struct {
	write DB     // writes and transactions
	read  Reader // reads outside transactions
	d     Dialect
}

// New returns the store over write (where writes and transactions run) and read (where the other
// reads run; write itself will do).
func New(write DB, read Reader, d Dialect) *Store {
	return &Store{write: write, read: read, d: d}
}

// sqlQuerier is a Querier on what *sql.DB and *sql.Tx both have.
type sqlQuerier[Q interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}] struct{ q Q }

func (q sqlQuerier[Q]) Exec(ctx context.Context, query string, args ...any) (int64, error) {
	return rowsAffected(q.q.ExecContext(ctx, query, args...))
}

func (q sqlQuerier[Q]) Query(ctx context.Context, query string, args ...any) (Rows, error) {
	return sqlRows(q.q.QueryContext(ctx, query, args...))
}

func (q sqlQuerier[Q]) QueryRow(ctx context.Context, query string, args ...any) Row {
	return q.q.QueryRowContext(ctx, query, args...)
}

// SQLDB returns the DB on a database/sql pool.
func SQLDB(db *sql.DB) DB {
	return sqlDB{sqlQuerier[*sql.DB]{db}, &preparedStmts{m: map[string]*sql.Stmt{}}}
}

type sqlDB struct {
	sqlQuerier[*sql.DB]
	stmts *preparedStmts
}

func (db sqlDB) Begin(ctx context.Context) (Tx, error) {
	tx, err := db.q.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	return sqlTx{sqlQuerier[*sql.Tx]{tx}, db.stmts}, nil
}

// prepare keeps query prepared for the transactions that follow (see preparer). It must run
// outside a transaction: the pool of SQLite's writer has one connection, which a transaction
// holds. A query that cannot be prepared is left to run unprepared (and report its error).
func (db sqlDB) prepare(ctx context.Context, query string) {
	if db.stmts.get(query) != nil {
		return
	}
	// Prepared without the lock: preparing waits for the writer's connection, and the
	// transaction holding it looks its statements up under the lock.
	// Not tied to this request: a cancelled request must not leave a failed preparation behind.
	st, err := db.q.PrepareContext(context.WithoutCancel(ctx), query)
	if err != nil {
		return
	}
	db.stmts.mu.Lock()
	defer db.stmts.mu.Unlock()
	if _, ok := db.stmts.m[query]; ok || len(db.stmts.m) >= maxPreparedWrites {
		st.Close() // another writer prepared it meanwhile, or the bound is reached
		return
	}
	db.stmts.m[query] = st
}

// preparer is a DB that keeps write statements prepared across transactions: database/sql's
// (SQLite's writer). Parsing a multi-row INSERT of ~1,000 parameters cost modernc's SQLite more
// than a tenth of the sign-in log's write. pgx keeps its own statement cache by SQL text.
type preparer interface {
	prepare(ctx context.Context, query string)
}

// maxPreparedWrites bounds the writer's prepared statements; only a few fixed texts are
// prepared (the sign-in log's chunks).
const maxPreparedWrites = 64

// preparedStmts are the statements a sqlDB keeps prepared, by their SQL text.
type preparedStmts struct {
	mu sync.RWMutex
	m  map[string]*sql.Stmt
}

func (p *preparedStmts) get(query string) *sql.Stmt {
	p.mu.RLock()
	defer p.mu.RUnlock()
	return p.m[query]
}

type sqlTx struct {
	sqlQuerier[*sql.Tx]
	stmts *preparedStmts
}

// Exec runs query through its prepared statement when the DB keeps one (database/sql reuses
// the statement already prepared on the transaction's connection), otherwise directly.
func (t sqlTx) Exec(ctx context.Context, query string, args ...any) (int64, error) {
	if st := t.stmts.get(query); st != nil {
		return rowsAffected(t.q.StmtContext(ctx, st).ExecContext(ctx, args...))
	}
	return t.sqlQuerier.Exec(ctx, query, args...)
}

func (t sqlTx) Commit(context.Context) error   { return t.q.Commit() }
func (t sqlTx) Rollback(context.Context) error { return t.q.Rollback() }

// sqlRows returns rows as Rows, and no rows (rather than a nil *sql.Rows) with an error.
func sqlRows(rows *sql.Rows, err error) (Rows, error) {
	if err != nil {
		return nil, err
	}
	return rows, nil
}

func rowsAffected(res sql.Result, err error) (int64, error) {
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// lock is the clause that locks the rows a SELECT in a write transaction reads (mode "UPDATE",
// "KEY SHARE"), or "" where the single writer already excludes every other.
func (s *Store) lock(mode string) string {
	if !s.d.RowLocks {
		return ""
	}
	return " FOR " + mode
}

// inTx runs fn in a write transaction and commits it. When ctx carries a control-plane write's
// activity-log entry (store.PendingActivity) that no earlier transaction recorded, the entry is
// inserted in this transaction: the write and its entry commit together or not at all.
func (s *Store) inTx(ctx context.Context, fn func(tx Tx) error) error {
	return s.writeTx(ctx, func(tx Tx) (bool, error) { return false, fn(tx) })
}

// putTx is inTx for a write that sets *created to tell whether it created its target, which
// decides the status its activity-log entry records.
func (s *Store) putTx(ctx context.Context, created *bool, fn func(tx Tx) error) error {
	return s.writeTx(ctx, func(tx Tx) (bool, error) {
		err := fn(tx)
		return *created, err
	})
}

// writeTx is inTx for a write that tells whether it created its target.
func (s *Store) writeTx(ctx context.Context, fn func(tx Tx) (created bool, err error)) error {
	tx, err := s.write.Begin(ctx)
	if err != nil {
		return s.err(ctx, err)
	}
	created, err := fn(tx)
	if err != nil {
		tx.Rollback(context.WithoutCancel(ctx))
		return s.err(ctx, err)
	}
	pending := store.PendingActivityFrom(ctx)
	ev, claimed := pending.Claim(created)
	if claimed {
		if err := appendActivity(ctx, tx, []store.ActivityEvent{ev}); err != nil {
			tx.Rollback(context.WithoutCancel(ctx))
			pending.Done(false)
			return fmt.Errorf("record the write's activity-log entry: %w", s.activityErr(ctx, err))
		}
	}
	err = s.err(ctx, tx.Commit(ctx))
	if claimed {
		pending.Done(err == nil)
	}
	return err
}

// activityErr is the error of an activity-log insert that failed a write: not a conflict or a
// missing row of what the write was about (the caller would answer 409 or 404 for it), but an
// outage (store.ErrUnavailable) or an opaque failure.
func (s *Store) activityErr(ctx context.Context, err error) error {
	err = s.err(ctx, err)
	if errors.Is(err, store.ErrConflict) || errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrLimitReached) {
		return errors.New(err.Error())
	}
	return err
}

// pendingActivity reports whether ctx carries an activity-log entry still to record, so that a
// lone statement must run in a transaction with it.
func pendingActivity(ctx context.Context) bool {
	p := store.PendingActivityFrom(ctx)
	if p == nil {
		return false
	}
	recorded, _ := p.Recorded()
	return !recorded
}

// err turns driver errors into the store's sentinels, keeping the driver's message: a unique
// violation is ErrConflict, a foreign key violation (a credential or assignment naming a missing
// principal) is ErrNotFound, as is no row; a statement interrupted by its context says so.
func (s *Store) err(ctx context.Context, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrConflict) || errors.Is(err, store.ErrLimitReached) {
		return err
	}
	if errors.Is(err, sql.ErrNoRows) {
		return store.ErrNotFound
	}
	if kind := s.d.ErrorKind(err); kind != nil {
		return fmt.Errorf("%w: %w", kind, err)
	}
	if ctxErr := ctx.Err(); ctxErr != nil && !errors.Is(err, ctxErr) {
		return fmt.Errorf("%w: %w", ctxErr, err)
	}
	return err
}

// exec runs one statement on the writer, its own transaction (with the activity-log entry ctx
// carries, see inTx), and returns the rows it touched.
func (s *Store) exec(ctx context.Context, query string, args ...any) (int64, error) {
	if !pendingActivity(ctx) {
		n, err := s.write.Exec(ctx, query, args...)
		return n, s.err(ctx, err)
	}
	var n int64
	err := s.inTx(ctx, func(tx Tx) error {
		var err error
		n, err = tx.Exec(ctx, query, args...)
		return err
	})
	return n, err
}

// execOne runs one update or delete; ErrNotFound when it touched no row.
func (s *Store) execOne(ctx context.Context, query string, args ...any) error {
	if !pendingActivity(ctx) {
		n, err := s.exec(ctx, query, args...)
		if err == nil && n == 0 {
			err = store.ErrNotFound
		}
		return err
	}
	return s.inTx(ctx, func(tx Tx) error { return affected(tx.Exec(ctx, query, args...)) })
}

// affected reports ErrNotFound when a statement in a transaction touched no row.
func affected(n int64, err error) error {
	if err == nil && n == 0 {
		err = store.ErrNotFound
	}
	return err
}

type scanner interface{ Scan(dest ...any) error }

// get reads one row on the read side.
func get[T any](ctx context.Context, s *Store, scan func(scanner) (T, error), query string, args ...any) (T, error) {
	v, err := scan(s.read.QueryRow(ctx, query, args...))
	return v, s.err(ctx, err)
}

// list reads rows on the read side; none is nil.
func list[T any](ctx context.Context, s *Store, scan func(scanner) (T, error), query string, args ...any) ([]T, error) {
	vs, err := all(ctx, s.read, scan, query, args...)
	return vs, s.err(ctx, err)
}

// all reads every row of a query (on the read side or in a transaction); none is nil. Errors
// are the driver's.
func all[T any](ctx context.Context, q Reader, scan func(scanner) (T, error), query string, args ...any) ([]T, error) {
	rows, err := q.Query(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var vs []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		vs = append(vs, v)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	return vs, nil
}

// upsert runs an INSERT ... ON CONFLICT DO UPDATE on q (a transaction; with row locks the writer
// will do) and tells whether it inserted the row. exists counts the row the upsert would update.
// With row locks, RETURNING (xmax = 0) is true only for the row version an INSERT wrote, so of
// concurrent puts of one new key exactly one is told it created it; the single writer sees
// nothing between the count and the upsert.
func (s *Store) upsert(ctx context.Context, q Querier, exists string, existsArgs []any, upsert string, args ...any) (bool, error) {
	if s.d.RowLocks {
		var created bool
		err := q.QueryRow(ctx, upsert+` RETURNING (xmax = 0)`, args...).Scan(&created)
		return created, err
	}
	var n int
	if err := q.QueryRow(ctx, exists, existsArgs...).Scan(&n); err != nil {
		return false, err
	}
	_, err := q.Exec(ctx, upsert, args...)
	return n == 0, err
}

// putOne runs a lone upsert and tells whether it inserted the row (see upsert): one statement
// with row locks; the count and the upsert in one transaction of the single writer otherwise.
func (s *Store) putOne(ctx context.Context, exists string, existsArgs []any, upsert string, args ...any) (bool, error) {
	if s.d.RowLocks && !pendingActivity(ctx) {
		created, err := s.upsert(ctx, s.write, exists, existsArgs, upsert, args...)
		return created, s.err(ctx, err)
	}
	var created bool
	err := s.writeTx(ctx, func(tx Tx) (bool, error) {
		var err error
		created, err = s.upsert(ctx, tx, exists, existsArgs, upsert, args...)
		return created, err
	})
	return created, err
}

// timeCol scans a time column: INTEGER microseconds (SQLite) or a timestamp (PostgreSQL), in
// UTC at microsecond precision; NULL is the zero time.
type timeCol time.Time

// tm is the scan destination of a time column.
func tm(t *time.Time) *timeCol { return (*timeCol)(t) }

func (c *timeCol) Scan(src any) error {
	switch v := src.(type) {
	case int64:
		*c = timeCol(time.UnixMicro(v).UTC())
	case time.Time:
		*c = timeCol(v.UTC().Truncate(time.Microsecond))
	case nil:
		*c = timeCol{}
	default:
		return fmt.Errorf("scan time column: unexpected %T", src)
	}
	return nil
}

// ScanTimestamptz lets pgx decode a timestamptz straight into the column, without going through
// database/sql's driver.Value (an allocation and a scan plan per read on PostgreSQL's token path).
func (c *timeCol) ScanTimestamptz(v pgtype.Timestamptz) error {
	if !v.Valid {
		*c = timeCol{}
		return nil
	}
	if v.InfinityModifier != pgtype.Finite {
		return fmt.Errorf("scan time column: infinite timestamp")
	}
	*c = timeCol(v.Time.UTC().Truncate(time.Microsecond))
	return nil
}

// nullTime stores a time that may be absent: NULL for the zero time.
func nullTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t
}

// nullIfEmpty stores "" as NULL, for unique columns that may be absent.
func nullIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// where collects the conditions of a query built from a filter, and their numbered parameters.
type where struct {
	conds []string
	args  []any
}

// p adds a parameter and returns its placeholder.
func (w *where) p(v any) string {
	w.args = append(w.args, v)
	return "$" + strconv.Itoa(len(w.args))
}

// in adds the parameters of an IN list and returns "($i, $j, ...)".
func (w *where) in(vs []string) string {
	ps := make([]string, len(vs))
	for i, v := range vs {
		ps[i] = w.p(v)
	}
	return "(" + strings.Join(ps, ", ") + ")"
}

func (w *where) add(cond string) { w.conds = append(w.conds, cond) }

func (w *where) sql() string {
	if len(w.conds) == 0 {
		return ""
	}
	return ` WHERE ` + strings.Join(w.conds, ` AND `)
}

// values returns the VALUES rows of a multi-row INSERT of rows rows of cols columns, numbered
// ($1, $2, ...) or, when anonymous, "?" each.
func values(rows, cols int, anonymous bool) string {
	var b strings.Builder
	for r := range rows {
		if r > 0 {
			b.WriteString(", ")
		}
		b.WriteByte('(')
		for c := range cols {
			if c > 0 {
				b.WriteString(", ")
			}
			if anonymous {
				b.WriteByte('?')
			} else {
				b.WriteString("$" + strconv.Itoa(r*cols+c+1))
			}
		}
		b.WriteByte(')')
	}
	return b.String()
}

// insertRows inserts rows in batches of one multi-row INSERT each, in tx: one statement (and, on
// PostgreSQL, one round trip) per batch. insert is the statement up to VALUES; row returns the
// arguments of row i.
func insertRows(ctx context.Context, tx Tx, insert string, cols, n int, row func(i int) []any) error {
	return insertRowsAs(ctx, tx, false, insert, cols, n, row)
}

// insertRowsAs is insertRows with anonymous ("?") parameters when the dialect takes them
// (Dialect.AnonymousParams).
func insertRowsAs(ctx context.Context, tx Tx, anonymous bool, insert string, cols, n int, row func(i int) []any) error {
	// Under SQLite's and PostgreSQL's bounds on parameters per statement (32766, 65535).
	batch := max(1, 30000/cols)
	for start := 0; start < n; start += batch {
		end := min(n, start+batch)
		args := make([]any, 0, (end-start)*cols)
		for i := start; i < end; i++ {
			args = append(args, row(i)...)
		}
		if _, err := tx.Exec(ctx, insert+` VALUES `+values(end-start, cols, anonymous), args...); err != nil {
			return err
		}
	}
	return nil
}

// chunkedInsert is a multi-row INSERT run in chunks of fixed sizes (maxChunkRows, then the powers
// of two below it for the rest), so that a stream of batches of any size uses a handful of
// statement texts, each parsed once: kept prepared on SQLite's writer (preparer), in pgx's
// statement cache on PostgreSQL. A statement text per batch size would be parsed anew at almost
// every flush (and fill pgx's cache with texts used once).
type chunkedInsert struct {
	table     string
	columns   []string
	insert    string // up to VALUES
	cols      int
	anonymous bool

	once  sync.Once
	texts map[int]string // by rows
}

// maxChunkRows is the largest chunk: 64 rows of the sign-in log's 15 columns are 960
// parameters, under both databases' bounds.
const maxChunkRows = 64

// chunks returns the chunk sizes that make n rows, largest first: at most n/64 + 6 statements.
func chunks(n int) []int {
	var out []int
	for ; n >= maxChunkRows; n -= maxChunkRows {
		out = append(out, maxChunkRows)
	}
	for size := maxChunkRows / 2; size > 0; size /= 2 {
		if n >= size {
			out = append(out, size)
			n -= size
		}
	}
	return out
}

func (c *chunkedInsert) text(rows int) string {
	c.once.Do(func() {
		c.texts = map[int]string{}
		for size := maxChunkRows; size > 0; size /= 2 {
			c.texts[size] = c.insert + ` VALUES ` + values(size, c.cols, c.anonymous)
		}
	})
	return c.texts[rows]
}

// prepare keeps the chunks' statements prepared when db keeps statements (outside a transaction).
func (c *chunkedInsert) prepare(ctx context.Context, db DB) {
	if p, ok := db.(preparer); ok {
		for size := maxChunkRows; size > 0; size /= 2 {
			p.prepare(ctx, c.text(size))
		}
	}
}

// Copier is a Tx that bulk-loads rows with one COPY (pgx on PostgreSQL): one round trip for the
// rows and no statement to plan, rather than a multi-row INSERT per chunk.
type Copier interface {
	// CopyRows writes n rows of columns into table; row appends the values of row i to args
	// (which it may reuse once the row is encoded).
	CopyRows(ctx context.Context, table string, columns []string, n int, row func(args []any, i int) []any) (int64, error)
}

// run inserts n rows in tx; row appends the arguments of row i to args.
func (c *chunkedInsert) run(ctx context.Context, tx Tx, n int, row func(args []any, i int) []any) error {
	if cp, ok := tx.(Copier); ok && c.table != "" {
		_, err := cp.CopyRows(ctx, c.table, c.columns, n, row)
		return err
	}
	args := make([]any, 0, min(n, maxChunkRows)*c.cols)
	i := 0
	for _, size := range chunks(n) {
		args = args[:0]
		for end := i + size; i < end; i++ {
			args = row(args, i)
		}
		if _, err := tx.Exec(ctx, c.text(size), args...); err != nil {
			return err
		}
	}
	return nil
}
