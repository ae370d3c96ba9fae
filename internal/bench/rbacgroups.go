package bench

import (
	"fmt"

	"github.com/mint-id/mint/internal/rbac"
)

// rbacGroupsFigure times decisions for principals in 50 groups, as authz hands over a
// principal's transitive (nested) memberships: the principal's own assignments and its 50
// groups' count. Each group is one of the world's principals, so the groups hold assignments too
// (10 each on average), as in internal/rbac's BenchmarkDecideGroups1M.
func rbacGroupsFigure(idx *rbac.Index, w *rbacWorld, n int) Figure {
	const queries, groups = 1 << 14, 50
	qs := make([]rbac.Query, queries)
	for i := range qs {
		q := w.query()
		q.Groups = make([]rbac.Membership, groups)
		for g := range q.Groups {
			id := w.principals[w.rnd.IntN(len(w.principals))]
			// A nesting path as authz reports it: outermost first, down to a direct membership.
			q.Groups[g] = rbac.Membership{GroupID: id, Path: []string{id, fmt.Sprintf("nested-%d", g%5)}}
		}
		qs[i] = q
	}
	lat, mean, allowed := timeDecisions(idx, qs)
	return Figure{Key: "rbacDecideGroups", Name: fmt.Sprintf("RBAC decision through %d nested groups, rbac.Index with %s assignments", groups, commas(n)),
		Value: ns(percentile(lat, 50)), Unit: "ns", P50: ns(percentile(lat, 50)), P99: ns(percentile(lat, 99)), LatencyUnit: "ns",
		Goal: "< 20,000 ns median", Target: &Target{Max: 20000},
		Note: fmt.Sprintf("%d random queries whose principal is in %d groups (each holding assignments), each timed (%.1f%% allowed); batch mean %d ns",
			len(qs), groups, 100*float64(allowed)/float64(len(qs)), mean.Nanoseconds())}
}
