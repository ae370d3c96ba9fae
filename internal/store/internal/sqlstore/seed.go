package sqlstore

import (
	"errors"
	"fmt"

	"github.com/mint-id/mint/internal/store"
	"github.com/mint-id/mint/internal/store/internal/column"
)

// A bulk load (`mint bench` seeding up to a million identities before it starts mint on them)
// writes the rows PutResource and CreateRoleAssignment write, without their per-row checks (the
// group must exist; ids must be new), their activity-log entries or revocation work. This file
// builds those rows once for both databases; each store writes them its fastest way (SQLite:
// prepared single-row INSERTs reused across a large transaction; PostgreSQL: COPY). Serving code
// never calls it.

// SeedTable is the rows of one table in a bulk load, in Columns' order.
type SeedTable struct {
	Name    string
	Columns []string
	Rows    [][]any
}

// SeedTables turns identities into the rows of resources, principals, principal_words and
// role_assignments, the tables (and only the columns) PutResource and CreateRoleAssignment write
// for them.
func SeedTables(ids []store.IdentitySeed) ([]SeedTable, error) {
	emptyList, err := column.List[string](nil)
	if err != nil {
		return nil, err
	}
	resources := SeedTable{Name: "resources", Columns: []string{"id_key", "id", "subscription_id", "subscription_key", "resource_group",
		"resource_group_key", "type", "type_key", "name", "location", "tags", "properties", "principal_id", "user_assigned_identities",
		"created_at", "updated_at"}, Rows: make([][]any, 0, len(ids))}
	principals := SeedTable{Name: "principals", Columns: []string{"object_id", "tenant_id", "tenant_key", "app_id", "app_key", "kind",
		"display_name", "identifier_uris", "access_token_version", "app_roles", "alternative_names", "builtin", "created_at", "redirect_uris", "display_key"},
		Rows: make([][]any, 0, len(ids))}
	words := SeedTable{Name: "principal_words", Columns: []string{"object_id", "tenant_key", "word"}, Rows: make([][]any, 0, 3*len(ids))}
	assignments := SeedTable{Name: "role_assignments", Columns: []string{"id_key", "id", "scope", "scope_key", "role_definition_id",
		"role_key", "principal_id", "principal_key", "principal_type", "description", "condition", "condition_version",
		"created_at", "updated_at", "created_by", "updated_by"}, Rows: make([][]any, 0, len(ids))}
	for _, id := range ids {
		r, sp := id.Resource, id.Principal
		// What PutResource writes for an identity and no more: a resource with user-assigned
		// identities also writes resource_identities rows, a principal with identifier URIs
		// identifier_uris rows.
		if len(r.UserAssignedIdentities) > 0 {
			return nil, errors.New("resources with user-assigned identities are not seeded in bulk")
		}
		if len(sp.IdentifierURIs) > 0 {
			return nil, errors.New("principals with identifier URIs are not seeded in bulk")
		}
		tags, err := column.Tags(r.Tags)
		if err != nil {
			return nil, fmt.Errorf("resource %s: %w", r.ID, err)
		}
		resources.Rows = append(resources.Rows, []any{column.ScopeKey(r.ID), r.ID, r.SubscriptionID, column.Key(r.SubscriptionID),
			r.ResourceGroup, column.Key(r.ResourceGroup), r.Type, column.Key(r.Type), r.Name, r.Location, tags, column.Bytes(r.Properties),
			r.PrincipalID, emptyList, r.CreatedAt, r.UpdatedAt})
		uris, roles, names, err := principalLists(sp)
		if err != nil {
			return nil, fmt.Errorf("principal %s: %w", sp.ObjectID, err)
		}
		redirects, err := redirectURIsColumn(sp.RedirectURIs)
		if err != nil {
			return nil, fmt.Errorf("principal %s: %w", sp.ObjectID, err)
		}
		principals.Rows = append(principals.Rows, []any{sp.ObjectID, sp.TenantID, column.Key(sp.TenantID), sp.AppID, column.Key(sp.AppID),
			string(sp.Kind), sp.DisplayName, uris, sp.AccessTokenVersion, roles, names, sp.Builtin, sp.CreatedAt, redirects,
			column.DisplayKey(sp.DisplayName)})
		for _, w := range store.IndexedWords(sp.DisplayName) {
			words.Rows = append(words.Rows, []any{sp.ObjectID, column.Key(sp.TenantID), w})
		}
		for _, a := range id.Assignments {
			assignments.Rows = append(assignments.Rows, []any{column.Key(a.ID), a.ID, a.Scope, column.ScopeKey(a.Scope), a.RoleDefinitionID,
				column.RoleDefinitionKey(a.RoleDefinitionID), a.PrincipalID, column.Key(a.PrincipalID), a.PrincipalType, a.Description,
				a.Condition, a.ConditionVersion, a.CreatedAt, a.UpdatedAt, a.CreatedBy, a.UpdatedBy})
		}
	}
	return []SeedTable{resources, principals, words, assignments}, nil
}
