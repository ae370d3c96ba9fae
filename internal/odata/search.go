package odata

import (
	"fmt"
	"strings"
)

// $search on Graph's directory objects (https://learn.microsoft.com/graph/search-query-parameter):
// clauses "property:text", each inside double quotes (a double quote or backslash inside escaped
// with a backslash), joined by AND and OR written in upper case outside the quotes, with
// parentheses for precedence; AND binds tighter than OR. This file only parses: how a clause
// matches an object is the API's business.

// Search is a parsed $search: a clause (Op "") or two searches joined by Op "AND" or "OR".
type Search struct {
	Op          string
	Left, Right *Search
	// Property and Text are a clause's "property:text", unescaped.
	Property, Text string
}

// Limits that keep a hostile $search cheap to parse and to evaluate.
const (
	maxSearchLength = 4096
	maxSearchDepth  = 32
)

// ParseSearch reads a $search expression; an empty (or blank) one is nil.
func ParseSearch(s string) (*Search, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	if len(s) > maxSearchLength {
		return nil, fmt.Errorf("$search is longer than %d characters", maxSearchLength)
	}
	p := searchParser{s: s}
	out, err := p.or(0)
	if err != nil {
		return nil, err
	}
	p.space()
	if !p.done() {
		return nil, fmt.Errorf("$search: unexpected %q at position %d; clauses are joined by AND or OR in upper case", p.rest(10), p.i+1)
	}
	return out, nil
}

// String writes the search back in the syntax ParseSearch reads, with parentheses wherever an OR
// sits below an AND.
func (s *Search) String() string {
	if s == nil {
		return ""
	}
	if s.Op == "" {
		r := strings.NewReplacer(`\`, `\\`, `"`, `\"`)
		return `"` + r.Replace(s.Property) + ":" + r.Replace(s.Text) + `"`
	}
	side := func(x *Search) string {
		if s.Op == "AND" && x.Op == "OR" {
			return "(" + x.String() + ")"
		}
		return x.String()
	}
	// The right side of a chain is always parenthesised when it is itself a chain of the same
	// operator, so that the tree written is the tree read back (the parser nests to the left).
	right := side(s.Right)
	if s.Right.Op == s.Op {
		right = "(" + s.Right.String() + ")"
	}
	return side(s.Left) + " " + s.Op + " " + right
}

// Clauses calls f on every clause of the search, left to right, until f returns an error.
func (s *Search) Clauses(f func(c *Search) error) error {
	if s == nil {
		return nil
	}
	if s.Op == "" {
		return f(s)
	}
	if err := s.Left.Clauses(f); err != nil {
		return err
	}
	return s.Right.Clauses(f)
}

// Eval reports whether the search holds, given whether each clause does.
func (s *Search) Eval(clause func(c *Search) bool) bool {
	switch s.Op {
	case "":
		return clause(s)
	case "AND":
		return s.Left.Eval(clause) && s.Right.Eval(clause)
	default:
		return s.Left.Eval(clause) || s.Right.Eval(clause)
	}
}

type searchParser struct {
	s string
	i int
}

func (p *searchParser) done() bool { return p.i >= len(p.s) }

func (p *searchParser) space() {
	for p.i < len(p.s) && (p.s[p.i] == ' ' || p.s[p.i] == '\t') {
		p.i++
	}
}

func (p *searchParser) rest(n int) string { return truncate(p.s[p.i:], n) }

// keyword reads AND or OR (upper case, followed by a space, a quote or a parenthesis).
func (p *searchParser) keyword() string {
	for _, k := range []string{"AND", "OR"} {
		if strings.HasPrefix(p.s[p.i:], k) {
			next := p.i + len(k)
			if next < len(p.s) && (p.s[next] == ' ' || p.s[next] == '\t' || p.s[next] == '"' || p.s[next] == '(') {
				p.i = next
				return k
			}
		}
	}
	return ""
}

func (p *searchParser) or(depth int) (*Search, error) {
	left, err := p.and(depth)
	if err != nil {
		return nil, err
	}
	for {
		p.space()
		save := p.i
		if p.keyword() != "OR" {
			p.i = save
			return left, nil
		}
		right, err := p.and(depth)
		if err != nil {
			return nil, err
		}
		left = &Search{Op: "OR", Left: left, Right: right}
	}
}

func (p *searchParser) and(depth int) (*Search, error) {
	left, err := p.primary(depth)
	if err != nil {
		return nil, err
	}
	for {
		p.space()
		save := p.i
		if p.keyword() != "AND" {
			p.i = save
			return left, nil
		}
		right, err := p.primary(depth)
		if err != nil {
			return nil, err
		}
		left = &Search{Op: "AND", Left: left, Right: right}
	}
}

func (p *searchParser) primary(depth int) (*Search, error) {
	p.space()
	switch {
	case p.done():
		return nil, fmt.Errorf("$search ends where a clause \"property:text\" was expected")
	case p.s[p.i] == '(':
		if depth >= maxSearchDepth {
			return nil, fmt.Errorf("$search nests parentheses more than %d deep", maxSearchDepth)
		}
		p.i++
		inner, err := p.or(depth + 1)
		if err != nil {
			return nil, err
		}
		p.space()
		if p.done() || p.s[p.i] != ')' {
			return nil, fmt.Errorf("$search: expected ')' at position %d", p.i+1)
		}
		p.i++
		return inner, nil
	case p.s[p.i] == '"':
		return p.clause()
	default:
		return nil, fmt.Errorf("$search: expected a clause in double quotes, \"property:text\", at position %d, found %q", p.i+1, p.rest(10))
	}
}

// clause reads "property:text" at p.i.
func (p *searchParser) clause() (*Search, error) {
	start := p.i
	p.i++ // opening quote
	var b strings.Builder
	closed := false
	for p.i < len(p.s) {
		c := p.s[p.i]
		if c == '\\' {
			if p.i+1 >= len(p.s) || (p.s[p.i+1] != '"' && p.s[p.i+1] != '\\') {
				return nil, fmt.Errorf("$search: a backslash at position %d escapes neither a double quote nor a backslash", p.i+1)
			}
			b.WriteByte(p.s[p.i+1])
			p.i += 2
			continue
		}
		p.i++
		if c == '"' {
			closed = true
			break
		}
		b.WriteByte(c)
	}
	if !closed {
		return nil, fmt.Errorf("$search: the clause starting at position %d is not closed with a double quote", start+1)
	}
	body := b.String()
	prop, text, ok := strings.Cut(body, ":")
	if !ok || prop == "" {
		return nil, fmt.Errorf("$search: the clause %q does not name a property; write \"property:text\"", truncate(body, 50))
	}
	for _, c := range prop {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return nil, fmt.Errorf("$search: %q is not a property name", truncate(prop, 50))
		}
	}
	if strings.TrimSpace(text) == "" {
		return nil, fmt.Errorf("$search: the clause %q has no text to search for", truncate(body, 50))
	}
	return &Search{Property: prop, Text: text}, nil
}
