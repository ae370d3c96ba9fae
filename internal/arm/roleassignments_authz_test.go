package arm

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/mint-id/mint/internal/arm/armid"
	"github.com/mint-id/mint/internal/rbac"
	"github.com/mint-id/mint/internal/store"
)

func TestRoleAssignmentWireShape(t *testing.T) {
	created := time.Date(2026, 1, 2, 3, 4, 5, 600000000, time.UTC)
	tests := []struct {
		name       string
		a          store.RoleAssignment
		wantID     string
		wantRoleID string
		wantCond   bool
	}{
		{
			name:       "group scope, subscription-prefixed role id",
			a:          store.RoleAssignment{ID: "a1", Scope: "/subscriptions/s/resourcegroups/rg", RoleDefinitionID: rbac.ReaderRoleID, PrincipalID: "p", PrincipalType: "ServicePrincipal", CreatedAt: created, UpdatedAt: created, CreatedBy: "c"},
			wantID:     "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Authorization/roleAssignments/a1",
			wantRoleID: "/subscriptions/s/providers/Microsoft.Authorization/roleDefinitions/" + rbac.ReaderRoleID,
		},
		{
			name:       "resource scope",
			a:          store.RoleAssignment{ID: "a2", Scope: "/subscriptions/s/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/kv", RoleDefinitionID: rbac.KeyVaultSecretsUserRoleID, PrincipalID: "p", PrincipalType: "ServicePrincipal", CreatedAt: created, UpdatedAt: created},
			wantID:     "/subscriptions/s/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/kv/providers/Microsoft.Authorization/roleAssignments/a2",
			wantRoleID: "/subscriptions/s/providers/Microsoft.Authorization/roleDefinitions/" + rbac.KeyVaultSecretsUserRoleID,
		},
		{
			name:       "root scope, tenant-level role id",
			a:          store.RoleAssignment{ID: "a3", Scope: "/", RoleDefinitionID: rbac.OwnerRoleID, PrincipalID: "p", PrincipalType: "User", Condition: "x", ConditionVersion: "2.0", CreatedAt: created, UpdatedAt: created},
			wantID:     "/providers/Microsoft.Authorization/roleAssignments/a3",
			wantRoleID: "/providers/Microsoft.Authorization/roleDefinitions/" + rbac.OwnerRoleID,
			wantCond:   true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := roleAssignmentWire(tt.a)
			if w.ID != tt.wantID || w.Name != tt.a.ID || w.Type != "Microsoft.Authorization/roleAssignments" {
				t.Errorf("id/name/type %q %q %q", w.ID, w.Name, w.Type)
			}
			p := w.Properties
			if p.RoleDefinitionID != tt.wantRoleID || p.PrincipalID != "p" || p.PrincipalType != tt.a.PrincipalType || p.CreatedOn != armTime(created) {
				t.Errorf("properties %+v", p)
			}
			if p.Description != nil || p.DelegatedManagedIdentityResourceID != nil || (p.Condition != nil) != tt.wantCond || (p.ConditionVersion != nil) != tt.wantCond {
				t.Errorf("optional properties %+v", p)
			}
		})
	}
}

func TestAssignmentFromBody(t *testing.T) {
	scope := armid.ResourceGroupID("s", "rg")
	good := uuid.NewString()
	pid := uuid.NewString()
	tests := []struct {
		name     string
		raName   string
		props    map[string]string
		wantCode string
		check    func(t *testing.T, a store.RoleAssignment)
	}{
		{name: "defaults to User", raName: good, props: map[string]string{"roleDefinitionId": "/subscriptions/s/providers/Microsoft.Authorization/roleDefinitions/" + rbac.ReaderRoleID, "principalId": pid},
			check: func(t *testing.T, a store.RoleAssignment) {
				if a.PrincipalType != "User" || a.RoleDefinitionID != rbac.ReaderRoleID || a.Scope != "/subscriptions/s/resourceGroups/rg" {
					t.Errorf("%+v", a)
				}
			}},
		{name: "tenant-level role id and type case", raName: good, props: map[string]string{"roleDefinitionId": "/providers/Microsoft.Authorization/roleDefinitions/" + rbac.ReaderRoleID, "principalId": pid, "principalType": "serviceprincipal"},
			check: func(t *testing.T, a store.RoleAssignment) {
				if a.PrincipalType != "ServicePrincipal" {
					t.Errorf("%+v", a)
				}
			}},
		{name: "condition gets version 2.0", raName: good, props: map[string]string{"roleDefinitionId": rbac.ReaderRoleID, "principalId": pid, "condition": "@Resource[x] StringEquals 'y'"},
			check: func(t *testing.T, a store.RoleAssignment) {
				if a.ConditionVersion != "2.0" {
					t.Errorf("%+v", a)
				}
			}},
		{name: "name not a GUID", raName: "my-assignment", props: map[string]string{}, wantCode: "InvalidRoleAssignmentId"},
		{name: "no role", raName: good, props: map[string]string{"principalId": pid}, wantCode: "InvalidRequestContent"},
		{name: "no principal", raName: good, props: map[string]string{"roleDefinitionId": rbac.ReaderRoleID}, wantCode: "InvalidRequestContent"},
		{name: "principal not a GUID", raName: good, props: map[string]string{"roleDefinitionId": rbac.ReaderRoleID, "principalId": "web-id"}, wantCode: "InvalidPrincipalId"},
		{name: "role id of another type", raName: good, props: map[string]string{"roleDefinitionId": "/subscriptions/s/providers/Microsoft.Authorization/roleAssignments/" + rbac.ReaderRoleID, "principalId": pid}, wantCode: "InvalidRoleDefinitionId"},
		{name: "role by name", raName: good, props: map[string]string{"roleDefinitionId": "Reader", "principalId": pid}, wantCode: "InvalidRoleDefinitionId"},
		{name: "bad principal type", raName: good, props: map[string]string{"roleDefinitionId": rbac.ReaderRoleID, "principalId": pid, "principalType": "Robot"}, wantCode: "InvalidRequestContent"},
		{name: "bad condition version", raName: good, props: map[string]string{"roleDefinitionId": rbac.ReaderRoleID, "principalId": pid, "condition": "c", "conditionVersion": "1.0"}, wantCode: "InvalidConditionVersion"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b roleAssignmentBody
			b.Properties = &struct {
				RoleDefinitionID string `json:"roleDefinitionId"`
				PrincipalID      string `json:"principalId"`
				PrincipalType    string `json:"principalType"`
				Description      string `json:"description"`
				Condition        string `json:"condition"`
				ConditionVersion string `json:"conditionVersion"`
			}{tt.props["roleDefinitionId"], tt.props["principalId"], tt.props["principalType"], tt.props["description"], tt.props["condition"], tt.props["conditionVersion"]}
			a, e := assignmentFromBody(tt.raName, scope, b)
			if tt.wantCode != "" {
				if e == nil || e.Code != tt.wantCode || e.Status != 400 {
					t.Fatalf("got %+v, want 400 %s", e, tt.wantCode)
				}
				return
			}
			if e != nil {
				t.Fatal(e)
			}
			tt.check(t, a)
		})
	}
}

func TestRoleAssignmentsAPI(t *testing.T) {
	e := newAuthzEnv(t)
	owner := e.principal(store.KindApplication, "owner")
	e.assign(owner, rbac.OwnerRoleID, e.subScope())
	contributor := e.principal(store.KindApplication, "contributor")
	contribRA := e.assign(contributor, rbac.ContributorRoleID, e.rgScope())
	reader := e.principal(store.KindApplication, "reader")
	e.assign(reader, rbac.ReaderRoleID, e.subScope())
	nobody := e.principal(store.KindApplication, "nobody")
	mi := e.principal(store.KindManagedIdentity, "web-id")

	vault := e.rgScope() + "/providers/Microsoft.KeyVault/vaults/kv1"
	name := uuid.NewString()
	path := vault + "/providers/Microsoft.Authorization/roleAssignments/" + name
	body := func(principal, ptype, role string) map[string]any {
		p := map[string]any{"roleDefinitionId": e.subScope() + "/providers/Microsoft.Authorization/roleDefinitions/" + role, "principalId": principal}
		if ptype != "" {
			p["principalType"] = ptype
		}
		return map[string]any{"properties": p}
	}

	// Contributor: roleAssignments/write is in its notActions.
	status, resp := e.do(contributor, "PUT", path, body(mi, "ServicePrincipal", rbac.KeyVaultSecretsUserRoleID))
	if status != 403 || errCode(resp) != "AuthorizationFailed" ||
		!strings.Contains(errMessage(resp), "does not have authorization to perform action 'Microsoft.Authorization/roleAssignments/write' over scope '"+path+"'") ||
		!strings.Contains(errMessage(resp), " mint: principal "+contributor+" has no role granting Microsoft.Authorization/roleAssignments/write at "+vault+";") ||
		!strings.Contains(errMessage(resp), `assign "Role Based Access Control Administrator" at `+vault+" to allow it.") {
		t.Fatalf("contributor: %d %v", status, resp)
	}

	// principalType defaults to User, and a service principal is not a user.
	status, resp = e.do(owner, "PUT", path, body(mi, "", rbac.KeyVaultSecretsUserRoleID))
	if status != 400 || errCode(resp) != "PrincipalNotFound" || !strings.HasPrefix(errMessage(resp), "Principal "+mi+" does not exist in the directory "+e.tenant+".") ||
		!strings.Contains(errMessage(resp), "set principalType to ServicePrincipal") {
		t.Fatalf("default User: %d %v", status, resp)
	}
	ghost := uuid.NewString()
	status, resp = e.do(owner, "PUT", path, body(ghost, "ServicePrincipal", rbac.KeyVaultSecretsUserRoleID))
	if status != 400 || errCode(resp) != "PrincipalNotFound" {
		t.Fatalf("unknown principal: %d %v", status, resp)
	}
	status, resp = e.do(owner, "PUT", path, body(mi, "ServicePrincipal", uuid.NewString()))
	if status != 400 || errCode(resp) != "RoleDefinitionDoesNotExist" {
		t.Fatalf("unknown role: %d %v", status, resp)
	}
	narrow := uuid.NewString()
	e.st.roleDefs[narrow] = store.RoleDefinition{ID: narrow, RoleName: "Other Group Only", AssignableScopes: []string{"/subscriptions/" + e.sub + "/resourceGroups/other"},
		Permissions: []byte(`[{"actions":["*/read"]}]`)}
	status, resp = e.do(owner, "PUT", path, body(mi, "ServicePrincipal", narrow))
	if status != 400 || errCode(resp) != "RoleDefinitionNotAssignableAtScope" || !strings.Contains(errMessage(resp), "The role Other Group Only is not available for assignment at the requested scope.") {
		t.Fatalf("role not assignable here: %d %v", status, resp)
	}
	status, resp = e.do(owner, "PUT", vault+"/providers/Microsoft.Authorization/roleAssignments/not-a-guid", body(mi, "ServicePrincipal", rbac.KeyVaultSecretsUserRoleID))
	if status != 400 || errCode(resp) != "InvalidRoleAssignmentId" {
		t.Fatalf("bad name: %d %v", status, resp)
	}

	// Create, then the same PUT again.
	status, resp = e.do(owner, "PUT", path, body(mi, "ServicePrincipal", rbac.KeyVaultSecretsUserRoleID))
	if status != 201 || resp["id"] != path || props(resp)["scope"] != vault || props(resp)["principalType"] != "ServicePrincipal" ||
		props(resp)["roleDefinitionId"] != e.subScope()+"/providers/Microsoft.Authorization/roleDefinitions/"+rbac.KeyVaultSecretsUserRoleID ||
		props(resp)["createdBy"] != owner {
		t.Fatalf("create: %d %v", status, resp)
	}
	for _, k := range []string{"condition", "conditionVersion", "description", "delegatedManagedIdentityResourceId"} {
		if v, ok := props(resp)[k]; !ok || v != nil {
			t.Errorf("%s = %v, want null", k, v)
		}
	}
	status, resp = e.do(owner, "PUT", path, body(mi, "ServicePrincipal", rbac.KeyVaultSecretsUserRoleID))
	if status != 200 || resp["name"] != name {
		t.Fatalf("same PUT again: %d %v", status, resp)
	}
	withDesc := body(mi, "ServicePrincipal", rbac.KeyVaultSecretsUserRoleID)
	withDesc["properties"].(map[string]any)["description"] = "web reads secrets"
	status, resp = e.do(owner, "PUT", path, withDesc)
	if status != 200 || props(resp)["description"] != "web reads secrets" || props(resp)["createdBy"] != owner {
		t.Fatalf("description update: %d %v", status, resp)
	}
	status, resp = e.do(owner, "PUT", path, body(mi, "ServicePrincipal", rbac.ReaderRoleID))
	if status != 400 || errCode(resp) != "RoleAssignmentUpdateNotPermitted" {
		t.Fatalf("role change: %d %v", status, resp)
	}
	other := vault + "/providers/Microsoft.Authorization/roleAssignments/" + uuid.NewString()
	status, resp = e.do(owner, "PUT", other, body(mi, "ServicePrincipal", rbac.KeyVaultSecretsUserRoleID))
	if status != 409 || errCode(resp) != "RoleAssignmentExists" || !strings.Contains(errMessage(resp), path) {
		t.Fatalf("same grant, other name: %d %v", status, resp)
	}

	// Reads.
	status, resp = e.do(reader, "GET", path, nil)
	if status != 200 || resp["id"] != path {
		t.Fatalf("GET: %d %v", status, resp)
	}
	status, resp = e.do(reader, "GET", e.subScope()+"/providers/Microsoft.Authorization/roleAssignments/"+name, nil)
	if status != 404 || errCode(resp) != "RoleAssignmentNotFound" {
		t.Fatalf("GET at another scope: %d %v", status, resp)
	}
	status, resp = e.do(nobody, "GET", path, nil)
	if status != 403 || errCode(resp) != "AuthorizationFailed" || !strings.Contains(errMessage(resp), "it has no role assignments") {
		t.Fatalf("GET without rights: %d %v", status, resp)
	}

	list := func(who, scope, filter string) (int, []string, map[string]any) {
		p := scope + "/providers/Microsoft.Authorization/roleAssignments"
		if filter != "" {
			p += "?$filter=" + urlq(filter)
		}
		status, resp := e.do(who, "GET", p, nil)
		return status, names(values(resp)), resp
	}
	all := func(ids ...string) string {
		var out []string
		for _, id := range ids {
			for n, a := range e.st.assignments {
				if a.PrincipalID == id {
					out = append(out, n)
				}
			}
		}
		slices.Sort(out)
		return strings.Join(out, ",")
	}
	// No filter at the group: above (owner, reader at the subscription), at (contributor), below (mi on the vault).
	if status, got, resp := list(reader, e.rgScope(), ""); status != 200 || strings.Join(got, ",") != all(owner, contributor, reader, mi) {
		t.Fatalf("list at group: %d %v %v", status, got, resp)
	}
	// atScope(): at or above only.
	if status, got, _ := list(reader, e.rgScope(), "atScope()"); status != 200 || strings.Join(got, ",") != all(owner, contributor, reader) {
		t.Fatalf("atScope: %d %v", status, got)
	}
	// principalId: that principal at, above and below.
	if status, got, _ := list(reader, e.subScope(), "principalId eq '"+mi+"'"); status != 200 || strings.Join(got, ",") != name {
		t.Fatalf("principalId: %d %v", status, got)
	}
	if status, got, _ := list(reader, e.subScope(), "assignedTo('"+contributor+"')"); status != 200 || strings.Join(got, ",") != contribRA {
		t.Fatalf("assignedTo: %d %v", status, got)
	}
	// The other group sees the subscription's assignments only.
	if status, got, _ := list(reader, "/subscriptions/"+e.sub+"/resourceGroups/other", ""); status != 200 || strings.Join(got, ",") != all(owner, reader) {
		t.Fatalf("other group: %d %v", status, got)
	}
	// Lists need roleAssignments/read at the scope.
	if status, _, resp := list(nobody, e.subScope(), ""); status != 403 || errCode(resp) != "AuthorizationFailed" ||
		!strings.Contains(errMessage(resp), "'Microsoft.Authorization/roleAssignments/read' over scope '"+e.subScope()+"'") {
		t.Fatalf("list without rights: %d %v", status, resp)
	}
	if status, _, _ := list(contributor, e.subScope(), ""); status != 403 {
		t.Fatalf("contributor lists the subscription: %d", status)
	}
	if status, _, _ := list(contributor, e.rgScope(), ""); status != 200 {
		t.Fatalf("contributor lists its group: %d", status)
	}
	if status, _, resp := list(reader, e.subScope(), "roleDefinitionId eq 'x'"); status != 400 || errCode(resp) != "UnsupportedQuery" {
		t.Fatalf("unsupported filter: %d %v", status, resp)
	}

	// Delete answers 200 with the assignment, then 204.
	status, resp = e.do(owner, "DELETE", path, nil)
	if status != 200 || resp["id"] != path || props(resp)["principalId"] != mi {
		t.Fatalf("delete: %d %v", status, resp)
	}
	if status, _ = e.do(owner, "DELETE", path, nil); status != 204 {
		t.Fatalf("delete again: %d", status)
	}

	// Every write was recorded, refusals included.
	var failed, succeeded int
	for _, ev := range e.st.events {
		if ev.OperationName == "Microsoft.Authorization/roleAssignments/write" && ev.Status == "Failed" {
			failed++
		}
		if ev.Status == "Succeeded" {
			succeeded++
		}
	}
	if failed < 5 || succeeded < 4 {
		t.Errorf("activity: %d failed writes, %d succeeded", failed, succeeded)
	}
}

func TestEnsureOwner(t *testing.T) {
	e := newAuthzEnv(t)
	admin := e.principal(store.KindApplication, "mint admin")
	ctx := context.Background()
	for i := 0; i < 2; i++ {
		if err := EnsureOwner(ctx, e.st, strings.ToUpper(admin), e.sub); err != nil {
			t.Fatal(err)
		}
	}
	held, _ := e.st.ListRoleAssignments(ctx, store.RoleAssignmentFilter{PrincipalID: admin})
	if len(held) != 1 || held[0].RoleDefinitionID != rbac.OwnerRoleID || held[0].Scope != e.subScope() || held[0].PrincipalType != "ServicePrincipal" {
		t.Fatalf("assignments %+v", held)
	}
	// Another replica (another store here) derives the same name, so concurrent bootstraps collide
	// on one assignment instead of creating two.
	e2 := &authzFakeStore{assignments: map[string]store.RoleAssignment{}}
	if err := EnsureOwner(ctx, e2, admin, e.sub); err != nil {
		t.Fatal(err)
	}
	for id := range e2.assignments {
		if id != held[0].ID {
			t.Errorf("names differ between replicas: %s, %s", id, held[0].ID)
		}
	}
	status, resp := e.do(admin, "PUT", e.rgScope()+"/providers/Microsoft.Authorization/roleAssignments/"+uuid.NewString(),
		map[string]any{"properties": map[string]any{"roleDefinitionId": rbac.ReaderRoleID, "principalId": admin, "principalType": "ServicePrincipal"}})
	if status != 201 {
		t.Fatalf("the owner assigns: %d %v", status, resp)
	}
}
