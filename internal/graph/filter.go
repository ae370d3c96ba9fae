package graph

import (
	"fmt"
	"reflect"
	"strings"

	"github.com/mint-id/mint/internal/odata"
)

// The $filter subset of OData that Graph clients send to look objects up in a list: the Azure
// CLI resolves `az ad sp show --id <appId>` and `az role assignment create --assignee <appId>`
// with servicePrincipals?$filter=servicePrincipalNames/any(c:c eq '<appId>'), and applications
// with appId eq '<appId>' or identifierUris/any(...). A list that ignored the filter would answer
// with the tenant's first object, so every clause mint does not understand is refused instead.
// ne, not, endsWith and a collection's /$count are Graph's advanced operators: parseFilter names
// the first one it meets so that the list can ask for the advanced query parameters.

// endsWithProperties are the properties Graph's endsWith takes (with the advanced query
// parameters); of them, mint's objects have userPrincipalName and mail (always null).
var endsWithProperties = map[string]bool{"mail": true, "othermails": true, "userprincipalname": true, "proxyaddresses": true}

// parseFilter parses a list's $filter with the one OData filter parser and keeps the clauses
// Graph lists take: prop eq|ne value (a quoted string, true, false or null), prop/any(x:x eq
// 'value'), startswith(prop,'value'), endswith(prop,'value'), prop/$count eq|ne 0|1, each maybe
// negated with not. needs is the first advanced operator used ("" when none).
func parseFilter(filter string, col collection) (clauses []odata.Clause, needs string, err error) {
	clauses, err = odata.ParseNegatable(filter)
	if err != nil {
		return nil, "", err
	}
	advanced := func(op string) {
		if needs == "" {
			needs = op
		}
	}
	for _, c := range clauses {
		if c.Not {
			advanced("not")
		}
		switch c.Kind {
		case odata.Compare:
			if c.Op != "eq" && c.Op != "ne" {
				return nil, "", fmt.Errorf("unsupported operator %s after %s (only eq and ne)", c.Op, c.Name)
			}
			if c.Op == "ne" {
				advanced("ne")
			}
			if prop, ok := strings.CutSuffix(c.Name, "/$count"); ok {
				// Only empty and one-object collections are counted in a filter, as in Graph.
				if prop == "" || c.Quoted || (c.Value != "0" && c.Value != "1") {
					return nil, "", fmt.Errorf("%s must be compared with 0 or 1", c.Name)
				}
				advanced("$count")
				continue
			}
			if !c.Quoted && c.Value != "null" && c.Value != "true" && c.Value != "false" {
				return nil, "", fmt.Errorf("expected a quoted string, true, false or null after %s %s", c.Name, c.Op)
			}
		case odata.Call:
			switch {
			case strings.EqualFold(c.Name, "startswith") && c.Property != "":
			case strings.EqualFold(c.Name, "endswith") && c.Property != "":
				if !endsWithProperties[strings.ToLower(c.Property)] {
					return nil, "", unsupported(fmt.Sprintf("Unsupported or invalid query filter clause specified for property '%s' of resource '%s'.", c.Property, col.resource))
				}
				advanced("endsWith")
			default:
				return nil, "", fmt.Errorf("unsupported function %s (only startswith(prop,'value') and endswith(prop,'value'))", c.Name)
			}
		}
	}
	return clauses, needs, nil
}

// matchFilter reports whether obj (an object as Graph serialises it) satisfies every clause.
// Comparisons ignore case, as Graph's do for ids, names and URIs. A clause naming a property
// obj does not have, or of the wrong kind, is an error, except in a mixed collection (a group's
// members), where an object of another type simply does not match.
func matchFilter(clauses []odata.Clause, obj map[string]any, col collection) (bool, error) {
	for _, c := range clauses {
		ok, err := matchClause(c, obj, col)
		if err != nil {
			return false, err
		}
		if ok == c.Not {
			return false, nil
		}
	}
	return true, nil
}

func matchClause(c odata.Clause, obj map[string]any, col collection) (bool, error) {
	prop := c.Name
	if c.Kind == odata.Call {
		prop = c.Property
	}
	counted, isCount := strings.CutSuffix(prop, "/$count")
	if isCount {
		prop = counted
	}
	v, ok := hasProperty(obj, prop)
	if !ok {
		if col.mixed {
			return false, nil
		}
		return false, fmt.Errorf("property '%s' is not supported in a filter", prop)
	}
	switch {
	case isCount:
		rv := reflect.ValueOf(v)
		n := 0
		if v != nil && rv.Kind() == reflect.Slice {
			n = rv.Len()
		} else if v != nil {
			return false, fmt.Errorf("property '%s' is not a collection", prop)
		}
		return (fmt.Sprint(n) == c.Value) == (c.Op == "eq"), nil
	case c.Kind == odata.Any:
		list, ok := v.([]string)
		if !ok {
			return false, fmt.Errorf("property '%s' is not a collection", prop)
		}
		for _, s := range list {
			if strings.EqualFold(s, c.Value) {
				return true, nil
			}
		}
		return false, nil
	case c.Kind == odata.Compare && !c.Quoted && c.Value == "null":
		return isNull(v) == (c.Op == "eq"), nil
	case c.Kind == odata.Compare && !c.Quoted:
		b, ok := v.(bool)
		if !ok {
			return false, fmt.Errorf("property '%s' is not a Boolean", prop)
		}
		return (b == (c.Value == "true")) == (c.Op == "eq"), nil
	}
	if isNull(v) {
		// null equals no string, and begins or ends with none.
		return c.Kind == odata.Compare && c.Op == "ne", nil
	}
	s, ok := v.(string)
	if !ok {
		return false, fmt.Errorf("property '%s' is not a string", prop)
	}
	switch {
	case c.Kind == odata.Compare:
		return strings.EqualFold(s, c.Value) == (c.Op == "eq"), nil
	case strings.EqualFold(c.Name, "endswith"):
		return strings.HasSuffix(strings.ToLower(s), strings.ToLower(c.Value)), nil
	default:
		return strings.HasPrefix(strings.ToLower(s), strings.ToLower(c.Value)), nil
	}
}
