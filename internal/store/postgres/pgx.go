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

type pgxDB struct{ pool *pgxpool.Pool }

func (db pgxDB) Exec(ctx context.Context, query string, args ...any) (int64, error) {
	return rowsAffected(db.pool.Exec(ctx, query, args...))
}

func (db pgxDB) Query(ctx context.Context, query string, args ...any) (sqlstore.Rows, error) {
	return pgxRows(db.pool.Query(ctx, query, args...))
}

func (db pgxDB) QueryRow(ctx context.Context, query string, args ...any) sqlstore.Row {
	return db.pool.QueryRow(ctx, query, args...)
}

func (db pgxDB) Begin(ctx context.Context) (sqlstore.Tx, error) {
	tx, err := db.pool.Begin(ctx)
	if err != nil {
		return nil, err
	}
	return pgxTx{tx}, nil
}

type pgxTx struct{ tx pgx.Tx }

func (t pgxTx) Exec(ctx context.Context, query string, args ...any) (int64, error) {
	return rowsAffected(t.tx.Exec(ctx, query, args...))
}

func (t pgxTx) Query(ctx context.Context, query string, args ...any) (sqlstore.Rows, error) {
	return pgxRows(t.tx.Query(ctx, query, args...))
}

func (t pgxTx) QueryRow(ctx context.Context, query string, args ...any) sqlstore.Row {
	return t.tx.QueryRow(ctx, query, args...)
}

func (t pgxTx) Commit(ctx context.Context) error   { return t.tx.Commit(ctx) }
func (t pgxTx) Rollback(ctx context.Context) error { return t.tx.Rollback(ctx) }

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
