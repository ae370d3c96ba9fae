package odata

import (
	"reflect"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	eq := func(name, v string) Clause {
		return Clause{Kind: Compare, Name: name, Op: "eq", Value: v, Quoted: true}
	}
	tests := []struct {
		in      string
		want    []Clause
		wantErr string
	}{
		{in: "", want: nil},
		{in: "   ", want: nil},
		{in: "atScope()", want: []Clause{{Kind: Call, Name: "atScope"}}},
		{in: "assignedTo('abc')", want: []Clause{{Kind: Call, Name: "assignedTo", Value: "abc", Quoted: true}}},
		{in: "assignedTo( 'abc' )", want: []Clause{{Kind: Call, Name: "assignedTo", Value: "abc", Quoted: true}}},
		{in: "startswith(displayName,'Win')", want: []Clause{{Kind: Call, Name: "startswith", Property: "displayName", Value: "Win", Quoted: true}}},
		{in: "startswith( displayName , 'a b' )", want: []Clause{{Kind: Call, Name: "startswith", Property: "displayName", Value: "a b", Quoted: true}}},
		{in: "servicePrincipalNames/any(c:c eq 'a2')", want: []Clause{{Kind: Any, Name: "servicePrincipalNames", Op: "eq", Value: "a2", Quoted: true}}},
		{in: "identifierUris/any( x : x EQ 'api://o' )", want: []Clause{{Kind: Any, Name: "identifierUris", Op: "eq", Value: "api://o", Quoted: true}}},
		{in: "principalId eq 'p1'", want: []Clause{eq("principalId", "p1")}},
		{in: "displayName eq 'a b'", want: []Clause{eq("displayName", "a b")}},
		{in: "atScope() and principalId eq 'p1'", want: []Clause{{Kind: Call, Name: "atScope"}, eq("principalId", "p1")}},
		{in: "roleName EQ 'Key Vault Secrets User'", want: []Clause{eq("roleName", "Key Vault Secrets User")}},
		{in: "roleName eq 'Reads and writes'", want: []Clause{eq("roleName", "Reads and writes")}},
		{in: "roleName eq 'O''Brien'", want: []Clause{eq("roleName", "O'Brien")}},
		{in: "resourceGroup eq 'rg1' and resourceType eq 'Microsoft.Web/sites'", want: []Clause{eq("resourceGroup", "rg1"), eq("resourceType", "Microsoft.Web/sites")}},
		{in: "eventTimestamp ge '2024-01-01T00:00:00Z' AND eventTimestamp le 2024-01-02", want: []Clause{
			{Kind: Compare, Name: "eventTimestamp", Op: "ge", Value: "2024-01-01T00:00:00Z", Quoted: true},
			{Kind: Compare, Name: "eventTimestamp", Op: "le", Value: "2024-01-02"}}},
		{in: "atScope() or principalId eq 'x'", wantErr: "expected 'and'"},
		{in: "principalId", wantErr: "expected an operator"},
		{in: "principalId like 'x'", wantErr: "unknown operator"},
		{in: "principalId eq 'x", wantErr: "not closed"},
		{in: "atScope(", wantErr: "expected ')'"},
		{in: "atScope() and", wantErr: "expected a space after 'and'"},
		{in: "atScope() and ", wantErr: "ends where a clause was expected"},
		{in: "(atScope())", wantErr: "unexpected"},
		{in: "startswith(displayName)", wantErr: "expected ','"},
		{in: "startswith(displayName,x)", wantErr: "quoted string"},
		{in: "servicePrincipalNames/all(c:c eq 'a1')", wantErr: "unsupported lambda"},
		{in: "a/b/any(c:c eq 'a1')", wantErr: "unsupported lambda"},
		{in: "names/any(c:d eq 'a1')", wantErr: "inside names/any()"},
		{in: "names/any(c:c eq a1)", wantErr: "inside names/any()"},
		{in: "names/any(c:c eq 'a1'", wantErr: "expected ')'"},
		{in: "not(x eq 'a')", wantErr: "expected ','"},
		{in: "NOT startsWith(displayName,'a')", wantErr: "unknown operator"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := Parse(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
			if again, err := Parse(Format(got)); err != nil || !reflect.DeepEqual(again, got) {
				t.Errorf("Format %q parses as %+v, %v", Format(got), again, err)
			}
		})
	}
}

func TestParseNegatable(t *testing.T) {
	tests := []struct {
		in      string
		want    []Clause
		wantErr string
	}{
		{in: "not(userType eq 'Member')", want: []Clause{{Kind: Compare, Name: "userType", Op: "eq", Value: "Member", Quoted: true, Not: true}}},
		{in: "NOT startsWith(displayName, 'Conf') and accountEnabled eq true", want: []Clause{
			{Kind: Call, Name: "startsWith", Property: "displayName", Value: "Conf", Quoted: true, Not: true},
			{Kind: Compare, Name: "accountEnabled", Op: "eq", Value: "true"}}},
		{in: "not(not(a eq 'x'))", want: []Clause{{Kind: Compare, Name: "a", Op: "eq", Value: "x", Quoted: true}}},
		{in: "not (names/any(c:c eq 'x'))", want: []Clause{{Kind: Any, Name: "names", Op: "eq", Value: "x", Quoted: true, Not: true}}},
		{in: "not(memberOf/$count eq 0)", want: []Clause{{Kind: Compare, Name: "memberOf/$count", Op: "eq", Value: "0", Not: true}}},
		{in: "a ne 'x'", want: []Clause{{Kind: Compare, Name: "a", Op: "ne", Value: "x", Quoted: true}}},
		{in: "not", wantErr: "after not"},
		{in: "not(a eq 'x'", wantErr: "to close not("},
		{in: "not'a'", wantErr: "after not"},
		{in: strings.Repeat("not(", 40) + "a eq 'x'" + strings.Repeat(")", 40), wantErr: "deep"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseNegatable(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got %+v, %v; want %+v", got, err, tt.want)
			}
			if again, err := ParseNegatable(Format(got)); err != nil || !reflect.DeepEqual(again, got) {
				t.Errorf("Format %q parses as %+v, %v", Format(got), again, err)
			}
		})
	}
}

// FuzzParse: any filter is either refused with an error or parsed into well-formed clauses that
// Format writes back as a filter parsing to the same clauses; never a panic.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"atScope()", "principalId eq 'x'", "roleName eq 'a''b' and type eq 'CustomRole'", "eventTimestamp ge 2024-01-01",
		"servicePrincipalNames/any(c:c eq 'a2')", "startswith(displayName,'W') and appId eq 'a1'", "resourceGroup eq 'rg1' and resourceType eq 'a/b'",
		"x/any(", "startswith(", "appId eq", "'", "and and", "displayName eq 'a b'"} {
		f.Add(s)
	}
	f.Add("not(a eq 'x') and NOT startswith(b,'y')")
	f.Fuzz(func(t *testing.T, s string) {
		if clauses, err := Parse(s); err == nil {
			for _, c := range clauses {
				if c.Not {
					t.Fatalf("%q: Parse gave a negated clause %+v", s, c)
				}
			}
		}
		clauses, err := ParseNegatable(s)
		if err != nil {
			if err.Error() == "" {
				t.Fatal("empty error")
			}
			return
		}
		for _, c := range clauses {
			if c.Name == "" || c.Kind < Compare || c.Kind > Any || (c.Kind == Call) != (c.Op == "") || c.Kind == Any && !c.Quoted {
				t.Fatalf("%q: malformed clause %+v", s, c)
			}
		}
		again, err := ParseNegatable(Format(clauses))
		if err != nil || !reflect.DeepEqual(again, clauses) {
			t.Fatalf("%q: Format gives %q, which parses as %+v, %v; want %+v", s, Format(clauses), again, err, clauses)
		}
	})
}
