package directory

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/mint-id/mint/internal/store"
	"github.com/mint-id/mint/internal/store/sqlite"
)

func newDirectory(t *testing.T) (*Directory, Installation) {
	t.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "mint.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	d := New(st, Options{ManagementAudiences: []string{"https://127.0.0.1:8443/"}})
	in, err := d.Bootstrap(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return d, in
}

func TestBootstrapIsIdempotent(t *testing.T) {
	d, in := newDirectory(t)
	again, err := d.Bootstrap(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if again.Tenant.ID != in.Tenant.ID || again.Subscription.ID != in.Subscription.ID || again.Admin.AppID != in.Admin.AppID {
		t.Fatalf("second bootstrap made new records: %+v vs %+v", again, in)
	}
	graph, err := d.Resource(context.Background(), in.Tenant.ID, "https://graph.microsoft.com")
	if err != nil {
		t.Fatal(err)
	}
	roles, err := d.AppRoles(context.Background(), in.Admin.ObjectID, graph)
	if err != nil || len(roles) != 5 {
		t.Fatalf("admin Graph roles = %v, %v", roles, err)
	}
}

func TestResourceByAudience(t *testing.T) {
	d, in := newDirectory(t)
	ctx := context.Background()
	cases := []struct{ audience, wantAppID string }{
		{"https://vault.azure.net", KeyVaultAppID},
		{"https://vault.azure.net/", KeyVaultAppID},
		{"HTTPS://VAULT.AZURE.NET", KeyVaultAppID},
		{"https://management.azure.com/", ResourceManagerAppID},
		{"https://management.azure.com", ResourceManagerAppID},
		{"https://management.core.windows.net/", ResourceManagerAppID},
		{"https://127.0.0.1:8443", ResourceManagerAppID},
		{KeyVaultAppID, KeyVaultAppID},
		{"https://graph.microsoft.com/", GraphAppID},
		{"https://nothing.example", ""},
		{"", ""},
		{"https://vault.azure.net//", ""},
	}
	for _, tc := range cases {
		sp, err := d.Resource(ctx, in.Tenant.ID, tc.audience)
		if tc.wantAppID == "" {
			if err == nil {
				t.Errorf("%q: found %s, want not found", tc.audience, sp.DisplayName)
			}
			continue
		}
		if err != nil || sp.AppID != tc.wantAppID {
			t.Errorf("%q: got %s, %v; want %s", tc.audience, sp.AppID, err, tc.wantAppID)
		}
	}
}

func TestSecrets(t *testing.T) {
	d, in := newDirectory(t)
	ctx := context.Background()
	app, err := d.CreateApplication(ctx, in.Tenant.ID, ApplicationSpec{DisplayName: "app"})
	if err != nil {
		t.Fatal(err)
	}
	pc, err := d.AddPassword(ctx, app.ObjectID, "s1", 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(pc.SecretText) != 40 || pc.SecretText[3:5] != "Q~" || pc.Hint != pc.SecretText[:3] {
		t.Errorf("secret %q does not look like an Entra secret (hint %q)", pc.SecretText, pc.Hint)
	}
	if strings.Contains(string(pc.SecretHash), pc.SecretText) {
		t.Fatal("the stored hash contains the secret")
	}
	for _, tc := range []struct {
		secret string
		ok     bool
	}{{pc.SecretText, true}, {pc.SecretText + "x", false}, {"", false}, {strings.ToUpper(pc.SecretText), pc.SecretText == strings.ToUpper(pc.SecretText)}} {
		ok, err := d.VerifySecret(ctx, app.ObjectID, tc.secret)
		if err != nil || ok != tc.ok {
			t.Errorf("VerifySecret(%q) = %v, %v; want %v", tc.secret, ok, err, tc.ok)
		}
	}
	// An expired secret is refused, and recognised as expired.
	short, err := d.AddPassword(ctx, app.ObjectID, "short", time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(5 * time.Millisecond)
	if ok, _ := d.VerifySecret(ctx, app.ObjectID, short.SecretText); ok {
		t.Error("expired secret accepted")
	}
	if expired, _ := d.SecretExpired(ctx, app.ObjectID, short.SecretText); !expired {
		t.Error("expired secret not recognised as expired")
	}
	// Reset replaces every secret with one new one.
	reset, err := d.ResetPasswords(ctx, app.ObjectID, "reset", 0)
	if err != nil {
		t.Fatal(err)
	}
	if ok, _ := d.VerifySecret(ctx, app.ObjectID, pc.SecretText); ok {
		t.Error("old secret still valid after reset")
	}
	if ok, _ := d.VerifySecret(ctx, app.ObjectID, reset.SecretText); !ok {
		t.Error("new secret refused after reset")
	}
}

func TestBuiltinsAreProtected(t *testing.T) {
	d, in := newDirectory(t)
	ctx := context.Background()
	vault, _ := d.Resource(ctx, in.Tenant.ID, "https://vault.azure.net")
	if err := d.DeletePrincipal(ctx, vault.ObjectID); err == nil {
		t.Error("deleted a first-party resource")
	}
	if _, err := d.AddPassword(ctx, vault.ObjectID, "x", 0); err == nil {
		t.Error("added a secret to a first-party resource")
	}
	for _, bad := range []ApplicationSpec{{}, {DisplayName: "x", AccessTokenVersion: 3}, {DisplayName: "x", IdentifierURIs: []string{"not a uri"}},
		{DisplayName: "x", IdentifierURIs: []string{"https://vault.azure.net"}}} {
		if _, err := d.CreateApplication(ctx, in.Tenant.ID, bad); err == nil {
			t.Errorf("CreateApplication(%+v) accepted", bad)
		} else if _, ok := err.(*InputError); !ok {
			t.Errorf("CreateApplication(%+v): %T %v, want *InputError", bad, err, err)
		}
	}
}

// Tenants resolve by id or default domain in any case, also once remembered; a tenant created
// after a failed lookup is found (failures are not remembered).
func TestTenantLookups(t *testing.T) {
	d, in := newDirectory(t)
	ctx := context.Background()
	late := store.Tenant{ID: "99999999-9999-9999-9999-999999999999", DisplayName: "late", DefaultDomain: "late.localhost", CreatedAt: time.Now()}
	if _, err := d.Tenant(ctx, late.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("unknown tenant: %v", err)
	}
	if err := d.st.CreateTenant(ctx, late); err != nil {
		t.Fatal(err)
	}
	for range 2 { // the second round answers from memory
		for ref, want := range map[string]string{
			in.Tenant.ID: in.Tenant.ID, strings.ToUpper(in.Tenant.ID): in.Tenant.ID,
			in.Tenant.DefaultDomain: in.Tenant.ID, strings.ToUpper(in.Tenant.DefaultDomain): in.Tenant.ID,
			late.ID: late.ID, "LATE.localhost": late.ID,
		} {
			got, err := d.Tenant(ctx, ref)
			if err != nil || got.ID != want {
				t.Errorf("Tenant(%q) = %q, %v; want %q", ref, got.ID, err, want)
			}
		}
	}
	if _, err := d.Tenant(ctx, "nobody.localhost"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("unknown domain: %v", err)
	}
}

// Names that would break others: Entra's reserved token-exchange audience, an identifier URI that
// differs from another only in case or a trailing slash, a display name over Graph's limit.
func TestNamesThatBreakOthersAreRefused(t *testing.T) {
	d, in := newDirectory(t)
	ctx := context.Background()
	first, err := d.CreateApplication(ctx, in.Tenant.ID, ApplicationSpec{DisplayName: "dup", IdentifierURIs: []string{"api://dup"}})
	if err != nil {
		t.Fatal(err)
	}
	for name, spec := range map[string]ApplicationSpec{
		"reserved":                 {DisplayName: "x", IdentifierURIs: []string{"api://AzureADTokenExchange"}},
		"reserved, other case":     {DisplayName: "x", IdentifierURIs: []string{"API://azureadtokenexchange/"}},
		"reserved, US Government":  {DisplayName: "x", IdentifierURIs: []string{"api://AzureADTokenExchangeUSGov"}},
		"case and trailing slash":  {DisplayName: "x", IdentifierURIs: []string{"API://DUP/"}},
		"twice in one list":        {DisplayName: "x", IdentifierURIs: []string{"api://new", "api://new/"}},
		"display name too long":    {DisplayName: strings.Repeat("n", MaxDisplayNameLength+1)},
		"display name only spaces": {DisplayName: "   "},
		"multi-byte name too long": {DisplayName: strings.Repeat("é", MaxDisplayNameLength+1)},
	} {
		if _, err := d.CreateApplication(ctx, in.Tenant.ID, spec); err == nil {
			t.Errorf("%s: accepted", name)
		} else if _, ok := err.(*InputError); !ok {
			t.Errorf("%s: %T %v, want *InputError", name, err, err)
		}
	}
	if _, err := d.CreateApplication(ctx, in.Tenant.ID, ApplicationSpec{DisplayName: strings.Repeat("é", MaxDisplayNameLength)}); err != nil {
		t.Errorf("a name of exactly %d characters: %v", MaxDisplayNameLength, err)
	}
	// An application may keep its own URIs.
	if err := d.CheckIdentifierURIs(ctx, in.Tenant.ID, first.ObjectID, []string{"api://dup/"}); err != nil {
		t.Errorf("its own URI: %v", err)
	}
}

// lostRaceStore is a store on which another replica wins the default tenant's creation: it
// creates and records its own tenant, and this replica's CreateTenant then conflicts, as the
// unique tenant domain makes it on PostgreSQL.
type lostRaceStore struct {
	store.Store
	won bool
}

func (s *lostRaceStore) CreateTenant(ctx context.Context, t store.Tenant) error {
	if !s.won {
		s.won = true
		winner := store.Tenant{ID: "11111111-1111-1111-1111-111111111111", DisplayName: "Default Directory", DefaultDomain: t.DefaultDomain, CreatedAt: t.CreatedAt}
		if err := s.Store.CreateTenant(ctx, winner); err != nil {
			return err
		}
		if err := s.Store.PutSetting(ctx, SettingDefaultTenant, winner.ID); err != nil {
			return err
		}
	}
	return store.ErrConflict
}

// Two replicas starting at once on one fresh database: the one that loses the creation race
// adopts the winner's tenant instead of failing to start.
func TestBootstrapAdoptsTheWinnerOfACreationRace(t *testing.T) {
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "mint.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	in, err := New(&lostRaceStore{Store: st}, Options{}).Bootstrap(context.Background())
	if err != nil {
		t.Fatalf("the replica that lost the race failed to start: %v", err)
	}
	if in.Tenant.ID != "11111111-1111-1111-1111-111111111111" {
		t.Errorf("tenant %s, want the winner's", in.Tenant.ID)
	}
}

func TestCheckAppRoles(t *testing.T) {
	id := "6d1c7e1a-0a7e-4a53-9e0c-5f0f0d6c1a11"
	ok := []store.AppRole{{Value: "Orders.Read"}, {ID: id, Value: "a:b/c@d[e]~`'", DisplayName: strings.Repeat("é", 256)}}
	if err := CheckAppRoles(ok); err != nil {
		t.Errorf("valid roles: %v", err)
	}
	for name, roles := range map[string][]store.AppRole{
		"no value":          {{Value: ""}},
		"value too long":    {{Value: strings.Repeat("a", 121)}},
		"space":             {{Value: "Orders Read"}},
		"leading dot":       {{Value: ".Orders"}},
		"non-ASCII":         {{Value: "Bestellungen.Lesen.ä"}},
		"display name long": {{Value: "a", DisplayName: strings.Repeat("x", 257)}},
		"id not a GUID":     {{ID: "role-1", Value: "a"}},
		"duplicate value":   {{Value: "a"}, {Value: "a"}},
		"duplicate id":      {{ID: id, Value: "a"}, {ID: strings.ToUpper(id), Value: "b"}},
	} {
		var in *InputError
		if err := CheckAppRoles(roles); !errors.As(err, &in) {
			t.Errorf("%s: %v, want an InputError", name, err)
		}
	}
	if err := CheckAppRoles([]store.AppRole{{Value: strings.Repeat("a", 120)}}); err != nil {
		t.Errorf("120 characters: %v", err)
	}
}

// FuzzCheckAppRoles: any value is either accepted with only allowed characters and at most 120
// bytes, or refused with an InputError; never a panic.
func FuzzCheckAppRoles(f *testing.F) {
	for _, s := range []string{"Orders.Read", "", ".x", "a b", strings.Repeat("z", 130), "\xff", "ä"} {
		f.Add(s, "display")
	}
	f.Fuzz(func(t *testing.T, value, display string) {
		err := CheckAppRoles([]store.AppRole{{Value: value, DisplayName: display}})
		if err == nil && (value == "" || len(value) > 120 || value[0] == '.' || strings.ContainsAny(value, " \t\n") || !utf8.ValidString(value)) {
			t.Fatalf("accepted %q", value)
		}
		var in *InputError
		if err != nil && !errors.As(err, &in) {
			t.Fatalf("%q: %v is not an InputError", value, err)
		}
	})
}
