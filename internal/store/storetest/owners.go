package storetest

import (
	"strings"
	"testing"
	"time"

	"github.com/mint-id/mint/internal/store"
)

// Owners (store.Owners)
//
//   - AddOwner: ErrNotFound when the principal does not exist, ErrConflict when the owner owns it
//     already (the owner's id compared case-insensitively). The store does not check that the
//     owner exists or what it is.
//   - RemoveOwner: ErrNotFound when not an owner. An application may be left with no owner.
//   - ListOwners, ListOwnedObjects: the order added; nil when none.
//   - DeletePrincipal removes the principal's owners and the ownerships it holds as an owner;
//     DeleteUser removes the user's ownerships.

func testOwners(t *testing.T, s store.Store) {
	ctx := t.Context()
	tenant := newID()
	app, other, ownerSP := newPrincipal(tenant, t0), newPrincipal(tenant, t0), newPrincipal(tenant, t0)
	for _, sp := range []store.ServicePrincipal{app, other, ownerSP} {
		mustCreatePrincipal(t, s, sp)
	}
	user := newUser(tenant, "owner@mint.localhost", t0)
	ok(t, s.CreateUser(ctx, user), "create a user")

	got, err := s.ListOwners(ctx, app.ObjectID)
	ok(t, err, "list owners of an application without any")
	equal(t, got, []store.PrincipalOwner(nil), "owners of an application without any")
	is, err := s.IsOwner(ctx, app.ObjectID, user.ObjectID)
	ok(t, err, "is a stranger an owner")
	equal(t, is, false, "a stranger is an owner")

	add := func(principal, owner string, typ store.MemberType, at time.Time) store.PrincipalOwner {
		o := store.PrincipalOwner{PrincipalID: principal, OwnerID: owner, OwnerType: typ, CreatedAt: at}
		ok(t, s.AddOwner(ctx, o), "add a "+string(typ)+" owner")
		o.CreatedAt = storedTime(at)
		return o
	}
	o1 := add(app.ObjectID, user.ObjectID, store.MemberUser, t0.Add(time.Second))
	o2 := add(app.ObjectID, ownerSP.ObjectID, store.MemberServicePrincipal, t0)
	o3 := add(other.ObjectID, user.ObjectID, store.MemberUser, t0)
	isErr(t, s.AddOwner(ctx, store.PrincipalOwner{PrincipalID: app.ObjectID, OwnerID: strings.ToUpper(user.ObjectID), OwnerType: store.MemberUser, CreatedAt: t0}),
		store.ErrConflict, "adding an owner twice")
	isErr(t, s.AddOwner(ctx, store.PrincipalOwner{PrincipalID: newID(), OwnerID: user.ObjectID, OwnerType: store.MemberUser, CreatedAt: t0}),
		store.ErrNotFound, "adding an owner to a missing principal")

	got, err = s.ListOwners(ctx, app.ObjectID)
	ok(t, err, "list the application's owners")
	equal(t, got, []store.PrincipalOwner{o1, o2}, "the application's owners in the order added")
	got, err = s.ListOwnedObjects(ctx, strings.ToUpper(user.ObjectID))
	ok(t, err, "list what the user owns")
	equal(t, got, []store.PrincipalOwner{o1, o3}, "what the user owns, in the order added")
	got, err = s.ListOwnedObjects(ctx, newID())
	ok(t, err, "list what a stranger owns")
	equal(t, got, []store.PrincipalOwner(nil), "what a stranger owns")
	is, err = s.IsOwner(ctx, app.ObjectID, strings.ToUpper(user.ObjectID))
	ok(t, err, "is the user an owner")
	equal(t, is, true, "the user is an owner, whatever the case of its id")

	isErr(t, s.RemoveOwner(ctx, other.ObjectID, ownerSP.ObjectID), store.ErrNotFound, "removing a non-owner")
	ok(t, s.RemoveOwner(ctx, other.ObjectID, user.ObjectID), "remove the last owner of other")
	got, _ = s.ListOwners(ctx, other.ObjectID)
	equal(t, got, []store.PrincipalOwner(nil), "other's owners after the last is removed")

	// Deleting an owner removes its ownerships; deleting the application removes its owners.
	ok(t, s.DeletePrincipal(ctx, ownerSP.ObjectID), "delete the owning service principal")
	got, _ = s.ListOwners(ctx, app.ObjectID)
	equal(t, got, []store.PrincipalOwner{o1}, "owners after the owning principal is deleted")
	add(other.ObjectID, user.ObjectID, store.MemberUser, t0)
	ok(t, s.DeleteUser(ctx, user.ObjectID), "delete the owning user")
	got, _ = s.ListOwners(ctx, app.ObjectID)
	equal(t, got, []store.PrincipalOwner(nil), "owners after the owning user is deleted")
	o4 := add(app.ObjectID, newID(), store.MemberUser, t0)
	ok(t, s.DeletePrincipal(ctx, app.ObjectID), "delete the application")
	got, _ = s.ListOwnedObjects(ctx, o4.OwnerID)
	equal(t, got, []store.PrincipalOwner(nil), "ownerships of a deleted application")
}
