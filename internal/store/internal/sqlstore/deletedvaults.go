package sqlstore

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/mint-id/mint/internal/store"
	"github.com/mint-id/mint/internal/store/internal/column"
)

// Key Vault's soft delete of whole vaults. deleteResources keeps every vault among the resources
// it deletes in deleted_vaults (before the cascade removes the vault and its secrets), with its
// secrets as JSON; RecoverVault writes them back.

// defaultVaultRetentionDays is Key Vault's retention when a vault's properties name none.
const defaultVaultRetentionDays = 90

// keptSecret is one secret row of a deleted vault, with its versions.
type keptSecret struct {
	NameKey   string        `json:"nameKey"`
	Name      string        `json:"name"`
	LastSeq   int64         `json:"lastSeq"`
	DeletedAt *time.Time    `json:"deletedAt,omitempty"`
	PurgeAt   *time.Time    `json:"purgeAt,omitempty"`
	Versions  []keptVersion `json:"versions"`
}

type keptVersion struct {
	Version     string     `json:"version"`
	Seq         int64      `json:"seq"`
	Value       []byte     `json:"value"`
	ContentType string     `json:"contentType"`
	Tags        string     `json:"tags"`
	Enabled     bool       `json:"enabled"`
	NotBefore   *time.Time `json:"notBefore,omitempty"`
	Expires     *time.Time `json:"expires,omitempty"`
	Created     time.Time  `json:"created"`
	Updated     time.Time  `json:"updated"`
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

func ptrTime(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return *t
}

// keepDeletedVaults copies the vaults of the resources matching cond (a condition on resources'
// columns) into deleted_vaults, with their secrets; the caller then deletes the resources.
func keepDeletedVaults(ctx context.Context, tx Tx, cond string, args ...any) error {
	type vaultRow struct {
		nameKey, name, resourceID string
		dataKey                   []byte
		created                   time.Time
		r                         store.Resource
	}
	vaults, err := all(ctx, tx, func(row scanner) (vaultRow, error) {
		var v vaultRow
		dest, finish := resourceDest(&v.r)
		if err := row.Scan(append([]any{&v.nameKey, &v.name, &v.resourceID, &v.dataKey, tm(&v.created)}, dest...)...); err != nil {
			return v, err
		}
		v.dataKey = column.Bytes(v.dataKey)
		return v, finish()
	}, `SELECT v.name_key, v.name, v.resource_id, v.data_key, v.created_at, `+qualify("r", resourceColumns)+`
		FROM vaults v JOIN resources r ON r.id_key = v.resource_key
		WHERE v.resource_key IN (SELECT id_key FROM resources WHERE `+cond+`)`, args...)
	if err != nil {
		return fmt.Errorf("read the deleted vaults: %w", err)
	}
	now := time.Now().UTC().Truncate(time.Microsecond)
	for _, v := range vaults {
		secrets, err := readKeptSecrets(ctx, tx, v.nameKey)
		if err != nil {
			return fmt.Errorf("keep vault %s: %w", v.name, err)
		}
		blob, err := json.Marshal(secrets)
		if err != nil {
			return err
		}
		tags, err := column.Tags(v.r.Tags)
		if err != nil {
			return err
		}
		props := v.r.Properties
		if len(props) == 0 {
			props = []byte("{}")
		}
		// The retention is the vault's softDeleteRetentionInDays (7 to 90), which the control
		// plane validated when it wrote the properties.
		var retention struct {
			Days int `json:"softDeleteRetentionInDays"`
		}
		_ = json.Unmarshal(props, &retention)
		if retention.Days <= 0 {
			retention.Days = defaultVaultRetentionDays
		}
		if _, err := tx.Exec(ctx, `INSERT INTO deleted_vaults (name_key, name, resource_id, subscription_key, location, tags,
			properties, data_key, vault_created_at, secrets, deleted_at, purge_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
			v.nameKey, v.name, v.r.ID, column.Key(v.r.SubscriptionID), v.r.Location, tags, props, v.dataKey, v.created, blob,
			now, now.Add(time.Duration(retention.Days)*24*time.Hour)); err != nil {
			return fmt.Errorf("keep vault %s: %w", v.name, err)
		}
	}
	return nil
}

func readKeptSecrets(ctx context.Context, tx Tx, vaultKey string) ([]keptSecret, error) {
	secrets, err := all(ctx, tx, func(row scanner) (keptSecret, error) {
		var k keptSecret
		var deleted, purge time.Time
		err := row.Scan(&k.NameKey, &k.Name, &k.LastSeq, tm(&deleted), tm(&purge))
		k.DeletedAt, k.PurgeAt = timePtr(deleted), timePtr(purge)
		return k, err
	}, `SELECT name_key, name, last_seq, deleted_at, purge_at FROM secrets WHERE vault_key = $1 ORDER BY name_key`, vaultKey)
	if err != nil {
		return nil, err
	}
	type versionRow struct {
		nameKey string
		v       keptVersion
	}
	versions, err := all(ctx, tx, func(row scanner) (versionRow, error) {
		var r versionRow
		var nbf, exp time.Time
		err := row.Scan(&r.nameKey, &r.v.Version, &r.v.Seq, &r.v.Value, &r.v.ContentType, &r.v.Tags, &r.v.Enabled,
			tm(&nbf), tm(&exp), tm(&r.v.Created), tm(&r.v.Updated))
		r.v.NotBefore, r.v.Expires = timePtr(nbf), timePtr(exp)
		r.v.Value = column.Bytes(r.v.Value)
		return r, err
	}, `SELECT name_key, version, seq, value, content_type, tags, enabled, not_before, expires, created_at, updated_at
		FROM secret_versions WHERE vault_key = $1 ORDER BY name_key, seq`, vaultKey)
	if err != nil {
		return nil, err
	}
	byName := map[string]int{}
	for i, s := range secrets {
		byName[s.NameKey] = i
	}
	for _, r := range versions {
		if i, ok := byName[r.nameKey]; ok {
			secrets[i].Versions = append(secrets[i].Versions, r.v)
		}
	}
	if secrets == nil {
		secrets = []keptSecret{}
	}
	return secrets, nil
}

const deletedVaultColumns = `name, resource_id, location, tags, properties, deleted_at, purge_at`

func scanDeletedVault(row scanner) (store.DeletedVault, error) {
	var d store.DeletedVault
	var tags string
	if err := row.Scan(&d.Name, &d.ResourceID, &d.Location, &tags, &d.Properties, tm(&d.DeletedAt), tm(&d.PurgeAt)); err != nil {
		return d, err
	}
	d.Properties = column.Bytes(d.Properties)
	var err error
	if d.Tags, err = column.ParseTags(tags); err != nil {
		return d, err
	}
	if id, err := parseSubscription(d.ResourceID); err == nil {
		d.SubscriptionID = id
	}
	return d, nil
}

// parseSubscription is the subscription id of a resource id (/subscriptions/{id}/...).
func parseSubscription(resourceID string) (string, error) {
	const prefix = "/subscriptions/"
	if len(resourceID) <= len(prefix) || column.Key(resourceID[:len(prefix)]) != prefix {
		return "", fmt.Errorf("resource id %q names no subscription", resourceID)
	}
	rest := resourceID[len(prefix):]
	for i := 0; i < len(rest); i++ {
		if rest[i] == '/' {
			return rest[:i], nil
		}
	}
	return rest, nil
}

func (s *Store) GetDeletedVault(ctx context.Context, name string) (store.DeletedVault, error) {
	d, err := get(ctx, s, scanDeletedVault, `SELECT `+deletedVaultColumns+` FROM deleted_vaults WHERE name_key = $1`, column.Key(name))
	if err != nil {
		return store.DeletedVault{}, fmt.Errorf("get deleted vault %s: %w", name, err)
	}
	return d, nil
}

func (s *Store) ListDeletedVaults(ctx context.Context, subscriptionID string) ([]store.DeletedVault, error) {
	ds, err := list(ctx, s, scanDeletedVault, `SELECT `+deletedVaultColumns+` FROM deleted_vaults WHERE subscription_key = $1 ORDER BY name_key`,
		column.Key(subscriptionID))
	if err != nil {
		return nil, fmt.Errorf("list deleted vaults of subscription %s: %w", subscriptionID, err)
	}
	return ds, nil
}

func (s *Store) PurgeDeletedVault(ctx context.Context, name string) error {
	if err := s.execOne(ctx, `DELETE FROM deleted_vaults WHERE name_key = $1`, column.Key(name)); err != nil {
		return fmt.Errorf("purge deleted vault %s: %w", name, err)
	}
	return nil
}

func (s *Store) PurgeDeletedVaults(ctx context.Context, now time.Time) (int, error) {
	n, err := s.exec(ctx, `DELETE FROM deleted_vaults WHERE purge_at <= $1`, now)
	if err != nil {
		return 0, fmt.Errorf("purge deleted vaults: %w", err)
	}
	return int(n), nil
}

func (s *Store) RecoverVault(ctx context.Context, r store.Resource) (store.Vault, error) {
	nameKey := column.Key(r.Name)
	var v store.Vault
	err := s.inTx(ctx, func(tx Tx) error {
		var blob []byte
		if err := tx.QueryRow(ctx, `DELETE FROM deleted_vaults WHERE name_key = $1 RETURNING name, data_key, vault_created_at, secrets`,
			nameKey).Scan(&v.Name, &v.DataKey, tm(&v.CreatedAt), &blob); err != nil {
			return err // no row: ErrNotFound
		}
		v.DataKey = column.Bytes(v.DataKey)
		var secrets []keptSecret
		if err := json.Unmarshal(blob, &secrets); err != nil {
			return fmt.Errorf("the kept secrets: %w", err)
		}
		if err := s.insertResource(ctx, tx, r); err != nil {
			return err
		}
		v.ResourceID = r.ID
		if _, err := tx.Exec(ctx, `INSERT INTO vaults (name_key, name, resource_key, resource_id, data_key, created_at)
			VALUES ($1, $2, $3, $4, $5, $6)`, nameKey, v.Name, column.ScopeKey(r.ID), r.ID, v.DataKey, v.CreatedAt); err != nil {
			return err
		}
		for _, sec := range secrets {
			if _, err := tx.Exec(ctx, `INSERT INTO secrets (vault_key, name_key, name, last_seq, deleted_at, purge_at)
				VALUES ($1, $2, $3, $4, $5, $6)`, nameKey, sec.NameKey, sec.Name, sec.LastSeq,
				nullTime(ptrTime(sec.DeletedAt)), nullTime(ptrTime(sec.PurgeAt))); err != nil {
				return err
			}
			for _, ver := range sec.Versions {
				if _, err := tx.Exec(ctx, `INSERT INTO secret_versions (vault_key, name_key, version, seq, value, content_type, tags,
					enabled, not_before, expires, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
					nameKey, sec.NameKey, ver.Version, ver.Seq, ver.Value, ver.ContentType, ver.Tags, ver.Enabled,
					nullTime(ptrTime(ver.NotBefore)), nullTime(ptrTime(ver.Expires)), ver.Created, ver.Updated); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		return store.Vault{}, fmt.Errorf("recover vault %s: %w", r.Name, err)
	}
	return v, nil
}

// insertResource creates a resource without identities (a recovered vault's) in tx: ErrConflict
// when the id is taken, ErrNotFound when its resource group does not exist.
func (s *Store) insertResource(ctx context.Context, tx Tx, r store.Resource) error {
	tags, err := column.Tags(r.Tags)
	if err != nil {
		return err
	}
	subKey, groupKey := column.Key(r.SubscriptionID), column.Key(r.ResourceGroup)
	if err := s.lockGroup(ctx, tx, subKey, groupKey, "KEY SHARE"); err != nil {
		return fmt.Errorf("resource group %s in subscription %s: %w", r.ResourceGroup, r.SubscriptionID, s.err(ctx, err))
	}
	_, err = tx.Exec(ctx, `INSERT INTO resources (id_key, id, subscription_id, subscription_key, resource_group,
		resource_group_key, type, type_key, name, location, tags, properties, principal_id, user_assigned_identities, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)`,
		column.ScopeKey(r.ID), r.ID, r.SubscriptionID, subKey, r.ResourceGroup, groupKey, r.Type, column.Key(r.Type), r.Name,
		r.Location, tags, column.Bytes(r.Properties), "", "[]", r.CreatedAt, r.UpdatedAt)
	return err
}
