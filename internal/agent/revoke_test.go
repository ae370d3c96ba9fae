package agent

import (
	"encoding/base64"
	"strings"
	"testing"
)

// A pushed revocation drops the cached tokens it names at once (no refresh needed), and only
// those: the next request for them asks upstream, the others are still served from the cache.
func TestRevokeDropsTheNamedTokens(t *testing.T) {
	up := newFakeUpstream()
	a := startAgent(t, up, func(c *Config) { c.RateLimit.Disabled = true })
	web, _ := a.Register(webID, 0)
	vm, _ := a.Register(vmID, 0)
	fetch := func(secret, query string) int {
		status, _, _ := get(t, nil, "GET", a.Endpoints().IdentityEndpoint+"?api-version=2019-08-01&resource=r"+query, nil, "X-IDENTITY-HEADER", secret)
		return status
	}
	warm := func() {
		for _, q := range []string{"", "&client_id=" + webUA1.clientID} {
			if s := fetch(web.Secret, q); s != 200 {
				t.Fatalf("web %q: %d", q, s)
			}
		}
		if s := fetch(vm.Secret, ""); s != 200 {
			t.Fatalf("vm: %d", s)
		}
	}
	warm()
	calls := up.calls.Load()
	warm()
	if up.calls.Load() != calls {
		t.Fatalf("tokens not cached")
	}

	// By resource (case-insensitive, trailing slash ignored): both of web's tokens.
	if n := a.Revoke(strings.ToUpper(webID)+"/", ""); n != 2 {
		t.Errorf("Revoke(web) dropped %d tokens, want 2", n)
	}
	warm()
	if got := up.calls.Load() - calls; got != 2 {
		t.Errorf("%d upstream calls after revoking web, want 2 (the vm's token still cached)", got)
	}

	// By principal (the token's oid): only the user-assigned identity's token.
	calls = up.calls.Load()
	if n := a.Revoke("", webUA1.objectID); n != 1 {
		t.Errorf("Revoke(principal) dropped %d tokens, want 1", n)
	}
	warm()
	if got := up.calls.Load() - calls; got != 1 {
		t.Errorf("%d upstream calls after revoking a principal, want 1", got)
	}

	calls = up.calls.Load()
	if n := a.RevokeAll(); n != 3 {
		t.Errorf("RevokeAll dropped %d tokens, want 3", n)
	}
	// Refused now: the fresh request is decided upstream.
	up.forbidden.Store(true)
	if s := fetch(vm.Secret, ""); s != 403 {
		t.Errorf("after RevokeAll with the node refused: %d, want 403", s)
	}
	if up.calls.Load() == calls {
		t.Errorf("no upstream call after RevokeAll")
	}
}

func TestTokenOID(t *testing.T) {
	payload := base64.RawURLEncoding.EncodeToString([]byte(`{"oid":"p-1","aud":"x"}`))
	for tok, want := range map[string]string{
		"h." + payload + ".s": "p-1",
		"h.!!!.s":             "",
		"opaque":              "",
		"h." + base64.RawURLEncoding.EncodeToString([]byte(`[1]`)) + ".s": "",
	} {
		if got := tokenOID(tok); got != want {
			t.Errorf("tokenOID(%q) = %q, want %q", tok, got, want)
		}
	}
}

// FuzzTokenOID: whatever the server hands back, reading its oid never panics, and a token whose
// payload is JSON with an oid string yields it.
func FuzzTokenOID(f *testing.F) {
	f.Add("h." + base64.RawURLEncoding.EncodeToString([]byte(`{"oid":"p-1"}`)) + ".s")
	f.Add("a.b.c")
	f.Add("")
	f.Add("..")
	f.Fuzz(func(t *testing.T, tok string) {
		_ = tokenOID(tok)
	})
}
