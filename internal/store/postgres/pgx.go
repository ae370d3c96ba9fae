package postgres

import (
	"context"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/mint-id/mint/internal/store/internal/sqlstore"
)

// The SQL layer's DB on pgx's own interface rather than its database/sql face: a statement takes
// a pool connection for just its own run, and pgx prepares and caches it per connection, without
// database/sql's conversions (half the allocations of a token-path read).

// pgxQuerier is a sqlstore.Querier on what *pgxpool.Pool and pgx.Tx both have.
type pgxQuerier[Q interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}] struct{ q Q }

func (q pgxQuerier[Q]) Exec(ctx context.Context, query string, args ...any) (int64, error) {
	return rowsAffected(q.q.Exec(ctx, query, args...))
}

func (q pgxQuerier[Q]) Query(ctx context.Context, query string, args ...any) (sqlstore.Rows, error) {
	return pgxRows(q.q.Query(ctx, query, args...))
}

func (q pgxQuerier[Q]) QueryRow(ctx context.Context, query string, args ...any) sqlstore.Row {
	return q.q.QueryRow(ctx, query, args...)
}

// pgxDB is the pool as the SQL layer's DB.
type pgxDB struct{ pgxQuerier[*pgxpool.Pool] }

func newPgxDB(pool *pgxpool.Pool) pgxDB { return pgxDB{pgxQuerier[*pgxpool.Pool]{pool}} }

func (db pgxDB) Begin(ctx context.Context) (sqlstore.Tx, error) {
	tx, err := db.q.Begin(ctx)
	if err != nil {
		return nil, err
	}
	return pgxTx{pgxQuerier[pgx.Tx]{tx}}, nil
}

type pgxTx struct{ pgxQuerier[pgx.Tx] }

// CopyRows is sqlstore.Copier: pgx's COPY FROM STDIN (binary), one round trip for the rows
// beside the one that reads the columns' types. pgx encodes each row as soon as it has it, so
// the row's argument slice is reused.
func (t pgxTx) CopyRows(ctx context.Context, table string, columns []string, n int, row func(args []any, i int) []any) (int64, error) {
	var args []any
	return t.q.CopyFrom(ctx, pgx.Identifier{table}, columns, pgx.CopyFromSlice(n, func(i int) ([]any, error) {
		args = row(args[:0], i)
		return args, nil
	}))
}

func (t pgxTx) Commit(ctx context.Context) error   { return t.q.Commit(ctx) }
func (t pgxTx) Rollback(ctx context.Context) error { return t.q.Rollback(ctx) }

func rowsAffected(tag pgconn.CommandTag, err error) (int64, error) {
	return tag.RowsAffected(), err
}

// rows is pgx.Rows with database/sql's Close.
type rows struct{ pgx.Rows }

func (r rows) Close() error {
	r.Rows.Close()
	return r.Rows.Err()
}

func pgxRows(r pgx.Rows, err error) (sqlstore.Rows, error) {
	if err != nil {
		return nil, err
	}
	return rows{r}, nil
}
