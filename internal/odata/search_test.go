package odata

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestParseSearch(t *testing.T) {
	cl := func(p, text string) *Search { return &Search{Property: p, Text: text} }
	and := func(l, r *Search) *Search { return &Search{Op: "AND", Left: l, Right: r} }
	or := func(l, r *Search) *Search { return &Search{Op: "OR", Left: l, Right: r} }
	tests := []struct {
		in      string
		want    *Search
		wantErr string
	}{
		{in: "", want: nil},
		{in: `"displayName:dev"`, want: cl("displayName", "dev")},
		{in: ` "displayName:a b" `, want: cl("displayName", "a b")},
		{in: `"displayName:Guthr" OR "mail:Guthr"`, want: or(cl("displayName", "Guthr"), cl("mail", "Guthr"))},
		{in: `"a:1" AND "b:2" OR "c:3"`, want: or(and(cl("a", "1"), cl("b", "2")), cl("c", "3"))},
		{in: `"a:1" OR "b:2" AND "c:3"`, want: or(cl("a", "1"), and(cl("b", "2"), cl("c", "3")))},
		{in: `"description:One" AND ("displayName:Video" OR "displayName:Drive")`,
			want: and(cl("description", "One"), or(cl("displayName", "Video"), cl("displayName", "Drive")))},
		{in: `"displayName:say \"hi\" \\o/"`, want: cl("displayName", `say "hi" \o/`)},
		{in: `"displayName:a:b"`, want: cl("displayName", "a:b")},
		{in: `"a:1"AND("b:2")`, want: and(cl("a", "1"), cl("b", "2"))},
		{in: `displayName:dev`, wantErr: "in double quotes"},
		{in: `"dev"`, wantErr: "does not name a property"},
		{in: `":dev"`, wantErr: "does not name a property"},
		{in: `"displayName: "`, wantErr: "no text"},
		{in: `"display Name:x"`, wantErr: "not a property name"},
		{in: `"a:1" and "b:2"`, wantErr: "upper case"},
		{in: `"a:1" "b:2"`, wantErr: "unexpected"},
		{in: `"a:1" AND`, wantErr: "unexpected"},
		{in: `"a:1" AND `, wantErr: "ends where a clause"},
		{in: `"a:1`, wantErr: "not closed"},
		{in: `"a:1\x"`, wantErr: "backslash"},
		{in: `("a:1"`, wantErr: "expected ')'"},
		{in: `"a:1")`, wantErr: "unexpected"},
		{in: strings.Repeat("(", 40) + `"a:1"` + strings.Repeat(")", 40), wantErr: "deep"},
		{in: `"a:` + strings.Repeat("x", 5000) + `"`, wantErr: "longer"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseSearch(tt.in)
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
				t.Fatalf("got %s, want %s", got, tt.want)
			}
			if again, err := ParseSearch(got.String()); err != nil || !reflect.DeepEqual(again, got) {
				t.Errorf("String %q parses as %s, %v", got.String(), again, err)
			}
		})
	}
}

func TestSearchEval(t *testing.T) {
	s, err := ParseSearch(`"a:1" AND ("b:2" OR "c:3")`)
	if err != nil {
		t.Fatal(err)
	}
	for holds, want := range map[string]bool{"a": false, "ab": true, "ac": true, "bc": false, "abc": true} {
		got := s.Eval(func(c *Search) bool { return strings.Contains(holds, c.Property) })
		if got != want {
			t.Errorf("with %q holding: %v, want %v", holds, got, want)
		}
	}
	var props []string
	_ = s.Clauses(func(c *Search) error { props = append(props, c.Property); return nil })
	if strings.Join(props, "") != "abc" {
		t.Errorf("Clauses visited %v", props)
	}
}

// FuzzParseSearch: any $search is refused with an error or parsed into a tree of well-formed
// clauses that String writes back as a search parsing to the same tree; never a panic.
func FuzzParseSearch(f *testing.F) {
	for _, s := range []string{`"displayName:dev"`, `"a:1" AND ("b:2" OR "c:3")`, `"a:\"q\""`, `(`, `"a:1" OR`, `"x"`, `"a:1"AND"b:2"`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := ParseSearch(s)
		if err != nil {
			if err.Error() == "" {
				t.Fatal("empty error")
			}
			return
		}
		if got == nil {
			if strings.TrimSpace(s) != "" {
				t.Fatalf("%q: nil search", s)
			}
			return
		}
		_ = got.Clauses(func(c *Search) error {
			if c.Property == "" || strings.TrimSpace(c.Text) == "" {
				t.Fatalf("%q: malformed clause %+v", s, c)
			}
			return nil
		})
		again, err := ParseSearch(got.String())
		if err != nil || !reflect.DeepEqual(again, got) {
			t.Fatalf("%q: String gives %q, which parses as %s, %v", s, got.String(), again, err)
		}
	})
}

func TestParseOrderBy(t *testing.T) {
	tests := []struct {
		in      string
		want    []OrderBy
		wantErr string
	}{
		{in: "", want: nil},
		{in: "displayName", want: []OrderBy{{Property: "displayName"}}},
		{in: " displayName  desc ", want: []OrderBy{{Property: "displayName", Desc: true}}},
		{in: "displayName ASC,createdDateTime DESC", want: []OrderBy{{Property: "displayName"}, {Property: "createdDateTime", Desc: true}}},
		{in: "displayName down", wantErr: "asc or desc"},
		{in: "displayName desc x", wantErr: "not \"property"},
		{in: "displayName,", wantErr: "not \"property"},
		{in: "display-name", wantErr: "not a property name"},
	}
	for _, tt := range tests {
		got, err := ParseOrderBy(tt.in)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("%q: err = %v, want %q", tt.in, err, tt.wantErr)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%q: got %+v, %v; want %+v", tt.in, got, err, tt.want)
		}
	}
}

// Refusals are *OrderByError naming the fault and the token as written, so each API can word
// them; known is checked as each key is read, so the first fault from the left is reported.
func TestOrderByErrors(t *testing.T) {
	known := func(p string) bool { return p == "name" || p == "type" }
	long := strings.Repeat("x", 60)
	for _, tc := range []struct {
		in         string
		known      func(string) bool
		fault      OrderByFault
		token, msg string
	}{
		{strings.Repeat("a,", 600), nil, OrderByTooLong, strings.Repeat("a,", 600), "$orderby is longer than 1024 characters"},
		{"a , b c d", nil, OrderByNotAKey, "b c d", `$orderby: "b c d" is not "property [asc|desc]"`},
		{"a-" + long, nil, OrderByBadProperty, "a-" + long, `$orderby: "a-` + long[:48] + `…" is not a property name`},
		{"name down", known, OrderByBadDirection, "down", `$orderby: expected asc or desc after name, found "down"`},
		{"color down", known, OrderByUnknownProperty, "color", `$orderby: "color" is not a property this list is sorted by`},
		{"color down", nil, OrderByBadDirection, "down", `$orderby: expected asc or desc after color, found "down"`},
		{"name down, color", known, OrderByBadDirection, "down", `$orderby: expected asc or desc after name, found "down"`},
	} {
		_, err := ParseOrderByOf(tc.in, tc.known)
		var oe *OrderByError
		if !errors.As(err, &oe) || oe.Fault != tc.fault || oe.Token != tc.token || err.Error() != tc.msg {
			t.Errorf("%q: %#v %v", tc.in, oe, err)
		}
	}
	if keys, err := ParseOrderByOf("name desc,type", known); err != nil || len(keys) != 2 || !keys[0].Desc {
		t.Errorf("known keys: %+v %v", keys, err)
	}
}

// FuzzParseOrderBy: refused, or keys that FormatOrderBy writes back as the same keys.
func FuzzParseOrderBy(f *testing.F) {
	for _, s := range []string{"displayName", "displayName desc,createdDateTime", "a b", ",", "x asc "} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		keys, err := ParseOrderBy(s)
		if err != nil {
			var oe *OrderByError
			if !errors.As(err, &oe) || oe.Fault < OrderByTooLong || oe.Fault > OrderByBadDirection || oe.Fault == OrderByUnknownProperty {
				t.Fatalf("%q: %#v", s, err)
			}
			return
		}
		for _, k := range keys {
			if k.Property == "" {
				t.Fatalf("%q: empty property", s)
			}
		}
		again, err := ParseOrderBy(FormatOrderBy(keys))
		if err != nil || !reflect.DeepEqual(again, keys) {
			t.Fatalf("%q: FormatOrderBy gives %q, which parses as %+v, %v", s, FormatOrderBy(keys), again, err)
		}
	})
}

func TestParseCount(t *testing.T) {
	for in, want := range map[string]bool{"": false, "true": true, "TRUE": true, "false": false} {
		if got, err := ParseCount(in); err != nil || got != want {
			t.Errorf("ParseCount(%q) = %v, %v", in, got, err)
		}
	}
	for _, in := range []string{"yes", "1", "truee"} {
		if _, err := ParseCount(in); err == nil {
			t.Errorf("ParseCount(%q) accepted", in)
		}
	}
}
