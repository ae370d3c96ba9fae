package authz

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/mint-id/mint/internal/rbac"
	"github.com/mint-id/mint/internal/store"
)

// memStore is the two reads authz makes, over maps.
type memStore struct {
	assignments []store.RoleAssignment
	roles       map[string]store.RoleDefinition
	members     []store.GroupMember
	groups      map[string]store.Group
}

func (m *memStore) ListMemberOf(_ context.Context, memberID string) ([]store.GroupMember, error) {
	var out []store.GroupMember
	for _, gm := range m.members {
		if gm.MemberID == memberID {
			out = append(out, gm)
		}
	}
	return out, nil
}

func (m *memStore) GetGroup(_ context.Context, id string) (store.Group, error) {
	g, ok := m.groups[id]
	if !ok {
		return g, store.ErrNotFound
	}
	return g, nil
}

func (m *memStore) ListRoleAssignmentsForPrincipal(_ context.Context, principalID string) ([]store.RoleAssignment, error) {
	var out []store.RoleAssignment
	for _, a := range m.assignments {
		if a.PrincipalID == principalID {
			out = append(out, a)
		}
	}
	return out, nil
}

func (m *memStore) GetRoleDefinition(_ context.Context, id string) (store.RoleDefinition, error) {
	d, ok := m.roles[id]
	if !ok {
		return d, store.ErrNotFound
	}
	return d, nil
}

func customRole(t *testing.T, id, name string, perms ...PermissionJSON) store.RoleDefinition {
	data, err := json.Marshal(perms)
	if err != nil {
		t.Fatal(err)
	}
	return store.RoleDefinition{ID: id, RoleName: name, AssignableScopes: []string{"/subscriptions/s"}, Permissions: data}
}

func TestDecideAndExplain(t *testing.T) {
	const custom = "11111111-2222-3333-4444-555555555555"
	st := &memStore{
		roles: map[string]store.RoleDefinition{custom: customRole(t, custom, "Vault Peeker", PermissionJSON{Actions: []string{"Microsoft.KeyVault/vaults/read"}})},
		assignments: []store.RoleAssignment{
			{ID: "a1", Scope: "/subscriptions/s/resourceGroups/rg", PrincipalID: "p", RoleDefinitionID: custom},
			{ID: "a2", Scope: "/subscriptions/s", PrincipalID: "q", RoleDefinitionID: rbac.ReaderRoleID},
			{ID: "a3", Scope: "/subscriptions/s", PrincipalID: "gone", RoleDefinitionID: "99999999-2222-3333-4444-555555555555"},
		},
	}
	a := New(st)
	vault := "/subscriptions/s/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/kv"
	tests := []struct {
		name string
		q    rbac.Query
		want bool
	}{
		{"custom role grants", rbac.Query{PrincipalID: "p", Action: "Microsoft.KeyVault/vaults/read", Scope: vault}, true},
		{"custom role, other action", rbac.Query{PrincipalID: "p", Action: "Microsoft.KeyVault/vaults/write", Scope: vault}, false},
		{"custom role, other group", rbac.Query{PrincipalID: "p", Action: "Microsoft.KeyVault/vaults/read", Scope: "/subscriptions/s/resourceGroups/x"}, false},
		{"built-in", rbac.Query{PrincipalID: "q", Action: "Microsoft.KeyVault/vaults/read", Scope: vault}, true},
		{"deleted custom role grants nothing", rbac.Query{PrincipalID: "gone", Action: "Microsoft.KeyVault/vaults/read", Scope: vault}, false},
		{"no assignments", rbac.Query{PrincipalID: "nobody", Action: "Microsoft.KeyVault/vaults/read", Scope: vault}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := a.Decide(context.Background(), tt.q)
			if err != nil {
				t.Fatal(err)
			}
			if d.Allowed != tt.want {
				t.Errorf("Decide: %v (%s)", d.Allowed, d.Reason)
			}
			x, err := a.Explain(context.Background(), tt.q)
			if err != nil {
				t.Fatal(err)
			}
			if x.Allowed != tt.want || x.Summary == "" {
				t.Errorf("Explain: %v %q", x.Allowed, x.Summary)
			}
		})
	}
}

func TestRole(t *testing.T) {
	const custom = "11111111-2222-3333-4444-555555555555"
	st := &memStore{roles: map[string]store.RoleDefinition{custom: customRole(t, custom, "Vault Peeker", PermissionJSON{Actions: []string{"a/read"}})}}
	a := New(st)
	tests := []struct {
		id       string
		wantName string
		wantType string
	}{
		{rbac.OwnerRoleID, "Owner", rbac.BuiltInRole},
		{"/subscriptions/s/providers/Microsoft.Authorization/roleDefinitions/" + rbac.ReaderRoleID, "Reader", rbac.BuiltInRole},
		{"/subscriptions/s/providers/Microsoft.Authorization/roleDefinitions/" + custom, "Vault Peeker", rbac.CustomRole},
		{"00000000-0000-0000-0000-000000000000", "", ""},
	}
	for _, tt := range tests {
		r, err := a.Role(context.Background(), tt.id)
		if tt.wantName == "" {
			if !errors.Is(err, store.ErrNotFound) {
				t.Errorf("%s: err = %v, want ErrNotFound", tt.id, err)
			}
			continue
		}
		if err != nil || r.RoleName != tt.wantName || r.RoleType != tt.wantType {
			t.Errorf("%s: %+v %v", tt.id, r, err)
		}
	}
	r, _ := a.Role(context.Background(), custom)
	if p := r.Permissions; len(p) != 1 || p[0].NotActions == nil || p[0].DataActions == nil {
		t.Errorf("custom permissions %+v (lists must be non-nil)", p)
	}
}

func TestWirePermissions(t *testing.T) {
	got := WirePermissions([]rbac.Permission{{Actions: []string{"*"}}})
	data, _ := json.Marshal(got)
	if string(data) != `[{"actions":["*"],"notActions":[],"dataActions":[],"notDataActions":[]}]` {
		t.Errorf("%s", data)
	}
	back := PermissionsFromWire(got)
	if len(back) != 1 || back[0].Actions[0] != "*" || back[0].NotDataActions == nil {
		t.Errorf("%+v", back)
	}
}

// A principal holds the roles of every group it belongs to, through any depth of nesting, and a
// cycle of groups ends the walk. The explanation names the nesting.
func TestGroupsAreTransitiveAndCycleSafe(t *testing.T) {
	const (
		mi    = "aaaaaaaa-0000-0000-0000-000000000001"
		inner = "bbbbbbbb-0000-0000-0000-000000000002"
		outer = "cccccccc-0000-0000-0000-000000000003"
	)
	vault := "/subscriptions/s/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/kv"
	st := &memStore{
		groups: map[string]store.Group{inner: {ObjectID: inner, DisplayName: "Inner"}, outer: {ObjectID: outer, DisplayName: "Outer"}},
		members: []store.GroupMember{
			{GroupID: inner, MemberID: mi, MemberType: store.MemberServicePrincipal},
			{GroupID: outer, MemberID: inner, MemberType: store.MemberGroup},
			{GroupID: inner, MemberID: outer, MemberType: store.MemberGroup}, // a cycle
		},
		assignments: []store.RoleAssignment{
			{ID: "a1", Scope: vault, PrincipalID: outer, PrincipalType: "Group", RoleDefinitionID: rbac.KeyVaultSecretsUserRoleID},
		},
	}
	groups, err := TransitiveGroups(context.Background(), st, mi)
	if err != nil || len(groups) != 2 || groups[0].GroupID != inner || groups[1].GroupID != outer {
		t.Fatalf("TransitiveGroups = %+v, %v; want inner then outer", groups, err)
	}
	if got := groups[1].Path; len(got) != 2 || got[0] != outer || got[1] != inner {
		t.Fatalf("path to outer = %v, want [outer inner]", got)
	}
	a := New(st)
	q := rbac.Query{PrincipalID: mi, Action: "Microsoft.KeyVault/vaults/secrets/getSecret/action", Scope: vault + "/secrets/s", DataAction: true}
	d, err := a.Decide(context.Background(), q)
	if err != nil || !d.Allowed {
		t.Fatalf("Decide through nested groups = %+v, %v; want allowed", d, err)
	}
	x, err := a.Explain(context.Background(), q)
	if err != nil || !x.Allowed {
		t.Fatalf("Explain = %+v, %v", x, err)
	}
	if want := `through group "Outer" (` + outer + `) ⊃ "Inner" (` + inner + `)`; !strings.Contains(x.Summary, want) {
		t.Fatalf("summary %q does not name the group path %q", x.Summary, want)
	}
	st.members = st.members[1:] // the identity leaves Inner
	if d, _ := a.Decide(context.Background(), q); d.Allowed {
		t.Fatalf("still allowed after leaving the group: %s", d.Reason)
	}
}

// batchStore is memStore with the store's batched reads, counting the reads made.
type batchStore struct {
	*memStore
	reads int
}

func (b *batchStore) ListMemberOf(ctx context.Context, memberID string) ([]store.GroupMember, error) {
	b.reads++
	return b.memStore.ListMemberOf(ctx, memberID)
}

func (b *batchStore) ListMemberOfAny(ctx context.Context, memberIDs []string) ([]store.GroupMember, error) {
	b.reads++
	var out []store.GroupMember
	for i := len(memberIDs) - 1; i >= 0; i-- { // members in no particular order, as the store promises
		ms, _ := b.memStore.ListMemberOf(ctx, memberIDs[i])
		out = append(out, ms...)
	}
	return out, nil
}

func (b *batchStore) ListRoleAssignmentsForPrincipal(ctx context.Context, principalID string) ([]store.RoleAssignment, error) {
	b.reads++
	return b.memStore.ListRoleAssignmentsForPrincipal(ctx, principalID)
}

func (b *batchStore) ListRoleAssignmentsForPrincipals(_ context.Context, principalIDs []string) ([]store.RoleAssignment, error) {
	b.reads++
	var out []store.RoleAssignment
	for _, a := range b.memStore.assignments {
		for _, id := range principalIDs {
			if a.PrincipalID == id {
				out = append(out, a)
			}
		}
	}
	return out, nil
}

// TestBatchedReadsMatchOneAtATime: with the store's batched reads, TransitiveGroups and Load
// give exactly what reading one group at a time gives (groups, paths, order, assignments) on
// 50 nested groups with a diamond and a cycle, in a read per level of nesting and one for the
// assignments instead of about a hundred.
func TestBatchedReadsMatchOneAtATime(t *testing.T) {
	id := func(i int) string { return fmt.Sprintf("%08x-0000-4000-8000-000000000000", i) }
	mi := id(1000)
	st := &memStore{groups: map[string]store.Group{}}
	for g := range 50 {
		st.groups[id(g)] = store.Group{ObjectID: id(g), DisplayName: fmt.Sprintf("G%d", g)}
		member := mi
		if g > 0 {
			member = id((g - 1) / 2) // a binary tree of nesting: group g holds its parent's members
		}
		st.members = append(st.members, store.GroupMember{GroupID: id(g), MemberID: member, MemberType: store.MemberGroup})
		for a := range 3 {
			st.assignments = append(st.assignments, store.RoleAssignment{ID: fmt.Sprintf("a-%d-%d", g, a), PrincipalID: id(g),
				Scope: fmt.Sprintf("/subscriptions/s/resourceGroups/rg%d", a), RoleDefinitionID: rbac.ReaderRoleID})
		}
	}
	st.members = append(st.members,
		store.GroupMember{GroupID: id(3), MemberID: id(2), MemberType: store.MemberGroup},  // a diamond
		store.GroupMember{GroupID: id(0), MemberID: id(40), MemberType: store.MemberGroup}) // a cycle
	st.assignments = append(st.assignments, store.RoleAssignment{ID: "own", PrincipalID: mi, Scope: "/subscriptions/s", RoleDefinitionID: rbac.ReaderRoleID})

	ctx := context.Background()
	want, err := Load(ctx, st, mi)
	if err != nil {
		t.Fatal(err)
	}
	b := &batchStore{memStore: st}
	got, err := Load(ctx, b, mi)
	if err != nil {
		t.Fatal(err)
	}
	if len(want.Groups()) != 50 || !reflect.DeepEqual(got.Groups(), want.Groups()) {
		t.Fatalf("groups batched %d %+v\none at a time %d %+v", len(got.Groups()), got.Groups(), len(want.Groups()), want.Groups())
	}
	if len(want.Assignments()) != 151 || !reflect.DeepEqual(got.Assignments(), want.Assignments()) {
		t.Fatalf("assignments batched %d, one at a time %d", len(got.Assignments()), len(want.Assignments()))
	}
	if b.reads > 8 { // six levels of nesting, the empty seventh, the assignments
		t.Fatalf("%d reads for 50 nested groups", b.reads)
	}
}
