package storetest

import (
	"strings"
	"testing"
	"time"

	"github.com/mint-id/mint/internal/store"
)

func testTenants(t *testing.T, s store.Store) {
	ctx := t.Context()
	tns, err := s.ListTenants(ctx)
	ok(t, err, "list tenants of an empty store")
	equal(t, tns, []store.Tenant(nil), "tenants of an empty store")

	// Created later but inserted first, to show the list follows CreatedAt, not insertion.
	later := newTenant(t0.Add(time.Hour))
	early := newTenant(t0)
	sameTime := newTenant(t0)
	noDomain := newTenant(t0.Add(2 * time.Hour))
	noDomain.DefaultDomain = ""
	noDomain2 := newTenant(t0.Add(3 * time.Hour))
	noDomain2.DefaultDomain = ""
	for _, tn := range []store.Tenant{later, early, sameTime, noDomain, noDomain2} {
		ok(t, s.CreateTenant(ctx, tn), "create tenant "+tn.ID)
	}

	for _, key := range []string{early.ID, strings.ToUpper(early.ID), early.DefaultDomain, strings.ToLower(early.DefaultDomain), strings.ToUpper(early.DefaultDomain)} {
		got, err := s.GetTenant(ctx, key)
		ok(t, err, "get tenant "+key)
		equal(t, got, storedTenant(early), "tenant got by "+key)
	}
	got, err := s.GetTenant(ctx, noDomain.ID)
	ok(t, err, "get tenant without domain")
	equal(t, got, storedTenant(noDomain), "tenant without domain")

	for _, key := range []string{"", newID(), "nowhere.mint.localhost"} {
		_, err := s.GetTenant(ctx, key)
		isErr(t, err, store.ErrNotFound, "get tenant "+key)
	}

	dupID := newTenant(t0)
	dupID.ID = strings.ToUpper(early.ID)
	isErr(t, s.CreateTenant(ctx, dupID), store.ErrConflict, "create tenant with a taken id in other case")
	dupDomain := newTenant(t0)
	dupDomain.DefaultDomain = strings.ToLower(early.DefaultDomain)
	isErr(t, s.CreateTenant(ctx, dupDomain), store.ErrConflict, "create tenant with a taken domain in other case")

	tns, err = s.ListTenants(ctx)
	ok(t, err, "list tenants")
	first, second := early, sameTime
	if second.ID < first.ID {
		first, second = second, first
	}
	equal(t, tns, storedAll(storedTenant, first, second, later, noDomain, noDomain2), "tenants")
}

func testSubscriptions(t *testing.T, s store.Store) {
	ctx := t.Context()
	tenantID := newID()
	otherTenantID := newID()
	mk := func(tenantID string, created time.Time) store.Subscription {
		return store.Subscription{ID: newID(), TenantID: tenantID, DisplayName: "sub", State: "Enabled", CreatedAt: created}
	}
	later := mk(tenantID, t0.Add(time.Minute))
	early := mk(tenantID, t0)
	sameTime := mk(tenantID, t0)
	other := mk(otherTenantID, t0)
	for _, sub := range []store.Subscription{later, early, sameTime, other} {
		ok(t, s.CreateSubscription(ctx, sub), "create subscription "+sub.ID)
	}

	for _, id := range []string{early.ID, strings.ToUpper(early.ID)} {
		got, err := s.GetSubscription(ctx, id)
		ok(t, err, "get subscription "+id)
		equal(t, got, storedSubscription(early), "subscription got by "+id)
	}
	_, err := s.GetSubscription(ctx, newID())
	isErr(t, err, store.ErrNotFound, "get missing subscription")

	dup := mk(otherTenantID, t0)
	dup.ID = strings.ToUpper(early.ID)
	isErr(t, s.CreateSubscription(ctx, dup), store.ErrConflict, "create subscription with a taken id")

	first, second := early, sameTime
	if second.ID < first.ID {
		first, second = second, first
	}
	for _, tid := range []string{tenantID, strings.ToUpper(tenantID)} {
		subs, err := s.ListSubscriptions(ctx, tid)
		ok(t, err, "list subscriptions")
		equal(t, subs, storedAll(storedSubscription, first, second, later), "subscriptions of tenant "+tid)
	}
	subs, err := s.ListSubscriptions(ctx, newID())
	ok(t, err, "list subscriptions of an unknown tenant")
	equal(t, subs, []store.Subscription(nil), "subscriptions of an unknown tenant")
}

func testPrincipalRoundTrip(t *testing.T, s store.Store) {
	ctx := t.Context()
	tenantID := newID()

	full := store.ServicePrincipal{
		ObjectID:           newID(),
		AppID:              "9F3B1C2D-AAAA-4BBB-8CCC-DDDDEEEEFFFF", // original case is returned
		TenantID:           tenantID,
		Kind:               store.KindApplication,
		DisplayName:        "Contoso API ✓",
		IdentifierURIs:     []string{"api://Contoso", "https://contoso.example/API"},
		AccessTokenVersion: 2,
		AppRoles: []store.AppRole{
			{ID: newID(), Value: "Data.Read", DisplayName: "Read data"},
			{ID: newID(), Value: "Data.Write"},
		},
		AlternativeNames: []string{"isExplicit=True", "/subscriptions/x/resourceGroups/y"},
		Builtin:          true,
		CreatedAt:        t0,
	}
	cert := store.Credential{
		KeyID:       newID(),
		Type:        store.CredentialCertificate, // PrincipalID left empty: the store fills it in
		DisplayName: "CN=contoso",
		Certificate: []byte{0x30, 0x82, 0x01, 0x0a},
		Thumbprint:  "0123456789ABCDEF0123456789ABCDEF01234567",
		StartsAt:    t0,
		ExpiresAt:   t0.AddDate(1, 0, 0),
	}
	mustCreatePrincipal(t, s, full, cert)
	got, err := s.GetPrincipal(ctx, full.ObjectID)
	ok(t, err, "get principal")
	equal(t, got, storedPrincipal(full), "principal")
	creds, err := s.ListCredentials(ctx, full.ObjectID)
	ok(t, err, "list credentials")
	cert.PrincipalID = full.ObjectID
	equal(t, creds, storedAll(storedCredential, cert), "credentials created with the principal")

	// Empty and nil slices both come back nil; nothing is defaulted.
	empty := newPrincipal(tenantID, t0)
	empty.Kind = store.KindManagedIdentity
	empty.IdentifierURIs = []string{}
	empty.AppRoles = []store.AppRole{}
	empty.AlternativeNames = []string{}
	mustCreatePrincipal(t, s, empty)
	got, err = s.GetPrincipal(ctx, empty.ObjectID)
	ok(t, err, "get principal with empty lists")
	if got.IdentifierURIs != nil || got.AppRoles != nil || got.AlternativeNames != nil {
		t.Fatalf("empty lists came back non-nil: %#v", got)
	}
	equal(t, got, storedPrincipal(empty), "principal with empty lists")
	if got.AccessTokenVersion != 0 {
		t.Fatalf("AccessTokenVersion defaulted to %d", got.AccessTokenVersion)
	}

	_, err = s.GetPrincipal(ctx, newID())
	isErr(t, err, store.ErrNotFound, "get missing principal")

	// A credential naming another principal is refused and nothing is stored.
	stray := newPrincipal(tenantID, t0)
	err = s.CreatePrincipal(ctx, stray, []store.Credential{newPassword(full.ObjectID, t0)})
	if err == nil {
		t.Fatal("create principal with another principal's credential: no error")
	}
	_, err = s.GetPrincipal(ctx, stray.ObjectID)
	isErr(t, err, store.ErrNotFound, "principal whose creation failed")
}

func testPrincipalLookups(t *testing.T, s store.Store) {
	ctx := t.Context()
	tenantA, tenantB := newID(), newID()
	a := newPrincipal(tenantA, t0)
	a.AppID = "AbCdEf01-0000-4000-8000-000000000001"
	a.IdentifierURIs = []string{"https://Vault.Azure.net", "api://thing"}
	// The same appId and URI in another tenant is another principal.
	b := newPrincipal(tenantB, t0)
	b.AppID = a.AppID
	b.IdentifierURIs = []string{"https://vault.azure.net"}
	mustCreatePrincipal(t, s, a)
	mustCreatePrincipal(t, s, b)

	byApp := []struct {
		tenantID, appID string
		want            *store.ServicePrincipal
	}{
		{tenantA, a.AppID, &a},
		{strings.ToUpper(tenantA), strings.ToLower(a.AppID), &a},
		{tenantA, strings.ToUpper(a.AppID), &a},
		{tenantB, a.AppID, &b},
		{newID(), a.AppID, nil},
		{tenantA, newID(), nil},
		{tenantA, "", nil},
	}
	for _, tc := range byApp {
		got, err := s.GetPrincipalByAppID(ctx, tc.tenantID, tc.appID)
		what := "get principal by appId " + tc.appID + " in " + tc.tenantID
		if tc.want == nil {
			isErr(t, err, store.ErrNotFound, what)
			continue
		}
		ok(t, err, what)
		equal(t, got, storedPrincipal(*tc.want), what)
	}

	byURI := []struct {
		tenantID, uri string
		want          *store.ServicePrincipal
	}{
		{tenantA, "https://Vault.Azure.net", &a},
		{tenantA, "HTTPS://VAULT.AZURE.NET", &a},
		{strings.ToUpper(tenantA), "API://THING", &a},
		{tenantB, "https://VAULT.azure.net", &b},
		{tenantB, "api://thing", nil},
		{newID(), "https://vault.azure.net", nil},
		{tenantA, "https://vault.azure.net/", nil}, // no normalisation beyond case
		{tenantA, "", nil},
	}
	for _, tc := range byURI {
		got, err := s.GetPrincipalByIdentifierURI(ctx, tc.tenantID, tc.uri)
		what := "get principal by identifier URI " + tc.uri + " in " + tc.tenantID
		if tc.want == nil {
			isErr(t, err, store.ErrNotFound, what)
			continue
		}
		ok(t, err, what)
		equal(t, got, storedPrincipal(*tc.want), what)
	}
}

func testPrincipalConflicts(t *testing.T, s store.Store) {
	ctx := t.Context()
	tenantID := newID()
	base := newPrincipal(tenantID, t0)
	base.AppID = "Base-App-Id"
	base.IdentifierURIs = []string{"https://Base.example"}
	baseCred := newPassword(base.ObjectID, t0)
	mustCreatePrincipal(t, s, base, baseCred)

	tests := []struct {
		name     string
		sp       func() (store.ServicePrincipal, []store.Credential)
		conflict bool
	}{
		{"same object id", func() (store.ServicePrincipal, []store.Credential) {
			sp := newPrincipal(newID(), t0)
			sp.ObjectID = base.ObjectID
			return sp, nil
		}, true},
		{"same appId, other case, same tenant", func() (store.ServicePrincipal, []store.Credential) {
			sp := newPrincipal(strings.ToUpper(tenantID), t0)
			sp.AppID = "BASE-APP-ID"
			return sp, nil
		}, true},
		{"same identifier URI, other case, same tenant", func() (store.ServicePrincipal, []store.Credential) {
			sp := newPrincipal(tenantID, t0)
			sp.IdentifierURIs = []string{"https://fresh.example", "HTTPS://BASE.EXAMPLE"}
			return sp, nil
		}, true},
		{"one identifier URI twice", func() (store.ServicePrincipal, []store.Credential) {
			sp := newPrincipal(tenantID, t0)
			sp.IdentifierURIs = []string{"https://twice.example", "https://TWICE.example"}
			return sp, nil
		}, true},
		{"credential key id taken", func() (store.ServicePrincipal, []store.Credential) {
			sp := newPrincipal(tenantID, t0)
			c := newPassword(sp.ObjectID, t0)
			c.KeyID = baseCred.KeyID
			return sp, []store.Credential{newPassword(sp.ObjectID, t0), c}
		}, true},
		{"one credential key id twice", func() (store.ServicePrincipal, []store.Credential) {
			sp := newPrincipal(tenantID, t0)
			c := newPassword(sp.ObjectID, t0)
			return sp, []store.Credential{c, c}
		}, true},
		{"same appId in another tenant", func() (store.ServicePrincipal, []store.Credential) {
			sp := newPrincipal(newID(), t0)
			sp.AppID = base.AppID
			return sp, nil
		}, false},
		{"same identifier URI in another tenant", func() (store.ServicePrincipal, []store.Credential) {
			sp := newPrincipal(newID(), t0)
			sp.IdentifierURIs = base.IdentifierURIs
			return sp, nil
		}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sp, creds := tc.sp()
			err := s.CreatePrincipal(ctx, sp, creds)
			if !tc.conflict {
				ok(t, err, "create principal")
				return
			}
			isErr(t, err, store.ErrConflict, "create principal")
			// Nothing of the failed call is stored: not the principal, not its credentials, not
			// its URIs.
			if sp.ObjectID != base.ObjectID {
				_, err := s.GetPrincipal(ctx, sp.ObjectID)
				isErr(t, err, store.ErrNotFound, "get principal whose creation failed")
				creds, err := s.ListCredentials(ctx, sp.ObjectID)
				ok(t, err, "list credentials")
				equal(t, creds, []store.Credential(nil), "credentials of a principal whose creation failed")
				for _, uri := range sp.IdentifierURIs {
					if strings.EqualFold(uri, base.IdentifierURIs[0]) {
						continue
					}
					_, err := s.GetPrincipalByIdentifierURI(ctx, tenantID, uri)
					isErr(t, err, store.ErrNotFound, "identifier URI of a principal whose creation failed")
				}
			}
			got, err := s.GetPrincipal(ctx, base.ObjectID)
			ok(t, err, "get base principal")
			equal(t, got, storedPrincipal(base), "base principal after a conflict")
			creds, err = s.ListCredentials(ctx, base.ObjectID)
			ok(t, err, "list base credentials")
			equal(t, creds, storedAll(storedCredential, baseCred), "base credentials after a conflict")
		})
	}

	// The URIs a failed create tried to claim are free.
	sp := newPrincipal(tenantID, t0)
	sp.IdentifierURIs = []string{"https://fresh.example", "https://twice.example"}
	mustCreatePrincipal(t, s, sp)
}

func testListPrincipals(t *testing.T, s store.Store) {
	ctx := t.Context()
	tenantID := newID()
	mi := func(created time.Time) store.ServicePrincipal {
		sp := newPrincipal(tenantID, created)
		sp.Kind = store.KindManagedIdentity
		return sp
	}
	app3 := newPrincipal(tenantID, t0.Add(3*time.Second))
	mi2 := mi(t0.Add(2 * time.Second))
	app1a := newPrincipal(tenantID, t0.Add(time.Second))
	app1b := newPrincipal(tenantID, t0.Add(time.Second))
	if app1b.ObjectID < app1a.ObjectID {
		app1a, app1b = app1b, app1a
	}
	mi0 := mi(t0)
	elsewhere := newPrincipal(newID(), t0)
	// Inserted out of order; listed by CreatedAt, then ObjectID.
	for _, sp := range []store.ServicePrincipal{app3, app1b, mi2, elsewhere, app1a, mi0} {
		mustCreatePrincipal(t, s, sp)
	}

	tests := []struct {
		tenantID string
		kind     store.PrincipalKind
		want     []store.ServicePrincipal
	}{
		{tenantID, "", []store.ServicePrincipal{mi0, app1a, app1b, mi2, app3}},
		{strings.ToUpper(tenantID), "", []store.ServicePrincipal{mi0, app1a, app1b, mi2, app3}},
		{tenantID, store.KindApplication, []store.ServicePrincipal{app1a, app1b, app3}},
		{tenantID, store.KindManagedIdentity, []store.ServicePrincipal{mi0, mi2}},
		{elsewhere.TenantID, store.KindManagedIdentity, nil},
		{newID(), "", nil},
	}
	for _, tc := range tests {
		got, err := s.ListPrincipals(ctx, tc.tenantID, tc.kind)
		what := "list principals of " + tc.tenantID + " kind " + string(tc.kind)
		ok(t, err, what)
		equal(t, got, storedAll(storedPrincipal, tc.want...), what)
	}
}

func testUpdatePrincipal(t *testing.T, s store.Store) {
	ctx := t.Context()
	tenantID := newID()
	sp := newPrincipal(tenantID, t0)
	sp.IdentifierURIs = []string{"https://old.example", "https://kept.example"}
	sp.AppRoles = []store.AppRole{{ID: newID(), Value: "Old"}}
	sp.AlternativeNames = []string{"old"}
	other := newPrincipal(tenantID, t0)
	other.IdentifierURIs = []string{"https://other.example"}
	mustCreatePrincipal(t, s, sp)
	mustCreatePrincipal(t, s, other)

	update := sp
	update.DisplayName = "renamed"
	update.IdentifierURIs = []string{"https://KEPT.example", "https://new.example"}
	update.AppRoles = []store.AppRole{{ID: newID(), Value: "New", DisplayName: "new"}}
	update.AccessTokenVersion = 2
	update.AlternativeNames = []string{"new", "names"}
	update.RedirectURIs = store.RedirectURIs{Web: []string{"https://app.example/signin"}, FallbackPublicClient: true}
	// Not updatable: these are ignored.
	update.AppID = newID()
	update.TenantID = newID()
	update.Kind = store.KindManagedIdentity
	update.Builtin = true
	update.CreatedAt = t0.Add(time.Hour)
	ok(t, s.UpdatePrincipal(ctx, update), "update principal")

	want := sp
	want.DisplayName = update.DisplayName
	want.IdentifierURIs = update.IdentifierURIs
	want.AppRoles = update.AppRoles
	want.AccessTokenVersion = update.AccessTokenVersion
	want.AlternativeNames = update.AlternativeNames
	want.RedirectURIs = update.RedirectURIs
	got, err := s.GetPrincipal(ctx, sp.ObjectID)
	ok(t, err, "get updated principal")
	equal(t, got, storedPrincipal(want), "updated principal")
	got, err = s.GetPrincipalByAppID(ctx, tenantID, sp.AppID)
	ok(t, err, "get updated principal by its unchanged appId")
	equal(t, got, storedPrincipal(want), "updated principal by appId")

	for _, uri := range []string{"https://kept.example", "https://new.example"} {
		got, err := s.GetPrincipalByIdentifierURI(ctx, tenantID, uri)
		ok(t, err, "get principal by its new identifier URI "+uri)
		equal(t, got.ObjectID, sp.ObjectID, "principal found by "+uri)
	}
	_, err = s.GetPrincipalByIdentifierURI(ctx, tenantID, "https://old.example")
	isErr(t, err, store.ErrNotFound, "get principal by a URI it gave up")
	// The URI given up is free for another principal; the one kept is not.
	freed := newPrincipal(tenantID, t0)
	freed.IdentifierURIs = []string{"https://old.example"}
	mustCreatePrincipal(t, s, freed)
	taken := newPrincipal(tenantID, t0)
	taken.IdentifierURIs = []string{"https://new.EXAMPLE"}
	isErr(t, s.CreatePrincipal(ctx, taken, nil), store.ErrConflict, "create principal with a URI claimed by an update")

	// Taking another principal's URI is a conflict and changes nothing.
	clash := want
	clash.DisplayName = "clash"
	clash.IdentifierURIs = []string{"https://kept.example", "HTTPS://OTHER.EXAMPLE"}
	isErr(t, s.UpdatePrincipal(ctx, clash), store.ErrConflict, "update principal to take another's URI")
	got, err = s.GetPrincipal(ctx, sp.ObjectID)
	ok(t, err, "get principal after a failed update")
	equal(t, got, storedPrincipal(want), "principal after a failed update")
	got, err = s.GetPrincipalByIdentifierURI(ctx, tenantID, "https://new.example")
	ok(t, err, "URI kept after a failed update")
	equal(t, got.ObjectID, sp.ObjectID, "owner of a URI after a failed update")
	got, err = s.GetPrincipalByIdentifierURI(ctx, tenantID, "https://other.example")
	ok(t, err, "other's URI after a failed update")
	equal(t, got.ObjectID, other.ObjectID, "owner of other's URI after a failed update")

	// Clearing the lists.
	cleared := want
	cleared.IdentifierURIs = []string{}
	cleared.AppRoles = nil
	cleared.AlternativeNames = []string{}
	cleared.RedirectURIs = store.RedirectURIs{Web: []string{}}
	ok(t, s.UpdatePrincipal(ctx, cleared), "clear principal's lists")
	got, err = s.GetPrincipal(ctx, sp.ObjectID)
	ok(t, err, "get cleared principal")
	equal(t, got, storedPrincipal(cleared), "cleared principal")
	_, err = s.GetPrincipalByIdentifierURI(ctx, tenantID, "https://kept.example")
	isErr(t, err, store.ErrNotFound, "get principal by a cleared URI")

	missing := newPrincipal(tenantID, t0)
	isErr(t, s.UpdatePrincipal(ctx, missing), store.ErrNotFound, "update missing principal")
}

// testPrincipalRedirectURIs: an application's redirect URIs by platform, in order and exactly as
// written (case kept: Entra compares paths case-sensitively), through every read.
func testPrincipalRedirectURIs(t *testing.T, s store.Store) {
	ctx := t.Context()
	tenantID := newID()
	sp := newPrincipal(tenantID, t0)
	sp.RedirectURIs = store.RedirectURIs{
		Web:          []string{"https://app.example/Signin-OIDC", "http://localhost:5000/cb"},
		SPA:          []string{"https://spa.example/"},
		PublicClient: []string{"http://localhost", "msal" + sp.AppID + "://auth", "urn:ietf:wg:oauth:2.0:oob"},
	}
	plain := newPrincipal(tenantID, t0.Add(time.Second))
	mustCreatePrincipal(t, s, sp)
	mustCreatePrincipal(t, s, plain)
	got, err := s.GetPrincipal(ctx, sp.ObjectID)
	ok(t, err, "get principal with redirect URIs")
	equal(t, got, storedPrincipal(sp), "principal with redirect URIs")
	got, err = s.GetPrincipalByAppID(ctx, tenantID, sp.AppID)
	ok(t, err, "get principal with redirect URIs by appId")
	equal(t, got.RedirectURIs, storedPrincipal(sp).RedirectURIs, "redirect URIs by appId")
	all, err := s.ListPrincipals(ctx, tenantID, "")
	ok(t, err, "list principals with redirect URIs")
	equal(t, all, storedAll(storedPrincipal, sp, plain), "listed principals with and without redirect URIs")

	sp.RedirectURIs = store.RedirectURIs{PublicClient: []string{"http://127.0.0.1/"}, FallbackPublicClient: true}
	ok(t, s.UpdatePrincipal(ctx, sp), "replace redirect URIs")
	got, err = s.GetPrincipal(ctx, sp.ObjectID)
	ok(t, err, "get principal after replacing redirect URIs")
	equal(t, got, storedPrincipal(sp), "principal after replacing redirect URIs")

	sp.RedirectURIs = store.RedirectURIs{}
	ok(t, s.UpdatePrincipal(ctx, sp), "clear redirect URIs")
	got, err = s.GetPrincipal(ctx, sp.ObjectID)
	ok(t, err, "get principal after clearing redirect URIs")
	equal(t, got, storedPrincipal(sp), "principal after clearing redirect URIs")
}

func testDeletePrincipal(t *testing.T, s store.Store) {
	ctx := t.Context()
	tenantID := newID()
	client := newPrincipal(tenantID, t0)
	client.IdentifierURIs = []string{"https://client.example"}
	resource := newPrincipal(tenantID, t0)
	bystander := newPrincipal(tenantID, t0)
	clientCred := newPassword(client.ObjectID, t0)
	bystanderCred := newPassword(bystander.ObjectID, t0)
	mustCreatePrincipal(t, s, client, clientCred)
	mustCreatePrincipal(t, s, resource)
	mustCreatePrincipal(t, s, bystander, bystanderCred)

	held := newAssignment(client.ObjectID, resource.ObjectID, t0)         // client holds a role
	granted := newAssignment(bystander.ObjectID, client.ObjectID, t0)     // a role on client as resource
	unrelated := newAssignment(bystander.ObjectID, resource.ObjectID, t0) // survives
	for _, a := range []store.AppRoleAssignment{held, granted, unrelated} {
		ok(t, s.CreateAppRoleAssignment(ctx, a), "create assignment")
	}

	ok(t, s.DeletePrincipal(ctx, client.ObjectID), "delete principal")
	_, err := s.GetPrincipal(ctx, client.ObjectID)
	isErr(t, err, store.ErrNotFound, "get deleted principal")
	_, err = s.GetPrincipalByAppID(ctx, tenantID, client.AppID)
	isErr(t, err, store.ErrNotFound, "get deleted principal by appId")
	_, err = s.GetPrincipalByIdentifierURI(ctx, tenantID, "https://client.example")
	isErr(t, err, store.ErrNotFound, "get deleted principal by identifier URI")

	creds, err := s.ListCredentials(ctx, client.ObjectID)
	ok(t, err, "list credentials of deleted principal")
	equal(t, creds, []store.Credential(nil), "credentials of deleted principal")
	isErr(t, s.DeleteCredential(ctx, client.ObjectID, clientCred.KeyID), store.ErrNotFound, "delete credential of deleted principal")
	as, err := s.ListAppRoleAssignments(ctx, client.ObjectID, "")
	ok(t, err, "list assignments of deleted principal")
	equal(t, as, []store.AppRoleAssignment(nil), "assignments held by deleted principal")
	as, err = s.ListAppRoleAssignments(ctx, bystander.ObjectID, "")
	ok(t, err, "list assignments of bystander")
	equal(t, as, storedAll(storedAssignment, unrelated), "bystander's assignments after its resource was deleted")
	isErr(t, s.DeleteAppRoleAssignment(ctx, held.ID), store.ErrNotFound, "delete cascaded assignment")
	isErr(t, s.DeleteAppRoleAssignment(ctx, granted.ID), store.ErrNotFound, "delete cascaded assignment")

	creds, err = s.ListCredentials(ctx, bystander.ObjectID)
	ok(t, err, "list bystander credentials")
	equal(t, creds, storedAll(storedCredential, bystanderCred), "bystander credentials")

	// Everything it held is free for reuse, the key id included.
	again := newPrincipal(tenantID, t0)
	again.AppID = client.AppID
	again.IdentifierURIs = client.IdentifierURIs
	mustCreatePrincipal(t, s, again, newPassword(again.ObjectID, t0))
	reused := clientCred
	reused.PrincipalID = again.ObjectID
	ok(t, s.AddCredential(ctx, reused), "reuse a deleted principal's credential key id")

	isErr(t, s.DeletePrincipal(ctx, client.ObjectID), store.ErrNotFound, "delete principal twice")
	isErr(t, s.DeletePrincipal(ctx, newID()), store.ErrNotFound, "delete missing principal")

	// Built-in principals are the directory's concern, not the store's.
	builtin := newPrincipal(tenantID, t0)
	builtin.Builtin = true
	mustCreatePrincipal(t, s, builtin)
	ok(t, s.DeletePrincipal(ctx, builtin.ObjectID), "delete built-in principal")
}

func testCredentials(t *testing.T, s store.Store) {
	ctx := t.Context()
	tenantID := newID()
	sp := newPrincipal(tenantID, t0)
	other := newPrincipal(tenantID, t0)
	mustCreatePrincipal(t, s, sp)
	mustCreatePrincipal(t, s, other)

	creds, err := s.ListCredentials(ctx, sp.ObjectID)
	ok(t, err, "list credentials of a principal without any")
	equal(t, creds, []store.Credential(nil), "credentials of a principal without any")

	// Added in this order; listed by StartsAt, ties in the order added.
	late := newPassword(sp.ObjectID, t0.Add(time.Hour))
	tie1 := newPassword(sp.ObjectID, t0)
	tie2 := store.Credential{
		KeyID:       newID(),
		PrincipalID: sp.ObjectID,
		Type:        store.CredentialCertificate,
		Certificate: []byte("der"),
		Thumbprint:  "ABCDEF",
		SecretHash:  []byte{}, // empty comes back nil
		StartsAt:    t0,
		// ExpiresAt zero: round-trips as the zero time.
	}
	early := newPassword(sp.ObjectID, t0.Add(-time.Hour))
	for _, c := range []store.Credential{late, tie1, tie2, early} {
		ok(t, s.AddCredential(ctx, c), "add credential "+c.KeyID)
	}
	creds, err = s.ListCredentials(ctx, sp.ObjectID)
	ok(t, err, "list credentials")
	equal(t, creds, storedAll(storedCredential, early, tie1, tie2, late), "credentials")
	if !creds[2].ExpiresAt.IsZero() || creds[2].SecretHash != nil {
		t.Fatalf("zero time or empty bytes did not round-trip: %#v", creds[2])
	}

	dup := newPassword(other.ObjectID, t0)
	dup.KeyID = tie1.KeyID
	isErr(t, s.AddCredential(ctx, dup), store.ErrConflict, "add credential with a key id another principal uses")
	dup.PrincipalID = sp.ObjectID
	isErr(t, s.AddCredential(ctx, dup), store.ErrConflict, "add credential with a key id taken")
	isErr(t, s.AddCredential(ctx, newPassword(newID(), t0)), store.ErrNotFound, "add credential to a missing principal")

	isErr(t, s.DeleteCredential(ctx, other.ObjectID, tie1.KeyID), store.ErrNotFound, "delete credential through another principal")
	ok(t, s.DeleteCredential(ctx, sp.ObjectID, tie1.KeyID), "delete credential")
	isErr(t, s.DeleteCredential(ctx, sp.ObjectID, tie1.KeyID), store.ErrNotFound, "delete credential twice")
	isErr(t, s.DeleteCredential(ctx, sp.ObjectID, newID()), store.ErrNotFound, "delete missing credential")
	creds, err = s.ListCredentials(ctx, sp.ObjectID)
	ok(t, err, "list credentials after delete")
	equal(t, creds, storedAll(storedCredential, early, tie2, late), "credentials after delete")
	creds, err = s.ListCredentials(ctx, other.ObjectID)
	ok(t, err, "list other's credentials")
	equal(t, creds, []store.Credential(nil), "other's credentials")
}

func testAppRoleAssignments(t *testing.T, s store.Store) {
	ctx := t.Context()
	tenantID := newID()
	client := newPrincipal(tenantID, t0)
	vault := newPrincipal(tenantID, t0)
	graph := newPrincipal(tenantID, t0)
	for _, sp := range []store.ServicePrincipal{client, vault, graph} {
		mustCreatePrincipal(t, s, sp)
	}

	late := newAssignment(client.ObjectID, vault.ObjectID, t0.Add(time.Minute))
	tieA := newAssignment(client.ObjectID, graph.ObjectID, t0)
	tieB := newAssignment(client.ObjectID, vault.ObjectID, t0)
	if tieB.ID < tieA.ID {
		tieA, tieB = tieB, tieA
	}
	reverse := newAssignment(vault.ObjectID, client.ObjectID, t0)
	for _, a := range []store.AppRoleAssignment{late, tieB, reverse, tieA} {
		ok(t, s.CreateAppRoleAssignment(ctx, a), "create assignment "+a.ID)
	}

	onVault := []store.AppRoleAssignment{tieB, late}
	if tieA.ResourceID == vault.ObjectID {
		onVault = []store.AppRoleAssignment{tieA, late}
	}
	want := map[string][]store.AppRoleAssignment{
		"":              {tieA, tieB, late},
		vault.ObjectID:  onVault,
		graph.ObjectID:  nil,
		client.ObjectID: nil,
	}
	if tieA.ResourceID == graph.ObjectID {
		want[graph.ObjectID] = []store.AppRoleAssignment{tieA}
	} else {
		want[graph.ObjectID] = []store.AppRoleAssignment{tieB}
	}
	for resourceID, w := range want {
		got, err := s.ListAppRoleAssignments(ctx, client.ObjectID, resourceID)
		ok(t, err, "list assignments on "+resourceID)
		equal(t, got, storedAll(storedAssignment, w...), "assignments of client on resource "+resourceID)
	}
	got, err := s.ListAppRoleAssignments(ctx, graph.ObjectID, "")
	ok(t, err, "list assignments of a principal holding none")
	equal(t, got, []store.AppRoleAssignment(nil), "assignments of a principal holding none")

	dupID := newAssignment(graph.ObjectID, vault.ObjectID, t0)
	dupID.ID = late.ID
	isErr(t, s.CreateAppRoleAssignment(ctx, dupID), store.ErrConflict, "create assignment with a taken id")
	dupRole := newAssignment(client.ObjectID, vault.ObjectID, t0)
	dupRole.AppRoleID = late.AppRoleID
	isErr(t, s.CreateAppRoleAssignment(ctx, dupRole), store.ErrConflict, "assign the same role twice")
	isErr(t, s.CreateAppRoleAssignment(ctx, newAssignment(newID(), vault.ObjectID, t0)), store.ErrNotFound, "assign to a missing principal")
	isErr(t, s.CreateAppRoleAssignment(ctx, newAssignment(client.ObjectID, newID(), t0)), store.ErrNotFound, "assign on a missing resource")

	ok(t, s.DeleteAppRoleAssignment(ctx, tieB.ID), "delete assignment")
	isErr(t, s.DeleteAppRoleAssignment(ctx, tieB.ID), store.ErrNotFound, "delete assignment twice")
	isErr(t, s.DeleteAppRoleAssignment(ctx, newID()), store.ErrNotFound, "delete missing assignment")
	got, err = s.ListAppRoleAssignments(ctx, client.ObjectID, "")
	ok(t, err, "list assignments after delete")
	equal(t, got, storedAll(storedAssignment, tieA, late), "assignments after delete")
	// The role can be assigned again once the assignment is gone.
	again := tieB
	again.ID = newID()
	ok(t, s.CreateAppRoleAssignment(ctx, again), "assign a role again after deleting it")
}

// ListPrincipalsPage: each filter as Graph's $filter means it (case ignored), pages in
// ListPrincipals' order that neither repeat nor skip when principals come and go between them,
// and a cursor it did not make refused.
func testListPrincipalsPage(t *testing.T, s store.Store) {
	ctx := t.Context()
	tenantID := newID()
	named := func(name string, kind store.PrincipalKind, created time.Time, uris ...string) store.ServicePrincipal {
		sp := newPrincipal(tenantID, created)
		sp.DisplayName, sp.Kind, sp.IdentifierURIs = name, kind, uris
		return sp
	}
	builtin := named("Microsoft Graph", store.KindApplication, t0)
	builtin.Builtin = true
	web := named("Web App", store.KindApplication, t0.Add(time.Second), "api://web", "https://Web.Example")
	webber := named("webber", store.KindApplication, t0.Add(2*time.Second))
	mi1 := named("web-identity", store.KindManagedIdentity, t0.Add(3*time.Second))
	mi2 := named("Worker", store.KindManagedIdentity, t0.Add(3*time.Second))
	if mi2.ObjectID < mi1.ObjectID {
		mi1.ObjectID, mi2.ObjectID = mi2.ObjectID, mi1.ObjectID
	}
	accented := named("Wébhook", store.KindApplication, t0.Add(4*time.Second))
	elsewhere := newPrincipal(newID(), t0)
	elsewhere.DisplayName, elsewhere.IdentifierURIs = "Web App", []string{"api://web"}
	for _, sp := range []store.ServicePrincipal{mi2, accented, web, builtin, elsewhere, webber, mi1} {
		mustCreatePrincipal(t, s, sp)
	}
	all := []store.ServicePrincipal{builtin, web, webber, mi1, mi2, accented}

	for _, tc := range []struct {
		what string
		f    store.PrincipalFilter
		want []store.ServicePrincipal
	}{
		{"all", store.PrincipalFilter{TenantID: strings.ToUpper(tenantID)}, all},
		{"applications", store.PrincipalFilter{TenantID: tenantID, Kind: store.KindApplication, NoBuiltin: true}, []store.ServicePrincipal{web, webber, accented}},
		{"managed identities", store.PrincipalFilter{TenantID: tenantID, Kind: store.KindManagedIdentity}, []store.ServicePrincipal{mi1, mi2}},
		{"appId", store.PrincipalFilter{TenantID: tenantID, AppID: strings.ToUpper(webber.AppID)}, []store.ServicePrincipal{webber}},
		{"appId elsewhere", store.PrincipalFilter{TenantID: tenantID, AppID: elsewhere.AppID}, nil},
		{"name is appId", store.PrincipalFilter{TenantID: tenantID, ServicePrincipalName: mi1.AppID}, []store.ServicePrincipal{mi1}},
		{"name is URI", store.PrincipalFilter{TenantID: tenantID, ServicePrincipalName: "https://web.example"}, []store.ServicePrincipal{web}},
		{"identifier URI", store.PrincipalFilter{TenantID: tenantID, IdentifierURI: "API://WEB"}, []store.ServicePrincipal{web}},
		{"identifier URI is no appId", store.PrincipalFilter{TenantID: tenantID, IdentifierURI: web.AppID}, nil},
		{"display name", store.PrincipalFilter{TenantID: tenantID, DisplayName: "web app"}, []store.ServicePrincipal{web}},
		{"display name is whole", store.PrincipalFilter{TenantID: tenantID, DisplayName: "web"}, nil},
		{"prefix", store.PrincipalFilter{TenantID: tenantID, DisplayNamePrefix: "WEB"}, []store.ServicePrincipal{web, webber, mi1}},
		{"prefix and kind", store.PrincipalFilter{TenantID: tenantID, DisplayNamePrefix: "w", Kind: store.KindManagedIdentity}, []store.ServicePrincipal{mi1, mi2}},
		{"prefix ends in ~", store.PrincipalFilter{TenantID: tenantID, DisplayNamePrefix: "web~"}, nil},
		{"non-ASCII letters kept", store.PrincipalFilter{TenantID: tenantID, DisplayName: "wébhook"}, []store.ServicePrincipal{accented}},
		{"several", store.PrincipalFilter{TenantID: tenantID, AppID: web.AppID, ServicePrincipalName: "api://web", DisplayNamePrefix: "Web"}, []store.ServicePrincipal{web}},
		{"several, one fails", store.PrincipalFilter{TenantID: tenantID, AppID: web.AppID, DisplayNamePrefix: "Wo"}, nil},
		{"limit", store.PrincipalFilter{TenantID: tenantID, Limit: 2}, all[:2]},
		{"after", store.PrincipalFilter{TenantID: tenantID, After: store.PrincipalCursor(mi1)}, []store.ServicePrincipal{mi2, accented}},
		{"after and filter", store.PrincipalFilter{TenantID: tenantID, After: store.PrincipalCursor(web), DisplayNamePrefix: "web", Limit: 1}, []store.ServicePrincipal{webber}},
		// $search: a display name by the beginnings of its words, the others by beginning.
		{"search a word", store.PrincipalFilter{TenantID: tenantID, Search: searchWords("app")}, []store.ServicePrincipal{web}},
		{"search words begin", store.PrincipalFilter{TenantID: tenantID, Search: searchWords("we")}, []store.ServicePrincipal{web, webber, mi1}},
		{"search joined words", store.PrincipalFilter{TenantID: tenantID, Search: searchWords("webid")}, []store.ServicePrincipal{mi1}},
		{"search all words", store.PrincipalFilter{TenantID: tenantID, Search: searchWords("iden", "web")}, []store.ServicePrincipal{mi1}},
		{"search all words, one missing", store.PrincipalFilter{TenantID: tenantID, Search: searchWords("iden", "app")}, nil},
		{"search inside a word", store.PrincipalFilter{TenantID: tenantID, Search: searchWords("orker")}, nil},
		{"search non-ASCII word", store.PrincipalFilter{TenantID: tenantID, Search: searchWords("wébh")}, []store.ServicePrincipal{accented}},
		{"search appId", store.PrincipalFilter{TenantID: tenantID, Search: &store.SearchTerm{Property: store.SearchAppID, Prefix: strings.ToUpper(webber.AppID[:8])}},
			[]store.ServicePrincipal{webber}},
		{"search id", store.PrincipalFilter{TenantID: tenantID, Search: &store.SearchTerm{Property: store.SearchObjectID, Prefix: mi2.ObjectID[:10]}},
			[]store.ServicePrincipal{mi2}},
		{"search or", store.PrincipalFilter{TenantID: tenantID, Search: &store.SearchTerm{Op: "OR", Left: searchWords("worker"),
			Right: &store.SearchTerm{Property: store.SearchAppID, Prefix: web.AppID}}}, []store.ServicePrincipal{web, mi2}},
		{"search and", store.PrincipalFilter{TenantID: tenantID, Search: &store.SearchTerm{Op: "AND", Left: searchWords("web"),
			Right: &store.SearchTerm{Property: store.SearchAppID, Prefix: web.AppID}}}, []store.ServicePrincipal{web}},
		{"search and filter", store.PrincipalFilter{TenantID: tenantID, Search: searchWords("w"), Kind: store.KindManagedIdentity, Limit: 1},
			[]store.ServicePrincipal{mi1}},
		{"search after", store.PrincipalFilter{TenantID: tenantID, Search: searchWords("w"), After: store.PrincipalCursor(mi1)},
			[]store.ServicePrincipal{mi2, accented}},
		{"search and name", store.PrincipalFilter{TenantID: tenantID, Search: searchWords("web"), ServicePrincipalName: "api://web"},
			[]store.ServicePrincipal{web}},
	} {
		got, err := s.ListPrincipalsPage(ctx, tc.f)
		ok(t, err, tc.what)
		equal(t, got, storedAll(storedPrincipal, tc.want...), tc.what)
	}

	// Pages by cursor: a principal deleted before the cursor and one created after it move
	// nothing; the new one comes on a later page.
	page, err := s.ListPrincipalsPage(ctx, store.PrincipalFilter{TenantID: tenantID, Limit: 3})
	ok(t, err, "first page")
	equal(t, page, storedAll(storedPrincipal, all[:3]...), "first page")
	ok(t, s.DeletePrincipal(ctx, builtin.ObjectID), "delete a listed principal")
	late := named("late", store.KindApplication, t0.Add(time.Hour))
	mustCreatePrincipal(t, s, late)
	page, err = s.ListPrincipalsPage(ctx, store.PrincipalFilter{TenantID: tenantID, Limit: 3, After: store.PrincipalCursor(page[2])})
	ok(t, err, "second page")
	equal(t, page, storedAll(storedPrincipal, mi1, mi2, accented), "second page")

	// A renamed principal is found by its new name only.
	renamed := webber
	renamed.DisplayName = "Renamed"
	ok(t, s.UpdatePrincipal(ctx, renamed), "rename")
	got, err := s.ListPrincipalsPage(ctx, store.PrincipalFilter{TenantID: tenantID, DisplayNamePrefix: "webb"})
	ok(t, err, "old name")
	equal(t, got, []store.ServicePrincipal(nil), "old name")
	got, err = s.ListPrincipalsPage(ctx, store.PrincipalFilter{TenantID: tenantID, DisplayName: "RENAMED"})
	ok(t, err, "new name")
	equal(t, got, storedAll(storedPrincipal, renamed), "new name")
	got, err = s.ListPrincipalsPage(ctx, store.PrincipalFilter{TenantID: tenantID, Search: searchWords("webber")})
	ok(t, err, "old name's words")
	equal(t, got, []store.ServicePrincipal(nil), "old name's words")
	got, err = s.ListPrincipalsPage(ctx, store.PrincipalFilter{TenantID: tenantID, Search: searchWords("ren")})
	ok(t, err, "new name's words")
	equal(t, got, storedAll(storedPrincipal, renamed), "new name's words")

	for _, bad := range []string{"nope", "m1.MA", store.PrincipalCursor(web) + "==", "cDE6MTIzOg", "cDE6eDpvYmo", strings.Repeat("A", 2000)} {
		_, err := s.ListPrincipalsPage(ctx, store.PrincipalFilter{TenantID: tenantID, After: bad})
		isErr(t, err, store.ErrInvalidCursor, "cursor "+bad)
	}
}

// searchWords is a $search clause on the display name by words, as Graph splits them.
func searchWords(words ...string) *store.SearchTerm {
	return &store.SearchTerm{Property: store.SearchDisplayName, Words: words}
}
