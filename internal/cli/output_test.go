package cli

import (
	"bytes"
	"errors"
	"slices"
	"strings"
	"testing"
)

func TestPrintOutFormatsAsAz(t *testing.T) {
	v := []map[string]any{
		{"name": "b", "n": 2, "ok": true, "tags": map[string]any{}, "ids": []any{"x", "z"}, "none": nil},
		{"name": "a", "n": 1.5, "ok": false, "tags": map[string]any{"k": "v"}, "ids": []any{}, "none": nil},
	}
	for _, tc := range []struct {
		spec outputSpec
		want string
	}{
		{outputSpec{Format: "tsv"}, "2\t2\tb\tNone\tTrue\t\n0\t1.5\ta\tNone\tFalse\t\n"},
		{outputSpec{Format: "tsv", Query: "[].{z:name, a:n}"}, "b\t2\na\t1.5\n"},
		{outputSpec{Format: "tsv", Query: "[0].ok"}, "true\n"},
		{outputSpec{Format: "none"}, ""},
		{outputSpec{Format: "json", Query: "[1].{name:name, n:n}"}, "{\n  \"n\": 1.5,\n  \"name\": \"a\"\n}\n"},
		{outputSpec{Format: "yaml", Query: "[0].{name:name, n:n, ids:ids}"}, "ids:\n- x\n- z\n'n': 2\nname: b\n"},
		{outputSpec{Format: "table", Query: "[].{name:name, id:n, ok:ok}"}, "Name    Ok\n------  -----\nb       True\na       False\n"},
		{outputSpec{Format: "table"}, "Name    N\n------  ---\nb       2\na       1.5\n"},
	} {
		var b bytes.Buffer
		if err := printOut(&b, tc.spec, v, []column{{"Name", "name"}, {"N", "n"}}); err != nil || b.String() != tc.want {
			t.Errorf("%+v: %v\n got %q\nwant %q", tc.spec, err, b.String(), tc.want)
		}
	}
}

func TestOutputRefusalsAreAzs(t *testing.T) {
	for _, tc := range []struct {
		spec outputSpec
		want string
	}{
		{outputSpec{Format: "xml"}, "'xml' is not a valid value for '--output'. Allowed values: json, jsonc, yaml, yamlc, table, tsv, none."},
		{outputSpec{Format: "json", Query: "[?name=='x'"}, `argument --query: invalid jmespath_type value: "[?name=='x'"`},
	} {
		err := tc.spec.check()
		var usage *usageError
		if !errors.As(err, &usage) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v, want a usage error with %q", tc.spec, err, tc.want)
		}
	}
	if err := (&outputSpec{Format: "JSON"}).check(); err != nil {
		t.Errorf("az lower-cases --output: %v", err)
	}
}

func TestQueryKeyOrder(t *testing.T) {
	for q, want := range map[string][]string{
		"[].{name:name, id:clientId}": {"name", "id"},
		"[?a=='b'] | [0].{z:z, a:a}":  {"z", "a"},
		"value[*].{b:b, a:a}":         {"b", "a"},
		"[].clientId":                 nil,
		"{x:a, y:b}.x":                nil,
		"":                            nil,
		"[":                           nil,
	} {
		if got := queryKeyOrder(q); !slices.Equal(got, want) {
			t.Errorf("queryKeyOrder(%q) = %v, want %v", q, got, want)
		}
	}
}

func FuzzQueryKeyOrder(f *testing.F) {
	for _, s := range []string{"[].{a:b}", "a | b[0].{c:d}", "[?x].{y:z}", "{"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, q string) {
		_ = queryKeyOrder(q) // never panics
		var b bytes.Buffer
		_ = printOut(&b, outputSpec{Format: "tsv", Query: q}, []any{map[string]any{"a": 1}}, nil)
	})
}
