package vault

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/google/uuid"

	"github.com/mint-id/mint/internal/store"
)

// roleDefinitionsDown is the vault's store with role definitions unreadable, as during an outage.
type roleDefinitionsDown struct{ Store }

func (roleDefinitionsDown) GetRoleDefinition(context.Context, string) (store.RoleDefinition, error) {
	return store.RoleDefinition{}, errors.New("database is locked")
}

// A store that cannot read a custom role the caller holds makes the decision impossible: 503 in
// Key Vault's shape, not a 403 that hides the outage nor a 500. A custom role that was deleted
// grants nothing: 403.
func TestAuthorizationStoreOutageIs503(t *testing.T) {
	e := newEnv(t, envOptions{})
	app := e.app("custom-role-holder")
	e.assign(app.ObjectID, uuid.NewString(), e.vaultID) // a custom role, so its definition is read
	tok := e.token(app, nil)

	e.srv = New(Config{BaseURL: testBaseURL, Clock: e.clock.Now}, roleDefinitionsDown{e.st}, e.kek, e.signer)
	r := e.do("GET", "", "/secrets/s1", tok, nil)
	e.mustStatus(r, 503, "get with role definitions unreadable")
	if code, _ := r.errorCodes(t); code != CodeServiceUnavailable {
		t.Fatalf("code %q, want %s: %s", code, CodeServiceUnavailable, r.body)
	}

	e.srv = New(Config{BaseURL: testBaseURL, Clock: e.clock.Now}, e.st, e.kek, e.signer)
	r = e.do("GET", "", "/secrets/s1", tok, nil)
	e.mustStatus(r, 403, "get holding only a deleted custom role")
}

// secretsDown is the vault's store with secrets unreadable, as during an outage or on a full disk.
type secretsDown struct{ Store }

func (secretsDown) GetSecretVersion(context.Context, string, string, string) (store.SecretVersion, error) {
	return store.SecretVersion{}, fmt.Errorf("get secret: %w", store.ErrUnavailable)
}

// An unavailable store is a 503 ServiceUnavailable with Retry-After in Key Vault's shape, which
// the SDKs retry, never a 500.
func TestStoreUnavailableIs503(t *testing.T) {
	e := newEnv(t, envOptions{})
	app := e.app("reader", "4633458b-17de-408a-b874-0445c86b69e6") // Key Vault Secrets User
	tok := e.token(app, nil)
	e.srv = New(Config{BaseURL: testBaseURL, Clock: e.clock.Now}, secretsDown{e.st}, e.kek, e.signer)
	r := e.do("GET", "", "/secrets/s1", tok, nil)
	e.mustStatus(r, 503, "get with the store unavailable")
	if code, _ := r.errorCodes(t); code != CodeServiceUnavailable || r.header.Get("Retry-After") != store.UnavailableRetryAfter {
		t.Fatalf("code %q, Retry-After %q: %s", code, r.header.Get("Retry-After"), r.body)
	}
}

// A decision remembered from one load of a principal's assignments lives no longer than that
// load: a role assignment removed, or a group membership that carried one removed, refuses the
// next GET once the cache TTL has passed, as it did before decisions were remembered; a grant
// counts the same way.
func TestRememberedDecisionsFollowRoleAndMembershipChanges(t *testing.T) {
	e := newEnv(t, envOptions{})
	officer := e.token(e.app("officer", officerRole), nil)
	e.mustStatus(e.do("PUT", "", "/secrets/s", officer, map[string]string{"value": "v"}), 200, "set")
	reader := e.app("reader")
	tok := e.token(reader, nil)

	e.mustStatus(e.do("GET", "", "/secrets/s/", tok, nil), 403, "get before any grant")
	assignment := e.assign(reader.ObjectID, userRole, e.vaultID+"/secrets/s")
	e.clock.Advance(MaxCacheTTL)
	for range 3 { // the second and third are answered from the remembered decision
		e.mustStatus(e.do("GET", "", "/secrets/s/", tok, nil), 200, "get once granted")
	}
	e.mustStatus(e.do("GET", "", "/secrets/other/", tok, nil), 403, "another secret's scope is its own question")
	if _, err := e.st.DeleteRoleAssignment(e.ctx, assignment); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(MaxCacheTTL)
	e.mustStatus(e.do("GET", "", "/secrets/s/", tok, nil), 403, "get after the assignment was removed")

	// Through a group.
	group := uuid.NewString()
	if err := e.st.CreateGroup(e.ctx, store.Group{ObjectID: group, TenantID: e.in.Tenant.ID, DisplayName: "readers", SecurityEnabled: true, CreatedAt: e.clock.Now()}); err != nil {
		t.Fatal(err)
	}
	if err := e.st.AddGroupMember(e.ctx, store.GroupMember{GroupID: group, MemberID: reader.ObjectID, MemberType: store.MemberServicePrincipal, CreatedAt: e.clock.Now()}); err != nil {
		t.Fatal(err)
	}
	if err := e.st.CreateRoleAssignment(e.ctx, store.RoleAssignment{ID: uuid.NewString(), Scope: e.vaultID, RoleDefinitionID: userRole,
		PrincipalID: group, PrincipalType: "Group", CreatedAt: e.clock.Now(), UpdatedAt: e.clock.Now()}); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(MaxCacheTTL)
	e.mustStatus(e.do("GET", "", "/secrets/s/", tok, nil), 200, "get through the group")
	e.mustStatus(e.do("GET", "", "/secrets/s/", tok, nil), 200, "get through the group, remembered")
	if err := e.st.RemoveGroupMember(e.ctx, group, reader.ObjectID); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(MaxCacheTTL)
	e.mustStatus(e.do("GET", "", "/secrets/s/", tok, nil), 403, "get after leaving the group")
}
