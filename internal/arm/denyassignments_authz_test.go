package arm

import (
	"net/url"
	"testing"

	"github.com/mint-id/mint/internal/rbac"
	"github.com/mint-id/mint/internal/store"
)

// TestDenyAssignmentsAreTruthfullyEmpty: no deny assignment can exist in mint, so the list is
// empty for whoever may read it, a get is 404, a write is refused, and a filter Azure does not
// take is a 400.
func TestDenyAssignmentsAreTruthfullyEmpty(t *testing.T) {
	e := newTestEnv(t)
	e.group("app")
	reader := e.principal(store.KindApplication, "reader")
	e.assign(reader, rbac.ReaderRoleID, e.subScope())
	nobody := e.principal(store.KindApplication, "nobody")
	list := e.rg("app") + "/providers/Microsoft.Authorization/denyAssignments"

	if r := e.call(reader, "GET", list, authzVersion, nil); r.status != 200 || len(r.list()) != 0 {
		t.Fatalf("reader list: %d %s", r.status, r.raw)
	}
	if r := e.call(reader, "GET", list+"?$filter="+url.QueryEscape("atScope() and principalId eq 'x'"), authzVersion, nil); r.status != 200 {
		t.Fatalf("filtered list: %d %s", r.status, r.raw)
	}
	if r := e.call(reader, "GET", list+"?$filter="+url.QueryEscape("roleName eq 'x'"), authzVersion, nil); r.status != 400 {
		t.Fatalf("unsupported filter: %d %s", r.status, r.raw)
	}
	if r := e.call(nobody, "GET", list, authzVersion, nil); r.status != 403 || r.code() != "AuthorizationFailed" {
		t.Fatalf("nobody: %d %s", r.status, r.raw)
	}
	if r := e.call(reader, "GET", list+"/4f2b0c3e-0000-0000-0000-000000000000", authzVersion, nil); r.status != 404 || r.code() != "DenyAssignmentNotFound" {
		t.Fatalf("get: %d %s", r.status, r.raw)
	}
	if r := e.as("PUT", list+"/4f2b0c3e-0000-0000-0000-000000000000", authzVersion, map[string]any{"properties": map[string]any{}}); r.status < 400 || r.status >= 500 {
		t.Fatalf("put: %d %s", r.status, r.raw)
	}
}

func FuzzDenyAssignmentFilter(f *testing.F) {
	f.Add("atScope() and principalId eq 'x'")
	f.Add("denyAssignmentName eq 'a''b'")
	f.Fuzz(func(t *testing.T, filter string) {
		if e := checkDenyAssignmentFilter(filter); e != nil && e.Status != 400 {
			t.Fatalf("status %d", e.Status)
		}
	})
}
