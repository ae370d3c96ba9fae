package rbac

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
)

func TestIndexAddRemove(t *testing.T) {
	var idx Index
	if got := idx.ForPrincipal(principal); got != nil || idx.Len() != 0 || idx.Remove("x") {
		t.Fatal("zero index is not empty")
	}
	a := assign("A1", principal, ReaderRoleID, sub+"/")
	b := assign("a2", strings.ToUpper(principal), KeyVaultSecretsUserRoleID, vault)
	c := assign("a3", principal, OwnerRoleID, rg)
	b.Condition, b.ConditionVersion = "cond", "2.0"
	for _, x := range []Assignment{a, b, c, assign("o1", other, OwnerRoleID, "/")} {
		idx.Add(x)
	}
	if idx.Len() != 4 {
		t.Fatalf("Len = %d", idx.Len())
	}
	got := idx.ForPrincipal(strings.ToUpper(principal))
	want := []Assignment{a, c, b} // by scope: sub < rg < vault
	want[0].Scope = sub           // stored clean
	for i := range want {
		want[i].PrincipalID = principal // as first added
	}
	if !slices.Equal(got, want) {
		t.Fatalf("ForPrincipal\n got %+v\nwant %+v", got, want)
	}

	// Re-adding an id (any case) replaces it, even for another principal.
	idx.Add(assign("a1", other, ContributorRoleID, rg))
	if idx.Len() != 4 || len(idx.ForPrincipal(principal)) != 2 || len(idx.ForPrincipal(other)) != 2 {
		t.Fatalf("replace: len %d, %v, %v", idx.Len(), idx.ForPrincipal(principal), idx.ForPrincipal(other))
	}
	if !idx.Remove("A3") || idx.Remove("a3") {
		t.Fatal("Remove")
	}
	if !idx.Remove("a2") {
		t.Fatal("Remove a2")
	}
	if got := idx.ForPrincipal(principal); got != nil {
		t.Fatalf("principal still has %v", got)
	}
	if idx.Len() != 2 {
		t.Fatalf("Len = %d", idx.Len())
	}
	// The returned slice is the caller's.
	s := idx.ForPrincipal(other)
	s[0].Scope = "tampered"
	if idx.ForPrincipal(other)[0].Scope == "tampered" {
		t.Fatal("ForPrincipal shares its slice")
	}
}

// TestIndexDecideMatchesDecide checks Index.Decide against Decide on the same assignments, with
// small principals (linear scan) and large ones (ancestor search), messy spellings, conditions,
// removals and replacements.
func TestIndexDecideMatchesDecide(t *testing.T) {
	w := newWorld(1, 40, 300)
	rnd := rand.New(rand.NewPCG(2, 3))
	messy := func(s string) string {
		switch rnd.IntN(4) {
		case 0:
			return strings.ToUpper(s)
		case 1:
			return s + "/"
		case 2:
			return strings.Replace(s, "/", "//", 1)
		}
		return s
	}
	var idx Index
	all := map[string]Assignment{}
	add := func(a Assignment) {
		idx.Add(a)
		all[asciiLower(a.ID)] = a
	}
	for i := range 3000 {
		a := w.assignment()
		if i%3 == 0 {
			a.PrincipalID = w.principals[0] // one big principal (> linearMax)
		}
		a.Scope = messy(a.Scope)
		if rnd.IntN(20) == 0 {
			a.Condition = "c"
		}
		if rnd.IntN(30) == 0 {
			a.Scope = "/"
		}
		add(a)
	}
	check := func() {
		t.Helper()
		list := make([]Assignment, 0, len(all))
		for _, a := range all {
			list = append(list, a)
		}
		for i := range 3000 {
			q := w.query()
			if i%2 == 0 {
				q.PrincipalID = w.principals[0]
			}
			if i%5 == 0 {
				q.Scope = messy(q.Scope)
			}
			if i%7 == 0 {
				q.PrincipalID = strings.ToUpper(q.PrincipalID)
			}
			want := Decide(q, nil, list)
			got := idx.Decide(q, nil)
			if got.Allowed != want.Allowed || got.Reason != want.Reason || (got.GrantedBy == nil) != (want.GrantedBy == nil) ||
				(got.GrantedBy != nil && got.GrantedBy.ID != want.GrantedBy.ID) {
				t.Fatalf("query %+v\nindex  %+v\ndecide %+v", q, got, want)
			}
		}
	}
	check()
	// Remove a third, replace some.
	n := 0
	for id, a := range all {
		switch n % 3 {
		case 0:
			if !idx.Remove(strings.ToUpper(id)) {
				t.Fatalf("remove %s", id)
			}
			delete(all, id)
		case 1:
			a.RoleDefinitionID = OwnerRoleID
			add(a)
		}
		n++
	}
	if idx.Len() != len(all) {
		t.Fatalf("Len %d, want %d", idx.Len(), len(all))
	}
	check()
}

func TestIndexConcurrent(t *testing.T) {
	w := newWorld(3, 50, 200)
	var assignments []Assignment
	for range 2000 {
		assignments = append(assignments, w.assignment())
	}
	queries := make([]Query, 500)
	for i := range queries {
		queries[i] = w.query()
		if i%2 == 1 { // and through groups, which reads the index's by-scope view
			for range 5 {
				queries[i].Groups = append(queries[i].Groups, Membership{GroupID: w.principals[w.rnd.IntN(len(w.principals))]})
			}
		}
	}
	var idx Index
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := g; i < len(assignments); i += 4 {
				idx.Add(assignments[i])
				if i%10 == 0 {
					idx.Remove(assignments[i].ID)
				}
			}
		})
		wg.Go(func() {
			for i := range 2000 {
				q := queries[(i+g)%len(queries)]
				idx.Decide(q, nil)
				idx.ForPrincipal(q.PrincipalID)
				if i%100 == 0 {
					idx.Explain(q, nil, builtinRoles)
				}
			}
		})
	}
	wg.Wait()
	want := 0
	for i := range assignments {
		if i%10 != 0 {
			want++
		}
	}
	if idx.Len() != want {
		t.Fatalf("Len %d, want %d", idx.Len(), want)
	}
}

// A role lookup may use the index: Decide calls it outside the index's lock.
func TestIndexLookupMayReenter(t *testing.T) {
	var idx Index
	idx.Add(assign("a1", principal, ReaderRoleID, rg))
	roles := func(id string) (RoleDefinition, bool) {
		idx.Add(assign(fmt.Sprintf("x-%s", id), other, ReaderRoleID, rg))
		return BuiltinLookup()(id)
	}
	if d := idx.Decide(control(vmRead, vm), roles); !d.Allowed {
		t.Fatal(d.Reason)
	}
}

func TestIndexMemory(t *testing.T) {
	// BenchmarkDecide1M measures 1,000,000; this keeps `go test` quick with the same shape
	// (10 assignments per principal, about 10,000 scopes).
	n := 250_000
	if testing.Short() || raceEnabled {
		n = 100_000
	}
	w := newWorld(4, n/10, 10_000)
	idx, per := buildIndex(w, n)
	t.Logf("%d assignments, %d principals, %d resources: %.0f bytes per assignment", idx.Len(), len(w.principals), len(w.resources), per)
	if idx.Len() != n {
		t.Fatalf("Len %d", idx.Len())
	}
	if per > 1024 {
		t.Fatalf("%.0f bytes per assignment, want < 1 KiB", per)
	}
}

// Scopes deeper than maxHashedDepth are not hashed; they must still be found, in small and large
// buckets alike.
func TestIndexDeepScopes(t *testing.T) {
	deep := rg
	for i := range 40 {
		deep += fmt.Sprintf("/t%d", i)
	}
	segments := strings.Split(deep, "/")
	prefix := func(n int) string { return strings.Join(segments[:n+1], "/") }
	if scopeDepth(prefix(35)) != 35 {
		t.Fatal("prefix")
	}
	for _, filler := range []int{0, 40} {
		t.Run(fmt.Sprintf("filler=%d", filler), func(t *testing.T) {
			var idx Index
			idx.Add(assign("deep", principal, ReaderRoleID, strings.ToUpper(prefix(35))))
			idx.Add(assign("shallow", principal, KeyVaultSecretsUserRoleID, prefix(3)))
			for i := range filler {
				idx.Add(assign(fmt.Sprintf("f%d", i), principal, OwnerRoleID, fmt.Sprintf("%s/providers/X/y/z%d", rg2, i)))
			}
			tests := []struct {
				q    Query
				want string
			}{
				{control(vmRead, deep), "deep"},
				{control(vmRead, prefix(35)+"/"), "deep"},
				{control(vmRead, prefix(34)), ""},
				{data(getSecret, deep), "shallow"},
				{data(getSecret, prefix(33)), "shallow"},
				{data(getSecret, prefix(2)), ""},
			}
			for _, tt := range tests {
				d := idx.Decide(tt.q, nil)
				got := ""
				if d.GrantedBy != nil {
					got = d.GrantedBy.ID
				}
				if got != tt.want {
					t.Errorf("%s at depth %d: granted by %q, want %q (%s)", tt.q.Action, scopeDepth(tt.q.Scope), got, tt.want, d.Reason)
				}
				if want := Decide(tt.q, nil, idx.ForPrincipal(principal)); want.Reason != d.Reason {
					t.Errorf("index and Decide disagree:\n%s\n%s", d.Reason, want.Reason)
				}
			}
		})
	}
}
