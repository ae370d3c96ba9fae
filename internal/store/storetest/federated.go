package storetest

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/mint-id/mint/internal/store"
)

func newFederatedCredential(principalID, name, subject string) store.FederatedCredential {
	return store.FederatedCredential{
		ID:          newID(),
		PrincipalID: principalID,
		Name:        name,
		Issuer:      "https://token.actions.githubusercontent.com",
		Subject:     subject,
		Audiences:   []string{"api://AzureADTokenExchange"},
		Description: "deploys from " + subject,
		CreatedAt:   t0,
	}
}

func storedFederatedCredential(c store.FederatedCredential) store.FederatedCredential {
	c.CreatedAt = storedTime(c.CreatedAt)
	return c
}

func testFederatedCredentials(t *testing.T, s store.Store) {
	ctx := t.Context()
	tenantID := newID()
	app := newPrincipal(tenantID, t0)
	other := newPrincipal(tenantID, t0)
	mustCreatePrincipal(t, s, app)
	mustCreatePrincipal(t, s, other)

	got, err := s.ListFederatedCredentials(ctx, app.ObjectID)
	ok(t, err, "list federated credentials of an application without any")
	equal(t, got, []store.FederatedCredential(nil), "federated credentials of an application without any")

	main := newFederatedCredential(app.ObjectID, "github-main", "repo:o/r:ref:refs/heads/main")
	prod := newFederatedCredential(app.ObjectID, "github-prod", "repo:o/r:environment:prod")
	prod.Audiences = []string{"api://custom"}
	prod.CreatedAt = t0.Add(-time.Hour) // listed in the order added, not by time
	for _, c := range []store.FederatedCredential{main, prod} {
		ok(t, s.AddFederatedCredential(ctx, c, 20), "add federated credential "+c.Name)
	}
	got, err = s.ListFederatedCredentials(ctx, app.ObjectID)
	ok(t, err, "list federated credentials")
	equal(t, got, storedAll(storedFederatedCredential, main, prod), "federated credentials")

	sameName := newFederatedCredential(app.ObjectID, "GitHub-Main", "repo:o/r:pull_request")
	isErr(t, s.AddFederatedCredential(ctx, sameName, 20), store.ErrConflict, "add a credential whose name differs only in case")
	sameTrust := newFederatedCredential(app.ObjectID, "another", main.Subject)
	isErr(t, s.AddFederatedCredential(ctx, sameTrust, 20), store.ErrConflict, "add a credential with a taken issuer and subject")
	sameID := newFederatedCredential(other.ObjectID, "x1", "s")
	sameID.ID = main.ID
	isErr(t, s.AddFederatedCredential(ctx, sameID, 20), store.ErrConflict, "add a credential with a taken id")
	otherCase := newFederatedCredential(app.ObjectID, "upper", "REPO:O/R:REF:REFS/HEADS/MAIN")
	ok(t, s.AddFederatedCredential(ctx, otherCase, 20), "issuer and subject are compared exactly")
	elsewhere := newFederatedCredential(other.ObjectID, main.Name, main.Subject)
	ok(t, s.AddFederatedCredential(ctx, elsewhere, 20), "name, issuer and subject are unique per application only")
	isErr(t, s.AddFederatedCredential(ctx, newFederatedCredential(newID(), "orphan", "s"), 20), store.ErrNotFound, "add to a missing principal")
	// Flexible credentials: no subject, unique by issuer and expression.
	flexible := newFederatedCredential(other.ObjectID, "branches", "")
	flexible.ClaimsMatchingExpression = "claims['sub'] matches 'repo:o/r:ref:refs/heads/*'"
	ok(t, s.AddFederatedCredential(ctx, flexible, 20), "add a flexible credential")
	environments := newFederatedCredential(other.ObjectID, "environments", "")
	environments.ClaimsMatchingExpression = "claims['sub'] matches 'repo:o/r:environment:*'"
	ok(t, s.AddFederatedCredential(ctx, environments, 20), "add a second flexible credential for the issuer")
	sameExpression := newFederatedCredential(other.ObjectID, "branches-again", "")
	sameExpression.ClaimsMatchingExpression = flexible.ClaimsMatchingExpression
	isErr(t, s.AddFederatedCredential(ctx, sameExpression, 20), store.ErrConflict, "add a flexible credential with a taken issuer and expression")
	isErr(t, s.AddFederatedCredential(ctx, newFederatedCredential(app.ObjectID, "full", "s"), 3), store.ErrLimitReached, "add beyond the limit")

	updated := prod
	updated.Subject, updated.Audiences, updated.Description = "repo:o/r:environment:staging", []string{"api://AzureADTokenExchange"}, ""
	updated.Name = "ignored" // names never change
	ok(t, s.UpdateFederatedCredential(ctx, updated), "update a federated credential")
	updated.Name = prod.Name
	dup := updated
	dup.Subject = main.Subject
	isErr(t, s.UpdateFederatedCredential(ctx, dup), store.ErrConflict, "update to a taken issuer and subject")
	missing := updated
	missing.ID = newID()
	isErr(t, s.UpdateFederatedCredential(ctx, missing), store.ErrNotFound, "update a missing credential")
	missing.ID, missing.PrincipalID = updated.ID, other.ObjectID
	isErr(t, s.UpdateFederatedCredential(ctx, missing), store.ErrNotFound, "update through another application")

	isErr(t, s.DeleteFederatedCredential(ctx, other.ObjectID, main.ID), store.ErrNotFound, "delete through another application")
	ok(t, s.DeleteFederatedCredential(ctx, app.ObjectID, main.ID), "delete a federated credential")
	isErr(t, s.DeleteFederatedCredential(ctx, app.ObjectID, main.ID), store.ErrNotFound, "delete twice")
	got, err = s.ListFederatedCredentials(ctx, app.ObjectID)
	ok(t, err, "list after update and delete")
	equal(t, got, storedAll(storedFederatedCredential, updated, otherCase), "federated credentials after update and delete")

	ok(t, s.DeletePrincipal(ctx, app.ObjectID), "delete the application")
	got, err = s.ListFederatedCredentials(ctx, app.ObjectID)
	ok(t, err, "list a deleted application's credentials")
	equal(t, got, []store.FederatedCredential(nil), "a deleted application's credentials")
	got, err = s.ListFederatedCredentials(ctx, other.ObjectID)
	ok(t, err, "list the other application's credentials")
	equal(t, got, storedAll(storedFederatedCredential, elsewhere, flexible, environments), "the other application's credentials")
}

// testSharedFederatedLimit races adds through two handles: the per-application limit holds.
func testSharedFederatedLimit(t *testing.T, a, b store.Store) {
	ctx := t.Context()
	app := newPrincipal(newID(), t0)
	mustCreatePrincipal(t, a, app)
	const limit = 5
	handles := []store.Store{a, b}
	errs := parallel(20, func(i int) error {
		return handles[i%2].AddFederatedCredential(ctx, newFederatedCredential(app.ObjectID, fmt.Sprintf("c%02d", i), fmt.Sprintf("s%d", i)), limit)
	})
	added := 0
	for i, err := range errs {
		switch {
		case err == nil:
			added++
		case !errors.Is(err, store.ErrLimitReached):
			t.Fatalf("add %d: %v", i, err)
		}
	}
	got, err := b.ListFederatedCredentials(ctx, app.ObjectID)
	ok(t, err, "list after the race")
	equal(t, [2]int{added, len(got)}, [2]int{limit, limit}, "credentials added and kept under a limit of 5")
}
