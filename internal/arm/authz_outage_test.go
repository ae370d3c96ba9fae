package arm

import (
	"context"
	"errors"
	"fmt"
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

// groupsDown is the store with resource groups unreadable and unwritable, as during an outage
// or on a full disk.
type groupsDown struct{ Store }

func (groupsDown) GetResourceGroup(context.Context, string, string) (store.ResourceGroup, error) {
	return store.ResourceGroup{}, fmt.Errorf("get resource group: %w", store.ErrUnavailable)
}

func (groupsDown) PutResourceGroup(context.Context, store.ResourceGroup) (bool, error) {
	return false, fmt.Errorf("put resource group: %w", store.ErrUnavailable)
}

// A store that is unavailable is a 503 ServiceUnavailable with Retry-After in ARM's shape, for
// reads and writes, never a 500 (the client may retry) — and its attempt is in the activity log.
func TestStoreUnavailableIs503(t *testing.T) {
	e := newTestEnv(t)
	key, _ := testKey()
	e.srv = New(Config{BaseURL: testBase, Clock: e.now}, groupsDown{e.st}, directory.New(e.st, directory.Options{}), testKeys{&key.PublicKey})
	for _, method := range []string{http.MethodGet, http.MethodPut} {
		r := e.as(method, e.rg("rg1"), "2021-04-01", map[string]any{"location": "eastus"})
		if r.status != http.StatusServiceUnavailable || r.code() != CodeServiceUnavailable || r.header.Get("Retry-After") != store.UnavailableRetryAfter {
			t.Errorf("%s with the store unavailable: %d Retry-After %q %s", method, r.status, r.header.Get("Retry-After"), r.raw)
		}
	}
}
