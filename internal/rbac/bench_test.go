package rbac

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

var bench1M = sync.OnceValues(func() (*world, *Index) {
	w := newWorld(42, 100_000, 10_000)
	idx, per := buildIndex(w, 1_000_000)
	bench1MBytesPerAssignment = per
	return w, idx
})

var bench1MBytesPerAssignment float64

// BenchmarkDecide1M decides for a random principal and scope against 1,000,000 assignments over
// 100,000 principals and about 10,000 scopes. Besides ns/op (the mean) it reports the median and
// 99th percentile of individually timed decisions, and the heap the index holds per assignment.
func BenchmarkDecide1M(b *testing.B) {
	w, idx := bench1M()
	queries := make([]Query, 1<<14)
	for i := range queries {
		queries[i] = w.query()
	}
	allowed := 0
	i := 0
	for b.Loop() {
		if idx.Decide(queries[i&(len(queries)-1)], nil).Allowed {
			allowed++
		}
		i++
	}
	b.StopTimer()
	lat := make([]time.Duration, len(queries))
	for j, q := range queries {
		start := time.Now()
		idx.Decide(q, nil)
		lat[j] = time.Since(start)
	}
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Nanoseconds()), "p50-ns")
	b.ReportMetric(float64(lat[len(lat)*99/100].Nanoseconds()), "p99-ns")
	b.ReportMetric(bench1MBytesPerAssignment, "B/assignment")
	b.ReportMetric(float64(allowed)/float64(i), "allowed/op")
}

// BenchmarkDecideAllowed1M is BenchmarkDecide1M restricted to queries that one of the
// principal's own assignments grants.
func BenchmarkDecideAllowed1M(b *testing.B) {
	w, idx := bench1M()
	var queries []Query
	for len(queries) < 4096 {
		p := w.principals[w.rnd.IntN(len(w.principals))]
		as := idx.ForPrincipal(p)
		if len(as) == 0 {
			continue
		}
		a := as[w.rnd.IntN(len(as))]
		q := Query{PrincipalID: p, Action: vmRead, Scope: a.Scope + "/x/y"}
		if r, _ := BuiltinRoleByID(a.RoleDefinitionID); len(r.Permissions[0].DataActions) > 0 {
			q.Action, q.DataAction = r.Permissions[0].DataActions[0], true
		}
		if idx.Decide(q, nil).Allowed {
			queries = append(queries, q)
		}
	}
	i := 0
	for b.Loop() {
		idx.Decide(queries[i%len(queries)], nil)
		i++
	}
}

// BenchmarkDecideBroker: one node-agent principal holding 10,000 assignments (one per hosted
// resource), asking for one of them. This takes Index's ancestor-search path.
func BenchmarkDecideBroker(b *testing.B) {
	w := newWorld(7, 1, 10_000)
	var idx Index
	broker := w.principals[0]
	for j, r := range w.resources {
		idx.Add(Assignment{ID: fmt.Sprintf("a-%d", j), Scope: r, PrincipalID: broker, RoleDefinitionID: TokenBrokerRoleID})
	}
	i := 0
	for b.Loop() {
		q := Query{PrincipalID: broker, Action: IssueTokenDataAction, Scope: w.resources[i%len(w.resources)], DataAction: true}
		if !idx.Decide(q, nil).Allowed {
			b.Fatal("denied")
		}
		i++
	}
}

func BenchmarkDecideSlice(b *testing.B) {
	assignments := []Assignment{
		assign("a1", principal, ReaderRoleID, sub),
		assign("a2", principal, ContributorRoleID, rg2),
		assign("a3", principal, KeyVaultSecretsUserRoleID, vault),
		assign("a4", other, OwnerRoleID, "/"),
	}
	q := data(getSecret, secret)
	for b.Loop() {
		Decide(q, nil, assignments)
	}
}

func BenchmarkActionMatches(b *testing.B) {
	for b.Loop() {
		ActionMatches("Microsoft.ManagedIdentity/userAssignedIdentities/*/assign/action", "Microsoft.ManagedIdentity/userAssignedIdentities/assign/action")
		ActionMatches("Microsoft.Authorization/*/Write", "microsoft.authorization/roleAssignments/write")
		ActionMatches("*/read", "Microsoft.KeyVault/vaults/secrets/getSecret/action")
	}
}

func BenchmarkScopeCovers(b *testing.B) {
	for b.Loop() {
		ScopeCovers(rg, secret)
		ScopeCovers(vault, vault+"0/secrets/x")
	}
}

func BenchmarkExplainDenied(b *testing.B) {
	assignments := []Assignment{
		assign("a1", principal, ReaderRoleID, sub),
		assign("a2", principal, KeyVaultSecretsUserRoleID, vault2),
	}
	q := data(getSecret, secret)
	roles := BuiltinRoles()
	for b.Loop() {
		Explain(q, nil, assignments, roles)
	}
}

// BenchmarkDecideGroups1M is BenchmarkDecide1M for principals that belong to 50 groups (each
// group being one of the world's principals, so the groups hold assignments too): a query
// consults the principal's own assignments and those of its 50 groups, as authz's loaded
// transitive membership hands them over. The issue's goal is a median under 20 µs.
func BenchmarkDecideGroups1M(b *testing.B) {
	w, idx := bench1M()
	queries := make([]Query, 1<<12)
	for i := range queries {
		q := w.query()
		for range 50 {
			g := w.principals[w.rnd.IntN(len(w.principals))]
			q.Groups = append(q.Groups, Membership{GroupID: g})
		}
		queries[i] = q
	}
	i := 0
	for b.Loop() {
		idx.Decide(queries[i&(len(queries)-1)], nil)
		i++
	}
	b.StopTimer()
	lat := make([]time.Duration, len(queries))
	for j, q := range queries {
		start := time.Now()
		idx.Decide(q, nil)
		lat[j] = time.Since(start)
	}
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Nanoseconds()), "p50-ns")
	b.ReportMetric(float64(lat[len(lat)*99/100].Nanoseconds()), "p99-ns")
}

// TestIndexDecidesThroughGroups: the index counts a group's assignment for its member, and says so.
func TestIndexDecidesThroughGroups(t *testing.T) {
	idx := new(Index)
	vault := "/subscriptions/s/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/kv"
	idx.Add(Assignment{ID: "a1", Scope: vault, PrincipalID: "outer", PrincipalType: "Group", RoleDefinitionID: KeyVaultSecretsUserRoleID})
	q := Query{PrincipalID: "mi", Action: "Microsoft.KeyVault/vaults/secrets/getSecret/action", Scope: vault + "/secrets/x", DataAction: true}
	if idx.Decide(q, nil).Allowed {
		t.Fatal("allowed without the group")
	}
	q.Groups = []Membership{{GroupID: "inner", Path: []string{"inner"}}, {GroupID: "outer", Path: []string{"Outer", "Inner"}}}
	d := idx.Decide(q, nil)
	if !d.Allowed || !strings.Contains(d.Reason, "group Outer ⊃ Inner") {
		t.Fatalf("through the group: %+v", d)
	}
	if x := idx.Explain(q, nil, BuiltinRoles()); !x.Allowed || !strings.Contains(x.Summary, "through group Outer ⊃ Inner") {
		t.Fatalf("explain: %s", x.Summary)
	}
}
