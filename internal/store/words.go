package store

import (
	"strings"
	"unicode"
)

// SearchTokens splits s into lower-case words as Graph's directory search does: at spaces and
// symbols, between letters and digits, and where a lower-case letter is followed by an upper-case
// one ("HelloWorld" is hello, world; "HELLOworld" one word). The words of a run joined only by
// symbols are also kept together ("hello.world" gives hello, world and helloworld). Graph's
// $search matches a display name when every word of the search text begins one of these
// (https://learn.microsoft.com/graph/search-query-parameter); the stores keep each object's
// words in an index (SearchTerm) and Graph's in-memory path splits with the same function.
func SearchTokens(s string) []string {
	var out []string
	var word, joined strings.Builder
	parts, symbol := 0, false
	class := func(r rune) int {
		switch {
		case unicode.IsLetter(r):
			return 1
		case unicode.IsDigit(r):
			return 2
		case unicode.IsSpace(r):
			return 0
		}
		return 3
	}
	flushWord := func() {
		if word.Len() > 0 {
			out = append(out, word.String())
			joined.WriteString(word.String())
			parts++
			word.Reset()
		}
	}
	flushRun := func() {
		flushWord()
		if parts > 1 && symbol {
			out = append(out, joined.String())
		}
		joined.Reset()
		parts, symbol = 0, false
	}
	var prev rune
	for i, r := range s {
		c := class(r)
		switch c {
		case 0:
			flushRun()
		case 3:
			flushWord()
			symbol = symbol || parts > 0
		default:
			if i > 0 && (class(prev) != c || unicode.IsLower(prev) && unicode.IsUpper(r)) {
				flushWord()
			}
			word.WriteRune(unicode.ToLower(r))
		}
		prev = r
	}
	flushRun()
	return out
}

// MaxIndexedWord is the length in bytes at which the stores cut a display name's word in their
// search index (a btree entry has a size limit; nobody types 128 letters into a picker). A
// search word longer than this is not asked of the store.
const MaxIndexedWord = 128

// IndexedWords are the distinct words of a display name the stores index for $search: its
// SearchTokens, each cut to at most MaxIndexedWord bytes (at a character boundary). A search
// word of at most MaxIndexedWord bytes begins a word exactly when it begins the cut word.
func IndexedWords(displayName string) []string {
	var out []string
	seen := map[string]bool{}
	for _, w := range SearchTokens(displayName) {
		if len(w) > MaxIndexedWord {
			cut := MaxIndexedWord
			for cut > 0 && !isRuneStart(w[cut]) {
				cut--
			}
			w = w[:cut]
		}
		if w != "" && !seen[w] {
			seen[w] = true
			out = append(out, w)
		}
	}
	return out
}

func isRuneStart(b byte) bool { return b&0xC0 != 0x80 }

// SearchTerm is a Graph $search the store answers from its indexes (PrincipalFilter.Search,
// PeopleFilter.Search): clauses joined by AND and OR. Callers build it only for what the
// indexes answer exactly as Graph does, and only with printable ASCII text: a display name by
// its words (every one of Words begins one of the object's IndexedWords), the other properties
// by the beginning of their folded key.
type SearchTerm struct {
	Op          string // "AND", "OR", or "" for a clause
	Left, Right *SearchTerm
	// A clause: Property is one of the Search* constants; Words (for SearchDisplayName) are
	// SearchTokens of the text, each at most MaxIndexedWord bytes; Prefix (for the others) is
	// the text, compared ignoring case.
	Property SearchProperty
	Words    []string
	Prefix   string
}

// SearchProperty names what a SearchTerm clause looks at.
type SearchProperty int

const (
	SearchDisplayName       SearchProperty = iota + 1 // by words
	SearchObjectID                                    // id, by beginning
	SearchAppID                                       // appId (principals), by beginning
	SearchUserPrincipalName                           // userPrincipalName (users), by beginning
	SearchMailNickname                                // mailNickname (users, groups), by beginning
)
