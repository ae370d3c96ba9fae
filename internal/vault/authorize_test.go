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
