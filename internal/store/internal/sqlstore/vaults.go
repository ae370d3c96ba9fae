package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/mint-id/mint/internal/store"
	"github.com/mint-id/mint/internal/store/internal/column"
)

// The Key Vault data plane: vaults and their secrets. A new version takes its seq by updating the
// secret's row (INSERT ... ON CONFLICT DO UPDATE), which serialises the writers of one secret:
// by its row lock on PostgreSQL, by the single writer on SQLite.

// qualify prefixes each column of a comma-separated list with a table alias.
func qualify(alias, cols string) string {
	parts := strings.Split(cols, ",")
	for i, p := range parts {
		parts[i] = alias + "." + strings.TrimSpace(p)
	}
	return strings.Join(parts, ", ")
}

var vaultColumns = `v.name, v.resource_id, v.data_key, v.created_at, ` + qualify("r", resourceColumns)

func scanVault(row scanner) (store.Vault, error) {
	var v store.Vault
	rdest, finish := resourceDest(&v.Resource)
	if err := row.Scan(append([]any{&v.Name, &v.ResourceID, &v.DataKey, tm(&v.CreatedAt)}, rdest...)...); err != nil {
		return store.Vault{}, err
	}
	v.DataKey = column.Bytes(v.DataKey)
	return v, finish()
}

func (s *Store) CreateVault(ctx context.Context, v store.Vault) error {
	err := s.inTx(ctx, func(tx Tx) error {
		// A deleted vault keeps its name until it is purged or recovered.
		var deleted int
		if err := tx.QueryRow(ctx, `SELECT COUNT(*) FROM deleted_vaults WHERE name_key = $1`, column.Key(v.Name)).Scan(&deleted); err != nil {
			return err
		}
		if deleted > 0 {
			return fmt.Errorf("%w: a deleted vault has the name", store.ErrConflict)
		}
		_, err := tx.Exec(ctx, `INSERT INTO vaults (name_key, name, resource_key, resource_id, data_key, created_at)
			VALUES ($1, $2, $3, $4, $5, $6)`,
			column.Key(v.Name), v.Name, column.ScopeKey(v.ResourceID), v.ResourceID, v.DataKey, v.CreatedAt)
		return err
	})
	if err != nil {
		return fmt.Errorf("create vault %s: %w", v.Name, err)
	}
	return nil
}

func (s *Store) GetVault(ctx context.Context, name string) (store.Vault, error) {
	v, err := get(ctx, s, scanVault, `SELECT `+vaultColumns+` FROM vaults v
		JOIN resources r ON r.id_key = v.resource_key WHERE v.name_key = $1`, column.Key(name))
	if err != nil {
		return store.Vault{}, fmt.Errorf("get vault %s: %w", name, err)
	}
	return v, nil
}

// Secrets

const secretVersionColumns = `s.name, sv.version, sv.seq, sv.value, sv.content_type, sv.tags, sv.enabled, sv.not_before,
	sv.expires, sv.created_at, sv.updated_at`

// latestJoin joins each secret to its latest version.
const latestJoin = ` FROM secrets s JOIN secret_versions sv
	ON sv.vault_key = s.vault_key AND sv.name_key = s.name_key AND sv.seq = s.last_seq`

// versionsJoin joins each secret to all its versions.
const versionsJoin = ` FROM secrets s JOIN secret_versions sv ON sv.vault_key = s.vault_key AND sv.name_key = s.name_key`

const deletedSecretColumns = secretVersionColumns + `, s.deleted_at, s.purge_at`

// scanSecret scans secretVersionColumns and then extra into d.
func scanSecret(row scanner, vaultName string, d *store.DeletedSecret, extra ...any) error {
	v := &d.SecretVersion
	v.VaultName = vaultName
	var tags string
	if err := row.Scan(append([]any{&v.Name, &v.Version, &v.Seq, &v.Value, &v.ContentType, &tags, &v.Enabled,
		tm(&v.NotBefore), tm(&v.Expires), tm(&v.Created), tm(&v.Updated)}, extra...)...); err != nil {
		return err
	}
	var err error
	v.Tags, err = parseSecretTags(tags)
	v.Value = column.Bytes(v.Value)
	return err
}

func scanSecretVersion(vaultName string) func(row scanner) (store.SecretVersion, error) {
	return func(row scanner) (store.SecretVersion, error) {
		var d store.DeletedSecret
		err := scanSecret(row, vaultName, &d)
		return d.SecretVersion, err
	}
}

func scanDeletedSecret(vaultName string) func(row scanner) (store.DeletedSecret, error) {
	return func(row scanner) (store.DeletedSecret, error) {
		var d store.DeletedSecret
		err := scanSecret(row, vaultName, &d, tm(&d.DeletedAt), tm(&d.PurgeAt))
		return d, err
	}
}

// parseSecretTags is column.ParseTags without decoding the common "{}" (a secret read is on the
// data plane's hot path).
func parseSecretTags(s string) (map[string]string, error) {
	if s == "{}" {
		return nil, nil
	}
	return column.ParseTags(s)
}

// insertVersion writes one version row with the given seq.
func insertVersion(ctx context.Context, tx Tx, vaultKey, nameKey string, seq int64, v store.SecretVersion) error {
	tags, err := column.Tags(v.Tags)
	if err != nil {
		return err
	}
	_, err = tx.Exec(ctx, `INSERT INTO secret_versions (vault_key, name_key, version, seq, value, content_type, tags,
		enabled, not_before, expires, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
		vaultKey, nameKey, column.Key(v.Version), seq, v.Value, v.ContentType, tags, v.Enabled,
		nullTime(v.NotBefore), nullTime(v.Expires), v.Created, v.Updated)
	return err
}

func (s *Store) PutSecretVersion(ctx context.Context, v store.SecretVersion) (store.SecretVersion, error) {
	vaultKey, nameKey := column.Key(v.VaultName), column.Key(v.Name)
	err := s.inTx(ctx, func(tx Tx) error {
		// The upsert takes the next seq of a live secret; a deleted one updates nothing and
		// returns no row.
		err := tx.QueryRow(ctx, `INSERT INTO secrets (vault_key, name_key, name, last_seq) VALUES ($1, $2, $3, 1)
			ON CONFLICT (vault_key, name_key) DO UPDATE SET last_seq = secrets.last_seq + 1 WHERE secrets.deleted_at IS NULL
			RETURNING last_seq, name`, vaultKey, nameKey, v.Name).Scan(&v.Seq, &v.Name)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("secret %s is deleted: %w", v.Name, store.ErrConflict)
		}
		if err != nil {
			return err
		}
		return insertVersion(ctx, tx, vaultKey, nameKey, v.Seq, v)
	})
	if err != nil {
		return store.SecretVersion{}, fmt.Errorf("put secret %s in vault %s: %w", v.Name, v.VaultName, err)
	}
	v.Version = column.Key(v.Version)
	return v, nil
}

func (s *Store) GetSecretVersion(ctx context.Context, vaultName, name, version string) (store.SecretVersion, error) {
	var v store.SecretVersion
	var err error
	if version == "" {
		v, err = get(ctx, s, scanSecretVersion(vaultName), `SELECT `+secretVersionColumns+latestJoin+`
			WHERE s.vault_key = $1 AND s.name_key = $2 AND s.deleted_at IS NULL`, column.Key(vaultName), column.Key(name))
	} else {
		v, err = get(ctx, s, scanSecretVersion(vaultName), `SELECT `+secretVersionColumns+versionsJoin+`
			WHERE s.vault_key = $1 AND s.name_key = $2 AND s.deleted_at IS NULL AND sv.version = $3`,
			column.Key(vaultName), column.Key(name), column.Key(version))
	}
	if err != nil {
		return store.SecretVersion{}, fmt.Errorf("get secret %s/%s in vault %s: %w", name, version, vaultName, err)
	}
	return v, nil
}

// limitArg turns a limit (<= 0: all) into a LIMIT value both databases take (SQLite's "no
// limit" is negative, PostgreSQL's NULL).
func limitArg(limit int) int64 {
	if limit <= 0 {
		return math.MaxInt64
	}
	return int64(limit)
}

func (s *Store) ListSecrets(ctx context.Context, vaultName, afterName string, limit int) ([]store.SecretVersion, error) {
	vs, err := list(ctx, s, scanSecretVersion(vaultName), `SELECT `+secretVersionColumns+latestJoin+`
		WHERE s.vault_key = $1 AND s.deleted_at IS NULL AND s.name_key > $2 ORDER BY s.name_key LIMIT $3`,
		column.Key(vaultName), column.Key(afterName), limitArg(limit))
	if err != nil {
		return nil, fmt.Errorf("list secrets of vault %s: %w", vaultName, err)
	}
	return vs, nil
}

func (s *Store) ListSecretVersions(ctx context.Context, vaultName, name string, afterSeq int64, limit int) ([]store.SecretVersion, error) {
	vs, err := list(ctx, s, scanSecretVersion(vaultName), `SELECT `+secretVersionColumns+versionsJoin+`
		WHERE s.vault_key = $1 AND s.name_key = $2 AND s.deleted_at IS NULL AND sv.seq > $3 ORDER BY sv.seq LIMIT $4`,
		column.Key(vaultName), column.Key(name), afterSeq, limitArg(limit))
	if err != nil {
		return nil, fmt.Errorf("list versions of secret %s in vault %s: %w", name, vaultName, err)
	}
	return vs, nil
}

func (s *Store) UpdateSecretVersion(ctx context.Context, v store.SecretVersion) error {
	tags, err := column.Tags(v.Tags)
	if err != nil {
		return fmt.Errorf("update secret %s/%s: %w", v.Name, v.Version, err)
	}
	err = s.execOne(ctx, `UPDATE secret_versions SET content_type = $1, tags = $2, enabled = $3, not_before = $4,
		expires = $5, updated_at = $6
		WHERE vault_key = $7 AND name_key = $8 AND version = $9 AND EXISTS (SELECT 1 FROM secrets s
			WHERE s.vault_key = secret_versions.vault_key AND s.name_key = secret_versions.name_key AND s.deleted_at IS NULL)`,
		v.ContentType, tags, v.Enabled, nullTime(v.NotBefore), nullTime(v.Expires), v.Updated,
		column.Key(v.VaultName), column.Key(v.Name), column.Key(v.Version))
	if err != nil {
		return fmt.Errorf("update secret %s/%s in vault %s: %w", v.Name, v.Version, v.VaultName, err)
	}
	return nil
}

// markSecret sets a secret's deletion columns (set, whose values are $3 and $4 of args after the
// vault and name keys) where cond holds, then reads the secret back as cols with scan.
// ErrNotFound when no secret matched.
func markSecret[T any](ctx context.Context, s *Store, vaultName, name, set, cond string, setArgs []any, cols string, scan func(scanner) (T, error)) (T, error) {
	keys := []any{column.Key(vaultName), column.Key(name)}
	var v T
	err := s.inTx(ctx, func(tx Tx) error {
		if err := affected(tx.Exec(ctx, `UPDATE secrets SET `+set+` WHERE vault_key = $1 AND name_key = $2 AND `+cond,
			append(keys, setArgs...)...)); err != nil {
			return err
		}
		var err error
		v, err = scan(tx.QueryRow(ctx, `SELECT `+cols+latestJoin+` WHERE s.vault_key = $1 AND s.name_key = $2`, keys...))
		return err
	})
	return v, err
}

func (s *Store) DeleteSecret(ctx context.Context, vaultName, name string, deletedAt, purgeAt time.Time) (store.DeletedSecret, error) {
	d, err := markSecret(ctx, s, vaultName, name, `deleted_at = $3, purge_at = $4`, `deleted_at IS NULL`,
		[]any{deletedAt, purgeAt}, deletedSecretColumns, scanDeletedSecret(vaultName))
	if err != nil {
		return store.DeletedSecret{}, fmt.Errorf("delete secret %s in vault %s: %w", name, vaultName, err)
	}
	return d, nil
}

func (s *Store) RecoverSecret(ctx context.Context, vaultName, name string) (store.SecretVersion, error) {
	v, err := markSecret(ctx, s, vaultName, name, `deleted_at = NULL, purge_at = NULL`, `deleted_at IS NOT NULL`,
		nil, secretVersionColumns, scanSecretVersion(vaultName))
	if err != nil {
		return store.SecretVersion{}, fmt.Errorf("recover secret %s in vault %s: %w", name, vaultName, err)
	}
	return v, nil
}

func (s *Store) GetDeletedSecret(ctx context.Context, vaultName, name string) (store.DeletedSecret, error) {
	d, err := get(ctx, s, scanDeletedSecret(vaultName), `SELECT `+deletedSecretColumns+latestJoin+`
		WHERE s.vault_key = $1 AND s.name_key = $2 AND s.deleted_at IS NOT NULL`, column.Key(vaultName), column.Key(name))
	if err != nil {
		return store.DeletedSecret{}, fmt.Errorf("get deleted secret %s in vault %s: %w", name, vaultName, err)
	}
	return d, nil
}

func (s *Store) ListDeletedSecrets(ctx context.Context, vaultName, afterName string, limit int) ([]store.DeletedSecret, error) {
	ds, err := list(ctx, s, scanDeletedSecret(vaultName), `SELECT `+deletedSecretColumns+latestJoin+`
		WHERE s.vault_key = $1 AND s.deleted_at IS NOT NULL AND s.name_key > $2 ORDER BY s.name_key LIMIT $3`,
		column.Key(vaultName), column.Key(afterName), limitArg(limit))
	if err != nil {
		return nil, fmt.Errorf("list deleted secrets of vault %s: %w", vaultName, err)
	}
	return ds, nil
}

func (s *Store) PurgeSecret(ctx context.Context, vaultName, name string) error {
	err := s.execOne(ctx, `DELETE FROM secrets WHERE vault_key = $1 AND name_key = $2 AND deleted_at IS NOT NULL`,
		column.Key(vaultName), column.Key(name))
	if err != nil {
		return fmt.Errorf("purge secret %s in vault %s: %w", name, vaultName, err)
	}
	return nil
}

func (s *Store) PurgeDeletedSecrets(ctx context.Context, now time.Time) (int, error) {
	n, err := s.exec(ctx, `DELETE FROM secrets WHERE deleted_at IS NOT NULL AND purge_at <= $1`, now)
	if err != nil {
		return 0, fmt.Errorf("purge deleted secrets: %w", err)
	}
	return int(n), nil
}

func (s *Store) RestoreSecret(ctx context.Context, vaultName string, versions []store.SecretVersion) error {
	if len(versions) == 0 {
		return fmt.Errorf("restore secret in vault %s: no versions", vaultName)
	}
	name := versions[0].Name
	vaultKey, nameKey := column.Key(vaultName), column.Key(name)
	err := s.inTx(ctx, func(tx Tx) error {
		// The primary key makes an existing secret, deleted or not, a conflict.
		if _, err := tx.Exec(ctx, `INSERT INTO secrets (vault_key, name_key, name, last_seq) VALUES ($1, $2, $3, $4)`,
			vaultKey, nameKey, name, len(versions)); err != nil {
			return err
		}
		for i, v := range versions {
			if column.Key(v.Name) != nameKey {
				return fmt.Errorf("version %s is of secret %s, not %s", v.Version, v.Name, name)
			}
			if err := insertVersion(ctx, tx, vaultKey, nameKey, int64(i+1), v); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("restore secret %s in vault %s: %w", name, vaultName, err)
	}
	return nil
}
