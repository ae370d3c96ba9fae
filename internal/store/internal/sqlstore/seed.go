package sqlstore

import (
	"context"
	"errors"
	"fmt"

	"github.com/mint-id/mint/internal/store"
	"github.com/mint-id/mint/internal/store/internal/column"
)

// SeedManagedIdentities writes resources that are identities (each with its principal, which
// PutResource would create with it, and no user-assigned identities of its own), their
// principals, and role assignments, in one transaction of multi-row INSERTs. It is for `mint
// bench --scale`, which loads up to a million identities before it starts mint on them: the rows
// are the ones PutResource and CreateRoleAssignment write, without their per-row checks (the
// group must exist; ids must be new). Serving code never calls it.
func (s *Store) SeedManagedIdentities(ctx context.Context, resources []store.Resource, principals []store.ServicePrincipal, assignments []store.RoleAssignment) error {
	for _, r := range resources {
		if len(r.UserAssignedIdentities) > 0 {
			return errors.New("seed managed identities: resources with user-assigned identities are not seeded in bulk")
		}
	}
	for _, sp := range principals {
		if len(sp.IdentifierURIs) > 0 {
			return errors.New("seed managed identities: principals with identifier URIs are not seeded in bulk")
		}
	}
	tags := make([]any, len(resources))
	for i, r := range resources {
		t, err := column.Tags(r.Tags)
		if err != nil {
			return fmt.Errorf("seed managed identities: resource %s: %w", r.ID, err)
		}
		tags[i] = t
	}
	identities, _ := column.List[string](nil)
	err := s.inTx(ctx, func(tx Tx) error {
		if err := insertSmallRows(ctx, tx, `INSERT INTO resources (id_key, id, subscription_id, subscription_key, resource_group,
			resource_group_key, type, type_key, name, location, tags, properties, principal_id, user_assigned_identities,
			created_at, updated_at)`, 16, len(resources), func(i int) []any {
			r := resources[i]
			return []any{column.ScopeKey(r.ID), r.ID, r.SubscriptionID, column.Key(r.SubscriptionID), r.ResourceGroup, column.Key(r.ResourceGroup),
				r.Type, column.Key(r.Type), r.Name, r.Location, tags[i], column.Bytes(r.Properties), r.PrincipalID, identities, r.CreatedAt, r.UpdatedAt}
		}); err != nil {
			return fmt.Errorf("resources: %w", err)
		}
		var listErr error
		if err := insertSmallRows(ctx, tx, `INSERT INTO principals (object_id, tenant_id, tenant_key, app_id, app_key, kind,
			display_name, identifier_uris, access_token_version, app_roles, alternative_names, builtin, created_at)`, 13, len(principals), func(i int) []any {
			sp := principals[i]
			uris, roles, names, err := principalLists(sp)
			if err != nil {
				listErr = err
			}
			return []any{sp.ObjectID, sp.TenantID, column.Key(sp.TenantID), sp.AppID, column.Key(sp.AppID), string(sp.Kind),
				sp.DisplayName, uris, sp.AccessTokenVersion, roles, names, sp.Builtin, sp.CreatedAt}
		}); err != nil {
			return fmt.Errorf("principals: %w", err)
		}
		if listErr != nil {
			return fmt.Errorf("principals: %w", listErr)
		}
		if err := insertSmallRows(ctx, tx, `INSERT INTO role_assignments (id_key, id, scope, scope_key, role_definition_id,
			role_key, principal_id, principal_key, principal_type, description, condition, condition_version,
			created_at, updated_at, created_by, updated_by)`, 16, len(assignments), func(i int) []any {
			a := assignments[i]
			return []any{column.Key(a.ID), a.ID, a.Scope, column.ScopeKey(a.Scope), a.RoleDefinitionID, column.RoleDefinitionKey(a.RoleDefinitionID),
				a.PrincipalID, column.Key(a.PrincipalID), a.PrincipalType, a.Description, a.Condition, a.ConditionVersion,
				a.CreatedAt, a.UpdatedAt, a.CreatedBy, a.UpdatedBy}
		}); err != nil {
			return fmt.Errorf("role assignments: %w", err)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("seed %d managed identities: %w", len(resources), s.err(ctx, err))
	}
	return nil
}

// seedParamsPerStatement bounds the parameters of one bulk-load statement. SQLite looks up each
// numbered parameter ($N) in a list it scans, so a statement's cost grows with the square of its
// parameters: at insertRows' 30,000 a load of a million identities takes hours; at 500 the rows'
// own insertion dominates (20,000 identities in 6 s on a loaded two-core machine, 22 times
// faster than at 30,000 and 3 times faster than at 2,000).
const seedParamsPerStatement = 500

// insertSmallRows is insertRows with statements of at most seedParamsPerStatement parameters.
func insertSmallRows(ctx context.Context, tx Tx, insert string, cols, n int, row func(i int) []any) error {
	per := max(1, seedParamsPerStatement/cols)
	for start := 0; start < n; start += per {
		if err := insertRows(ctx, tx, insert, cols, min(per, n-start), func(i int) []any { return row(start + i) }); err != nil {
			return err
		}
	}
	return nil
}
