package rbac

import (
	"cmp"
	"slices"
	"strings"
	"sync"
	"unique"
)

// Index holds role assignments in memory for fast evaluation: Decide looks only at the asking
// principal's assignments, and for a principal with many of them (a node agent brokering for
// thousands of resources) only at those whose scope is an ancestor of the target.
//
// It is compact: scopes, role definition ids and principal types are interned (unique.Handle,
// so an interned string lives as long as some assignment uses it), and an assignment costs about
// 385 bytes of heap, about 140 of them for the by-scope view that decisions through groups read
// (TestIndexMemory, BenchmarkDecide1M). It is safe for concurrent use; reads on different
// principals do not contend.
// The zero Index is empty and ready to use. An Index must not be copied after first use.
//
// Index is a cache the caller keeps in step with the store; it checks nothing about the
// assignments it is given.
type Index struct {
	writeMu sync.Mutex        // serialises Add and Remove; guards byID
	byID    map[string]string // lower-cased assignment id → principal key
	shards  [indexShards]indexShard
	groups  scopeIndex // the same assignments by scope, for queries with groups
}

const (
	indexShards = 64
	// linearMax is the bucket size up to which Decide scans a principal's assignments instead of
	// searching for the target's ancestors.
	linearMax = 24
)

type indexShard struct {
	mu         sync.RWMutex
	principals map[string]principalBucket // lower-cased principal id → its assignments
	_          [32]byte                   // 64 bytes a shard, so neighbouring locks rarely share a cache line
}

type principalBucket struct {
	key         string // lower-cased principal id, shared with Index.byID
	principalID string // as first added
	// entries are ordered by scope depth, scope hash, then id, so that the assignments at one
	// scope are contiguous and found by binary search on integers.
	entries []indexEntry
}

type indexEntry struct {
	id    string
	scope unique.Handle[string] // cleaned (cleanScope), original case
	// scopeHash and scopeDepth (see scopeHashes) let Decide find or skip entries without
	// following the scope pointer; scopeDepth is unhashedDepth for scopes too deep to hash, which
	// are always compared in full.
	scopeHash        uint32
	scopeDepth       uint8
	roleDefinitionID unique.Handle[string]
	principalType    unique.Handle[string]
	condition        *assignmentCondition // nil without a condition
}

type assignmentCondition struct{ condition, version string }

const unhashedDepth = 255

// mayCover reports whether e's scope may cover a target whose ancestors' hashes are anc[0..depth];
// false is certain, true must be confirmed with ScopeCovers.
func (e *indexEntry) mayCover(anc []uint32, depth int) bool {
	d := int(e.scopeDepth)
	return d == unhashedDepth || (d <= depth && anc[d] == e.scopeHash)
}

func (e *indexEntry) assignment(principalID string) Assignment {
	a := Assignment{
		ID:               e.id,
		Scope:            e.scope.Value(),
		PrincipalID:      principalID,
		RoleDefinitionID: e.roleDefinitionID.Value(),
		PrincipalType:    e.principalType.Value(),
	}
	if e.condition != nil {
		a.Condition, a.ConditionVersion = e.condition.condition, e.condition.version
	}
	return a
}

// compareEntries is the order of principalBucket.entries.
func compareEntries(a, b *indexEntry) int {
	if c := cmp.Compare(a.scopeDepth, b.scopeDepth); c != 0 {
		return c
	}
	if c := cmp.Compare(a.scopeHash, b.scopeHash); c != 0 {
		return c
	}
	return compareFoldASCII(a.id, b.id)
}

// compareForDisplay orders assignments by scope, then id, folding ASCII case.
func compareForDisplay(a, b Assignment) int {
	if c := compareFoldASCII(a.Scope, b.Scope); c != 0 {
		return c
	}
	return compareFoldASCII(a.ID, b.ID)
}

func (x *Index) shard(principalKey string) *indexShard {
	// FNV-1a; the key is already lower case.
	h := uint32(2166136261)
	for i := 0; i < len(principalKey); i++ {
		h ^= uint32(principalKey[i])
		h *= 16777619
	}
	return &x.shards[h%indexShards]
}

// Add indexes a, replacing any assignment with the same id (compared case-insensitively).
func (x *Index) Add(a Assignment) {
	idKey := asciiLower(a.ID)
	principalKey := asciiLower(a.PrincipalID)
	e := indexEntry{
		id:               strings.Clone(a.ID),
		scope:            unique.Make(cleanScope(a.Scope)),
		roleDefinitionID: unique.Make(a.RoleDefinitionID),
		principalType:    unique.Make(a.PrincipalType),
		scopeDepth:       unhashedDepth,
	}
	var h [maxHashedDepth + 1]uint32
	if depth, ok := scopeHashes(a.Scope, h[:]); ok {
		e.scopeHash, e.scopeDepth = h[depth], uint8(depth)
	}
	if idKey == a.ID {
		idKey = e.id // share the bytes
	} else {
		idKey = strings.Clone(idKey)
	}
	if a.Condition != "" || a.ConditionVersion != "" {
		e.condition = &assignmentCondition{condition: a.Condition, version: a.ConditionVersion}
	}

	x.writeMu.Lock()
	defer x.writeMu.Unlock()
	old, replacing := x.byID[idKey]
	if replacing && old != principalKey {
		x.removeLocked(idKey, old)
	}
	if x.byID == nil {
		x.byID = make(map[string]string)
	}
	sh := x.shard(principalKey)
	sh.mu.Lock()
	if sh.principals == nil {
		sh.principals = make(map[string]principalBucket)
	}
	b, ok := sh.principals[principalKey]
	if !ok {
		b = principalBucket{key: strings.Clone(principalKey)}
		b.principalID = b.key
		if a.PrincipalID != b.key {
			b.principalID = strings.Clone(a.PrincipalID)
		}
	}
	if replacing && old == principalKey {
		// Same principal: swap under one lock, so readers never see the assignment missing.
		var gone *indexEntry
		if b.entries, gone = removeEntry(b.entries, idKey); gone != nil {
			x.groups.remove(b.principalID, gone, idKey)
		}
	}
	i, _ := slices.BinarySearchFunc(b.entries, &e, func(have indexEntry, want *indexEntry) int {
		return compareEntries(&have, want)
	})
	b.entries = slices.Insert(b.entries, i, e)
	sh.principals[b.key] = b
	sh.mu.Unlock()
	x.groups.add(b.principalID, &e)
	x.byID[idKey] = b.key
}

// Remove drops the assignment with this id (compared case-insensitively) and reports whether it
// was there.
func (x *Index) Remove(id string) bool {
	idKey := asciiLower(id)
	x.writeMu.Lock()
	defer x.writeMu.Unlock()
	principalKey, ok := x.byID[idKey]
	if !ok {
		return false
	}
	x.removeLocked(idKey, principalKey)
	return true
}

func (x *Index) removeLocked(idKey, principalKey string) {
	delete(x.byID, idKey)
	sh := x.shard(principalKey)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	b, ok := sh.principals[principalKey]
	if !ok {
		return
	}
	var gone *indexEntry
	if b.entries, gone = removeEntry(b.entries, idKey); gone != nil {
		x.groups.remove(b.principalID, gone, idKey)
	}
	if len(b.entries) == 0 {
		delete(sh.principals, principalKey)
	} else {
		sh.principals[principalKey] = b
	}
}

// removeEntry deletes the entry with this id and returns a copy of it (nil when absent).
func removeEntry(entries []indexEntry, idKey string) ([]indexEntry, *indexEntry) {
	for i := range entries {
		if equalFoldASCII(entries[i].id, idKey) {
			gone := entries[i]
			return slices.Delete(entries, i, i+1), &gone
		}
	}
	return entries, nil
}

// Len returns the number of assignments in the index.
func (x *Index) Len() int {
	x.writeMu.Lock()
	defer x.writeMu.Unlock()
	return len(x.byID)
}

// ForPrincipal returns the principal's assignments (principal id compared case-insensitively),
// ordered by scope then id (ASCII case folded). The slice is the caller's; the strings in it are
// shared with the index.
func (x *Index) ForPrincipal(principalID string) []Assignment {
	key := asciiLower(principalID)
	sh := x.shard(key)
	sh.mu.RLock()
	defer sh.mu.RUnlock()
	b, ok := sh.principals[key]
	if !ok {
		return nil
	}
	out := make([]Assignment, len(b.entries))
	for i := range b.entries {
		out[i] = b.entries[i].assignment(b.principalID)
	}
	slices.SortFunc(out, compareForDisplay)
	return out
}

// Decide is Decide over the indexed assignments of q.PrincipalID and q.Groups. roles is called after the
// index's lock is released, so it may itself use the index.
func (x *Index) Decide(q Query, roles RoleLookup) Decision {
	if roles == nil {
		roles = builtinLookupFn
	}
	d := newDecider(q, roles)
	if d.invalid != "" {
		return d.decision()
	}
	if len(q.Groups) > 0 {
		x.decideGroups(&q, &d)
		return d.decision()
	}
	var buf [8]Assignment
	covering := x.covering(q.PrincipalID, &q, buf[:0], &d.total)
	for i := range covering {
		d.consider(&covering[i])
	}
	return d.decision()
}

// covering appends to dst principalID's assignments whose scope covers q.Scope, and adds to
// *total the number of principalID's assignments.
func (x *Index) covering(principalID string, q *Query, dst []Assignment, total *int) []Assignment {
	key := asciiLower(principalID)
	sh := x.shard(key)
	sh.mu.RLock()
	defer sh.mu.RUnlock()
	b, ok := sh.principals[key]
	if !ok {
		return dst
	}
	*total += len(b.entries)
	// anc[d] is the hash of the target's first d segments; an entry can only cover the target if
	// its own hash is anc[its depth]. A target deeper than maxHashedDepth hashes only that far,
	// which still rules out every hashed entry correctly.
	var anc [maxHashedDepth + 1]uint32
	depth, _ := scopeHashes(q.Scope, anc[:])
	if len(b.entries) <= linearMax {
		for i := range b.entries {
			e := &b.entries[i]
			if e.mayCover(anc[:], depth) && ScopeCovers(e.scope.Value(), q.Scope) {
				dst = append(dst, e.assignment(b.principalID))
			}
		}
		return dst
	}
	// Many assignments: look up each of the target's ancestors by (depth, hash), then the
	// unhashed entries, which sort last.
	for d := 0; d <= depth; d++ {
		dst = b.appendMatching(dst, uint8(d), anc[d], q.Scope)
	}
	return b.appendMatching(dst, unhashedDepth, 0, q.Scope)
}

// appendMatching appends the bucket's assignments at (depth, hash) that cover target; for
// unhashedDepth, all unhashed ones that cover target.
func (b principalBucket) appendMatching(dst []Assignment, depth uint8, hash uint32, target string) []Assignment {
	i, _ := slices.BinarySearchFunc(b.entries, depth, func(e indexEntry, d uint8) int {
		if c := cmp.Compare(e.scopeDepth, d); c != 0 || d == unhashedDepth {
			return c
		}
		return cmp.Compare(e.scopeHash, hash)
	})
	for ; i < len(b.entries); i++ {
		e := &b.entries[i]
		if e.scopeDepth != depth || (depth != unhashedDepth && e.scopeHash != hash) {
			break
		}
		if ScopeCovers(e.scope.Value(), target) {
			dst = append(dst, e.assignment(b.principalID))
		}
	}
	return dst
}

// Explain is Explain over the indexed assignments of q.PrincipalID and q.Groups.
func (x *Index) Explain(q Query, roles RoleLookup, builtins []RoleDefinition) Explanation {
	as := x.ForPrincipal(q.PrincipalID)
	for _, g := range q.Groups {
		as = append(as, x.ForPrincipal(g.GroupID)...)
	}
	return Explain(q, roles, as, builtins)
}
