package arm

import (
	"fmt"
	"net/http"
	"strings"
)

// filterClause is one clause of an OData-style $filter as ARM's list APIs take them: a function
// call (atScope(), assignedTo('{id}')) or a comparison (principalId eq '{id}', eventTimestamp ge
// '2024-01-01T00:00:00Z'). Clauses are joined with "and"; "or" and parentheses are not part of
// what these APIs accept.
type filterClause struct {
	Name  string // function or property name as written
	Func  bool   // a function call
	Op    string // comparison operator in lower case ("eq", "ge", ...); "" for a function
	Value string // the literal, unquoted and unescaped; "" when none
}

// parseFilter splits a $filter into its clauses. String literals are single-quoted, a doubled
// single quote standing for one quote inside them (OData); an unquoted literal runs to the next
// space. The error says where the filter stopped making sense.
func parseFilter(s string) ([]filterClause, error) {
	p := filterParser{s: s}
	var out []filterClause
	p.space()
	if p.done() {
		return nil, nil
	}
	for {
		c, err := p.clause()
		if err != nil {
			return nil, err
		}
		out = append(out, c)
		p.space()
		if p.done() {
			return out, nil
		}
		word := p.word()
		if !strings.EqualFold(word, "and") {
			if word == "" {
				return nil, fmt.Errorf("unexpected %q at position %d", string(p.s[p.i]), p.i+1)
			}
			return nil, fmt.Errorf("expected 'and' at position %d, found %q", p.i-len(word)+1, word)
		}
		if p.space() == 0 {
			return nil, fmt.Errorf("expected a space after 'and' at position %d", p.i+1)
		}
	}
}

type filterParser struct {
	s string
	i int
}

func (p *filterParser) done() bool { return p.i >= len(p.s) }

func (p *filterParser) space() int {
	n := 0
	for p.i < len(p.s) && (p.s[p.i] == ' ' || p.s[p.i] == '\t') {
		p.i++
		n++
	}
	return n
}

// word reads a name: letters, digits, '_', '.', '/' and '$'.
func (p *filterParser) word() string {
	start := p.i
	for p.i < len(p.s) {
		c := p.s[p.i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '.' || c == '/' || c == '$' {
			p.i++
			continue
		}
		break
	}
	return p.s[start:p.i]
}

func (p *filterParser) clause() (filterClause, error) {
	name := p.word()
	if name == "" {
		if p.done() {
			return filterClause{}, fmt.Errorf("the filter ends where a clause was expected")
		}
		return filterClause{}, fmt.Errorf("unexpected %q at position %d", string(p.s[p.i]), p.i+1)
	}
	if !p.done() && p.s[p.i] == '(' {
		p.i++
		p.space()
		c := filterClause{Name: name, Func: true}
		if !p.done() && p.s[p.i] == '\'' {
			v, err := p.quoted()
			if err != nil {
				return c, err
			}
			c.Value = v
			p.space()
		}
		if p.done() || p.s[p.i] != ')' {
			return c, fmt.Errorf("expected ')' to close %s( at position %d", name, p.i+1)
		}
		p.i++
		return c, nil
	}
	if p.space() == 0 {
		return filterClause{}, fmt.Errorf("expected an operator after %q", name)
	}
	op := strings.ToLower(p.word())
	switch op {
	case "eq", "ne", "ge", "gt", "le", "lt":
	case "":
		return filterClause{}, fmt.Errorf("expected an operator after %q", name)
	default:
		return filterClause{}, fmt.Errorf("unknown operator %q after %q", op, name)
	}
	if p.space() == 0 {
		return filterClause{}, fmt.Errorf("expected a value after %q %s", name, op)
	}
	c := filterClause{Name: name, Op: op}
	if !p.done() && p.s[p.i] == '\'' {
		v, err := p.quoted()
		if err != nil {
			return c, err
		}
		c.Value = v
		return c, nil
	}
	start := p.i
	for p.i < len(p.s) && p.s[p.i] != ' ' && p.s[p.i] != '\t' {
		p.i++
	}
	if p.i == start {
		return c, fmt.Errorf("expected a value after %q %s", name, op)
	}
	c.Value = p.s[start:p.i]
	return c, nil
}

// quoted reads a single-quoted literal at p.i.
func (p *filterParser) quoted() (string, error) {
	start := p.i
	p.i++ // opening quote
	var b strings.Builder
	for p.i < len(p.s) {
		c := p.s[p.i]
		if c == '\'' {
			if p.i+1 < len(p.s) && p.s[p.i+1] == '\'' {
				b.WriteByte('\'')
				p.i += 2
				continue
			}
			p.i++
			return b.String(), nil
		}
		b.WriteByte(c)
		p.i++
	}
	return "", fmt.Errorf("the string starting at position %d is not closed with a quote", start+1)
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
		case c.Func && strings.EqualFold(c.Name, "atScope") && c.Value == "" && !f.AtScope:
			f.AtScope = true
		case (c.Func && strings.EqualFold(c.Name, "assignedTo") || !c.Func && strings.EqualFold(c.Name, "principalId") && c.Op == "eq") &&
			c.Value != "" && f.PrincipalID == "":
			f.PrincipalID = strings.TrimSpace(c.Value)
			f.AssignedTo = c.Func
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
		case c.Func && strings.EqualFold(c.Name, "atScopeAndBelow") && c.Value == "" && !f.AtScopeAndBelow:
			f.AtScopeAndBelow = true
		case !c.Func && strings.EqualFold(c.Name, "roleName") && c.Op == "eq" && f.RoleName == "":
			f.RoleName = c.Value
		case !c.Func && strings.EqualFold(c.Name, "type") && c.Op == "eq" && f.RoleType == "":
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
