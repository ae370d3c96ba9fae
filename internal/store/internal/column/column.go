// Package column converts record fields to and from the column values the SQL layer (sqlstore)
// stores on SQLite and PostgreSQL alike: lists and maps as JSON text, read back as nil when
// empty; case-insensitive ids folded into their lookup keys in Go, the same way for both
// databases; ARM scopes keyed so that "below" is a byte range.
package column

import (
	"encoding/json"
	"fmt"
	"strings"
)

// Key folds an id that is compared case-insensitively (tenant id or domain, subscription id,
// appId, identifier URI) into its lookup column. Folding happens here rather than with SQL lower(),
// whose rules differ between SQLite (ASCII only) and PostgreSQL (collation dependent).
func Key(s string) string { return strings.ToLower(s) }

// Bytes normalises an empty byte slice to nil, which is what reading it back yields.
func Bytes(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return b
}

// List encodes a list as JSON text; nil and empty both become "[]".
func List[T any](v []T) (string, error) {
	if len(v) == 0 {
		return "[]", nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return "", fmt.Errorf("encode list: %w", err)
	}
	return string(b), nil
}

// ParseList decodes List's text; an empty list comes back nil.
func ParseList[T any](s string) ([]T, error) {
	var v []T
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		return nil, fmt.Errorf("decode list: %w", err)
	}
	if len(v) == 0 {
		return nil, nil
	}
	return v, nil
}

// SignInLimit is the number of entries ListSignIns returns for a filter's Limit.
func SignInLimit(limit int) int {
	if limit <= 0 {
		return 100
	}
	return limit
}

// ExpiredAssertionsPerUse bounds the expired assertion records one UseAssertion removes, so that
// the clean-up never makes a single call slow.
const ExpiredAssertionsPerUse = 100

// DisplayKey folds a display name into the column that displayName eq and startswith look up:
// ASCII letters to lower case and nothing else, which SQLite's lower() and PostgreSQL's lower()
// under the "C" collation also do, so that a migration can fill the column in SQL.
func DisplayKey(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

// PrefixRange bounds the keys that start with prefix in byte order (SQLite's BINARY,
// PostgreSQL's "C" collation): those at or after lo and before hi, hi being prefix with its last
// byte incremented. A range rather than LIKE, for the same reasons as Below. prefix is non-empty
// ASCII without DEL, so that hi stays valid UTF-8 (PostgreSQL refuses text that is not).
func PrefixRange(prefix string) (lo, hi string) {
	b := []byte(prefix)
	b[len(b)-1]++
	return prefix, string(b)
}
