package sqlite

import (
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"

	"github.com/mint-id/mint/internal/store"
	"github.com/mint-id/mint/internal/store/internal/column"
)

// The control plane: resource groups, resources, role definitions, role assignments and the
// activity log. Every write that touches more than one row runs in one transaction of the single
// writer, so a read-then-write inside it (the created flags) sees no interleaved write.

type queryer interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// queryAll reads every row of a query; none is nil. Errors are the driver's.
func queryAll[T any](ctx context.Context, q queryer, scan func(scanner) (T, error), query string, args ...any) ([]T, error) {
	rows, err := q.QueryContext(ctx, query, args...)
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

// placeholders returns "?, ?, ..." for n values.
func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?, ", n), ", ")
}

// Resource groups

const resourceGroupColumns = `subscription_id, name, location, tags, managed_by, created_at`

func scanResourceGroup(row scanner) (store.ResourceGroup, error) {
	var g store.ResourceGroup
	var tags string
	var createdAt int64
	if err := row.Scan(&g.SubscriptionID, &g.Name, &g.Location, &tags, &g.ManagedBy, &createdAt); err != nil {
		return store.ResourceGroup{}, err
	}
	var err error
	if g.Tags, err = column.ParseTags(tags); err != nil {
		return store.ResourceGroup{}, err
	}
	g.CreatedAt = column.FromMicros(createdAt)
	return g, nil
}

func (s *Store) PutResourceGroup(ctx context.Context, g store.ResourceGroup) (bool, error) {
	tags, err := column.Tags(g.Tags)
	if err != nil {
		return false, fmt.Errorf("put resource group %s: %w", g.Name, err)
	}
	subKey, nameKey := column.Key(g.SubscriptionID), column.Key(g.Name)
	var created bool
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM resource_groups WHERE subscription_key = ? AND name_key = ?`,
			subKey, nameKey).Scan(&n); err != nil {
			return err
		}
		created = n == 0
		_, err := tx.ExecContext(ctx, `INSERT INTO resource_groups (subscription_key, name_key, subscription_id, name,
			location, tags, managed_by, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (subscription_key, name_key) DO UPDATE SET
				location = excluded.location, tags = excluded.tags, managed_by = excluded.managed_by`,
			subKey, nameKey, g.SubscriptionID, g.Name, g.Location, tags, g.ManagedBy, column.Micros(g.CreatedAt))
		return err
	})
	if err != nil {
		return false, fmt.Errorf("put resource group %s: %w", g.Name, err)
	}
	return created, nil
}

func (s *Store) GetResourceGroup(ctx context.Context, subscriptionID, name string) (store.ResourceGroup, error) {
	g, err := scanResourceGroup(s.queryRow(ctx, `SELECT `+resourceGroupColumns+` FROM resource_groups
		WHERE subscription_key = ? AND name_key = ?`, column.Key(subscriptionID), column.Key(name)))
	if err != nil {
		return store.ResourceGroup{}, fmt.Errorf("get resource group %s in subscription %s: %w", name, subscriptionID, dbErr(ctx, err))
	}
	return g, nil
}

func (s *Store) ListResourceGroups(ctx context.Context, subscriptionID string) ([]store.ResourceGroup, error) {
	gs, err := queryAll(ctx, s.read, scanResourceGroup, `SELECT `+resourceGroupColumns+` FROM resource_groups
		WHERE subscription_key = ? ORDER BY created_at, name_key`, column.Key(subscriptionID))
	if err != nil {
		return nil, fmt.Errorf("list resource groups of subscription %s: %w", subscriptionID, dbErr(ctx, err))
	}
	return gs, nil
}

func (s *Store) DeleteResourceGroup(ctx context.Context, subscriptionID, name string) ([]store.Resource, error) {
	subKey, nameKey := column.Key(subscriptionID), column.Key(name)
	groupKey := column.ResourceGroupKey(subscriptionID, name)
	lo, hi := column.Below(groupKey)
	var deleted []store.Resource
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM resource_groups WHERE subscription_key = ? AND name_key = ?`,
			subKey, nameKey).Scan(&n); err != nil {
			return err
		}
		if n == 0 {
			return store.ErrNotFound
		}
		// The resources recorded in the group and those whose id is below it: the same set,
		// unless a caller gave a resource an id and a group that disagree.
		var err error
		deleted, err = deleteResources(ctx, tx, `(subscription_key = ? AND resource_group_key = ?) OR (id_key >= ? AND id_key < ?)`,
			subKey, nameKey, lo, hi)
		if err != nil {
			return err
		}
		if err := deleteAssignmentsAtOrBelow(ctx, tx, groupKey); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `DELETE FROM resource_groups WHERE subscription_key = ? AND name_key = ?`, subKey, nameKey)
		return err
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

func scanResource(row scanner) (store.Resource, error) {
	var r store.Resource
	var tags, identities string
	var createdAt, updatedAt int64
	if err := row.Scan(&r.ID, &r.SubscriptionID, &r.ResourceGroup, &r.Type, &r.Name, &r.Location, &tags, &r.Properties,
		&r.PrincipalID, &identities, &createdAt, &updatedAt); err != nil {
		return store.Resource{}, err
	}
	var err error
	if r.Tags, err = column.ParseTags(tags); err != nil {
		return store.Resource{}, err
	}
	if r.UserAssignedIdentities, err = column.ParseStrings(identities); err != nil {
		return store.Resource{}, err
	}
	r.Properties = column.Bytes(r.Properties)
	r.CreatedAt, r.UpdatedAt = column.FromMicros(createdAt), column.FromMicros(updatedAt)
	return r, nil
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

// deleteResources deletes the resources matching where, the principals they own and (through
// ON DELETE CASCADE) their attachment rows, and returns them.
func deleteResources(ctx context.Context, tx *sql.Tx, where string, args ...any) ([]store.Resource, error) {
	rs, err := queryAll(ctx, tx, scanResource, `DELETE FROM resources WHERE `+where+` RETURNING `+resourceColumns, args...)
	if err != nil {
		return nil, err
	}
	for _, r := range rs {
		if r.PrincipalID == "" {
			continue
		}
		// Credentials, identifier URIs and app role assignments go with it (ON DELETE CASCADE).
		if _, err := tx.ExecContext(ctx, `DELETE FROM principals WHERE object_id = ?`, r.PrincipalID); err != nil {
			return nil, fmt.Errorf("principal %s of %s: %w", r.PrincipalID, r.ID, err)
		}
	}
	return rs, nil
}

// deleteAssignmentsAtOrBelow deletes the role assignments scoped at key or below it.
func deleteAssignmentsAtOrBelow(ctx context.Context, tx *sql.Tx, key string) error {
	lo, hi := column.Below(key)
	_, err := tx.ExecContext(ctx, `DELETE FROM role_assignments WHERE scope_key = ? OR (scope_key >= ? AND scope_key < ?)`, key, lo, hi)
	return err
}

func (s *Store) PutResource(ctx context.Context, r store.Resource, create []store.ServicePrincipal, deletePrincipals []string) (bool, error) {
	tags, err := column.Tags(r.Tags)
	if err != nil {
		return false, fmt.Errorf("put resource %s: %w", r.ID, err)
	}
	identities, err := column.Strings(r.UserAssignedIdentities)
	if err != nil {
		return false, fmt.Errorf("put resource %s: %w", r.ID, err)
	}
	key := column.ScopeKey(r.ID)
	subKey, groupKey := column.Key(r.SubscriptionID), column.Key(r.ResourceGroup)
	var created bool
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM resource_groups WHERE subscription_key = ? AND name_key = ?`,
			subKey, groupKey).Scan(&n); err != nil {
			return err
		}
		if n == 0 {
			return fmt.Errorf("resource group %s in subscription %s: %w", r.ResourceGroup, r.SubscriptionID, store.ErrNotFound)
		}
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM resources WHERE id_key = ?`, key).Scan(&n); err != nil {
			return err
		}
		created = n == 0
		// An update keeps the resource's identity (id, name, subscription and group as first
		// written) and CreatedAt.
		if _, err := tx.ExecContext(ctx, `INSERT INTO resources (id_key, id, subscription_id, subscription_key,
			resource_group, resource_group_key, type, type_key, name, location, tags, properties, principal_id,
			user_assigned_identities, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (id_key) DO UPDATE SET type = excluded.type, type_key = excluded.type_key,
				location = excluded.location, tags = excluded.tags, properties = excluded.properties,
				principal_id = excluded.principal_id, user_assigned_identities = excluded.user_assigned_identities,
				updated_at = excluded.updated_at`,
			key, r.ID, r.SubscriptionID, subKey, r.ResourceGroup, groupKey, r.Type, column.Key(r.Type), r.Name, r.Location,
			tags, column.Bytes(r.Properties), r.PrincipalID, identities, column.Micros(r.CreatedAt), column.Micros(r.UpdatedAt)); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM resource_identities WHERE resource_key = ?`, key); err != nil {
			return err
		}
		for _, id := range r.UserAssignedIdentities {
			if _, err := tx.ExecContext(ctx, `INSERT INTO resource_identities (resource_key, identity_key) VALUES (?, ?)
				ON CONFLICT DO NOTHING`, key, column.ScopeKey(id)); err != nil {
				return err
			}
		}
		for _, sp := range create {
			if err := insertPrincipal(ctx, tx, sp, nil); err != nil {
				return fmt.Errorf("create principal %s: %w", sp.ObjectID, dbErr(ctx, err))
			}
		}
		for _, id := range deletePrincipals {
			if _, err := tx.ExecContext(ctx, `DELETE FROM principals WHERE object_id = ?`, id); err != nil {
				return fmt.Errorf("delete principal %s: %w", id, err)
			}
		}
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("put resource %s: %w", r.ID, err)
	}
	return created, nil
}

func (s *Store) GetResource(ctx context.Context, id string) (store.Resource, error) {
	r, err := scanResource(s.queryRow(ctx, `SELECT `+resourceColumns+` FROM resources WHERE id_key = ?`, column.ScopeKey(id)))
	if err != nil {
		return store.Resource{}, fmt.Errorf("get resource %s: %w", id, dbErr(ctx, err))
	}
	return r, nil
}

func (s *Store) ListResources(ctx context.Context, f store.ResourceFilter) ([]store.Resource, error) {
	q, args, err := listResourcesQuery(f)
	if err != nil {
		return nil, fmt.Errorf("list resources: %w", err)
	}
	rs, err := queryAll(ctx, s.read, scanResource, q, args...)
	if err != nil {
		return nil, fmt.Errorf("list resources: %w", dbErr(ctx, err))
	}
	return rs, nil
}

// listResourcesQuery is ListResources' SQL and arguments.
func listResourcesQuery(f store.ResourceFilter) (string, []any, error) {
	var where []string
	var args []any
	if f.After != "" {
		at, key, err := store.ParseResourceCursor(f.After)
		if err != nil {
			return "", nil, err
		}
		// The leading created_at >= ? bounds the index range scan; the rest is the row-value
		// comparison (created_at, id_key) > (?, ?) spelled out.
		us := column.Micros(at)
		where = append(where, `created_at >= ? AND (created_at > ? OR id_key > ?)`)
		args = append(args, us, us, key)
	}
	if f.SubscriptionID != "" {
		where = append(where, `subscription_key = ?`)
		args = append(args, column.Key(f.SubscriptionID))
	}
	if f.ResourceGroup != "" {
		where = append(where, `resource_group_key = ?`)
		args = append(args, column.Key(f.ResourceGroup))
	}
	if f.Type != "" {
		where = append(where, `type_key = ?`)
		args = append(args, column.Key(f.Type))
	}
	if key := column.ScopeKey(f.ParentID); f.ParentID != "" && key != "/" { // every resource is below the root
		lo, hi := column.Below(key)
		where = append(where, `id_key >= ? AND id_key < ?`)
		args = append(args, lo, hi)
	}
	if f.AttachedIdentity != "" {
		where = append(where, `id_key IN (SELECT resource_key FROM resource_identities WHERE identity_key = ?)`)
		args = append(args, column.ScopeKey(f.AttachedIdentity))
	}
	q := `SELECT ` + resourceColumns + ` FROM resources`
	if len(where) > 0 {
		q += ` WHERE ` + strings.Join(where, ` AND `)
	}
	q += ` ORDER BY created_at, id_key`
	if f.Limit > 0 {
		q += ` LIMIT ?`
		args = append(args, f.Limit)
	}
	return q, args, nil
}

func (s *Store) DeleteResource(ctx context.Context, id string) ([]store.Resource, error) {
	key := column.ScopeKey(id)
	lo, hi := column.Below(key)
	var deleted []store.Resource
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		var err error
		deleted, err = deleteResources(ctx, tx, `id_key = ? OR (id_key >= ? AND id_key < ?)`, key, lo, hi)
		if err != nil {
			return err
		}
		if !slices.ContainsFunc(deleted, func(r store.Resource) bool { return column.ScopeKey(r.ID) == key }) {
			return store.ErrNotFound // rolls back the deletion of children without a parent
		}
		return deleteAssignmentsAtOrBelow(ctx, tx, key)
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
	var createdAt, updatedAt int64
	if err := row.Scan(&d.ID, &d.Scope, &d.RoleName, &d.Description, &scopes, &d.Permissions, &createdAt, &updatedAt,
		&d.CreatedBy, &d.UpdatedBy); err != nil {
		return store.RoleDefinition{}, err
	}
	var err error
	if d.AssignableScopes, err = column.ParseStrings(scopes); err != nil {
		return store.RoleDefinition{}, err
	}
	d.Permissions = column.Bytes(d.Permissions)
	d.CreatedAt, d.UpdatedAt = column.FromMicros(createdAt), column.FromMicros(updatedAt)
	return d, nil
}

func (s *Store) PutRoleDefinition(ctx context.Context, d store.RoleDefinition) (bool, error) {
	scopes, err := column.Strings(d.AssignableScopes)
	if err != nil {
		return false, fmt.Errorf("put role definition %s: %w", d.ID, err)
	}
	key := column.Key(d.ID)
	var created bool
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM role_definitions WHERE id_key = ?`, key).Scan(&n); err != nil {
			return err
		}
		created = n == 0
		// A name another definition holds fails the unique role_name_key: ErrConflict.
		_, err := tx.ExecContext(ctx, `INSERT INTO role_definitions (id_key, id, scope, role_name, role_name_key,
			description, assignable_scopes, permissions, created_at, updated_at, created_by, updated_by)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (id_key) DO UPDATE SET scope = excluded.scope, role_name = excluded.role_name,
				role_name_key = excluded.role_name_key, description = excluded.description,
				assignable_scopes = excluded.assignable_scopes, permissions = excluded.permissions,
				updated_at = excluded.updated_at, updated_by = excluded.updated_by`,
			key, d.ID, d.Scope, d.RoleName, column.Key(d.RoleName), d.Description, scopes, column.Bytes(d.Permissions),
			column.Micros(d.CreatedAt), column.Micros(d.UpdatedAt), d.CreatedBy, d.UpdatedBy)
		return err
	})
	if err != nil {
		return false, fmt.Errorf("put role definition %s: %w", d.ID, err)
	}
	return created, nil
}

func (s *Store) GetRoleDefinition(ctx context.Context, id string) (store.RoleDefinition, error) {
	d, err := scanRoleDefinition(s.queryRow(ctx, `SELECT `+roleDefinitionColumns+` FROM role_definitions WHERE id_key = ?`, column.Key(id)))
	if err != nil {
		return store.RoleDefinition{}, fmt.Errorf("get role definition %s: %w", id, dbErr(ctx, err))
	}
	return d, nil
}

func (s *Store) ListRoleDefinitions(ctx context.Context) ([]store.RoleDefinition, error) {
	ds, err := queryAll(ctx, s.read, scanRoleDefinition, `SELECT `+roleDefinitionColumns+` FROM role_definitions ORDER BY created_at, id_key`)
	if err != nil {
		return nil, fmt.Errorf("list role definitions: %w", dbErr(ctx, err))
	}
	return ds, nil
}

func (s *Store) DeleteRoleDefinition(ctx context.Context, id string) error {
	res, err := s.write.ExecContext(ctx, `DELETE FROM role_definitions WHERE id_key = ?`, column.Key(id))
	if err == nil {
		err = mustAffect(res)
	}
	if err != nil {
		return fmt.Errorf("delete role definition %s: %w", id, dbErr(ctx, err))
	}
	return nil
}

// Role assignments

const roleAssignmentColumns = `id, scope, role_definition_id, principal_id, principal_type, description, condition,
	condition_version, created_at, updated_at, created_by, updated_by`

func scanRoleAssignment(row scanner) (store.RoleAssignment, error) {
	var a store.RoleAssignment
	var createdAt, updatedAt int64
	if err := row.Scan(&a.ID, &a.Scope, &a.RoleDefinitionID, &a.PrincipalID, &a.PrincipalType, &a.Description, &a.Condition,
		&a.ConditionVersion, &createdAt, &updatedAt, &a.CreatedBy, &a.UpdatedBy); err != nil {
		return store.RoleAssignment{}, err
	}
	a.CreatedAt, a.UpdatedAt = column.FromMicros(createdAt), column.FromMicros(updatedAt)
	return a, nil
}

func (s *Store) CreateRoleAssignment(ctx context.Context, a store.RoleAssignment) error {
	_, err := s.write.ExecContext(ctx, `INSERT INTO role_assignments (id_key, id, scope, scope_key, role_definition_id,
		role_key, principal_id, principal_key, principal_type, description, condition, condition_version,
		created_at, updated_at, created_by, updated_by)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		column.Key(a.ID), a.ID, a.Scope, column.ScopeKey(a.Scope), a.RoleDefinitionID, column.RoleDefinitionKey(a.RoleDefinitionID),
		a.PrincipalID, column.Key(a.PrincipalID), a.PrincipalType, a.Description, a.Condition, a.ConditionVersion,
		column.Micros(a.CreatedAt), column.Micros(a.UpdatedAt), a.CreatedBy, a.UpdatedBy)
	if err != nil {
		return fmt.Errorf("create role assignment %s: %w", a.ID, dbErr(ctx, err))
	}
	return nil
}

func (s *Store) GetRoleAssignment(ctx context.Context, id string) (store.RoleAssignment, error) {
	a, err := scanRoleAssignment(s.queryRow(ctx, `SELECT `+roleAssignmentColumns+` FROM role_assignments WHERE id_key = ?`, column.Key(id)))
	if err != nil {
		return store.RoleAssignment{}, fmt.Errorf("get role assignment %s: %w", id, dbErr(ctx, err))
	}
	return a, nil
}

func (s *Store) ListRoleAssignments(ctx context.Context, f store.RoleAssignmentFilter) ([]store.RoleAssignment, error) {
	var where []string
	var args []any
	if f.PrincipalID != "" {
		where = append(where, `principal_key = ?`)
		args = append(args, column.Key(f.PrincipalID))
	}
	// Below the root is every scope, whatever AtOrAbove adds to it.
	if below := column.ScopeKey(f.Below); f.Below == "" || below != "/" {
		var scopes []string
		if f.AtOrAbove != "" {
			keys := column.ScopeAncestors(column.ScopeKey(f.AtOrAbove))
			scopes = append(scopes, `scope_key IN (`+placeholders(len(keys))+`)`)
			for _, k := range keys {
				args = append(args, k)
			}
		}
		if f.Below != "" {
			lo, hi := column.Below(below)
			scopes = append(scopes, `scope_key = ? OR (scope_key >= ? AND scope_key < ?)`)
			args = append(args, below, lo, hi)
		}
		if len(scopes) > 0 {
			where = append(where, `(`+strings.Join(scopes, ` OR `)+`)`)
		}
	}
	q := `SELECT ` + roleAssignmentColumns + ` FROM role_assignments`
	if len(where) > 0 {
		q += ` WHERE ` + strings.Join(where, ` AND `)
	}
	q += ` ORDER BY created_at, id_key`
	as, err := queryAll(ctx, s.read, scanRoleAssignment, q, args...)
	if err != nil {
		return nil, fmt.Errorf("list role assignments: %w", dbErr(ctx, err))
	}
	return as, nil
}

func (s *Store) ListRoleAssignmentsForPrincipal(ctx context.Context, principalID string) ([]store.RoleAssignment, error) {
	as, err := queryAll(ctx, s.read, scanRoleAssignment, `SELECT `+roleAssignmentColumns+` FROM role_assignments
		WHERE principal_key = ? ORDER BY created_at, id_key`, column.Key(principalID))
	if err != nil {
		return nil, fmt.Errorf("list role assignments of principal %s: %w", principalID, dbErr(ctx, err))
	}
	return as, nil
}

func (s *Store) DeleteRoleAssignment(ctx context.Context, id string) (store.RoleAssignment, error) {
	a, err := scanRoleAssignment(s.write.QueryRowContext(ctx, `DELETE FROM role_assignments WHERE id_key = ? RETURNING `+roleAssignmentColumns, column.Key(id)))
	if err != nil {
		return store.RoleAssignment{}, fmt.Errorf("delete role assignment %s: %w", id, dbErr(ctx, err))
	}
	return a, nil
}

// Activity log

func (s *Store) AppendActivity(ctx context.Context, events ...store.ActivityEvent) error {
	if len(events) == 0 {
		return nil
	}
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		stmt, err := tx.PrepareContext(ctx, `INSERT INTO activity (id, operation_id, correlation_id, at, subscription_id,
			subscription_key, resource_group, resource_group_key, resource_id, resource_key, resource_type, operation_name,
			status, sub_status, http_status, caller, caller_key, caller_app_id, http_method, message)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
		if err != nil {
			return err
		}
		defer stmt.Close()
		for _, e := range events {
			if _, err := stmt.ExecContext(ctx, e.ID, e.OperationID, e.CorrelationID, column.Micros(e.Time), e.SubscriptionID,
				column.Key(e.SubscriptionID), e.ResourceGroup, column.Key(e.ResourceGroup), e.ResourceID, column.IDKey(e.ResourceID),
				e.ResourceType, e.OperationName, e.Status, e.SubStatus, e.HTTPStatus, e.Caller, column.Key(e.Caller), e.CallerAppID,
				e.HTTPMethod, e.Message); err != nil {
				return fmt.Errorf("event %s: %w", e.ID, dbErr(ctx, err))
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("append %d activity events: %w", len(events), err)
	}
	return nil
}

const activityColumns = `id, operation_id, correlation_id, at, subscription_id, resource_group, resource_id, resource_type,
	operation_name, status, sub_status, http_status, caller, caller_app_id, http_method, message`

func scanActivity(row scanner) (store.ActivityEvent, error) {
	var e store.ActivityEvent
	var at int64
	if err := row.Scan(&e.ID, &e.OperationID, &e.CorrelationID, &at, &e.SubscriptionID, &e.ResourceGroup, &e.ResourceID,
		&e.ResourceType, &e.OperationName, &e.Status, &e.SubStatus, &e.HTTPStatus, &e.Caller, &e.CallerAppID,
		&e.HTTPMethod, &e.Message); err != nil {
		return store.ActivityEvent{}, err
	}
	e.Time = column.FromMicros(at)
	return e, nil
}

func (s *Store) ListActivity(ctx context.Context, f store.ActivityFilter) ([]store.ActivityEvent, error) {
	var where []string
	var args []any
	if f.SubscriptionID != "" {
		where = append(where, `subscription_key = ?`)
		args = append(args, column.Key(f.SubscriptionID))
	}
	if f.ResourceGroup != "" {
		where = append(where, `resource_group_key = ?`)
		args = append(args, column.Key(f.ResourceGroup))
	}
	if key := column.ScopeKey(f.ResourceID); f.ResourceID != "" && key != "/" {
		lo, hi := column.Below(key)
		where = append(where, `(resource_key = ? OR (resource_key >= ? AND resource_key < ?))`)
		args = append(args, key, lo, hi)
	}
	if f.Caller != "" {
		where = append(where, `caller_key = ?`)
		args = append(args, column.Key(f.Caller))
	}
	if !f.Since.IsZero() {
		where = append(where, `at >= ?`)
		args = append(args, column.Micros(f.Since))
	}
	if !f.Until.IsZero() {
		where = append(where, `at < ?`)
		args = append(args, column.Micros(f.Until))
	}
	q := `SELECT ` + activityColumns + ` FROM activity`
	if len(where) > 0 {
		q += ` WHERE ` + strings.Join(where, ` AND `)
	}
	q += ` ORDER BY at DESC, id LIMIT ?`
	args = append(args, column.ActivityLimit(f.Limit))
	es, err := queryAll(ctx, s.read, scanActivity, q, args...)
	if err != nil {
		return nil, fmt.Errorf("list activity: %w", dbErr(ctx, err))
	}
	return es, nil
}
