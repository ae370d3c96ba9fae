package odata

import (
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"
)

// The paging and projection options of a Graph collection
// (https://learn.microsoft.com/graph/query-parameters): $select, $top and the $skiptoken of an
// @odata.nextLink. Each API decides which properties exist and how large a page may be.

// ParseSelect reads "$select=a,b,c": property names, trimmed, without duplicates, in the order
// written. An empty option selects nothing in particular (nil).
func ParseSelect(s string) ([]string, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	if len(s) > 4096 {
		return nil, fmt.Errorf("$select is longer than 4096 characters")
	}
	var out []string
	seen := map[string]bool{}
	for _, p := range strings.Split(s, ",") {
		p = strings.TrimSpace(p)
		if p == "" {
			return nil, fmt.Errorf("$select has an empty property name")
		}
		for _, c := range p {
			if !(c == '_' || c == '@' || c == '.' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
				return nil, fmt.Errorf("$select property %q is not a property name", p)
			}
		}
		if k := strings.ToLower(p); !seen[k] {
			seen[k] = true
			out = append(out, p)
		}
	}
	return out, nil
}

// ParseTop reads "$top=n": 0 when absent, otherwise 1..max.
func ParseTop(s string, max int) (int, error) {
	if s == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil || n < 1 || n > max {
		return 0, fmt.Errorf("Invalid page size specified: '%s'. Must be between 1 and %d inclusive.", truncate(s, 50), max)
	}
	return n, nil
}

const skipTokenPrefix = "m1."

// SkipToken makes the opaque $skiptoken of the page that starts at offset.
func SkipToken(offset int) string {
	return skipTokenPrefix + base64.RawURLEncoding.EncodeToString([]byte(strconv.Itoa(offset)))
}

// ParseSkipToken reads a $skiptoken made by SkipToken: the offset of the page (0 when absent).
func ParseSkipToken(s string) (int, error) {
	if s == "" {
		return 0, nil
	}
	rest, ok := strings.CutPrefix(s, skipTokenPrefix)
	if !ok || len(rest) > 16 {
		return 0, fmt.Errorf("the $skiptoken is not one this service handed out")
	}
	// Strict: "M0" is not a second spelling of "Mw". The decoder skips CR and LF even when
	// strict, so "M\rw" is refused on its own.
	raw, err := base64.RawURLEncoding.Strict().DecodeString(rest)
	if err != nil || strings.ContainsAny(rest, "\r\n") {
		return 0, fmt.Errorf("the $skiptoken is not one this service handed out")
	}
	n, err := strconv.Atoi(string(raw))
	if err != nil || n < 0 || strconv.Itoa(n) != string(raw) {
		return 0, fmt.Errorf("the $skiptoken is not one this service handed out")
	}
	return n, nil
}

// ParseKeySegment reads an entity addressed by key, "users('id')" or "users(id)": the entity set
// and the key, its quotes removed and doubled quotes undone. ok is false when the segment has no
// parenthesis (a plain entity-set name); err when it has one but is not a key.
func ParseKeySegment(seg string) (set, key string, ok bool, err error) {
	open := strings.IndexByte(seg, '(')
	if open < 0 {
		return seg, "", false, nil
	}
	set, inner := seg[:open], seg[open+1:]
	if set == "" || !strings.HasSuffix(inner, ")") {
		return "", "", true, fmt.Errorf("the segment %q is not an entity set with a key in parentheses", truncate(seg, 100))
	}
	inner = inner[:len(inner)-1]
	if strings.HasPrefix(inner, "'") {
		if len(inner) < 2 || !strings.HasSuffix(inner, "'") {
			return "", "", true, fmt.Errorf("the key of %q is not a quoted string", truncate(seg, 100))
		}
		body := inner[1 : len(inner)-1]
		if strings.Contains(strings.ReplaceAll(body, "''", ""), "'") {
			return "", "", true, fmt.Errorf("the key of %q has an unescaped quote", truncate(seg, 100))
		}
		key = strings.ReplaceAll(body, "''", "'")
	} else {
		key = inner
		if strings.ContainsAny(key, "'(),=") {
			return "", "", true, fmt.Errorf("the key of %q is not a single value", truncate(seg, 100))
		}
	}
	if key == "" {
		return "", "", true, fmt.Errorf("the key of %q is empty", truncate(seg, 100))
	}
	return set, key, true, nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
