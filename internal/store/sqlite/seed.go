package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/mint-id/mint/internal/store"
	"github.com/mint-id/mint/internal/store/internal/sqlstore"
)

// seedChunk is how many identities one transaction of SeedManagedIdentities writes. Each commit
// writes every page the transaction dirtied, and an identity's principal and role assignment
// land at random places in five indexes keyed by GUIDs (principals' object id and app id, the
// assignments' id, principal and (scope, principal, role)), so a commit rewrites nearly every
// leaf of those indexes whatever its size: fewer, larger transactions write less.
const seedChunk = 100_000

// seedCacheKiB is the page cache of the writer during a bulk load (SQLite's default is 2 MiB).
// With the default, at 100,000 identities 42 % of the load's CPU went to reading back leaves of
// the GUID-keyed indexes (~0.5 GB at a million identities) and spilling dirty pages to the WAL
// mid-transaction; 256 MiB keeps most of them. Not more: every cached page is freed one by one
// when the cache shrinks back (2.7 s for 256 MiB).
const seedCacheKiB = 256 << 10

// SeedManagedIdentities writes n identities (identity(i) for i in [0, n)) in bulk: the rows
// PutResource and CreateRoleAssignment write (sqlstore.SeedTables), through one prepared
// single-row INSERT per table reused for every row, seedChunk identities a transaction. A
// single-row INSERT needs no statement journal (a multi-row one copies every page it touches
// into one, so that it can undo its own earlier rows) and binds by position (SQLite looks a
// numbered parameter up in a list it scans). It is for `mint bench`; serving code never calls
// it. An id that exists already fails it with store.ErrConflict, and the chunk is not written.
func (s *Store) SeedManagedIdentities(ctx context.Context, n int, identity func(i int) store.IdentitySeed) error {
	if err := s.seed(ctx, n, identity); err != nil {
		return fmt.Errorf("seed %d managed identities: %w", n, err)
	}
	return nil
}

func (s *Store) seed(ctx context.Context, n int, identity func(i int) store.IdentitySeed) error {
	conn, err := s.write.Conn(ctx) // the one writer connection: the pragmas below are its own
	if err != nil {
		return err
	}
	defer conn.Close()
	var cache int
	if err := conn.QueryRowContext(ctx, `PRAGMA cache_size`).Scan(&cache); err != nil {
		return err
	}
	if _, err := conn.ExecContext(ctx, fmt.Sprintf(`PRAGMA cache_size = %d`, -seedCacheKiB)); err != nil {
		return err
	}
	// Back to the usual cache, which also frees the large one.
	defer conn.ExecContext(context.WithoutCancel(ctx), fmt.Sprintf(`PRAGMA cache_size = %d`, cache))

	for start := 0; start < n; start += seedChunk {
		ids := make([]store.IdentitySeed, min(n, start+seedChunk)-start)
		for i := range ids {
			ids[i] = identity(start + i)
		}
		tables, err := sqlstore.SeedTables(ids)
		if err != nil {
			return err
		}
		tx, err := conn.BeginTx(ctx, nil)
		if err != nil {
			return seedErr(err)
		}
		for _, t := range tables {
			if err := insertAll(ctx, tx, t); err != nil {
				tx.Rollback()
				return fmt.Errorf("%s: %w", t.Name, seedErr(err))
			}
		}
		if err := tx.Commit(); err != nil {
			return seedErr(err)
		}
	}
	return nil
}

// insertAll inserts t's rows through one prepared statement.
func insertAll(ctx context.Context, tx *sql.Tx, t sqlstore.SeedTable) error {
	stmt, err := tx.PrepareContext(ctx, `INSERT INTO `+t.Name+` (`+strings.Join(t.Columns, ", ")+`) VALUES (?`+strings.Repeat(`, ?`, len(t.Columns)-1)+`)`)
	if err != nil {
		return err
	}
	defer stmt.Close()
	for _, row := range t.Rows {
		if _, err := stmt.ExecContext(ctx, row...); err != nil {
			return err
		}
	}
	return nil
}

// seedErr is err with the store's sentinel for what SQLite said (a conflict on an existing id).
func seedErr(err error) error {
	if kind := errorKind(err); kind != nil {
		return fmt.Errorf("%w: %w", kind, err)
	}
	return err
}
