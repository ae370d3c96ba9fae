package authz_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/mint-id/mint/internal/authz"
	"github.com/mint-id/mint/internal/directory"
	"github.com/mint-id/mint/internal/rbac"
	"github.com/mint-id/mint/internal/store"
	"github.com/mint-id/mint/internal/store/sqlite"
)

// oneAtATime hides the store's batched reads: what Load did before them.
type oneAtATime struct{ authz.Store }

// BenchmarkLoadNestedGroups is the server's own authorization path (what ARM runs on every
// request and the vault every 0.5 s per caller) for a principal in 50 nested groups holding 10
// assignments each, on SQLite among 20,000 other assignments: the transitive groups and every
// assignment, then one decision. "batched" reads a level of nesting at a time and the
// assignments in one query; "one-at-a-time" is the reads before that.
//
//	go test ./internal/authz -run '^$' -bench LoadNestedGroups
func BenchmarkLoadNestedGroups(b *testing.B) {
	ctx := context.Background()
	st, err := sqlite.OpenWithOptions(ctx, filepath.Join(b.TempDir(), "mint.db"), sqlite.Options{Synchronous: "OFF"})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	in, err := directory.New(st, directory.Options{}).Bootstrap(ctx)
	if err != nil {
		b.Fatal(err)
	}
	sub := "/subscriptions/" + in.Subscription.ID
	now := time.Now().UTC()
	principal := uuid.NewString()
	groups := make([]string, 50)
	for g := range groups {
		groups[g] = uuid.NewString()
		if err := st.CreateGroup(ctx, store.Group{ObjectID: groups[g], TenantID: in.Tenant.ID, DisplayName: fmt.Sprintf("g%d", g),
			MailNickname: fmt.Sprintf("g%d", g), SecurityEnabled: true, CreatedAt: now}); err != nil {
			b.Fatal(err)
		}
		member, typ := principal, store.MemberServicePrincipal
		if g > 0 {
			member, typ = groups[(g-1)/2], store.MemberGroup // nested as a binary tree, six levels deep
		}
		if err := st.AddGroupMember(ctx, store.GroupMember{GroupID: groups[g], MemberID: member, MemberType: typ, CreatedAt: now}); err != nil {
			b.Fatal(err)
		}
	}
	assign := func(principalID, scope string) {
		if err := st.CreateRoleAssignment(ctx, store.RoleAssignment{ID: uuid.NewString(), Scope: scope, RoleDefinitionID: rbac.ReaderRoleID,
			PrincipalID: principalID, PrincipalType: "Group", CreatedAt: now, UpdatedAt: now}); err != nil {
			b.Fatal(err)
		}
	}
	for _, g := range groups {
		for i := range 10 {
			assign(g, fmt.Sprintf("%s/resourceGroups/rg-%d", sub, i))
		}
	}
	for i := range 20_000 {
		assign(uuid.NewString(), fmt.Sprintf("%s/resourceGroups/rg-%d", sub, i%200))
	}
	q := rbac.Query{PrincipalID: principal, Action: "Microsoft.Compute/virtualMachines/read", Scope: sub + "/resourceGroups/rg-3/providers/Microsoft.Compute/virtualMachines/vm"}
	for name, s := range map[string]authz.Store{"batched": st, "one-at-a-time": oneAtATime{st}} {
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				p, err := authz.Load(ctx, s, principal)
				if err != nil {
					b.Fatal(err)
				}
				if len(p.Groups()) != 50 || len(p.Assignments()) != 500 || !p.Decide(q).Allowed {
					b.Fatalf("%d groups, %d assignments", len(p.Groups()), len(p.Assignments()))
				}
			}
		})
	}
}
