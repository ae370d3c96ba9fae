package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"time"
	"weak"

	"github.com/mint-id/mint/internal/store"
	"github.com/mint-id/mint/internal/store/internal/column"
)

// The Key Vault data plane: vaults and their secrets. Writes that read before they write (the
// next version's seq, a restore's existence check) run in one transaction of the single writer.

// qualify prefixes each column of a comma-separated list with a table alias.
func qualify(alias, cols string) string {
	parts := strings.Split(cols, ",")
	for i, p := range parts {
		parts[i] = alias + "." + strings.TrimSpace(p)
	}
	return strings.Join(parts, ", ")
}

// nullMicros stores a time that may be absent: NULL for the zero time.
func nullMicros(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return column.Micros(t)
}

func fromNullMicros(v sql.NullInt64) time.Time {
	if !v.Valid {
		return time.Time{}
	}
	return column.FromMicros(v.Int64)
}

var vaultColumns = `v.name, v.resource_id, v.data_key, v.created_at, ` + qualify("r", resourceColumns)

func scanVault(row scanner) (store.Vault, error) {
	var v store.Vault
	var created int64
	var r store.Resource
	var tags, identities string
	var rCreated, rUpdated int64
	if err := row.Scan(&v.Name, &v.ResourceID, &v.DataKey, &created,
		&r.ID, &r.SubscriptionID, &r.ResourceGroup, &r.Type, &r.Name, &r.Location, &tags, &r.Properties,
		&r.PrincipalID, &identities, &rCreated, &rUpdated); err != nil {
		return store.Vault{}, err
	}
	var err error
	if r.Tags, err = column.ParseTags(tags); err != nil {
		return store.Vault{}, err
	}
	if r.UserAssignedIdentities, err = column.ParseStrings(identities); err != nil {
		return store.Vault{}, err
	}
	r.Properties = column.Bytes(r.Properties)
	r.CreatedAt, r.UpdatedAt = column.FromMicros(rCreated), column.FromMicros(rUpdated)
	v.DataKey = column.Bytes(v.DataKey)
	v.CreatedAt = column.FromMicros(created)
	v.Resource = r
	return v, nil
}

func (s *Store) CreateVault(ctx context.Context, v store.Vault) error {
	_, err := s.write.ExecContext(ctx, `INSERT INTO vaults (name_key, name, resource_key, resource_id, data_key, created_at)
		VALUES (?, ?, ?, ?, ?, ?)`,
		column.Key(v.Name), v.Name, column.ScopeKey(v.ResourceID), v.ResourceID, v.DataKey, column.Micros(v.CreatedAt))
	if err != nil {
		return fmt.Errorf("create vault %s: %w", v.Name, dbErr(ctx, err))
	}
	return nil
}

// hotStatements are the reads the vault data plane makes on every request, prepared once per
// Store: otherwise SQLite parses and plans the statement on every call, which is most of the
// cost of a secret read. They live as long as the Store (a weak key, dropped by a cleanup).
type hotStatements struct {
	vault, latest, version *sql.Stmt
}

var hotByStore sync.Map // weak.Pointer[Store] → *hotStatements

func (s *Store) hot(ctx context.Context) (*hotStatements, error) {
	key := weak.Make(s)
	if h, ok := hotByStore.Load(key); ok {
		return h.(*hotStatements), nil
	}
	var h hotStatements
	var err error
	for _, p := range []struct {
		stmt **sql.Stmt
		sql  string
	}{
		{&h.vault, `SELECT ` + vaultColumns + ` FROM vaults v JOIN resources r ON r.id_key = v.resource_key WHERE v.name_key = ?`},
		{&h.latest, `SELECT ` + secretVersionColumns + latestJoin + ` WHERE s.vault_key = ? AND s.name_key = ? AND s.deleted_at IS NULL`},
		{&h.version, `SELECT ` + secretVersionColumns + ` FROM secrets s JOIN secret_versions sv
			ON sv.vault_key = s.vault_key AND sv.name_key = s.name_key
			WHERE s.vault_key = ? AND s.name_key = ? AND s.deleted_at IS NULL AND sv.version = ?`},
	} {
		if *p.stmt, err = s.read.PrepareContext(ctx, p.sql); err != nil {
			return nil, err
		}
	}
	if prev, loaded := hotByStore.LoadOrStore(key, &h); loaded {
		h.vault.Close()
		h.latest.Close()
		h.version.Close()
		return prev.(*hotStatements), nil
	}
	runtime.AddCleanup(s, func(k weak.Pointer[Store]) { hotByStore.Delete(k) }, key)
	return &h, nil
}

func (s *Store) GetVault(ctx context.Context, name string) (store.Vault, error) {
	h, err := s.hot(ctx)
	if err != nil {
		return store.Vault{}, fmt.Errorf("get vault %s: %w", name, dbErr(ctx, err))
	}
	v, err := scanVault(h.vault.QueryRowContext(ctx, column.Key(name)))
	if err != nil {
		return store.Vault{}, fmt.Errorf("get vault %s: %w", name, dbErr(ctx, err))
	}
	return v, nil
}

// Secrets

const secretVersionColumns = `s.name, sv.version, sv.seq, sv.value, sv.content_type, sv.tags, sv.enabled, sv.not_before,
	sv.expires, sv.created_at, sv.updated_at`

// latestJoin joins each secret to its latest version.
const latestJoin = ` FROM secrets s JOIN secret_versions sv
	ON sv.vault_key = s.vault_key AND sv.name_key = s.name_key AND sv.seq = s.last_seq`

func scanSecretVersion(vaultName string) func(row scanner) (store.SecretVersion, error) {
	return func(row scanner) (store.SecretVersion, error) {
		v := store.SecretVersion{VaultName: vaultName}
		var tags string
		var enabled int64
		var nbf, exp sql.NullInt64
		var created, updated int64
		if err := row.Scan(&v.Name, &v.Version, &v.Seq, &v.Value, &v.ContentType, &tags, &enabled, &nbf, &exp, &created, &updated); err != nil {
			return store.SecretVersion{}, err
		}
		var err error
		if v.Tags, err = parseSecretTags(tags); err != nil {
			return store.SecretVersion{}, err
		}
		v.Value = column.Bytes(v.Value)
		v.Enabled = enabled != 0
		v.NotBefore, v.Expires = fromNullMicros(nbf), fromNullMicros(exp)
		v.Created, v.Updated = column.FromMicros(created), column.FromMicros(updated)
		return v, nil
	}
}

func scanDeletedSecret(vaultName string) func(row scanner) (store.DeletedSecret, error) {
	return func(row scanner) (store.DeletedSecret, error) {
		var d store.DeletedSecret
		var tags string
		var enabled int64
		var nbf, exp sql.NullInt64
		var created, updated, deleted, purge int64
		d.VaultName = vaultName
		if err := row.Scan(&d.Name, &d.Version, &d.Seq, &d.Value, &d.ContentType, &tags, &enabled, &nbf, &exp, &created, &updated,
			&deleted, &purge); err != nil {
			return store.DeletedSecret{}, err
		}
		var err error
		if d.Tags, err = parseSecretTags(tags); err != nil {
			return store.DeletedSecret{}, err
		}
		d.Value = column.Bytes(d.Value)
		d.Enabled = enabled != 0
		d.NotBefore, d.Expires = fromNullMicros(nbf), fromNullMicros(exp)
		d.Created, d.Updated = column.FromMicros(created), column.FromMicros(updated)
		d.DeletedAt, d.PurgeAt = column.FromMicros(deleted), column.FromMicros(purge)
		return d, nil
	}
}

func boolInt(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

// insertVersion writes one version row with the given seq.
func insertVersion(ctx context.Context, tx *sql.Tx, vaultKey, nameKey string, seq int64, v store.SecretVersion) error {
	tags, err := column.Tags(v.Tags)
	if err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO secret_versions (vault_key, name_key, version, seq, value, content_type, tags,
		enabled, not_before, expires, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		vaultKey, nameKey, column.Key(v.Version), seq, v.Value, v.ContentType, tags, boolInt(v.Enabled),
		nullMicros(v.NotBefore), nullMicros(v.Expires), column.Micros(v.Created), column.Micros(v.Updated))
	return err
}

func (s *Store) PutSecretVersion(ctx context.Context, v store.SecretVersion) (store.SecretVersion, error) {
	vaultKey, nameKey := column.Key(v.VaultName), column.Key(v.Name)
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		// The upsert takes the next seq of a live secret; a deleted one updates nothing and
		// returns no row.
		err := tx.QueryRowContext(ctx, `INSERT INTO secrets (vault_key, name_key, name, last_seq) VALUES (?, ?, ?, 1)
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
	h, err := s.hot(ctx)
	if err != nil {
		return store.SecretVersion{}, fmt.Errorf("get secret %s/%s in vault %s: %w", name, version, vaultName, dbErr(ctx, err))
	}
	var row *sql.Row
	if version == "" {
		row = h.latest.QueryRowContext(ctx, column.Key(vaultName), column.Key(name))
	} else {
		row = h.version.QueryRowContext(ctx, column.Key(vaultName), column.Key(name), column.Key(version))
	}
	v, err := scanSecretVersion(vaultName)(row)
	if err != nil {
		return store.SecretVersion{}, fmt.Errorf("get secret %s/%s in vault %s: %w", name, version, vaultName, dbErr(ctx, err))
	}
	return v, nil
}

// limitArg turns a limit (<= 0: all) into SQLite's LIMIT value (-1: no limit).
func limitArg(limit int) int {
	if limit <= 0 {
		return -1
	}
	return limit
}

func (s *Store) ListSecrets(ctx context.Context, vaultName, afterName string, limit int) ([]store.SecretVersion, error) {
	vs, err := queryAll(ctx, s.read, scanSecretVersion(vaultName), `SELECT `+secretVersionColumns+latestJoin+`
		WHERE s.vault_key = ? AND s.deleted_at IS NULL AND s.name_key > ? ORDER BY s.name_key LIMIT ?`,
		column.Key(vaultName), column.Key(afterName), limitArg(limit))
	if err != nil {
		return nil, fmt.Errorf("list secrets of vault %s: %w", vaultName, dbErr(ctx, err))
	}
	return vs, nil
}

func (s *Store) ListSecretVersions(ctx context.Context, vaultName, name string, afterSeq int64, limit int) ([]store.SecretVersion, error) {
	vs, err := queryAll(ctx, s.read, scanSecretVersion(vaultName), `SELECT `+secretVersionColumns+` FROM secrets s
		JOIN secret_versions sv ON sv.vault_key = s.vault_key AND sv.name_key = s.name_key
		WHERE s.vault_key = ? AND s.name_key = ? AND s.deleted_at IS NULL AND sv.seq > ? ORDER BY sv.seq LIMIT ?`,
		column.Key(vaultName), column.Key(name), afterSeq, limitArg(limit))
	if err != nil {
		return nil, fmt.Errorf("list versions of secret %s in vault %s: %w", name, vaultName, dbErr(ctx, err))
	}
	return vs, nil
}

func (s *Store) UpdateSecretVersion(ctx context.Context, v store.SecretVersion) error {
	tags, err := column.Tags(v.Tags)
	if err != nil {
		return fmt.Errorf("update secret %s/%s: %w", v.Name, v.Version, err)
	}
	res, err := s.write.ExecContext(ctx, `UPDATE secret_versions SET content_type = ?, tags = ?, enabled = ?, not_before = ?,
		expires = ?, updated_at = ?
		WHERE vault_key = ? AND name_key = ? AND version = ? AND EXISTS (SELECT 1 FROM secrets s
			WHERE s.vault_key = secret_versions.vault_key AND s.name_key = secret_versions.name_key AND s.deleted_at IS NULL)`,
		v.ContentType, tags, boolInt(v.Enabled), nullMicros(v.NotBefore), nullMicros(v.Expires), column.Micros(v.Updated),
		column.Key(v.VaultName), column.Key(v.Name), column.Key(v.Version))
	if err == nil {
		err = mustAffect(res)
	}
	if err != nil {
		return fmt.Errorf("update secret %s/%s in vault %s: %w", v.Name, v.Version, v.VaultName, dbErr(ctx, err))
	}
	return nil
}

const deletedSecretColumns = secretVersionColumns + `, s.deleted_at, s.purge_at`

func (s *Store) DeleteSecret(ctx context.Context, vaultName, name string, deletedAt, purgeAt time.Time) (store.DeletedSecret, error) {
	vaultKey, nameKey := column.Key(vaultName), column.Key(name)
	var d store.DeletedSecret
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE secrets SET deleted_at = ?, purge_at = ?
			WHERE vault_key = ? AND name_key = ? AND deleted_at IS NULL`,
			column.Micros(deletedAt), column.Micros(purgeAt), vaultKey, nameKey)
		if err != nil {
			return err
		}
		if err := mustAffect(res); err != nil {
			return err
		}
		d, err = scanDeletedSecret(vaultName)(tx.QueryRowContext(ctx, `SELECT `+deletedSecretColumns+latestJoin+`
			WHERE s.vault_key = ? AND s.name_key = ?`, vaultKey, nameKey))
		return err
	})
	if err != nil {
		return store.DeletedSecret{}, fmt.Errorf("delete secret %s in vault %s: %w", name, vaultName, err)
	}
	return d, nil
}

func (s *Store) GetDeletedSecret(ctx context.Context, vaultName, name string) (store.DeletedSecret, error) {
	d, err := scanDeletedSecret(vaultName)(s.queryRow(ctx, `SELECT `+deletedSecretColumns+latestJoin+`
		WHERE s.vault_key = ? AND s.name_key = ? AND s.deleted_at IS NOT NULL`, column.Key(vaultName), column.Key(name)))
	if err != nil {
		return store.DeletedSecret{}, fmt.Errorf("get deleted secret %s in vault %s: %w", name, vaultName, dbErr(ctx, err))
	}
	return d, nil
}

func (s *Store) ListDeletedSecrets(ctx context.Context, vaultName, afterName string, limit int) ([]store.DeletedSecret, error) {
	ds, err := queryAll(ctx, s.read, scanDeletedSecret(vaultName), `SELECT `+deletedSecretColumns+latestJoin+`
		WHERE s.vault_key = ? AND s.deleted_at IS NOT NULL AND s.name_key > ? ORDER BY s.name_key LIMIT ?`,
		column.Key(vaultName), column.Key(afterName), limitArg(limit))
	if err != nil {
		return nil, fmt.Errorf("list deleted secrets of vault %s: %w", vaultName, dbErr(ctx, err))
	}
	return ds, nil
}

func (s *Store) RecoverSecret(ctx context.Context, vaultName, name string) (store.SecretVersion, error) {
	vaultKey, nameKey := column.Key(vaultName), column.Key(name)
	var v store.SecretVersion
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE secrets SET deleted_at = NULL, purge_at = NULL
			WHERE vault_key = ? AND name_key = ? AND deleted_at IS NOT NULL`, vaultKey, nameKey)
		if err != nil {
			return err
		}
		if err := mustAffect(res); err != nil {
			return err
		}
		v, err = scanSecretVersion(vaultName)(tx.QueryRowContext(ctx, `SELECT `+secretVersionColumns+latestJoin+`
			WHERE s.vault_key = ? AND s.name_key = ?`, vaultKey, nameKey))
		return err
	})
	if err != nil {
		return store.SecretVersion{}, fmt.Errorf("recover secret %s in vault %s: %w", name, vaultName, err)
	}
	return v, nil
}

func (s *Store) PurgeSecret(ctx context.Context, vaultName, name string) error {
	res, err := s.write.ExecContext(ctx, `DELETE FROM secrets WHERE vault_key = ? AND name_key = ? AND deleted_at IS NOT NULL`,
		column.Key(vaultName), column.Key(name))
	if err == nil {
		err = mustAffect(res)
	}
	if err != nil {
		return fmt.Errorf("purge secret %s in vault %s: %w", name, vaultName, dbErr(ctx, err))
	}
	return nil
}

func (s *Store) PurgeDeletedSecrets(ctx context.Context, now time.Time) (int, error) {
	res, err := s.write.ExecContext(ctx, `DELETE FROM secrets WHERE deleted_at IS NOT NULL AND purge_at <= ?`, column.Micros(now))
	if err != nil {
		return 0, fmt.Errorf("purge deleted secrets: %w", dbErr(ctx, err))
	}
	n, err := res.RowsAffected()
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
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		// The primary key makes an existing secret, deleted or not, a conflict.
		if _, err := tx.ExecContext(ctx, `INSERT INTO secrets (vault_key, name_key, name, last_seq) VALUES (?, ?, ?, ?)`,
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

// parseSecretTags is column.ParseTags without decoding the common "{}" (a secret read is on the
// data plane's hot path).
func parseSecretTags(s string) (map[string]string, error) {
	if s == "{}" {
		return nil, nil
	}
	return column.ParseTags(s)
}
