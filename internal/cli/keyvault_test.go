package cli

import "testing"

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
