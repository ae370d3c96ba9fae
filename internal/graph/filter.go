package graph

import (
	"fmt"
	"strings"
	"unicode"
)

// The $filter subset of OData that Graph clients send to look objects up in a list: the Azure
// CLI resolves `az ad sp show --id <appId>` and `az role assignment create --assignee <appId>`
// with servicePrincipals?$filter=servicePrincipalNames/any(c:c eq '<appId>'), and applications
// with appId eq '<appId>' or identifierUris/any(...). A list that ignored the filter would answer
// with the tenant's first object, so every clause mint does not understand is refused instead.

// filterClause is one comparison of a filter; a filter matches when all its clauses do.
type filterClause struct {
	op    string // "eq", "any" (collection contains), "startswith"
	prop  string
	value string
}

// parseFilter parses clauses joined by "and", each one of
//
//	prop eq 'value'
//	prop/any(x:x eq 'value')
//	startswith(prop,'value')
//
// String literals use OData quoting: a quote inside a literal is doubled.
func parseFilter(filter string) ([]filterClause, error) {
	p := &filterParser{s: filter}
	var out []filterClause
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
		if !p.keyword("and") {
			return nil, fmt.Errorf("expected 'and' at position %d", p.i)
		}
	}
}

type filterParser struct {
	s string
	i int
}

func (p *filterParser) done() bool { return p.i >= len(p.s) }

func (p *filterParser) space() {
	for p.i < len(p.s) && p.s[p.i] == ' ' {
		p.i++
	}
}

// keyword consumes word (case-insensitively) followed by a space.
func (p *filterParser) keyword(word string) bool {
	p.space()
	end := p.i + len(word)
	if end < len(p.s) && strings.EqualFold(p.s[p.i:end], word) && p.s[end] == ' ' {
		p.i = end
		return true
	}
	return false
}

func (p *filterParser) ident() string {
	p.space()
	start := p.i
	for p.i < len(p.s) {
		r := rune(p.s[p.i])
		if !unicode.IsLetter(r) && !unicode.IsDigit(r) && r != '_' {
			break
		}
		p.i++
	}
	return p.s[start:p.i]
}

func (p *filterParser) expect(tok string) error {
	p.space()
	if !strings.HasPrefix(p.s[p.i:], tok) {
		return fmt.Errorf("expected %q at position %d", tok, p.i)
	}
	p.i += len(tok)
	return nil
}

func (p *filterParser) literal() (string, error) {
	p.space()
	if p.done() || p.s[p.i] != '\'' {
		return "", fmt.Errorf("expected a quoted string at position %d", p.i)
	}
	var b strings.Builder
	for p.i++; p.i < len(p.s); p.i++ {
		if p.s[p.i] == '\'' {
			if p.i+1 < len(p.s) && p.s[p.i+1] == '\'' {
				b.WriteByte('\'')
				p.i++
				continue
			}
			p.i++
			return b.String(), nil
		}
		b.WriteByte(p.s[p.i])
	}
	return "", fmt.Errorf("unterminated string")
}

func (p *filterParser) clause() (filterClause, error) {
	name := p.ident()
	if name == "" {
		return filterClause{}, fmt.Errorf("expected a property or function at position %d", p.i)
	}
	if strings.EqualFold(name, "startswith") {
		if err := p.expect("("); err != nil {
			return filterClause{}, err
		}
		prop := p.ident()
		if err := p.expect(","); err != nil {
			return filterClause{}, err
		}
		v, err := p.literal()
		if err != nil {
			return filterClause{}, err
		}
		return filterClause{op: "startswith", prop: prop, value: v}, p.expect(")")
	}
	if p.i < len(p.s) && p.s[p.i] == '/' {
		p.i++
		if fn := p.ident(); !strings.EqualFold(fn, "any") {
			return filterClause{}, fmt.Errorf("unsupported lambda operator %q (only any)", fn)
		}
		if err := p.expect("("); err != nil {
			return filterClause{}, err
		}
		v := p.ident()
		if err := p.expect(":"); err != nil {
			return filterClause{}, err
		}
		if p.ident() != v || !p.keyword("eq") {
			return filterClause{}, fmt.Errorf("expected %s eq '<value>' inside any()", v)
		}
		lit, err := p.literal()
		if err != nil {
			return filterClause{}, err
		}
		return filterClause{op: "any", prop: name, value: lit}, p.expect(")")
	}
	if !p.keyword("eq") {
		return filterClause{}, fmt.Errorf("unsupported operator after %s at position %d (only eq)", name, p.i)
	}
	v, err := p.literal()
	return filterClause{op: "eq", prop: name, value: v}, err
}

// matchFilter reports whether obj (an object as Graph serialises it) satisfies every clause.
// Comparisons ignore case, as Graph's do for ids, names and URIs. A clause naming a property
// obj does not have, or of the wrong kind, is an error.
func matchFilter(clauses []filterClause, obj map[string]any) (bool, error) {
	for _, c := range clauses {
		v, ok := obj[c.prop]
		if !ok {
			return false, fmt.Errorf("property '%s' is not supported in a filter", c.prop)
		}
		switch c.op {
		case "any":
			list, ok := v.([]string)
			if !ok {
				return false, fmt.Errorf("property '%s' is not a collection", c.prop)
			}
			found := false
			for _, s := range list {
				found = found || strings.EqualFold(s, c.value)
			}
			if !found {
				return false, nil
			}
		default:
			s, ok := v.(string)
			if !ok {
				return false, fmt.Errorf("property '%s' is not a string", c.prop)
			}
			if c.op == "eq" && !strings.EqualFold(s, c.value) ||
				c.op == "startswith" && !strings.HasPrefix(strings.ToLower(s), strings.ToLower(c.value)) {
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
