package odata

import (
	"slices"
	"strings"
	"testing"
)

func TestParseSelect(t *testing.T) {
	for _, c := range []struct {
		in   string
		want []string
		ok   bool
	}{
		{"", nil, true},
		{"id,displayName", []string{"id", "displayName"}, true},
		{" id , displayName,ID ", []string{"id", "displayName"}, true},
		{"id,,displayName", nil, false},
		{"id;drop", nil, false},
		{"manager($select=id)", nil, false},
	} {
		got, err := ParseSelect(c.in)
		if (err == nil) != c.ok || !slices.Equal(got, c.want) {
			t.Errorf("ParseSelect(%q) = %q, %v", c.in, got, err)
		}
	}
}

func TestParseTop(t *testing.T) {
	for _, c := range []struct {
		in   string
		want int
		ok   bool
	}{{"", 0, true}, {"1", 1, true}, {"999", 999, true}, {"0", 0, false}, {"1000", 0, false}, {"-1", 0, false}, {"ten", 0, false}} {
		got, err := ParseTop(c.in, 999)
		if (err == nil) != c.ok || got != c.want {
			t.Errorf("ParseTop(%q) = %d, %v", c.in, got, err)
		}
	}
}

func TestSkipTokenRoundTrip(t *testing.T) {
	for _, n := range []int{0, 1, 100, 123456} {
		got, err := ParseSkipToken(SkipToken(n))
		if err != nil || got != n {
			t.Errorf("ParseSkipToken(SkipToken(%d)) = %d, %v", n, got, err)
		}
	}
	for _, bad := range []string{"x", "m1.", "m1.LTE", "m1.MDE", "m1.!!", "RFNwdAIAAQAAACo"} { // -1, "01"
		if _, err := ParseSkipToken(bad); err == nil {
			t.Errorf("ParseSkipToken(%q) accepted", bad)
		}
	}
}

func TestParseKeySegment(t *testing.T) {
	for _, c := range []struct {
		in, set, key string
		ok, bad      bool
	}{
		{"users", "users", "", false, false},
		{"users('abc')", "users", "abc", true, false},
		{"users('$x')", "users", "$x", true, false},
		{"users('o''brien@x')", "users", "o'brien@x", true, false},
		{"users(abc)", "users", "abc", true, false},
		{"users('')", "", "", true, true},
		{"users('a'b')", "", "", true, true},
		{"users('abc'", "", "", true, true},
		{"('abc')", "", "", true, true},
		{"users(a,b)", "", "", true, true},
	} {
		set, key, ok, err := ParseKeySegment(c.in)
		if set != c.set || key != c.key || ok != c.ok || (err != nil) != c.bad {
			t.Errorf("ParseKeySegment(%q) = %q %q %v %v", c.in, set, key, ok, err)
		}
	}
}

func FuzzParseQueryOptions(f *testing.F) {
	for _, s := range []string{"id,displayName", "users('a''b')", "m1.MTA", "999", "users(x)"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if sel, err := ParseSelect(s); err == nil {
			for _, p := range sel {
				if p == "" || strings.ContainsAny(p, ", ") {
					t.Fatalf("ParseSelect(%q) gave %q", s, p)
				}
			}
		}
		if n, err := ParseTop(s, 999); err == nil && (n < 0 || n > 999) {
			t.Fatalf("ParseTop(%q) = %d", s, n)
		}
		if n, err := ParseSkipToken(s); err == nil && s != "" {
			if n < 0 || SkipToken(n) != s {
				t.Fatalf("ParseSkipToken(%q) = %d, not a token SkipToken makes", s, n)
			}
		}
		if _, key, ok, err := ParseKeySegment(s); ok && err == nil && key == "" {
			t.Fatalf("ParseKeySegment(%q) gave an empty key", s)
		}
	})
}
