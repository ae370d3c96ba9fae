package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
)

// The token endpoint keeps the client, the resource and the client's credentials it read for at
// most 0.5 s. A secret replaced or an application deleted through a server is refused by that
// server's very next request, and (PostgreSQL, two replicas) by the other replica within the
// cache's 0.5 s. Each GetToken uses a new credential, so no client-side token cache hides a
// refusal.
func TestReplacedSecretAndDeletedAppAreRefusedAtOnce(t *testing.T) {
	for _, kind := range stores(t) {
		t.Run(kind.name, func(t *testing.T) {
			a, b := startReplicas(t, kind)
			const scope = "https://vault.azure.net/.default"
			try := func(m *mint, clientID, secret string) error {
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				defer cancel()
				_, err := m.secretCredential(t, clientID, secret).GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{scope}})
				return err
			}
			// refusedWithin waits until m refuses with code, for at most d (the other replica's
			// cache lifetime, with room for a loaded machine).
			refusedWithin := func(m *mint, d time.Duration, clientID, secret, code string) {
				t.Helper()
				start := time.Now()
				for {
					err := try(m, clientID, secret)
					if err != nil && strings.Contains(err.Error(), code) {
						t.Logf("refused after %v: %s", time.Since(start).Round(time.Millisecond), code)
						return
					}
					if time.Since(start) > d {
						t.Fatalf("still answered after %v: err = %v, want %s", d, err, code)
					}
					time.Sleep(50 * time.Millisecond)
				}
			}

			var app struct{ AppID string }
			mustJSON(t, a.mustCLI("ad", "app", "create", "--display-name", "cached-lookups"), &app)
			var first, second struct{ Password string }
			mustJSON(t, a.mustCLI("ad", "app", "credential", "reset", "--id", app.AppID), &first)
			for _, m := range []*mint{a, b} { // both servers now hold the client and its secret
				if err := try(m, app.AppID, first.Password); err != nil {
					t.Fatal(err)
				}
			}

			mustJSON(t, a.mustCLI("ad", "app", "credential", "reset", "--id", app.AppID), &second)
			if err := try(a, app.AppID, first.Password); err == nil || !strings.Contains(err.Error(), "AADSTS7000215") {
				t.Fatalf("replaced secret, same server: err = %v, want AADSTS7000215", err)
			}
			refusedWithin(b, 3*time.Second, app.AppID, first.Password, "AADSTS7000215")
			for _, m := range []*mint{a, b} {
				if err := try(m, app.AppID, second.Password); err != nil {
					t.Fatalf("new secret: %v", err)
				}
			}

			a.mustCLI("ad", "app", "delete", "--id", app.AppID)
			if err := try(a, app.AppID, second.Password); err == nil || !strings.Contains(err.Error(), "AADSTS700016") {
				t.Fatalf("deleted app, same server: err = %v, want AADSTS700016", err)
			}
			refusedWithin(b, 3*time.Second, app.AppID, second.Password, "AADSTS700016")
		})
	}
}
