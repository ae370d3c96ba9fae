package rbac

import "strings"

// Scopes are ARM ids: "/" (root), /subscriptions/{s}, /subscriptions/{s}/resourceGroups/{rg},
// .../providers/{ns}/{type}/{name}, and child resources .../{childType}/{childName}. A scope
// covers itself and every id below it.

// NormalizeScope returns the form scopes are compared in: ASCII lower case, one leading "/", no
// empty segments, no trailing "/". The root is "/", and "" is the root.
func NormalizeScope(s string) string {
	return asciiLower(cleanScope(s))
}

// cleanScope is NormalizeScope without the lower-casing: it keeps the caller's spelling for
// display but makes the structure canonical. It allocates only when s is not already clean.
func cleanScope(s string) string {
	if isCleanScope(s) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 1)
	for i := 0; ; {
		start, end := nextSegment(s, i)
		if start == end {
			break
		}
		b.WriteByte('/')
		b.WriteString(s[start:end])
		i = end
	}
	if b.Len() == 0 {
		return "/"
	}
	return b.String()
}

func isCleanScope(s string) bool {
	if s == "/" {
		return true
	}
	if len(s) == 0 || s[0] != '/' || s[len(s)-1] == '/' {
		return false
	}
	return !strings.Contains(s, "//")
}

// ScopeCovers reports whether an assignment at assignmentScope applies at target: the scopes are
// equal or assignmentScope is an ancestor of target on a segment boundary. Comparison folds ASCII
// case and ignores empty segments, so "/" covers everything and "/subscriptions/a" covers
// "/SUBSCRIPTIONS/A/resourceGroups/rg/" but not "/subscriptions/ab". It does not allocate.
func ScopeCovers(assignmentScope, target string) bool {
	a, t := assignmentScope, target
	i, j := 0, 0
	for {
		for i < len(a) && a[i] == '/' {
			i++
		}
		for j < len(t) && t[j] == '/' {
			j++
		}
		if i == len(a) {
			return true
		}
		if j == len(t) {
			return false
		}
		// Compare one segment; the target's must end where the assignment scope's does.
		for ; i < len(a) && a[i] != '/'; i, j = i+1, j+1 {
			if j == len(t) || lowerASCII[a[i]] != lowerASCII[t[j]] {
				return false
			}
		}
		if j < len(t) && t[j] != '/' {
			return false
		}
	}
}

// nextSegment returns the bounds of the first non-empty segment of s at or after i; start == end
// when there is none.
func nextSegment(s string, i int) (start, end int) {
	for i < len(s) && s[i] == '/' {
		i++
	}
	start = i
	for i < len(s) && s[i] != '/' {
		i++
	}
	return start, i
}

// scopeDepth counts the non-empty segments of s: 0 for the root.
func scopeDepth(s string) int {
	n := 0
	for i := 0; ; {
		start, end := nextSegment(s, i)
		if start == end {
			return n
		}
		n++
		i = end
	}
}

// sharedDepth counts the leading segments a and b have in common.
func sharedDepth(a, b string) int {
	n, i, j := 0, 0, 0
	for {
		as, ae := nextSegment(a, i)
		bs, be := nextSegment(b, j)
		if as == ae || bs == be || !equalFoldASCII(a[as:ae], b[bs:be]) {
			return n
		}
		n++
		i, j = ae, be
	}
}

// maxHashedDepth bounds the scope depth scopeHashes follows; ARM ids are far shallower.
const maxHashedDepth = 31

// scopeHashes sets h[d] to a hash of the scope's first d segments, as NormalizeScope would spell
// them, for d from 0 (the root) to the scope's depth, and returns the depth. ok is false when the
// scope is deeper than len(h)-1. Equal normalised prefixes hash equally, so "is scope A an
// ancestor of target T" can be ruled out by comparing A's hash with T's at A's depth.
func scopeHashes(s string, h []uint32) (depth int, ok bool) {
	const prime = 16777619
	x := uint32(2166136261)
	h[0] = x
	for i := 0; ; {
		start, end := nextSegment(s, i)
		if start == end {
			return depth, true
		}
		if depth+1 >= len(h) {
			return depth, false
		}
		x = (x ^ '/') * prime
		for k := start; k < end; k++ {
			x = (x ^ uint32(lowerASCII[s[k]])) * prime
		}
		depth++
		h[depth] = x
		i = end
	}
}
