package sqlstore

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/mint-id/mint/internal/store"
	"github.com/mint-id/mint/internal/store/internal/column"
)

// The control plane: resource groups, resources, role definitions, role assignments and the
// activity log. Every write that touches more than one row runs in one transaction.
//
// Locks (with Dialect.RowLocks): a resource write holds its group's row FOR KEY SHARE
// (explicitly, and through the foreign key); deleting a group or a resource takes the group's
// row FOR UPDATE first, so it waits for the writes in flight in that group, sees them, and makes
// later ones wait for it. Without row locks the single writer gives the same order.

// Resource groups

const resourceGroupColumns = `subscription_id, name, location, tags, managed_by, created_at`

func scanResourceGroup(row scanner) (store.ResourceGroup, error) {
	var g store.ResourceGroup
	var tags string
	if err := row.Scan(&g.SubscriptionID, &g.Name, &g.Location, &tags, &g.ManagedBy, tm(&g.CreatedAt)); err != nil {
		return store.ResourceGroup{}, err
	}
	var err error
	g.Tags, err = column.ParseTags(tags)
	return g, err
}

// groupExists counts a resource group's row ($1 subscription key, $2 name key).
const groupExists = `SELECT COUNT(*) FROM resource_groups WHERE subscription_key = $1 AND name_key = $2`

func (s *Store) PutResourceGroup(ctx context.Context, g store.ResourceGroup) (bool, error) {
	tags, err := column.Tags(g.Tags)
	if err != nil {
		return false, fmt.Errorf("put resource group %s: %w", g.Name, err)
	}
	subKey, nameKey := column.Key(g.SubscriptionID), column.Key(g.Name)
	created, err := s.putOne(ctx, groupExists, []any{subKey, nameKey}, `INSERT INTO resource_groups (subscription_key,
		name_key, subscription_id, name, location, tags, managed_by, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
		ON CONFLICT (subscription_key, name_key) DO UPDATE SET
			location = excluded.location, tags = excluded.tags, managed_by = excluded.managed_by`,
		subKey, nameKey, g.SubscriptionID, g.Name, g.Location, tags, g.ManagedBy, g.CreatedAt)
	if err != nil {
		return false, fmt.Errorf("put resource group %s: %w", g.Name, err)
	}
	return created, nil
}

func (s *Store) GetResourceGroup(ctx context.Context, subscriptionID, name string) (store.ResourceGroup, error) {
	g, err := get(ctx, s, scanResourceGroup, `SELECT `+resourceGroupColumns+` FROM resource_groups
		WHERE subscription_key = $1 AND name_key = $2`, column.Key(subscriptionID), column.Key(name))
	if err != nil {
		return store.ResourceGroup{}, fmt.Errorf("get resource group %s in subscription %s: %w", name, subscriptionID, err)
	}
	return g, nil
}

func (s *Store) ListResourceGroups(ctx context.Context, subscriptionID string) ([]store.ResourceGroup, error) {
	gs, err := list(ctx, s, scanResourceGroup, `SELECT `+resourceGroupColumns+` FROM resource_groups
		WHERE subscription_key = $1 ORDER BY created_at, name_key`, column.Key(subscriptionID))
	if err != nil {
		return nil, fmt.Errorf("list resource groups of subscription %s: %w", subscriptionID, err)
	}
	return gs, nil
}

// lockGroup locks a resource group's row (mode "UPDATE" or "KEY SHARE"); ErrNotFound if there
// is none.
func (s *Store) lockGroup(ctx context.Context, tx Tx, subKey, nameKey, mode string) error {
	var one int
	return tx.QueryRow(ctx, `SELECT 1 FROM resource_groups WHERE subscription_key = $1 AND name_key = $2`+s.lock(mode),
		subKey, nameKey).Scan(&one)
}

func (s *Store) DeleteResourceGroup(ctx context.Context, subscriptionID, name string) ([]store.Resource, error) {
	subKey, nameKey := column.Key(subscriptionID), column.Key(name)
	groupKey := column.ResourceGroupKey(subscriptionID, name)
	lo, hi := column.Below(groupKey)
	var deleted []store.Resource
	err := s.inTx(ctx, func(tx Tx) error {
		if err := s.lockGroup(ctx, tx, subKey, nameKey, "UPDATE"); err != nil {
			return err
		}
		// The resources recorded in the group and those whose id is below it: the same set,
		// unless a caller gave a resource an id and a group that disagree.
		var err error
		deleted, err = deleteResources(ctx, tx, `(subscription_key = $1 AND resource_group_key = $2) OR (id_key >= $3 AND id_key < $4)`,
			subKey, nameKey, lo, hi)
		if err != nil {
			return err
		}
		holders, err := deleteAssignmentsAtOrBelow(ctx, tx, groupKey)
		if err != nil {
			return err
		}
		if _, err = tx.Exec(ctx, `DELETE FROM resource_groups WHERE subscription_key = $1 AND name_key = $2`, subKey, nameKey); err != nil {
			return err
		}
		revs, err := s.holderRevocations(ctx, tx, holders)
		if err != nil {
			return err
		}
		return recordRevocations(ctx, tx, append(resourceRevocations(deleted), revs...))
	})
	if err != nil {
		return nil, fmt.Errorf("delete resource group %s in subscription %s: %w", name, subscriptionID, err)
	}
	sortResources(deleted, "")
	return deleted, nil
}

// Resources

const resourceColumns = `id, subscription_id, resource_group, type, name, location, tags, properties, principal_id,
	user_assigned_identities, created_at, updated_at`

// resourceDest returns the scan destinations of resourceColumns into r, and finish decodes the
// list columns once scanned.
func resourceDest(r *store.Resource) (dest []any, finish func() error) {
	var tags, identities string
	return []any{&r.ID, &r.SubscriptionID, &r.ResourceGroup, &r.Type, &r.Name, &r.Location, &tags, &r.Properties,
			&r.PrincipalID, &identities, tm(&r.CreatedAt), tm(&r.UpdatedAt)}, func() error {
			var err error
			if r.Tags, err = column.ParseTags(tags); err != nil {
				return err
			}
			if r.UserAssignedIdentities, err = column.ParseList[string](identities); err != nil {
				return err
			}
			r.Properties = column.Bytes(r.Properties)
			return nil
		}
}

func scanResource(row scanner) (store.Resource, error) {
	var r store.Resource
	dest, finish := resourceDest(&r)
	if err := row.Scan(dest...); err != nil {
		return store.Resource{}, err
	}
	return r, finish()
}

// sortResources orders deleted resources as the store returns them: first the one whose key is
// first (if any), then by CreatedAt and id.
func sortResources(rs []store.Resource, first string) {
	slices.SortFunc(rs, func(a, b store.Resource) int {
		ak, bk := column.ScopeKey(a.ID), column.ScopeKey(b.ID)
		if (ak == first) != (bk == first) {
			if ak == first {
				return -1
			}
			return 1
		}
		if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
			return c
		}
		return cmp.Compare(ak, bk)
	})
}

// deletePrincipals deletes principals by object id in tx; their credentials, identifier URIs and
// app role assignments go with them (ON DELETE CASCADE).
func deletePrincipals(ctx context.Context, tx Tx, ids []string) error {
	// In batches: a resource group may own more principals than a statement takes parameters.
	for batch := range slices.Chunk(ids, 500) {
		var w where
		if _, err := tx.Exec(ctx, `DELETE FROM principals WHERE object_id IN `+w.in(batch), w.args...); err != nil {
			return err
		}
	}
	return nil
}

// deleteResources deletes the resources matching cond, the principals they own and (through
// ON DELETE CASCADE) their attachment rows, and returns them.
func deleteResources(ctx context.Context, tx Tx, cond string, args ...any) ([]store.Resource, error) {
	// A vault among them is kept as deleted (Key Vault's soft delete) before the cascade.
	if err := keepDeletedVaults(ctx, tx, cond, args...); err != nil {
		return nil, err
	}
	rs, err := all(ctx, tx, scanResource, `DELETE FROM resources WHERE `+cond+` RETURNING `+resourceColumns, args...)
	if err != nil {
		return nil, err
	}
	var owned []string
	for _, r := range rs {
		if r.PrincipalID != "" {
			owned = append(owned, r.PrincipalID)
		}
	}
	if err := deletePrincipals(ctx, tx, owned); err != nil {
		return nil, fmt.Errorf("owned principals: %w", err)
	}
	return rs, nil
}

// deleteAssignmentsAtOrBelow deletes the role assignments scoped at key or below it and returns
// the principals that held them (for the revocation feed: a node may have lost its broker role).
func deleteAssignmentsAtOrBelow(ctx context.Context, tx Tx, key string) ([]string, error) {
	lo, hi := column.Below(key)
	return all(ctx, tx, func(row scanner) (string, error) {
		var p string
		return p, row.Scan(&p)
	}, `DELETE FROM role_assignments WHERE scope_key = $1 OR (scope_key >= $2 AND scope_key < $3) RETURNING principal_id`, key, lo, hi)
}

func (s *Store) PutResource(ctx context.Context, r store.Resource, create []store.ServicePrincipal, deletePrincipalIDs []string) (bool, error) {
	tags, err := column.Tags(r.Tags)
	if err != nil {
		return false, fmt.Errorf("put resource %s: %w", r.ID, err)
	}
	identities, err := column.List(r.UserAssignedIdentities)
	if err != nil {
		return false, fmt.Errorf("put resource %s: %w", r.ID, err)
	}
	key := column.ScopeKey(r.ID)
	subKey, groupKey := column.Key(r.SubscriptionID), column.Key(r.ResourceGroup)
	var created bool
	err = s.putTx(ctx, &created, func(tx Tx) error {
		if err := s.lockGroup(ctx, tx, subKey, groupKey, "KEY SHARE"); err != nil {
			return fmt.Errorf("resource group %s in subscription %s: %w", r.ResourceGroup, r.SubscriptionID, s.err(ctx, err))
		}
		revs, err := s.identityRevocations(ctx, tx, key, r)
		if err != nil {
			return err
		}
		// An update keeps the resource's identity (id, name, subscription and group as first
		// written) and CreatedAt.
		created, err = s.upsert(ctx, tx, `SELECT COUNT(*) FROM resources WHERE id_key = $1`, []any{key}, `INSERT INTO resources
			(id_key, id, subscription_id, subscription_key, resource_group, resource_group_key, type, type_key, name, location,
			tags, properties, principal_id, user_assigned_identities, created_at, updated_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)
			ON CONFLICT (id_key) DO UPDATE SET type = excluded.type, type_key = excluded.type_key,
				location = excluded.location, tags = excluded.tags, properties = excluded.properties,
				principal_id = excluded.principal_id, user_assigned_identities = excluded.user_assigned_identities,
				updated_at = excluded.updated_at`,
			key, r.ID, r.SubscriptionID, subKey, r.ResourceGroup, groupKey, r.Type, column.Key(r.Type), r.Name, r.Location,
			tags, column.Bytes(r.Properties), r.PrincipalID, identities, r.CreatedAt, r.UpdatedAt)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM resource_identities WHERE resource_key = $1`, key); err != nil {
			return err
		}
		if len(r.UserAssignedIdentities) > 0 {
			var w where
			k := w.p(key)
			rows := make([]string, len(r.UserAssignedIdentities))
			for i, id := range r.UserAssignedIdentities {
				rows[i] = `(` + k + `, ` + w.p(column.ScopeKey(id)) + `)`
			}
			if _, err := tx.Exec(ctx, `INSERT INTO resource_identities (resource_key, identity_key) VALUES `+
				strings.Join(rows, `, `)+` ON CONFLICT DO NOTHING`, w.args...); err != nil {
				return err
			}
		}
		for _, sp := range create {
			if err := s.insertPrincipal(ctx, tx, sp, nil); err != nil {
				return fmt.Errorf("create principal %s: %w", sp.ObjectID, s.err(ctx, err))
			}
		}
		if err := deletePrincipals(ctx, tx, deletePrincipalIDs); err != nil {
			return fmt.Errorf("delete principals: %w", err)
		}
		return recordRevocations(ctx, tx, append(revs, principalRevocations(deletePrincipalIDs)...))
	})
	if err != nil {
		return false, fmt.Errorf("put resource %s: %w", r.ID, err)
	}
	return created, nil
}

// identityRevocations compares the stored resource (locked until the transaction ends) with its
// replacement r: a system-assigned principal removed or replaced, or a user-assigned identity
// detached, revokes the tokens issued for that pairing.
func (s *Store) identityRevocations(ctx context.Context, tx Tx, key string, r store.Resource) ([]store.Revocation, error) {
	var oldPrincipal, oldIdentities string
	err := tx.QueryRow(ctx, `SELECT principal_id, user_assigned_identities FROM resources WHERE id_key = $1`+s.lock("UPDATE"), key).
		Scan(&oldPrincipal, &oldIdentities)
	if errors.Is(s.err(ctx, err), store.ErrNotFound) {
		return nil, nil // a new resource revokes nothing
	}
	if err != nil {
		return nil, err
	}
	var revs []store.Revocation
	if oldPrincipal != "" && column.Key(oldPrincipal) != column.Key(r.PrincipalID) {
		revs = append(revs, store.Revocation{ResourceID: r.ID, PrincipalID: oldPrincipal})
	}
	old, err := column.ParseList[string](oldIdentities)
	if err != nil {
		return nil, err
	}
	for _, id := range old {
		if !slices.ContainsFunc(r.UserAssignedIdentities, func(n string) bool { return column.ScopeKey(n) == column.ScopeKey(id) }) {
			revs = append(revs, store.Revocation{ResourceID: r.ID})
			break
		}
	}
	return revs, nil
}

func (s *Store) GetResource(ctx context.Context, id string) (store.Resource, error) {
	r, err := get(ctx, s, scanResource, `SELECT `+resourceColumns+` FROM resources WHERE id_key = $1`, column.ScopeKey(id))
	if err != nil {
		return store.Resource{}, fmt.Errorf("get resource %s: %w", id, err)
	}
	return r, nil
}

func (s *Store) ListResources(ctx context.Context, f store.ResourceFilter) ([]store.Resource, error) {
	q, args, err := ListResourcesQuery(f)
	if err != nil {
		return nil, fmt.Errorf("list resources: %w", err)
	}
	rs, err := list(ctx, s, scanResource, q, args...)
	if err != nil {
		return nil, fmt.Errorf("list resources: %w", err)
	}
	return rs, nil
}

// ListResourcesQuery is ListResources' SQL and arguments (exported for the SQLite store's test
// of its query plan).
func ListResourcesQuery(f store.ResourceFilter) (string, []any, error) {
	var w where
	if f.After != "" {
		at, key, err := store.ParseResourceCursor(f.After)
		if err != nil {
			return "", nil, err
		}
		// The leading created_at >= $n bounds the index range scan; the rest is the row-value
		// comparison (created_at, id_key) > ($n, $m) spelled out.
		t := w.p(at)
		w.add(`created_at >= ` + t + ` AND (created_at > ` + t + ` OR id_key > ` + w.p(key) + `)`)
	}
	if f.SubscriptionID != "" {
		w.add(`subscription_key = ` + w.p(column.Key(f.SubscriptionID)))
	}
	if f.ResourceGroup != "" {
		w.add(`resource_group_key = ` + w.p(column.Key(f.ResourceGroup)))
	}
	if f.Type != "" {
		w.add(`type_key = ` + w.p(column.Key(f.Type)))
	}
	if key := column.ScopeKey(f.ParentID); f.ParentID != "" && key != "/" { // every resource is below the root
		lo, hi := column.Below(key)
		w.add(`id_key >= ` + w.p(lo) + ` AND id_key < ` + w.p(hi))
	}
	if f.AttachedIdentity != "" {
		w.add(`id_key IN (SELECT resource_key FROM resource_identities WHERE identity_key = ` + w.p(column.ScopeKey(f.AttachedIdentity)) + `)`)
	}
	q := `SELECT ` + resourceColumns + ` FROM resources` + w.sql() + ` ORDER BY created_at, id_key`
	if f.Limit > 0 {
		q += ` LIMIT ` + w.p(f.Limit)
	}
	return q, w.args, nil
}

func (s *Store) DeleteResource(ctx context.Context, id string) ([]store.Resource, error) {
	key := column.ScopeKey(id)
	lo, hi := column.Below(key)
	var deleted []store.Resource
	err := s.inTx(ctx, func(tx Tx) error {
		var subKey, groupKey string
		if err := tx.QueryRow(ctx, `SELECT subscription_key, resource_group_key FROM resources WHERE id_key = $1`, key).
			Scan(&subKey, &groupKey); err != nil {
			return err // no row: ErrNotFound
		}
		// Wait for the writes in flight in the group, so that a child being created is seen.
		if err := s.lockGroup(ctx, tx, subKey, groupKey, "UPDATE"); err != nil {
			return err
		}
		var err error
		deleted, err = deleteResources(ctx, tx, `id_key = $1 OR (id_key >= $2 AND id_key < $3)`, key, lo, hi)
		if err != nil {
			return err
		}
		if !slices.ContainsFunc(deleted, func(r store.Resource) bool { return column.ScopeKey(r.ID) == key }) {
			return store.ErrNotFound // deleted meanwhile; rolls back the deletion of its children
		}
		holders, err := deleteAssignmentsAtOrBelow(ctx, tx, key)
		if err != nil {
			return err
		}
		revs, err := s.holderRevocations(ctx, tx, holders)
		if err != nil {
			return err
		}
		return recordRevocations(ctx, tx, append(resourceRevocations(deleted), revs...))
	})
	if err != nil {
		return nil, fmt.Errorf("delete resource %s: %w", id, err)
	}
	sortResources(deleted, key)
	return deleted, nil
}

// Role definitions

const roleDefinitionColumns = `id, scope, role_name, description, assignable_scopes, permissions, created_at, updated_at,
	created_by, updated_by`

func scanRoleDefinition(row scanner) (store.RoleDefinition, error) {
	var d store.RoleDefinition
	var scopes string
	if err := row.Scan(&d.ID, &d.Scope, &d.RoleName, &d.Description, &scopes, &d.Permissions, tm(&d.CreatedAt), tm(&d.UpdatedAt),
		&d.CreatedBy, &d.UpdatedBy); err != nil {
		return store.RoleDefinition{}, err
	}
	var err error
	d.AssignableScopes, err = column.ParseList[string](scopes)
	d.Permissions = column.Bytes(d.Permissions)
	return d, err
}

// PutRoleDefinition creates or replaces a custom role. A replacement that changes the
// permissions names the role's holders in the revocation feed (and the applications below the
// groups among them): a node may have held the broker role through it. Whether the change took
// the broker action away is RBAC's rule, above the store, so any change of permissions counts.
func (s *Store) PutRoleDefinition(ctx context.Context, d store.RoleDefinition) (bool, error) {
	scopes, err := column.List(d.AssignableScopes)
	if err != nil {
		return false, fmt.Errorf("put role definition %s: %w", d.ID, err)
	}
	key := column.Key(d.ID)
	var created bool
	err = s.putTx(ctx, &created, func(tx Tx) error {
		// The row lock orders this change with a concurrent assignment of the role
		// (CreateRoleAssignment locks the definition FOR SHARE): either that assignment is
		// among the holders read below, or it was made after this change committed.
		var old []byte
		err := tx.QueryRow(ctx, `SELECT permissions FROM role_definitions WHERE id_key = $1`+s.lock("UPDATE"), key).Scan(&old)
		existed := err == nil
		if err != nil && !errors.Is(s.err(ctx, err), store.ErrNotFound) {
			return err
		}
		// A name another definition holds fails the unique role_name_key: ErrConflict.
		created, err = s.upsert(ctx, tx, `SELECT COUNT(*) FROM role_definitions WHERE id_key = $1`, []any{key},
			`INSERT INTO role_definitions (id_key, id, scope, role_name, role_name_key,
			description, assignable_scopes, permissions, created_at, updated_at, created_by, updated_by)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
			ON CONFLICT (id_key) DO UPDATE SET scope = excluded.scope, role_name = excluded.role_name,
				role_name_key = excluded.role_name_key, description = excluded.description,
				assignable_scopes = excluded.assignable_scopes, permissions = excluded.permissions,
				updated_at = excluded.updated_at, updated_by = excluded.updated_by`,
			key, d.ID, d.Scope, d.RoleName, column.Key(d.RoleName), d.Description, scopes, column.Bytes(d.Permissions),
			d.CreatedAt, d.UpdatedAt, d.CreatedBy, d.UpdatedBy)
		if err != nil || !existed || bytes.Equal(column.Bytes(old), column.Bytes(d.Permissions)) {
			return err
		}
		return s.recordRoleHolders(ctx, tx, key)
	})
	if err != nil {
		return false, fmt.Errorf("put role definition %s: %w", d.ID, err)
	}
	return created, nil
}

// recordRoleHolders names in the revocation feed the holders of the role definition with key
// roleKey, and the applications below the groups among them.
func (s *Store) recordRoleHolders(ctx context.Context, tx Tx, roleKey string) error {
	holders, err := all(ctx, tx, func(row scanner) (string, error) {
		var p string
		return p, row.Scan(&p)
	}, `SELECT principal_id FROM role_assignments WHERE role_key = $1`, roleKey)
	if err != nil {
		return fmt.Errorf("holders of the role: %w", err)
	}
	revs, err := s.holderRevocations(ctx, tx, holders)
	if err != nil {
		return err
	}
	return recordRevocations(ctx, tx, revs)
}

func (s *Store) GetRoleDefinition(ctx context.Context, id string) (store.RoleDefinition, error) {
	d, err := get(ctx, s, scanRoleDefinition, `SELECT `+roleDefinitionColumns+` FROM role_definitions WHERE id_key = $1`, column.Key(id))
	if err != nil {
		return store.RoleDefinition{}, fmt.Errorf("get role definition %s: %w", id, err)
	}
	return d, nil
}

func (s *Store) ListRoleDefinitions(ctx context.Context) ([]store.RoleDefinition, error) {
	ds, err := list(ctx, s, scanRoleDefinition, `SELECT `+roleDefinitionColumns+` FROM role_definitions ORDER BY created_at, id_key`)
	if err != nil {
		return nil, fmt.Errorf("list role definitions: %w", err)
	}
	return ds, nil
}

// DeleteRoleDefinition deletes a custom role. ARM refuses while the role is assigned, but an
// assignment made meanwhile may remain: its holders are named in the revocation feed, as for a
// changed role.
func (s *Store) DeleteRoleDefinition(ctx context.Context, id string) error {
	key := column.Key(id)
	err := s.inTx(ctx, func(tx Tx) error {
		if err := affected(tx.Exec(ctx, `DELETE FROM role_definitions WHERE id_key = $1`, key)); err != nil {
			return err
		}
		return s.recordRoleHolders(ctx, tx, key)
	})
	if err != nil {
		return fmt.Errorf("delete role definition %s: %w", id, err)
	}
	return nil
}

// Role assignments

const roleAssignmentColumns = `id, scope, role_definition_id, principal_id, principal_type, description, condition,
	condition_version, created_at, updated_at, created_by, updated_by`

func scanRoleAssignment(row scanner) (store.RoleAssignment, error) {
	var a store.RoleAssignment
	err := row.Scan(&a.ID, &a.Scope, &a.RoleDefinitionID, &a.PrincipalID, &a.PrincipalType, &a.Description, &a.Condition,
		&a.ConditionVersion, tm(&a.CreatedAt), tm(&a.UpdatedAt), &a.CreatedBy, &a.UpdatedBy)
	return a, err
}

func (s *Store) CreateRoleAssignment(ctx context.Context, a store.RoleAssignment) error {
	created := true // for the activity-log entry the context may carry
	err := s.putTx(ctx, &created, func(tx Tx) error {
		// An assignment inside a resource group holds the group's row, as a resource does: a
		// deletion of the group (or of a resource in it) in flight is waited for, and a group
		// deleted meanwhile is ErrNotFound, not an assignment left at a scope that is gone.
		if sub, group, ok := scopeGroup(a.Scope); ok {
			if err := s.lockGroup(ctx, tx, column.Key(sub), column.Key(group), "KEY SHARE"); err != nil {
				return fmt.Errorf("resource group %s in subscription %s: %w", group, sub, s.err(ctx, err))
			}
		}
		if s.d.RowLocks {
			// Waits for a change of the (custom) role in flight: see PutRoleDefinition.
			if _, err := all(ctx, tx, func(row scanner) (string, error) {
				var k string
				return k, row.Scan(&k)
			}, `SELECT id_key FROM role_definitions WHERE id_key = $1`+s.lock("SHARE"), column.RoleDefinitionKey(a.RoleDefinitionID)); err != nil {
				return err
			}
		}
		_, err := tx.Exec(ctx, `INSERT INTO role_assignments (id_key, id, scope, scope_key, role_definition_id,
		role_key, principal_id, principal_key, principal_type, description, condition, condition_version,
		created_at, updated_at, created_by, updated_by)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)`,
			column.Key(a.ID), a.ID, a.Scope, column.ScopeKey(a.Scope), a.RoleDefinitionID, column.RoleDefinitionKey(a.RoleDefinitionID),
			a.PrincipalID, column.Key(a.PrincipalID), a.PrincipalType, a.Description, a.Condition, a.ConditionVersion,
			a.CreatedAt, a.UpdatedAt, a.CreatedBy, a.UpdatedBy)
		return err
	})
	if err != nil {
		return fmt.Errorf("create role assignment %s: %w", a.ID, err)
	}
	return nil
}

func (s *Store) GetRoleAssignment(ctx context.Context, id string) (store.RoleAssignment, error) {
	a, err := get(ctx, s, scanRoleAssignment, `SELECT `+roleAssignmentColumns+` FROM role_assignments WHERE id_key = $1`, column.Key(id))
	if err != nil {
		return store.RoleAssignment{}, fmt.Errorf("get role assignment %s: %w", id, err)
	}
	return a, nil
}

func (s *Store) ListRoleAssignments(ctx context.Context, f store.RoleAssignmentFilter) ([]store.RoleAssignment, error) {
	var w where
	if f.After != "" {
		at, key, err := store.ParseRoleAssignmentCursor(f.After)
		if err != nil {
			return nil, fmt.Errorf("list role assignments: %w", err)
		}
		// As ListResourcesQuery: the row-value comparison (created_at, id_key) > ($n, $m) spelled
		// out, led by a bound the (created_at, id_key) index can range-scan.
		t := w.p(at)
		w.add(`created_at >= ` + t + ` AND (created_at > ` + t + ` OR id_key > ` + w.p(key) + `)`)
	}
	if f.PrincipalID != "" {
		w.add(`principal_key = ` + w.p(column.Key(f.PrincipalID)))
	}
	// Below the root is every scope, whatever AtOrAbove adds to it.
	if below := column.ScopeKey(f.Below); f.Below == "" || below != "/" {
		var scopes []string
		if f.AtOrAbove != "" {
			scopes = append(scopes, `scope_key IN `+w.in(column.ScopeAncestors(column.ScopeKey(f.AtOrAbove))))
		}
		if f.Below != "" {
			lo, hi := column.Below(below)
			scopes = append(scopes, `scope_key = `+w.p(below)+` OR (scope_key >= `+w.p(lo)+` AND scope_key < `+w.p(hi)+`)`)
		}
		if len(scopes) > 0 {
			w.add(`(` + strings.Join(scopes, ` OR `) + `)`)
		}
	}
	q := `SELECT ` + roleAssignmentColumns + ` FROM role_assignments` + w.sql() + ` ORDER BY created_at, id_key`
	if f.Limit > 0 {
		q += ` LIMIT ` + w.p(f.Limit)
	}
	as, err := list(ctx, s, scanRoleAssignment, q, w.args...)
	if err != nil {
		return nil, fmt.Errorf("list role assignments: %w", err)
	}
	return as, nil
}

func (s *Store) ListRoleAssignmentsForPrincipals(ctx context.Context, principalIDs []string) ([]store.RoleAssignment, error) {
	if len(principalIDs) == 0 {
		return nil, nil
	}
	if len(principalIDs) > store.MaxBatchIDs {
		return nil, fmt.Errorf("list role assignments of %d principals: more than %d", len(principalIDs), store.MaxBatchIDs)
	}
	var w where
	keys := make([]string, len(principalIDs))
	for i, id := range principalIDs {
		keys[i] = column.Key(id)
	}
	w.add(`principal_key IN ` + w.in(keys))
	as, err := list(ctx, s, scanRoleAssignment, `SELECT `+roleAssignmentColumns+` FROM role_assignments`+w.sql()+` ORDER BY created_at, id_key`, w.args...)
	if err != nil {
		return nil, fmt.Errorf("list role assignments of %d principals: %w", len(principalIDs), err)
	}
	return as, nil
}

func (s *Store) ListRoleAssignmentsForPrincipal(ctx context.Context, principalID string) ([]store.RoleAssignment, error) {
	as, err := list(ctx, s, scanRoleAssignment, `SELECT `+roleAssignmentColumns+` FROM role_assignments
		WHERE principal_key = $1 ORDER BY created_at, id_key`, column.Key(principalID))
	if err != nil {
		return nil, fmt.Errorf("list role assignments of principal %s: %w", principalID, err)
	}
	return as, nil
}

func (s *Store) DeleteRoleAssignment(ctx context.Context, id string) (store.RoleAssignment, error) {
	var a store.RoleAssignment
	err := s.inTx(ctx, func(tx Tx) error {
		var err error
		if a, err = scanRoleAssignment(tx.QueryRow(ctx, `DELETE FROM role_assignments WHERE id_key = $1 RETURNING `+roleAssignmentColumns, column.Key(id))); err != nil {
			return err
		}
		// The holder may be a node that has just lost its broker role, or a group of nodes.
		revs, err := s.holderRevocations(ctx, tx, []string{a.PrincipalID})
		if err != nil {
			return err
		}
		return recordRevocations(ctx, tx, revs)
	})
	if err != nil {
		return store.RoleAssignment{}, fmt.Errorf("delete role assignment %s: %w", id, err)
	}
	return a, nil
}

// Activity log

func (s *Store) AppendActivity(ctx context.Context, events ...store.ActivityEvent) error {
	if len(events) == 0 {
		return nil
	}
	if err := s.inTx(ctx, func(tx Tx) error { return appendActivity(ctx, tx, events) }); err != nil {
		return fmt.Errorf("append %d activity events: %w", len(events), err)
	}
	return nil
}

// appendActivity inserts events in tx, so that a write and its activity record can commit
// together.
func appendActivity(ctx context.Context, tx Tx, events []store.ActivityEvent) error {
	return insertRows(ctx, tx, `INSERT INTO activity (id, operation_id, correlation_id, at, subscription_id,
		subscription_key, resource_group, resource_group_key, resource_id, resource_key, resource_type, operation_name,
		status, sub_status, http_status, caller, caller_key, caller_app_id, http_method, message)`, 20, len(events),
		func(i int) []any {
			e := events[i]
			return []any{e.ID, e.OperationID, e.CorrelationID, e.Time, e.SubscriptionID,
				column.Key(e.SubscriptionID), e.ResourceGroup, column.Key(e.ResourceGroup), e.ResourceID, column.IDKey(e.ResourceID),
				e.ResourceType, e.OperationName, e.Status, e.SubStatus, e.HTTPStatus, e.Caller, column.Key(e.Caller), e.CallerAppID,
				e.HTTPMethod, e.Message}
		})
}

func (s *Store) PurgeActivity(ctx context.Context, before time.Time, limit int) (int, error) {
	n, err := s.purgeBatch(ctx, "activity", before, limit)
	if err != nil {
		return 0, fmt.Errorf("purge activity before %s: %w", before.UTC().Format(time.RFC3339), err)
	}
	return n, nil
}

const activityColumns = `id, operation_id, correlation_id, at, subscription_id, resource_group, resource_id, resource_type,
	operation_name, status, sub_status, http_status, caller, caller_app_id, http_method, message`

func scanActivity(row scanner) (store.ActivityEvent, error) {
	var e store.ActivityEvent
	err := row.Scan(&e.ID, &e.OperationID, &e.CorrelationID, tm(&e.Time), &e.SubscriptionID, &e.ResourceGroup, &e.ResourceID,
		&e.ResourceType, &e.OperationName, &e.Status, &e.SubStatus, &e.HTTPStatus, &e.Caller, &e.CallerAppID,
		&e.HTTPMethod, &e.Message)
	return e, err
}

func (s *Store) ListActivity(ctx context.Context, f store.ActivityFilter) ([]store.ActivityEvent, error) {
	var w where
	if f.SubscriptionID != "" {
		w.add(`subscription_key = ` + w.p(column.Key(f.SubscriptionID)))
	}
	if f.ResourceGroup != "" {
		w.add(`resource_group_key = ` + w.p(column.Key(f.ResourceGroup)))
	}
	if key := column.ScopeKey(f.ResourceID); f.ResourceID != "" && key != "/" {
		lo, hi := column.Below(key)
		w.add(`(resource_key = ` + w.p(key) + ` OR (resource_key >= ` + w.p(lo) + ` AND resource_key < ` + w.p(hi) + `))`)
	}
	if f.Caller != "" {
		w.add(`caller_key = ` + w.p(column.Key(f.Caller)))
	}
	if !f.Since.IsZero() {
		w.add(`at >= ` + w.p(f.Since))
	}
	if !f.Until.IsZero() {
		w.add(`at < ` + w.p(f.Until))
	}
	q := `SELECT ` + activityColumns + ` FROM activity` + w.sql() + ` ORDER BY at DESC, id LIMIT ` + w.p(column.ActivityLimit(f.Limit))
	es, err := list(ctx, s, scanActivity, q, w.args...)
	if err != nil {
		return nil, fmt.Errorf("list activity: %w", err)
	}
	return es, nil
}

// scopeGroup returns the subscription and resource group of a scope inside a resource group
// ("/subscriptions/{s}/resourceGroups/{g}[/...]"), with ok false for any other scope.
func scopeGroup(scope string) (subscriptionID, resourceGroup string, ok bool) {
	parts := strings.Split(scope, "/")
	if len(parts) < 5 || parts[0] != "" || !strings.EqualFold(parts[1], "subscriptions") || parts[2] == "" ||
		!strings.EqualFold(parts[3], "resourceGroups") || parts[4] == "" {
		return "", "", false
	}
	return parts[2], parts[4], true
}
