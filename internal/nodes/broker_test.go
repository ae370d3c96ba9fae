package nodes

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mint-id/mint/internal/authz"
	"github.com/mint-id/mint/internal/directory"
	"github.com/mint-id/mint/internal/nodewire"
	"github.com/mint-id/mint/internal/rbac"
	"github.com/mint-id/mint/internal/store"
	"github.com/mint-id/mint/internal/store/sqlite"
	"github.com/mint-id/mint/internal/sts"
)

type world struct {
	st                 store.Store
	tenant             store.Tenant
	node, stranger     store.ServicePrincipal
	app, bare, lonely  store.Resource
	system, ua1, ua2   store.ServicePrincipal
	ua1ID, ua2ID, subs string
}

func newWorld(t *testing.T) world {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "mint.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	dir := directory.New(st, directory.Options{})
	in, err := dir.Bootstrap(ctx)
	if err != nil {
		t.Fatal(err)
	}
	w := world{st: st, tenant: in.Tenant, subs: "/subscriptions/" + in.Subscription.ID}
	if _, err := st.PutResourceGroup(ctx, store.ResourceGroup{SubscriptionID: in.Subscription.ID, Name: "app", Location: "eastus"}); err != nil {
		t.Fatal(err)
	}
	rg := w.subs + "/resourceGroups/app"
	put := func(typ, name string, principal *store.ServicePrincipal, uas ...string) store.Resource {
		id := rg + "/providers/" + typ + "/" + name
		r := store.Resource{ID: id, SubscriptionID: in.Subscription.ID, ResourceGroup: "app", Type: typ, Name: name, Location: "eastus", UserAssignedIdentities: uas}
		var create []store.ServicePrincipal
		if principal != nil {
			*principal = directory.NewManagedIdentityPrincipal(in.Tenant.ID, name, id)
			r.PrincipalID = principal.ObjectID
			create = append(create, *principal)
		}
		if _, err := st.PutResource(ctx, r, create, nil); err != nil {
			t.Fatal(err)
		}
		return r
	}
	w.ua1ID = put("Microsoft.ManagedIdentity/userAssignedIdentities", "ua1", &w.ua1).ID
	w.ua2ID = put("Microsoft.ManagedIdentity/userAssignedIdentities", "ua2", &w.ua2).ID
	w.app = put("Microsoft.App/containerApps", "web", &w.system, w.ua1ID)
	w.bare = put("Microsoft.Web/sites", "api", nil, w.ua1ID, w.ua2ID)
	w.lonely = put("Microsoft.Compute/virtualMachines", "vm", nil)
	w.node, _ = dir.CreateApplication(ctx, in.Tenant.ID, directory.ApplicationSpec{DisplayName: "node"})
	w.stranger, _ = dir.CreateApplication(ctx, in.Tenant.ID, directory.ApplicationSpec{DisplayName: "stranger"})
	if err := authz.EnsureRole(ctx, st, w.node.ObjectID, rbac.TokenBrokerRoleID, rg, "test"); err != nil {
		t.Fatal(err)
	}
	// The stranger is Owner of the subscription: control-plane rights are not broker rights.
	if err := authz.EnsureRole(ctx, st, w.stranger.ObjectID, rbac.OwnerRoleID, w.subs, "test"); err != nil {
		t.Fatal(err)
	}
	return w
}

func TestBrokerDecisions(t *testing.T) {
	w := newWorld(t)
	b := NewBroker(w.st)
	cases := []struct {
		name     string
		node     store.ServicePrincipal
		host     string
		sel      sts.IdentitySelector
		wantOID  string
		wantMI   sts.ManagedIdentityClaims
		wantCode int
	}{
		{"default is system-assigned", w.node, w.app.ID, sts.IdentitySelector{}, w.system.ObjectID, sts.ManagedIdentityClaims{MIResourceID: MIRID(w.app.ID)}, 0},
		{"system by client id", w.node, w.app.ID, sts.IdentitySelector{ClientID: strings.ToUpper(w.system.AppID)}, w.system.ObjectID, sts.ManagedIdentityClaims{MIResourceID: MIRID(w.app.ID)}, 0},
		{"user-assigned by client id", w.node, w.app.ID, sts.IdentitySelector{ClientID: w.ua1.AppID}, w.ua1.ObjectID, sts.ManagedIdentityClaims{MIResourceID: MIRID(w.ua1ID), AzResourceID: MIRID(w.app.ID)}, 0},
		{"user-assigned by object id", w.node, w.app.ID, sts.IdentitySelector{ObjectID: w.ua1.ObjectID}, w.ua1.ObjectID, sts.ManagedIdentityClaims{MIResourceID: MIRID(w.ua1ID), AzResourceID: MIRID(w.app.ID)}, 0},
		{"user-assigned by resource id, other case", w.node, w.app.ID, sts.IdentitySelector{ResourceID: strings.ToLower(w.ua1ID)}, w.ua1.ObjectID, sts.ManagedIdentityClaims{MIResourceID: MIRID(w.ua1ID), AzResourceID: MIRID(w.app.ID)}, 0},
		{"identity not attached", w.node, w.app.ID, sts.IdentitySelector{ClientID: w.ua2.AppID}, "", sts.ManagedIdentityClaims{}, nodewire.CodeIdentityNotFound},
		{"identity attached elsewhere, by resource id", w.node, w.app.ID, sts.IdentitySelector{ResourceID: w.ua2ID}, "", sts.ManagedIdentityClaims{}, nodewire.CodeIdentityNotFound},
		{"several user-assigned, none chosen", w.node, w.bare.ID, sts.IdentitySelector{}, "", sts.ManagedIdentityClaims{}, nodewire.CodeMultipleIdentities},
		{"several user-assigned, one chosen", w.node, w.bare.ID, sts.IdentitySelector{ClientID: w.ua2.AppID}, w.ua2.ObjectID, sts.ManagedIdentityClaims{MIResourceID: MIRID(w.ua2ID), AzResourceID: MIRID(w.bare.ID)}, 0},
		{"no identity at all", w.node, w.lonely.ID, sts.IdentitySelector{}, "", sts.ManagedIdentityClaims{}, nodewire.CodeIdentityNotFound},
		{"a user-assigned identity is no host", w.node, w.ua1ID, sts.IdentitySelector{}, "", sts.ManagedIdentityClaims{}, nodewire.CodeIdentityNotFound},
		{"missing resource", w.node, w.app.ID + "x", sts.IdentitySelector{}, "", sts.ManagedIdentityClaims{}, nodewire.CodeHostResourceNotFound},
		{"not a resource id", w.node, "/subscriptions/x", sts.IdentitySelector{}, "", sts.ManagedIdentityClaims{}, nodewire.CodeHostResourceNotFound},
		{"an Owner is not a broker", w.stranger, w.app.ID, sts.IdentitySelector{}, "", sts.ManagedIdentityClaims{}, nodewire.CodeNodeNotAllowed},
		{"refused before existence is revealed", w.stranger, w.app.ID + "x", sts.IdentitySelector{}, "", sts.ManagedIdentityClaims{}, nodewire.CodeNodeNotAllowed},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d, err := b.ManagedIdentity(context.Background(), w.tenant, tc.node, tc.host, tc.sel)
			if tc.wantCode != 0 {
				var e *sts.Error
				if !errors.As(err, &e) || e.Code != tc.wantCode {
					t.Fatalf("err = %v, want code %d", err, tc.wantCode)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if d.Identity.ObjectID != tc.wantOID || d.Claims != tc.wantMI {
				t.Errorf("decision %s %+v, want %s %+v", d.Identity.ObjectID, d.Claims, tc.wantOID, tc.wantMI)
			}
		})
	}
}

func TestJoinTokensAreOneTime(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	dir := directory.New(w.st, directory.Options{})
	reg := NewRegistry(w.st, dir)
	token, _, err := reg.CreateJoinToken(ctx, w.tenant.ID, w.subs, "n1", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	stored, _ := w.st.GetSetting(ctx, joinKey(token))
	if strings.Contains(stored, token) {
		t.Fatal("the join token is stored in clear")
	}
	_, cert, err := newTestCert()
	if err != nil {
		t.Fatal(err)
	}
	res, err := reg.Join(ctx, token, "", cert)
	if err != nil {
		t.Fatal(err)
	}
	d, err := authz.New(w.st).Decide(ctx, rbac.Query{PrincipalID: res.ObjectID, Action: rbac.IssueTokenDataAction, Scope: w.app.ID, DataAction: true})
	if err != nil || !d.Allowed {
		t.Errorf("joined node lacks the broker role over the subscription: %+v %v", d, err)
	}
	if _, err := reg.Join(ctx, token, "", cert); err == nil {
		t.Error("a join token was used twice")
	}
	expired, _, _ := reg.CreateJoinToken(ctx, w.tenant.ID, w.subs, "n2", time.Hour)
	reg.now = func() time.Time { return time.Now().Add(2 * time.Hour) }
	if _, err := reg.Join(ctx, expired, "", cert); err == nil {
		t.Error("an expired join token was accepted")
	}
	for _, bad := range []string{"", "mintjoin_nope", "garbage"} {
		if _, err := reg.Join(ctx, bad, "", cert); err == nil {
			t.Errorf("join token %q accepted", bad)
		}
	}
}

func TestBrokerRefusalsNameTheFix(t *testing.T) {
	w := newWorld(t)
	b := NewBroker(w.st)
	app, _ := directory.New(w.st, directory.Options{}).CreateApplication(context.Background(), w.tenant.ID, directory.ApplicationSpec{DisplayName: "an app"})
	cases := []struct {
		name string
		sel  sts.IdentitySelector
		want string
	}{
		{"an identity attached elsewhere is named with the command", sts.IdentitySelector{ClientID: w.ua2.AppID}, "--identities " + w.ua2ID},
		{"a client id nobody has", sts.IdentitySelector{ClientID: "00000000-0000-0000-0000-00000000abcd"}, "no managed identity has client id"},
		{"an application is not a managed identity", sts.IdentitySelector{ClientID: app.AppID}, "is the application 'an app'"},
		{"another resource's system identity", sts.IdentitySelector{ObjectID: w.system.ObjectID}, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			host := w.app.ID
			if tc.want == "" { // ask as the bare site for the container app's system identity
				host, tc.want = w.bare.ID, "is the system-assigned identity of '"+w.app.ID+"'"
			}
			_, err := b.ManagedIdentity(context.Background(), w.tenant, w.node, host, tc.sel)
			var e *sts.Error
			if !errors.As(err, &e) || e.Code != nodewire.CodeIdentityNotFound || !strings.Contains(e.Description, tc.want) {
				t.Fatalf("err = %v, want code %d mentioning %q", err, nodewire.CodeIdentityNotFound, tc.want)
			}
		})
	}
}

// A join token's scope inside a resource group needs the group: a token for a missing group is
// refused with the group named, and a join after the group was deleted is a 404 that leaves no
// node principal behind (the store refuses a role assignment inside a group that is gone).
func TestJoinTokenScopeInAMissingGroup(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	dir := directory.New(w.st, directory.Options{})
	reg := NewRegistry(w.st, dir)
	var in *InputError
	if _, _, err := reg.CreateJoinToken(ctx, w.tenant.ID, w.subs+"/resourceGroups/nowhere", "n1", time.Hour); !errors.As(err, &in) || in.Status != 404 || in.Code != "ResourceGroupNotFound" {
		t.Fatalf("token for a missing group: %v", err)
	}
	if _, err := w.st.PutResourceGroup(ctx, store.ResourceGroup{SubscriptionID: strings.TrimPrefix(w.subs, "/subscriptions/"), Name: "brief", Location: "eastus"}); err != nil {
		t.Fatal(err)
	}
	token, _, err := reg.CreateJoinToken(ctx, w.tenant.ID, w.subs+"/resourceGroups/brief", "n1", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.st.DeleteResourceGroup(ctx, strings.TrimPrefix(w.subs, "/subscriptions/"), "brief"); err != nil {
		t.Fatal(err)
	}
	before, _ := w.st.ListPrincipals(ctx, w.tenant.ID, store.KindApplication)
	_, cert, err := newTestCert()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := reg.Join(ctx, token, "", cert); !errors.As(err, &in) || in.Status != 404 || in.Code != "ResourceGroupNotFound" {
		t.Fatalf("join after the group was deleted: %v", err)
	}
	if after, _ := w.st.ListPrincipals(ctx, w.tenant.ID, store.KindApplication); len(after) != len(before) {
		t.Errorf("a refused join left a principal: %d before, %d after", len(before), len(after))
	}
}
