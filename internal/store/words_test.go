package store

import (
	"strings"
	"testing"
)

// A search word of at most MaxIndexedWord bytes begins one of a name's IndexedWords exactly when
// it begins one of its SearchTokens: cutting the stored words loses no match and adds none.
func FuzzIndexedWords(f *testing.F) {
	f.Add("Orders-Worker", "work")
	f.Add("O'Brien's app", "obrien")
	f.Add(strings.Repeat("a", 200)+" b", strings.Repeat("a", 128))
	f.Add(strings.Repeat("é", 100), strings.Repeat("é", 64))
	f.Add("HelloWorld 42x", "hellow")
	f.Fuzz(func(t *testing.T, name, text string) {
		indexed := IndexedWords(name)
		tokens := SearchTokens(name)
		for _, w := range indexed {
			if w == "" || len(w) > MaxIndexedWord {
				t.Fatalf("indexed word %q of %q", w, name)
			}
		}
		for _, w := range SearchTokens(text) {
			if len(w) > MaxIndexedWord {
				continue // never asked of the store
			}
			begins := func(words []string) bool {
				for _, h := range words {
					if strings.HasPrefix(h, w) {
						return true
					}
				}
				return false
			}
			if begins(indexed) != begins(tokens) {
				t.Fatalf("%q begins an indexed word of %q: %v, a token: %v (indexed %q, tokens %q)", w, name, begins(indexed), begins(tokens), indexed, tokens)
			}
		}
	})
}

func TestIndexedWords(t *testing.T) {
	for _, tc := range []struct {
		name string
		want string
	}{
		{"Orders-Worker", "orders worker ordersworker"},
		{"id-0000042", "id 0000042 id0000042"},
		{"web web Web", "web"},
		{"...", ""},
	} {
		if got := strings.Join(IndexedWords(tc.name), " "); got != tc.want {
			t.Errorf("IndexedWords(%q) = %q, want %q", tc.name, got, tc.want)
		}
	}
	long := IndexedWords(strings.Repeat("é", 100)) // 200 bytes: cut at a character boundary
	if len(long) != 1 || len(long[0]) != 128 || long[0] != strings.Repeat("é", 64) {
		t.Errorf("a long word is cut to %d bytes: %q", len(long[0]), long)
	}
}
