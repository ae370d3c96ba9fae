package arm

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/google/uuid"

	"github.com/mint-id/mint/internal/armid"
	"github.com/mint-id/mint/internal/authz"
	"github.com/mint-id/mint/internal/rbac"
	"github.com/mint-id/mint/internal/store"
)

// RoleAssignment is ARM's role assignment resource (Microsoft.Authorization 2022-04-01).
type RoleAssignment struct {
	ID         string                   `json:"id"`
	Name       string                   `json:"name"`
	Type       string                   `json:"type"`
	Properties RoleAssignmentProperties `json:"properties"`
}

// RoleAssignmentProperties are a role assignment's properties. The optional ones are null when
// unset, as ARM writes them.
type RoleAssignmentProperties struct {
	RoleDefinitionID                   string  `json:"roleDefinitionId"`
	PrincipalID                        string  `json:"principalId"`
	PrincipalType                      string  `json:"principalType"`
	Scope                              string  `json:"scope"`
	Condition                          *string `json:"condition"`
	ConditionVersion                   *string `json:"conditionVersion"`
	CreatedOn                          string  `json:"createdOn"`
	UpdatedOn                          string  `json:"updatedOn"`
	CreatedBy                          *string `json:"createdBy"`
	UpdatedBy                          *string `json:"updatedBy"`
	DelegatedManagedIdentityResourceID *string `json:"delegatedManagedIdentityResourceId"`
	Description                        *string `json:"description"`
}

// Principal types of a role assignment, in ARM's spelling.
var principalTypes = []string{"User", "Group", "ServicePrincipal", "ForeignGroup", "Device"}

const principalTypeServicePrincipal = "ServicePrincipal"

// roleAssignmentWire shapes a stored assignment. Its roleDefinitionId carries the subscription of
// its scope (/subscriptions/{s}/providers/Microsoft.Authorization/roleDefinitions/{guid}), as
// real ARM answers; a root-scope assignment gets the tenant-level id.
func roleAssignmentWire(a store.RoleAssignment) RoleAssignment {
	scopeText := a.Scope
	scope, err := armid.ParseScope(a.Scope)
	if err == nil { // stored scopes were parsed on the way in
		scopeText = scope.String()
	}
	var condVersion *string
	if a.Condition != "" {
		condVersion = nullable(a.ConditionVersion)
	}
	return RoleAssignment{
		ID:   scope.Extension(authorizationNS, "roleAssignments", a.ID).String(),
		Name: a.ID,
		Type: roleAssignmentsType,
		Properties: RoleAssignmentProperties{
			RoleDefinitionID: roleDefinitionID(scope, rbac.RoleDefinitionGUID(a.RoleDefinitionID)),
			PrincipalID:      a.PrincipalID,
			PrincipalType:    a.PrincipalType,
			Scope:            scopeText,
			Condition:        nullable(a.Condition),
			ConditionVersion: condVersion,
			CreatedOn:        armTime(a.CreatedAt),
			UpdatedOn:        armTime(a.UpdatedAt),
			CreatedBy:        nullable(a.CreatedBy),
			UpdatedBy:        nullable(a.UpdatedBy),
			Description:      nullable(a.Description),
		},
	}
}

// roleAssignmentBody is a role-assignment PUT body (RoleAssignmentCreateParameters).
type roleAssignmentBody struct {
	Properties *struct {
		RoleDefinitionID string `json:"roleDefinitionId"`
		PrincipalID      string `json:"principalId"`
		PrincipalType    string `json:"principalType"`
		Description      string `json:"description"`
		Condition        string `json:"condition"`
		ConditionVersion string `json:"conditionVersion"`
	} `json:"properties"`
}

// assignmentFromBody validates what can be validated without the store: the name, the body's
// shape, the principal type (default User) and the condition. The role and the principal are
// checked by the caller.
func assignmentFromBody(name string, scope armid.ResourceID, b roleAssignmentBody) (store.RoleAssignment, *Error) {
	if !isGUID(name) {
		return store.RoleAssignment{}, invalidRoleAssignmentID(name)
	}
	p := b.Properties
	if p == nil {
		return store.RoleAssignment{}, InvalidRequestContent("Required property 'properties' not found in JSON. Path '', line 1, position 1.")
	}
	if strings.TrimSpace(p.RoleDefinitionID) == "" {
		return store.RoleAssignment{}, InvalidRequestContent("Required property 'roleDefinitionId' not found in JSON. Path 'properties'.")
	}
	if strings.TrimSpace(p.PrincipalID) == "" {
		return store.RoleAssignment{}, InvalidRequestContent("Required property 'principalId' not found in JSON. Path 'properties'.")
	}
	if !isGUID(strings.TrimSpace(p.PrincipalID)) {
		return store.RoleAssignment{}, NewError(http.StatusBadRequest, "InvalidPrincipalId", fmt.Sprintf(
			"A valid principal ID must be provided for role assignment: '%s' is not a GUID.", p.PrincipalID))
	}
	guid := rbac.RoleDefinitionGUID(strings.TrimSpace(p.RoleDefinitionID))
	if !isGUID(guid) || !validRoleDefinitionRef(strings.TrimSpace(p.RoleDefinitionID)) {
		return store.RoleAssignment{}, NewError(http.StatusBadRequest, "InvalidRoleDefinitionId", fmt.Sprintf(
			"The role definition ID '%s' is not valid. Use /subscriptions/{subscriptionId}/providers/Microsoft.Authorization/roleDefinitions/{guid} (or the tenant-level /providers/... form).", p.RoleDefinitionID))
	}
	ptype := "User" // ARM's default when the body names no principalType (https://learn.microsoft.com/rest/api/authorization/role-assignments/create)
	if t := strings.TrimSpace(p.PrincipalType); t != "" {
		i := slices.IndexFunc(principalTypes, func(s string) bool { return strings.EqualFold(s, t) })
		if i < 0 {
			return store.RoleAssignment{}, InvalidRequestContent(fmt.Sprintf(
				"Error converting value \"%s\" to type 'PrincipalType'; expected one of %s. Path 'properties.principalType'", t, strings.Join(principalTypes, ", ")))
		}
		ptype = principalTypes[i]
	}
	a := store.RoleAssignment{
		ID:               strings.ToLower(name),
		Scope:            scope.String(),
		RoleDefinitionID: strings.ToLower(guid),
		PrincipalID:      strings.ToLower(strings.TrimSpace(p.PrincipalID)),
		PrincipalType:    ptype,
		Description:      p.Description,
	}
	if len(p.Description) > 2048 {
		return a, NewError(http.StatusBadRequest, "InvalidRoleAssignmentDescription", "A role assignment description can be at most 2 KB.")
	}
	if p.Condition != "" {
		if len(p.Condition) > 8192 {
			return a, NewError(http.StatusBadRequest, "InvalidCondition", "A role assignment condition can be at most 8 KB.")
		}
		a.Condition, a.ConditionVersion = p.Condition, p.ConditionVersion
		if a.ConditionVersion == "" {
			a.ConditionVersion = "2.0"
		}
		if a.ConditionVersion != "2.0" {
			return a, NewError(http.StatusBadRequest, "InvalidConditionVersion", fmt.Sprintf(
				"The condition version '%s' is not supported. The only supported condition version is '2.0'.", a.ConditionVersion))
		}
	}
	return a, nil
}

// validRoleDefinitionRef accepts a bare GUID or a role definition id at any scope.
func validRoleDefinitionRef(ref string) bool {
	if isGUID(ref) {
		return true
	}
	id, err := armid.Parse(ref)
	return err == nil && strings.EqualFold(id.ResourceType(), roleDefinitionsType)
}

func isGUID(s string) bool {
	_, err := uuid.Parse(s)
	return err == nil && len(s) == 36
}

func invalidRoleAssignmentID(name string) *Error {
	return NewError(http.StatusBadRequest, "InvalidRoleAssignmentId", fmt.Sprintf(
		"The role assignment ID '%s' is not valid. The role assignment ID must be a GUID.", name))
}

func roleAssignmentNotFound(name string) *Error {
	return NewError(http.StatusNotFound, "RoleAssignmentNotFound", fmt.Sprintf("The role assignment '%s' is not found.", name))
}

func sameScope(a, b string) bool { return rbac.NormalizeScope(a) == rbac.NormalizeScope(b) }

// sameGrant: the same principal holds the same role at the same scope.
func sameGrant(a, b store.RoleAssignment) bool {
	return strings.EqualFold(a.PrincipalID, b.PrincipalID) && sameScope(a.Scope, b.Scope) &&
		strings.EqualFold(rbac.RoleDefinitionGUID(a.RoleDefinitionID), rbac.RoleDefinitionGUID(b.RoleDefinitionID))
}

func (s *Server) serveRoleAssignment(c *call) {
	name := c.id.Name()
	switch c.r.Method {
	case http.MethodGet, http.MethodHead:
		a, err := s.roleAssignmentAtScope(c, name)
		if errors.Is(err, store.ErrNotFound) {
			c.fail(roleAssignmentNotFound(name))
			return
		}
		if err != nil {
			c.failErr(err)
			return
		}
		c.json(http.StatusOK, roleAssignmentWire(a))
	case http.MethodPut:
		s.putRoleAssignment(c, name)
	case http.MethodDelete:
		a, err := s.roleAssignmentAtScope(c, name)
		if errors.Is(err, store.ErrNotFound) {
			WriteEmpty(c.w, c.r, http.StatusNoContent)
			return
		}
		if err != nil {
			c.failErr(err)
			return
		}
		deleted, err := s.st.DeleteRoleAssignment(c.ctx, a.ID)
		if errors.Is(err, store.ErrNotFound) {
			WriteEmpty(c.w, c.r, http.StatusNoContent)
			return
		}
		if err != nil {
			c.failErr(err)
			return
		}
		c.json(http.StatusOK, roleAssignmentWire(deleted))
	default:
		c.fail(MethodNotAllowed(c.r.Method))
	}
}

// roleAssignmentAtScope reads the assignment named name at the call's scope: one that exists at
// another scope is store.ErrNotFound here, as ARM answers for it.
func (s *Server) roleAssignmentAtScope(c *call, name string) (store.RoleAssignment, error) {
	a, err := s.st.GetRoleAssignment(c.ctx, strings.ToLower(name))
	if err == nil && !sameScope(a.Scope, c.scope.String()) {
		return store.RoleAssignment{}, store.ErrNotFound
	}
	return a, err
}

func (s *Server) putRoleAssignment(c *call, name string) {
	if !isGUID(name) { // before the body, as ARM does
		c.fail(invalidRoleAssignmentID(name))
		return
	}
	var body roleAssignmentBody
	if !c.decode(&body) {
		return
	}
	a, e := assignmentFromBody(name, c.scope, body)
	if e != nil {
		c.fail(e)
		return
	}
	role, err := s.authz.Role(c.ctx, a.RoleDefinitionID)
	if errors.Is(err, store.ErrNotFound) {
		c.fail(RoleDefinitionDoesNotExist(http.StatusBadRequest, a.RoleDefinitionID))
		return
	}
	if err != nil {
		c.failErr(err)
		return
	}
	if !role.AssignableAt(a.Scope) {
		c.fail(NewError(http.StatusBadRequest, "RoleDefinitionNotAssignableAtScope", fmt.Sprintf(
			"The role %s is not available for assignment at the requested scope. mint: its assignable scopes are %s; %s is not at or below any of them.",
			role.RoleName, strings.Join(role.AssignableScopes, ", "), a.Scope)))
		return
	}
	if e := s.checkPrincipal(c, a); e != nil {
		c.fail(e)
		return
	}
	now := s.cfg.Clock().UTC()
	a.CreatedAt, a.UpdatedAt, a.CreatedBy, a.UpdatedBy = now, now, c.principalID(), c.principalID()

	existing, err := s.st.GetRoleAssignment(c.ctx, a.ID)
	switch {
	case err == nil:
		s.updateRoleAssignment(c, existing, a)
		return
	case !errors.Is(err, store.ErrNotFound):
		c.failErr(err)
		return
	}
	if err := s.st.CreateRoleAssignment(c.ctx, a); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			// The scope's resource group was deleted since scopeExists saw it.
			if e := s.scopeExists(c, a.Scope); e != nil {
				c.fail(e)
				return
			}
		}
		if !errors.Is(err, store.ErrConflict) {
			c.failErr(err)
			return
		}
		// Either a concurrent PUT of the same name won, or the grant exists under another name.
		if cur, gerr := s.st.GetRoleAssignment(c.ctx, a.ID); gerr == nil {
			s.updateRoleAssignment(c, cur, a)
			return
		}
		c.fail(s.roleAssignmentExists(c, a))
		return
	}
	c.json(http.StatusCreated, roleAssignmentWire(a))
}

// updateRoleAssignment answers a PUT to a name that exists: 200 with it when the grant is the
// same (description and condition may change), RoleAssignmentUpdateNotPermitted when the PUT
// would move it to another principal, role or scope.
func (s *Server) updateRoleAssignment(c *call, cur, want store.RoleAssignment) {
	if !sameGrant(cur, want) {
		c.fail(NewError(http.StatusBadRequest, "RoleAssignmentUpdateNotPermitted", fmt.Sprintf(
			"Tenant ID, application ID, principal ID, and scope are not allowed to be updated. mint: role assignment %s already grants role %s to %s at %s.",
			cur.ID, cur.RoleDefinitionID, cur.PrincipalID, cur.Scope)))
		return
	}
	if cur.Description == want.Description && cur.Condition == want.Condition && cur.ConditionVersion == want.ConditionVersion &&
		cur.PrincipalType == want.PrincipalType {
		c.json(http.StatusOK, roleAssignmentWire(cur))
		return
	}
	// The store keeps assignments immutable: replace it, keeping its creation, and put the old one
	// back if the new one cannot be written.
	want.CreatedAt, want.CreatedBy = cur.CreatedAt, cur.CreatedBy
	if _, err := s.st.DeleteRoleAssignment(c.ctx, cur.ID); err != nil && !errors.Is(err, store.ErrNotFound) {
		c.failErr(err)
		return
	}
	if err := s.st.CreateRoleAssignment(c.ctx, want); err != nil {
		if rerr := s.st.CreateRoleAssignment(c.ctx, cur); rerr != nil {
			s.log.Error("role assignment update lost the old assignment", "id", cur.ID, "correlation_id", c.correlationID, "err", rerr)
		}
		c.failErr(err)
		return
	}
	c.json(http.StatusOK, roleAssignmentWire(want))
}

// roleAssignmentExists is ARM's 409 for the same grant under another name; mint says which.
func (s *Server) roleAssignmentExists(c *call, a store.RoleAssignment) *Error {
	e := RoleAssignmentExists()
	list, err := s.st.ListRoleAssignments(c.ctx, store.RoleAssignmentFilter{PrincipalID: a.PrincipalID, AtOrAbove: a.Scope})
	if err != nil {
		return e
	}
	for _, x := range list {
		if sameGrant(x, a) {
			e.Message += " mint: the same role is already assigned to this principal at this scope as " + roleAssignmentWire(x).ID + "."
			break
		}
	}
	return e
}

// checkPrincipal answers PrincipalNotFound, as ARM does, when the principal is not in the
// directory of the scope's tenant, or is not of the principalType given (User, Group or
// ServicePrincipal for applications and managed identities).
func (s *Server) checkPrincipal(c *call, a store.RoleAssignment) *Error {
	tenant := c.caller.TenantID
	if sub := c.scope.SubscriptionID; sub != "" {
		if rec, err := s.st.GetSubscription(c.ctx, sub); err == nil {
			tenant = rec.TenantID
		}
	}
	obj, err := s.dir.Object(c.ctx, tenant, a.PrincipalID)
	if errors.Is(err, store.ErrNotFound) {
		return PrincipalNotFound(a.PrincipalID, tenant)
	}
	if err != nil {
		return c.storeError(err)
	}
	if obj.Type != store.MemberServicePrincipal {
		if a.PrincipalType != string(obj.Type) {
			e := PrincipalNotFound(a.PrincipalID, tenant)
			e.Message += fmt.Sprintf(" mint: %s is a %s (%q), not a %s; set principalType to %s.",
				a.PrincipalID, strings.ToLower(string(obj.Type)), obj.DisplayName(), a.PrincipalType, obj.Type)
			return e
		}
		return nil
	}
	sp := obj.ServicePrincipal
	if err != nil {
		return c.storeError(err)
	}
	if a.PrincipalType != principalTypeServicePrincipal {
		e := PrincipalNotFound(a.PrincipalID, tenant)
		e.Message += fmt.Sprintf(" mint: %s is a service principal (%s %q), not a %s; set principalType to ServicePrincipal.",
			a.PrincipalID, principalKindWords(sp.Kind), sp.DisplayName, a.PrincipalType)
		return e
	}
	return nil
}

func principalKindWords(k store.PrincipalKind) string {
	if k == store.KindManagedIdentity {
		return "managed identity"
	}
	return "application"
}

// serveRoleAssignments lists role assignments at c.scope. ARM requires
// Microsoft.Authorization/roleAssignments/read at the scope (Reader has it).
func (s *Server) serveRoleAssignments(c *call) {
	if c.r.Method != http.MethodGet && c.r.Method != http.MethodHead {
		c.fail(MethodNotAllowed(c.r.Method))
		return
	}
	scope := c.scope.String()
	ok, err := c.allowed(roleAssignmentsType+"/read", scope, false)
	if err != nil {
		c.failErr(err)
		return
	}
	if !ok {
		c.fail(c.authorizationFailed(roleAssignmentsType+"/read", scope))
		return
	}
	f, e := parseRoleAssignmentFilter(c.r.URL.Query().Get("$filter"))
	if e != nil {
		c.fail(e)
		return
	}
	if !f.AssignedTo {
		// One page read from the store, however many assignments the scope has: the store's
		// order (CreatedAt, then id) is the list's, and the skiptoken is the last row's cursor.
		page, next, err := roleAssignmentPage(c.ctx, s.st, c.r, storeFilter(f, scope))
		if err != nil {
			c.failErr(err)
			return
		}
		out := make([]RoleAssignment, len(page))
		for i, a := range page {
			out[i] = roleAssignmentWire(a)
		}
		WritePage(c.w, c.r, s.cfg.BaseURL, out, next)
		return
	}
	list, err := s.st.ListRoleAssignments(c.ctx, storeFilter(f, scope))
	if err != nil {
		c.failErr(err)
		return
	}
	// assignedTo('{id}') also lists the assignments of the groups the principal belongs to
	// (`az role assignment list --assignee X --include-groups`).
	groups, err := authz.TransitiveGroups(c.ctx, s.st, f.PrincipalID)
	if err != nil {
		c.failErr(err)
		return
	}
	for _, g := range groups {
		gf := f
		gf.PrincipalID = g.GroupID
		more, err := s.st.ListRoleAssignments(c.ctx, storeFilter(gf, scope))
		if err != nil {
			c.failErr(err)
			return
		}
		list = append(list, more...)
	}
	slices.SortStableFunc(list, func(a, b store.RoleAssignment) int {
		if x := a.CreatedAt.Compare(b.CreatedAt); x != 0 {
			return x
		}
		return cmp.Compare(a.ID, b.ID)
	})
	out := make([]RoleAssignment, len(list))
	for i, a := range list {
		out[i] = roleAssignmentWire(a)
	}
	WriteList(c.w, c.r, s.cfg.BaseURL, out)
}

// roleAssignmentPage reads $skiptoken and $top and lists one page of f's assignments from the
// store: at most $top (DefaultPageSize when absent) after the cursor $skiptoken carries, and the
// skiptoken of the next page ("" on the last). One more row than the page is asked for, to know
// whether another page follows. A malformed $skiptoken is a 400 InvalidSkipToken.
func roleAssignmentPage(ctx context.Context, st store.Store, r *http.Request, f store.RoleAssignmentFilter) ([]store.RoleAssignment, string, error) {
	return storePage(r, func(after string, limit int) ([]store.RoleAssignment, error) {
		f.After, f.Limit = after, limit
		return st.ListRoleAssignments(ctx, f)
	}, store.RoleAssignmentCursor)
}

// storeFilter turns a list's $filter into the store's: no filter means at, above and below the
// scope; atScope() at or above it; a principal filter keeps the scope rule and narrows to that
// principal.
func storeFilter(f roleAssignmentFilter, scope string) store.RoleAssignmentFilter {
	sf := store.RoleAssignmentFilter{PrincipalID: strings.ToLower(f.PrincipalID), AtOrAbove: scope}
	if !f.AtScope {
		sf.Below = scope
	}
	return sf
}
