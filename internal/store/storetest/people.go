package storetest

import (
	"strings"
	"testing"
	"time"

	"github.com/mint-id/mint/internal/store"
)

// People (store.Users, store.Groups)
//
//   - Object ids are lower-case GUIDs; lookups by object id ignore case.
//   - CreateUser: ErrConflict when the object id is taken or another user of the tenant has the
//     same user principal name, compared case-insensitively (the spelling given is returned).
//     GetUserByPrincipalName matches case-insensitively within the tenant only.
//   - UpdateUser replaces every field but ObjectID, TenantID and CreatedAt; ErrNotFound for a
//     missing user, ErrConflict for a taken name.
//   - ListUsers, ListGroups: CreatedAt, then object id; nil when none.
//   - AddGroupMember: ErrNotFound when the group does not exist, ErrConflict when already a
//     member. The store does not check that the member exists (it may be a user, a group or a
//     service principal). RemoveGroupMember: ErrNotFound when not a member.
//   - ListGroupMembers, ListMemberOf: the order added.
//   - DeleteUser and DeleteGroup also remove the memberships the object holds as a member, and
//     DeleteGroup those of its own members; DeletePrincipal removes the principal's memberships.

func newUser(tenantID, upn string, created time.Time) store.User {
	return store.User{
		ObjectID:                      newID(),
		TenantID:                      tenantID,
		UserPrincipalName:             upn,
		DisplayName:                   "Person " + upn,
		MailNickname:                  strings.Split(upn, "@")[0],
		AccountEnabled:                true,
		PasswordHash:                  "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g",
		ForceChangePasswordNextSignIn: true,
		TokensValidAfter:              created,
		CreatedAt:                     created,
	}
}

// forToken is what GetUserForToken reads of a stored user.
func forToken(u store.User) store.User {
	u = storedUser(u)
	return store.User{ObjectID: u.ObjectID, TenantID: u.TenantID, UserPrincipalName: u.UserPrincipalName, DisplayName: u.DisplayName,
		AccountEnabled: u.AccountEnabled, TokensValidAfter: u.TokensValidAfter}
}

func storedUser(u store.User) store.User {
	u.TokensValidAfter = storedTime(u.TokensValidAfter)
	u.CreatedAt = storedTime(u.CreatedAt)
	return u
}

func newSecurityGroup(tenantID, name string, created time.Time) store.Group {
	return store.Group{ObjectID: newID(), TenantID: tenantID, DisplayName: name, MailNickname: name,
		Description: "the " + name + " group", SecurityEnabled: true, CreatedAt: created}
}

func storedSecurityGroup(g store.Group) store.Group {
	g.CreatedAt = storedTime(g.CreatedAt)
	return g
}

func testUsers(t *testing.T, s store.Store) {
	ctx := t.Context()
	tenant, other := newID(), newID()
	got, err := s.ListUsers(ctx, tenant)
	ok(t, err, "list users of an empty tenant")
	equal(t, got, []store.User(nil), "users of an empty tenant")

	ada := newUser(tenant, "Ada@mint.localhost", t0)
	bob := newUser(tenant, "bob@mint.localhost", t0.Add(time.Second))
	bob.AccountEnabled, bob.ForceChangePasswordNextSignIn = false, false
	ok(t, s.CreateUser(ctx, bob), "create bob")
	ok(t, s.CreateUser(ctx, ada), "create ada")

	u, err := s.GetUser(ctx, strings.ToUpper(ada.ObjectID))
	ok(t, err, "get ada by upper-case object id")
	equal(t, u, storedUser(ada), "ada")
	u, err = s.GetUserByPrincipalName(ctx, strings.ToUpper(tenant), "ADA@MINT.LOCALHOST")
	ok(t, err, "get ada by principal name in another case")
	equal(t, u, storedUser(ada), "ada by principal name")
	_, err = s.GetUserByPrincipalName(ctx, other, "ada@mint.localhost")
	isErr(t, err, store.ErrNotFound, "ada's name in another tenant")
	_, err = s.GetUser(ctx, newID())
	isErr(t, err, store.ErrNotFound, "a missing user")
	u, err = s.GetUserForToken(ctx, strings.ToUpper(ada.ObjectID))
	ok(t, err, "ada for a token, by upper-case object id")
	equal(t, u, forToken(ada), "ada for a token")
	_, err = s.GetUserForToken(ctx, newID())
	isErr(t, err, store.ErrNotFound, "a missing user for a token")

	dup := newUser(tenant, "ADA@mint.localhost", t0)
	isErr(t, s.CreateUser(ctx, dup), store.ErrConflict, "a second user with ada's name in another case")
	sameID := newUser(tenant, "carol@mint.localhost", t0)
	sameID.ObjectID = ada.ObjectID
	isErr(t, s.CreateUser(ctx, sameID), store.ErrConflict, "a user with ada's object id")
	ok(t, s.CreateUser(ctx, newUser(other, "ada@mint.localhost", t0)), "ada's name in another tenant")

	list, err := s.ListUsers(ctx, tenant)
	ok(t, err, "list users")
	equal(t, list, []store.User{storedUser(ada), storedUser(bob)}, "users by creation")

	// Update replaces everything but the ids and CreatedAt.
	up := ada
	up.UserPrincipalName, up.DisplayName, up.MailNickname = "ada.l@mint.localhost", "Ada L", "adal"
	up.AccountEnabled, up.PasswordHash, up.ForceChangePasswordNextSignIn = false, "$argon2id$new", false
	up.TokensValidAfter = t0.Add(time.Hour)
	up.TenantID, up.CreatedAt = other, t0.Add(48*time.Hour)
	ok(t, s.UpdateUser(ctx, up), "update ada")
	want := up
	want.TenantID, want.CreatedAt = ada.TenantID, ada.CreatedAt
	u, err = s.GetUser(ctx, ada.ObjectID)
	ok(t, err, "get ada after update")
	equal(t, u, storedUser(want), "ada after update")
	// A reset (TokensValidAfter) or a disable is what the next redemption reads, at once.
	u, err = s.GetUserForToken(ctx, ada.ObjectID)
	ok(t, err, "ada for a token after update")
	equal(t, u, forToken(want), "ada for a token after update")
	_, err = s.GetUserByPrincipalName(ctx, tenant, "ada@mint.localhost")
	isErr(t, err, store.ErrNotFound, "ada's old name after the rename")
	up.UserPrincipalName = "BOB@mint.localhost"
	isErr(t, s.UpdateUser(ctx, up), store.ErrConflict, "renaming ada to bob's name")
	isErr(t, s.UpdateUser(ctx, newUser(tenant, "x@mint.localhost", t0)), store.ErrNotFound, "updating a missing user")

	ok(t, s.DeleteUser(ctx, bob.ObjectID), "delete bob")
	isErr(t, s.DeleteUser(ctx, bob.ObjectID), store.ErrNotFound, "delete bob again")
	_, err = s.GetUser(ctx, bob.ObjectID)
	isErr(t, err, store.ErrNotFound, "bob after delete")
	_, err = s.GetUserForToken(ctx, bob.ObjectID)
	isErr(t, err, store.ErrNotFound, "bob for a token after delete")
	ok(t, s.CreateUser(ctx, newUser(tenant, "bob@mint.localhost", t0)), "bob's name is free again")
}

func testGroups(t *testing.T, s store.Store) {
	ctx := t.Context()
	tenant := newID()
	got, err := s.ListGroups(ctx, tenant)
	ok(t, err, "list groups of an empty tenant")
	equal(t, got, []store.Group(nil), "groups of an empty tenant")

	outer := newSecurityGroup(tenant, "outer", t0)
	inner := newSecurityGroup(tenant, "inner", t0.Add(time.Second))
	inner.Description = ""
	ok(t, s.CreateGroup(ctx, inner), "create inner")
	ok(t, s.CreateGroup(ctx, outer), "create outer")
	isErr(t, s.CreateGroup(ctx, outer), store.ErrConflict, "create outer twice")
	ok(t, s.CreateGroup(ctx, newSecurityGroup(tenant, "outer", t0.Add(time.Minute))), "display names need not be unique")
	g, err := s.GetGroup(ctx, strings.ToUpper(outer.ObjectID))
	ok(t, err, "get outer")
	equal(t, g, storedSecurityGroup(outer), "outer")
	list, err := s.ListGroups(ctx, tenant)
	ok(t, err, "list groups")
	equal(t, len(list), 3, "number of groups")
	equal(t, list[0], storedSecurityGroup(outer), "the oldest group first")

	up := outer
	up.DisplayName, up.MailNickname, up.Description = "Outer", "outer2", "renamed"
	ok(t, s.UpdateGroup(ctx, up), "update outer")
	g, _ = s.GetGroup(ctx, outer.ObjectID)
	equal(t, g, storedSecurityGroup(up), "outer after update")
	isErr(t, s.UpdateGroup(ctx, newSecurityGroup(tenant, "x", t0)), store.ErrNotFound, "update a missing group")

	user := newUser(tenant, "m@mint.localhost", t0)
	ok(t, s.CreateUser(ctx, user), "create a user")
	sp := newPrincipal(tenant, t0)
	mustCreatePrincipal(t, s, sp)
	add := func(group string, member string, typ store.MemberType) store.GroupMember {
		m := store.GroupMember{GroupID: group, MemberID: member, MemberType: typ, CreatedAt: t0}
		ok(t, s.AddGroupMember(ctx, m), "add "+string(typ)+" member")
		m.CreatedAt = storedTime(m.CreatedAt)
		return m
	}
	m1 := add(inner.ObjectID, user.ObjectID, store.MemberUser)
	m2 := add(inner.ObjectID, sp.ObjectID, store.MemberServicePrincipal)
	m3 := add(outer.ObjectID, inner.ObjectID, store.MemberGroup)
	m4 := add(outer.ObjectID, user.ObjectID, store.MemberUser)
	isErr(t, s.AddGroupMember(ctx, store.GroupMember{GroupID: inner.ObjectID, MemberID: user.ObjectID, MemberType: store.MemberUser, CreatedAt: t0}),
		store.ErrConflict, "adding a member twice")
	isErr(t, s.AddGroupMember(ctx, store.GroupMember{GroupID: newID(), MemberID: user.ObjectID, MemberType: store.MemberUser, CreatedAt: t0}),
		store.ErrNotFound, "adding to a missing group")

	ms, err := s.ListGroupMembers(ctx, inner.ObjectID)
	ok(t, err, "list inner's members")
	equal(t, ms, []store.GroupMember{m1, m2}, "inner's members in the order added")
	ms, err = s.ListMemberOf(ctx, user.ObjectID)
	ok(t, err, "list the user's groups")
	equal(t, ms, []store.GroupMember{m1, m4}, "the user's groups in the order added")
	ms, err = s.ListMemberOf(ctx, newID())
	ok(t, err, "groups of a stranger")
	equal(t, ms, []store.GroupMember(nil), "groups of a stranger")
	// Several members at once: each member's memberships in ListMemberOf's order; ids in any case.
	ms, err = s.ListMemberOfAny(ctx, []string{strings.ToUpper(user.ObjectID), newID(), inner.ObjectID, sp.ObjectID})
	ok(t, err, "list the groups of several members")
	byMember := map[string][]store.GroupMember{}
	for _, m := range ms {
		byMember[strings.ToLower(m.MemberID)] = append(byMember[strings.ToLower(m.MemberID)], m)
	}
	equal(t, byMember, map[string][]store.GroupMember{strings.ToLower(user.ObjectID): {m1, m4}, strings.ToLower(inner.ObjectID): {m3},
		strings.ToLower(sp.ObjectID): {m2}}, "the groups of several members")
	ms, err = s.ListMemberOfAny(ctx, nil)
	ok(t, err, "groups of no members")
	equal(t, ms, []store.GroupMember(nil), "groups of no members")

	isErr(t, s.RemoveGroupMember(ctx, outer.ObjectID, sp.ObjectID), store.ErrNotFound, "removing a non-member")
	ok(t, s.RemoveGroupMember(ctx, outer.ObjectID, user.ObjectID), "remove the user from outer")
	ms, _ = s.ListGroupMembers(ctx, outer.ObjectID)
	equal(t, ms, []store.GroupMember{m3}, "outer's members after the removal")

	// Deleting a principal, a user or a group removes the memberships it holds.
	ok(t, s.DeletePrincipal(ctx, sp.ObjectID), "delete the service principal")
	ms, _ = s.ListGroupMembers(ctx, inner.ObjectID)
	equal(t, ms, []store.GroupMember{m1}, "inner's members after the principal is deleted")
	ok(t, s.DeleteUser(ctx, user.ObjectID), "delete the user")
	ms, _ = s.ListGroupMembers(ctx, inner.ObjectID)
	equal(t, ms, []store.GroupMember(nil), "inner's members after the user is deleted")
	ok(t, s.DeleteGroup(ctx, inner.ObjectID), "delete inner")
	ms, _ = s.ListGroupMembers(ctx, outer.ObjectID)
	equal(t, ms, []store.GroupMember(nil), "outer's members after inner is deleted")
	isErr(t, s.DeleteGroup(ctx, inner.ObjectID), store.ErrNotFound, "delete inner again")
	add(outer.ObjectID, newID(), store.MemberUser)
	ok(t, s.DeleteGroup(ctx, outer.ObjectID), "delete a group with members")
	ms, _ = s.ListGroupMembers(ctx, outer.ObjectID)
	equal(t, ms, []store.GroupMember(nil), "members of a deleted group")
}

// ListUsersPage and ListGroupsPage: the filters as ListPrincipalsPage's (case ignored in ASCII
// letters), pages after a cursor, a renamed object found by its new name, a bad cursor refused.
func testPeoplePages(t *testing.T, s store.Store) {
	ctx := t.Context()
	tenant := newID()
	ada := newUser(tenant, "Ada@example.com", t0)
	ada.DisplayName = "Ada Lovelace"
	alan := newUser(tenant, "alan@example.com", t0.Add(time.Second))
	alan.DisplayName = "Alan Turing"
	grace := newUser(tenant, "grace@example.com", t0.Add(time.Second))
	grace.DisplayName = "ada-like"
	if grace.ObjectID < alan.ObjectID {
		alan.ObjectID, grace.ObjectID = grace.ObjectID, alan.ObjectID
	}
	elsewhere := newUser(newID(), "ada@example.com", t0)
	elsewhere.DisplayName = "Ada Lovelace"
	for _, u := range []store.User{grace, elsewhere, alan, ada} {
		ok(t, s.CreateUser(ctx, u), "create user "+u.UserPrincipalName)
	}
	users := func(us ...store.User) []store.User {
		if len(us) == 0 {
			return nil
		}
		out := make([]store.User, len(us))
		for i, u := range us {
			out[i] = storedUser(u)
		}
		return out
	}
	for _, tc := range []struct {
		what string
		f    store.PeopleFilter
		want []store.User
	}{
		{"all", store.PeopleFilter{TenantID: strings.ToUpper(tenant)}, users(ada, alan, grace)},
		{"upn", store.PeopleFilter{TenantID: tenant, UserPrincipalName: "ADA@EXAMPLE.COM"}, users(ada)},
		{"display name", store.PeopleFilter{TenantID: tenant, DisplayName: "alan turing"}, users(alan)},
		{"prefix", store.PeopleFilter{TenantID: tenant, DisplayNamePrefix: "ADA"}, users(ada, grace)},
		{"prefix and upn", store.PeopleFilter{TenantID: tenant, DisplayNamePrefix: "ada", UserPrincipalName: "grace@example.com"}, users(grace)},
		{"limit", store.PeopleFilter{TenantID: tenant, Limit: 1}, users(ada)},
		{"after", store.PeopleFilter{TenantID: tenant, After: store.ObjectCursor(alan.CreatedAt, alan.ObjectID)}, users(grace)},
		{"mail nickname", store.PeopleFilter{TenantID: tenant, MailNickname: "ADA"}, users(ada)},
		{"mail nickname is whole", store.PeopleFilter{TenantID: tenant, MailNickname: "ad"}, nil},
		{"search a word", store.PeopleFilter{TenantID: tenant, Search: searchWords("love")}, users(ada)},
		{"search words begin", store.PeopleFilter{TenantID: tenant, Search: searchWords("a")}, users(ada, alan, grace)},
		{"search all words", store.PeopleFilter{TenantID: tenant, Search: searchWords("like", "ada")}, users(grace)},
		{"search upn", store.PeopleFilter{TenantID: tenant, Search: &store.SearchTerm{Property: store.SearchUserPrincipalName, Prefix: "AL"}}, users(alan)},
		{"search mail nickname", store.PeopleFilter{TenantID: tenant, Search: &store.SearchTerm{Property: store.SearchMailNickname, Prefix: "gra"}}, users(grace)},
		{"search id", store.PeopleFilter{TenantID: tenant, Search: &store.SearchTerm{Property: store.SearchObjectID, Prefix: ada.ObjectID[:12]}}, users(ada)},
		{"search or", store.PeopleFilter{TenantID: tenant, Search: &store.SearchTerm{Op: "OR", Left: searchWords("turing"),
			Right: &store.SearchTerm{Property: store.SearchUserPrincipalName, Prefix: "grace@"}}}, users(alan, grace)},
		{"search after, limit", store.PeopleFilter{TenantID: tenant, Search: searchWords("a"), After: store.ObjectCursor(ada.CreatedAt, ada.ObjectID), Limit: 1},
			users(alan)},
	} {
		got, err := s.ListUsersPage(ctx, tc.f)
		ok(t, err, "users: "+tc.what)
		equal(t, got, tc.want, "users: "+tc.what)
	}
	renamed := alan
	renamed.DisplayName = "Renamed"
	ok(t, s.UpdateUser(ctx, renamed), "rename user")
	got, err := s.ListUsersPage(ctx, store.PeopleFilter{TenantID: tenant, DisplayNamePrefix: "ren"})
	ok(t, err, "renamed user")
	equal(t, got, users(renamed), "renamed user")
	for _, w := range []string{"turing", "ren"} {
		got, err = s.ListUsersPage(ctx, store.PeopleFilter{TenantID: tenant, Search: searchWords(w)})
		ok(t, err, "renamed user's words")
		if want := users(renamed); w == "turing" {
			equal(t, got, []store.User(nil), "renamed user's old words")
		} else {
			equal(t, got, want, "renamed user's new words")
		}
	}
	renamed.MailNickname = "turing"
	ok(t, s.UpdateUser(ctx, renamed), "new mail nickname")
	got, err = s.ListUsersPage(ctx, store.PeopleFilter{TenantID: tenant, MailNickname: "Turing"})
	ok(t, err, "new mail nickname")
	equal(t, got, users(renamed), "new mail nickname")
	ok(t, s.DeleteUser(ctx, grace.ObjectID), "delete a user")
	got, err = s.ListUsersPage(ctx, store.PeopleFilter{TenantID: tenant, Search: searchWords("like")})
	ok(t, err, "deleted user's words")
	equal(t, got, []store.User(nil), "deleted user's words")

	ops := newSecurityGroup(tenant, "Ops", t0)
	opsAll := newSecurityGroup(tenant, "ops-all", t0.Add(time.Second))
	dev := newSecurityGroup(tenant, "Dev", t0.Add(2*time.Second))
	for _, g := range []store.Group{dev, ops, opsAll, newSecurityGroup(newID(), "Ops", t0)} {
		ok(t, s.CreateGroup(ctx, g), "create group "+g.DisplayName)
	}
	groups := func(gs ...store.Group) []store.Group {
		if len(gs) == 0 {
			return nil
		}
		out := make([]store.Group, len(gs))
		for i, g := range gs {
			out[i] = storedSecurityGroup(g)
		}
		return out
	}
	for _, tc := range []struct {
		what string
		f    store.PeopleFilter
		want []store.Group
	}{
		{"all", store.PeopleFilter{TenantID: tenant}, groups(ops, opsAll, dev)},
		{"display name", store.PeopleFilter{TenantID: tenant, DisplayName: "OPS"}, groups(ops)},
		{"prefix", store.PeopleFilter{TenantID: tenant, DisplayNamePrefix: "op"}, groups(ops, opsAll)},
		{"prefix after", store.PeopleFilter{TenantID: tenant, DisplayNamePrefix: "op", After: store.ObjectCursor(ops.CreatedAt, ops.ObjectID)}, groups(opsAll)},
		{"limit", store.PeopleFilter{TenantID: tenant, Limit: 2}, groups(ops, opsAll)},
		{"mail nickname", store.PeopleFilter{TenantID: tenant, MailNickname: "OPS-ALL"}, groups(opsAll)},
		{"search", store.PeopleFilter{TenantID: tenant, Search: searchWords("all")}, groups(opsAll)},
		{"search joined", store.PeopleFilter{TenantID: tenant, Search: searchWords("opsa")}, groups(opsAll)},
		{"search or", store.PeopleFilter{TenantID: tenant, Search: &store.SearchTerm{Op: "OR", Left: searchWords("dev"),
			Right: &store.SearchTerm{Property: store.SearchMailNickname, Prefix: "ops-"}}}, groups(opsAll, dev)},
	} {
		got, err := s.ListGroupsPage(ctx, tc.f)
		ok(t, err, "groups: "+tc.what)
		equal(t, got, tc.want, "groups: "+tc.what)
	}
	renamedGroup := dev
	renamedGroup.DisplayName = "Operators"
	ok(t, s.UpdateGroup(ctx, renamedGroup), "rename group")
	gs, err := s.ListGroupsPage(ctx, store.PeopleFilter{TenantID: tenant, DisplayNamePrefix: "oper"})
	ok(t, err, "renamed group")
	equal(t, gs, groups(renamedGroup), "renamed group")
	gs, err = s.ListGroupsPage(ctx, store.PeopleFilter{TenantID: tenant, Search: searchWords("dev")})
	ok(t, err, "renamed group's old words")
	equal(t, gs, []store.Group(nil), "renamed group's old words")
	ok(t, s.DeleteGroup(ctx, opsAll.ObjectID), "delete a group")
	gs, err = s.ListGroupsPage(ctx, store.PeopleFilter{TenantID: tenant, Search: searchWords("ops")})
	ok(t, err, "deleted group's words")
	equal(t, gs, groups(ops), "deleted group's words")

	_, err = s.ListUsersPage(ctx, store.PeopleFilter{TenantID: tenant, After: "nope"})
	isErr(t, err, store.ErrInvalidCursor, "users after a bad cursor")
	_, err = s.ListGroupsPage(ctx, store.PeopleFilter{TenantID: tenant, After: "m1.MA"})
	isErr(t, err, store.ErrInvalidCursor, "groups after a bad cursor")
}
