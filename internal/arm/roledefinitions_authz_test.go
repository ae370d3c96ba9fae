package arm

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/mint-id/mint/internal/armid"
	"github.com/mint-id/mint/internal/rbac"
	"github.com/mint-id/mint/internal/store"
)

func TestBuiltinRoleWireShape(t *testing.T) {
	sub := armid.Subscription("00000000-0000-0000-0000-000000000001")
	rg := armid.ResourceGroupID(sub.SubscriptionID, "rg")
	tests := []struct {
		name   string
		scope  armid.ResourceID
		wantID string
	}{
		{"root", armid.Root(), "/providers/Microsoft.Authorization/roleDefinitions/"},
		{"subscription", sub, "/subscriptions/00000000-0000-0000-0000-000000000001/providers/Microsoft.Authorization/roleDefinitions/"},
		{"resource group uses its subscription", rg, "/subscriptions/00000000-0000-0000-0000-000000000001/providers/Microsoft.Authorization/roleDefinitions/"},
	}
	for _, tt := range tests {
		for _, r := range rbac.BuiltinRoles() {
			t.Run(tt.name+"/"+r.RoleName, func(t *testing.T) {
				w := builtinRoleWire(r, tt.scope)
				data, err := json.Marshal(w)
				if err != nil {
					t.Fatal(err)
				}
				var m map[string]any
				json.Unmarshal(data, &m)
				p := props(m)
				if m["id"] != tt.wantID+r.ID || m["name"] != r.ID || m["type"] != "Microsoft.Authorization/roleDefinitions" {
					t.Errorf("id/name/type = %v %v %v", m["id"], m["name"], m["type"])
				}
				if p["roleName"] != r.RoleName || p["type"] != "BuiltInRole" || p["description"] != r.Description {
					t.Errorf("properties %v", p)
				}
				if scopes, _ := p["assignableScopes"].([]any); len(scopes) != 1 || scopes[0] != "/" {
					t.Errorf("assignableScopes %v", p["assignableScopes"])
				}
				perms, _ := p["permissions"].([]any)
				if len(perms) != 1 {
					t.Fatalf("permissions %v", p["permissions"])
				}
				block := perms[0].(map[string]any)
				for _, k := range []string{"actions", "notActions", "dataActions", "notDataActions"} {
					if _, ok := block[k].([]any); !ok {
						t.Errorf("permissions[0].%s = %v, want a list", k, block[k])
					}
				}
				for _, k := range []string{"createdOn", "updatedOn"} {
					if s, _ := p[k].(string); !strings.HasSuffix(s, "Z") {
						t.Errorf("%s = %v", k, p[k])
					}
				}
				for _, k := range []string{"createdBy", "updatedBy"} {
					if v, ok := p[k]; !ok || v != nil {
						t.Errorf("%s = %v, want null", k, v)
					}
				}
			})
		}
	}
}

func TestRoleDefinitionListed(t *testing.T) {
	sub := armid.Subscription("s")
	rg := armid.ResourceGroupID("s", "rg")
	tests := []struct {
		name     string
		scopes   []string
		at       armid.ResourceID
		andBelow bool
		want     bool
	}{
		{"assignable at the subscription, listed there", []string{"/subscriptions/s"}, sub, false, true},
		{"assignable at the subscription, listed at a group", []string{"/subscriptions/s"}, rg, false, true},
		{"assignable at a group only, not at the subscription", []string{"/subscriptions/s/resourceGroups/rg"}, sub, false, false},
		{"assignable at a group, atScopeAndBelow at the subscription", []string{"/subscriptions/s/resourceGroups/rg"}, sub, true, true},
		{"other subscription", []string{"/subscriptions/t"}, sub, true, false},
		{"root lists all", []string{"/subscriptions/t"}, armid.Root(), false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := roleDefinitionListed(tt.scopes, tt.at, tt.andBelow); got != tt.want {
				t.Errorf("got %v", got)
			}
		})
	}
}

func TestCustomRoleFromBody(t *testing.T) {
	guid := uuid.NewString()
	scope := armid.Subscription("s")
	body := func(mut func(p map[string]any)) roleDefinitionBody {
		p := map[string]any{
			"roleName": "Secret Reader", "type": "CustomRole", "description": "reads",
			"permissions":      []any{map[string]any{"actions": []any{"Microsoft.KeyVault/vaults/read"}, "dataActions": []any{"Microsoft.KeyVault/vaults/secrets/getSecret/action"}}},
			"assignableScopes": []any{"/subscriptions/s", "/SUBSCRIPTIONS/s/resourcegroups/rg", "/subscriptions/s"},
		}
		if mut != nil {
			mut(p)
		}
		data, _ := json.Marshal(map[string]any{"properties": p})
		var b roleDefinitionBody
		if err := json.Unmarshal(data, &b); err != nil {
			t.Fatal(err)
		}
		return b
	}
	tests := []struct {
		name     string
		mut      func(p map[string]any)
		wantCode string
	}{
		{name: "valid"},
		{name: "no name", mut: func(p map[string]any) { p["roleName"] = " " }, wantCode: "InvalidRoleDefinition"},
		{name: "built-in name", mut: func(p map[string]any) { p["roleName"] = "reader" }, wantCode: "RoleDefinitionWithSameNameExists"},
		{name: "built-in type", mut: func(p map[string]any) { p["type"] = "BuiltInRole" }, wantCode: "InvalidRoleDefinition"},
		{name: "no permissions", mut: func(p map[string]any) { p["permissions"] = []any{} }, wantCode: "InvalidRoleDefinition"},
		{name: "empty block", mut: func(p map[string]any) { p["permissions"] = []any{map[string]any{"notActions": []any{"x/y"}}} }, wantCode: "InvalidRoleDefinition"},
		{name: "bad action", mut: func(p map[string]any) { p["permissions"] = []any{map[string]any{"actions": []any{"read everything"}}} }, wantCode: "InvalidActionOrNotAction"},
		{name: "no scopes", mut: func(p map[string]any) { p["assignableScopes"] = []any{} }, wantCode: "InvalidRoleDefinition"},
		{name: "root scope", mut: func(p map[string]any) { p["assignableScopes"] = []any{"/"} }, wantCode: "InvalidAssignableScope"},
		{name: "bad scope", mut: func(p map[string]any) { p["assignableScopes"] = []any{"subscriptions/s"} }, wantCode: "InvalidAssignableScope"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			def, perms, e := customRoleFromBody(guid, scope, body(tt.mut))
			if tt.wantCode != "" {
				if e == nil || e.Code != tt.wantCode {
					t.Fatalf("got %+v, want %s", e, tt.wantCode)
				}
				return
			}
			if e != nil {
				t.Fatal(e)
			}
			if def.ID != guid || def.RoleName != "Secret Reader" || def.Scope != "/subscriptions/s" {
				t.Errorf("def %+v", def)
			}
			if strings.Join(def.AssignableScopes, ",") != "/subscriptions/s,/subscriptions/s/resourceGroups/rg" {
				t.Errorf("assignable scopes %v (want canonical, deduplicated)", def.AssignableScopes)
			}
			if len(perms) != 1 || perms[0].NotActions == nil || perms[0].NotDataActions == nil || len(perms[0].DataActions) != 1 {
				t.Errorf("perms %+v", perms)
			}
		})
	}
}

func TestRoleDefinitionsAPI(t *testing.T) {
	e := newTestEnv(t)
	e.group("app", "other")
	owner := e.principal(store.KindApplication, "owner")
	e.assign(owner, rbac.OwnerRoleID, e.subScope())
	nobody := e.principal(store.KindApplication, "nobody")
	contributor := e.principal(store.KindApplication, "contributor")
	e.assign(contributor, rbac.ContributorRoleID, e.subScope())
	defs := e.subScope() + "/providers/Microsoft.Authorization/roleDefinitions"

	// Every caller reads role definitions, at the tenant level too.
	r := e.call(nobody, "GET", "/providers/Microsoft.Authorization/roleDefinitions/"+rbac.ReaderRoleID, authzVersion, nil)
	if r.status != 200 || r.body["id"] != "/providers/Microsoft.Authorization/roleDefinitions/"+rbac.ReaderRoleID || props(r.body)["roleName"] != "Reader" {
		t.Fatalf("tenant-level GET: %d %s", r.status, r.raw)
	}
	r = e.call(nobody, "GET", defs+"/"+rbac.KeyVaultSecretsUserRoleID, authzVersion, nil)
	if r.status != 200 || r.body["id"] != defs+"/"+rbac.KeyVaultSecretsUserRoleID {
		t.Fatalf("subscription GET: %d %s", r.status, r.raw)
	}
	r = e.call(nobody, "GET", defs+"/"+uuid.NewString(), authzVersion, nil)
	if r.status != 404 || r.code() != "RoleDefinitionDoesNotExist" {
		t.Fatalf("unknown role: %d %s", r.status, r.raw)
	}
	r = e.call(nobody, "GET", defs+"?$filter="+urlq("roleName eq 'key vault secrets user'"), authzVersion, nil)
	if list := r.list(); r.status != 200 || len(list) != 1 || list[0]["name"] != rbac.KeyVaultSecretsUserRoleID {
		t.Fatalf("list by name: %d %s", r.status, r.raw)
	}
	r = e.call(nobody, "GET", defs+"?$filter="+urlq("type eq 'BuiltInRole'"), authzVersion, nil)
	if r.status != 200 || len(r.list()) != len(rbac.BuiltinRoles()) {
		t.Fatalf("list built-ins: %d %d", r.status, len(r.list()))
	}
	r = e.call(nobody, "GET", defs+"?$filter="+urlq("description eq 'x'"), authzVersion, nil)
	if r.status != 400 || r.code() != "UnsupportedQuery" {
		t.Fatalf("bad filter: %d %s", r.status, r.raw)
	}

	// Custom roles: created by an Owner, not by a Contributor.
	guid := uuid.NewString()
	path := defs + "/" + guid
	def := map[string]any{"properties": map[string]any{
		"roleName": "Vault Peeker", "description": "peeks", "type": "CustomRole",
		"permissions":      []any{map[string]any{"actions": []any{"Microsoft.KeyVault/vaults/read"}}},
		"assignableScopes": []any{e.subScope()},
	}}
	r = e.call(contributor, "PUT", path, authzVersion, def)
	if r.status != 403 || r.code() != "AuthorizationFailed" || !strings.Contains(r.message(), "Microsoft.Authorization/roleDefinitions/write") {
		t.Fatalf("contributor PUT: %d %s", r.status, r.raw)
	}
	r = e.call(owner, "PUT", path, authzVersion, def)
	if r.status != 201 || props(r.body)["type"] != "CustomRole" || props(r.body)["createdBy"] != owner || r.body["id"] != path {
		t.Fatalf("owner PUT: %d %s", r.status, r.raw)
	}
	if r = e.call(owner, "PUT", path, authzVersion, def); r.status != 201 {
		t.Fatalf("update PUT: %d (the API documents 201 only)", r.status)
	}
	r = e.call(owner, "PUT", defs+"/"+uuid.NewString(), authzVersion, def)
	if r.status != 409 || r.code() != "RoleDefinitionWithSameNameExists" {
		t.Fatalf("same name: %d %s", r.status, r.raw)
	}
	r = e.call(owner, "PUT", defs+"/"+rbac.ReaderRoleID, authzVersion, def)
	if r.status != 400 || r.code() != "CannotModifyBuiltInRole" {
		t.Fatalf("PUT built-in: %d %s", r.status, r.raw)
	}
	r = e.call(owner, "DELETE", defs+"/"+rbac.OwnerRoleID, authzVersion, nil)
	if r.status != 400 || r.code() != "CannotModifyBuiltInRole" {
		t.Fatalf("DELETE built-in: %d %s", r.status, r.raw)
	}
	foreign := map[string]any{"properties": map[string]any{
		"roleName": "Elsewhere", "permissions": []any{map[string]any{"actions": []any{"*/read"}}},
		"assignableScopes": []any{"/subscriptions/" + uuid.NewString()},
	}}
	r = e.call(owner, "PUT", defs+"/"+uuid.NewString(), authzVersion, foreign)
	if r.status != 403 || r.code() != "AuthorizationFailed" {
		t.Fatalf("assignable scope the caller does not own: %d %s", r.status, r.raw)
	}

	r = e.call(nobody, "GET", defs+"?$filter="+urlq("type eq 'CustomRole'"), authzVersion, nil)
	if list := r.list(); r.status != 200 || len(list) != 1 || list[0]["name"] != guid {
		t.Fatalf("list custom: %d %s", r.status, r.raw)
	}

	// A role in use cannot be deleted.
	holder := e.principal(store.KindManagedIdentity, "web-id")
	ra := e.assign(holder, guid, e.rg("app"))
	r = e.call(owner, "DELETE", path, authzVersion, nil)
	if r.status != 409 || r.code() != "RoleDefinitionHasAssignments" {
		t.Fatalf("delete in use: %d %s", r.status, r.raw)
	}
	if _, err := e.st.DeleteRoleAssignment(t.Context(), ra); err != nil {
		t.Fatal(err)
	}
	r = e.call(owner, "DELETE", path, authzVersion, nil)
	if r.status != 200 || r.body["name"] != guid {
		t.Fatalf("delete: %d %s", r.status, r.raw)
	}
	if r = e.call(owner, "DELETE", path, authzVersion, nil); r.status != 204 {
		t.Fatalf("delete again: %d", r.status)
	}
	if r = e.call(owner, "GET", path, authzVersion, nil); r.status != 404 {
		t.Fatalf("GET deleted: %d", r.status)
	}
}
