package arm

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/mint-id/mint/internal/odata"
)

// Microsoft.Authorization/denyAssignments, read-only
// (https://learn.microsoft.com/rest/api/authorization/deny-assignments). In Azure a deny
// assignment cannot be written by anyone: Azure itself creates them for managed applications,
// deployment stacks and Blueprints. mint has none of those, so no deny assignment can exist: the
// list is truthfully empty and a get answers 404. The calls are served (rather than 404 for the
// whole type) so that clients and the portal's Deny assignments tab read that answer from ARM,
// with ARM's permission check (denyAssignments/read at the scope; Reader has it) and filter
// validation.

const denyAssignmentsType = "Microsoft.Authorization/denyAssignments"

// DenyAssignment is the read model (never produced: mint has no deny assignments).
type DenyAssignment struct {
	ID         string         `json:"id"`
	Name       string         `json:"name"`
	Type       string         `json:"type"`
	Properties map[string]any `json:"properties"`
}

func (s *Server) serveDenyAssignments(c *call) {
	if c.r.Method != http.MethodGet && c.r.Method != http.MethodHead {
		c.fail(MethodNotAllowed(c.r.Method))
		return
	}
	if !c.collection {
		// The front door has checked denyAssignments/read at the target.
		c.fail(NewError(http.StatusNotFound, "DenyAssignmentNotFound", fmt.Sprintf("The deny assignment '%s' is not found.", c.id.Name())))
		return
	}
	scope := c.scope.String()
	ok, err := c.allowed(denyAssignmentsType+"/read", scope, false)
	if err != nil {
		c.failErr(err)
		return
	}
	if !ok {
		c.fail(c.authorizationFailed(denyAssignmentsType+"/read", scope))
		return
	}
	if e := checkDenyAssignmentFilter(c.r.URL.Query().Get("$filter")); e != nil {
		c.fail(e)
		return
	}
	WriteList(c.w, c.r, c.s.cfg.BaseURL, []DenyAssignment{})
}

const denyAssignmentFilterHelp = "Supported filters are atScope(), principalId eq '{id}', denyAssignmentName eq '{name}' and gdprExportPrincipalId eq '{id}'."

// checkDenyAssignmentFilter accepts the filters Azure documents for the list.
func checkDenyAssignmentFilter(filter string) *Error {
	clauses, err := odata.Parse(filter)
	if err != nil {
		return unsupportedQuery(filter, err.Error()+". "+denyAssignmentFilterHelp)
	}
	for _, c := range clauses {
		switch {
		case c.Kind == odata.Call && strings.EqualFold(c.Name, "atScope") && c.Value == "":
		case c.Kind == odata.Compare && c.Op == "eq" && c.Quoted &&
			(strings.EqualFold(c.Name, "principalId") || strings.EqualFold(c.Name, "denyAssignmentName") || strings.EqualFold(c.Name, "gdprExportPrincipalId")):
		default:
			return unsupportedQuery(filter, denyAssignmentFilterHelp)
		}
	}
	return nil
}
