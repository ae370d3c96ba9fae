package bench

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"time"

	"github.com/mint-id/mint/internal/rbac"
)

// The RBAC figures: decision time and memory of rbac.Index, mint's in-memory index of role
// assignments, holding n assignments (the server's requests are decided through authz.Load,
// which reads from the store; see docs/benchmarks.md). It is measured in this process (the index has no network or store cost to hide)
// on the synthetic tenant of internal/rbac's BenchmarkDecide1M: n/10 principals, about 10,000
// resources in 200 groups of 10 subscriptions, assignments 80% at resources, 15% at groups and
// 5% at subscriptions, each of a random built-in role.

// rbacWorld is that synthetic tenant.
type rbacWorld struct {
	rnd                      *rand.Rand
	principals, subs, groups []string
	resources, roleIDs       []string
}

func newRBACWorld(seed uint64, principals, resources int) *rbacWorld {
	w := &rbacWorld{rnd: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))}
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
	for _, r := range rbac.BuiltinRoles() {
		w.roleIDs = append(w.roleIDs, r.ID)
	}
	return w
}

func (w *rbacWorld) guid() string {
	a, b := w.rnd.Uint64(), w.rnd.Uint64()
	return fmt.Sprintf("%08x-%04x-%04x-%04x-%012x", a>>32, (a>>16)&0xffff, a&0xffff, b>>48, b&0xffffffffffff)
}

func (w *rbacWorld) scope() string {
	switch n := w.rnd.IntN(100); {
	case n < 80:
		return w.resources[w.rnd.IntN(len(w.resources))]
	case n < 95:
		return w.groups[w.rnd.IntN(len(w.groups))]
	default:
		return w.subs[w.rnd.IntN(len(w.subs))]
	}
}

func (w *rbacWorld) assignment() rbac.Assignment {
	return rbac.Assignment{ID: w.guid(), Scope: w.scope(), PrincipalID: w.principals[w.rnd.IntN(len(w.principals))],
		RoleDefinitionID: w.roleIDs[w.rnd.IntN(len(w.roleIDs))], PrincipalType: "ServicePrincipal"}
}

var rbacActions = []struct {
	action string
	data   bool
}{
	{"Microsoft.KeyVault/vaults/secrets/getSecret/action", true}, {"Microsoft.KeyVault/vaults/secrets/readMetadata/action", true},
	{"Microsoft.KeyVault/vaults/secrets/setSecret/action", true}, {rbac.IssueTokenDataAction, true},
	{"Microsoft.Compute/virtualMachines/read", false}, {"Microsoft.Compute/virtualMachines/write", false},
	{"Microsoft.Authorization/roleAssignments/write", false}, {rbac.AssignUserAssignedIdentityAction, false},
}

// query asks about a random principal at a random resource or a child of one (most are denied).
func (w *rbacWorld) query() rbac.Query {
	a := rbacActions[w.rnd.IntN(len(rbacActions))]
	target := w.resources[w.rnd.IntN(len(w.resources))]
	if w.rnd.IntN(2) == 0 {
		target += "/secrets/s1"
	}
	return rbac.Query{PrincipalID: w.principals[w.rnd.IntN(len(w.principals))], Action: a.action, Scope: target, DataAction: a.data}
}

// allowedQuery asks what one of a random principal's own assignments grants, below its scope.
func (w *rbacWorld) allowedQuery(idx *rbac.Index) (rbac.Query, bool) {
	p := w.principals[w.rnd.IntN(len(w.principals))]
	as := idx.ForPrincipal(p)
	if len(as) == 0 {
		return rbac.Query{}, false
	}
	a := as[w.rnd.IntN(len(as))]
	role, ok := rbac.BuiltinRoleByID(a.RoleDefinitionID)
	if !ok || len(role.Permissions) == 0 {
		return rbac.Query{}, false
	}
	q := rbac.Query{PrincipalID: p, Action: "Microsoft.Compute/virtualMachines/read", Scope: a.Scope + "/providers/Microsoft.Compute/virtualMachines/vm1"}
	if das := role.Permissions[0].DataActions; len(das) > 0 {
		q.Action, q.DataAction = das[0], true
	}
	if !idx.Decide(q, nil).Allowed {
		return rbac.Query{}, false
	}
	return q, true
}

// timeDecisions times each query's decision (after one untimed pass) and the mean over a batch.
func timeDecisions(idx *rbac.Index, qs []rbac.Query) (lat []time.Duration, mean time.Duration, allowed int) {
	for _, q := range qs {
		idx.Decide(q, nil)
	}
	lat = make([]time.Duration, len(qs))
	for i, q := range qs {
		t := time.Now()
		if idx.Decide(q, nil).Allowed {
			allowed++
		}
		lat[i] = time.Since(t)
	}
	t := time.Now()
	for _, q := range qs {
		idx.Decide(q, nil)
	}
	return lat, time.Since(t) / time.Duration(len(qs)), allowed
}

func rbacFigures(n int) []Figure {
	w := newRBACWorld(42, max(n/10, 1), 10_000)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	began := time.Now()
	idx := new(rbac.Index)
	for range n {
		idx.Add(w.assignment())
	}
	built := time.Since(began)
	runtime.GC()
	runtime.ReadMemStats(&after)
	perAssignment := float64(int64(after.HeapAlloc)-int64(before.HeapAlloc)) / float64(n)

	const queries = 1 << 16
	qs := make([]rbac.Query, queries)
	for i := range qs {
		qs[i] = w.query()
	}
	lat, mean, allowed := timeDecisions(idx, qs)
	var aqs []rbac.Query
	for tries := 0; len(aqs) < queries/4 && tries < queries*4; tries++ {
		if q, ok := w.allowedQuery(idx); ok {
			aqs = append(aqs, q)
		}
	}
	alat, amean, _ := timeDecisions(idx, aqs)
	groupsFig := rbacGroupsFigure(idx, w, n)
	runtime.KeepAlive(idx)
	world := fmt.Sprintf("%s assignments over %s principals and %s scopes (built in %.1f s)", commas(n), commas(len(w.principals)),
		commas(len(w.subs)+len(w.groups)+len(w.resources)), built.Seconds())
	figs := []Figure{
		{Key: "rbacDecide", Name: fmt.Sprintf("RBAC decision, rbac.Index with %s assignments (random queries)", commas(n)),
			Value: ns(percentile(lat, 50)), Unit: "ns", P50: ns(percentile(lat, 50)), P99: ns(percentile(lat, 99)), LatencyUnit: "ns", Goal: "< 10,000 ns median", Target: &Target{Max: 10000},
			Note: fmt.Sprintf("%s; %d random principal/action/resource queries, each timed (%.1f%% allowed); batch mean %d ns", world, len(qs),
				100*float64(allowed)/float64(len(qs)), mean.Nanoseconds())},
		{Key: "rbacDecideAllowed", Name: fmt.Sprintf("RBAC decision, rbac.Index with %s assignments (allowed queries)", commas(n)),
			Value: ns(percentile(alat, 50)), Unit: "ns", P50: ns(percentile(alat, 50)), P99: ns(percentile(alat, 99)), LatencyUnit: "ns", Goal: "< 10,000 ns median", Target: &Target{Max: 10000},
			Note: fmt.Sprintf("%d queries that one of the principal's own assignments grants, each timed; batch mean %d ns", len(aqs), amean.Nanoseconds())},
		{Key: "rbacBytesPerAssignment", Name: fmt.Sprintf("RBAC index heap per assignment (%s assignments)", commas(n)), Value: perAssignment, Unit: "B", Goal: "< 1024 B", Target: &Target{Max: 1024},
			Note: "Go heap held after building the index (after GC) minus before, divided by the assignments"},
	}
	figs = append(figs, groupsFig)
	return figs
}

func ns(d time.Duration) float64 { return float64(d.Nanoseconds()) }

// commas writes n with thousands separators.
func commas(n int) string {
	s := fmt.Sprint(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}
