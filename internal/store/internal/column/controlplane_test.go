package column

import (
	"reflect"
	"testing"
)

func TestScopeKey(t *testing.T) {
	for in, want := range map[string]string{
		"":                                     "/",
		"/":                                    "/",
		"//":                                   "/",
		"/Subscriptions/ABC/":                  "/subscriptions/abc",
		"/subscriptions/abc/resourceGroups/RG": "/subscriptions/abc/resourcegroups/rg",
	} {
		if got := ScopeKey(in); got != want {
			t.Errorf("ScopeKey(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestScopeAncestors(t *testing.T) {
	for in, want := range map[string][]string{
		"/":                                 {"/"},
		"/subscriptions":                    {"/", "/subscriptions"},
		"/subscriptions/s/resourcegroups/g": {"/", "/subscriptions", "/subscriptions/s", "/subscriptions/s/resourcegroups", "/subscriptions/s/resourcegroups/g"},
	} {
		if got := ScopeAncestors(in); !reflect.DeepEqual(got, want) {
			t.Errorf("ScopeAncestors(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestRoleDefinitionKey(t *testing.T) {
	for in, want := range map[string]string{
		"8E3AF657-A8FF-443C-A75C-2FE8C4BCB635": "8e3af657-a8ff-443c-a75c-2fe8c4bcb635",
		"/subscriptions/x/providers/Microsoft.Authorization/roleDefinitions/8E3AF657-A8FF-443C-A75C-2FE8C4BCB635":  "8e3af657-a8ff-443c-a75c-2fe8c4bcb635",
		"/subscriptions/x/providers/Microsoft.Authorization/roleDefinitions/8e3af657-a8ff-443c-a75c-2fe8c4bcb635/": "8e3af657-a8ff-443c-a75c-2fe8c4bcb635",
	} {
		if got := RoleDefinitionKey(in); got != want {
			t.Errorf("RoleDefinitionKey(%q) = %q, want %q", in, got, want)
		}
	}
}
