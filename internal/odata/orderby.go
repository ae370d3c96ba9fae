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

// OrderByFault says what is wrong with an $orderby, so that each API words its refusal in its
// own way.
type OrderByFault int

const (
	// OrderByTooLong: the option is longer than 1024 characters.
	OrderByTooLong OrderByFault = iota + 1
	// OrderByNotAKey: a comma-separated part is not "property [asc|desc]" (Token is the part).
	OrderByNotAKey
	// OrderByBadProperty: the property is not a property name (Token is the property).
	OrderByBadProperty
	// OrderByUnknownProperty: a property name the API does not sort by (Token is the property).
	OrderByUnknownProperty
	// OrderByBadDirection: the word after Property is neither asc nor desc (Token is the word).
	OrderByBadDirection
)

// OrderByError is ParseOrderBy's refusal: the first fault met reading the keys left to right
// and the token it is about, as written (untruncated; Error truncates).
type OrderByError struct {
	Fault    OrderByFault
	Token    string
	Property string // the key's property, for OrderByBadDirection
}

func (e *OrderByError) Error() string {
	switch e.Fault {
	case OrderByTooLong:
		return "$orderby is longer than 1024 characters"
	case OrderByNotAKey:
		return fmt.Sprintf("$orderby: %q is not \"property [asc|desc]\"", truncate(e.Token, 50))
	case OrderByBadProperty:
		return fmt.Sprintf("$orderby: %q is not a property name", truncate(e.Token, 50))
	case OrderByUnknownProperty:
		return fmt.Sprintf("$orderby: %q is not a property this list is sorted by", truncate(e.Token, 50))
	default:
		return fmt.Sprintf("$orderby: expected asc or desc after %s, found %q", e.Property, truncate(e.Token, 20))
	}
}

// ParseOrderBy reads "$orderby=prop [asc|desc], ...": the keys in the order written; an empty
// option is nil. Each API decides which properties it sorts by. Errors are *OrderByError.
func ParseOrderBy(s string) ([]OrderBy, error) {
	return ParseOrderByOf(s, nil)
}

// ParseOrderByOf is ParseOrderBy for an API that knows its properties: known says whether it
// sorts by a property name (nil: by any), checked as each key is read, so that the first fault
// from the left is the one reported.
func ParseOrderByOf(s string, known func(property string) bool) ([]OrderBy, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	if len(s) > 1024 {
		return nil, &OrderByError{Fault: OrderByTooLong, Token: s}
	}
	var out []OrderBy
	for _, part := range strings.Split(s, ",") {
		fields := strings.Fields(part)
		if len(fields) == 0 || len(fields) > 2 {
			return nil, &OrderByError{Fault: OrderByNotAKey, Token: strings.TrimSpace(part)}
		}
		for _, c := range fields[0] {
			if !(c == '_' || c == '/' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
				return nil, &OrderByError{Fault: OrderByBadProperty, Token: fields[0]}
			}
		}
		if known != nil && !known(fields[0]) {
			return nil, &OrderByError{Fault: OrderByUnknownProperty, Token: fields[0]}
		}
		o := OrderBy{Property: fields[0]}
		if len(fields) == 2 {
			switch strings.ToLower(fields[1]) {
			case "asc":
			case "desc":
				o.Desc = true
			default:
				return nil, &OrderByError{Fault: OrderByBadDirection, Token: fields[1], Property: fields[0]}
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
