// Package storetest is the conformance suite every store.Store implementation must pass, in the
// manner of Dex's storage/conformance. It is the executable contract of package store: where
// store.go leaves a choice open, the suite makes it, and the rules below are what the SQLite and
// PostgreSQL stores (and any fake used in place of them) promise.
//
// Identity and case
//   - Ids users type or paste are compared case-insensitively: tenant id and default domain
//     (GetTenant), subscription id, a principal's appId, identifier URIs, and the TenantID and
//     AppID arguments and filters that select by them. The spelling given at creation is the one
//     returned.
//   - Ids mint generates and hands back are compared exactly: object ids (principal, resource),
//     credential key ids, app role assignment ids, signing key kids, sign-in ids, assertion keys and
//     setting keys.
//
// Uniqueness (ErrConflict, and nothing of the failed call is stored)
//   - tenant id; tenant default domain, when not empty;
//   - subscription id;
//   - principal object id; appId within a tenant; identifier URI within a tenant, also against
//     the principal's own other URIs (so ["https://a", "https://A"] conflicts);
//   - credential key id, across all principals;
//   - app role assignment id; and one assignment per (principal, resource, app role), as Entra;
//   - signing key kid; sign-in id (RecordSignIns stores a batch entirely or not at all);
//   - an assertion key still recorded and not yet expired.
//
// Missing rows (ErrNotFound)
//   - Get* of a missing record (GetTenant(""), too); GetSetting of a missing key;
//   - UpdatePrincipal, DeletePrincipal, DeleteCredential (also when the key id belongs to another
//     principal), DeleteAppRoleAssignment, SetSigningKeyActivation and DeleteSigningKey of a
//     missing record;
//   - AddCredential for a missing principal, CreateAppRoleAssignment naming a missing principal
//     or resource.
//
// Errors are wrapped with context; errors.Is(err, store.ErrNotFound / store.ErrConflict /
// context.Canceled) holds. A call made with a cancelled context fails and writes nothing.
//
// Records
//   - Times come back in UTC, truncated to the microsecond; the zero time comes back as the zero
//     time.
//   - Empty slices ([]string, []AppRole, []byte) come back nil, whether stored nil or empty, and a
//     List method that finds nothing returns nil.
//   - The store holds no business rules and fills in nothing: it does not default
//     AccessTokenVersion, refuse to delete a Builtin principal, check that a TenantID names a
//     tenant or that an AppRoleID is one of the resource's roles.
//   - CreatePrincipal stores creds under sp.ObjectID (a credential with an empty PrincipalID
//     gets it; one naming another principal is an error).
//   - UpdatePrincipal changes DisplayName, IdentifierURIs, AppRoles, AccessTokenVersion and
//     AlternativeNames only; ObjectID selects the record, every other field is ignored.
//   - DeletePrincipal also removes its credentials, its identifier URIs (free for reuse) and the
//     app role assignments it holds or that were granted on it as the resource.
//
// Order
//   - ListTenants, ListSubscriptions: CreatedAt, then id.
//   - ListPrincipals: CreatedAt, then ObjectID.
//   - ListCredentials: StartsAt (oldest first), then the order they were added.
//   - ListAppRoleAssignments: CreatedAt, then ID.
//   - ListSigningKeys: ActivateAt ascending, then CreatedAt, then KID.
//   - ListSignIns: newest first (Time descending), then ID ascending. Filter fields combine with
//     AND; Since is inclusive, Until exclusive; Limit 0 (or negative) means 100.
//
// Assertions: UseAssertion succeeds when the key is unknown or its record has expired (at or
// before now; the record is replaced), and fails with ErrConflict while it is live. Exactly one
// of many concurrent uses of a key succeeds. Expired records are removed as other keys are used.
//
// Settings: PutSetting inserts or replaces; GetSetting of a key never put is ErrNotFound.
//
// Concurrency: every method is safe for concurrent use, and concurrent writes do not fail
// because of each other (no "database is locked"). Two handles on one database (RunShared) see
// each other's writes as soon as the write returns.
//
// # Control plane (store.ControlPlane)
//
// ARM ids and scopes are compared case-insensitively and without trailing slashes ("/" and ""
// are the root); "below x" means on a path-segment boundary (x + "/" ...), so ".../rg1" is not
// below ".../rg", and '_' and '%' in names are plain characters. Every other id the control plane
// takes (subscription id, group name, type, role definition and assignment ids, principal ids of
// role assignments, role names, the activity filter's caller) is compared case-insensitively too,
// and the spelling first written is the one returned. The zero-value and nil conventions above
// hold: empty Tags maps, Properties, Permissions, AssignableScopes and UserAssignedIdentities
// come back nil, times UTC at the microsecond.
//
// Resource groups are keyed by (SubscriptionID, Name).
//   - PutResourceGroup creates (created = true) or replaces Location, Tags and ManagedBy (false),
//     keeping the name's original case and CreatedAt.
//   - ListResourceGroups: CreatedAt, then name (case-folded).
//   - DeleteResourceGroup deletes, in one transaction, the group; every resource whose id is
//     below the group or that names it as its group; the principals those resources own
//     (Resource.PrincipalID), with their credentials and app role assignments; and every role
//     assignment scoped at or below the group. It returns the resources deleted, by CreatedAt then
//     id (nil for an empty group). ErrNotFound if there is no group.
//
// Resources are keyed by ID.
//   - PutResource, in one transaction: ErrNotFound unless the group (r.SubscriptionID,
//     r.ResourceGroup) exists; creates the resource (created = true) or replaces it (false),
//     keeping the ID, Name, SubscriptionID and ResourceGroup first written and CreatedAt, replacing
//     everything else (Type, Location, Tags, Properties, PrincipalID, UserAssignedIdentities,
//     UpdatedAt); creates each principal in create (ErrConflict, as CreatePrincipal, fails the
//     whole call and stores nothing of it); deletes each principal in deletePrincipals with its
//     credentials and app role assignments (one already gone is not an error). Of concurrent puts
//     of one new id, exactly one is told created. A resource cannot outlive its group: a put
//     racing DeleteResourceGroup either lands before it (and is deleted with the group) or fails
//     with ErrNotFound.
//   - The store does not check that a child's parent exists, that the ID agrees with the other
//     fields, or that principals in create belong to the resource.
//   - ListResources: filter fields combine with AND; Type matches exactly (children have their
//     own type); ParentID lists every resource strictly below it (children of children too; "/" is
//     every resource); AttachedIdentity lists the resources whose UserAssignedIdentities hold it.
//     Order: CreatedAt, then id (case-folded).
//   - DeleteResource deletes, in one transaction, the resource, every resource below it, the
//     principals they own (as above), and the role assignments scoped at or below it. It returns
//     the resource first, then the others by CreatedAt then id; ErrNotFound if the resource does
//     not exist. Other resources keep the deleted identity in their UserAssignedIdentities (and
//     are still listed by AttachedIdentity) until they are put again.
//
// Role definitions are keyed by ID; RoleName is unique.
//   - PutRoleDefinition creates (true) or replaces (false) everything but the ID's spelling,
//     CreatedAt and CreatedBy. ErrConflict, storing nothing, when another definition has the name.
//   - ListRoleDefinitions: CreatedAt, then id (case-folded). DeleteRoleDefinition and
//     GetRoleDefinition of a missing id: ErrNotFound.
//
// Role assignments are immutable (create, get, list, delete).
//   - CreateRoleAssignment: ErrConflict when the ID is taken, or when an assignment of the same
//     role to the same principal exists at the same scope. RoleDefinitionID is stored as given
//     and may be a GUID or a full id (".../roleDefinitions/{guid}"): the grant is keyed on the
//     GUID, so the two spellings are the same role. Of concurrent creates of one grant under
//     different ids, exactly one succeeds.
//   - ListRoleAssignments: PrincipalID narrows to one principal; AtOrAbove keeps assignments
//     whose scope is it or an ancestor of it on a segment boundary (the root "/" is an ancestor of
//     everything; "/subscriptions" is an ancestor of "/subscriptions/x"); Below keeps those at it
//     or below it (Below "/" is everything); both set means their union; neither means every scope.
//   - ListRoleAssignmentsForPrincipal lists every assignment of a principal.
//   - Both lists: CreatedAt, then id (case-folded). DeleteRoleAssignment returns the deleted
//     record; it and GetRoleAssignment of a missing id are ErrNotFound.
//
// Activity log
//   - AppendActivity stores a batch entirely or not at all; an event ID already stored, or twice
//     in the batch, is ErrConflict (ids are compared exactly, as sign-in ids). No events is a no-op.
//   - ListActivity: filter fields combine with AND; SubscriptionID, ResourceGroup and Caller match
//     case-insensitively; ResourceID keeps the events of that resource and of those below it;
//     Since is inclusive, Until exclusive; Limit 0 (or negative) means 100. Newest first (Time
//     descending), then ID ascending.
package storetest

import (
	"crypto/rand"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/mint-id/mint/internal/store"
)

// Run runs the suite. open must return a new, empty store and arrange (with t.Cleanup) for it to
// be closed; it is called once per subtest, and subtests run in parallel (as many as -parallel
// allows), so open must be safe to call concurrently.
func Run(t *testing.T, open func(t *testing.T) store.Store) {
	tests := []struct {
		name string
		run  func(t *testing.T, s store.Store)
	}{
		{"Tenants", testTenants},
		{"Subscriptions", testSubscriptions},
		{"PrincipalRoundTrip", testPrincipalRoundTrip},
		{"PrincipalLookups", testPrincipalLookups},
		{"PrincipalConflicts", testPrincipalConflicts},
		{"ListPrincipals", testListPrincipals},
		{"ListPrincipalsPage", testListPrincipalsPage},
		{"UpdatePrincipal", testUpdatePrincipal},
		{"PrincipalRedirectURIs", testPrincipalRedirectURIs},
		{"DeletePrincipal", testDeletePrincipal},
		{"Credentials", testCredentials},
		{"FederatedCredentials", testFederatedCredentials},
		{"AppRoleAssignments", testAppRoleAssignments},
		{"SigningKeys", testSigningKeys},
		{"SignIns", testSignIns},
		{"SignInBatches", testSignInBatches},
		{"PurgeLogs", testPurgeLogs},
		{"Assertions", testAssertions},
		{"Settings", testSettings},
		{"Times", testTimes},
		{"Cancellation", testCancellation},
		{"Concurrency", testConcurrency},
		{"ResourceGroups", testResourceGroups},
		{"DeleteResourceGroup", testDeleteResourceGroup},
		{"ResourceRoundTrip", testResourceRoundTrip},
		{"PutResourcePrincipals", testPutResourcePrincipals},
		{"ListResources", testListResources},
		{"PageResources", testPageResources},
		{"DeleteResource", testDeleteResource},
		{"RoleDefinitions", testRoleDefinitions},
		{"RoleAssignments", testRoleAssignments},
		{"ListRoleAssignments", testListRoleAssignments},
		{"RoleAssignmentPages", testRoleAssignmentPages},
		{"RoleAssignmentsForPrincipals", testRoleAssignmentsForPrincipals},
		{"RoleAssignmentInDeletedGroup", testRoleAssignmentInDeletedGroup},
		{"SeedManagedIdentities", testSeedManagedIdentities},
		{"Activity", testActivity},
		{"ActivityWithWrite", testActivityWithWrite},
		{"ControlPlaneConcurrency", testControlPlaneConcurrency},
		{"Vaults", testVaults},
		{"Secrets", testSecrets},
		{"DeletedSecrets", testDeletedSecrets},
		{"RestoreSecret", testRestoreSecret},
		{"VaultCascade", testVaultCascade},
		{"SecretConcurrency", testSecretConcurrency},
		{"Users", testUsers},
		{"Groups", testGroups},
		{"PeoplePages", testPeoplePages},
		{"DeviceCodes", testDeviceCodes},
		{"PortalSessions", testPortalSessions},
		{"Revocations", testRevocations},
		{"RevocationsThroughGroups", testRevocationsThroughGroups},
		{"Owners", testOwners},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.run(t, open(t))
		})
	}
}

// RunShared runs the tests for two handles on one database, as two mint servers sharing a
// PostgreSQL database or two processes opening one SQLite file. openPair must return two handles
// on a new, empty database and arrange for both to be closed; like open for Run, it is called
// once per subtest, concurrently.
func RunShared(t *testing.T, openPair func(t *testing.T) (store.Store, store.Store)) {
	tests := []struct {
		name string
		run  func(t *testing.T, a, b store.Store)
	}{
		{"SeeEachOthersWrites", testSharedWrites},
		{"Assertions", testSharedAssertions},
		{"ConcurrentWriters", testSharedConcurrentWriters},
		{"ControlPlane", testSharedControlPlane},
		{"Vaults", testSharedVaults},
		{"FederatedCredentialLimit", testSharedFederatedLimit},
		{"Revocations", testSharedRevocations},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			a, b := openPair(t)
			tc.run(t, a, b)
		})
	}
}

// t0 has nanoseconds and a zone on purpose: stores keep microseconds and return UTC.
var t0 = time.Date(2024, 5, 6, 7, 8, 9, 987654321, time.FixedZone("UTC+2", 2*60*60))

// newID returns a random GUID in lower case.
func newID() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err)
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// storedTime is t as a store returns it.
func storedTime(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

func nilIfEmpty[T any](v []T) []T {
	if len(v) == 0 {
		return nil
	}
	return v
}

// The stored* functions give the record a store returns for one it was given.

func storedPrincipal(sp store.ServicePrincipal) store.ServicePrincipal {
	sp.IdentifierURIs = nilIfEmpty(sp.IdentifierURIs)
	sp.AppRoles = nilIfEmpty(sp.AppRoles)
	sp.AlternativeNames = nilIfEmpty(sp.AlternativeNames)
	sp.RedirectURIs.Web = nilIfEmpty(sp.RedirectURIs.Web)
	sp.RedirectURIs.SPA = nilIfEmpty(sp.RedirectURIs.SPA)
	sp.RedirectURIs.PublicClient = nilIfEmpty(sp.RedirectURIs.PublicClient)
	sp.CreatedAt = storedTime(sp.CreatedAt)
	return sp
}

func storedCredential(c store.Credential) store.Credential {
	c.SecretHash = nilIfEmpty(c.SecretHash)
	c.Certificate = nilIfEmpty(c.Certificate)
	c.StartsAt = storedTime(c.StartsAt)
	c.ExpiresAt = storedTime(c.ExpiresAt)
	return c
}

func storedTenant(tn store.Tenant) store.Tenant {
	tn.CreatedAt = storedTime(tn.CreatedAt)
	return tn
}

func storedSubscription(s store.Subscription) store.Subscription {
	s.CreatedAt = storedTime(s.CreatedAt)
	return s
}

func storedAssignment(a store.AppRoleAssignment) store.AppRoleAssignment {
	a.CreatedAt = storedTime(a.CreatedAt)
	return a
}

func storedSigningKey(k store.SigningKey) store.SigningKey {
	k.CreatedAt = storedTime(k.CreatedAt)
	k.ActivateAt = storedTime(k.ActivateAt)
	k.SealedKey = nilIfEmpty(k.SealedKey)
	k.Certificate = nilIfEmpty(k.Certificate)
	return k
}

func storedSignIn(e store.SignIn) store.SignIn {
	e.Time = storedTime(e.Time)
	return e
}

func storedAll[T any](f func(T) T, v ...T) []T {
	if len(v) == 0 {
		return nil
	}
	out := make([]T, len(v))
	for i := range v {
		out[i] = f(v[i])
	}
	return out
}

// Fixtures.

func newTenant(created time.Time) store.Tenant {
	id := newID()
	return store.Tenant{ID: id, DisplayName: "Tenant " + id[:8], DefaultDomain: "T" + id[:8] + ".Mint.Localhost", CreatedAt: created}
}

func newPrincipal(tenantID string, created time.Time) store.ServicePrincipal {
	return store.ServicePrincipal{
		ObjectID:    newID(),
		AppID:       newID(),
		TenantID:    tenantID,
		Kind:        store.KindApplication,
		DisplayName: "app",
		CreatedAt:   created,
	}
}

func newPassword(principalID string, starts time.Time) store.Credential {
	return store.Credential{
		KeyID:       newID(),
		PrincipalID: principalID,
		Type:        store.CredentialPassword,
		DisplayName: "secret",
		Hint:        "abc",
		SecretHash:  []byte{1, 2, 3, 4},
		StartsAt:    starts,
		ExpiresAt:   starts.Add(365 * 24 * time.Hour),
	}
}

func newAssignment(principalID, resourceID string, created time.Time) store.AppRoleAssignment {
	return store.AppRoleAssignment{ID: newID(), PrincipalID: principalID, ResourceID: resourceID, AppRoleID: newID(), CreatedAt: created}
}

// Assertions on results.

func ok(t *testing.T, err error, what string) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

func isErr(t *testing.T, err, target error, what string) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("%s: got error %v, want %v", what, err, target)
	}
}

func equal(t *testing.T, got, want any, what string) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%s:\n got %#v\nwant %#v", what, got, want)
	}
}

// parallel runs f(i) for i in [0, n) at once and returns the errors by i.
func parallel(n int, f func(i int) error) []error {
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			errs[i] = f(i)
		}()
	}
	close(start)
	wg.Wait()
	return errs
}

// oneWinner checks that exactly one of errs is nil and all others are ErrConflict.
func oneWinner(t *testing.T, errs []error, what string) {
	t.Helper()
	wins := 0
	for _, err := range errs {
		switch {
		case err == nil:
			wins++
		case errors.Is(err, store.ErrConflict):
		default:
			t.Errorf("%s: unexpected error %v", what, err)
		}
	}
	if wins != 1 {
		t.Fatalf("%s: %d of %d calls succeeded, want exactly 1", what, wins, len(errs))
	}
}

func mustCreatePrincipal(t *testing.T, s store.Store, sp store.ServicePrincipal, creds ...store.Credential) {
	t.Helper()
	ok(t, s.CreatePrincipal(t.Context(), sp, creds), "create principal "+sp.ObjectID)
}
