package rbac

import (
	"fmt"
	"math/rand/v2"
	"runtime"
)

// world is a synthetic tenant for index tests and benchmarks: principals, and ARM scopes at the
// subscription, resource group and resource levels.
type world struct {
	rnd        *rand.Rand
	principals []string
	subs       []string
	groups     []string
	resources  []string
	roleIDs    []string
}

// newWorld makes about 10,000 distinct scopes when resources is 10,000.
func newWorld(seed uint64, principals, resources int) *world {
	w := &world{rnd: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))}
	for range principals {
		w.principals = append(w.principals, w.guid())
	}
	const subs, groupsPerSub = 10, 20
	for range subs {
		w.subs = append(w.subs, "/subscriptions/"+w.guid())
	}
	for _, s := range w.subs {
		for g := range groupsPerSub {
			w.groups = append(w.groups, fmt.Sprintf("%s/resourceGroups/rg-%03d", s, g))
		}
	}
	types := []string{
		"Microsoft.KeyVault/vaults", "Microsoft.App/containerApps", "Microsoft.Compute/virtualMachines",
		"Microsoft.ManagedIdentity/userAssignedIdentities", "Microsoft.Storage/storageAccounts",
	}
	for i := range resources {
		g := w.groups[i%len(w.groups)]
		w.resources = append(w.resources, fmt.Sprintf("%s/providers/%s/res-%05d", g, types[i%len(types)], i))
	}
	for _, r := range BuiltinRoles() {
		w.roleIDs = append(w.roleIDs, r.ID)
	}
	return w
}

func (w *world) guid() string {
	a, b := w.rnd.Uint64(), w.rnd.Uint64()
	return fmt.Sprintf("%08x-%04x-%04x-%04x-%012x", a>>32, (a>>16)&0xffff, a&0xffff, b>>48, b&0xffffffffffff)
}

// scope picks an assignment scope: mostly resources, some groups, a few subscriptions.
func (w *world) scope() string {
	switch n := w.rnd.IntN(100); {
	case n < 80:
		return w.resources[w.rnd.IntN(len(w.resources))]
	case n < 95:
		return w.groups[w.rnd.IntN(len(w.groups))]
	default:
		return w.subs[w.rnd.IntN(len(w.subs))]
	}
}

func (w *world) assignment() Assignment {
	return Assignment{
		ID:               w.guid(),
		Scope:            w.scope(),
		PrincipalID:      w.principals[w.rnd.IntN(len(w.principals))],
		RoleDefinitionID: w.roleIDs[w.rnd.IntN(len(w.roleIDs))],
		PrincipalType:    "ServicePrincipal",
	}
}

var worldActions = []struct {
	action string
	data   bool
}{
	{getSecret, true}, {readMetadata, true}, {setSecret, true}, {IssueTokenDataAction, true},
	{vmRead, false}, {vmWrite, false}, {raWrite, false}, {AssignUserAssignedIdentityAction, false},
}

// query asks about a random principal at a random resource or a child of one.
func (w *world) query() Query {
	a := worldActions[w.rnd.IntN(len(worldActions))]
	target := w.resources[w.rnd.IntN(len(w.resources))]
	if w.rnd.IntN(2) == 0 {
		target += "/secrets/s1"
	}
	return Query{PrincipalID: w.principals[w.rnd.IntN(len(w.principals))], Action: a.action, Scope: target, DataAction: a.data}
}

// buildIndex adds n assignments and returns the index and the heap it holds per assignment.
// The world's own tables are allocated before the first measurement, and the index copies what
// it keeps, so the difference is the index alone.
func buildIndex(w *world, n int) (*Index, float64) {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	idx := new(Index)
	for range n {
		idx.Add(w.assignment())
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	perAssignment := float64(int64(after.HeapAlloc)-int64(before.HeapAlloc)) / float64(n)
	runtime.KeepAlive(idx)
	return idx, perAssignment
}
