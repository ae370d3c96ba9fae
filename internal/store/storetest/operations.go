package storetest

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/mint-id/mint/internal/store"
)

func testSigningKeys(t *testing.T, s store.Store) {
	ctx := t.Context()
	ks, err := s.ListSigningKeys(ctx)
	ok(t, err, "list signing keys of an empty store")
	equal(t, ks, []store.SigningKey(nil), "signing keys of an empty store")

	mk := func(kid string, activate time.Time) store.SigningKey {
		return store.SigningKey{KID: kid, CreatedAt: t0, ActivateAt: activate, SealedKey: []byte("sealed " + kid), Certificate: []byte("cert " + kid)}
	}
	next := mk("next", t0.Add(24*time.Hour))
	current := mk("current", t0)
	old := mk("old", t0.Add(-24*time.Hour))
	old.Certificate = nil
	for _, k := range []store.SigningKey{next, current, old} {
		ok(t, s.CreateSigningKey(ctx, k), "create signing key "+k.KID)
	}
	ks, err = s.ListSigningKeys(ctx)
	ok(t, err, "list signing keys")
	equal(t, ks, storedAll(storedSigningKey, old, current, next), "signing keys by activation")

	isErr(t, s.CreateSigningKey(ctx, mk("current", t0)), store.ErrConflict, "create signing key with a taken kid")

	// Activating "next" now and pushing "current" out reorders the list.
	ok(t, s.SetSigningKeyActivation(ctx, "next", t0.Add(time.Second)), "activate next")
	ok(t, s.SetSigningKeyActivation(ctx, "current", t0.Add(48*time.Hour)), "postpone current")
	next.ActivateAt, current.ActivateAt = t0.Add(time.Second), t0.Add(48*time.Hour)
	ks, err = s.ListSigningKeys(ctx)
	ok(t, err, "list signing keys")
	equal(t, ks, storedAll(storedSigningKey, old, next, current), "signing keys after re-activation")
	isErr(t, s.SetSigningKeyActivation(ctx, "missing", t0), store.ErrNotFound, "activate missing signing key")

	ok(t, s.DeleteSigningKey(ctx, "old"), "delete signing key")
	isErr(t, s.DeleteSigningKey(ctx, "old"), store.ErrNotFound, "delete signing key twice")
	ks, err = s.ListSigningKeys(ctx)
	ok(t, err, "list signing keys")
	equal(t, ks, storedAll(storedSigningKey, next, current), "signing keys after delete")
}

func testSignIns(t *testing.T, s store.Store) {
	ctx := t.Context()
	es, err := s.ListSignIns(ctx, store.SignInFilter{})
	ok(t, err, "list sign-ins of an empty store")
	equal(t, es, []store.SignIn(nil), "sign-ins of an empty store")

	tenantA, tenantB := newID(), newID()
	principalA, principalB := newID(), newID()
	appA, appB := "AppA-"+newID(), "AppB-"+newID()
	mk := func(id string, at time.Time, tenantID, principalID, appID string) store.SignIn {
		return store.SignIn{
			ID: id, Time: at, TenantID: tenantID, PrincipalID: principalID, AppID: appID,
			Resource: "https://vault.azure.net", Grant: "client_credentials", Result: "success",
			CorrelationID: newID(), TokenID: "uti-" + id,
		}
	}
	e1 := mk("e1", t0, tenantA, principalA, appA)
	e2 := mk("e2", t0.Add(time.Second), tenantA, principalB, appB)
	e3a := mk("e3a", t0.Add(2*time.Second), tenantB, principalA, appA)
	e3b := mk("e3b", t0.Add(2*time.Second), tenantA, principalA, appB) // same time as e3a: ID breaks the tie
	e4 := mk("e4", t0.Add(3*time.Second), tenantB, "", "unknown-client")
	e4.Result, e4.ErrorCode, e4.Reason, e4.TokenID = "failure", "AADSTS700016", "no such application", ""
	e4.Grant, e4.ResourceID = "managed_identity", "/subscriptions/s/resourceGroups/g/providers/Microsoft.Compute/virtualMachines/vm"
	ok(t, s.RecordSignIns(ctx, []store.SignIn{e3b, e1, e4}), "record sign-ins")
	ok(t, s.RecordSignIns(ctx, []store.SignIn{e2, e3a}), "record sign-ins")
	ok(t, s.RecordSignIns(ctx, nil), "record no sign-ins")

	tests := []struct {
		name string
		f    store.SignInFilter
		want []store.SignIn
	}{
		{"all", store.SignInFilter{}, []store.SignIn{e4, e3a, e3b, e2, e1}},
		{"tenant", store.SignInFilter{TenantID: tenantA}, []store.SignIn{e3b, e2, e1}},
		{"tenant in other case", store.SignInFilter{TenantID: strings.ToUpper(tenantB)}, []store.SignIn{e4, e3a}},
		{"principal", store.SignInFilter{PrincipalID: principalA}, []store.SignIn{e3a, e3b, e1}},
		{"app", store.SignInFilter{AppID: appB}, []store.SignIn{e3b, e2}},
		{"app in other case", store.SignInFilter{AppID: strings.ToLower(appA)}, []store.SignIn{e3a, e1}},
		{"since is inclusive", store.SignInFilter{Since: t0.Add(2 * time.Second)}, []store.SignIn{e4, e3a, e3b}},
		{"until is exclusive", store.SignInFilter{Until: t0.Add(2 * time.Second)}, []store.SignIn{e2, e1}},
		{"window", store.SignInFilter{Since: t0.Add(time.Second), Until: t0.Add(3 * time.Second)}, []store.SignIn{e3a, e3b, e2}},
		{"limit", store.SignInFilter{Limit: 2}, []store.SignIn{e4, e3a}},
		{"negative limit means default", store.SignInFilter{Limit: -1}, []store.SignIn{e4, e3a, e3b, e2, e1}},
		{"every field", store.SignInFilter{TenantID: tenantA, PrincipalID: principalA, AppID: appB, Since: t0, Until: t0.Add(time.Hour), Limit: 10}, []store.SignIn{e3b}},
		{"no match", store.SignInFilter{TenantID: tenantA, AppID: "unknown-client"}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := s.ListSignIns(ctx, tc.f)
			ok(t, err, "list sign-ins")
			equal(t, got, storedAll(storedSignIn, tc.want...), "sign-ins")
		})
	}
}

func testSignInBatches(t *testing.T, s store.Store) {
	ctx := t.Context()
	batch := make([]store.SignIn, 150)
	for i := range batch {
		batch[i] = store.SignIn{ID: fmt.Sprintf("e%03d", i), Time: t0.Add(time.Duration(i) * time.Millisecond), TenantID: "t", Result: "success"}
	}
	ok(t, s.RecordSignIns(ctx, batch), "record a batch")
	got, err := s.ListSignIns(ctx, store.SignInFilter{})
	ok(t, err, "list sign-ins")
	if len(got) != 100 {
		t.Fatalf("Limit 0 returned %d entries, want 100", len(got))
	}
	if got[0].ID != "e149" || got[99].ID != "e050" {
		t.Fatalf("Limit 0 returned %s..%s, want e149..e050", got[0].ID, got[99].ID)
	}
	got, err = s.ListSignIns(ctx, store.SignInFilter{Limit: 1000})
	ok(t, err, "list sign-ins")
	if len(got) != 150 {
		t.Fatalf("Limit 1000 returned %d entries, want 150", len(got))
	}

	// A batch is stored entirely or not at all: a duplicate id, in the batch or already stored,
	// fails the whole batch.
	fresh := store.SignIn{ID: "fresh", Time: t0.Add(time.Hour), TenantID: "t"}
	isErr(t, s.RecordSignIns(ctx, []store.SignIn{fresh, batch[3]}), store.ErrConflict, "record a batch repeating a stored id")
	isErr(t, s.RecordSignIns(ctx, []store.SignIn{fresh, fresh}), store.ErrConflict, "record a batch with one id twice")
	got, err = s.ListSignIns(ctx, store.SignInFilter{Since: t0.Add(time.Hour)})
	ok(t, err, "list sign-ins")
	equal(t, got, []store.SignIn(nil), "sign-ins of failed batches")
	ok(t, s.RecordSignIns(ctx, []store.SignIn{fresh}), "record after failed batches")
}

func testAssertions(t *testing.T, s store.Store) {
	ctx := t.Context()
	now := time.Now()
	steps := []struct {
		name    string
		key     string
		expires time.Time
		want    error
	}{
		{"first use", "jti-1", now.Add(time.Hour), nil},
		{"replay", "jti-1", now.Add(time.Hour), store.ErrConflict},
		{"replay with another expiry", "jti-1", now.Add(-time.Hour), store.ErrConflict},
		{"another key", "jti-2", now.Add(time.Hour), nil},
		{"keys are case-sensitive", "JTI-1", now.Add(time.Hour), nil},
		{"recorded already expired", "jti-3", now.Add(-time.Minute), nil},
		{"expired record is replaced", "jti-3", now.Add(time.Hour), nil},
		{"replacement is live", "jti-3", now.Add(time.Hour), store.ErrConflict},
	}
	for _, st := range steps {
		err := s.UseAssertion(ctx, st.key, st.expires)
		if st.want == nil {
			ok(t, err, st.name)
		} else {
			isErr(t, err, st.want, st.name)
		}
	}

	// A record expires on its own.
	expires := time.Now().Add(time.Second)
	ok(t, s.UseAssertion(ctx, "short", expires), "use short-lived assertion")
	isErr(t, s.UseAssertion(ctx, "short", time.Now().Add(time.Hour)), store.ErrConflict, "replay short-lived assertion")
	time.Sleep(time.Until(expires) + 10*time.Millisecond)
	ok(t, s.UseAssertion(ctx, "short", time.Now().Add(time.Hour)), "use short-lived assertion after expiry")

	// Many expired records do not get in the way of new ones.
	for i := range 250 {
		ok(t, s.UseAssertion(ctx, fmt.Sprintf("old-%d", i), now.Add(-time.Hour)), "use expired assertion")
	}
	for i := range 250 {
		ok(t, s.UseAssertion(ctx, fmt.Sprintf("old-%d", i), now.Add(time.Hour)), "reuse expired assertion")
	}
}

func testSettings(t *testing.T, s store.Store) {
	ctx := t.Context()
	_, err := s.GetSetting(ctx, "default-tenant")
	isErr(t, err, store.ErrNotFound, "get missing setting")
	ok(t, s.PutSetting(ctx, "default-tenant", "a"), "put setting")
	ok(t, s.PutSetting(ctx, "bootstrap", ""), "put empty setting")
	v, err := s.GetSetting(ctx, "default-tenant")
	ok(t, err, "get setting")
	equal(t, v, "a", "setting")
	ok(t, s.PutSetting(ctx, "default-tenant", "b"), "replace setting")
	v, err = s.GetSetting(ctx, "default-tenant")
	ok(t, err, "get replaced setting")
	equal(t, v, "b", "replaced setting")
	v, err = s.GetSetting(ctx, "bootstrap")
	ok(t, err, "get empty setting")
	equal(t, v, "", "empty setting")
	_, err = s.GetSetting(ctx, "DEFAULT-TENANT")
	isErr(t, err, store.ErrNotFound, "setting keys are case-sensitive")
}

func testTimes(t *testing.T, s store.Store) {
	ctx := t.Context()
	times := []time.Time{
		t0,
		time.Date(2024, 1, 1, 0, 0, 0, 999, time.UTC), // below a microsecond
		time.Date(2024, 1, 1, 0, 0, 0, 1999, time.FixedZone("x", -5*3600)),
		time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(1969, 12, 31, 23, 59, 59, 500000, time.UTC), // before the Unix epoch
		time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC),
		time.Now(), // carries a monotonic reading
		{},         // the zero time
	}
	for i, at := range times {
		k := store.SigningKey{KID: fmt.Sprintf("k%d", i), CreatedAt: at, ActivateAt: at}
		ok(t, s.CreateSigningKey(ctx, k), "create signing key")
	}
	ks, err := s.ListSigningKeys(ctx)
	ok(t, err, "list signing keys")
	if len(ks) != len(times) {
		t.Fatalf("got %d keys, want %d", len(ks), len(times))
	}
	for _, k := range ks {
		var i int
		fmt.Sscanf(k.KID, "k%d", &i)
		want := times[i].UTC().Truncate(time.Microsecond)
		if !k.CreatedAt.Equal(want) || k.CreatedAt.Location() != time.UTC {
			t.Errorf("time %v came back as %v (%v), want %v in UTC", times[i], k.CreatedAt, k.CreatedAt.Location(), want)
		}
		if times[i].IsZero() && !k.CreatedAt.IsZero() {
			t.Errorf("zero time came back as %v", k.CreatedAt)
		}
	}
	sorted := sort.SliceIsSorted(ks, func(i, j int) bool { return ks[i].ActivateAt.Before(ks[j].ActivateAt) })
	if !sorted {
		t.Errorf("keys not ordered by ActivateAt: %v", ks)
	}
}

func testCancellation(t *testing.T, s store.Store) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	tenantID := newID()
	sp := newPrincipal(tenantID, t0)
	// A live group and resource, which calls with a cancelled context must leave alone.
	liveSub := newID()
	mustPutGroup(t, s, newGroup(liveSub, "g", t0))
	liveResource := newResource(liveSub, "g", vmType, "vm", t0)
	mustPutResource(t, s, liveResource)
	assignment := newRoleAssignment("/", sp.ObjectID, newID(), t0)
	calls := []struct {
		name string
		call func() error
	}{
		{"CreateTenant", func() error { return s.CreateTenant(ctx, newTenant(t0)) }},
		{"GetTenant", func() error { _, err := s.GetTenant(ctx, tenantID); return err }},
		{"ListTenants", func() error { _, err := s.ListTenants(ctx); return err }},
		{"CreatePrincipal", func() error { return s.CreatePrincipal(ctx, sp, []store.Credential{newPassword(sp.ObjectID, t0)}) }},
		{"GetPrincipal", func() error { _, err := s.GetPrincipal(ctx, sp.ObjectID); return err }},
		{"ListPrincipals", func() error { _, err := s.ListPrincipals(ctx, tenantID, ""); return err }},
		{"RecordSignIns", func() error { return s.RecordSignIns(ctx, []store.SignIn{{ID: "x", Time: t0}}) }},
		{"ListSignIns", func() error { _, err := s.ListSignIns(ctx, store.SignInFilter{}); return err }},
		{"UseAssertion", func() error { return s.UseAssertion(ctx, "jti", time.Now().Add(time.Hour)) }},
		{"PutSetting", func() error { return s.PutSetting(ctx, "k", "v") }},
		{"GetSetting", func() error { _, err := s.GetSetting(ctx, "k"); return err }},
		{"PutResourceGroup", func() error { _, err := s.PutResourceGroup(ctx, newGroup(tenantID, "g", t0)); return err }},
		{"ListResourceGroups", func() error { _, err := s.ListResourceGroups(ctx, tenantID); return err }},
		{"DeleteResourceGroup", func() error { _, err := s.DeleteResourceGroup(ctx, liveSub, "g"); return err }},
		{"PutResource", func() error {
			moved := liveResource
			moved.Location = "elsewhere"
			_, err := s.PutResource(ctx, moved, nil, nil)
			return err
		}},
		{"GetResource", func() error { _, err := s.GetResource(ctx, liveResource.ID); return err }},
		{"DeleteResource", func() error { _, err := s.DeleteResource(ctx, liveResource.ID); return err }},
		{"PutRoleDefinition", func() error { _, err := s.PutRoleDefinition(ctx, newRoleDefinition("r", t0)); return err }},
		{"CreateRoleAssignment", func() error { return s.CreateRoleAssignment(ctx, assignment) }},
		{"ListRoleAssignments", func() error {
			_, err := s.ListRoleAssignments(ctx, store.RoleAssignmentFilter{AtOrAbove: "/"})
			return err
		}},
		{"ListRoleAssignmentsForPrincipal", func() error { _, err := s.ListRoleAssignmentsForPrincipal(ctx, sp.ObjectID); return err }},
		{"AppendActivity", func() error { return s.AppendActivity(ctx, store.ActivityEvent{ID: "x", Time: t0}) }},
		{"ListActivity", func() error { _, err := s.ListActivity(ctx, store.ActivityFilter{}); return err }},
	}
	for _, c := range calls {
		isErr(t, c.call(), context.Canceled, c.name+" with a cancelled context")
	}
	// Nothing was written.
	live := t.Context()
	_, err := s.GetPrincipal(live, sp.ObjectID)
	isErr(t, err, store.ErrNotFound, "principal created with a cancelled context")
	_, err = s.GetSetting(live, "k")
	isErr(t, err, store.ErrNotFound, "setting put with a cancelled context")
	ok(t, s.UseAssertion(live, "jti", time.Now().Add(time.Hour)), "assertion used with a cancelled context")
	es, err := s.ListSignIns(live, store.SignInFilter{})
	ok(t, err, "list sign-ins")
	equal(t, es, []store.SignIn(nil), "sign-ins recorded with a cancelled context")
	gs, err := s.ListResourceGroups(live, tenantID)
	ok(t, err, "list resource groups")
	equal(t, gs, []store.ResourceGroup(nil), "resource groups put with a cancelled context")
	_, err = s.GetResourceGroup(live, liveSub, "g")
	ok(t, err, "resource group deleted with a cancelled context")
	got, err := s.GetResource(live, liveResource.ID)
	ok(t, err, "resource deleted with a cancelled context")
	equal(t, got, storedResource(liveResource), "resource put with a cancelled context")
	ds, err := s.ListRoleDefinitions(live)
	ok(t, err, "list role definitions")
	equal(t, ds, []store.RoleDefinition(nil), "role definitions put with a cancelled context")
	as, err := s.ListRoleAssignments(live, store.RoleAssignmentFilter{})
	ok(t, err, "list role assignments")
	equal(t, as, []store.RoleAssignment(nil), "role assignments created with a cancelled context")
	evs, err := s.ListActivity(live, store.ActivityFilter{})
	ok(t, err, "list activity")
	equal(t, evs, []store.ActivityEvent(nil), "activity appended with a cancelled context")
}

func testConcurrency(t *testing.T, s store.Store) {
	ctx := t.Context()
	tenantID := newID()

	t.Run("50 principals at once", func(t *testing.T) {
		sps := make([]store.ServicePrincipal, 50)
		for i := range sps {
			sps[i] = newPrincipal(tenantID, t0.Add(time.Duration(i)*time.Second))
			sps[i].IdentifierURIs = []string{fmt.Sprintf("api://app-%d", i)}
		}
		errs := parallel(len(sps), func(i int) error {
			return s.CreatePrincipal(ctx, sps[i], []store.Credential{newPassword(sps[i].ObjectID, t0)})
		})
		for i, err := range errs {
			ok(t, err, fmt.Sprintf("create principal %d", i))
		}
		got, err := s.ListPrincipals(ctx, tenantID, "")
		ok(t, err, "list principals")
		equal(t, got, storedAll(storedPrincipal, sps...), "principals created at once")
	})

	t.Run("one appId claimed 20 times at once", func(t *testing.T) {
		appID := newID()
		errs := parallel(20, func(int) error {
			sp := newPrincipal(tenantID, t0)
			sp.AppID = appID
			return s.CreatePrincipal(ctx, sp, nil)
		})
		oneWinner(t, errs, "create principals with one appId")
	})

	t.Run("one identifier URI claimed 20 times at once", func(t *testing.T) {
		errs := parallel(20, func(i int) error {
			sp := newPrincipal(tenantID, t0)
			sp.IdentifierURIs = []string{fmt.Sprintf("https://Contested%d.example", i), "https://contested.example"}
			return s.CreatePrincipal(ctx, sp, nil)
		})
		oneWinner(t, errs, "create principals with one identifier URI")
	})

	t.Run("one assertion used 20 times at once", func(t *testing.T) {
		errs := parallel(20, func(int) error { return s.UseAssertion(ctx, "jti-race", time.Now().Add(time.Hour)) })
		oneWinner(t, errs, "use one assertion")
	})

	t.Run("one expired assertion reused 20 times at once", func(t *testing.T) {
		ok(t, s.UseAssertion(ctx, "jti-expired-race", time.Now().Add(-time.Minute)), "record expired assertion")
		errs := parallel(20, func(int) error { return s.UseAssertion(ctx, "jti-expired-race", time.Now().Add(time.Hour)) })
		oneWinner(t, errs, "reuse one expired assertion")
	})

	t.Run("mixed readers and writers", func(t *testing.T) {
		sp := newPrincipal(tenantID, t0)
		mustCreatePrincipal(t, s, sp)
		errs := parallel(60, func(i int) error {
			switch i % 6 {
			case 0:
				return s.PutSetting(ctx, "counter", fmt.Sprint(i))
			case 1:
				if _, err := s.GetSetting(ctx, "counter"); err != nil && !errors.Is(err, store.ErrNotFound) {
					return err
				}
				return nil
			case 2:
				return s.AddCredential(ctx, newPassword(sp.ObjectID, t0))
			case 3:
				_, err := s.ListCredentials(ctx, sp.ObjectID)
				return err
			case 4:
				return s.RecordSignIns(ctx, []store.SignIn{{ID: newID(), Time: time.Now(), TenantID: tenantID}, {ID: newID(), Time: time.Now(), TenantID: tenantID}})
			default:
				_, err := s.GetPrincipalByAppID(ctx, tenantID, sp.AppID)
				return err
			}
		})
		for i, err := range errs {
			ok(t, err, fmt.Sprintf("call %d", i))
		}
		creds, err := s.ListCredentials(ctx, sp.ObjectID)
		ok(t, err, "list credentials")
		equal(t, len(creds), 10, "credentials added at once")
		es, err := s.ListSignIns(ctx, store.SignInFilter{TenantID: tenantID})
		ok(t, err, "list sign-ins")
		equal(t, len(es), 20, "sign-ins recorded at once")
	})
}

func testSharedWrites(t *testing.T, a, b store.Store) {
	ctx := t.Context()
	tn := newTenant(t0)
	ok(t, a.CreateTenant(ctx, tn), "create tenant through a")
	got, err := b.GetTenant(ctx, tn.DefaultDomain)
	ok(t, err, "get tenant through b")
	equal(t, got, storedTenant(tn), "tenant seen by b")
	isErr(t, b.CreateTenant(ctx, tn), store.ErrConflict, "create the same tenant through b")

	sp := newPrincipal(tn.ID, t0)
	cred := newPassword(sp.ObjectID, t0)
	mustCreatePrincipal(t, a, sp, cred)
	gotSP, err := b.GetPrincipalByAppID(ctx, tn.ID, sp.AppID)
	ok(t, err, "get principal through b")
	equal(t, gotSP, storedPrincipal(sp), "principal seen by b")

	sp.DisplayName = "renamed by b"
	ok(t, b.UpdatePrincipal(ctx, sp), "update principal through b")
	gotSP, err = a.GetPrincipal(ctx, sp.ObjectID)
	ok(t, err, "get principal through a")
	equal(t, gotSP, storedPrincipal(sp), "update seen by a")

	ok(t, a.PutSetting(ctx, "k", "from a"), "put setting through a")
	v, err := b.GetSetting(ctx, "k")
	ok(t, err, "get setting through b")
	equal(t, v, "from a", "setting seen by b")
	ok(t, b.PutSetting(ctx, "k", "from b"), "put setting through b")
	v, err = a.GetSetting(ctx, "k")
	ok(t, err, "get setting through a")
	equal(t, v, "from b", "setting seen by a")

	ok(t, a.RecordSignIns(ctx, []store.SignIn{{ID: "s1", Time: t0, TenantID: tn.ID}}), "record sign-in through a")
	es, err := b.ListSignIns(ctx, store.SignInFilter{})
	ok(t, err, "list sign-ins through b")
	equal(t, len(es), 1, "sign-ins seen by b")

	ok(t, b.DeletePrincipal(ctx, sp.ObjectID), "delete principal through b")
	_, err = a.GetPrincipal(ctx, sp.ObjectID)
	isErr(t, err, store.ErrNotFound, "get principal deleted by b through a")
	creds, err := a.ListCredentials(ctx, sp.ObjectID)
	ok(t, err, "list credentials through a")
	equal(t, creds, []store.Credential(nil), "credentials of a principal deleted by b")
}

func testSharedAssertions(t *testing.T, a, b store.Store) {
	ctx := t.Context()
	ok(t, a.UseAssertion(ctx, "jti", time.Now().Add(time.Hour)), "use assertion through a")
	isErr(t, b.UseAssertion(ctx, "jti", time.Now().Add(time.Hour)), store.ErrConflict, "replay assertion through b")

	handles := []store.Store{a, b}
	errs := parallel(20, func(i int) error { return handles[i%2].UseAssertion(ctx, "jti-race", time.Now().Add(time.Hour)) })
	oneWinner(t, errs, "use one assertion through two handles")
}

func testSharedConcurrentWriters(t *testing.T, a, b store.Store) {
	ctx := t.Context()
	tenantID := newID()
	handles := []store.Store{a, b}
	errs := parallel(50, func(i int) error {
		sp := newPrincipal(tenantID, t0)
		if err := handles[i%2].CreatePrincipal(ctx, sp, []store.Credential{newPassword(sp.ObjectID, t0)}); err != nil {
			return err
		}
		return handles[(i+1)%2].RecordSignIns(ctx, []store.SignIn{{ID: newID(), Time: time.Now(), TenantID: tenantID, PrincipalID: sp.ObjectID}})
	})
	for i, err := range errs {
		ok(t, err, fmt.Sprintf("write %d", i))
	}
	for name, h := range map[string]store.Store{"a": a, "b": b} {
		sps, err := h.ListPrincipals(ctx, tenantID, "")
		ok(t, err, "list principals through "+name)
		equal(t, len(sps), 50, "principals seen by "+name)
		es, err := h.ListSignIns(ctx, store.SignInFilter{TenantID: tenantID})
		ok(t, err, "list sign-ins through "+name)
		equal(t, len(es), 50, "sign-ins seen by "+name)
	}
}
