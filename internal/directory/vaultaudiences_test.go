package directory

import (
	"context"
	"errors"
	"path/filepath"
	"testing"

	"github.com/mint-id/mint/internal/store"
	"github.com/mint-id/mint/internal/store/sqlite"
)

// The audiences of mint's vault DNS suffixes name the Key Vault application, so a token for the
// resource a vault's challenge names (https://vault.localhost:8443) is a Key Vault token.
func TestVaultAudiencesNameKeyVault(t *testing.T) {
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "mint.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	d := New(st, Options{VaultAudiences: []string{"https://vault.localhost:8443", "https://vault.example.org/"}})
	in, err := d.Bootstrap(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ audience, want string }{
		{"https://vault.localhost:8443", KeyVaultAppID},
		{"https://VAULT.localhost:8443/", KeyVaultAppID},
		{"https://vault.example.org", KeyVaultAppID},
		{"https://vault.azure.net", KeyVaultAppID},
		{"https://vault.localhost:9999", ""},
	} {
		sp, err := d.Resource(context.Background(), in.Tenant.ID, tc.audience)
		switch {
		case tc.want == "" && !errors.Is(err, store.ErrNotFound):
			t.Errorf("%s: got %s, %v; want not found", tc.audience, sp.AppID, err)
		case tc.want != "" && (err != nil || sp.AppID != tc.want):
			t.Errorf("%s: got %s, %v; want %s", tc.audience, sp.AppID, err, tc.want)
		}
	}
}
