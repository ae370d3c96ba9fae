package rbac

// ActionMatches reports whether an action pattern from a role definition (Actions, NotActions,
// DataActions, NotDataActions) matches action.
//
// The pattern is a glob anchored at both ends, compared case-insensitively (ASCII), in which "*"
// matches any run of characters, "/" included (https://learn.microsoft.com/azure/role-based-access-control/overview#how-azure-rbac-determines-if-a-user-has-access-to-a-resource): "*/read" matches every
// read and "Microsoft.KeyVault/vaults/secrets/*" matches
// "Microsoft.KeyVault/vaults/secrets/getSecret/action". Two refinements:
//
//   - A "*" that is a whole interior path segment ("/*/") may also match no segment at all, so
//     "Microsoft.ManagedIdentity/userAssignedIdentities/*/assign/action" matches
//     "Microsoft.ManagedIdentity/userAssignedIdentities/assign/action". Azure's built-ins rely on
//     this: Managed Identity Operator is the documented fix for LinkedAuthorizationFailed, whose
//     message names the action without the "*/", and its "userAssignedIdentities/*/read" is what
//     lets it read identities.
//   - A "*" in action is a literal character, not a wildcard: only a "*" in the pattern matches it.
//     So checking the literal action ".../userAssignedIdentities/*/assign/action" is granted by
//     Managed Identity Operator's pattern or by a broader one ("*", "Microsoft.ManagedIdentity/*"),
//     never by a pattern that names a narrower, concrete action.
//
// It does not allocate, and takes O(len(pattern)·len(action)) time at worst.
func ActionMatches(pattern, action string) bool {
	p, a := 0, 0
	// The backtrack point: pattern index just after the last star token, the action index where
	// that star's absorbed run ends, and whether the star is a segment star.
	starP, starA, seg := -1, 0, false
	for a < len(action) {
		if p < len(pattern) && pattern[p] == '*' {
			seg = isSegmentStar(pattern, p)
			if seg {
				// "*/" as one token absorbing a run that is empty or ends in '/'.
				p += 2
			} else {
				p++
			}
			starP, starA = p, a
			continue
		}
		if p < len(pattern) && foldByte(pattern[p]) == foldByte(action[a]) {
			p++
			a++
			continue
		}
		if starP < 0 {
			return false
		}
		// Let the last star absorb one more character (for a segment star: up to and including
		// the next '/'). Earlier stars never need revisiting: a later star can absorb whatever an
		// earlier one would have.
		starA++
		if seg {
			for starA <= len(action) && action[starA-1] != '/' {
				starA++
			}
			if starA > len(action) {
				return false
			}
		}
		p, a = starP, starA
	}
	for p < len(pattern) && pattern[p] == '*' {
		if isSegmentStar(pattern, p) {
			p += 2
		} else {
			p++
		}
	}
	return p == len(pattern)
}

// isSegmentStar reports whether the '*' at pattern[i] is a whole interior segment: "/*/".
func isSegmentStar(pattern string, i int) bool {
	return i > 0 && pattern[i-1] == '/' && i+1 < len(pattern) && pattern[i+1] == '/'
}

func foldByte(c byte) byte { return lowerASCII[c] }

// lowerASCII maps each byte to itself with ASCII letters lower-cased; a table lookup is cheaper
// than the comparisons in the hot loops.
var lowerASCII = func() (t [256]byte) {
	for i := range t {
		t[i] = byte(i)
		if 'A' <= i && i <= 'Z' {
			t[i] = byte(i + 'a' - 'A')
		}
	}
	return t
}()

// equalFoldASCII compares a and b folding ASCII letters only.
func equalFoldASCII(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		if foldByte(a[i]) != foldByte(b[i]) {
			return false
		}
	}
	return true
}

// compareFoldASCII orders a and b as their ASCII-lower-cased forms would order.
func compareFoldASCII(a, b string) int {
	n := min(len(a), len(b))
	for i := 0; i < n; i++ {
		x, y := foldByte(a[i]), foldByte(b[i])
		if x != y {
			if x < y {
				return -1
			}
			return 1
		}
	}
	switch {
	case len(a) < len(b):
		return -1
	case len(a) > len(b):
		return 1
	}
	return 0
}

// asciiLower lower-cases ASCII letters, allocating only when s has an upper-case one.
func asciiLower(s string) string {
	for i := 0; i < len(s); i++ {
		if 'A' <= s[i] && s[i] <= 'Z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				b[j] = foldByte(b[j])
			}
			return string(b)
		}
	}
	return s
}
