package postgres

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/mint-id/mint/internal/store"
	"github.com/mint-id/mint/internal/store/internal/column"
)

// The control plane: resource groups, resources, role definitions, role assignments and the
// activity log. Upserts report creation with RETURNING (xmax = 0), true only for the row version
// an INSERT wrote, so that of concurrent puts of one new key exactly one is told it created it.
//
// Locks: a resource write holds its group's row FOR KEY SHARE (explicitly, and through the
// foreign key); deleting a group or a resource takes the group's row FOR UPDATE first, so it
// waits for the writes in flight in that group, sees them, and makes later ones wait for it.

// txAll reads every row of a query in tx; none is nil. Errors are the driver's.
func txAll[T any](ctx context.Context, tx pgx.Tx, scan func(pgx.Row) (T, error), sql string, args ...any) ([]T, error) {
	rows, err := tx.Query(ctx, sql, args...)
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

// where collects conditions and their numbered parameters.
type where struct {
	conds []string
	args  []any
}

// p adds a parameter and returns its placeholder.
func (w *where) p(v any) string {
	w.args = append(w.args, v)
	return "$" + strconv.Itoa(len(w.args))
}

func (w *where) add(cond string) { w.conds = append(w.conds, cond) }

func (w *where) sql() string {
	if len(w.conds) == 0 {
		return ""
	}
	return ` WHERE ` + strings.Join(w.conds, ` AND `)
}

// Resource groups

const resourceGroupColumns = `subscription_id, name, location, tags, managed_by, created_at`

func scanResourceGroup(row pgx.Row) (store.ResourceGroup, error) {
	var g store.ResourceGroup
	var tags string
	if err := row.Scan(&g.SubscriptionID, &g.Name, &g.Location, &tags, &g.ManagedBy, &g.CreatedAt); err != nil {
		return store.ResourceGroup{}, err
	}
	var err error
	if g.Tags, err = column.ParseTags(tags); err != nil {
		return store.ResourceGroup{}, err
	}
	g.CreatedAt = column.Time(g.CreatedAt)
	return g, nil
}

func scanBool(row pgx.Row) (bool, error) {
	var b bool
	err := row.Scan(&b)
	return b, err
}

func (s *Store) PutResourceGroup(ctx context.Context, g store.ResourceGroup) (bool, error) {
	tags, err := column.Tags(g.Tags)
	if err != nil {
		return false, fmt.Errorf("put resource group %s: %w", g.Name, err)
	}
	created, err := get(ctx, s, scanBool, `INSERT INTO resource_groups (subscription_key, name_key, subscription_id, name,
		location, tags, managed_by, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
		ON CONFLICT (subscription_key, name_key) DO UPDATE SET
			location = EXCLUDED.location, tags = EXCLUDED.tags, managed_by = EXCLUDED.managed_by
		RETURNING (xmax = 0)`,
		column.Key(g.SubscriptionID), column.Key(g.Name), g.SubscriptionID, g.Name, g.Location, tags, g.ManagedBy, column.Time(g.CreatedAt))
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

// lockGroup locks a resource group's row; ErrNotFound if there is none.
func lockGroup(ctx context.Context, tx pgx.Tx, subKey, nameKey, mode string) error {
	var one int
	err := tx.QueryRow(ctx, `SELECT 1 FROM resource_groups WHERE subscription_key = $1 AND name_key = $2 FOR `+mode,
		subKey, nameKey).Scan(&one)
	if errors.Is(err, pgx.ErrNoRows) {
		return store.ErrNotFound
	}
	return err
}

func (s *Store) DeleteResourceGroup(ctx context.Context, subscriptionID, name string) ([]store.Resource, error) {
	subKey, nameKey := column.Key(subscriptionID), column.Key(name)
	groupKey := column.ResourceGroupKey(subscriptionID, name)
	lo, hi := column.Below(groupKey)
	var deleted []store.Resource
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		if err := lockGroup(ctx, tx, subKey, nameKey, "UPDATE"); err != nil {
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
		if err := deleteAssignmentsAtOrBelow(ctx, tx, groupKey); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `DELETE FROM resource_groups WHERE subscription_key = $1 AND name_key = $2`, subKey, nameKey)
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

func scanResource(row pgx.Row) (store.Resource, error) {
	var r store.Resource
	var tags, identities string
	if err := row.Scan(&r.ID, &r.SubscriptionID, &r.ResourceGroup, &r.Type, &r.Name, &r.Location, &tags, &r.Properties,
		&r.PrincipalID, &identities, &r.CreatedAt, &r.UpdatedAt); err != nil {
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
	r.CreatedAt, r.UpdatedAt = column.Time(r.CreatedAt), column.Time(r.UpdatedAt)
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
func deleteResources(ctx context.Context, tx pgx.Tx, where string, args ...any) ([]store.Resource, error) {
	rs, err := txAll(ctx, tx, scanResource, `DELETE FROM resources WHERE `+where+` RETURNING `+resourceColumns, args...)
	if err != nil {
		return nil, err
	}
	var owned []string
	for _, r := range rs {
		if r.PrincipalID != "" {
			owned = append(owned, r.PrincipalID)
		}
	}
	if len(owned) > 0 {
		// Credentials, identifier URIs and app role assignments go with them (ON DELETE CASCADE).
		if _, err := tx.Exec(ctx, `DELETE FROM principals WHERE object_id = ANY($1)`, owned); err != nil {
			return nil, fmt.Errorf("owned principals: %w", err)
		}
	}
	return rs, nil
}

// deleteAssignmentsAtOrBelow deletes the role assignments scoped at key or below it.
func deleteAssignmentsAtOrBelow(ctx context.Context, tx pgx.Tx, key string) error {
	lo, hi := column.Below(key)
	_, err := tx.Exec(ctx, `DELETE FROM role_assignments WHERE scope_key = $1 OR (scope_key >= $2 AND scope_key < $3)`, key, lo, hi)
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
	attached := make([]string, len(r.UserAssignedIdentities))
	for i, id := range r.UserAssignedIdentities {
		attached[i] = column.ScopeKey(id)
	}
	var created bool
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		if err := lockGroup(ctx, tx, subKey, groupKey, "KEY SHARE"); err != nil {
			return fmt.Errorf("resource group %s in subscription %s: %w", r.ResourceGroup, r.SubscriptionID, err)
		}
		// An update keeps the resource's identity (id, name, subscription and group as first
		// written) and CreatedAt.
		if err := tx.QueryRow(ctx, `INSERT INTO resources (id_key, id, subscription_id, subscription_key,
			resource_group, resource_group_key, type, type_key, name, location, tags, properties, principal_id,
			user_assigned_identities, created_at, updated_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)
			ON CONFLICT (id_key) DO UPDATE SET type = EXCLUDED.type, type_key = EXCLUDED.type_key,
				location = EXCLUDED.location, tags = EXCLUDED.tags, properties = EXCLUDED.properties,
				principal_id = EXCLUDED.principal_id, user_assigned_identities = EXCLUDED.user_assigned_identities,
				updated_at = EXCLUDED.updated_at
			RETURNING (xmax = 0)`,
			key, r.ID, r.SubscriptionID, subKey, r.ResourceGroup, groupKey, r.Type, column.Key(r.Type), r.Name, r.Location,
			tags, column.Bytes(r.Properties), r.PrincipalID, identities, column.Time(r.CreatedAt), column.Time(r.UpdatedAt)).Scan(&created); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM resource_identities WHERE resource_key = $1`, key); err != nil {
			return err
		}
		if len(attached) > 0 {
			if _, err := tx.Exec(ctx, `INSERT INTO resource_identities (resource_key, identity_key)
				SELECT $1, unnest($2::text[]) ON CONFLICT DO NOTHING`, key, attached); err != nil {
				return err
			}
		}
		for _, sp := range create {
			if err := insertPrincipal(ctx, tx, sp, nil); err != nil {
				return fmt.Errorf("create principal %s: %w", sp.ObjectID, dbErr(ctx, err))
			}
		}
		if len(deletePrincipals) > 0 {
			if _, err := tx.Exec(ctx, `DELETE FROM principals WHERE object_id = ANY($1)`, deletePrincipals); err != nil {
				return fmt.Errorf("delete principals: %w", err)
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
	r, err := get(ctx, s, scanResource, `SELECT `+resourceColumns+` FROM resources WHERE id_key = $1`, column.ScopeKey(id))
	if err != nil {
		return store.Resource{}, fmt.Errorf("get resource %s: %w", id, err)
	}
	return r, nil
}

func (s *Store) ListResources(ctx context.Context, f store.ResourceFilter) ([]store.Resource, error) {
	var w where
	if f.After != "" {
		at, key, err := store.ParseResourceCursor(f.After)
		if err != nil {
			return nil, fmt.Errorf("list resources: %w", err)
		}
		w.add(`(created_at, id_key) > (` + w.p(at) + `, ` + w.p(key) + `)`)
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
	rs, err := list(ctx, s, scanResource, q, w.args...)
	if err != nil {
		return nil, fmt.Errorf("list resources: %w", err)
	}
	return rs, nil
}

func (s *Store) DeleteResource(ctx context.Context, id string) ([]store.Resource, error) {
	key := column.ScopeKey(id)
	lo, hi := column.Below(key)
	var deleted []store.Resource
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var subKey, groupKey string
		if err := tx.QueryRow(ctx, `SELECT subscription_key, resource_group_key FROM resources WHERE id_key = $1`, key).
			Scan(&subKey, &groupKey); err != nil {
			return err // no row: ErrNotFound
		}
		// Wait for the writes in flight in the group, so that a child being created is seen.
		if err := lockGroup(ctx, tx, subKey, groupKey, "UPDATE"); err != nil {
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

func scanRoleDefinition(row pgx.Row) (store.RoleDefinition, error) {
	var d store.RoleDefinition
	var scopes string
	if err := row.Scan(&d.ID, &d.Scope, &d.RoleName, &d.Description, &scopes, &d.Permissions, &d.CreatedAt, &d.UpdatedAt,
		&d.CreatedBy, &d.UpdatedBy); err != nil {
		return store.RoleDefinition{}, err
	}
	var err error
	if d.AssignableScopes, err = column.ParseStrings(scopes); err != nil {
		return store.RoleDefinition{}, err
	}
	d.Permissions = column.Bytes(d.Permissions)
	d.CreatedAt, d.UpdatedAt = column.Time(d.CreatedAt), column.Time(d.UpdatedAt)
	return d, nil
}

func (s *Store) PutRoleDefinition(ctx context.Context, d store.RoleDefinition) (bool, error) {
	scopes, err := column.Strings(d.AssignableScopes)
	if err != nil {
		return false, fmt.Errorf("put role definition %s: %w", d.ID, err)
	}
	// A name another definition holds fails the unique role_name_key: ErrConflict.
	created, err := get(ctx, s, scanBool, `INSERT INTO role_definitions (id_key, id, scope, role_name, role_name_key,
		description, assignable_scopes, permissions, created_at, updated_at, created_by, updated_by)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
		ON CONFLICT (id_key) DO UPDATE SET scope = EXCLUDED.scope, role_name = EXCLUDED.role_name,
			role_name_key = EXCLUDED.role_name_key, description = EXCLUDED.description,
			assignable_scopes = EXCLUDED.assignable_scopes, permissions = EXCLUDED.permissions,
			updated_at = EXCLUDED.updated_at, updated_by = EXCLUDED.updated_by
		RETURNING (xmax = 0)`,
		column.Key(d.ID), d.ID, d.Scope, d.RoleName, column.Key(d.RoleName), d.Description, scopes, column.Bytes(d.Permissions),
		column.Time(d.CreatedAt), column.Time(d.UpdatedAt), d.CreatedBy, d.UpdatedBy)
	if err != nil {
		return false, fmt.Errorf("put role definition %s: %w", d.ID, err)
	}
	return created, nil
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

func (s *Store) DeleteRoleDefinition(ctx context.Context, id string) error {
	if err := s.execOne(ctx, `DELETE FROM role_definitions WHERE id_key = $1`, column.Key(id)); err != nil {
		return fmt.Errorf("delete role definition %s: %w", id, err)
	}
	return nil
}

// Role assignments

const roleAssignmentColumns = `id, scope, role_definition_id, principal_id, principal_type, description, condition,
	condition_version, created_at, updated_at, created_by, updated_by`

func scanRoleAssignment(row pgx.Row) (store.RoleAssignment, error) {
	var a store.RoleAssignment
	if err := row.Scan(&a.ID, &a.Scope, &a.RoleDefinitionID, &a.PrincipalID, &a.PrincipalType, &a.Description, &a.Condition,
		&a.ConditionVersion, &a.CreatedAt, &a.UpdatedAt, &a.CreatedBy, &a.UpdatedBy); err != nil {
		return store.RoleAssignment{}, err
	}
	a.CreatedAt, a.UpdatedAt = column.Time(a.CreatedAt), column.Time(a.UpdatedAt)
	return a, nil
}

func (s *Store) CreateRoleAssignment(ctx context.Context, a store.RoleAssignment) error {
	_, err := s.exec(ctx, `INSERT INTO role_assignments (id_key, id, scope, scope_key, role_definition_id,
		role_key, principal_id, principal_key, principal_type, description, condition, condition_version,
		created_at, updated_at, created_by, updated_by)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)`,
		column.Key(a.ID), a.ID, a.Scope, column.ScopeKey(a.Scope), a.RoleDefinitionID, column.RoleDefinitionKey(a.RoleDefinitionID),
		a.PrincipalID, column.Key(a.PrincipalID), a.PrincipalType, a.Description, a.Condition, a.ConditionVersion,
		column.Time(a.CreatedAt), column.Time(a.UpdatedAt), a.CreatedBy, a.UpdatedBy)
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
	if f.PrincipalID != "" {
		w.add(`principal_key = ` + w.p(column.Key(f.PrincipalID)))
	}
	// Below the root is every scope, whatever AtOrAbove adds to it.
	if below := column.ScopeKey(f.Below); f.Below == "" || below != "/" {
		var scopes []string
		if f.AtOrAbove != "" {
			scopes = append(scopes, `scope_key = ANY(`+w.p(column.ScopeAncestors(column.ScopeKey(f.AtOrAbove)))+`)`)
		}
		if f.Below != "" {
			lo, hi := column.Below(below)
			scopes = append(scopes, `scope_key = `+w.p(below)+` OR (scope_key >= `+w.p(lo)+` AND scope_key < `+w.p(hi)+`)`)
		}
		if len(scopes) > 0 {
			w.add(`(` + strings.Join(scopes, ` OR `) + `)`)
		}
	}
	as, err := list(ctx, s, scanRoleAssignment, `SELECT `+roleAssignmentColumns+` FROM role_assignments`+w.sql()+
		` ORDER BY created_at, id_key`, w.args...)
	if err != nil {
		return nil, fmt.Errorf("list role assignments: %w", err)
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
	a, err := get(ctx, s, scanRoleAssignment, `DELETE FROM role_assignments WHERE id_key = $1 RETURNING `+roleAssignmentColumns, column.Key(id))
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
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		// One round trip for the batch; the transaction makes it all or nothing.
		b := &pgx.Batch{}
		for _, e := range events {
			b.Queue(`INSERT INTO activity (id, operation_id, correlation_id, at, subscription_id, subscription_key,
				resource_group, resource_group_key, resource_id, resource_key, resource_type, operation_name, status,
				sub_status, http_status, caller, caller_key, caller_app_id, http_method, message)
				VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20)`,
				e.ID, e.OperationID, e.CorrelationID, column.Time(e.Time), e.SubscriptionID, column.Key(e.SubscriptionID),
				e.ResourceGroup, column.Key(e.ResourceGroup), e.ResourceID, column.IDKey(e.ResourceID), e.ResourceType,
				e.OperationName, e.Status, e.SubStatus, e.HTTPStatus, e.Caller, column.Key(e.Caller), e.CallerAppID,
				e.HTTPMethod, e.Message)
		}
		br := tx.SendBatch(ctx, b)
		for _, e := range events {
			if _, err := br.Exec(); err != nil {
				br.Close()
				return fmt.Errorf("event %s: %w", e.ID, dbErr(ctx, err))
			}
		}
		return br.Close()
	})
	if err != nil {
		return fmt.Errorf("append %d activity events: %w", len(events), err)
	}
	return nil
}

const activityColumns = `id, operation_id, correlation_id, at, subscription_id, resource_group, resource_id, resource_type,
	operation_name, status, sub_status, http_status, caller, caller_app_id, http_method, message`

func scanActivity(row pgx.Row) (store.ActivityEvent, error) {
	var e store.ActivityEvent
	if err := row.Scan(&e.ID, &e.OperationID, &e.CorrelationID, &e.Time, &e.SubscriptionID, &e.ResourceGroup, &e.ResourceID,
		&e.ResourceType, &e.OperationName, &e.Status, &e.SubStatus, &e.HTTPStatus, &e.Caller, &e.CallerAppID,
		&e.HTTPMethod, &e.Message); err != nil {
		return store.ActivityEvent{}, err
	}
	e.Time = column.Time(e.Time)
	return e, nil
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
		w.add(`at >= ` + w.p(column.Time(f.Since)))
	}
	if !f.Until.IsZero() {
		w.add(`at < ` + w.p(column.Time(f.Until)))
	}
	q := `SELECT ` + activityColumns + ` FROM activity` + w.sql()
	q += ` ORDER BY at DESC, id LIMIT ` + w.p(column.ActivityLimit(f.Limit))
	es, err := list(ctx, s, scanActivity, q, w.args...)
	if err != nil {
		return nil, fmt.Errorf("list activity: %w", err)
	}
	return es, nil
}
