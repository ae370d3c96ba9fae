package portal

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"

	"github.com/mint-id/mint/internal/directory"
	"github.com/mint-id/mint/internal/keys"
	"github.com/mint-id/mint/internal/store"
)

// The portal's application registration: a confidential client in the default tenant, created
// once like the rest of mint's first-party setup. Its client secret is kept in the settings
// table sealed under the key-encryption key (never in clear at rest), so every replica and every
// restart signs people in with the same registration.

const (
	settingPortalAppID  = "portal_app_id"
	settingPortalSecret = "portal_client_secret_sealed"
	// DisplayName is the portal application's name in the directory.
	DisplayName  = "mint portal"
	secretSealAD = "mint portal client secret"
)

// Settings is the part of the store registration needs.
type Settings interface {
	GetSetting(ctx context.Context, key string) (string, error)
	PutSetting(ctx context.Context, key, value string) error
	GetPrincipalByAppID(ctx context.Context, tenantID, appID string) (store.ServicePrincipal, error)
}

// Register returns the portal application's client id and secret in tenantID, creating the
// application (and a secret) when missing or when the kept secret no longer verifies.
func Register(ctx context.Context, dir *directory.Directory, st Settings, kek *keys.KEK, tenantID string) (clientID, secret string, err error) {
	appID, err := st.GetSetting(ctx, settingPortalAppID)
	var sp store.ServicePrincipal
	switch {
	case err == nil:
		sp, err = st.GetPrincipalByAppID(ctx, tenantID, appID)
		if errors.Is(err, store.ErrNotFound) {
			sp, err = createPortalApp(ctx, dir, st, tenantID)
		}
	case errors.Is(err, store.ErrNotFound):
		sp, err = createPortalApp(ctx, dir, st, tenantID)
	}
	if err != nil {
		return "", "", fmt.Errorf("portal application: %w", err)
	}
	if sealed, err := st.GetSetting(ctx, settingPortalSecret); err == nil {
		if raw, err := base64.StdEncoding.DecodeString(sealed); err == nil {
			if plain, err := kek.Open(raw, []byte(secretSealAD+sp.ObjectID)); err == nil {
				if ok, err := dir.VerifySecret(ctx, sp.ObjectID, string(plain)); err == nil && ok {
					return sp.AppID, string(plain), nil
				}
			}
		}
	}
	pc, err := dir.AddPassword(ctx, sp.ObjectID, "mint portal", 0)
	if err != nil {
		return "", "", fmt.Errorf("portal client secret: %w", err)
	}
	sealed, err := kek.Seal([]byte(pc.SecretText), []byte(secretSealAD+sp.ObjectID))
	if err != nil {
		return "", "", fmt.Errorf("seal portal client secret: %w", err)
	}
	if err := st.PutSetting(ctx, settingPortalSecret, base64.StdEncoding.EncodeToString(sealed)); err != nil {
		return "", "", fmt.Errorf("keep portal client secret: %w", err)
	}
	return sp.AppID, pc.SecretText, nil
}

func createPortalApp(ctx context.Context, dir *directory.Directory, st Settings, tenantID string) (store.ServicePrincipal, error) {
	sp, err := dir.CreateApplication(ctx, tenantID, directory.ApplicationSpec{DisplayName: DisplayName})
	if err != nil {
		return sp, err
	}
	// Another replica may have registered one meanwhile: the first recorded wins.
	if cur, err := st.GetSetting(ctx, settingPortalAppID); err == nil {
		if won, err := st.GetPrincipalByAppID(ctx, tenantID, cur); err == nil {
			dir.DeletePrincipal(ctx, sp.ObjectID)
			return won, nil
		}
	}
	if err := st.PutSetting(ctx, settingPortalAppID, sp.AppID); err != nil {
		return sp, err
	}
	return sp, nil
}
