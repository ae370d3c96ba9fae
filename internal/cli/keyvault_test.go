package cli

import (
	"strings"
	"testing"
)

func TestVaultTargetURL(t *testing.T) {
	t.Setenv("MINT_VAULT_DNS_SUFFIX", "")
	for _, tc := range []struct {
		target   vaultTarget
		endpoint string
		want     string
		bad      bool
	}{
		{vaultTarget{name: "KV1"}, "https://127.0.0.1:8443", "https://kv1.vault.localhost:8443", false},
		{vaultTarget{name: "kv1", suffix: "vault.example.org."}, "https://mint.example.org", "https://kv1.vault.example.org", false},
		{vaultTarget{name: "kv1"}, "https://mint.example.org:443", "https://kv1.vault.localhost", false},
		{vaultTarget{uri: "https://kv1.vault.localhost:9000/"}, "https://127.0.0.1:8443", "https://kv1.vault.localhost:9000", false},
		{vaultTarget{uri: "http://kv1.vault.localhost"}, "", "", true},
		{vaultTarget{}, "", "", true},
	} {
		got, err := tc.target.url(tc.endpoint)
		if (err != nil) != tc.bad || got != tc.want {
			t.Errorf("%+v: %q, %v; want %q", tc.target, got, err, tc.want)
		}
	}
	t.Setenv("MINT_VAULT_DNS_SUFFIX", "vault.azure.net")
	if got, _ := (&vaultTarget{name: "kv1"}).url("https://127.0.0.1:443"); got != "https://kv1.vault.azure.net" {
		t.Errorf("MINT_VAULT_DNS_SUFFIX: %q", got)
	}
}

// az's --id: the secret id mint prints, or Azure's name for the vault (from a program's output),
// both reach this mint's vault; anything else is refused with the form wanted.
func TestSecretID(t *testing.T) {
	for _, tc := range []struct {
		id, uri, name, secret, version string
		bad                            bool
	}{
		{id: "https://kv1.vault.localhost:37165/secrets/db-password/e268", uri: "https://kv1.vault.localhost:37165", secret: "db-password", version: "e268"},
		{id: "https://KV1.vault.azure.net/secrets/db-password", name: "kv1", secret: "db-password"},
		{id: "https://kv1.vault.azure.net/secrets/db-password/", name: "kv1", secret: "db-password"},
		{id: "https://kv1.vault.azure.net/deletedsecrets/db-password", name: "kv1", secret: "db-password"},
		{id: "https://kv1.vault.azure.net/keys/k1", bad: true},
		{id: "http://kv1.vault.localhost/secrets/x", bad: true},
		{id: "https://kv1.vault.localhost/secrets", bad: true},
		{id: "https://kv1.vault.localhost/secrets/a/b/c", bad: true},
		{id: "kv1/secrets/x", bad: true},
	} {
		s := secretTarget{id: tc.id}
		version, err := s.resolve(true)
		if tc.bad {
			if err == nil || !strings.Contains(err.Error(), "--id must be a secret's id") {
				t.Errorf("%s: %v, want a refusal", tc.id, err)
			}
			continue
		}
		if err != nil || s.vault.uri != tc.uri || s.vault.name != tc.name || s.name != tc.secret || version != tc.version {
			t.Errorf("%s: %+v version %q, %v", tc.id, s, version, err)
		}
	}
	if _, err := (&secretTarget{id: "https://kv1.vault.azure.net/secrets/x", name: "y"}).resolve(true); err == nil {
		t.Error("--id with --name accepted")
	}
	if _, err := (&secretTarget{vault: vaultTarget{name: "kv1"}}).resolve(true); err == nil || !strings.Contains(err.Error(), "--name/-n (or --id)") {
		t.Errorf("no name: %v", err)
	}
}

func FuzzSecretID(f *testing.F) {
	for _, s := range []string{"https://kv1.vault.azure.net/secrets/a/b", "https://x/deletedsecrets/y", "https://[::1]:1/secrets/a", "%zz"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, id string) {
		s := secretTarget{id: id}
		if _, err := s.resolve(true); err == nil && (s.name == "" || s.vault.uri == "" && s.vault.name == "") {
			t.Errorf("%q accepted without a vault or a name: %+v", id, s)
		}
	})
}
