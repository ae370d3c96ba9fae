package graph

import (
	"fmt"
	"strings"

	"github.com/mint-id/mint/internal/odata"
)

// The $filter subset of OData that Graph clients send to look objects up in a list: the Azure
// CLI resolves `az ad sp show --id <appId>` and `az role assignment create --assignee <appId>`
// with servicePrincipals?$filter=servicePrincipalNames/any(c:c eq '<appId>'), and applications
// with appId eq '<appId>' or identifierUris/any(...). A list that ignored the filter would answer
// with the tenant's first object, so every clause mint does not understand is refused instead.

// parseFilter parses a list's $filter with the one OData filter parser and keeps the clauses
// Graph lists take: prop eq 'value', prop/any(x:x eq 'value') and startswith(prop,'value').
func parseFilter(filter string) ([]odata.Clause, error) {
	clauses, err := odata.Parse(filter)
	if err != nil {
		return nil, err
	}
	for _, c := range clauses {
		switch {
		case c.Kind == odata.Compare && c.Op != "eq":
			return nil, fmt.Errorf("unsupported operator %s after %s (only eq)", c.Op, c.Name)
		case c.Kind == odata.Compare && !c.Quoted:
			return nil, fmt.Errorf("expected a quoted string after %s eq", c.Name)
		case c.Kind == odata.Call && (!strings.EqualFold(c.Name, "startswith") || c.Property == ""):
			return nil, fmt.Errorf("unsupported function %s (only startswith(prop,'value'))", c.Name)
		}
	}
	return clauses, nil
}

// matchFilter reports whether obj (an object as Graph serialises it) satisfies every clause.
// Comparisons ignore case, as Graph's do for ids, names and URIs. A clause naming a property
// obj does not have, or of the wrong kind, is an error.
func matchFilter(clauses []odata.Clause, obj map[string]any) (bool, error) {
	for _, c := range clauses {
		prop := c.Name
		if c.Kind == odata.Call {
			prop = c.Property
		}
		v, ok := obj[prop]
		if !ok {
			return false, fmt.Errorf("property '%s' is not supported in a filter", prop)
		}
		switch c.Kind {
		case odata.Any:
			list, ok := v.([]string)
			if !ok {
				return false, fmt.Errorf("property '%s' is not a collection", prop)
			}
			found := false
			for _, s := range list {
				found = found || strings.EqualFold(s, c.Value)
			}
			if !found {
				return false, nil
			}
		default:
			s, ok := v.(string)
			if !ok {
				return false, fmt.Errorf("property '%s' is not a string", prop)
			}
			if c.Kind == odata.Compare && !strings.EqualFold(s, c.Value) ||
				c.Kind == odata.Call && !strings.HasPrefix(strings.ToLower(s), strings.ToLower(c.Value)) {
				return false, nil
			}
		}
	}
	return true, nil
}

// filterList keeps the objects matching the request's $filter (all of them without one).
func filterList(filter string, objs []map[string]any) ([]map[string]any, error) {
	if filter == "" {
		return objs, nil
	}
	clauses, err := parseFilter(filter)
	if err != nil {
		return nil, fmt.Errorf("Invalid filter clause: %v. mint's Graph supports prop eq 'value', prop/any(c:c eq 'value') and startswith(prop,'value'), joined by and", err)
	}
	out := []map[string]any{}
	for _, o := range objs {
		ok, err := matchFilter(clauses, o)
		if err != nil {
			return nil, fmt.Errorf("Invalid filter clause: %v", err)
		}
		if ok {
			out = append(out, o)
		}
	}
	return out, nil
}
