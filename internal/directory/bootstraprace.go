package directory

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/mint-id/mint/internal/store"
)

// awaitSetting waits (up to about 10 s) for the replica that won a creation race to record key.
func (d *Directory) awaitSetting(ctx context.Context, key string, lost error) (string, error) {
	for range 100 {
		v, err := d.st.GetSetting(ctx, key)
		if err == nil {
			return v, nil
		}
		if !errors.Is(err, store.ErrNotFound) {
			return "", fmt.Errorf("read setting %s: %w", key, err)
		}
		select {
		case <-ctx.Done():
			return "", ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	return "", fmt.Errorf("bootstrap %s: another replica created it but never recorded it: %w", key, lost)
}
