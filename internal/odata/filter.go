// Package odata parses the subset of OData's $filter that mint's Graph and ARM lists accept:
// clauses joined by "and", each a comparison (principalId eq 'x', eventTimestamp ge 2024-01-01),
// a function call (atScope(), assignedTo('x'), startswith(displayName,'x')) or a lambda over a
// collection (servicePrincipalNames/any(c:c eq 'x')). It only parses: each API decides which
// properties, operators and functions it allows and answers the rest with its own 400, so a
// list never silently ignores a filter it does not understand. "or" and parentheses are not part
// of what these APIs accept; "not" only where the API asks for it (ParseNegatable). The grammar follows OData's URL conventions
// (https://docs.oasis-open.org/odata/odata/v4.01/odata-v4.01-part2-url-conventions.html):
// string literals are single-quoted, a doubled quote standing for one quote inside them.
package odata

import (
	"fmt"
	"strings"
)

// Kind is what a clause is.
type Kind uint8

const (
	// Compare is "name op value".
	Compare Kind = iota + 1
	// Call is "name()", "name('value')" or "name(property,'value')".
	Call
	// Any is "name/any(x:x eq 'value')": the collection name holds value.
	Any
)

// Clause is one clause of a filter; a filter matches when all its clauses do.
type Clause struct {
	Kind Kind
	// Name is the property (Compare, Any) or function (Call), as written.
	Name string
	// Op is a comparison's operator in lower case: eq, ne, ge, gt, le or lt ("eq" for Any).
	Op string
	// Property is a Call's property argument (startswith(displayName,'x')), "" when none.
	Property string
	// Value is the literal, unquoted and unescaped; "" when none.
	Value string
	// Quoted says the literal was a quoted string (an unquoted one, such as a time, was not).
	Quoted bool
	// Not says the clause is negated: not(clause) or "not clause" (ParseNegatable only).
	Not bool
}

// Parse splits filter into its clauses; an empty (or blank) filter has none. The error says
// where the filter stopped making sense.
func Parse(filter string) ([]Clause, error) {
	return parse(parser{s: filter})
}

// ParseNegatable is Parse that also reads OData's not: not(clause), or not followed by a space
// and a clause (it applies to that clause only, as not binds tighter than and). Only the APIs
// that evaluate Clause.Not call it, so that no other list takes a negated clause for a plain one.
func ParseNegatable(filter string) ([]Clause, error) {
	return parse(parser{s: filter, allowNot: true})
}

func parse(p parser) ([]Clause, error) {
	var out []Clause
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

// Format writes clauses back as a filter that Parse reads as the same clauses.
func Format(clauses []Clause) string {
	parts := make([]string, len(clauses))
	for i, c := range clauses {
		parts[i] = formatClause(c)
	}
	return strings.Join(parts, " and ")
}

func formatClause(c Clause) string {
	if c.Not {
		c.Not = false
		return "not(" + formatClause(c) + ")"
	}
	var part string
	switch c.Kind {
	case Any:
		part = c.Name + "/any(c:c eq " + Quote(c.Value) + ")"
	case Call:
		var args []string
		if c.Property != "" {
			args = append(args, c.Property)
		}
		if c.Quoted {
			args = append(args, Quote(c.Value))
		}
		part = c.Name + "(" + strings.Join(args, ",") + ")"
	default:
		v := c.Value
		if c.Quoted {
			v = Quote(v)
		}
		part = c.Name + " " + c.Op + " " + v
	}
	return part
}

// Quote makes s a string literal.
func Quote(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

type parser struct {
	s        string
	i        int
	allowNot bool
	depth    int
}

func (p *parser) done() bool { return p.i >= len(p.s) }

func (p *parser) peek(c byte) bool { return p.i < len(p.s) && p.s[p.i] == c }

func (p *parser) space() int {
	n := 0
	for p.i < len(p.s) && (p.s[p.i] == ' ' || p.s[p.i] == '\t') {
		p.i++
		n++
	}
	return n
}

// word reads a name: letters, digits, '_', '.', '/' and '$'.
func (p *parser) word() string {
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

func (p *parser) expect(c byte, what string) error {
	p.space()
	if !p.peek(c) {
		return fmt.Errorf("expected '%c' %s at position %d", c, what, p.i+1)
	}
	p.i++
	return nil
}

func (p *parser) clause() (Clause, error) {
	name := p.word()
	if p.allowNot && strings.EqualFold(name, "not") {
		return p.not()
	}
	if name == "" {
		if p.done() {
			return Clause{}, fmt.Errorf("the filter ends where a clause was expected")
		}
		return Clause{}, fmt.Errorf("unexpected %q at position %d", string(p.s[p.i]), p.i+1)
	}
	if p.peek('(') {
		if slash := strings.LastIndexByte(name, '/'); slash >= 0 {
			return p.lambda(name[:slash], name[slash+1:])
		}
		return p.call(name)
	}
	if p.space() == 0 {
		return Clause{}, fmt.Errorf("expected an operator after %q", name)
	}
	op := strings.ToLower(p.word())
	switch op {
	case "eq", "ne", "ge", "gt", "le", "lt":
	case "":
		return Clause{}, fmt.Errorf("expected an operator after %q", name)
	default:
		return Clause{}, fmt.Errorf("unknown operator %q after %q", op, name)
	}
	if p.space() == 0 {
		return Clause{}, fmt.Errorf("expected a value after %q %s", name, op)
	}
	c := Clause{Kind: Compare, Name: name, Op: op}
	if p.peek('\'') {
		v, err := p.quoted()
		c.Value, c.Quoted = v, true
		return c, err
	}
	start := p.i
	for p.i < len(p.s) && p.s[p.i] != ' ' && p.s[p.i] != '\t' && p.s[p.i] != ')' {
		p.i++
	}
	if p.i == start {
		return c, fmt.Errorf("expected a value after %q %s", name, op)
	}
	c.Value = p.s[start:p.i]
	return c, nil
}

// not reads what follows "not": a clause in parentheses, or a space and a clause.
func (p *parser) not() (Clause, error) {
	if p.depth >= 32 {
		return Clause{}, fmt.Errorf("not is nested more than 32 deep at position %d", p.i+1)
	}
	p.depth++
	defer func() { p.depth-- }()
	spaced := p.space() > 0
	var c Clause
	var err error
	if p.peek('(') {
		p.i++
		p.space()
		if c, err = p.clause(); err != nil {
			return c, err
		}
		if err := p.expect(')', "to close not("); err != nil {
			return c, err
		}
	} else if spaced {
		if c, err = p.clause(); err != nil {
			return c, err
		}
	} else {
		return Clause{}, fmt.Errorf("expected '(' or a space after not at position %d", p.i+1)
	}
	c.Not = !c.Not
	return c, nil
}

// call reads name's arguments: none, a literal, or a property and a literal.
func (p *parser) call(name string) (Clause, error) {
	p.i++ // (
	p.space()
	c := Clause{Kind: Call, Name: name}
	if prop := p.word(); prop != "" {
		c.Property = prop
		if err := p.expect(',', "after "+name+"'s property"); err != nil {
			return c, err
		}
		p.space()
		if !p.peek('\'') {
			return c, fmt.Errorf("expected a quoted string as %s's second argument at position %d", name, p.i+1)
		}
	}
	if p.peek('\'') {
		v, err := p.quoted()
		if err != nil {
			return c, err
		}
		c.Value, c.Quoted = v, true
	}
	if err := p.expect(')', "to close "+name+"("); err != nil {
		return c, err
	}
	return c, nil
}

// lambda reads collection/op(x:x eq 'value'); only any is supported.
func (p *parser) lambda(collection, op string) (Clause, error) {
	if !strings.EqualFold(op, "any") || collection == "" || strings.Contains(collection, "/") {
		return Clause{}, fmt.Errorf("unsupported lambda %q at position %d (only collection/any(x:x eq 'value'))", collection+"/"+op, p.i+1)
	}
	p.i++ // (
	p.space()
	v := p.word()
	if v == "" {
		return Clause{}, fmt.Errorf("expected a variable in %s/any( at position %d", collection, p.i+1)
	}
	if err := p.expect(':', "after the lambda variable"); err != nil {
		return Clause{}, err
	}
	p.space()
	if got := p.word(); got != v {
		return Clause{}, fmt.Errorf("expected %s eq '<value>' inside %s/any() at position %d", v, collection, p.i+1)
	}
	if p.space() == 0 || !strings.EqualFold(p.word(), "eq") || p.space() == 0 || !p.peek('\'') {
		return Clause{}, fmt.Errorf("expected %s eq '<value>' inside %s/any() at position %d", v, collection, p.i+1)
	}
	lit, err := p.quoted()
	if err != nil {
		return Clause{}, err
	}
	if err := p.expect(')', "to close "+collection+"/any("); err != nil {
		return Clause{}, err
	}
	return Clause{Kind: Any, Name: collection, Op: "eq", Value: lit, Quoted: true}, nil
}

// quoted reads a single-quoted literal at p.i.
func (p *parser) quoted() (string, error) {
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
