package directory

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/google/uuid"

	"github.com/mint-id/mint/internal/store"
)

// Settings keys that record what bootstrap created.
const (
	SettingDefaultTenant       = "default_tenant"
	SettingDefaultSubscription = "default_subscription"
	SettingAdminAppID          = "admin_app_id"
)

// Installation is what a fresh mint starts with: one tenant, one subscription and an admin
// application.
type Installation struct {
	Tenant       store.Tenant
	Subscription store.Subscription
	Admin        store.ServicePrincipal
}

// Bootstrap makes sure the default tenant, its first-party resources, the default subscription
// and the admin application exist, creating what is missing. It is idempotent, and a replica
// that loses a creation race to another one adopts the winner's records.
func (d *Directory) Bootstrap(ctx context.Context) (Installation, error) {
	var in Installation
	tenantID, err := d.setting(ctx, SettingDefaultTenant, func() (string, error) {
		t := store.Tenant{ID: uuid.NewString(), DisplayName: "Default Directory", DefaultDomain: "mint.localhost", CreatedAt: d.now()}
		return t.ID, d.st.CreateTenant(ctx, t)
	})
	if err != nil {
		return in, err
	}
	if in.Tenant, err = d.st.GetTenant(ctx, tenantID); err != nil {
		return in, fmt.Errorf("default tenant %s: %w", tenantID, err)
	}
	if err := d.EnsureWellKnownResources(ctx, tenantID); err != nil {
		return in, err
	}
	subID, err := d.setting(ctx, SettingDefaultSubscription, func() (string, error) {
		s := store.Subscription{ID: uuid.NewString(), TenantID: tenantID, DisplayName: "mint subscription", State: "Enabled", CreatedAt: d.now()}
		return s.ID, d.st.CreateSubscription(ctx, s)
	})
	if err != nil {
		return in, err
	}
	if in.Subscription, err = d.st.GetSubscription(ctx, subID); err != nil {
		return in, fmt.Errorf("default subscription %s: %w", subID, err)
	}
	adminAppID, err := d.setting(ctx, SettingAdminAppID, func() (string, error) {
		sp, err := d.createAdmin(ctx, tenantID)
		return sp.AppID, err
	})
	if err != nil {
		return in, err
	}
	if in.Admin, err = d.st.GetPrincipalByAppID(ctx, tenantID, adminAppID); err != nil {
		return in, fmt.Errorf("admin application %s: %w", adminAppID, err)
	}
	if err := d.ensureAdminPeopleRoles(ctx, in); err != nil {
		return in, err
	}
	return in, nil
}

// setting returns the value recorded under key, or runs create and records its result. Creation
// races between replicas are settled by the settings row: the loser re-reads it. (The loser's
// own records, if any, stay as unused orphans; bootstrap runs once per installation.)
func (d *Directory) setting(ctx context.Context, key string, create func() (string, error)) (string, error) {
	v, err := d.st.GetSetting(ctx, key)
	if err == nil {
		return v, nil
	}
	if !errors.Is(err, store.ErrNotFound) {
		return "", fmt.Errorf("read setting %s: %w", key, err)
	}
	v, err = create()
	if errors.Is(err, store.ErrConflict) {
		// Another replica created the same record first (the default tenant's domain is
		// unique): adopt its value once it has recorded it.
		return d.awaitSetting(ctx, key, err)
	}
	if err != nil {
		return "", fmt.Errorf("bootstrap %s: %w", key, err)
	}
	if cur, err := d.st.GetSetting(ctx, key); err == nil {
		return cur, nil
	}
	if err := d.st.PutSetting(ctx, key, v); err != nil {
		return "", fmt.Errorf("record setting %s: %w", key, err)
	}
	return v, nil
}

// EnsureWellKnownResources registers in the tenant every first-party resource it lacks.
func (d *Directory) EnsureWellKnownResources(ctx context.Context, tenantID string) error {
	for _, w := range WellKnownResources {
		cur, err := d.st.GetPrincipalByAppID(ctx, tenantID, w.AppID)
		if err == nil {
			// A newer mint may define more app roles (Graph's people permissions): add them.
			if missing := missingRoles(cur.AppRoles, w.AppRoles); len(missing) > 0 && cur.Builtin {
				cur.AppRoles = append(cur.AppRoles, missing...)
				if err := d.st.UpdatePrincipal(ctx, cur); err != nil {
					return fmt.Errorf("update the app roles of %s: %w", w.DisplayName, err)
				}
			}
			continue
		}
		if !errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("look up %s: %w", w.DisplayName, err)
		}
		sp := store.ServicePrincipal{
			ObjectID:       uuid.NewString(),
			AppID:          w.AppID,
			TenantID:       tenantID,
			Kind:           store.KindApplication,
			DisplayName:    w.DisplayName,
			IdentifierURIs: w.IdentifierURIs,
			AppRoles:       w.AppRoles,
			Builtin:        true,
			CreatedAt:      d.now(),
		}
		if err := d.st.CreatePrincipal(ctx, sp, nil); err != nil && !errors.Is(err, store.ErrConflict) {
			return fmt.Errorf("register %s: %w", w.DisplayName, err)
		}
	}
	return nil
}

// createAdmin registers the admin application with the Graph application permissions mint's
// directory API checks. (Its Owner role over the subscription is granted by the control plane.)
func (d *Directory) createAdmin(ctx context.Context, tenantID string) (store.ServicePrincipal, error) {
	sp, err := d.CreateApplication(ctx, tenantID, ApplicationSpec{DisplayName: "mint admin"})
	if err != nil {
		return sp, err
	}
	graph, err := d.st.GetPrincipalByAppID(ctx, tenantID, GraphAppID)
	if err != nil {
		return sp, fmt.Errorf("microsoft graph principal: %w", err)
	}
	for _, role := range []string{RoleApplicationReadWriteAll, RoleDirectoryReadAll, RoleAuditLogReadAll} {
		if _, err := d.GrantAppRole(ctx, sp.ObjectID, graph, role); err != nil {
			return sp, err
		}
	}
	return sp, nil
}

// adminPeopleRoles are the Graph permissions the admin application holds over people, granted
// at bootstrap also to installations made before mint had people.
var adminPeopleRoles = []string{RoleUserReadWriteAll, RoleGroupReadWriteAll}

func (d *Directory) ensureAdminPeopleRoles(ctx context.Context, in Installation) error {
	graph, err := d.st.GetPrincipalByAppID(ctx, in.Tenant.ID, GraphAppID)
	if err != nil {
		return fmt.Errorf("microsoft graph principal: %w", err)
	}
	held, err := d.AppRoles(ctx, in.Admin.ObjectID, graph)
	if err != nil {
		return err
	}
	for _, role := range adminPeopleRoles {
		if slices.Contains(held, role) {
			continue
		}
		if _, err := d.GrantAppRole(ctx, in.Admin.ObjectID, graph, role); err != nil && !errors.Is(err, store.ErrConflict) {
			return err
		}
	}
	return nil
}

func missingRoles(have, want []store.AppRole) []store.AppRole {
	var out []store.AppRole
	for _, w := range want {
		if !slices.ContainsFunc(have, func(h store.AppRole) bool { return strings.EqualFold(h.ID, w.ID) }) {
			out = append(out, w)
		}
	}
	return out
}

// SettingDeveloper records the object id of mint dev's developer, the directory's administrator.
const SettingDeveloper = "developer_user_id"

// IsDirectoryAdmin reports whether u administers the directory (may create and change users and
// groups with a delegated token): mint dev's developer. Entra's counterpart is the Global
// Administrator or User Administrator directory role, which mint does not model.
func (d *Directory) IsDirectoryAdmin(ctx context.Context, u store.User) bool {
	id, err := d.st.GetSetting(ctx, SettingDeveloper)
	return err == nil && strings.EqualFold(id, u.ObjectID) && u.AccountEnabled
}

// Developer is mint dev's person: its user and, when it was created or its password was reset
// just now, the password (otherwise "").
type Developer struct {
	User     store.User
	Password string
}

// EnsureDeveloper makes sure the installation has its developer: a user dev@<default domain>,
// recorded as the directory's administrator. When the user is new, or keep reports that the
// password the caller holds no longer works, a fresh generated password is set and returned.
func (d *Directory) EnsureDeveloper(ctx context.Context, in Installation, keep func(store.User) bool) (Developer, error) {
	var created, createdID string // the password of a developer made here and now
	id, err := d.setting(ctx, SettingDeveloper, func() (string, error) {
		upn := "dev@" + in.Tenant.DefaultDomain
		if u, err := d.st.GetUserByPrincipalName(ctx, in.Tenant.ID, upn); err == nil {
			return u.ObjectID, nil // a replica made it first
		}
		password := GeneratePassword()
		u, err := d.CreateUser(ctx, in.Tenant.ID, UserSpec{UserPrincipalName: upn, DisplayName: "mint developer",
			MailNickname: "dev", AccountEnabled: true, Password: password})
		if err == nil {
			created, createdID = password, u.ObjectID
		}
		return u.ObjectID, err
	})
	if err != nil {
		return Developer{}, err
	}
	u, err := d.User(ctx, id)
	if err != nil {
		return Developer{}, fmt.Errorf("developer %s: %w", id, err)
	}
	if created != "" && u.ObjectID == createdID && u.AccountEnabled {
		// Just made with this password: hashing a second one would cost another Argon2id.
		return Developer{User: u, Password: created}, nil
	}
	if keep != nil && keep(u) && u.AccountEnabled {
		return Developer{User: u}, nil
	}
	password := GeneratePassword()
	enabled := true
	if u, err = d.UpdateUser(ctx, u.ObjectID, UserUpdate{Password: &password, AccountEnabled: &enabled}); err != nil {
		return Developer{}, fmt.Errorf("set the developer's password: %w", err)
	}
	return Developer{User: u, Password: password}, nil
}

// AdminSecretValid reports whether secret is a current client secret of the admin application;
// `mint dev` reuses the secret in its env file across restarts when it still is.
func (d *Directory) AdminSecretValid(ctx context.Context, in Installation, secret string) bool {
	ok, err := d.VerifySecret(ctx, in.Admin.ObjectID, secret)
	return err == nil && ok
}
