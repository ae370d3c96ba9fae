package arm

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/mint-id/mint/internal/rbac"
	"github.com/mint-id/mint/internal/store"
)

func TestExplainRequestQuery(t *testing.T) {
	caller := uuid.NewString()
	other := uuid.NewString()
	const scope = "/subscriptions/s"
	tests := []struct {
		name     string
		body     string
		want     rbac.Query
		wantCode string
	}{
		{name: "own access by default", body: `{"action":"Microsoft.KeyVault/vaults/read"}`,
			want: rbac.Query{PrincipalID: caller, Action: "Microsoft.KeyVault/vaults/read", Scope: scope}},
		{name: "someone else's", body: `{"principalId":"` + other + `","action":"Microsoft.KeyVault/vaults/read"}`,
			want: rbac.Query{PrincipalID: other, Action: "Microsoft.KeyVault/vaults/read", Scope: scope}},
		{name: "dataAction flag", body: `{"action":"Microsoft.KeyVault/vaults/secrets/getSecret/action","dataAction":true}`,
			want: rbac.Query{PrincipalID: caller, Action: "Microsoft.KeyVault/vaults/secrets/getSecret/action", Scope: scope, DataAction: true}},
		{name: "dataAction as the action", body: `{"dataAction":"Microsoft.KeyVault/vaults/secrets/getSecret/action"}`,
			want: rbac.Query{PrincipalID: caller, Action: "Microsoft.KeyVault/vaults/secrets/getSecret/action", Scope: scope, DataAction: true}},
		{name: "dataAction null", body: `{"action":"a/b","dataAction":null}`, want: rbac.Query{PrincipalID: caller, Action: "a/b", Scope: scope}},
		{name: "no action", body: `{"principalId":"` + other + `"}`, wantCode: "BadRequest"},
		{name: "wildcard", body: `{"action":"Microsoft.KeyVault/*"}`, wantCode: "BadRequest"},
		{name: "two actions", body: `{"action":"a/read","dataAction":"b/read"}`, wantCode: "BadRequest"},
		{name: "dataAction number", body: `{"action":"a/read","dataAction":3}`, wantCode: "InvalidRequestContent"},
		{name: "principal not a GUID", body: `{"principalId":"web","action":"a/read"}`, wantCode: "InvalidPrincipalId"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var req explainRequest
			if err := json.Unmarshal([]byte(tt.body), &req); err != nil {
				t.Fatal(err)
			}
			q, e := req.query(caller, scope)
			if tt.wantCode != "" {
				if e == nil || e.Code != tt.wantCode {
					t.Fatalf("got %+v, want %s", e, tt.wantCode)
				}
				return
			}
			if e != nil {
				t.Fatal(e)
			}
			if !reflect.DeepEqual(q, tt.want) {
				t.Errorf("got %+v, want %+v", q, tt.want)
			}
		})
	}
}

func TestMayExplain(t *testing.T) {
	tests := []struct {
		name            string
		caller, subject string
		canRead         bool
		want            bool
	}{
		{"own access", "A", "a", false, true},
		{"someone else's without read", "a", "b", false, false},
		{"someone else's with roleAssignments/read", "a", "b", true, true},
	}
	for _, tt := range tests {
		if got := mayExplain(tt.caller, tt.subject, tt.canRead); got != tt.want {
			t.Errorf("%s: got %v", tt.name, got)
		}
	}
}

func TestExplanationWire(t *testing.T) {
	p := uuid.NewString()
	vault := "/subscriptions/s/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/kv"
	assignments := []rbac.Assignment{
		{ID: "r1", Scope: "/subscriptions/s", PrincipalID: p, RoleDefinitionID: rbac.ReaderRoleID},
		{ID: "k1", Scope: "/subscriptions/s/resourceGroups/other/providers/Microsoft.KeyVault/vaults/kv2", PrincipalID: p, RoleDefinitionID: rbac.KeyVaultSecretsUserRoleID},
	}
	q := rbac.Query{PrincipalID: p, Action: "Microsoft.KeyVault/vaults/secrets/getSecret/action", Scope: vault, DataAction: true}
	denied := explanationWire(rbac.Explain(q, nil, assignments, rbac.BuiltinRoles()))
	if denied.Allowed || denied.GrantedBy != nil || denied.MissingAction == nil || *denied.MissingAction != q.Action {
		t.Fatalf("denied: %+v", denied)
	}
	if denied.Suggestion == nil || denied.Suggestion.RoleName != "Key Vault Secrets User" || denied.Suggestion.Scope != vault ||
		denied.Suggestion.RoleID != "/subscriptions/s/providers/Microsoft.Authorization/roleDefinitions/"+rbac.KeyVaultSecretsUserRoleID {
		t.Errorf("suggestion %+v", denied.Suggestion)
	}
	if len(denied.Closest) == 0 || denied.Closest[0].RoleName != "Key Vault Secrets User" ||
		denied.Closest[0].RoleAssignmentID != "/subscriptions/s/resourceGroups/other/providers/Microsoft.KeyVault/vaults/kv2/providers/Microsoft.Authorization/roleAssignments/k1" {
		t.Errorf("closest %+v", denied.Closest)
	}
	if !strings.Contains(denied.Summary, `assign "Key Vault Secrets User" at `+vault) {
		t.Errorf("summary %q", denied.Summary)
	}

	q.DataAction, q.Action = false, "Microsoft.KeyVault/vaults/read"
	allowed := explanationWire(rbac.Explain(q, nil, assignments, rbac.BuiltinRoles()))
	if !allowed.Allowed || allowed.GrantedBy == nil || allowed.GrantedBy.RoleName != "Reader" ||
		allowed.GrantedBy.RoleAssignmentID != "/subscriptions/s/providers/Microsoft.Authorization/roleAssignments/r1" ||
		allowed.MissingAction != nil || allowed.Suggestion != nil || allowed.Closest == nil || allowed.AlsoGrantedBy == nil {
		t.Errorf("allowed: %+v", allowed)
	}
}

func TestExplainAccessAPI(t *testing.T) {
	e := newTestEnv(t)
	e.group("app", "other")
	owner := e.principal(store.KindApplication, "owner")
	e.assign(owner, rbac.OwnerRoleID, e.subScope())
	app := e.principal(store.KindManagedIdentity, "web-id")
	e.assign(app, rbac.ReaderRoleID, e.rg("app"))
	nosy := e.principal(store.KindApplication, "nosy")

	vault := e.rg("app") + "/providers/Microsoft.KeyVault/vaults/kv1"
	path := vault + "/providers/Microsoft.Authorization/explainAccess"

	// Anyone explains their own access.
	r := e.call(app, "POST", path, authzVersion, map[string]any{"dataAction": "Microsoft.KeyVault/vaults/secrets/getSecret/action"})
	if r.status != 200 || r.body["allowed"] != false || r.body["principalId"] != app {
		t.Fatalf("own, denied: %d %s", r.status, r.raw)
	}
	sugg, _ := r.body["suggestion"].(map[string]any)
	if sugg["roleName"] != "Key Vault Secrets User" || sugg["scope"] != vault {
		t.Errorf("suggestion %v", r.body["suggestion"])
	}
	if s := r.str("summary"); !strings.Contains(s, "principal "+app+" has no role granting Microsoft.KeyVault/vaults/secrets/getSecret/action at "+vault) {
		t.Errorf("summary %q", s)
	}
	r = e.call(app, "POST", path, authzVersion, map[string]any{"action": "Microsoft.KeyVault/vaults/read"})
	granted, _ := r.body["grantedBy"].(map[string]any)
	if r.status != 200 || r.body["allowed"] != true || granted["roleName"] != "Reader" || granted["scope"] != e.rg("app") {
		t.Fatalf("own, allowed: %d %s", r.status, r.raw)
	}

	// Someone else's needs roleAssignments/read at the scope.
	r = e.call(nosy, "POST", path, authzVersion, map[string]any{"principalId": app, "action": "Microsoft.KeyVault/vaults/read"})
	if r.status != 403 || r.code() != "AuthorizationFailed" || !strings.Contains(r.message(), "Microsoft.Authorization/roleAssignments/read") {
		t.Fatalf("nosy: %d %s", r.status, r.raw)
	}
	r = e.call(owner, "POST", path, authzVersion, map[string]any{"principalId": app, "action": "Microsoft.KeyVault/vaults/delete"})
	if r.status != 200 || r.body["allowed"] != false || r.body["missingAction"] != "Microsoft.KeyVault/vaults/delete" {
		t.Fatalf("owner explains: %d %s", r.status, r.raw)
	}
	ghost := uuid.NewString()
	r = e.call(owner, "POST", path, authzVersion, map[string]any{"principalId": ghost, "action": "Microsoft.KeyVault/vaults/read"})
	if s := r.str("summary"); r.status != 200 || !strings.Contains(s, "no principal with id "+ghost+" exists in the directory") {
		t.Fatalf("unknown principal: %d %s", r.status, r.raw)
	}
	r = e.call(owner, "POST", path, authzVersion, map[string]any{"principalId": app})
	if r.status != 400 {
		t.Fatalf("no action: %d %s", r.status, r.raw)
	}
	r = e.call(owner, "GET", path, authzVersion, nil)
	if r.status != 405 {
		t.Fatalf("GET: %d %s", r.status, r.raw)
	}
}
