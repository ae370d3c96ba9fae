// Package authz answers "may this principal perform this action at this scope" from the store's
// role assignments and role definitions (built-in and custom), using the pure evaluation in
// rbac. The management endpoint, the vault data plane and the STS broker grant all ask here.
package authz

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/mint-id/mint/internal/rbac"
	"github.com/mint-id/mint/internal/store"
)

// Store is what authz reads.
type Store interface {
	ListRoleAssignmentsForPrincipal(ctx context.Context, principalID string) ([]store.RoleAssignment, error)
	GetRoleDefinition(ctx context.Context, id string) (store.RoleDefinition, error)
	MemberOfStore
	GroupStore
}

// Authorizer evaluates against the store on every call, so a change made through any replica
// counts at once.
type Authorizer struct{ st Store }

func New(st Store) *Authorizer { return &Authorizer{st: st} }

// ErrUnavailable marks a decision that could not be made because the store did not answer
// (anything but "not found"). Callers answer it as 503 in their API's shape: denying would hide
// an outage behind a misleading 403.
var ErrUnavailable = errors.New("authorization data unavailable")

// Principal is one principal's assignments and the roles they name, loaded once, for a request
// that asks many questions about the same caller (a list filtered by read permission) or for a
// cache (the vault keeps one per principal for a short time).
type Principal struct {
	assignments []rbac.Assignment
	groups      []rbac.Membership
	lookup      rbac.RoleLookup
}

// ForPrincipal loads principalID's assignments, those of the groups it belongs to (transitively)
// and the roles they use. An assignment of a custom role that has been deleted grants nothing;
// any other store failure is an error wrapping ErrUnavailable.
func (a *Authorizer) ForPrincipal(ctx context.Context, principalID string) (*Principal, error) {
	return Load(ctx, a.st, principalID)
}

// Decide answers q from what was loaded (q.PrincipalID must be the loaded principal); the
// principal's groups count.
func (p *Principal) Decide(q rbac.Query) rbac.Decision {
	q.Groups = p.groups
	return rbac.Decide(q, p.lookup, p.assignments)
}

// Allows is Decide(q).Allowed without building the decision's reason (rbac.Allows).
func (p *Principal) Allows(q rbac.Query) bool {
	q.Groups = p.groups
	return rbac.Allows(q, p.lookup, p.assignments)
}

// Explain explains q from what was loaded; groups are named by id (Authorizer.Explain names
// them by display name).
func (p *Principal) Explain(q rbac.Query) rbac.Explanation {
	q.Groups = p.groups
	return rbac.Explain(q, p.lookup, p.assignments, rbac.BuiltinRoles())
}

// Assignments are the loaded assignments: the principal's own and its groups'.
func (p *Principal) Assignments() []rbac.Assignment { return p.assignments }

// Groups are the groups the principal belongs to, directly or through nested groups.
func (p *Principal) Groups() []rbac.Membership { return p.groups }

// Decide answers q.
func (a *Authorizer) Decide(ctx context.Context, q rbac.Query) (rbac.Decision, error) {
	p, err := Load(ctx, a.st, q.PrincipalID)
	if err != nil {
		return rbac.Decision{}, err
	}
	return p.Decide(q), nil
}

// Explain answers q and says why, with the closest assignments and a role that would fix a
// denial; an assignment held through groups names them ("group A ⊃ B").
func (a *Authorizer) Explain(ctx context.Context, q rbac.Query) (rbac.Explanation, error) {
	p, err := Load(ctx, a.st, q.PrincipalID)
	if err != nil {
		return rbac.Explanation{}, err
	}
	if q.Groups, err = nameGroups(ctx, a.st, p.groups); err != nil {
		return rbac.Explanation{}, err
	}
	return rbac.Explain(q, p.lookup, p.assignments, rbac.BuiltinRoles()), nil
}

// Load is the one loader every authorization decision starts from. It reads what deciding for
// principalID needs: the groups it belongs to (transitively), the role assignments of the
// principal and of each of those groups, and the custom roles they name.
func Load(ctx context.Context, st Store, principalID string) (*Principal, error) {
	groups, err := TransitiveGroups(ctx, st, principalID)
	if err != nil {
		return nil, fmt.Errorf("%w: groups of %s: %w", ErrUnavailable, principalID, err)
	}
	recs, err := assignmentsOf(ctx, st, principalID, groups)
	if err != nil {
		return nil, err
	}
	assignments := make([]rbac.Assignment, len(recs))
	custom := map[string]rbac.RoleDefinition{}
	for i, r := range recs {
		assignments[i] = ToRBAC(r)
		id := rbac.RoleDefinitionGUID(r.RoleDefinitionID)
		if _, ok := rbac.BuiltinRoleByID(id); ok {
			continue
		}
		if _, seen := custom[id]; seen {
			continue
		}
		def, err := st.GetRoleDefinition(ctx, id)
		if errors.Is(err, store.ErrNotFound) {
			continue // an assignment of a deleted custom role grants nothing
		}
		if err != nil {
			return nil, fmt.Errorf("%w: role definition %s: %w", ErrUnavailable, id, err)
		}
		if rd, err := RoleFromStore(def); err == nil {
			custom[id] = rd
		}
	}
	builtin := rbac.BuiltinLookup()
	lookup := func(id string) (rbac.RoleDefinition, bool) {
		if r, ok := builtin(id); ok {
			return r, true
		}
		r, ok := custom[rbac.RoleDefinitionGUID(id)]
		return r, ok
	}
	return &Principal{assignments: assignments, groups: groups, lookup: lookup}, nil
}

// assignmentsOf reads the role assignments of principalID and then of each group, in that
// order; from a store that can (store.Store's ListRoleAssignmentsForPrincipals), in one read per
// store.MaxBatchIDs principals rather than one per group.
func assignmentsOf(ctx context.Context, st Store, principalID string, groups []rbac.Membership) ([]store.RoleAssignment, error) {
	batch, ok := st.(interface {
		ListRoleAssignmentsForPrincipals(ctx context.Context, principalIDs []string) ([]store.RoleAssignment, error)
	})
	if !ok || len(groups) == 0 {
		recs, err := st.ListRoleAssignmentsForPrincipal(ctx, principalID)
		if err != nil {
			return nil, fmt.Errorf("%w: role assignments of %s: %w", ErrUnavailable, principalID, err)
		}
		for _, g := range groups {
			more, err := st.ListRoleAssignmentsForPrincipal(ctx, g.GroupID)
			if err != nil {
				return nil, fmt.Errorf("%w: role assignments of group %s: %w", ErrUnavailable, g.GroupID, err)
			}
			recs = append(recs, more...)
		}
		return recs, nil
	}
	ids := make([]string, 0, 1+len(groups))
	ids = append(ids, strings.ToLower(principalID))
	for _, g := range groups {
		ids = append(ids, strings.ToLower(g.GroupID))
	}
	byPrincipal := make(map[string][]store.RoleAssignment, len(ids))
	for start := 0; start < len(ids); start += store.MaxBatchIDs {
		chunk := ids[start:min(len(ids), start+store.MaxBatchIDs)]
		recs, err := batch.ListRoleAssignmentsForPrincipals(ctx, chunk)
		if err != nil {
			return nil, fmt.Errorf("%w: role assignments of %s and %d groups: %w", ErrUnavailable, principalID, len(groups), err)
		}
		for _, r := range recs {
			k := strings.ToLower(r.PrincipalID)
			byPrincipal[k] = append(byPrincipal[k], r)
		}
	}
	var out []store.RoleAssignment
	for _, id := range ids {
		out = append(out, byPrincipal[id]...)
		delete(byPrincipal, id) // a group listed twice counts once, as the principal's own reads would not
	}
	return out, nil
}

// Role finds a role definition by GUID or full role definition id: a built-in one, else a custom
// one from the store. It returns store.ErrNotFound (wrapped) when neither has it.
func (a *Authorizer) Role(ctx context.Context, id string) (rbac.RoleDefinition, error) {
	if r, ok := rbac.BuiltinRoleByID(id); ok {
		return r, nil
	}
	guid := rbac.RoleDefinitionGUID(id)
	def, err := a.st.GetRoleDefinition(ctx, guid)
	if err != nil {
		return rbac.RoleDefinition{}, fmt.Errorf("role definition %s: %w", guid, err)
	}
	return RoleFromStore(def)
}

// ToRBAC converts a stored assignment for evaluation.
func ToRBAC(r store.RoleAssignment) rbac.Assignment {
	return rbac.Assignment{
		ID: r.ID, Scope: r.Scope, PrincipalID: r.PrincipalID, RoleDefinitionID: r.RoleDefinitionID,
		PrincipalType: r.PrincipalType, Condition: r.Condition, ConditionVersion: r.ConditionVersion,
	}
}

// PermissionJSON is the wire and storage shape of one permission block.
type PermissionJSON struct {
	Actions          []string `json:"actions"`
	NotActions       []string `json:"notActions"`
	DataActions      []string `json:"dataActions"`
	NotDataActions   []string `json:"notDataActions"`
	Condition        string   `json:"condition,omitempty"`
	ConditionVersion string   `json:"conditionVersion,omitempty"`
}

// WirePermissions returns the wire shape of a role's permission blocks, every list present ([]
// rather than null), as Azure writes them.
func WirePermissions(ps []rbac.Permission) []PermissionJSON {
	out := make([]PermissionJSON, len(ps))
	for i, p := range ps {
		out[i] = PermissionJSON{
			Actions: nonNil(p.Actions), NotActions: nonNil(p.NotActions),
			DataActions: nonNil(p.DataActions), NotDataActions: nonNil(p.NotDataActions),
			Condition: p.Condition, ConditionVersion: p.ConditionVersion,
		}
	}
	return out
}

// PermissionsFromWire converts wire permission blocks for evaluation.
func PermissionsFromWire(ps []PermissionJSON) []rbac.Permission {
	out := make([]rbac.Permission, len(ps))
	for i, p := range ps {
		out[i] = rbac.Permission{
			Actions: nonNil(p.Actions), NotActions: nonNil(p.NotActions),
			DataActions: nonNil(p.DataActions), NotDataActions: nonNil(p.NotDataActions),
			Condition: p.Condition, ConditionVersion: p.ConditionVersion,
		}
	}
	return out
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// RoleFromStore converts a stored custom role for evaluation.
func RoleFromStore(d store.RoleDefinition) (rbac.RoleDefinition, error) {
	var perms []PermissionJSON
	if len(d.Permissions) > 0 {
		if err := json.Unmarshal(d.Permissions, &perms); err != nil {
			return rbac.RoleDefinition{}, fmt.Errorf("role %s permissions: %w", d.ID, err)
		}
	}
	rd := rbac.RoleDefinition{ID: d.ID, RoleName: d.RoleName, Description: d.Description, RoleType: rbac.CustomRole, AssignableScopes: d.AssignableScopes}
	rd.Permissions = PermissionsFromWire(perms)
	return rd, nil
}

// AssignmentStore is what EnsureRole needs.
type AssignmentStore interface {
	ListRoleAssignments(ctx context.Context, f store.RoleAssignmentFilter) ([]store.RoleAssignment, error)
	CreateRoleAssignment(ctx context.Context, a store.RoleAssignment) error
}

// ensureNamespace makes the names of assignments mint creates itself deterministic, so that
// replicas doing the same bootstrap at once agree on one assignment.
var ensureNamespace = uuid.MustParse("5e7b1f6c-2f0e-4c4e-9a53-6d1b0c3a8e21")

// EnsureRole gives the service principal principalID the role roleID at scope, unless it
// already holds that role there or above. It is idempotent and safe to run from several
// replicas at once.
func EnsureRole(ctx context.Context, st AssignmentStore, principalID, roleID, scope, description string) error {
	return EnsureRoleFor(ctx, st, principalID, "ServicePrincipal", roleID, scope, description)
}

// EnsureRoleFor is EnsureRole for a principal of any type (User, Group, ServicePrincipal).
func EnsureRoleFor(ctx context.Context, st AssignmentStore, principalID, principalType, roleID, scope, description string) error {
	principalID = strings.ToLower(principalID)
	held, err := st.ListRoleAssignments(ctx, store.RoleAssignmentFilter{PrincipalID: principalID, AtOrAbove: scope})
	if err != nil {
		return fmt.Errorf("role assignments of %s: %w", principalID, err)
	}
	for _, a := range held {
		if strings.EqualFold(rbac.RoleDefinitionGUID(a.RoleDefinitionID), roleID) && rbac.ScopeCovers(a.Scope, scope) {
			return nil
		}
	}
	name := principalID + "|" + strings.ToLower(scope)
	if !strings.EqualFold(roleID, rbac.OwnerRoleID) { // keep the names existing Owner bootstraps made
		name += "|" + strings.ToLower(roleID)
	}
	now := time.Now().UTC()
	a := store.RoleAssignment{
		ID:               uuid.NewSHA1(ensureNamespace, []byte(name)).String(),
		Scope:            scope,
		RoleDefinitionID: roleID,
		PrincipalID:      principalID,
		PrincipalType:    principalType,
		Description:      description,
		CreatedAt:        now,
		UpdatedAt:        now,
	}
	if err := st.CreateRoleAssignment(ctx, a); err != nil && !errors.Is(err, store.ErrConflict) {
		return fmt.Errorf("assign role %s to %s at %s: %w", roleID, principalID, scope, err)
	}
	return nil
}
