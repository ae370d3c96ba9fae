package sqlite

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mint-id/mint/internal/store"
)

func TestScratchReadRate(t *testing.T) {
	if os.Getenv("SCRATCH") == "" {
		t.Skip()
	}
	ctx := context.Background()
	s, _ := Open(ctx, filepath.Join(t.TempDir(), "m.db"))
	s.PutResourceGroup(ctx, store.ResourceGroup{SubscriptionID: "s", Name: "g", CreatedAt: time.Now()})
	id := "/subscriptions/s/resourceGroups/g/providers/Microsoft.KeyVault/vaults/kv"
	s.PutResource(ctx, store.Resource{ID: id, SubscriptionID: "s", ResourceGroup: "g", Type: "t", Name: "kv"}, nil, nil)
	s.CreateVault(ctx, store.Vault{Name: "kv", ResourceID: id, DataKey: []byte{1}})
	s.PutSecretVersion(ctx, store.SecretVersion{VaultName: "kv", Name: "x", Version: "0123456789abcdef0123456789abcdef", Value: []byte("v"), Created: time.Now(), Updated: time.Now()})
	for _, n := range []int{1, 2, 8} {
		var count atomic.Int64
		var wg sync.WaitGroup
		stop := time.Now().Add(2 * time.Second)
		for range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for time.Now().Before(stop) {
					if _, err := s.GetSecretVersion(ctx, "kv", "x", ""); err != nil {
						t.Error(err)
						return
					}
					count.Add(1)
				}
			}()
		}
		wg.Wait()
		t.Logf("%d goroutines: %.0f reads/s", n, float64(count.Load())/2)
	}
}
