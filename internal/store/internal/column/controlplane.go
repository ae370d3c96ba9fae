package column

import (
	"encoding/json"
	"fmt"
	"strings"
)

// Tags encodes a tag map as JSON text; nil and empty both become "{}".
func Tags(m map[string]string) (string, error) {
	if len(m) == 0 {
		return "{}", nil
	}
	b, err := json.Marshal(m)
	if err != nil {
		return "", fmt.Errorf("encode tags: %w", err)
	}
	return string(b), nil
}

// ParseTags decodes Tags' text; an empty map comes back nil.
func ParseTags(s string) (map[string]string, error) {
	var m map[string]string
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		return nil, fmt.Errorf("decode tags: %w", err)
	}
	if len(m) == 0 {
		return nil, nil
	}
	return m, nil
}

// ScopeKey folds an ARM scope or resource id into its lookup column: lower case, without
// trailing slashes. The root scope ("/", or "") is "/".
func ScopeKey(scope string) string {
	k := strings.TrimRight(Key(scope), "/")
	if k == "" {
		return "/"
	}
	return k
}

// IDKey is ScopeKey for an ARM id that may be absent: "" stays "" rather than naming the root.
func IDKey(id string) string {
	if id == "" {
		return ""
	}
	return ScopeKey(id)
}

// ScopeAncestors returns the keys a scope key is at or below: the root "/", every prefix of key
// that ends on a path-segment boundary, and key itself.
func ScopeAncestors(key string) []string {
	out := []string{"/"}
	if key == "/" {
		return out
	}
	for i := 1; i < len(key); i++ {
		if key[i] == '/' && key[i-1] != '/' {
			out = append(out, key[:i])
		}
	}
	return append(out, key)
}

// Below returns the bounds [lo, hi) of the keys strictly below key on a path-segment boundary:
// in byte order (SQLite's BINARY, PostgreSQL's "C" collation) the keys starting with key+"/" are
// exactly those at or after key+"/" and before key+"0", '0' being the byte after '/'. A range
// rather than LIKE: no escaping of '%' and '_' in names, and both databases use the index.
// The root has no useful bounds; callers treat Below of "/" as everything.
func Below(key string) (lo, hi string) {
	return key + "/", key + "0"
}

// RoleDefinitionKey folds a role definition id, a GUID or a full id ending in one
// (/subscriptions/{id}/providers/Microsoft.Authorization/roleDefinitions/{guid}), into the
// lower-cased GUID that role assignment uniqueness is keyed on.
func RoleDefinitionKey(id string) string {
	id = strings.TrimRight(id, "/")
	return Key(id[strings.LastIndexByte(id, '/')+1:])
}

// ResourceGroupKey is the scope key of a resource group, the prefix of its resources' id keys.
func ResourceGroupKey(subscriptionID, name string) string {
	return "/subscriptions/" + Key(subscriptionID) + "/resourcegroups/" + Key(name)
}

// ActivityLimit is the number of events ListActivity returns for a filter's Limit.
func ActivityLimit(limit int) int {
	if limit <= 0 {
		return 100
	}
	return limit
}
