package federation

import (
	"errors"
	"fmt"
	"strings"
)

// Expression is a flexible federated identity credential's claimsMatchingExpression (language
// version 1, Entra's preview): clauses joined by "and", each a claim lookup, an operator and a
// quoted comparand:
//
//	claims['sub'] matches 'repo:contoso/web:ref:refs/heads/*'
//	claims['sub'] eq 'repo:contoso/web:environment:prod' and claims['job_workflow_ref'] matches 'contoso/web/.github/workflows/*.yml@*'
//
// "eq" compares exactly; "matches" is a wildcard match where '*' stands for any run of
// characters (also none) and '?' for exactly one. Both are case-sensitive, like subject matching.
// A claim that is absent or not a string matches nothing. Entra accepts these only for a few
// issuers (GitHub, GitLab, Terraform Cloud); mint accepts them for any issuer.
type Expression struct {
	Clauses []Clause
}

// Clause is one comparison.
type Clause struct {
	Claim    string
	Op       string // "eq" or "matches"
	Operand  string
	Original string // the clause as written, for messages
}

// Limits of the language (Entra's are not published): short enough to read in an error message.
const (
	maxExpressionLength = 600
	maxClauses          = 8
)

// ParseExpression parses a claimsMatchingExpression value. Its errors are sentences for the
// caller.
func ParseExpression(s string) (*Expression, error) {
	if strings.TrimSpace(s) == "" {
		return nil, errors.New("The claims matching expression is empty.")
	}
	if len(s) > maxExpressionLength {
		return nil, fmt.Errorf("The claims matching expression must be at most %d characters long.", maxExpressionLength)
	}
	var e Expression
	rest := strings.TrimSpace(s)
	for {
		c, tail, err := parseClause(rest)
		if err != nil {
			return nil, fmt.Errorf("The claims matching expression %q is invalid: %v. Write clauses like claims['sub'] matches 'repo:org/app:*', joined by 'and'.", s, err)
		}
		e.Clauses = append(e.Clauses, c)
		if len(e.Clauses) > maxClauses {
			return nil, fmt.Errorf("The claims matching expression has more than %d clauses.", maxClauses)
		}
		tail = strings.TrimLeft(tail, " ")
		if tail == "" {
			return &e, nil
		}
		next, ok := cutWord(tail, "and")
		if !ok {
			return nil, fmt.Errorf("The claims matching expression %q is invalid: expected 'and' before %q.", s, clipTo(tail, 40))
		}
		rest = strings.TrimLeft(next, " ")
	}
}

func parseClause(s string) (Clause, string, error) {
	start := s
	rest, ok := strings.CutPrefix(s, "claims['")
	if !ok {
		return Clause{}, "", fmt.Errorf("a clause must start with claims['<claim name>'], not %q", clipTo(s, 40))
	}
	name, rest, ok := strings.Cut(rest, "']")
	if !ok || !validClaimName(name) {
		return Clause{}, "", fmt.Errorf("claim name %q is not a name of letters, digits, '_', '-', '.' or ':'", clipTo(name, 40))
	}
	rest = strings.TrimLeft(rest, " ")
	var op string
	for _, candidate := range []string{"matches", "eq"} {
		if tail, ok := cutWord(rest, candidate); ok {
			op, rest = candidate, tail
			break
		}
	}
	if op == "" {
		return Clause{}, "", fmt.Errorf("after claims['%s'] comes an operator, 'eq' or 'matches'", name)
	}
	rest = strings.TrimLeft(rest, " ")
	rest, ok = strings.CutPrefix(rest, "'")
	if !ok {
		return Clause{}, "", fmt.Errorf("the comparand of claims['%s'] must be in single quotes", name)
	}
	operand, tail, ok := strings.Cut(rest, "'")
	if !ok {
		return Clause{}, "", fmt.Errorf("the comparand of claims['%s'] has no closing quote", name)
	}
	return Clause{Claim: name, Op: op, Operand: operand, Original: strings.TrimSpace(start[:len(start)-len(tail)])}, tail, nil
}

// cutWord removes the keyword w (case-insensitively) from the start of s, if a space or the end
// follows it.
func cutWord(s, w string) (string, bool) {
	if len(s) < len(w) || !strings.EqualFold(s[:len(w)], w) {
		return s, false
	}
	tail := s[len(w):]
	if tail != "" && tail[0] != ' ' {
		return s, false
	}
	return tail, true
}

func validClaimName(s string) bool {
	if s == "" || len(s) > 100 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("_-.:", r)) {
			return false
		}
	}
	return true
}

// Eval reports whether the claims satisfy every clause; when not, the first failing clause and
// why, as a sentence.
func (e *Expression) Eval(claims map[string]any) (bool, string) {
	for _, c := range e.Clauses {
		v, ok := claims[c.Claim].(string)
		switch {
		case !ok && claims[c.Claim] == nil:
			return false, fmt.Sprintf("the assertion has no '%s' claim, which %s needs", c.Claim, c.Original)
		case !ok:
			return false, fmt.Sprintf("the assertion's '%s' claim is not a string, which %s needs", c.Claim, c.Original)
		case c.Op == "eq" && v != c.Operand, c.Op == "matches" && !wildcardMatch(c.Operand, v):
			return false, fmt.Sprintf("the assertion's %s is '%s', which fails %s", c.Claim, clip(v), c.Original)
		}
	}
	return true, ""
}

// wildcardMatch matches s against pattern, where '*' is any run of characters and '?' exactly one.
// Iterative with one backtrack point: linear in practice, never exponential.
func wildcardMatch(pattern, s string) bool {
	p, i := []rune(pattern), []rune(s)
	pi, si := 0, 0
	star, mark := -1, 0
	for si < len(i) {
		switch {
		case pi < len(p) && (p[pi] == '?' || p[pi] == i[si]):
			pi++
			si++
		case pi < len(p) && p[pi] == '*':
			star, mark = pi, si
			pi++
		case star >= 0:
			pi = star + 1
			mark++
			si = mark
		default:
			return false
		}
	}
	for pi < len(p) && p[pi] == '*' {
		pi++
	}
	return pi == len(p)
}

func clipTo(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
