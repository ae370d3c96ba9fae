package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/mint-id/mint/internal/store"
	"github.com/mint-id/mint/internal/store/internal/sqlstore"
)

// seedChunk is how many identities one transaction of SeedManagedIdentities writes (and holds
// in memory as rows before it does).
const seedChunk = 100_000

// SeedManagedIdentities writes n identities (identity(i) for i in [0, n)) in bulk: the rows
// PutResource and CreateRoleAssignment write (sqlstore.SeedTables), by COPY, seedChunk
// identities a transaction, then VACUUMs and ANALYZEs the tables it loaded and CHECKPOINTs. Like
// any bulk load it gathers the planner's statistics itself rather than leave the first queries to
// plans made for empty tables until autovacuum's next pass (a list page sorted a whole
// subscription for minutes after a seed without it). The VACUUM and the CHECKPOINT are the rest
// of what the database would do about the load on its own: autovacuum, woken within a minute,
// vacuumed the loaded tables (seconds at 100,000 identities, on a busy machine) and a checkpoint
// wrote the load out while the scale bench was measuring the requests that followed. A database
// that serves has long done both. It is for `mint bench`; serving code never calls it. An id that
// exists already fails it with store.ErrConflict, and the chunk is not written.
func (s *Store) SeedManagedIdentities(ctx context.Context, n int, identity func(i int) store.IdentitySeed) error {
	if err := s.seed(ctx, n, identity); err != nil {
		return fmt.Errorf("seed %d managed identities: %w", n, err)
	}
	return nil
}

func (s *Store) seed(ctx context.Context, n int, identity func(i int) store.IdentitySeed) error {
	for start := 0; start < n; start += seedChunk {
		ids := make([]store.IdentitySeed, min(n, start+seedChunk)-start)
		for i := range ids {
			ids[i] = identity(start + i)
		}
		tables, err := sqlstore.SeedTables(ids)
		if err != nil {
			return err
		}
		err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
			for _, t := range tables {
				if _, err := tx.CopyFrom(ctx, pgx.Identifier{t.Name}, t.Columns, pgx.CopyFromRows(t.Rows)); err != nil {
					return fmt.Errorf("%s: %w", t.Name, err)
				}
			}
			return nil
		})
		if err != nil {
			return seedErr(err)
		}
	}
	for _, q := range []string{`VACUUM (ANALYZE) resources, principals, principal_words, role_assignments`, `CHECKPOINT`} {
		if _, err := s.pool.Exec(ctx, q); err != nil {
			return fmt.Errorf("%s: %w", q, seedErr(err))
		}
	}
	return nil
}

// seedErr is err with the store's sentinel for what PostgreSQL said (a conflict on an existing id).
func seedErr(err error) error {
	if kind := errorKind(err); kind != nil {
		return fmt.Errorf("%w: %w", kind, err)
	}
	return err
}
