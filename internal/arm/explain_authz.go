package arm

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"strings"

	"github.com/mint-id/mint/internal/armid"
	"github.com/mint-id/mint/internal/rbac"
	"github.com/mint-id/mint/internal/store"
)

// The access explainer (mint's own, beyond Azure): POST
// {scope}/providers/Microsoft.Authorization/explainAccess with {principalId, action, dataAction}
// answers whether the principal may perform the action at the scope, which assignment grants it,
// or which come closest and which built-in role would fix it. Anyone may explain their own access;
// explaining someone else's needs Microsoft.Authorization/roleAssignments/read at the scope, the
// permission that lets one see the assignments the answer is made of.

const explainAccessType = "Microsoft.Authorization/explainAccess"

// explainRequest is the body of an explainAccess call. dataAction is either a boolean (action is
// a data action) or the data action itself (then action may be empty).
type explainRequest struct {
	PrincipalID string          `json:"principalId"`
	Action      string          `json:"action"`
	DataAction  json.RawMessage `json:"dataAction"`
}

// query turns the request into an rbac query at scope for the caller; principalId defaults to
// the caller.
func (req explainRequest) query(callerOID, scope string) (rbac.Query, *Error) {
	q := rbac.Query{PrincipalID: strings.TrimSpace(req.PrincipalID), Action: strings.TrimSpace(req.Action), Scope: scope}
	if q.PrincipalID == "" {
		q.PrincipalID = callerOID
	}
	if raw := bytes.TrimSpace(req.DataAction); len(raw) > 0 && !bytes.Equal(raw, []byte("null")) {
		var flag bool
		var name string
		switch {
		case json.Unmarshal(raw, &flag) == nil:
			q.DataAction = flag
		case json.Unmarshal(raw, &name) == nil:
			name = strings.TrimSpace(name)
			if name != "" && q.Action != "" && !strings.EqualFold(name, q.Action) {
				return q, BadRequest("Give either action or dataAction, not two different actions: a query asks about one action.")
			}
			if name != "" {
				q.Action, q.DataAction = name, true
			}
		default:
			return q, InvalidRequestContent("dataAction must be a boolean or a data action string. Path 'dataAction'.")
		}
	}
	switch {
	case q.Action == "":
		return q, BadRequest("The request names no action: send {\"principalId\": \"...\", \"action\": \"Microsoft.KeyVault/vaults/read\"} or {\"dataAction\": \"Microsoft.KeyVault/vaults/secrets/getSecret/action\"}.")
	case invalidActionPattern(q.Action) != "" || strings.Contains(q.Action, "*"):
		return q, BadRequest("'" + q.Action + "' is not an action: ask about one concrete action such as Microsoft.KeyVault/vaults/secrets/getSecret/action, without wildcards.")
	case !isGUID(q.PrincipalID):
		return q, NewError(http.StatusBadRequest, "InvalidPrincipalId", "'"+q.PrincipalID+"' is not a principal id (a GUID).")
	}
	return q, nil
}

// mayExplain: callers may always explain their own access; someone else's needs the right to
// read the role assignments at the scope.
func mayExplain(callerOID, principalID string, canReadAssignments bool) bool {
	return strings.EqualFold(callerOID, principalID) || canReadAssignments
}

// AccessExplanation is the answer of explainAccess.
type AccessExplanation struct {
	PrincipalID string `json:"principalId"`
	Action      string `json:"action"`
	DataAction  bool   `json:"dataAction"`
	Scope       string `json:"scope"`
	Allowed     bool   `json:"allowed"`
	// GrantedBy is the assignment that grants the action (the most specific one); AlsoGrantedBy
	// the others that do.
	GrantedBy     *ExplainedAssignment  `json:"grantedBy"`
	AlsoGrantedBy []ExplainedAssignment `json:"alsoGrantedBy"`
	// Closest are, when denied, the principal's assignments nearest to granting, best first.
	Closest       []ExplainedAssignment `json:"closest"`
	MissingAction *string               `json:"missingAction"`
	Suggestion    *RoleSuggestion       `json:"suggestion"`
	Summary       string                `json:"summary"`
}

// ExplainedAssignment is one assignment as it bears on the question.
type ExplainedAssignment struct {
	RoleAssignmentID string `json:"roleAssignmentId"`
	RoleDefinitionID string `json:"roleDefinitionId"`
	RoleName         string `json:"roleName"`
	Scope            string `json:"scope"`
	CoversScope      bool   `json:"coversScope"`
	GrantsAction     bool   `json:"grantsAction"`
	Conditional      bool   `json:"conditional"`
	Note             string `json:"note"`
	// Via names the groups through which the principal holds the assignment ("group A ⊃ B");
	// absent for the principal's own.
	Via string `json:"via,omitempty"`
}

// RoleSuggestion is the least-privileged built-in role that would allow the action at Scope.
type RoleSuggestion struct {
	RoleName string `json:"roleName"`
	RoleID   string `json:"roleId"`
	Scope    string `json:"scope"`
}

// explanationWire shapes an rbac.Explanation with ARM ids.
func explanationWire(x rbac.Explanation) AccessExplanation {
	out := AccessExplanation{
		PrincipalID: x.Query.PrincipalID, Action: x.Query.Action, DataAction: x.Query.DataAction, Scope: x.Query.Scope,
		Allowed: x.Allowed, AlsoGrantedBy: []ExplainedAssignment{}, Closest: []ExplainedAssignment{}, Summary: x.Summary,
	}
	for i, g := range x.GrantedBy {
		w := explainedWire(g)
		if i == 0 {
			out.GrantedBy = &w
			continue
		}
		out.AlsoGrantedBy = append(out.AlsoGrantedBy, w)
	}
	for _, c := range x.Closest {
		out.Closest = append(out.Closest, explainedWire(c))
	}
	if x.MissingAction != "" {
		out.MissingAction = &x.MissingAction
	}
	if s := x.Suggestion; s != nil {
		scope, err := armid.ParseScope(s.Scope)
		if err != nil {
			scope = armid.Root()
		}
		out.Suggestion = &RoleSuggestion{RoleName: s.RoleName, RoleID: roleDefinitionID(scope, s.RoleID), Scope: s.Scope}
	}
	return out
}

func explainedWire(e rbac.ExplainedAssignment) ExplainedAssignment {
	a := e.Assignment
	scope, err := armid.ParseScope(a.Scope)
	if err != nil {
		scope = armid.Root()
	}
	return ExplainedAssignment{
		RoleAssignmentID: scope.Extension(authorizationNS, "roleAssignments", a.ID).String(),
		RoleDefinitionID: roleDefinitionID(scope, rbac.RoleDefinitionGUID(a.RoleDefinitionID)),
		RoleName:         e.RoleName,
		Scope:            a.Scope,
		CoversScope:      e.CoversScope,
		GrantsAction:     e.GrantsAction,
		Conditional:      e.Conditional,
		Note:             e.Note,
		Via:              e.Via,
	}
}

// serveExplainAccess answers POST {scope}/providers/Microsoft.Authorization/explainAccess.
func (s *Server) serveExplainAccess(c *call) {
	if c.r.Method != http.MethodPost {
		c.fail(MethodNotAllowed(c.r.Method))
		return
	}
	var req explainRequest
	if !c.decode(&req) {
		return
	}
	scope := c.scope.String()
	q, e := req.query(c.principalID(), scope)
	if e != nil {
		c.fail(e)
		return
	}
	canRead := false
	if !strings.EqualFold(q.PrincipalID, c.principalID()) {
		ok, err := c.allowed(roleAssignmentsType+"/read", scope, false)
		if err != nil {
			c.failErr(err)
			return
		}
		canRead = ok
	}
	if !mayExplain(c.principalID(), q.PrincipalID, canRead) {
		c.fail(c.authorizationFailed(roleAssignmentsType+"/read", scope))
		return
	}
	x, err := s.authz.Explain(c.ctx, q)
	if err != nil {
		c.failErr(err)
		return
	}
	if _, err := s.dir.Object(c.ctx, c.caller.TenantID, q.PrincipalID); errors.Is(err, store.ErrNotFound) {
		x.Summary += "; note that no principal with id " + q.PrincipalID + " exists in the directory"
	}
	c.json(http.StatusOK, explanationWire(x))
}

// authorizationFailed is ARM's AuthorizationFailed for the caller, with mint's explanation of
// what is missing appended after Azure's own sentence (code and shape unchanged).
func (c *call) authorizationFailed(action, scope string) *Error {
	e := AuthorizationFailed(c.caller.ClientID(), c.principalID(), action, scope)
	if err := c.loadAccess(); err != nil {
		return e
	}
	x := c.access.Explain(rbac.Query{PrincipalID: c.principalID(), Action: action, Scope: explainScope(c, scope)})
	if x.Summary != "" {
		e.Message += " mint: " + x.Summary + "."
	}
	return e
}

// explainScope is where the explanation of a refusal at scope is best given: for a resource being
// created, and for a role assignment or definition (whose id is not a place anyone assigns
// roles), the scope it is created at; otherwise scope itself. Since an assignment at a parent
// covers the child, "no role grants it at the parent" is as true as at the child, and the role
// suggested there is one a user can actually assign.
func explainScope(c *call, scope string) string {
	if c.collection || c.id.IsRoot() || !strings.EqualFold(scope, c.id.String()) {
		return scope
	}
	if c.r.Method == http.MethodPut || strings.EqualFold(c.id.Provider, authorizationNS) {
		return c.scope.String()
	}
	return scope
}

// exemptFromFrontDoor lets every authenticated caller read role definitions: they are
// tenant-wide reference data, readable by every principal of the tenant in Azure, including at
// the tenant-level ids (/providers/Microsoft.Authorization/roleDefinitions/{guid}) no assignment
// below the root covers.
func (authorizationProvider) exemptFromFrontDoor(c *call) bool {
	return strings.EqualFold(c.resourceType, roleDefinitionsType) && (c.r.Method == http.MethodGet || c.r.Method == http.MethodHead)
}
