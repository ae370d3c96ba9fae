package rbac

import (
	"regexp"
	"strings"
	"testing"
)

func TestActionMatches(t *testing.T) {
	tests := []struct {
		pattern, action string
		want            bool
	}{
		{"*", "Microsoft.Compute/virtualMachines/write", true},
		{"*", "", true},
		{"", "", true},
		{"", "a", false},
		{"*/read", "Microsoft.Compute/virtualMachines/read", true},
		{"*/read", "Microsoft.KeyVault/vaults/secrets/read", true},
		{"*/read", "Microsoft.Compute/virtualMachines/write", false},
		{"*/read", "Microsoft.Compute/virtualMachines/readSomething", false},
		{"*/read", "read", false},
		{"*/READ", "microsoft.compute/virtualmachines/Read", true},
		{"Microsoft.Compute/*", "Microsoft.Compute/virtualMachines/write", true},
		{"Microsoft.Compute/*", "Microsoft.ComputeX/virtualMachines/write", false},
		{"Microsoft.Compute/*", "Microsoft.Compute", false},
		{"Microsoft.Network/*/read", "Microsoft.Network/virtualNetworks/subnets/read", true},
		{"Microsoft.KeyVault/vaults/secrets/*", "Microsoft.KeyVault/vaults/secrets/getSecret/action", true},
		{"Microsoft.KeyVault/vaults/secrets/*", "Microsoft.KeyVault/vaults/keys/read", false},
		{"Microsoft.KeyVault/vaults/*", "Microsoft.KeyVault/vaults/secrets/setSecret/action", true},
		// https://learn.microsoft.com/azure/key-vault/general/rbac-guide: vaults/*/read does not cover readMetadata/action.
		{"Microsoft.KeyVault/vaults/*/read", "Microsoft.KeyVault/vaults/secrets/readMetadata/action", false},
		{"Microsoft.KeyVault/vaults/*/read", "Microsoft.KeyVault/vaults/keys/read", true},
		{"Microsoft.Authorization/*/Write", "Microsoft.Authorization/roleAssignments/write", true},
		{"Microsoft.Authorization/*/Write", "microsoft.authorization/ROLEASSIGNMENTS/WRITE", true},
		{"Microsoft.Authorization/*/Write", "Microsoft.Authorization/roleAssignments/read", false},
		{"microsoft.web/sites/restart/Action", "Microsoft.Web/sites/restart/action", true},
		{"Microsoft.Web/sites/restart/action", "Microsoft.Web/sites/restart/actionX", false},
		{"Microsoft.Web/sites/restart/action", "XMicrosoft.Web/sites/restart/action", false},
		// An interior "/*/" may match no segment.
		{"Microsoft.ManagedIdentity/userAssignedIdentities/*/assign/action", "Microsoft.ManagedIdentity/userAssignedIdentities/assign/action", true},
		{"Microsoft.ManagedIdentity/userAssignedIdentities/*/read", "Microsoft.ManagedIdentity/userAssignedIdentities/read", true},
		{"Microsoft.ManagedIdentity/userAssignedIdentities/*/read", "Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials/read", true},
		{"Microsoft.ManagedIdentity/userAssignedIdentities/*/assign/action", "Microsoft.ManagedIdentity/userAssignedIdentities/x/y/assign/action", true},
		{"Microsoft.ManagedIdentity/userAssignedIdentities/*/assign/action", "Microsoft.ManagedIdentity/userAssignedIdentitiesassign/action", false},
		{"Microsoft.ManagedIdentity/userAssignedIdentities/*/assign/action", "Microsoft.ManagedIdentity/userAssignedIdentities/reassign/action", false},
		{"Microsoft.KeyVault/vaults/*/read", "Microsoft.KeyVault/vaults/read", true},
		{"a/*/b/*/c", "a/b/c", true},
		{"a/*/b/*/c", "a/x/b/c", true},
		{"a/*/b/*/c", "a/b/x/y/c", true},
		{"a/*/b/*/c", "a/bc", false},
		{"a/*/", "a/", true},
		{"a/*/", "a/x/", true},
		{"a/*/", "a/x", false},
		// Only whole-segment stars collapse.
		{"a/x*/b", "a/b", false},
		{"a/*x/b", "a/b", false},
		{"*/a", "/a", true},
		// A '*' in the action is literal: only a pattern '*' matches it.
		{"Microsoft.ManagedIdentity/userAssignedIdentities/*/assign/action", "Microsoft.ManagedIdentity/userAssignedIdentities/*/assign/action", true},
		{"Microsoft.ManagedIdentity/*", "Microsoft.ManagedIdentity/userAssignedIdentities/*/assign/action", true},
		{"*", "Microsoft.ManagedIdentity/userAssignedIdentities/*/assign/action", true},
		{"Microsoft.ManagedIdentity/userAssignedIdentities/assign/action", "Microsoft.ManagedIdentity/userAssignedIdentities/*/assign/action", false},
		{"Microsoft.ManagedIdentity/userAssignedIdentities/x/assign/action", "Microsoft.ManagedIdentity/userAssignedIdentities/*/assign/action", false},
		{"a*c", "abbbc", true},
		{"a*c", "abbbd", false},
		{"a*b*c", "aXbYbZc", true},
		{"**", "anything", true},
		{"a**", "a", true},
		{"*a*a*a*a*a*b", strings.Repeat("a", 60), false},
	}
	for _, tt := range tests {
		if got := ActionMatches(tt.pattern, tt.action); got != tt.want {
			t.Errorf("ActionMatches(%q, %q) = %v, want %v", tt.pattern, tt.action, got, tt.want)
		}
		if got := refActionMatches(tt.pattern, tt.action); got != tt.want {
			t.Errorf("reference(%q, %q) = %v, want %v", tt.pattern, tt.action, got, tt.want)
		}
	}
}

func TestActionMatchesDoesNotAllocate(t *testing.T) {
	n := testing.AllocsPerRun(100, func() {
		ActionMatches("Microsoft.KeyVault/vaults/*/read", "MICROSOFT.KEYVAULT/vaults/secrets/read")
		ActionMatches("Microsoft.Authorization/*/Write", "Microsoft.Authorization/roleAssignments/write")
		ScopeCovers("/subscriptions/A/resourceGroups/rg", "/subscriptions/a/resourcegroups/RG/providers/x/y/z/")
	})
	if n != 0 {
		t.Fatalf("%v allocations per run", n)
	}
}

// refActionMatches is the specification of ActionMatches as a dynamic program: m[i][j] says
// whether pattern[i:] matches action[j:].
func refActionMatches(pattern, action string) bool {
	lower := func(c byte) byte {
		if c >= 'A' && c <= 'Z' {
			return c + 32
		}
		return c
	}
	m := make([][]bool, len(pattern)+1)
	for i := range m {
		m[i] = make([]bool, len(action)+1)
	}
	m[len(pattern)][len(action)] = true
	for i := len(pattern) - 1; i >= 0; i-- {
		segment := pattern[i] == '*' && i > 0 && pattern[i-1] == '/' && i+1 < len(pattern) && pattern[i+1] == '/'
		for j := len(action); j >= 0; j-- {
			switch {
			case segment:
				// "*/" matches a run that is empty or ends in '/'.
				for k := j; k <= len(action) && !m[i][j]; k++ {
					if (k == j || action[k-1] == '/') && m[i+2][k] {
						m[i][j] = true
					}
				}
			case pattern[i] == '*':
				for k := j; k <= len(action) && !m[i][j]; k++ {
					m[i][j] = m[i+1][k]
				}
			default:
				m[i][j] = j < len(action) && lower(pattern[i]) == lower(action[j]) && m[i+1][j+1]
			}
		}
	}
	return m[0][0]
}

// regexpActionMatches is a second, independent reading of the rules, for ASCII input.
func regexpActionMatches(pattern, action string) bool {
	var b strings.Builder
	b.WriteString(`(?s)^`)
	for i := 0; i < len(pattern); i++ {
		switch {
		case pattern[i] == '*' && isSegmentStar(pattern, i):
			b.WriteString(`(?:.*/)?`)
			i++ // the '/' after the star is part of the optional group
		case pattern[i] == '*':
			b.WriteString(`.*`)
		default:
			b.WriteString(regexp.QuoteMeta(strings.ToLower(pattern[i : i+1])))
		}
	}
	b.WriteString(`$`)
	return regexp.MustCompile(b.String()).MatchString(strings.ToLower(action))
}

func isPrintableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

func FuzzActionMatches(f *testing.F) {
	seeds := [][2]string{
		{"*", "Microsoft.Compute/virtualMachines/write"},
		{"*/read", "Microsoft.Compute/virtualMachines/read"},
		{"Microsoft.Authorization/*/Write", "Microsoft.Authorization/roleAssignments/write"},
		{"Microsoft.ManagedIdentity/userAssignedIdentities/*/assign/action", "Microsoft.ManagedIdentity/userAssignedIdentities/assign/action"},
		{"Microsoft.ManagedIdentity/userAssignedIdentities/*/assign/action", "Microsoft.ManagedIdentity/userAssignedIdentities/*/assign/action"},
		{"a/*/b/*/c", "a/b/x/c"},
		{"/*/", "//"},
		{"*/*/*", "a/"},
		{"Ä*", "äx"},
	}
	for _, s := range seeds {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, pattern, action string) {
		if len(pattern) > 200 || len(action) > 200 {
			return
		}
		got := ActionMatches(pattern, action)
		if want := refActionMatches(pattern, action); got != want {
			t.Fatalf("ActionMatches(%q, %q) = %v, reference says %v", pattern, action, got, want)
		}
		if isPrintableASCII(pattern) && isPrintableASCII(action) {
			if want := regexpActionMatches(pattern, action); got != want {
				t.Fatalf("ActionMatches(%q, %q) = %v, regexp says %v", pattern, action, got, want)
			}
		}
		if !strings.Contains(pattern, "*") && got != equalFoldASCII(pattern, action) {
			t.Fatalf("a pattern without '*' must match exactly its own spelling: %q %q", pattern, action)
		}
		if !strings.Contains(action, "*") && !ActionMatches(action, action) {
			t.Fatalf("an action must match itself: %q", action)
		}
		if !ActionMatches("*", action) {
			t.Fatalf("* must match everything: %q", action)
		}
	})
}
