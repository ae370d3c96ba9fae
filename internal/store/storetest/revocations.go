package storetest

import (
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mint-id/mint/internal/store"
)

// revocationsAfter lists every entry after seq.
func revocationsAfter(t *testing.T, s store.Store, after int64) []store.Revocation {
	t.Helper()
	var all []store.Revocation
	for {
		page, err := s.ListRevocations(t.Context(), after, 2)
		ok(t, err, "list revocations")
		if len(page) == 0 {
			return all
		}
		all = append(all, page...)
		after = page[len(page)-1].Seq
	}
}

// wantRevoked checks that the entries after seq name (resource, principal) pairs including want
// (resource ids compared case-insensitively), in order of sequence, and returns the new cursor.
func wantRevoked(t *testing.T, s store.Store, after int64, what string, want ...[2]string) int64 {
	t.Helper()
	got := revocationsAfter(t, s, after)
	var pairs [][2]string
	for i, r := range got {
		if r.Seq != after+int64(i)+1 {
			t.Errorf("%s: entry %d has seq %d, want %d (no gaps)", what, i, r.Seq, after+int64(i)+1)
		}
		if r.CreatedAt.IsZero() {
			t.Errorf("%s: entry %d has no creation time", what, r.Seq)
		}
		pairs = append(pairs, [2]string{strings.ToLower(r.ResourceID), r.PrincipalID})
	}
	for _, w := range want {
		w[0] = strings.ToLower(w[0])
		found := false
		for _, p := range pairs {
			found = found || p == w
		}
		if !found {
			t.Errorf("%s: feed %v lacks %v", what, pairs, w)
		}
	}
	if len(want) == 0 && len(got) != 0 {
		t.Errorf("%s: feed has %v, want nothing", what, pairs)
	}
	if len(got) == 0 {
		return after
	}
	return got[len(got)-1].Seq
}

func testRevocations(t *testing.T, s store.Store) {
	ctx := t.Context()
	first, last, err := s.RevocationBounds(ctx)
	ok(t, err, "bounds of an empty feed")
	equal(t, [2]int64{first, last}, [2]int64{1, 0}, "bounds of an empty feed")

	tenantID, sub := newID(), newID()
	mustPutGroup(t, s, newGroup(sub, "g", t0))
	ua := newResource(sub, "g", identityType, "ua", t0)
	uaSP := newIdentityPrincipal(tenantID, ua.ID, t0)
	ua.PrincipalID = uaSP.ObjectID
	mustPutResource(t, s, ua, uaSP)
	vm := newResource(sub, "g", vmType, "vm", t0)
	system := newIdentityPrincipal(tenantID, vm.ID, t0)
	vm.PrincipalID = system.ObjectID
	vm.UserAssignedIdentities = []string{ua.ID}
	mustPutResource(t, s, vm, system)
	cursor := wantRevoked(t, s, 0, "creating resources and identities")

	// An update that keeps the identities revokes nothing; a case change of an attached id
	// detaches nothing.
	vm.Tags = map[string]string{"env": "test"}
	vm.UserAssignedIdentities = []string{strings.ToUpper(ua.ID)}
	mustPutResource(t, s, vm)
	cursor = wantRevoked(t, s, cursor, "a tag update")

	// Detaching the user-assigned identity revokes the resource's tokens.
	vm.UserAssignedIdentities = nil
	mustPutResource(t, s, vm)
	cursor = wantRevoked(t, s, cursor, "detaching an identity", [2]string{vm.ID, ""})

	// Disabling the system-assigned identity revokes its principal's tokens for the resource.
	noSystem := vm
	noSystem.PrincipalID = ""
	_, err = s.PutResource(ctx, noSystem, nil, []string{system.ObjectID})
	ok(t, err, "disable system-assigned identity")
	cursor = wantRevoked(t, s, cursor, "disabling a system-assigned identity", [2]string{vm.ID, system.ObjectID})

	// A failed put records nothing.
	clash := newIdentityPrincipal(tenantID, vm.ID, t0)
	clash.ObjectID = uaSP.ObjectID
	vm.PrincipalID = clash.ObjectID
	vm.UserAssignedIdentities = nil
	_, err = s.PutResource(ctx, vm, []store.ServicePrincipal{clash}, nil)
	isErr(t, err, store.ErrConflict, "put creating a taken principal")
	cursor = wantRevoked(t, s, cursor, "a failed put")

	// Removing a role assignment revokes its holder's tokens (a node may have lost its broker
	// role).
	node := newPrincipal(tenantID, t0)
	mustCreatePrincipal(t, s, node)
	a := newRoleAssignment(groupScope(sub, "g"), node.ObjectID, newID(), t0)
	mustCreateRoleAssignment(t, s, a)
	cursor = wantRevoked(t, s, cursor, "creating a role assignment")
	_, err = s.DeleteRoleAssignment(ctx, a.ID)
	ok(t, err, "delete role assignment")
	cursor = wantRevoked(t, s, cursor, "deleting a role assignment", [2]string{"", node.ObjectID})
	_, err = s.DeleteRoleAssignment(ctx, a.ID)
	isErr(t, err, store.ErrNotFound, "delete a deleted role assignment")
	cursor = wantRevoked(t, s, cursor, "deleting a missing role assignment")

	// Deleting an identity revokes its own tokens; deleting a principal, the principal's.
	_, err = s.DeleteResource(ctx, ua.ID)
	ok(t, err, "delete user-assigned identity")
	cursor = wantRevoked(t, s, cursor, "deleting an identity", [2]string{ua.ID, uaSP.ObjectID})
	ok(t, s.DeletePrincipal(ctx, node.ObjectID), "delete principal")
	cursor = wantRevoked(t, s, cursor, "deleting a principal", [2]string{"", node.ObjectID})
	isErr(t, s.DeletePrincipal(ctx, node.ObjectID), store.ErrNotFound, "delete a deleted principal")
	cursor = wantRevoked(t, s, cursor, "deleting a missing principal")

	// Deleting a group revokes each resource in it and the holders of the assignments in it.
	holder := newPrincipal(tenantID, t0)
	mustCreatePrincipal(t, s, holder)
	mustCreateRoleAssignment(t, s, newRoleAssignment(vm.ID, holder.ObjectID, newID(), t0))
	vm2 := newResource(sub, "g", vmType, "vm2", t0)
	sys2 := newIdentityPrincipal(tenantID, vm2.ID, t0)
	vm2.PrincipalID = sys2.ObjectID
	mustPutResource(t, s, vm2, sys2)
	cursor = wantRevoked(t, s, cursor, "creating more")
	_, err = s.DeleteResourceGroup(ctx, sub, "g")
	ok(t, err, "delete resource group")
	cursor = wantRevoked(t, s, cursor, "deleting a group",
		[2]string{vm.ID, ""}, [2]string{vm2.ID, sys2.ObjectID}, [2]string{"", holder.ObjectID})

	first, last, err = s.RevocationBounds(ctx)
	ok(t, err, "bounds")
	equal(t, [2]int64{first, last}, [2]int64{1, cursor}, "bounds")
	page, err := s.ListRevocations(ctx, 0, 1)
	ok(t, err, "list with a limit")
	equal(t, len(page), 1, "entries listed with limit 1")

	// Purging keeps the sequence: new entries continue after the purged ones.
	n, err := s.PurgeRevocations(ctx, time.Now().Add(time.Hour))
	ok(t, err, "purge")
	equal(t, n, cursor, "entries purged")
	first, last, err = s.RevocationBounds(ctx)
	ok(t, err, "bounds after a purge")
	equal(t, [2]int64{first, last}, [2]int64{cursor + 1, cursor}, "bounds after a purge")
	other := newPrincipal(tenantID, t0)
	mustCreatePrincipal(t, s, other)
	ok(t, s.DeletePrincipal(ctx, other.ObjectID), "delete principal after a purge")
	wantRevoked(t, s, cursor, "after a purge", [2]string{"", other.ObjectID})
	n, err = s.PurgeRevocations(ctx, time.Now().Add(-time.Hour))
	ok(t, err, "purge nothing")
	equal(t, n, int64(0), "entries purged before an hour ago")
}

// testSharedRevocations: two servers write revocations at once while a third reader polls; the
// reader must see every entry exactly once, with no gap at any time, which is what lets a server
// keep a cursor into the feed.
func testSharedRevocations(t *testing.T, a, b store.Store) {
	ctx := t.Context()
	tenantID := newID()
	const writers = 16
	ids := make([]string, writers)
	for i := range ids {
		sp := newPrincipal(tenantID, t0)
		mustCreatePrincipal(t, a, sp)
		ids[i] = sp.ObjectID
	}
	var done atomic.Bool
	var wg sync.WaitGroup
	var seen []store.Revocation
	var pollErr error
	wg.Add(1)
	go func() {
		defer wg.Done()
		var cursor int64
		for {
			finished := done.Load()
			page, err := b.ListRevocations(ctx, cursor, 0)
			if err != nil {
				pollErr = err
				return
			}
			for _, r := range page {
				if r.Seq != cursor+1 {
					pollErr = fmt.Errorf("after seq %d the reader saw %d: an entry committed out of order", cursor, r.Seq)
					return
				}
				cursor = r.Seq
				seen = append(seen, r)
			}
			if finished && len(page) == 0 {
				return
			}
		}
	}()
	handles := []store.Store{a, b}
	errs := parallel(writers, func(i int) error { return handles[i%2].DeletePrincipal(ctx, ids[i]) })
	done.Store(true)
	wg.Wait()
	for i, err := range errs {
		ok(t, err, fmt.Sprintf("delete principal %d", i))
	}
	ok(t, pollErr, "poll the feed")
	equal(t, len(seen), writers, "entries the reader saw")
	got := map[string]bool{}
	for _, r := range seen {
		got[r.PrincipalID] = true
	}
	for _, id := range ids {
		if !got[id] {
			t.Errorf("the reader never saw the deletion of %s", id)
		}
	}
}
