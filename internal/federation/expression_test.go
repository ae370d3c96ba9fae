package federation

import (
	"strings"
	"testing"
)

func TestParseExpression(t *testing.T) {
	for _, tc := range []struct {
		in      string
		clauses int
		err     string // a part of the error; "" when valid
	}{
		{"claims['sub'] matches 'repo:contoso/web:*'", 1, ""},
		{"claims['sub'] eq 'x' and claims['job_workflow_ref'] matches 'contoso/web/.github/workflows/*.yml@*'", 2, ""},
		{"  claims['sub']   MATCHES 'a*'   AND   claims['aud'] eq 'b'  ", 2, ""},
		{"claims['sub'] eq ''", 1, ""},
		{"claims['kubernetes.io:namespace'] eq 'prod'", 1, ""},
		{"", 0, "is empty"},
		{"   ", 0, "is empty"},
		{"sub matches 'a'", 0, "must start with claims['<claim name>']"},
		{"claims[\"sub\"] matches 'a'", 0, "must start with claims"},
		{"claims['s b'] eq 'a'", 0, "is not a name"},
		{"claims[''] eq 'a'", 0, "is not a name"},
		{"claims['sub'] like 'a'", 0, "an operator, 'eq' or 'matches'"},
		{"claims['sub'] equals 'a'", 0, "an operator"},
		{"claims['sub'] matches a", 0, "in single quotes"},
		{"claims['sub'] matches 'a", 0, "no closing quote"},
		{"claims['sub'] matches 'a' or claims['x'] eq 'b'", 0, "expected 'and'"},
		{"claims['sub'] matches 'a' and", 0, "must start with claims"},
		{"claims['sub'] matches 'a'claims['x'] eq 'b'", 0, "expected 'and'"},
		{strings.Repeat("claims['s'] eq 'a' and ", 8) + "claims['s'] eq 'a'", 0, "more than 8 clauses"},
		{"claims['sub'] matches '" + strings.Repeat("a", 600) + "'", 0, "at most 600"},
	} {
		e, err := ParseExpression(tc.in)
		switch {
		case tc.err == "" && err != nil:
			t.Errorf("ParseExpression(%q): %v", tc.in, err)
		case tc.err == "" && len(e.Clauses) != tc.clauses:
			t.Errorf("ParseExpression(%q): %d clauses, want %d", tc.in, len(e.Clauses), tc.clauses)
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("ParseExpression(%q) = %v, want an error saying %q", tc.in, err, tc.err)
		}
	}
}

func TestExpressionEval(t *testing.T) {
	claims := map[string]any{"sub": "repo:contoso/web:ref:refs/heads/main", "job_workflow_ref": "contoso/web/.github/workflows/deploy.yml@refs/heads/main",
		"run_number": 7.0, "empty": ""}
	for _, tc := range []struct {
		expr string
		ok   bool
		why  string
	}{
		{"claims['sub'] matches 'repo:contoso/web:*'", true, ""},
		{"claims['sub'] matches 'repo:contoso/web:ref:refs/heads/*'", true, ""},
		{"claims['sub'] matches '*'", true, ""},
		{"claims['sub'] matches 'repo:contoso/web:ref:refs/heads/mai?'", true, ""},
		{"claims['sub'] matches 'repo:*:ref:*/main'", true, ""},
		{"claims['sub'] eq 'repo:contoso/web:ref:refs/heads/main'", true, ""},
		{"claims['empty'] eq ''", true, ""},
		{"claims['empty'] matches '*'", true, ""},
		{"claims['sub'] matches 'repo:contoso/web:*' and claims['job_workflow_ref'] matches 'contoso/web/.github/workflows/*.yml@refs/heads/main'", true, ""},
		{"claims['sub'] matches 'repo:contoso/api:*'", false, "the assertion's sub is 'repo:contoso/web:ref:refs/heads/main', which fails claims['sub'] matches 'repo:contoso/api:*'"},
		{"claims['sub'] matches 'REPO:contoso/web:*'", false, "which fails"},
		{"claims['sub'] eq 'repo:contoso/web:*'", false, "which fails claims['sub'] eq"},
		{"claims['sub'] matches 'repo:contoso/web:ref:refs/heads/ma?'", false, "which fails"},
		{"claims['sub'] matches 'repo:contoso/web:*' and claims['job_workflow_ref'] matches '*@refs/heads/release'", false, "job_workflow_ref is"},
		{"claims['environment'] eq 'prod'", false, "has no 'environment' claim"},
		{"claims['run_number'] eq '7'", false, "'run_number' claim is not a string"},
	} {
		e, err := ParseExpression(tc.expr)
		if err != nil {
			t.Fatalf("%q: %v", tc.expr, err)
		}
		ok, why := e.Eval(claims)
		if ok != tc.ok || !strings.Contains(why, tc.why) || (ok && why != "") {
			t.Errorf("%q: %v %q, want %v with %q", tc.expr, ok, why, tc.ok, tc.why)
		}
	}
}

func TestWildcardMatch(t *testing.T) {
	for _, tc := range []struct {
		p, s string
		ok   bool
	}{
		{"", "", true}, {"", "a", false}, {"*", "", true}, {"?", "", false}, {"?", "é", true},
		{"a*b*c", "abc", true}, {"a*b*c", "axxbyyc", true}, {"a*b*c", "axxbyy", false},
		{"*a", "aaa", true}, {"a*", "b", false}, {"**", "x", true}, {"*?*", "", false},
		{strings.Repeat("*a", 30) + "b", strings.Repeat("a", 200), false}, // no exponential backtracking
	} {
		if got := wildcardMatch(tc.p, tc.s); got != tc.ok {
			t.Errorf("wildcardMatch(%q, %q) = %v", tc.p, tc.s, got)
		}
	}
}

// FuzzExpression: parsing never panics, a parsed expression evaluates without panicking, and
// printing its clauses back parses to the same clauses.
func FuzzExpression(f *testing.F) {
	for _, s := range []string{"claims['sub'] matches 'repo:*'", "claims['a'] eq 'b' and claims['c'] matches '?*'", "claims['", "", "claims['x'] eq ''"} {
		f.Add(s, "repo:contoso/web")
	}
	f.Fuzz(func(t *testing.T, expr, value string) {
		e, err := ParseExpression(expr)
		if err != nil {
			if err.Error() == "" {
				t.Fatal("empty error")
			}
			return
		}
		e.Eval(map[string]any{"sub": value, "a": value})
		var parts []string
		for _, c := range e.Clauses {
			parts = append(parts, "claims['"+c.Claim+"'] "+c.Op+" '"+c.Operand+"'")
		}
		again, err := ParseExpression(strings.Join(parts, " and "))
		if err != nil || len(again.Clauses) != len(e.Clauses) {
			t.Fatalf("%q re-printed does not parse: %v", expr, err)
		}
		for i := range again.Clauses {
			a, b := again.Clauses[i], e.Clauses[i]
			if a.Claim != b.Claim || a.Op != b.Op || a.Operand != b.Operand {
				t.Fatalf("%q: clause %d %+v != %+v", expr, i, a, b)
			}
		}
	})
}
