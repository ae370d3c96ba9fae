package storetest

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/mint-id/mint/internal/store"
)

// seeder is the bulk load `mint bench --scale` uses (SQLite's and PostgreSQL's stores have it).
type seeder interface {
	SeedManagedIdentities(ctx context.Context, n int, identity func(i int) store.IdentitySeed) error
}

// testSeedManagedIdentities: what the bulk load writes reads back as PutResource and
// CreateRoleAssignment would have written it, so the benchmark measures the rows mint serves.
func testSeedManagedIdentities(t *testing.T, s store.Store) {
	sd, isSeeder := s.(seeder)
	if !isSeeder {
		t.Skip("this store has no bulk load")
	}
	ctx := t.Context()
	tenantID, sub := newID(), newID()
	mustPutGroup(t, s, newGroup(sub, "g", t0))
	reader := "/subscriptions/" + sub + "/providers/Microsoft.Authorization/roleDefinitions/acdd72a7-3385-48ef-bd42-f606fba81ae7"
	const n = 2500
	var rs []store.Resource
	var sps []store.ServicePrincipal
	var as []store.RoleAssignment
	for i := range n {
		r := newResource(sub, "g", identityType, fmt.Sprintf("id-%d", i), t0)
		sp := newIdentityPrincipal(tenantID, r.ID, t0)
		sp.DisplayName = fmt.Sprintf("Id-%d", i)
		r.PrincipalID = sp.ObjectID
		rs, sps = append(rs, r), append(sps, sp)
		as = append(as, newRoleAssignment("/subscriptions/"+sub+"/resourceGroups/g", sp.ObjectID, reader, t0))
	}
	// Every identity has its assignment but the last, which has none (an identity may have any
	// number).
	ok(t, sd.SeedManagedIdentities(ctx, n, func(i int) store.IdentitySeed {
		seed := store.IdentitySeed{Resource: rs[i], Principal: sps[i]}
		if i < n-1 {
			seed.Assignments = as[i : i+1]
		}
		return seed
	}), "seed")
	if got, err := s.ListRoleAssignments(ctx, store.RoleAssignmentFilter{PrincipalID: sps[n-1].ObjectID}); err != nil || len(got) != 0 {
		t.Errorf("the identity seeded without an assignment has %v (%v)", got, err)
	}
	for _, i := range []int{0, n / 2, n - 2} {
		got, err := s.GetResource(ctx, rs[i].ID)
		ok(t, err, "get seeded resource")
		equal(t, got, storedResource(rs[i]), "seeded resource")
		sp, err := s.GetPrincipalByAppID(ctx, tenantID, sps[i].AppID)
		ok(t, err, "get seeded principal by app id")
		equal(t, sp, storedPrincipal(sps[i]), "seeded principal")
		got2, err := s.ListRoleAssignments(ctx, store.RoleAssignmentFilter{PrincipalID: sps[i].ObjectID})
		ok(t, err, "list seeded principal's role assignments")
		equal(t, got2, []store.RoleAssignment{storedRoleAssignment(as[i])}, "seeded role assignment")
		// Found by display name as a principal created one at a time is (display_key).
		byName, err := s.ListPrincipalsPage(ctx, store.PrincipalFilter{TenantID: tenantID, DisplayName: strings.ToUpper(sps[i].DisplayName), Limit: 1})
		ok(t, err, "list seeded principal by display name")
		equal(t, byName, []store.ServicePrincipal{storedPrincipal(sps[i])}, "seeded principal by display name")
	}
	// A seeded id cannot be seeded again: the rows are the same tables with the same keys.
	err := sd.SeedManagedIdentities(ctx, 1, func(int) store.IdentitySeed {
		return store.IdentitySeed{Resource: rs[0], Principal: newIdentityPrincipal(tenantID, rs[0].ID, t0)}
	})
	isErr(t, err, store.ErrConflict, "seed an existing resource")
	// Nor is a seed with a resource that PutResource would write with more rows.
	withUAMI := newResource(sub, "g", "Microsoft.Compute/virtualMachines", "vm", t0)
	withUAMI.UserAssignedIdentities = []string{rs[0].ID}
	if err := sd.SeedManagedIdentities(ctx, 1, func(int) store.IdentitySeed {
		return store.IdentitySeed{Resource: withUAMI, Principal: newIdentityPrincipal(tenantID, withUAMI.ID, t0)}
	}); err == nil {
		t.Error("a resource with user-assigned identities was seeded in bulk")
	}
}
