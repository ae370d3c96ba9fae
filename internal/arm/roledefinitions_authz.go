package arm

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/mint-id/mint/internal/armid"
	"github.com/mint-id/mint/internal/authz"
	"github.com/mint-id/mint/internal/rbac"
	"github.com/mint-id/mint/internal/store"
)

// Role-definition wire types (Microsoft.Authorization 2022-04-01 RoleDefinition).

const (
	roleDefinitionsType = "Microsoft.Authorization/roleDefinitions"
	roleAssignmentsType = "Microsoft.Authorization/roleAssignments"
	authorizationNS     = "Microsoft.Authorization"
)

// RoleDefinition is ARM's role definition resource.
type RoleDefinition struct {
	ID         string                   `json:"id"`
	Name       string                   `json:"name"`
	Type       string                   `json:"type"`
	Properties RoleDefinitionProperties `json:"properties"`
}

// RoleDefinitionProperties are a role definition's properties; "type" is the role type
// (BuiltInRole or CustomRole), which the SDKs call roleType.
type RoleDefinitionProperties struct {
	RoleName         string                 `json:"roleName"`
	Type             string                 `json:"type"`
	Description      string                 `json:"description"`
	AssignableScopes []string               `json:"assignableScopes"`
	Permissions      []authz.PermissionJSON `json:"permissions"`
	CreatedOn        string                 `json:"createdOn"`
	UpdatedOn        string                 `json:"updatedOn"`
	CreatedBy        *string                `json:"createdBy"`
	UpdatedBy        *string                `json:"updatedBy"`
}

// Built-in roles carry fixed timestamps: they are not created by anyone in this installation.
const (
	builtinRoleCreatedOn = "2015-02-02T21:55:09.8806423Z"
	builtinRoleUpdatedOn = "2021-11-11T20:13:47.8628684Z"
)

// roleDefinitionID is the id ARM gives a role definition when asked at scope: subscription-level
// (/subscriptions/{s}/providers/Microsoft.Authorization/roleDefinitions/{guid}) when the scope is
// a subscription or below it, tenant-level (/providers/...) otherwise.
func roleDefinitionID(scope armid.ResourceID, guid string) string {
	if scope.SubscriptionID != "" {
		return armid.Subscription(scope.SubscriptionID).Extension(authorizationNS, "roleDefinitions", guid).String()
	}
	return armid.Root().Extension(authorizationNS, "roleDefinitions", guid).String()
}

// builtinRoleWire is a built-in role as ARM shows it when asked at scope.
func builtinRoleWire(r rbac.RoleDefinition, scope armid.ResourceID) RoleDefinition {
	return RoleDefinition{
		ID:   roleDefinitionID(scope, r.ID),
		Name: r.ID,
		Type: roleDefinitionsType,
		Properties: RoleDefinitionProperties{
			RoleName:         r.RoleName,
			Type:             rbac.BuiltInRole,
			Description:      r.Description,
			AssignableScopes: append([]string{}, r.AssignableScopes...),
			Permissions:      authz.WirePermissions(r.Permissions),
			CreatedOn:        builtinRoleCreatedOn,
			UpdatedOn:        builtinRoleUpdatedOn,
		},
	}
}

// customRoleWire is a stored custom role as ARM shows it when asked at scope.
func customRoleWire(d store.RoleDefinition, scope armid.ResourceID) (RoleDefinition, error) {
	r, err := authz.RoleFromStore(d)
	if err != nil {
		return RoleDefinition{}, err
	}
	scopes := d.AssignableScopes
	if scopes == nil {
		scopes = []string{}
	}
	return RoleDefinition{
		ID:   roleDefinitionID(scope, d.ID),
		Name: d.ID,
		Type: roleDefinitionsType,
		Properties: RoleDefinitionProperties{
			RoleName:         d.RoleName,
			Type:             rbac.CustomRole,
			Description:      d.Description,
			AssignableScopes: scopes,
			Permissions:      authz.WirePermissions(r.Permissions),
			CreatedOn:        armTime(d.CreatedAt),
			UpdatedOn:        armTime(d.UpdatedAt),
			CreatedBy:        nullable(d.CreatedBy),
			UpdatedBy:        nullable(d.UpdatedBy),
		},
	}, nil
}

func armTime(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

func nullable(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// roleDefinitionListed reports whether a role with these assignable scopes shows in a list at
// scope: ARM lists the roles "applicable at scope and above", i.e. assignable at scope; with
// atScopeAndBelow() also those assignable somewhere below it. A list at the root shows all.
func roleDefinitionListed(assignableScopes []string, scope armid.ResourceID, atScopeAndBelow bool) bool {
	if scope.IsRoot() {
		return true
	}
	for _, s := range assignableScopes {
		if rbac.ScopeCovers(s, scope.String()) || atScopeAndBelow && rbac.ScopeCovers(scope.String(), s) {
			return true
		}
	}
	return false
}

// Errors of the role-definition API.

// RoleDefinitionDoesNotExist is the answer for an unknown role definition: 404 on a GET, 400 when
// an assignment names it.
func RoleDefinitionDoesNotExist(status int, guid string) *Error {
	return NewError(status, "RoleDefinitionDoesNotExist", fmt.Sprintf("The specified role definition with ID '%s' does not exist.", guid))
}

func roleDefinitionWithSameNameExists() *Error {
	return NewError(http.StatusConflict, "RoleDefinitionWithSameNameExists", "A role definition cannot be updated with a name that already exists.")
}

func roleDefinitionHasAssignments(n int) *Error {
	return NewError(http.StatusConflict, "RoleDefinitionHasAssignments", fmt.Sprintf(
		"There are existing role assignments referencing role (code: RoleDefinitionHasAssignments). %d role assignment(s) use it; delete them first.", n))
}

func builtinRoleReadOnly(r rbac.RoleDefinition) *Error {
	return NewError(http.StatusBadRequest, "CannotModifyBuiltInRole", fmt.Sprintf(
		"The role definition '%s' (%s) is a built-in role; built-in roles cannot be created, updated or deleted. Create a custom role with a new id instead.", r.RoleName, r.ID))
}

func invalidRoleDefinition(message string) *Error {
	return NewError(http.StatusBadRequest, "InvalidRoleDefinition", message)
}

// serveRoleDefinition answers GET/PUT/DELETE on one role definition.
func (s *Server) serveRoleDefinition(c *call) {
	guid := c.id.Name()
	switch c.r.Method {
	case http.MethodGet, http.MethodHead:
		rd, err := s.roleDefinition(c, guid, c.scope)
		if err != nil {
			c.failErr(err)
			return
		}
		c.json(http.StatusOK, rd)
	case http.MethodPut:
		s.putRoleDefinition(c, guid)
	case http.MethodDelete:
		s.deleteRoleDefinition(c, guid)
	default:
		c.fail(MethodNotAllowed(c.r.Method))
	}
}

// roleDefinition finds a built-in or custom role definition and shapes it for scope.
func (s *Server) roleDefinition(c *call, guid string, scope armid.ResourceID) (RoleDefinition, error) {
	if r, ok := rbac.BuiltinRoleByID(guid); ok {
		return builtinRoleWire(r, scope), nil
	}
	d, err := s.st.GetRoleDefinition(c.ctx, guid)
	if errors.Is(err, store.ErrNotFound) {
		return RoleDefinition{}, RoleDefinitionDoesNotExist(http.StatusNotFound, guid)
	}
	if err != nil {
		return RoleDefinition{}, err
	}
	return customRoleWire(d, scope)
}

// serveRoleDefinitions lists the role definitions applicable at c.scope.
func (s *Server) serveRoleDefinitions(c *call) {
	if c.r.Method != http.MethodGet && c.r.Method != http.MethodHead {
		c.fail(MethodNotAllowed(c.r.Method))
		return
	}
	f, e := parseRoleDefinitionFilter(c.r.URL.Query().Get("$filter"))
	if e != nil {
		c.fail(e)
		return
	}
	var out []RoleDefinition
	if f.RoleType != rbac.CustomRole {
		for _, r := range rbac.BuiltinRoles() {
			if f.RoleName == "" || strings.EqualFold(f.RoleName, r.RoleName) {
				out = append(out, builtinRoleWire(r, c.scope))
			}
		}
	}
	if f.RoleType != rbac.BuiltInRole {
		defs, err := s.st.ListRoleDefinitions(c.ctx)
		if err != nil {
			c.failErr(err)
			return
		}
		slices.SortStableFunc(defs, func(a, b store.RoleDefinition) int {
			return strings.Compare(strings.ToLower(a.RoleName), strings.ToLower(b.RoleName))
		})
		for _, d := range defs {
			if f.RoleName != "" && !strings.EqualFold(f.RoleName, d.RoleName) || !roleDefinitionListed(d.AssignableScopes, c.scope, f.AtScopeAndBelow) {
				continue
			}
			rd, err := customRoleWire(d, c.scope)
			if err != nil {
				c.failErr(err)
				return
			}
			out = append(out, rd)
		}
	}
	WriteList(c.w, c.r, s.cfg.BaseURL, out)
}

// roleDefinitionBody is a role-definition PUT body.
type roleDefinitionBody struct {
	Properties *struct {
		RoleName         string                 `json:"roleName"`
		Description      string                 `json:"description"`
		Type             string                 `json:"type"`
		Permissions      []authz.PermissionJSON `json:"permissions"`
		AssignableScopes []string               `json:"assignableScopes"`
	} `json:"properties"`
}

// customRoleFromBody validates a PUT body into the custom role to store (without times or
// creator). Assignable scopes come back in canonical spelling.
func customRoleFromBody(guid string, scope armid.ResourceID, b roleDefinitionBody) (store.RoleDefinition, []authz.PermissionJSON, *Error) {
	p := b.Properties
	if p == nil {
		return store.RoleDefinition{}, nil, invalidRoleDefinition("The role definition has no properties.")
	}
	name := strings.TrimSpace(p.RoleName)
	switch {
	case name == "":
		return store.RoleDefinition{}, nil, invalidRoleDefinition("The role definition must have a roleName.")
	case len(name) > 512:
		return store.RoleDefinition{}, nil, invalidRoleDefinition("The roleName of a custom role can be at most 512 characters long.")
	case len(p.Description) > 2048:
		return store.RoleDefinition{}, nil, invalidRoleDefinition("The description of a custom role can be at most 2048 characters long.")
	case p.Type != "" && !strings.EqualFold(p.Type, rbac.CustomRole):
		return store.RoleDefinition{}, nil, invalidRoleDefinition(fmt.Sprintf("The role type '%s' cannot be created; only CustomRole can.", p.Type))
	case len(p.Permissions) == 0:
		return store.RoleDefinition{}, nil, invalidRoleDefinition("The role definition must have at least one permission block (properties.permissions).")
	case len(p.AssignableScopes) == 0:
		return store.RoleDefinition{}, nil, invalidRoleDefinition("The role definition must have at least one assignable scope (properties.assignableScopes).")
	case len(p.AssignableScopes) > 2000:
		return store.RoleDefinition{}, nil, invalidRoleDefinition("A custom role can have at most 2000 assignable scopes.")
	}
	if _, ok := rbac.BuiltinRoleByName(name); ok {
		return store.RoleDefinition{}, nil, roleDefinitionWithSameNameExists()
	}
	perms := make([]authz.PermissionJSON, len(p.Permissions))
	for i, pm := range p.Permissions {
		for _, l := range []struct {
			field string
			list  []string
		}{{"actions", pm.Actions}, {"notActions", pm.NotActions}, {"dataActions", pm.DataActions}, {"notDataActions", pm.NotDataActions}} {
			for _, a := range l.list {
				if msg := invalidActionPattern(a); msg != "" {
					return store.RoleDefinition{}, nil, NewError(http.StatusBadRequest, "InvalidActionOrNotAction", fmt.Sprintf(
						"'%s' in properties.permissions[%d].%s is not a valid action: %s.", a, i, l.field, msg))
				}
			}
		}
		if len(pm.Actions) == 0 && len(pm.DataActions) == 0 {
			return store.RoleDefinition{}, nil, invalidRoleDefinition(fmt.Sprintf("properties.permissions[%d] grants nothing: it has neither actions nor dataActions.", i))
		}
		if pm.Condition != "" && pm.ConditionVersion == "" {
			pm.ConditionVersion = "2.0"
		}
		perms[i] = authz.WirePermissions([]rbac.Permission{{Actions: pm.Actions, NotActions: pm.NotActions, DataActions: pm.DataActions,
			NotDataActions: pm.NotDataActions, Condition: pm.Condition, ConditionVersion: pm.ConditionVersion}})[0]
	}
	var scopes []string
	seen := map[string]bool{}
	for _, a := range p.AssignableScopes {
		id, err := armid.ParseScope(strings.TrimSpace(a))
		if err != nil {
			return store.RoleDefinition{}, nil, NewError(http.StatusBadRequest, "InvalidAssignableScope", fmt.Sprintf("The assignable scope '%s' is not a valid scope: %v", a, err))
		}
		if id.IsRoot() {
			return store.RoleDefinition{}, nil, NewError(http.StatusBadRequest, "InvalidAssignableScope",
				"The root scope '/' is reserved for built-in roles; a custom role's assignable scopes must be subscriptions, resource groups or resources.")
		}
		if !seen[id.Lower()] {
			seen[id.Lower()] = true
			scopes = append(scopes, id.String())
		}
	}
	return store.RoleDefinition{ID: strings.ToLower(guid), Scope: scope.String(), RoleName: name, Description: p.Description, AssignableScopes: scopes}, perms, nil
}

// invalidActionPattern says what is wrong with an action pattern, or "".
func invalidActionPattern(a string) string {
	switch {
	case strings.TrimSpace(a) == "":
		return "it is empty"
	case strings.ContainsAny(a, " \t\r\n"):
		return "it contains white space"
	case a != "*" && !strings.Contains(a, "/"):
		return "an action is {Provider}/{resourceType}/{verb} or a wildcard such as '*' or 'Microsoft.Compute/*'"
	}
	return ""
}

func (s *Server) putRoleDefinition(c *call, guid string) {
	if _, err := uuid.Parse(guid); err != nil || len(guid) != 36 {
		c.fail(NewError(http.StatusBadRequest, "InvalidRoleDefinitionId", fmt.Sprintf("The role definition ID '%s' is not valid. The role definition ID must be a GUID.", guid)))
		return
	}
	if r, ok := rbac.BuiltinRoleByID(guid); ok {
		c.fail(builtinRoleReadOnly(r))
		return
	}
	var body roleDefinitionBody
	if !c.decode(&body) {
		return
	}
	def, perms, e := customRoleFromBody(guid, c.scope, body)
	if e != nil {
		c.fail(e)
		return
	}
	// ARM requires roleDefinitions/write on every assignable scope, not only where the PUT is sent.
	for _, a := range def.AssignableScopes {
		ok, err := c.allowed(roleDefinitionsType+"/write", a, false)
		if err != nil {
			c.failErr(err)
			return
		}
		if !ok {
			c.fail(c.authorizationFailed(roleDefinitionsType+"/write", a))
			return
		}
		if e := s.scopeExists(c, a); e != nil {
			c.fail(e)
			return
		}
	}
	var err error
	if def.Permissions, err = json.Marshal(perms); err != nil {
		c.failErr(err)
		return
	}
	now := s.cfg.Clock().UTC()
	def.CreatedAt, def.UpdatedAt, def.CreatedBy, def.UpdatedBy = now, now, c.principalID(), c.principalID()
	if old, err := s.st.GetRoleDefinition(c.ctx, guid); err == nil {
		def.CreatedAt, def.CreatedBy, def.Scope = old.CreatedAt, old.CreatedBy, old.Scope
	} else if !errors.Is(err, store.ErrNotFound) {
		c.failErr(err)
		return
	}
	c.activity.SetStatuses(http.StatusCreated, http.StatusCreated) // see below
	if _, err := s.st.PutRoleDefinition(c.ctx, def); err != nil {
		if errors.Is(err, store.ErrConflict) {
			c.fail(roleDefinitionWithSameNameExists())
			return
		}
		c.failErr(err)
		return
	}
	rd, err := customRoleWire(def, c.scope)
	if err != nil {
		c.failErr(err)
		return
	}
	// 201 on create and on update: the only success code the API documents (and the SDKs accept).
	c.json(http.StatusCreated, rd)
}

func (s *Server) deleteRoleDefinition(c *call, guid string) {
	if r, ok := rbac.BuiltinRoleByID(guid); ok {
		c.fail(builtinRoleReadOnly(r))
		return
	}
	d, err := s.st.GetRoleDefinition(c.ctx, guid)
	if errors.Is(err, store.ErrNotFound) {
		WriteEmpty(c.w, c.r, http.StatusNoContent)
		return
	}
	if err != nil {
		c.failErr(err)
		return
	}
	all, err := s.st.ListRoleAssignments(c.ctx, store.RoleAssignmentFilter{Below: "/"})
	if err != nil {
		c.failErr(err)
		return
	}
	n := 0
	for _, a := range all {
		if strings.EqualFold(rbac.RoleDefinitionGUID(a.RoleDefinitionID), d.ID) {
			n++
		}
	}
	if n > 0 {
		c.fail(roleDefinitionHasAssignments(n))
		return
	}
	rd, err := customRoleWire(d, c.scope)
	if err != nil {
		c.failErr(err)
		return
	}
	if err := s.st.DeleteRoleDefinition(c.ctx, d.ID); err != nil && !errors.Is(err, store.ErrNotFound) {
		c.failErr(err)
		return
	}
	c.json(http.StatusOK, rd)
}

// scopeExists checks that the subscription and resource group of a scope exist (resources are
// not checked: a role may be made assignable on a resource before it is created).
func (s *Server) scopeExists(c *call, scope string) *Error {
	id, err := armid.ParseScope(scope)
	if err != nil {
		return AsError(err)
	}
	if id.SubscriptionID == "" {
		return nil
	}
	if _, err := s.st.GetSubscription(c.ctx, id.SubscriptionID); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return SubscriptionNotFound(id.SubscriptionID)
		}
		return c.storeError(err)
	}
	if id.ResourceGroup == "" {
		return nil
	}
	if _, err := s.st.GetResourceGroup(c.ctx, id.SubscriptionID, id.ResourceGroup); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return ResourceGroupNotFound(id.ResourceGroup)
		}
		return c.storeError(err)
	}
	return nil
}
