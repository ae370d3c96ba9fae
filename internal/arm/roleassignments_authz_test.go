package arm

import (
	"context"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/mint-id/mint/internal/armid"
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

// authzVersion is the api-version the Microsoft.Authorization tests call with.
const authzVersion = "2022-04-01"

func TestRoleAssignmentsAPI(t *testing.T) {
	e := newTestEnv(t)
	e.group("app", "other")
	ctx := t.Context()
	owner := e.admin // Owner of the subscription, like the owner the other tests make
	contributor := e.principal(store.KindApplication, "contributor")
	contribRA := e.assign(contributor, rbac.ContributorRoleID, e.rg("app"))
	reader := e.principal(store.KindApplication, "reader")
	e.assign(reader, rbac.ReaderRoleID, e.subScope())
	nobody := e.principal(store.KindApplication, "nobody")
	mi := e.principal(store.KindManagedIdentity, "web-id")

	vault := e.rg("app") + "/providers/Microsoft.KeyVault/vaults/kv1"
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
	r := e.call(contributor, "PUT", path, authzVersion, body(mi, "ServicePrincipal", rbac.KeyVaultSecretsUserRoleID))
	if r.status != 403 || r.code() != "AuthorizationFailed" ||
		!strings.Contains(r.message(), "does not have authorization to perform action 'Microsoft.Authorization/roleAssignments/write' over scope '"+path+"'") ||
		!strings.Contains(r.message(), " mint: principal "+contributor+" has no role granting Microsoft.Authorization/roleAssignments/write at "+vault+";") ||
		!strings.Contains(r.message(), `assign "Role Based Access Control Administrator" at `+vault+" to allow it.") {
		t.Fatalf("contributor: %d %s", r.status, r.raw)
	}

	// principalType defaults to User, and a service principal is not a user.
	r = e.call(owner, "PUT", path, authzVersion, body(mi, "", rbac.KeyVaultSecretsUserRoleID))
	if r.status != 400 || r.code() != "PrincipalNotFound" || !strings.HasPrefix(r.message(), "Principal "+mi+" does not exist in the directory "+e.tenant+".") ||
		!strings.Contains(r.message(), "set principalType to ServicePrincipal") {
		t.Fatalf("default User: %d %s", r.status, r.raw)
	}
	ghost := uuid.NewString()
	r = e.call(owner, "PUT", path, authzVersion, body(ghost, "ServicePrincipal", rbac.KeyVaultSecretsUserRoleID))
	if r.status != 400 || r.code() != "PrincipalNotFound" {
		t.Fatalf("unknown principal: %d %s", r.status, r.raw)
	}
	r = e.call(owner, "PUT", path, authzVersion, body(mi, "ServicePrincipal", uuid.NewString()))
	if r.status != 400 || r.code() != "RoleDefinitionDoesNotExist" {
		t.Fatalf("unknown role: %d %s", r.status, r.raw)
	}
	narrow := uuid.NewString()
	if _, err := e.st.PutRoleDefinition(ctx, store.RoleDefinition{ID: narrow, RoleName: "Other Group Only", AssignableScopes: []string{e.rg("other")},
		Permissions: []byte(`[{"actions":["*/read"]}]`)}); err != nil {
		t.Fatal(err)
	}
	r = e.call(owner, "PUT", path, authzVersion, body(mi, "ServicePrincipal", narrow))
	if r.status != 400 || r.code() != "RoleDefinitionNotAssignableAtScope" || !strings.Contains(r.message(), "The role Other Group Only is not available for assignment at the requested scope.") {
		t.Fatalf("role not assignable here: %d %s", r.status, r.raw)
	}
	r = e.call(owner, "PUT", vault+"/providers/Microsoft.Authorization/roleAssignments/not-a-guid", authzVersion, body(mi, "ServicePrincipal", rbac.KeyVaultSecretsUserRoleID))
	if r.status != 400 || r.code() != "InvalidRoleAssignmentId" {
		t.Fatalf("bad name: %d %s", r.status, r.raw)
	}

	// Create, then the same PUT again.
	r = e.call(owner, "PUT", path, authzVersion, body(mi, "ServicePrincipal", rbac.KeyVaultSecretsUserRoleID))
	if r.status != 201 || r.body["id"] != path || props(r.body)["scope"] != vault || props(r.body)["principalType"] != "ServicePrincipal" ||
		props(r.body)["roleDefinitionId"] != e.subScope()+"/providers/Microsoft.Authorization/roleDefinitions/"+rbac.KeyVaultSecretsUserRoleID ||
		props(r.body)["createdBy"] != owner {
		t.Fatalf("create: %d %s", r.status, r.raw)
	}
	for _, k := range []string{"condition", "conditionVersion", "description", "delegatedManagedIdentityResourceId"} {
		if v, ok := props(r.body)[k]; !ok || v != nil {
			t.Errorf("%s = %v, want null", k, v)
		}
	}
	r = e.call(owner, "PUT", path, authzVersion, body(mi, "ServicePrincipal", rbac.KeyVaultSecretsUserRoleID))
	if r.status != 200 || r.body["name"] != name {
		t.Fatalf("same PUT again: %d %s", r.status, r.raw)
	}
	withDesc := body(mi, "ServicePrincipal", rbac.KeyVaultSecretsUserRoleID)
	withDesc["properties"].(map[string]any)["description"] = "web reads secrets"
	r = e.call(owner, "PUT", path, authzVersion, withDesc)
	if r.status != 200 || props(r.body)["description"] != "web reads secrets" || props(r.body)["createdBy"] != owner {
		t.Fatalf("description update: %d %s", r.status, r.raw)
	}
	r = e.call(owner, "PUT", path, authzVersion, body(mi, "ServicePrincipal", rbac.ReaderRoleID))
	if r.status != 400 || r.code() != "RoleAssignmentUpdateNotPermitted" {
		t.Fatalf("role change: %d %s", r.status, r.raw)
	}
	other := vault + "/providers/Microsoft.Authorization/roleAssignments/" + uuid.NewString()
	r = e.call(owner, "PUT", other, authzVersion, body(mi, "ServicePrincipal", rbac.KeyVaultSecretsUserRoleID))
	if r.status != 409 || r.code() != "RoleAssignmentExists" || !strings.Contains(r.message(), path) {
		t.Fatalf("same grant, other name: %d %s", r.status, r.raw)
	}

	// Reads.
	r = e.call(reader, "GET", path, authzVersion, nil)
	if r.status != 200 || r.body["id"] != path {
		t.Fatalf("GET: %d %s", r.status, r.raw)
	}
	r = e.call(reader, "GET", e.subScope()+"/providers/Microsoft.Authorization/roleAssignments/"+name, authzVersion, nil)
	if r.status != 404 || r.code() != "RoleAssignmentNotFound" {
		t.Fatalf("GET at another scope: %d %s", r.status, r.raw)
	}
	r = e.call(nobody, "GET", path, authzVersion, nil)
	if r.status != 403 || r.code() != "AuthorizationFailed" || !strings.Contains(r.message(), "it has no role assignments") {
		t.Fatalf("GET without rights: %d %s", r.status, r.raw)
	}

	list := func(who, scope, filter string) (int, []string, response) {
		p := scope + "/providers/Microsoft.Authorization/roleAssignments"
		if filter != "" {
			p += "?$filter=" + urlq(filter)
		}
		r := e.call(who, "GET", p, authzVersion, nil)
		return r.status, names(r.list()), r
	}
	all := func(ids ...string) string {
		var out []string
		for _, id := range ids {
			held, err := e.st.ListRoleAssignmentsForPrincipal(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			for _, a := range held {
				out = append(out, a.ID)
			}
		}
		slices.Sort(out)
		return strings.Join(out, ",")
	}
	// No filter at the group: above (owner, reader at the subscription), at (contributor), below (mi on the vault).
	if status, got, r := list(reader, e.rg("app"), ""); status != 200 || strings.Join(got, ",") != all(owner, contributor, reader, mi) {
		t.Fatalf("list at group: %d %v %s", status, got, r.raw)
	}
	// atScope(): at or above only.
	if status, got, _ := list(reader, e.rg("app"), "atScope()"); status != 200 || strings.Join(got, ",") != all(owner, contributor, reader) {
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
	if status, got, _ := list(reader, e.rg("other"), ""); status != 200 || strings.Join(got, ",") != all(owner, reader) {
		t.Fatalf("other group: %d %v", status, got)
	}
	// Lists need roleAssignments/read at the scope.
	if status, _, r := list(nobody, e.subScope(), ""); status != 403 || r.code() != "AuthorizationFailed" ||
		!strings.Contains(r.message(), "'Microsoft.Authorization/roleAssignments/read' over scope '"+e.subScope()+"'") {
		t.Fatalf("list without rights: %d %s", status, r.raw)
	}
	if status, _, _ := list(contributor, e.subScope(), ""); status != 403 {
		t.Fatalf("contributor lists the subscription: %d", status)
	}
	if status, _, _ := list(contributor, e.rg("app"), ""); status != 200 {
		t.Fatalf("contributor lists its group: %d", status)
	}
	if status, _, r := list(reader, e.subScope(), "roleDefinitionId eq 'x'"); status != 400 || r.code() != "UnsupportedQuery" {
		t.Fatalf("unsupported filter: %d %s", status, r.raw)
	}

	// Delete answers 200 with the assignment, then 204.
	r = e.call(owner, "DELETE", path, authzVersion, nil)
	if r.status != 200 || r.body["id"] != path || props(r.body)["principalId"] != mi {
		t.Fatalf("delete: %d %s", r.status, r.raw)
	}
	if r = e.call(owner, "DELETE", path, authzVersion, nil); r.status != 204 {
		t.Fatalf("delete again: %d", r.status)
	}

	// Every write was recorded, refusals included.
	events, err := e.st.ListActivity(ctx, store.ActivityFilter{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	var failed, succeeded int
	for _, ev := range events {
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
	e := newTestEnv(t)
	e.group("app", "other")
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
	st2 := openTestStore(t)
	if err := EnsureOwner(ctx, st2, admin, e.sub); err != nil {
		t.Fatal(err)
	}
	held2, err := st2.ListRoleAssignments(ctx, store.RoleAssignmentFilter{})
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range held2 {
		if a.ID != held[0].ID {
			t.Errorf("names differ between replicas: %s, %s", a.ID, held[0].ID)
		}
	}
	r := e.call(admin, "PUT", e.rg("app")+"/providers/Microsoft.Authorization/roleAssignments/"+uuid.NewString(), authzVersion,
		map[string]any{"properties": map[string]any{"roleDefinitionId": rbac.ReaderRoleID, "principalId": admin, "principalType": "ServicePrincipal"}})
	if r.status != 201 {
		t.Fatalf("the owner assigns: %d %s", r.status, r.raw)
	}
}

// listedNames are a list's names in the list's order.
func listedNames(r response) []string {
	var out []string
	for _, v := range r.list() {
		n, _ := v["name"].(string)
		out = append(out, n)
	}
	return out
}

// TestRoleAssignmentListPages: a role assignment list is read from the store one page at a time
// ($top, then the nextLink's $skiptoken, which is the store's cursor): the pages together are
// the whole list once, in order; a malformed or foreign $skiptoken is 400 InvalidSkipToken.
func TestRoleAssignmentListPages(t *testing.T) {
	e := newTestEnv(t)
	for i := range 7 {
		e.assign(e.principal(store.KindApplication, fmt.Sprintf("app-%d", i)), rbac.ReaderRoleID, e.subScope())
	}
	list := e.subScope() + "/providers/Microsoft.Authorization/roleAssignments"
	all := e.must(200, "GET", list+"?$filter=atScope()&$top=1000", authzVersion, nil)
	want := listedNames(all)
	if len(want) < 8 || all.str("nextLink") != "" { // the seven and the admin's Owner
		t.Fatalf("whole list: %d assignments, nextLink %q", len(want), all.str("nextLink"))
	}
	var got []string
	path := list + "?$filter=atScope()&$top=3"
	for range 10 {
		r := e.must(200, "GET", path, authzVersion, nil)
		if n := len(r.list()); n > 3 || (n < 3 && r.str("nextLink") != "") {
			t.Fatalf("page of %d, nextLink %q", n, r.str("nextLink"))
		}
		got = append(got, listedNames(r)...)
		next := r.str("nextLink")
		if next == "" {
			break
		}
		u, err := url.Parse(next)
		if err != nil || u.Query().Get("$top") != "3" || u.Query().Get("$filter") != "atScope()" {
			t.Fatalf("nextLink %q", next)
		}
		path = list + "?$filter=atScope()&$top=3&$skiptoken=" + url.QueryEscape(u.Query().Get("$skiptoken"))
	}
	if !slices.Equal(got, want) {
		t.Fatalf("paged %v\nwhole %v", got, want)
	}
	for _, bad := range []string{"garbage", "bWludDpvZmZzZXQ6Mw"} { // "mint:offset:3", the in-memory pager's
		r := e.call(e.admin, "GET", list+"?$skiptoken="+bad, authzVersion, nil)
		if r.status != 400 || r.code() != "InvalidSkipToken" {
			t.Fatalf("$skiptoken=%s: %d %s", bad, r.status, r.raw)
		}
	}
}
