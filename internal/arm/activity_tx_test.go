package arm

import (
	"database/sql"
	"net/http"
	"testing"

	"github.com/google/uuid"

	"github.com/mint-id/mint/internal/rbac"
	"github.com/mint-id/mint/internal/store"
)

// write is one control-plane write of the activity tests, with the status it answers.
type write struct {
	method, path, apiVersion string
	body                     any
	want                     int
}

// controlPlaneWrites creates and deletes one of each kind of resource the management endpoint
// writes: a group, a user-assigned identity (twice: created, then replaced), a federated
// credential, a vault, a virtual machine with a system-assigned identity, a custom role and a
// role assignment.
func (e *testEnv) controlPlaneWrites() []write {
	id := e.uamiPath("rg1", "id1")
	fic := id + "/federatedIdentityCredentials/fic1"
	vm := e.rg("rg1") + "/providers/Microsoft.Compute/virtualMachines/vm1"
	roleDef := e.subScope() + "/providers/Microsoft.Authorization/roleDefinitions/" + uuid.NewString()
	assignment := e.rg("rg1") + "/providers/Microsoft.Authorization/roleAssignments/" + uuid.NewString()
	return []write{
		{"PUT", e.rg("rg1"), "2021-04-01", map[string]any{"location": "eastus"}, 201},
		{"PUT", e.rg("rg1"), "2021-04-01", map[string]any{"location": "eastus", "tags": map[string]any{"a": "b"}}, 200},
		{"PUT", id, msiVersion, map[string]any{"location": "eastus"}, 201},
		{"PUT", id, msiVersion, map[string]any{"location": "eastus", "tags": map[string]any{"a": "b"}}, 200},
		{"PUT", fic, msiVersion, ficBody("https://issuer.example", "sub1", "api://AzureADTokenExchange"), 201},
		{"PUT", e.vaultPath("rg1", "kv1"), kvVersion, map[string]any{"location": "eastus", "properties": map[string]any{
			"tenantId": e.tenant, "sku": map[string]any{"family": "A", "name": "standard"}, "enableRbacAuthorization": true}}, 201},
		{"PUT", vm, vmVersion, map[string]any{"location": "eastus", "identity": map[string]any{"type": "SystemAssigned"}}, 201},
		{"PUT", roleDef, authzVersion, map[string]any{"properties": map[string]any{"roleName": "Tx Reader " + uuid.NewString(), "type": "CustomRole",
			"permissions":      []any{map[string]any{"actions": []any{"Microsoft.KeyVault/vaults/read"}}},
			"assignableScopes": []any{e.subScope()}}}, 201},
		{"PUT", assignment, authzVersion, map[string]any{"properties": map[string]any{
			"roleDefinitionId": rbac.ReaderRoleID, "principalId": e.admin, "principalType": "ServicePrincipal"}}, 201},
		{"DELETE", assignment, authzVersion, nil, 200},
		{"DELETE", roleDef, authzVersion, nil, 200},
		{"DELETE", fic, msiVersion, nil, 200},
		{"DELETE", id, msiVersion, nil, 200},
		{"DELETE", e.rg("rg1"), "2021-04-01", nil, 200},
	}
}

// Every write that changes something has exactly one activity-log entry, written by the store
// in the write's transaction, and the entry carries the status the write answered.
func TestEveryWriteHasOneEntryWithItsAnswer(t *testing.T) {
	e := newTestEnv(t)
	for _, w := range e.controlPlaneWrites() {
		r := e.must(w.want, w.method, w.path, w.apiVersion, w.body)
		corr := r.header.Get(HeaderCorrelationRequestID)
		events, err := e.st.ListActivity(t.Context(), store.ActivityFilter{})
		if err != nil {
			t.Fatal(err)
		}
		var mine []store.ActivityEvent
		for _, ev := range events {
			if ev.CorrelationID == corr {
				mine = append(mine, ev)
			}
		}
		if len(mine) != 1 || mine[0].HTTPStatus != w.want || mine[0].Status != "Succeeded" || mine[0].SubStatus != http.StatusText(w.want) ||
			mine[0].HTTPMethod != w.method || mine[0].Caller != e.admin {
			t.Errorf("%s %s answered %d: entries %+v", w.method, w.path, w.want, mine)
		}
	}
}

// failActivityInserts makes every insert into the activity table fail, as a full disk would,
// through a trigger written on a second connection to the store's file.
func failActivityInserts(t *testing.T, path string) {
	t.Helper()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`CREATE TRIGGER activity_fails BEFORE INSERT ON activity BEGIN SELECT RAISE(ABORT, 'injected: activity insert fails'); END`); err != nil {
		t.Fatal(err)
	}
}

// A write whose activity-log entry cannot be written does not happen: the store rolls the
// change back and the client gets an error in ARM's shape, never a Succeeded with no entry.
// (Before, the entry was appended after the write: a full disk left g2 created and unlogged.)
func TestWriteWithoutItsActivityEntryIsRolledBack(t *testing.T) {
	e := newTestEnv(t)
	e.group("rg1") // directly in the store, before the fault
	failActivityInserts(t, e.storePath)

	for _, w := range []write{
		{"PUT", e.rg("g2"), "2021-04-01", map[string]any{"location": "eastus"}, 0},
		{"PUT", e.uamiPath("rg1", "id1"), msiVersion, map[string]any{"location": "eastus"}, 0},
		{"PUT", e.vaultPath("rg1", "kv1"), kvVersion, map[string]any{"location": "eastus", "properties": map[string]any{
			"tenantId": e.tenant, "sku": map[string]any{"family": "A", "name": "standard"}, "enableRbacAuthorization": true}}, 0},
		{"PUT", e.rg("rg1") + "/providers/Microsoft.Authorization/roleAssignments/" + uuid.NewString(), authzVersion, map[string]any{"properties": map[string]any{
			"roleDefinitionId": rbac.ReaderRoleID, "principalId": e.admin, "principalType": "ServicePrincipal"}}, 0},
		{"DELETE", e.rg("rg1"), "2021-04-01", nil, 0},
	} {
		r := e.as(w.method, w.path, w.apiVersion, w.body)
		if r.status < 500 || r.code() == "" || r.message() == "" {
			t.Errorf("%s %s with the activity log failing: %d %s, want a 5xx ARM error", w.method, w.path, r.status, r.raw)
		}
	}
	ctx := t.Context()
	if _, err := e.st.GetResourceGroup(ctx, e.sub, "g2"); err == nil {
		t.Error("group g2 exists without its activity-log entry")
	}
	if _, err := e.st.GetResourceGroup(ctx, e.sub, "rg1"); err != nil {
		t.Errorf("group rg1 was deleted without its activity-log entry: %v", err)
	}
	if rs, err := e.st.ListResources(ctx, store.ResourceFilter{SubscriptionID: e.sub}); err != nil || len(rs) != 0 {
		t.Errorf("resources written without their activity-log entries: %v %v", rs, err)
	}
	if as, err := e.st.ListRoleAssignments(ctx, store.RoleAssignmentFilter{Below: e.rg("rg1")}); err != nil || len(as) != 0 {
		t.Errorf("role assignments written without their activity-log entries: %v %v", as, err)
	}
	if sps, err := e.st.ListPrincipals(ctx, e.tenant, store.KindManagedIdentity); err != nil || len(sps) != 0 {
		t.Errorf("identity principals written without their activity-log entries: %v %v", sps, err)
	}
}
