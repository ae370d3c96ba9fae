package storetest

import (
	"context"
	"fmt"
	"testing"

	"github.com/mint-id/mint/internal/store"
)

// seeder is the bulk load `mint bench --scale` uses (SQLite's and PostgreSQL's stores have it).
type seeder interface {
	SeedManagedIdentities(ctx context.Context, resources []store.Resource, principals []store.ServicePrincipal, assignments []store.RoleAssignment) error
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
	const n = 2500 // more than one INSERT batch of resources
	var rs []store.Resource
	var sps []store.ServicePrincipal
	var as []store.RoleAssignment
	for i := range n {
		r := newResource(sub, "g", identityType, fmt.Sprintf("id-%d", i), t0)
		sp := newIdentityPrincipal(tenantID, r.ID, t0)
		r.PrincipalID = sp.ObjectID
		rs, sps = append(rs, r), append(sps, sp)
		as = append(as, newRoleAssignment("/subscriptions/"+sub+"/resourceGroups/g", sp.ObjectID, reader, t0))
	}
	ok(t, sd.SeedManagedIdentities(ctx, rs, sps, as), "seed")
	for _, i := range []int{0, n / 2, n - 1} {
		got, err := s.GetResource(ctx, rs[i].ID)
		ok(t, err, "get seeded resource")
		equal(t, got, storedResource(rs[i]), "seeded resource")
		sp, err := s.GetPrincipalByAppID(ctx, tenantID, sps[i].AppID)
		ok(t, err, "get seeded principal by app id")
		equal(t, sp, storedPrincipal(sps[i]), "seeded principal")
		got2, err := s.ListRoleAssignments(ctx, store.RoleAssignmentFilter{PrincipalID: sps[i].ObjectID})
		ok(t, err, "list seeded principal's role assignments")
		equal(t, got2, []store.RoleAssignment{storedRoleAssignment(as[i])}, "seeded role assignment")
	}
	// A seeded id cannot be seeded again: the rows are the same tables with the same keys.
	err := sd.SeedManagedIdentities(ctx, rs[:1], nil, nil)
	isErr(t, err, store.ErrConflict, "seed an existing resource")
}
