package rbac

import (
	"math/rand/v2"
	"slices"
	"testing"
)

// TestPrintTableMatchesScan: after random additions and swap-with-last removals, as scopeIndex
// makes them, the table finds for every print exactly the positions a scan of the bucket finds,
// with prints chosen to share home slots (long probe runs, wrapping around the end, and the
// backward shift of deletions).
func TestPrintTableMatchesScan(t *testing.T) {
	rnd := rand.New(rand.NewPCG(3, 4))
	var t0 printTable
	t0.grow(4)
	tab := &t0
	var prints []uint64
	var refs []scopeRef
	pool := make([]uint64, 40)
	for i := range pool {
		// Homes fall in a few slots near the end of small tables, so that probes wrap.
		pool[i] = uint64(rnd.IntN(3)+13)<<16 | uint64(i)<<40 | uint64(rnd.IntN(2))<<63
	}
	check := func(step int) {
		distinct := map[uint64]bool{}
		for _, a := range prints {
			distinct[a] = true
		}
		if tab.used != len(distinct) {
			t.Fatalf("step %d: %d slots used, %d distinct prints", step, tab.used, len(distinct))
		}
		for _, a := range pool {
			var want, got []int
			for i, p := range prints {
				if p == a {
					want = append(want, i)
				}
			}
			for i := tab.first(a); i >= 0; i = int(refs[i].next) - 1 {
				got = append(got, i)
				if len(got) > len(prints) {
					t.Fatalf("step %d: chain of %x loops", step, a)
				}
			}
			slices.Sort(got)
			if !slices.Equal(got, want) {
				t.Fatalf("step %d: print %x at %v, want %v", step, a, got, want)
			}
		}
	}
	for step := range 20000 {
		if len(prints) == 0 || rnd.IntN(100) < 55 {
			a := pool[rnd.IntN(len(pool))]
			prints = append(prints, a)
			refs = append(refs, scopeRef{})
			tab.link(refs, a, len(refs)-1)
		} else {
			i, last := rnd.IntN(len(prints)), len(prints)-1
			tab.unlink(refs, prints[i], i)
			if i != last {
				tab.move(refs, prints[last], last, i)
			}
			prints[i], refs[i] = prints[last], refs[last]
			prints, refs = prints[:last], refs[:last]
		}
		if step%7 == 0 || len(prints) < 5 {
			check(step)
		}
	}
	check(-1)
}

// TestCountTableMatchesMap: random increments and decrements of prints that share home slots
// leave the table counting as a map does.
func TestCountTableMatchesMap(t *testing.T) {
	rnd := rand.New(rand.NewPCG(5, 6))
	var tab countTable
	want := map[principalPrint]int{}
	pool := make([]principalPrint, 300)
	for i := range pool {
		pool[i] = principalPrint{a: uint64(rnd.IntN(4)+60)<<16 | uint64(i)<<40, b: uint64(rnd.IntN(3))}
	}
	for step := range 50000 {
		p := pool[rnd.IntN(len(pool))]
		if rnd.IntN(2) == 0 {
			tab.add(p, 1)
			want[p]++
		} else if want[p] > 0 {
			tab.add(p, -1)
			if want[p]--; want[p] == 0 {
				delete(want, p)
			}
		}
		if step%97 == 0 {
			if tab.used != len(want) {
				t.Fatalf("step %d: %d used, want %d", step, tab.used, len(want))
			}
			for _, p := range pool {
				if got := tab.get(p); got != want[p] {
					t.Fatalf("step %d: %x counts %d, want %d", step, p, got, want[p])
				}
			}
		}
	}
}
