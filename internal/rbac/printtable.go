package rbac

import "math/bits"

// printTable is a large scope bucket's index by principal print: an open-addressing hash table
// (linear probing, at most half full) from a print's a half to the position in the bucket's refs
// of one assignment with that print; the others with the same print follow through
// scopeRef.next. It replaced a map[uint64][]int32, whose lookup followed several pointers (the
// map's directory, its group's control word, the slot, the slice's array) where this reads one
// slot, usually in one cache line, and then the ref itself; on a 1,000,000-assignment index
// those were cache misses and the larger part of a decision through groups.
//
// Positions are stored plus one, so that the zero slot and the zero next are "none".
type printTable struct {
	slots []printSlot // a power of two long
	used  int
}

type printSlot struct {
	a    uint64
	head int32 // 1 + the position of the first ref with print a; 0 for an empty slot
}

// home is the slot where a print's probe starts. The bits are not those the bucket's present
// filter or the query's filter read, so that prints passing a filter do not crowd together.
func (t *printTable) home(a uint64) int { return int(a>>16) & (len(t.slots) - 1) }

// find returns the slot of print a, or the empty slot where it would go.
func (t *printTable) find(a uint64) int {
	mask := len(t.slots) - 1
	i := t.home(a)
	for t.slots[i].head != 0 && t.slots[i].a != a {
		i = (i + 1) & mask
	}
	return i
}

// first returns the position of the first ref with print a, or -1.
func (t *printTable) first(a uint64) int {
	return int(t.slots[t.find(a)].head) - 1
}

// link records that refs[pos] has print a.
func (t *printTable) link(refs []scopeRef, a uint64, pos int) {
	if 2*(t.used+1) > len(t.slots) {
		t.grow(max(16, 2*len(t.slots)))
	}
	i := t.find(a)
	if t.slots[i].head == 0 {
		t.slots[i].a = a
		t.used++
	}
	refs[pos].next = t.slots[i].head
	t.slots[i].head = int32(pos) + 1
}

// unlink forgets that refs[pos], with print a, is at pos.
func (t *printTable) unlink(refs []scopeRef, a uint64, pos int) {
	i := t.find(a)
	p := &t.slots[i].head
	for *p != 0 && *p != int32(pos)+1 {
		p = &refs[*p-1].next
	}
	if *p == 0 {
		return
	}
	*p = refs[pos].next
	refs[pos].next = 0
	if t.slots[i].head == 0 {
		t.deleteSlot(i)
	}
}

// move records that the ref with print a at position from is now at position to; the ref's next
// goes with it (the caller copies the ref).
func (t *printTable) move(refs []scopeRef, a uint64, from, to int) {
	p := &t.slots[t.find(a)].head
	for *p != 0 && *p != int32(from)+1 {
		p = &refs[*p-1].next
	}
	if *p != 0 {
		*p = int32(to) + 1
	}
}

// deleteSlot empties slot i without a tombstone (backShift).
func (t *printTable) deleteSlot(i int) {
	t.used--
	backShift(t.slots, i, func(s *printSlot) bool { return s.head == 0 }, func(s *printSlot) int { return t.home(s.a) })
}

// grow rehashes into at least n slots (a power of two); the chains through refs are unchanged.
func (t *printTable) grow(n int) {
	old := t.slots
	t.slots = make([]printSlot, 1<<bits.Len(uint(n-1)))
	for _, s := range old {
		if s.head != 0 {
			t.slots[t.find(s.a)] = s
		}
	}
}

// countTable holds how many assignments each principal print has, for the one decision that
// words the number: a denial with nothing covering its target, which looks up every one of the
// query's principals (51 in the benchmark). A map lookup there is a call following several
// pointers, each lookup after the last; these probes are a few inlined instructions each, so
// the CPU has the cache misses of many principals in flight at once. Open addressing, linear
// probing, at most half full, deletion by backward shift as printTable.
type countTable struct {
	slots []countSlot // a power of two long
	used  int
}

type countSlot struct {
	p principalPrint
	n int // 0 for an empty slot
}

func (t *countTable) find(p principalPrint) int {
	mask := len(t.slots) - 1
	i := int(p.a>>16) & mask
	for t.slots[i].n != 0 && t.slots[i].p != p {
		i = (i + 1) & mask
	}
	return i
}

// get returns p's count (0 when absent).
func (t *countTable) get(p principalPrint) int {
	if len(t.slots) == 0 {
		return 0
	}
	return t.slots[t.find(p)].n
}

// add adds delta (1 or -1) to p's count, dropping p at 0.
func (t *countTable) add(p principalPrint, delta int) {
	if 2*(t.used+1) > len(t.slots) {
		old := t.slots
		t.slots = make([]countSlot, max(64, 2*len(old)))
		for _, s := range old {
			if s.n != 0 {
				t.slots[t.find(s.p)] = s
			}
		}
	}
	i := t.find(p)
	s := &t.slots[i]
	if s.n == 0 {
		if delta <= 0 {
			return
		}
		s.p = p
		t.used++
	}
	if s.n += delta; s.n > 0 {
		return
	}
	t.used--
	mask := len(t.slots) - 1
	backShift(t.slots, i, func(s *countSlot) bool { return s.n == 0 }, func(s *countSlot) int { return int(s.p.a>>16) & mask })
}

// backShift empties slot i of an open-addressing table with linear probing (a power of two
// long) and shifts back the entries after it that probed past it, so that every entry stays
// reachable from its home without tombstones. empty says whether a slot is free; home is the
// slot where an entry's probe starts.
func backShift[S any](slots []S, i int, empty func(*S) bool, home func(*S) int) {
	mask := len(slots) - 1
	var none S
	for {
		slots[i] = none
		j := i
		for {
			j = (j + 1) & mask
			if empty(&slots[j]) {
				return
			}
			// The entry at j stays if its home lies cyclically in (i, j].
			k := home(&slots[j])
			if i <= j {
				if i < k && k <= j {
					continue
				}
			} else if i < k || k <= j {
				continue
			}
			slots[i] = slots[j]
			i = j
			break
		}
	}
}
