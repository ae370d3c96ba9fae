package rbac

import (
	"encoding/binary"
	"math/bits"
	"slices"
	"sync"
	"unique"
)

// scopeIndex is Index's second view of the same assignments, by scope, for queries that carry
// group memberships. Looking each of a principal's 50 groups up in the per-principal map costs
// several cache misses a group (the map's slot, its key, the bucket's entries); a 1,000,000-
// assignment index does not fit in cache, so that dominated the decision. By scope, a query
// visits only the buckets of the target's ancestors (a handful), and scans their principal
// fingerprints, which are contiguous, against a small filter of the query's principals; a large
// bucket is looked up instead, print by print, through a filter and a printTable. Throughout, the
// aim is that a query's cache misses (its ids, the buckets' slots and refs) overlap rather than
// wait one for another: with 50 groups they, not instructions, are the cost of a decision.
//
// All of it is guarded by mu; Add and Remove update it under Index.writeMu as well.
type scopeIndex struct {
	mu      sync.RWMutex
	buckets map[uint64]*scopeBucket // scopeKey(depth, hash) → assignments at such a scope
	// counts holds, by principal fingerprint, how many assignments the principal has (a denial
	// says so), without a lookup in the per-principal map.
	counts countTable
	// bucketsAt counts the buckets at each scope depth (the last element: unhashed scopes), so
	// that a query looks up only the depths that hold assignments (three in a tenant assigning at
	// subscriptions, resource groups and resources) of the ten or so its target has.
	bucketsAt [maxHashedDepth + 2]int32
}

// depthSlot is the element of bucketsAt counting depth's buckets.
func depthSlot(depth uint8) int { return min(int(depth), maxHashedDepth+1) }

// principalPrint identifies a lower-cased principal id by two independent 64-bit hashes. Matches
// found through it are confirmed against the id itself before they count; only the number of
// assignments in a denial's wording relies on the 128 bits alone.
type principalPrint struct{ a, b uint64 }

type scopeBucket struct {
	prints []uint64 // prints[i] is refs[i]'s principalPrint.a, kept apart so a scan reads only these
	refs   []scopeRef
	// scope is the scope of the bucket's first assignment and, unless mixedScopes, of all of
	// them (a bucket is a scope's, but for 32-bit hash collisions and other spellings): a query
	// then asks once whether it covers the target instead of following each candidate's handle.
	// A removal leaves mixedScopes as it is; that only costs the per-assignment check.
	scope       unique.Handle[string]
	mixedScopes bool
	// byPrint, kept once the bucket holds bucketMapMin assignments, finds the positions in refs
	// of each principal print: a query then looks its 51 prints up instead of scanning thousands
	// of entries (a subscription's bucket holds 5,000 of a 1,000,000-assignment tenant's).
	byPrint *printTable
	// present, beside byPrint, is a filter of the prints it holds (16 bits an entry when built,
	// rebuilt as the bucket doubles): most of a query's principals hold nothing at a given scope,
	// and one word read (one cache line) says so where a table lookup reads more. Each print
	// sets two bits of one word (a blocked Bloom filter): about 1.5% of absent prints pass, where
	// one bit an entry let 6% through to a futile lookup. A removal leaves its bits set; that only
	// sends a query to the table for nothing.
	present  []uint64
	presentN int // len(refs) when present was built
}

// mayHold reports whether the bucket may hold print a (false is certain).
func (b *scopeBucket) mayHold(a uint64) bool {
	m := presentBits(a)
	return b.present[a&uint64(len(b.present)-1)]&m == m
}

func (b *scopeBucket) markPresent(a uint64) {
	b.present[a&uint64(len(b.present)-1)] |= presentBits(a)
}

// presentBits are print a's two bits in its word of present: the word is chosen by a's low bits,
// the bits by two six-bit fields above those the print table's slots are chosen by (the query's
// filter reads the top twelve).
func presentBits(a uint64) uint64 { return 1<<(a>>40&63) | 1<<(a>>46&63) }

// buildPresent sizes present for the bucket as it is (a power of two of 64-bit words, at least
// 16 bits an entry) and marks every print.
func (b *scopeBucket) buildPresent() {
	words := 1
	for words*64 < 16*len(b.prints) {
		words *= 2
	}
	b.present, b.presentN = make([]uint64, words), len(b.prints)
	for _, a := range b.prints {
		b.markPresent(a)
	}
}

// bucketMapMin is the bucket size from which a bucket keeps byPrint: scanning a print costs
// about a nanosecond, a table lookup some tens; with 51 principals to look up, the table wins past
// a few hundred entries. A variable so that tests can exercise both ways on small data.
var bucketMapMin = 512

type scopeRef struct {
	principalID string // as the principal's bucket spells it
	entry       indexEntry
	next        int32 // with byPrint: 1 + the position of the next ref with the same print, or 0
}

func scopeKey(depth uint8, hash uint32) uint64 { return uint64(depth)<<32 | uint64(hash) }

func printOf(principalID string) principalPrint {
	// Two multiply-rotate hashes with different constants over the ASCII-lower-cased id, eight
	// bytes at a time (a query hashes its principal and every group, 51 ids in the benchmark).
	s := principalID
	a, b := uint64(0x9e3779b97f4a7c15)^uint64(len(s)), uint64(0xc2b2ae3d27d4eb4f)+uint64(len(s))
	for ; len(s) >= 8; s = s[8:] {
		w := lower8(binary.LittleEndian.Uint64([]byte(s[:8])))
		a = bits.RotateLeft64((a^w)*0xbf58476d1ce4e5b9, 29)
		b = bits.RotateLeft64((b^w)*0x94d049bb133111eb, 37)
	}
	var tail uint64
	if len(s) > 0 && len(principalID) >= 8 {
		// The last eight bytes, overlapping what was hashed: one load instead of a byte loop
		// (ids are GUIDs, 36 bytes, which leave a tail of four).
		tail = lower8(binary.LittleEndian.Uint64([]byte(principalID[len(principalID)-8:]))) >> (8 * (8 - len(s)))
	} else {
		for i := 0; i < len(s); i++ {
			tail |= uint64(foldByte(s[i])) << (8 * i)
		}
	}
	a = mix64((a ^ tail) * 0xbf58476d1ce4e5b9)
	b = mix64((b ^ tail) * 0x94d049bb133111eb)
	return principalPrint{a, b}
}

// printsOf sets out[i] to printOf(ids[i]) for every id (len(out) >= len(ids)). It hashes the
// ids side by side, eight bytes of each in turn, rather than one after the other: a query's ids
// are the caller's strings, scattered over the heap and rarely in cache, and this way the loads
// of the ids' first words (where the misses are) are independent of one another and overlap,
// where hashing one id whole before the next waits for each miss in turn (measured: hashing
// was the largest part of a decision through 50 groups at 1,000,000 assignments).
func printsOf(ids []string, out []principalPrint) {
	out = out[:len(ids)]
	longest := 0
	for i, s := range ids {
		out[i] = principalPrint{uint64(0x9e3779b97f4a7c15) ^ uint64(len(s)), uint64(0xc2b2ae3d27d4eb4f) + uint64(len(s))}
		longest = max(longest, len(s))
	}
	for off := 0; off+8 <= longest; off += 8 {
		for i, s := range ids {
			if len(s)-off < 8 {
				continue
			}
			w := lower8(binary.LittleEndian.Uint64([]byte(s[off : off+8])))
			p := &out[i]
			p.a = bits.RotateLeft64((p.a^w)*0xbf58476d1ce4e5b9, 29)
			p.b = bits.RotateLeft64((p.b^w)*0x94d049bb133111eb, 37)
		}
	}
	for i, s := range ids {
		rest := len(s) % 8
		var tail uint64
		if rest > 0 && len(s) >= 8 {
			tail = lower8(binary.LittleEndian.Uint64([]byte(s[len(s)-8:]))) >> (8 * (8 - rest))
		} else {
			for j := len(s) - rest; j < len(s); j++ {
				tail |= uint64(foldByte(s[j])) << (8 * (j - (len(s) - rest)))
			}
		}
		p := &out[i]
		p.a = mix64((p.a ^ tail) * 0xbf58476d1ce4e5b9)
		p.b = mix64((p.b ^ tail) * 0x94d049bb133111eb)
	}
}

func mix64(x uint64) uint64 {
	x = (x ^ x>>30) * 0xbf58476d1ce4e5b9
	x = (x ^ x>>27) * 0x94d049bb133111eb
	return x ^ x>>31
}

// lower8 lower-cases the ASCII letters among eight bytes, as foldByte does one at a time.
func lower8(x uint64) uint64 {
	const ones = 0x0101010101010101
	c := x & (0x7f * ones) // no byte carries into the next below
	geA := c + (0x80-'A')*ones
	gtZ := c + (0x80-'Z'-1)*ones
	upper := (geA &^ gtZ) &^ x & (0x80 * ones) // high bit set for 'A'..'Z' (not for bytes ≥ 0x80)
	return x | upper>>2
}

// add records e, an assignment of principalID; newPrincipal says the principal had none before.
func (s *scopeIndex) add(principalID string, e *indexEntry) {
	p := printOf(principalID)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.buckets == nil {
		s.buckets = make(map[uint64]*scopeBucket)
	}
	k := scopeKey(e.scopeDepth, e.scopeHash)
	b := s.buckets[k]
	if b == nil {
		b = &scopeBucket{scope: e.scope}
		s.buckets[k] = b
		s.bucketsAt[depthSlot(e.scopeDepth)]++
	} else if e.scope != b.scope {
		b.mixedScopes = true
	}
	b.prints = append(b.prints, p.a)
	b.refs = append(b.refs, scopeRef{principalID: principalID, entry: *e})
	switch n := len(b.refs); {
	case b.byPrint != nil:
		b.byPrint.link(b.refs, p.a, n-1)
		if n >= 2*b.presentN {
			b.buildPresent()
		} else {
			b.markPresent(p.a)
		}
	case n >= bucketMapMin:
		b.byPrint = new(printTable)
		b.byPrint.grow(4 * n) // at most half full until the bucket doubles
		for i, a := range b.prints {
			b.byPrint.link(b.refs, a, i)
		}
		b.buildPresent()
	}
	s.counts.add(p, 1)
}

// remove drops the assignment with this id (lower-cased) held by principalID.
func (s *scopeIndex) remove(principalID string, e *indexEntry, idKey string) {
	p := printOf(principalID)
	s.mu.Lock()
	defer s.mu.Unlock()
	k := scopeKey(e.scopeDepth, e.scopeHash)
	b := s.buckets[k]
	if b == nil {
		return
	}
	for i := range b.refs {
		if b.prints[i] == p.a && equalFoldASCII(b.refs[i].entry.id, idKey) {
			last := len(b.refs) - 1
			if b.byPrint != nil {
				b.byPrint.unlink(b.refs, p.a, i)
				if i != last {
					b.byPrint.move(b.refs, b.prints[last], last, i)
				}
			}
			b.prints[i], b.refs[i] = b.prints[last], b.refs[last]
			b.refs[last] = scopeRef{}
			b.prints, b.refs = b.prints[:last], b.refs[:last]
			if b.byPrint != nil && len(b.prints) < b.presentN/4 {
				b.buildPresent() // forget the bits of the many removed
			}
			if last == 0 {
				delete(s.buckets, k)
				s.bucketsAt[depthSlot(e.scopeDepth)]--
			}
			s.counts.add(p, -1)
			return
		}
	}
}

// queryPrincipals is the query's principal and groups as the scan needs them.
type queryPrincipals struct {
	ids    []string // q.PrincipalID, then each q.Groups[i].GroupID, duplicates kept
	idAs   []uint64 // idAs[i] is printOf(ids[i]).a
	prints []principalPrint
	filter [64]uint64 // a 4096-bit set of prints[i].a, so that a scan rarely looks further
}

func (qp *queryPrincipals) mayHold(a uint64) bool {
	h := a >> 52 // the top 12 bits
	if qp.filter[h>>6]&(1<<(h&63)) == 0 {
		return false
	}
	for i := range qp.prints {
		if qp.prints[i].a == a {
			return true
		}
	}
	return false
}

// holds reports whether principalID, whose print's a half is a, is one of the query's
// principals, comparing the ids themselves: only those with the same print can be equal (printOf
// folds case as equalFoldASCII does), so only those are compared.
func (qp *queryPrincipals) holds(principalID string, a uint64) bool {
	for i, x := range qp.idAs {
		if x == a && equalFoldASCII(qp.ids[i], principalID) {
			return true
		}
	}
	return false
}

// decideGroups is Index.Decide for a query with groups: it considers the same assignments as
// Decide over the list of all of them, each once even when a group is named twice.
func (x *Index) decideGroups(q *Query, d *decider) {
	// Buffers on the stack for the usual number of groups: a decision allocates nothing more
	// than what it hands back.
	var idsBuf [64]string
	var printsBuf [64]principalPrint
	var lookupsBuf [64]uint64
	qp := queryPrincipals{ids: idsBuf[:0], prints: printsBuf[:0]}
	lookups := lookupsBuf[:0] // the distinct prints' a halves, what a bucket's byPrint is keyed by
	qp.ids = append(qp.ids, q.PrincipalID)
	for i := range q.Groups {
		qp.ids = append(qp.ids, q.Groups[i].GroupID)
	}
	var hashed [64]principalPrint
	var idAsBuf [64]uint64
	all := hashed[:0]
	qp.idAs = idAsBuf[:0]
	if len(qp.ids) > len(hashed) {
		all = make([]principalPrint, len(qp.ids))
	}
	printsOf(qp.ids, all[:len(qp.ids)])
	for _, p := range all[:len(qp.ids)] {
		qp.idAs = append(qp.idAs, p.a)
		h := p.a >> 52
		if qp.filter[h>>6]&(1<<(h&63)) != 0 {
			if slices.Contains(qp.prints, p) {
				continue // counted once, as Decide over a list does
			}
			if slices.Contains(lookups, p.a) {
				qp.prints = append(qp.prints, p)
				continue // its positions are looked up once
			}
		}
		qp.prints = append(qp.prints, p)
		lookups = append(lookups, p.a)
		qp.filter[h>>6] |= 1 << (h & 63)
	}
	var anc [maxHashedDepth + 1]uint32
	depth, _ := scopeHashes(q.Scope, anc[:])

	var buf [8]Assignment
	covering := buf[:0]
	s := &x.groups
	s.mu.RLock()
	for dd := 0; dd <= depth+1; dd++ {
		k := scopeKey(unhashedDepth, 0)
		if dd <= depth {
			k = scopeKey(uint8(dd), anc[dd])
		}
		if s.bucketsAt[depthSlot(uint8(k>>32))] == 0 {
			continue
		}
		b := s.buckets[k]
		if b == nil || !b.mixedScopes && !ScopeCovers(b.scope.Value(), q.Scope) {
			continue
		}
		mixed := b.mixedScopes
		if b.byPrint != nil {
			for _, a := range lookups {
				if !b.mayHold(a) {
					continue
				}
				for i := b.byPrint.first(a); i >= 0; i = int(b.refs[i].next) - 1 {
					r := &b.refs[i]
					if qp.holds(r.principalID, a) && (!mixed || ScopeCovers(r.entry.scope.Value(), q.Scope)) {
						covering = append(covering, r.entry.assignment(r.principalID))
					}
				}
			}
			continue
		}
		for i, a := range b.prints {
			if !qp.mayHold(a) {
				continue
			}
			r := &b.refs[i]
			if qp.holds(r.principalID, a) && (!mixed || ScopeCovers(r.entry.scope.Value(), q.Scope)) {
				covering = append(covering, r.entry.assignment(r.principalID))
			}
		}
	}
	if len(covering) == 0 {
		// Only a denial with nothing covering the target words the number of assignments, so
		// the 51 lookups are spared otherwise, where a lower bound (the covering ones) words the
		// same.
		for _, p := range qp.prints {
			d.total += s.counts.get(p)
		}
	} else {
		d.total = len(covering)
	}
	s.mu.RUnlock()
	// Considered after the lock is released: roles may itself use the index.
	// In the order found, unsorted: the decider's every choice (the grant at the deepest scope,
	// each example named in a denial) breaks ties by assignment id, unique in the index, so the
	// order cannot change the decision or its words; sorting was 6% of a decision's profile.
	for i := range covering {
		d.consider(&covering[i])
	}
}
