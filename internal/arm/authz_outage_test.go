package arm

import (
	"context"
	"errors"
	"net/http"
	"testing"

	"github.com/google/uuid"

	"github.com/mint-id/mint/internal/directory"
	"github.com/mint-id/mint/internal/store"
)

// roleDefinitionsDown is the store with role definitions unreadable, as during an outage.
type roleDefinitionsDown struct{ Store }

func (roleDefinitionsDown) GetRoleDefinition(context.Context, string) (store.RoleDefinition, error) {
	return store.RoleDefinition{}, errors.New("database is locked")
}

// A store that cannot read a custom role the caller holds makes the decision impossible: 503
// ServiceUnavailable in ARM's shape, not an AuthorizationFailed that hides the outage. A custom
// role that was deleted grants nothing: 403.
func TestAuthorizationStoreOutageIs503(t *testing.T) {
	e := newTestEnv(t)
	p := e.principal(store.KindApplication, "custom-role-holder")
	e.assign(p, uuid.NewString(), e.subScope()) // a custom role, so its definition is read

	key, _ := testKey()
	down := New(Config{BaseURL: testBase, Clock: e.now}, roleDefinitionsDown{e.st}, directory.New(e.st, directory.Options{}), testKeys{&key.PublicKey})
	healthy := e.srv
	e.group("rg1")
	e.srv = down
	for _, path := range []string{e.rg("rg1"), e.subScope() + "/resourcegroups"} { // one resource, a list
		r := e.call(p, http.MethodGet, path, "2021-04-01", nil)
		if r.status != http.StatusServiceUnavailable || r.code() != CodeServiceUnavailable {
			t.Fatalf("GET %s with role definitions unreadable: %d %s, want 503 %s", path, r.status, r.raw, CodeServiceUnavailable)
		}
	}

	e.srv = healthy
	r := e.call(p, http.MethodGet, e.rg("rg1"), "2021-04-01", nil)
	if r.status != http.StatusForbidden {
		t.Fatalf("holding only a deleted custom role: %d %s, want 403", r.status, r.raw)
	}
}
