package arm

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/mint-id/mint/internal/odata"
)

// parseFilter parses a $filter of ARM's lists with the one OData filter parser; each list then
// decides which clauses it takes. ARM's filters have no lambdas nor two-argument functions.
func parseFilter(s string) ([]odata.Clause, error) {
	clauses, err := odata.Parse(s)
	for _, c := range clauses {
		if c.Kind == odata.Any || c.Property != "" {
			return nil, fmt.Errorf("'%s' is not a clause ARM's lists take", odata.Format([]odata.Clause{c}))
		}
	}
	return clauses, err
}

// CodeUnsupportedQuery is the code ARM's authorization provider answers for a $filter it does not
// support.
const CodeUnsupportedQuery = "UnsupportedQuery"

// roleAssignmentFilter is what a role-assignment list's $filter asks for.
type roleAssignmentFilter struct {
	// AtScope: only assignments at or above the scope (atScope()).
	AtScope bool
	// PrincipalID: only this principal's assignments (principalId eq '{id}'), and with
	// AssignedTo (assignedTo('{id}')) those of the groups it belongs to, transitively.
	PrincipalID string
	AssignedTo  bool
}

const roleAssignmentFilterHelp = "Supported filters are either 'atScope()' or 'principalId eq '{value}'' or 'assignedTo('{value}')', optionally combined with 'atScope()' using 'and'."

// parseRoleAssignmentFilter reads the $filter of a role-assignment list.
func parseRoleAssignmentFilter(filter string) (roleAssignmentFilter, *Error) {
	var f roleAssignmentFilter
	clauses, err := parseFilter(filter)
	if err != nil {
		return f, unsupportedQuery(filter, err.Error()+". "+roleAssignmentFilterHelp)
	}
	for _, c := range clauses {
		switch {
		case c.Kind == odata.Call && strings.EqualFold(c.Name, "atScope") && c.Value == "" && !f.AtScope:
			f.AtScope = true
		case (c.Kind == odata.Call && strings.EqualFold(c.Name, "assignedTo") || c.Kind == odata.Compare && strings.EqualFold(c.Name, "principalId") && c.Op == "eq") &&
			c.Value != "" && f.PrincipalID == "":
			f.PrincipalID = strings.TrimSpace(c.Value)
			f.AssignedTo = c.Kind == odata.Call
		default:
			return f, unsupportedQuery(filter, roleAssignmentFilterHelp)
		}
	}
	return f, nil
}

// roleDefinitionFilter is what a role-definition list's $filter asks for.
type roleDefinitionFilter struct {
	RoleName string // roleName eq '...', compared case-insensitively
	RoleType string // type eq 'BuiltInRole' | 'CustomRole'
	// AtScopeAndBelow also lists custom roles assignable only below the scope.
	AtScopeAndBelow bool
}

const roleDefinitionFilterHelp = "Supported filters are either roleName eq '{value}' or type eq 'BuiltInRole|CustomRole', optionally with atScopeAndBelow()."

// parseRoleDefinitionFilter reads the $filter of a role-definition list.
func parseRoleDefinitionFilter(filter string) (roleDefinitionFilter, *Error) {
	var f roleDefinitionFilter
	clauses, err := parseFilter(filter)
	if err != nil {
		return f, unsupportedQuery(filter, err.Error()+". "+roleDefinitionFilterHelp)
	}
	for _, c := range clauses {
		switch {
		case c.Kind == odata.Call && strings.EqualFold(c.Name, "atScopeAndBelow") && c.Value == "" && !f.AtScopeAndBelow:
			f.AtScopeAndBelow = true
		// roleName eq '' would read as no filter (every role): refused, as a repeated roleName is.
		case c.Kind == odata.Compare && strings.EqualFold(c.Name, "roleName") && c.Op == "eq" && f.RoleName == "" && c.Value != "":
			f.RoleName = c.Value
		case c.Kind == odata.Compare && strings.EqualFold(c.Name, "type") && c.Op == "eq" && f.RoleType == "":
			switch {
			case strings.EqualFold(c.Value, "BuiltInRole"):
				f.RoleType = "BuiltInRole"
			case strings.EqualFold(c.Value, "CustomRole"):
				f.RoleType = "CustomRole"
			default:
				return f, unsupportedQuery(filter, roleDefinitionFilterHelp)
			}
		default:
			return f, unsupportedQuery(filter, roleDefinitionFilterHelp)
		}
	}
	return f, nil
}

func unsupportedQuery(filter, detail string) *Error {
	return NewError(http.StatusBadRequest, CodeUnsupportedQuery, fmt.Sprintf("The filter '%s' is not supported. %s", filter, detail))
}
