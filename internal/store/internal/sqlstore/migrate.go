package sqlstore

import (
	"context"
	"fmt"
	"io/fs"
	"time"

	"github.com/mint-id/mint/internal/store/internal/migration"
)

// Migrate brings the schema of db up to the migrations in the "migrations" directory of fsys, in
// one transaction: it runs lock first (a statement that serialises servers migrating one
// database at once, or "" where beginning the transaction already does), creates the
// schema_migrations table with createTable if it is missing, refuses a database a newer mint
// migrated, then applies the migrations not yet recorded there, recording each (and running the
// Go that completes some of them, afterMigration).
func Migrate(ctx context.Context, db DB, fsys fs.FS, createTable, lock string) error {
	ms, err := migration.Load(fsys, "migrations")
	if err != nil {
		return err
	}
	tx, err := db.Begin(ctx)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	if lock != "" {
		if _, err := tx.Exec(ctx, lock); err != nil {
			return fmt.Errorf("migrate: lock: %w", err)
		}
	}
	if _, err := tx.Exec(ctx, createTable); err != nil {
		return fmt.Errorf("migrate: create schema_migrations: %w", err)
	}
	var current int
	if err := tx.QueryRow(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&current); err != nil {
		return fmt.Errorf("migrate: read schema version: %w", err)
	}
	if current > len(ms) {
		return fmt.Errorf("migrate: database schema version %d is newer than this mint (%d)", current, len(ms))
	}
	for _, m := range ms[current:] {
		if _, err := tx.Exec(ctx, m.SQL); err != nil {
			return fmt.Errorf("migrate: apply %s: %w", m.Name, err)
		}
		if fill := afterMigration[m.Version]; fill != nil {
			if err := fill(ctx, tx); err != nil {
				return fmt.Errorf("migrate: complete %s: %w", m.Name, err)
			}
		}
		if _, err := tx.Exec(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)`,
			m.Version, m.Name, time.Now()); err != nil {
			return fmt.Errorf("migrate: record %s: %w", m.Name, err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	return nil
}
