package rbac

import (
	"strings"
	"testing"
)

func TestNormalizeScope(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", "/"},
		{"/", "/"},
		{"//", "/"},
		{"/Subscriptions/ABC/", "/subscriptions/abc"},
		{"subscriptions/abc", "/subscriptions/abc"},
		{"/subscriptions//abc///resourceGroups/RG", "/subscriptions/abc/resourcegroups/rg"},
		{"/subscriptions/abc/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/KV1",
			"/subscriptions/abc/resourcegroups/rg/providers/microsoft.keyvault/vaults/kv1"},
	}
	for _, tt := range tests {
		if got := NormalizeScope(tt.in); got != tt.want {
			t.Errorf("NormalizeScope(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestScopeCovers(t *testing.T) {
	const (
		sub   = "/subscriptions/00000000-0000-0000-0000-0000000000aa"
		rg    = sub + "/resourceGroups/app"
		vault = rg + "/providers/Microsoft.KeyVault/vaults/kv1"
	)
	tests := []struct {
		assignment, target string
		want               bool
	}{
		{"/", "/", true},
		{"/", sub, true},
		{"", vault, true},
		{"/", vault + "/secrets/s", true},
		{sub, sub, true},
		{sub, rg, true},
		{sub, vault, true},
		{rg, vault + "/secrets/s", true},
		{vault, vault + "/secrets/s", true},
		{vault + "/secrets/s", vault + "/secrets/s", true},
		{vault + "/secrets/s", vault, false},
		{rg, sub, false},
		{sub, "/", false},
		{"/subscriptions/a", "/subscriptions/ab", false},
		{"/subscriptions/ab", "/subscriptions/a", false},
		{vault, rg + "/providers/Microsoft.KeyVault/vaults/kv10", false},
		{vault, rg + "/providers/Microsoft.KeyVault/vaults/kv1x/secrets/s", false},
		{strings.ToUpper(sub), strings.ToLower(vault), true},
		{rg + "/", rg, true},
		{rg, rg + "/", true},
		{strings.Replace(rg, "resourceGroups", "resourcegroups", 1), vault, true},
		{sub + "//resourceGroups/app", vault, true},
		{"/subscriptions/b", vault, false},
		{sub + "/resourceGroups/ap", vault, false},
	}
	for _, tt := range tests {
		if got := ScopeCovers(tt.assignment, tt.target); got != tt.want {
			t.Errorf("ScopeCovers(%q, %q) = %v, want %v", tt.assignment, tt.target, got, tt.want)
		}
	}
}

// refScopeCovers: split both into non-empty lower-cased segments; the assignment's must be a
// prefix of the target's.
func refScopeCovers(assignment, target string) bool {
	seg := func(s string) []string {
		var out []string
		for _, p := range strings.Split(s, "/") {
			if p != "" {
				out = append(out, asciiLower(p))
			}
		}
		return out
	}
	a, t := seg(assignment), seg(target)
	if len(a) > len(t) {
		return false
	}
	for i := range a {
		if a[i] != t[i] {
			return false
		}
	}
	return true
}

func FuzzScopeCovers(f *testing.F) {
	f.Add("/", "/subscriptions/a")
	f.Add("/subscriptions/a", "/subscriptions/ab")
	f.Add("/subscriptions/A/", "/subscriptions/a/resourceGroups/rg")
	f.Add("//x//", "x/y")
	f.Fuzz(func(t *testing.T, assignment, target string) {
		got := ScopeCovers(assignment, target)
		if want := refScopeCovers(assignment, target); got != want {
			t.Fatalf("ScopeCovers(%q, %q) = %v, reference says %v", assignment, target, got, want)
		}
		na, nt := NormalizeScope(assignment), NormalizeScope(target)
		if ScopeCovers(na, nt) != got {
			t.Fatalf("normalising changed the answer for %q, %q", assignment, target)
		}
		if na != NormalizeScope(na) || cleanScope(cleanScope(target)) != cleanScope(target) {
			t.Fatalf("normalising is not idempotent: %q", na)
		}
		if !ScopeCovers(assignment, assignment) || !ScopeCovers("/", target) {
			t.Fatal("a scope must cover itself and the root everything")
		}
		if got && ScopeCovers(target, assignment) && na != nt {
			t.Fatalf("mutual cover of different scopes %q %q", na, nt)
		}
		if got != strings.HasPrefix(nt+"/", strings.TrimSuffix(na, "/")+"/") {
			t.Fatalf("disagrees with the prefix rule on normalised scopes: %q %q", na, nt)
		}
	})
}
