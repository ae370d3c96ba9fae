package cli

import (
	"reflect"
	"testing"
)

func TestParseTags(t *testing.T) {
	tests := []struct {
		in   []string
		want map[string]string
		bad  bool
	}{
		{in: nil, want: nil},
		{in: []string{""}, want: map[string]string{}},
		{in: []string{"a=b", "c=d=e", "flag"}, want: map[string]string{"a": "b", "c": "d=e", "flag": ""}},
		{in: []string{"=x"}, bad: true},
	}
	for _, tt := range tests {
		got, err := parseTags(tt.in)
		if (err != nil) != tt.bad || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("parseTags(%q) = %v, %v", tt.in, got, err)
		}
	}
}

func TestSplitIdentitiesAndType(t *testing.T) {
	sys, user := splitIdentities([]string{"[system]", "web-id,/subscriptions/s/resourceGroups/g/providers/Microsoft.ManagedIdentity/userAssignedIdentities/x", " "})
	if !sys || len(user) != 2 || user[0] != "web-id" {
		t.Errorf("splitIdentities = %v %v", sys, user)
	}
	for _, tt := range []struct {
		sys  bool
		n    int
		want string
	}{{true, 1, "SystemAssigned,UserAssigned"}, {true, 0, "SystemAssigned"}, {false, 2, "UserAssigned"}, {false, 0, "None"}} {
		if got := identityType(tt.sys, tt.n); got != tt.want {
			t.Errorf("identityType(%v, %d) = %q", tt.sys, tt.n, got)
		}
	}
}

func TestIdentityRef(t *testing.T) {
	id, err := identityRef("s", "g", "web-id")
	if err != nil || id != "/subscriptions/s/resourceGroups/g/providers/Microsoft.ManagedIdentity/userAssignedIdentities/web-id" {
		t.Errorf("name = %q, %v", id, err)
	}
	id, err = identityRef("s", "g", "/subscriptions/o/resourcegroups/h/providers/microsoft.managedidentity/userassignedidentities/x")
	if err != nil || id != "/subscriptions/o/resourceGroups/h/providers/Microsoft.ManagedIdentity/userAssignedIdentities/x" {
		t.Errorf("id = %q, %v", id, err)
	}
	if _, err := identityRef("s", "g", "/subscriptions/o/resourceGroups/h"); err == nil {
		t.Error("a group id was taken for an identity")
	}
	if _, err := identityRef("s", "", "web-id"); err == nil {
		t.Error("a bare name without a group was accepted")
	}
}

func TestResourceRef(t *testing.T) {
	tests := []struct {
		ref     resourceRef
		id, ver string
		bad     bool
	}{
		{ref: resourceRef{resourceType: "Microsoft.App/containerApps", group: "g", name: "web"},
			id: "/subscriptions/s/resourceGroups/g/providers/Microsoft.App/containerApps/web", ver: "2024-03-01"},
		{ref: resourceRef{resourceType: "Microsoft.Web/sites/slots", group: "g", name: "web/staging"},
			id: "/subscriptions/s/resourceGroups/g/providers/Microsoft.Web/sites/web/slots/staging", ver: "2023-12-01"},
		{ref: resourceRef{id: "/subscriptions/o/resourceGroups/h/providers/Microsoft.Compute/virtualMachines/vm"},
			id: "/subscriptions/o/resourceGroups/h/providers/Microsoft.Compute/virtualMachines/vm", ver: "2024-07-01"},
		{ref: resourceRef{resourceType: "Microsoft.Storage/storageAccounts", group: "g", name: "s", apiVersion: "2023-01-01"},
			id: "/subscriptions/s/resourceGroups/g/providers/Microsoft.Storage/storageAccounts/s", ver: "2023-01-01"},
		{ref: resourceRef{resourceType: "Microsoft.Storage/storageAccounts", group: "g", name: "s"}, bad: true},
		{ref: resourceRef{resourceType: "Microsoft.Web/sites/slots", group: "g", name: "web"}, bad: true},
		{ref: resourceRef{resourceType: "Microsoft.Web", group: "g", name: "web"}, bad: true},
		{ref: resourceRef{group: "g", name: "web"}, bad: true},
		{ref: resourceRef{id: "/subscriptions/o/resourceGroups/h"}, bad: true},
	}
	for _, tt := range tests {
		id, ver, err := tt.ref.resolve("s")
		if tt.bad {
			if err == nil {
				t.Errorf("%+v: want an error, got %s", tt.ref, id)
			}
			continue
		}
		if err != nil || id.String() != tt.id || ver != tt.ver {
			t.Errorf("%+v = %s %s %v", tt.ref, id, ver, err)
		}
	}
	id, _, _ := (&resourceRef{resourceType: "Microsoft.Web/sites", group: "my group", name: "a#b"}).resolve("s")
	if got := escapedPath(id); got != "/subscriptions/s/resourceGroups/my%20group/providers/Microsoft.Web/sites/a%23b" {
		t.Errorf("escapedPath = %s", got)
	}
}

func TestFlatten(t *testing.T) {
	in := map[string]any{
		"id":         "/subscriptions/s/resourcegroups/RG/providers/Microsoft.ManagedIdentity/userAssignedIdentities/x",
		"name":       "x",
		"properties": map[string]any{"clientId": "c", "principalId": "p", "name": "shadowed"},
	}
	want := map[string]any{
		"id": in["id"], "name": "x", "clientId": "c", "principalId": "p", "resourceGroup": "RG",
	}
	if got := flatten(in); !reflect.DeepEqual(got, want) {
		t.Errorf("flatten = %v", got)
	}
	if got := withAPIVersion("/a?$top=1", "2024-11-30"); got != "/a?$top=1&api-version=2024-11-30" {
		t.Errorf("withAPIVersion = %s", got)
	}
	if got := quoteOData("o'brien"); got != "o''brien" {
		t.Errorf("quoteOData = %s", got)
	}
}
