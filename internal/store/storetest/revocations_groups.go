package storetest

import (
	"slices"
	"strings"
	"testing"

	"github.com/mint-id/mint/internal/store"
)

// Revocations of nodes that lose a role through a group or a custom role:
//
//   - RemoveGroupMember names the member if it is an application service principal, and every
//     application below it if it is a group (transitively); DeleteGroup names every application
//     below the group. Managed identities and users are never named by these (a workload losing
//     access through a group keeps its tokens, as in Azure), nor is anything when the write fails.
//   - DeleteRoleAssignment, and deleting the resource or resource group an assignment is at, name
//     the holder if it is an application and every application below it when it is a group; a
//     managed identity losing a role is not named.
//   - PutRoleDefinition replacing a definition's permissions, and DeleteRoleDefinition, name the
//     role's holders that are applications and the applications below the groups among them; a replacement that keeps
//     the permissions names nobody.

// wantPrincipalsRevoked checks that the entries after seq name exactly the principals want (no
// resource) and returns the new cursor.
func wantPrincipalsRevoked(t *testing.T, s store.Store, after int64, what string, want ...string) int64 {
	t.Helper()
	got := revocationsAfter(t, s, after)
	var names []string
	for _, r := range got {
		if r.ResourceID != "" {
			t.Errorf("%s: entry %d names resource %s", what, r.Seq, r.ResourceID)
		}
		names = append(names, strings.ToLower(r.PrincipalID))
	}
	var wantLower []string
	for _, w := range want {
		wantLower = append(wantLower, strings.ToLower(w))
	}
	slices.Sort(names)
	slices.Sort(wantLower)
	if !slices.Equal(names, wantLower) {
		t.Errorf("%s: feed names %v, want %v", what, names, wantLower)
	}
	if len(got) == 0 {
		return after
	}
	return got[len(got)-1].Seq
}

func testRevocationsThroughGroups(t *testing.T, s store.Store) {
	ctx := t.Context()
	tenantID, sub := newID(), newID()
	mustPutGroup(t, s, newGroup(sub, "g", t0))
	node1, node2, node3 := newPrincipal(tenantID, t0), newPrincipal(tenantID, t0), newPrincipal(tenantID, t0)
	for _, sp := range []store.ServicePrincipal{node1, node2, node3} {
		mustCreatePrincipal(t, s, sp)
	}
	mi := newIdentityPrincipal(tenantID, groupScope(sub, "g")+"/providers/"+identityType+"/ua", t0)
	mustCreatePrincipal(t, s, mi)
	user := newUser(tenantID, "p@mint.localhost", t0)
	ok(t, s.CreateUser(ctx, user), "create user")
	outer, inner := newSecurityGroup(tenantID, "outer", t0), newSecurityGroup(tenantID, "inner", t0)
	ok(t, s.CreateGroup(ctx, outer), "create outer")
	ok(t, s.CreateGroup(ctx, inner), "create inner")
	add := func(group, member string, typ store.MemberType) {
		t.Helper()
		ok(t, s.AddGroupMember(ctx, store.GroupMember{GroupID: group, MemberID: member, MemberType: typ, CreatedAt: t0}), "add member")
	}
	add(inner.ObjectID, node1.ObjectID, store.MemberServicePrincipal)
	add(inner.ObjectID, mi.ObjectID, store.MemberServicePrincipal)
	add(inner.ObjectID, user.ObjectID, store.MemberUser)
	add(outer.ObjectID, inner.ObjectID, store.MemberGroup)
	add(outer.ObjectID, node2.ObjectID, store.MemberServicePrincipal)
	role := newRoleDefinition("Broker of things", t0)
	mustPutRoleDefinition(t, s, role)
	viaGroup := newRoleAssignment(groupScope(sub, "g"), outer.ObjectID, role.ID, t0)
	mustCreateRoleAssignment(t, s, viaGroup)
	direct := newRoleAssignment(groupScope(sub, "g"), node3.ObjectID, role.ID, t0)
	mustCreateRoleAssignment(t, s, direct)
	cursor := wantPrincipalsRevoked(t, s, 0, "creating groups, members, a role and its assignments")

	// A nested group leaves: the applications below it, not its managed identity or user.
	ok(t, s.RemoveGroupMember(ctx, outer.ObjectID, inner.ObjectID), "remove inner from outer")
	cursor = wantPrincipalsRevoked(t, s, cursor, "a nested group removed", node1.ObjectID)
	add(outer.ObjectID, inner.ObjectID, store.MemberGroup)
	ok(t, s.RemoveGroupMember(ctx, outer.ObjectID, node2.ObjectID), "remove node2 from outer")
	cursor = wantPrincipalsRevoked(t, s, cursor, "an application removed", node2.ObjectID)
	add(outer.ObjectID, node2.ObjectID, store.MemberServicePrincipal)
	ok(t, s.RemoveGroupMember(ctx, inner.ObjectID, mi.ObjectID), "remove the managed identity")
	ok(t, s.RemoveGroupMember(ctx, inner.ObjectID, user.ObjectID), "remove the user")
	cursor = wantPrincipalsRevoked(t, s, cursor, "a managed identity and a user removed (not revocations)")
	isErr(t, s.RemoveGroupMember(ctx, outer.ObjectID, mi.ObjectID), store.ErrNotFound, "remove a non-member")
	cursor = wantPrincipalsRevoked(t, s, cursor, "a failed removal")
	add(inner.ObjectID, mi.ObjectID, store.MemberServicePrincipal)
	cursor = wantPrincipalsRevoked(t, s, cursor, "adding members")

	// The role changes: its holders, and the applications below the group holding it.
	same := role
	same.Description = "still brokers"
	_, err := s.PutRoleDefinition(ctx, same)
	ok(t, err, "update the role's description")
	cursor = wantPrincipalsRevoked(t, s, cursor, "a description changed")
	fewer := same
	fewer.Permissions = []byte(`[{"actions":[],"notActions":[],"dataActions":[],"notDataActions":[]}]`)
	_, err = s.PutRoleDefinition(ctx, fewer)
	ok(t, err, "update the role's permissions")
	cursor = wantPrincipalsRevoked(t, s, cursor, "the role's permissions changed",
		node1.ObjectID, node2.ObjectID, node3.ObjectID)

	// The group's assignment removed: the group and the applications below it.
	_, err = s.DeleteRoleAssignment(ctx, viaGroup.ID)
	ok(t, err, "delete the group's assignment")
	cursor = wantPrincipalsRevoked(t, s, cursor, "a group's assignment removed", node1.ObjectID, node2.ObjectID)

	// A managed identity's own assignment removed: access is decided at the target, its tokens
	// stand.
	miRole := newRoleAssignment(groupScope(sub, "g"), mi.ObjectID, newID(), t0)
	mustCreateRoleAssignment(t, s, miRole)
	_, err = s.DeleteRoleAssignment(ctx, miRole.ID)
	ok(t, err, "delete the managed identity's assignment")
	cursor = wantPrincipalsRevoked(t, s, cursor, "a managed identity's assignment removed (not a revocation)")

	// The role deleted under an assignment (ARM refuses, but one may be made meanwhile).
	ok(t, s.DeleteRoleDefinition(ctx, role.ID), "delete the role")
	cursor = wantPrincipalsRevoked(t, s, cursor, "the role deleted", node3.ObjectID)
	isErr(t, s.DeleteRoleDefinition(ctx, role.ID), store.ErrNotFound, "delete the role twice")
	cursor = wantPrincipalsRevoked(t, s, cursor, "a failed delete of the role")

	// A group deleted: the applications below it.
	ok(t, s.DeleteGroup(ctx, inner.ObjectID), "delete inner")
	cursor = wantPrincipalsRevoked(t, s, cursor, "a group deleted", node1.ObjectID)
	isErr(t, s.DeleteGroup(ctx, inner.ObjectID), store.ErrNotFound, "delete inner twice")
	cursor = wantPrincipalsRevoked(t, s, cursor, "a failed group delete")

	// A resource group deleted under a group's assignment (and node3's, of the deleted role).
	mustCreateRoleAssignment(t, s, newRoleAssignment(groupScope(sub, "g"), outer.ObjectID, newID(), t0))
	cursor = wantPrincipalsRevoked(t, s, cursor, "a built-in role assigned to a group")
	_, err = s.DeleteResourceGroup(ctx, sub, "g")
	ok(t, err, "delete resource group")
	wantPrincipalsRevoked(t, s, cursor, "a resource group deleted", node2.ObjectID, node3.ObjectID)
}
