// Package column converts record fields to and from the column values both SQL implementations
// store, so that SQLite and PostgreSQL agree on what comes back: lists as JSON text with empty
// lists read back as nil, times in UTC at microsecond precision, case-insensitive keys folded
// the same way.
package column

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/mint-id/mint/internal/store"
)

// Key folds an id that is compared case-insensitively (tenant id or domain, subscription id,
// appId, identifier URI) into its lookup column. Folding happens here rather than with SQL lower(),
// whose rules differ between SQLite (ASCII only) and PostgreSQL (collation dependent).
func Key(s string) string { return strings.ToLower(s) }

// Time is t as stored: UTC, truncated to the microsecond both databases keep.
func Time(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

// Micros is t as SQLite stores it: microseconds since the Unix epoch, UTC.
func Micros(t time.Time) int64 { return Time(t).UnixMicro() }

// FromMicros reverses Micros.
func FromMicros(us int64) time.Time { return time.UnixMicro(us).UTC() }

// Bytes normalises an empty byte slice to nil, which is what reading it back yields.
func Bytes(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return b
}

// Strings encodes a list as JSON text; nil and empty both become "[]".
func Strings(v []string) (string, error) {
	if len(v) == 0 {
		return "[]", nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return "", fmt.Errorf("encode string list: %w", err)
	}
	return string(b), nil
}

// ParseStrings decodes Strings' text; an empty list comes back nil.
func ParseStrings(s string) ([]string, error) {
	var v []string
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		return nil, fmt.Errorf("decode string list: %w", err)
	}
	if len(v) == 0 {
		return nil, nil
	}
	return v, nil
}

// AppRoles encodes app roles as JSON text; nil and empty both become "[]".
func AppRoles(v []store.AppRole) (string, error) {
	if len(v) == 0 {
		return "[]", nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return "", fmt.Errorf("encode app roles: %w", err)
	}
	return string(b), nil
}

// ParseAppRoles decodes AppRoles' text; an empty list comes back nil.
func ParseAppRoles(s string) ([]store.AppRole, error) {
	var v []store.AppRole
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		return nil, fmt.Errorf("decode app roles: %w", err)
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
