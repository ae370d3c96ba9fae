package odata

import (
	"fmt"
	"strings"
)

// OrderBy is one key of $orderby: a property, ascending unless Desc.
type OrderBy struct {
	Property string
	Desc     bool
}

// ParseOrderBy reads "$orderby=prop [asc|desc], ...": the keys in the order written; an empty
// option is nil. Each API decides which properties it sorts by.
func ParseOrderBy(s string) ([]OrderBy, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	if len(s) > 1024 {
		return nil, fmt.Errorf("$orderby is longer than 1024 characters")
	}
	var out []OrderBy
	for _, part := range strings.Split(s, ",") {
		fields := strings.Fields(part)
		if len(fields) == 0 || len(fields) > 2 {
			return nil, fmt.Errorf("$orderby: %q is not \"property [asc|desc]\"", truncate(strings.TrimSpace(part), 50))
		}
		for _, c := range fields[0] {
			if !(c == '_' || c == '/' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
				return nil, fmt.Errorf("$orderby: %q is not a property name", truncate(fields[0], 50))
			}
		}
		o := OrderBy{Property: fields[0]}
		if len(fields) == 2 {
			switch strings.ToLower(fields[1]) {
			case "asc":
			case "desc":
				o.Desc = true
			default:
				return nil, fmt.Errorf("$orderby: expected asc or desc after %s, found %q", fields[0], truncate(fields[1], 20))
			}
		}
		out = append(out, o)
	}
	return out, nil
}

// FormatOrderBy writes keys back as an $orderby that ParseOrderBy reads as the same keys.
func FormatOrderBy(keys []OrderBy) string {
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k.Property
		if k.Desc {
			parts[i] += " desc"
		}
	}
	return strings.Join(parts, ",")
}

// ParseCount reads "$count=true|false" (false when absent).
func ParseCount(s string) (bool, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "false":
		return false, nil
	case "true":
		return true, nil
	}
	return false, fmt.Errorf("Invalid $count value '%s'. Only 'true' and 'false' are valid.", truncate(s, 50))
}
