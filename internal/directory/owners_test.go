package directory

import (
	"context"
	"errors"
	"path/filepath"
	"testing"

	"github.com/mint-id/mint/internal/store"
	"github.com/mint-id/mint/internal/store/sqlite"
)

// failingOwners is a store whose owner writes fail.
type failingOwners struct{ store.Store }

func (failingOwners) AddOwner(context.Context, store.PrincipalOwner) error {
	return errors.New("injected: owner write failed")
}

// A member's registration is acknowledged only with its owner: when the owner cannot be written,
// the application is taken back and the caller gets the error.
func TestCreateApplicationWithoutItsOwnerIsTakenBack(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "mint.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	d := New(failingOwners{st}, Options{})
	in, err := d.Bootstrap(ctx)
	if err != nil {
		t.Fatal(err)
	}
	before, err := st.ListPrincipals(ctx, in.Tenant.ID, store.KindApplication)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.CreateApplication(ctx, in.Tenant.ID, ApplicationSpec{DisplayName: "orphan", OwnerUserID: "0a0a0a0a-0000-0000-0000-000000000001"}); err == nil {
		t.Fatal("created an application whose owner could not be written")
	}
	after, err := st.ListPrincipals(ctx, in.Tenant.ID, store.KindApplication)
	if err != nil {
		t.Fatal(err)
	}
	if len(after) != len(before) {
		t.Errorf("applications: %d before, %d after a failed registration", len(before), len(after))
	}
	// Without an owner to write (an application registering it), nothing changes.
	if _, err := d.CreateApplication(ctx, in.Tenant.ID, ApplicationSpec{DisplayName: "by-an-app"}); err != nil {
		t.Errorf("registration without an owner: %v", err)
	}
}

func TestMayManageApplication(t *testing.T) {
	d, in := newDirectory(t)
	ctx := context.Background()
	newUser := func(name string) store.User {
		u, err := d.CreateUser(ctx, in.Tenant.ID, UserSpec{UserPrincipalName: name + "@" + in.Tenant.DefaultDomain, DisplayName: name,
			MailNickname: name, AccountEnabled: true, Password: "Passw0rd-" + name})
		if err != nil {
			t.Fatal(err)
		}
		return u
	}
	owner, other := newUser("owner"), newUser("other")
	app, err := d.CreateApplication(ctx, in.Tenant.ID, ApplicationSpec{DisplayName: "app", OwnerUserID: owner.ObjectID})
	if err != nil {
		t.Fatal(err)
	}
	dev, err := d.EnsureDeveloper(ctx, in, nil)
	if err != nil {
		t.Fatal(err)
	}
	disabled := owner
	disabled.AccountEnabled = false
	foreign := owner
	foreign.TenantID = "00000000-0000-0000-0000-00000000000f"
	for _, c := range []struct {
		name string
		u    store.User
		want bool
	}{
		{"the owner", owner, true},
		{"another member", other, false},
		{"the directory's administrator", dev.User, true},
		{"the owner, disabled", disabled, false},
		{"the owner, in another tenant", foreign, false},
	} {
		got, err := d.MayManageApplication(ctx, app, c.u)
		if err != nil || got != c.want {
			t.Errorf("%s: %v %v, want %v", c.name, got, err, c.want)
		}
	}
	if err := d.AddOwner(ctx, in.Admin, owner.ObjectID); err != nil {
		t.Errorf("an owner for the admin application: %v", err)
	}
	builtin, err := d.Client(ctx, in.Tenant.ID, GraphAppID)
	if err != nil {
		t.Fatal(err)
	}
	var ie *InputError
	if err := d.AddOwner(ctx, builtin, owner.ObjectID); !errors.As(err, &ie) {
		t.Errorf("an owner for Microsoft Graph: %v, want an InputError", err)
	}
}
