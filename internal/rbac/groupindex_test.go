package rbac

import (
	"fmt"
	"math/bits"
	"reflect"
	"strings"
	"testing"
)

// TestIndexGroupsMatchNaive: with groups, Index.Decide (which reads its by-scope view) decides,
// and words the decision, exactly as Decide over the plain list of assignments, on random data
// with replaced and removed assignments, ids in either case, duplicate and unknown groups, and
// scopes too deep to hash.
//
// It runs twice: with buckets scanned (the default threshold, which this data stays under) and
// with every bucket of three or more assignments looked up through its by-print map.
func TestIndexGroupsMatchNaive(t *testing.T) {
	for _, min := range []int{bucketMapMin, 3} {
		t.Run(fmt.Sprintf("bucketMapMin=%d", min), func(t *testing.T) {
			defer func(was int) { bucketMapMin = was }(bucketMapMin)
			bucketMapMin = min
			checkIndexGroupsMatchNaive(t)
		})
	}
}

func checkIndexGroupsMatchNaive(t *testing.T) {
	w := newWorld(11, 60, 40)
	deep := w.resources[0]
	for i := range 40 {
		deep += fmt.Sprintf("/t%d", i)
	}
	var idx Index
	live := map[string]Assignment{} // lower-cased id → assignment
	ids := []string{}
	for i := range 3000 {
		a := w.assignment()
		switch r := w.rnd.IntN(20); {
		case r == 0:
			a.Scope = deep
		case r == 1:
			a.Scope = "/"
		case r == 2:
			a.PrincipalID = strings.ToUpper(a.PrincipalID)
		case r == 3:
			a.Condition, a.ConditionVersion = "@Resource[x] StringEquals 'y'", "2.0"
		}
		if len(ids) > 0 && w.rnd.IntN(5) == 0 {
			a.ID = strings.ToUpper(ids[w.rnd.IntN(len(ids))]) // replace, maybe moving principal
		}
		idx.Add(a)
		key := strings.ToLower(a.ID)
		if _, ok := live[key]; !ok {
			ids = append(ids, key)
		}
		live[key] = a
		if w.rnd.IntN(3) == 0 {
			ids = ids[:len(ids):len(ids)] // keep removed ids about, to be added again
		}
		if i%7 == 0 {
			victim := ids[w.rnd.IntN(len(ids))]
			if _, ok := live[victim]; ok && idx.Remove(victim) {
				delete(live, victim)
			}
		}
	}
	list := make([]Assignment, 0, len(live))
	for _, a := range live { // Decide's answer does not depend on the list's order
		list = append(list, a)
	}
	if idx.Len() != len(list) {
		t.Fatalf("Len %d, want %d", idx.Len(), len(list))
	}
	list = normalisedPrincipals(list, &idx)
	allowed := 0
	for i := range 4000 {
		q := w.query()
		if i%5 == 0 {
			q.Scope = deep + "/x"
		}
		for range w.rnd.IntN(8) + 1 {
			g := w.principals[w.rnd.IntN(len(w.principals))]
			if w.rnd.IntN(4) == 0 {
				g = strings.ToUpper(g)
			}
			q.Groups = append(q.Groups, Membership{GroupID: g, Path: []string{"G" + g[:4], "Inner"}})
		}
		if i%9 == 0 {
			q.Groups = append(q.Groups, q.Groups[0], Membership{GroupID: "no-such-group"})
		}
		got, want := idx.Decide(q, nil), Decide(q, nil, list)
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("query %+v:\n index %+v\n naive %+v", q, got, want)
		}
		if got.Allowed {
			allowed++
		}
	}
	if allowed == 0 || allowed == 4000 {
		t.Fatalf("%d of 4000 allowed: the data does not exercise both answers", allowed)
	}
}

// normalisedPrincipals spells each assignment's principal id as the index does.
func normalisedPrincipals(list []Assignment, idx *Index) []Assignment {
	out := make([]Assignment, len(list))
	for i, a := range list {
		if as := idx.ForPrincipal(a.PrincipalID); len(as) > 0 {
			a.PrincipalID = as[0].PrincipalID
		}
		out[i] = a
	}
	return out
}

func TestLower8MatchesFoldByte(t *testing.T) {
	for c := range 256 {
		for pos := range 8 {
			x := uint64(0x4142_7a5a_5b40_e1c3) // a mix of letters, edges and high bytes
			x = x&^(0xff<<(8*pos)) | uint64(c)<<(8*pos)
			want := uint64(0)
			for i := range 8 {
				want |= uint64(foldByte(byte(x>>(8*i)))) << (8 * i)
			}
			if got := lower8(x); got != want {
				t.Fatalf("lower8(%#x) = %#x, want %#x", x, got, want)
			}
		}
	}
	if printOf("AbC-12345678-XyZ") != printOf("abc-12345678-xyz") || printOf("ab") == printOf("ac") {
		t.Fatal("printOf does not fold case, or collides trivially")
	}
}

// TestPrintOfTailMatchesByteLoop: printOf's one-load tail hashes the same as folding the tail
// byte by byte, at every length.
func TestPrintOfTailMatchesByteLoop(t *testing.T) {
	id := "0A1b2C3d-4E5f-6A7b-8C9d-0E1F2a3B4c5D-extra"
	for n := range len(id) + 1 {
		s := id[:n]
		a, b := uint64(0x9e3779b97f4a7c15)^uint64(len(s)), uint64(0xc2b2ae3d27d4eb4f)+uint64(len(s))
		for ; len(s) >= 8; s = s[8:] {
			var w uint64
			for i := range 8 {
				w |= uint64(foldByte(s[i])) << (8 * i)
			}
			a = bits.RotateLeft64((a^w)*0xbf58476d1ce4e5b9, 29)
			b = bits.RotateLeft64((b^w)*0x94d049bb133111eb, 37)
		}
		var tail uint64
		for i := 0; i < len(s); i++ {
			tail |= uint64(foldByte(s[i])) << (8 * i)
		}
		want := principalPrint{mix64((a ^ tail) * 0xbf58476d1ce4e5b9), mix64((b ^ tail) * 0x94d049bb133111eb)}
		if got := printOf(id[:n]); got != want {
			t.Fatalf("printOf(%q) = %x, want %x", id[:n], got, want)
		}
	}
}

// TestPrintsOfMatchesPrintOf: hashing ids side by side gives each id the print printOf gives it
// alone, whatever the mix of lengths (shorter than a word, whole words, with a tail, empty).
func TestPrintsOfMatchesPrintOf(t *testing.T) {
	base := "0A1b2C3d-4E5f-6A7b-8C9d-0E1F2a3B4c5D-and-some-more-bytes"
	var ids []string
	for n := range len(base) + 1 {
		ids = append(ids, base[n/3:n])
	}
	for rot := range 5 { // different orders, so that every length sits beside every other
		ids = append(ids[rot:], ids[:rot]...)
		out := make([]principalPrint, len(ids))
		printsOf(ids, out)
		for i, id := range ids {
			if want := printOf(id); out[i] != want {
				t.Fatalf("printsOf: %q hashed to %x, printOf says %x", id, out[i], want)
			}
		}
	}
}

// TestViaWords: the words a decision writes for a group path are the path joined, and viaLen
// sizes them exactly.
func TestViaWords(t *testing.T) {
	for _, m := range []Membership{
		{GroupID: "g"},
		{GroupID: "g", Path: []string{"Outer"}},
		{GroupID: "g", Path: []string{"Outer", "Middle ⊃ odd", "Inner"}},
	} {
		path := m.Path
		if len(path) == 0 {
			path = []string{m.GroupID}
		}
		want := "group " + strings.Join(path, " ⊃ ")
		if got := m.ViaWords(); got != want || m.viaLen() != len(want) {
			t.Fatalf("%+v: %q (length %d), want %q", m, got, m.viaLen(), want)
		}
	}
	if (*Membership)(nil).ViaWords() != "" {
		t.Fatal("nil membership")
	}
}

// TestIndexGroupsMatchNaiveAtScale: queries through 50 groups (some named twice, some in upper
// case, some unknown) against 40,000 assignments, with replacements and removals, decide and
// word their decisions exactly as Decide over the plain list; with the default bucket threshold
// and with one low enough that most buckets are looked up through their print tables.
func TestIndexGroupsMatchNaiveAtScale(t *testing.T) {
	n, queries := 40_000, 1500
	if testing.Short() || raceEnabled {
		n, queries = 10_000, 300
	}
	for _, min := range []int{bucketMapMin, 16} {
		t.Run(fmt.Sprintf("bucketMapMin=%d", min), func(t *testing.T) {
			defer func(was int) { bucketMapMin = was }(bucketMapMin)
			bucketMapMin = min
			w := newWorld(uint64(min), n/10, 400)
			var idx Index
			live := map[string]Assignment{} // lower-cased id → assignment
			var ids []string
			for i := range n {
				a := w.assignment()
				if w.rnd.IntN(10) == 0 {
					a.PrincipalID = strings.ToUpper(a.PrincipalID)
				}
				if len(ids) > 0 && w.rnd.IntN(10) == 0 {
					a.ID = ids[w.rnd.IntN(len(ids))] // replace, maybe moving principal and scope
				}
				idx.Add(a)
				key := strings.ToLower(a.ID)
				if _, ok := live[key]; !ok {
					ids = append(ids, key)
				}
				live[key] = a
				if i%5 == 0 {
					victim := ids[w.rnd.IntN(len(ids))]
					if _, ok := live[victim]; ok && idx.Remove(victim) {
						delete(live, victim)
					}
				}
			}
			list := make([]Assignment, 0, len(live))
			for _, a := range live {
				list = append(list, a)
			}
			list = normalisedPrincipals(list, &idx)
			byPrincipal := map[string][]Assignment{} // lower-cased principal id → its assignments
			for _, a := range list {
				k := strings.ToLower(a.PrincipalID)
				byPrincipal[k] = append(byPrincipal[k], a)
			}
			allowed := 0
			for i := range queries {
				q := w.query()
				for g := range 50 {
					id := w.principals[w.rnd.IntN(len(w.principals))]
					switch {
					case g%17 == 3:
						id = strings.ToUpper(id)
					case g%23 == 5 && len(q.Groups) > 0:
						id = q.Groups[0].GroupID
					case g == 49 && i%3 == 0:
						id = "no-such-group"
					}
					q.Groups = append(q.Groups, Membership{GroupID: id, Path: []string{"G" + id[:4], "Inner"}})
				}
				// Decide ignores the assignments of principals other than the query's, so the
				// plain list is cut down to those for speed.
				var relevant []Assignment
				seen := map[string]bool{}
				for _, id := range append([]string{q.PrincipalID}, groupIDs(q.Groups)...) {
					if k := strings.ToLower(id); !seen[k] {
						seen[k] = true
						relevant = append(relevant, byPrincipal[k]...)
					}
				}
				got, want := idx.Decide(q, nil), Decide(q, nil, relevant)
				if !reflect.DeepEqual(got, want) {
					t.Fatalf("query %d %+v:\n index %+v\n naive %+v", i, q, got, want)
				}
				if got.Allowed {
					allowed++
				}
			}
			if allowed == 0 || allowed == queries {
				t.Fatalf("%d of %d allowed: the data does not exercise both answers", allowed, queries)
			}
			t.Logf("%d assignments, %d of %d queries allowed", len(list), allowed, queries)
		})
	}
}

func groupIDs(ms []Membership) []string {
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = m.GroupID
	}
	return out
}

// TestIndexGroupsScopeHashCollision: two subscriptions whose scope hashes collide share a bucket;
// an assignment at one must not count at the other, through groups as without, whichever was
// added first, and with the bucket large enough to be looked up through its print table.
func TestIndexGroupsScopeHashCollision(t *testing.T) {
	seen := map[uint32]string{}
	var s1, s2 string
	var h [maxHashedDepth + 1]uint32
	for i := 0; s2 == ""; i++ {
		s := fmt.Sprintf("/subscriptions/s%d", i)
		scopeHashes(s, h[:])
		if other, ok := seen[h[2]]; ok {
			s1, s2 = other, s
		}
		seen[h[2]] = s
	}
	for _, min := range []int{bucketMapMin, 3} {
		for _, order := range [][2]string{{s1, s2}, {s2, s1}} {
			defer func(was int) { bucketMapMin = was }(bucketMapMin)
			bucketMapMin = min
			var idx Index
			for i := range 4 { // both scopes, to the group and to others, so that the bucket is large
				idx.Add(Assignment{ID: fmt.Sprintf("a%d", i), Scope: order[i%2], PrincipalID: fmt.Sprintf("p%d", i), RoleDefinitionID: ReaderRoleID})
			}
			// The group's assignment is at the scope added second: not the one the bucket was made for.
			idx.Add(Assignment{ID: "g", Scope: order[1], PrincipalID: "group", RoleDefinitionID: OwnerRoleID})
			q := Query{PrincipalID: "p9", Action: vmWrite, Scope: order[0] + "/resourceGroups/rg", Groups: []Membership{{GroupID: "group"}}}
			list := append(idx.ForPrincipal("group"), idx.ForPrincipal("p9")...)
			if got, want := idx.Decide(q, nil), Decide(q, nil, list); got.Allowed || !reflect.DeepEqual(got, want) {
				t.Fatalf("%s and %s (hash %x), min %d: %+v, want %+v", s1, s2, h[2], min, got, want)
			}
			q.Scope = order[1] + "/resourceGroups/rg"
			if got := idx.Decide(q, nil); !got.Allowed {
				t.Fatalf("not allowed where the group's assignment is: %+v", got)
			}
		}
	}
}
