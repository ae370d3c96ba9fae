package jsonbody

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestCheck(t *testing.T) {
	for _, tc := range []struct {
		in          string
		path, key   string // "" when the document passes
		first       string
		syntaxError bool
	}{
		{in: `{"a":1,"b":{"a":2},"c":[{"a":1},{"a":2}]}`},
		{in: `[]`}, {in: `"x"`}, {in: ` {} `}, {in: `null`},
		{in: `{"value":"a","value":"b"}`, key: "value", first: "value"},
		{in: `{"principalId":"a","PrincipalId":"b"}`, key: "PrincipalId", first: "principalId"},
		{in: `{"properties":{"roleDefinitionId":"x","ROLEDEFINITIONID":"y"}}`, path: "properties", key: "ROLEDEFINITIONID", first: "roleDefinitionId"},
		{in: `{"value":[{"tags":{}},{"tags":{"k":"1","K":"2"}}]}`, path: "value[1].tags", key: "K", first: "k"},
		// The Kelvin sign folds to k, as encoding/json matches it.
		{in: "{\"kind\":1,\"\u212aind\":2}", key: "\u212aind", first: "kind"},
		// Escapes are compared after decoding.
		{in: `{"a":1,"\u0061":2}`, key: "a", first: "a"},
		{in: `{"a":{"x":1},"b":{"x":1}}`},
		{in: `{"tags":{"":"x","a":{"":1}}}`},
		{in: `{"x":1e400,"y":-0.0e-999}`},
		{in: `{"a":1} {}`, syntaxError: true},
		{in: `{"a":1`, syntaxError: true},
		{in: `[1,]`, syntaxError: true},
	} {
		err := Check([]byte(tc.in))
		var dup *DuplicateError
		switch {
		case tc.syntaxError:
			if err == nil || errors.As(err, &dup) {
				t.Errorf("Check(%s) = %v, want a syntax error", tc.in, err)
			}
		case tc.key == "":
			if err != nil {
				t.Errorf("Check(%s) = %v, want nil", tc.in, err)
			}
		case !errors.As(err, &dup) || dup.Path != tc.path || dup.Key != tc.key || dup.First != tc.first:
			t.Errorf("Check(%s) = %#v, want path %q key %q first %q", tc.in, err, tc.path, tc.key, tc.first)
		}
	}
}

func TestCheckLoneSurrogates(t *testing.T) {
	for in, off := range map[string]int{
		`{"value":"\ud800"}`:             10,
		`{"value":"a\udc00b"}`:           11,
		`{"value":"\ud800\u0041"}`:       10,
		`{"value":"\ud800\ud800\udc00"}`: 10,
		`{"\udbff":1}`:                   2,
		`["\ud83d\ude00", "\uDBFF"]`:     18,
		`{"value":"\ud800\n"}`:           10,
	} {
		var se *SurrogateError
		if err := Check([]byte(in)); !errors.As(err, &se) || se.Offset != off {
			t.Errorf("Check(%s) = %v, want a lone surrogate at %d", in, err, off)
		}
	}
	for _, in := range []string{`{"value":"\ud83d\ude00"}`, `{"value":"\\ud800"}`, `{"value":"\u00e9\uD83D\uDE00"}`, `"\\\ud83d\ude00"`} {
		if err := Check([]byte(in)); err != nil {
			t.Errorf("Check(%s) = %v", in, err)
		}
	}
}

func TestCheckEmptyKeyTwice(t *testing.T) {
	var dup *DuplicateError
	if err := Check([]byte(`{"a":{"":1,"":2}}`)); !errors.As(err, &dup) || dup.Key != "" || dup.Path != "a" {
		t.Errorf("got %v", err)
	}
}

// TestFoldIsEqualFold holds fold to the equivalence encoding/json matches names by.
func TestFoldIsEqualFold(t *testing.T) {
	words := []string{"k", "K", "\u212a", "s", "S", "\u017f", "straße", "STRASSE", "Σ", "σ", "ς", "ǅ", "ǆ", "Ǆ", "id", "ID", "ı", "İ", "i"}
	for _, a := range words {
		for _, b := range words {
			if (fold(a) == fold(b)) != strings.EqualFold(a, b) {
				t.Errorf("fold(%q)==fold(%q) is %v, EqualFold %v", a, b, fold(a) == fold(b), strings.EqualFold(a, b))
			}
		}
	}
}

// FuzzCheck: Check never panics, agrees with encoding/json on what is valid, and finds no
// duplicate in a document encoding/json re-encoded from a map (whose keys are distinct).
func FuzzCheck(f *testing.F) {
	for _, s := range []string{`{"a":1,"A":2}`, `{"a":[{"b":1,"b":2}]}`, `[[[]]]`, `{"\u212a":1,"k":2}`, `{} x`, `{"a":"\ud800"}`, `{"a":1e400}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		err := Check(data)
		var v json.RawMessage // validity as encoding/json judges it, numbers of any size
		valid := json.Unmarshal(data, &v) == nil
		var (
			dup *DuplicateError
			se  *SurrogateError
		)
		if !valid && err == nil {
			t.Fatalf("Check(%q) accepted what encoding/json refuses", data)
		}
		if valid && err != nil && !errors.As(err, &dup) && !errors.As(err, &se) {
			t.Fatalf("Check(%q) = %v on a valid document", data, err)
		}
		if err == nil && utf8.Valid(data) { // the APIs refuse invalid UTF-8 before
			// Every string survives decoding unchanged: no U+FFFD that the input did not spell.
			var decoded any
			dec := json.NewDecoder(bytes.NewReader(data))
			dec.UseNumber()
			if dec.Decode(&decoded) == nil && strings.Count(fmt.Sprint(decoded), "\ufffd") > strings.Count(string(data), "\ufffd")+strings.Count(strings.ToLower(string(data)), `\ufffd`) {
				t.Fatalf("Check(%q) passed a value decoded with U+FFFD", data)
			}
		}
	})
}
