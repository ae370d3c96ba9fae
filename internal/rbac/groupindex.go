package rbac

import (
	"math/bits"
	"slices"
	"sync"
)

// scopeIndex is Index's second view of the same assignments, by scope, for queries that carry
// group memberships. Looking each of a principal's 50 groups up in the per-principal map costs
// several cache misses a group (the map's slot, its key, the bucket's entries); a 1,000,000-
// assignment index does not fit in cache, so that dominated the decision. By scope, a query
// visits only the buckets of the target's ancestors (a handful), and scans their principal
// fingerprints, which are contiguous, against a small filter of the query's principals.
//
// All of it is guarded by mu; Add and Remove update it under Index.writeMu as well.
type scopeIndex struct {
	mu      sync.RWMutex
	buckets map[uint64]*scopeBucket // scopeKey(depth, hash) → assignments at such a scope
	// counts holds, by principal fingerprint, how many assignments the principal has (a denial
	// says so), without a lookup in the per-principal map.
	counts map[principalPrint]int
}

// principalPrint identifies a lower-cased principal id by two independent 64-bit hashes. Matches
// found through it are confirmed against the id itself before they count; only the number of
// assignments in a denial's wording relies on the 128 bits alone.
type principalPrint struct{ a, b uint64 }

type scopeBucket struct {
	prints []uint64 // prints[i] is refs[i]'s principalPrint.a, kept apart so a scan reads only these
	refs   []scopeRef
}

type scopeRef struct {
	principalID string // as the principal's bucket spells it
	entry       indexEntry
}

func scopeKey(depth uint8, hash uint32) uint64 { return uint64(depth)<<32 | uint64(hash) }

func printOf(principalID string) principalPrint {
	// FNV-1a and a multiply-xorshift hash over the ASCII-lower-cased bytes, in one pass.
	a, b := uint64(14695981039346656037), uint64(0x9e3779b97f4a7c15)
	for i := 0; i < len(principalID); i++ {
		c := uint64(foldByte(principalID[i]))
		a = (a ^ c) * 1099511628211
		b = bits.RotateLeft64((b^c)*0xbf58476d1ce4e5b9, 31)
	}
	b ^= uint64(len(principalID))
	b = (b ^ b>>30) * 0x94d049bb133111eb
	return principalPrint{a, b ^ b>>31}
}

// add records e, an assignment of principalID; newPrincipal says the principal had none before.
func (s *scopeIndex) add(principalID string, e *indexEntry) {
	p := printOf(principalID)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.buckets == nil {
		s.buckets = make(map[uint64]*scopeBucket)
		s.counts = make(map[principalPrint]int)
	}
	k := scopeKey(e.scopeDepth, e.scopeHash)
	b := s.buckets[k]
	if b == nil {
		b = new(scopeBucket)
		s.buckets[k] = b
	}
	b.prints = append(b.prints, p.a)
	b.refs = append(b.refs, scopeRef{principalID: principalID, entry: *e})
	s.counts[p]++
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
			b.prints[i], b.refs[i] = b.prints[last], b.refs[last]
			b.refs[last] = scopeRef{}
			b.prints, b.refs = b.prints[:last], b.refs[:last]
			if last == 0 {
				delete(s.buckets, k)
			}
			if s.counts[p]--; s.counts[p] <= 0 {
				delete(s.counts, p)
			}
			return
		}
	}
}

// queryPrincipals is the query's principal and groups as the scan needs them.
type queryPrincipals struct {
	ids    []string // q.PrincipalID, then each q.Groups[i].GroupID, duplicates kept
	prints []principalPrint
	filter [16]uint64 // a 1024-bit set of prints[i].a
}

func (qp *queryPrincipals) mayHold(a uint64) bool {
	h := a >> 54 // the top 10 bits; FNV's low bits mix least
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

// holds reports whether principalID is one of the query's principals, comparing the ids
// themselves.
func (qp *queryPrincipals) holds(principalID string) bool {
	for _, id := range qp.ids {
		if equalFoldASCII(id, principalID) {
			return true
		}
	}
	return false
}

// decideGroups is Index.Decide for a query with groups: it considers the same assignments as
// Decide over the list of all of them, each once even when a group is named twice.
func (x *Index) decideGroups(q *Query, d *decider) {
	qp := queryPrincipals{
		ids:    make([]string, 0, 1+len(q.Groups)),
		prints: make([]principalPrint, 0, 1+len(q.Groups)),
	}
	qp.ids = append(qp.ids, q.PrincipalID)
	for i := range q.Groups {
		qp.ids = append(qp.ids, q.Groups[i].GroupID)
	}
	for _, id := range qp.ids {
		p := printOf(id)
		if slices.Contains(qp.prints, p) {
			continue // counted once, as Decide over a list does
		}
		qp.prints = append(qp.prints, p)
		h := p.a >> 54
		qp.filter[h>>6] |= 1 << (h & 63)
	}
	var anc [maxHashedDepth + 1]uint32
	depth, _ := scopeHashes(q.Scope, anc[:])

	var buf [8]Assignment
	covering := buf[:0]
	s := &x.groups
	s.mu.RLock()
	for _, p := range qp.prints {
		d.total += s.counts[p]
	}
	for dd := 0; dd <= depth+1; dd++ {
		k := scopeKey(unhashedDepth, 0)
		if dd <= depth {
			k = scopeKey(uint8(dd), anc[dd])
		}
		b := s.buckets[k]
		if b == nil {
			continue
		}
		for i, a := range b.prints {
			if !qp.mayHold(a) {
				continue
			}
			r := &b.refs[i]
			if qp.holds(r.principalID) && ScopeCovers(r.entry.scope.Value(), q.Scope) {
				covering = append(covering, r.entry.assignment(r.principalID))
			}
		}
	}
	s.mu.RUnlock()
	// Considered after the lock is released: roles may itself use the index.
	slices.SortFunc(covering, compareForDisplay) // the order does not change the decision; this keeps it deterministic
	for i := range covering {
		d.consider(&covering[i])
	}
}
