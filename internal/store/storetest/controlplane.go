package storetest

import (
	"cmp"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mint-id/mint/internal/store"
)

const (
	identityType = "Microsoft.ManagedIdentity/userAssignedIdentities"
	ficType      = identityType + "/federatedIdentityCredentials"
	vmType       = "Microsoft.Compute/virtualMachines"
)

func storedResourceGroup(g store.ResourceGroup) store.ResourceGroup {
	if len(g.Tags) == 0 {
		g.Tags = nil
	}
	g.CreatedAt = storedTime(g.CreatedAt)
	return g
}

func storedResource(r store.Resource) store.Resource {
	if len(r.Tags) == 0 {
		r.Tags = nil
	}
	r.Properties = nilIfEmpty(r.Properties)
	r.UserAssignedIdentities = nilIfEmpty(r.UserAssignedIdentities)
	r.CreatedAt = storedTime(r.CreatedAt)
	r.UpdatedAt = storedTime(r.UpdatedAt)
	return r
}

func storedRoleDefinition(d store.RoleDefinition) store.RoleDefinition {
	d.AssignableScopes = nilIfEmpty(d.AssignableScopes)
	d.Permissions = nilIfEmpty(d.Permissions)
	d.CreatedAt = storedTime(d.CreatedAt)
	d.UpdatedAt = storedTime(d.UpdatedAt)
	return d
}

func storedRoleAssignment(a store.RoleAssignment) store.RoleAssignment {
	a.CreatedAt = storedTime(a.CreatedAt)
	a.UpdatedAt = storedTime(a.UpdatedAt)
	return a
}

func storedActivity(e store.ActivityEvent) store.ActivityEvent {
	e.Time = storedTime(e.Time)
	return e
}

// Fixtures.

func newGroup(subscriptionID, name string, created time.Time) store.ResourceGroup {
	return store.ResourceGroup{SubscriptionID: subscriptionID, Name: name, Location: "westeurope", CreatedAt: created}
}

func groupScope(subscriptionID, group string) string {
	return "/subscriptions/" + subscriptionID + "/resourceGroups/" + group
}

// newResource is a top-level resource of type typ named name in the group.
func newResource(subscriptionID, group, typ, name string, created time.Time) store.Resource {
	return store.Resource{
		ID:             groupScope(subscriptionID, group) + "/providers/" + typ + "/" + name,
		SubscriptionID: subscriptionID,
		ResourceGroup:  group,
		Type:           typ,
		Name:           name,
		Location:       "westeurope",
		Tags:           map[string]string{"env": "test"},
		Properties:     []byte(`{"name":"` + name + `"}`),
		CreatedAt:      created,
		UpdatedAt:      created,
	}
}

// newChild is a child resource of parent: its type is parent's type + "/" + childType.
func newChild(parent store.Resource, childType, name string, created time.Time) store.Resource {
	r := parent
	r.ID = parent.ID + "/" + childType + "/" + name
	r.Type = parent.Type + "/" + childType
	r.Name = name
	r.Location = ""
	r.Tags = nil
	r.PrincipalID = ""
	r.UserAssignedIdentities = nil
	r.Properties = []byte(`{"issuer":"https://issuer.example"}`)
	r.CreatedAt, r.UpdatedAt = created, created
	return r
}

// newIdentityPrincipal is the principal a managed identity owns.
func newIdentityPrincipal(tenantID, armID string, created time.Time) store.ServicePrincipal {
	sp := newPrincipal(tenantID, created)
	sp.Kind = store.KindManagedIdentity
	sp.AlternativeNames = []string{"isExplicit=True", armID}
	return sp
}

func newRoleAssignment(scope, principalID, roleDefinitionID string, created time.Time) store.RoleAssignment {
	return store.RoleAssignment{
		ID:               newID(),
		Scope:            scope,
		RoleDefinitionID: roleDefinitionID,
		PrincipalID:      principalID,
		PrincipalType:    "ServicePrincipal",
		CreatedAt:        created,
		UpdatedAt:        created,
		CreatedBy:        "creator",
		UpdatedBy:        "creator",
	}
}

func mustPutGroup(t *testing.T, s store.Store, g store.ResourceGroup) {
	t.Helper()
	_, err := s.PutResourceGroup(t.Context(), g)
	ok(t, err, "put resource group "+g.Name)
}

func mustPutResource(t *testing.T, s store.Store, r store.Resource, create ...store.ServicePrincipal) {
	t.Helper()
	_, err := s.PutResource(t.Context(), r, create, nil)
	ok(t, err, "put resource "+r.ID)
}

// mustCreateRoleAssignment creates a, and first the resource group its scope is in, if any and
// missing: an assignment inside a group needs the group.
func mustCreateRoleAssignment(t *testing.T, s store.Store, a store.RoleAssignment) {
	t.Helper()
	if parts := strings.Split(a.Scope, "/"); len(parts) >= 5 && strings.EqualFold(parts[3], "resourceGroups") {
		if _, err := s.GetResourceGroup(t.Context(), parts[2], parts[4]); errors.Is(err, store.ErrNotFound) {
			mustPutGroup(t, s, newGroup(parts[2], parts[4], t0))
		}
	}
	ok(t, s.CreateRoleAssignment(t.Context(), a), "create role assignment at "+a.Scope)
}

// An assignment is never left inside a resource group that is gone: in a deleted group it is
// ErrNotFound, and racing the group's deletion it either is deleted with the group or fails.
func testRoleAssignmentInDeletedGroup(t *testing.T, s store.Store) {
	ctx := t.Context()
	sub := newID()
	role := newID()
	mustPutGroup(t, s, newGroup(sub, "doomed", t0))
	_, err := s.DeleteResourceGroup(ctx, sub, "doomed")
	ok(t, err, "delete group")
	for _, scope := range []string{"/subscriptions/" + sub + "/resourceGroups/doomed", "/subscriptions/" + strings.ToUpper(sub) + "/resourcegroups/DOOMED/providers/a/b/c"} {
		a := newRoleAssignment(scope, newID(), role, t0)
		isErr(t, s.CreateRoleAssignment(ctx, a), store.ErrNotFound, "create role assignment in a deleted group: "+scope)
		_, err := s.GetRoleAssignment(ctx, a.ID)
		isErr(t, err, store.ErrNotFound, "get role assignment refused in a deleted group")
	}
	// Subscription and root scopes need no group.
	mustCreateRoleAssignment(t, s, newRoleAssignment("/subscriptions/"+sub, newID(), role, t0))
	mustCreateRoleAssignment(t, s, newRoleAssignment("/", newID(), role, t0))

	for i := range 20 {
		name := fmt.Sprintf("race-%d", i)
		mustPutGroup(t, s, newGroup(sub, name, t0))
		a := newRoleAssignment("/subscriptions/"+sub+"/resourceGroups/"+name, newID(), role, t0)
		var wg sync.WaitGroup
		var createErr, deleteErr error
		wg.Go(func() { createErr = s.CreateRoleAssignment(ctx, a) })
		wg.Go(func() { _, deleteErr = s.DeleteResourceGroup(ctx, sub, name) })
		wg.Wait()
		ok(t, deleteErr, "delete group "+name)
		if createErr != nil && !errors.Is(createErr, store.ErrNotFound) {
			t.Fatalf("create racing delete: %v", createErr)
		}
		_, err := s.GetRoleAssignment(ctx, a.ID)
		isErr(t, err, store.ErrNotFound, "assignment left in deleted group "+name)
	}
}

// ids returns the ids of resources or role assignments, for short failure messages.
func resourceIDs(rs []store.Resource) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.ID
	}
	return out
}

func assignmentScopes(as []store.RoleAssignment) []string {
	out := make([]string, len(as))
	for i, a := range as {
		out[i] = a.Scope
	}
	return out
}

// Resource groups

func testResourceGroups(t *testing.T, s store.Store) {
	ctx := t.Context()
	sub, otherSub := newID(), newID()
	gs, err := s.ListResourceGroups(ctx, sub)
	ok(t, err, "list resource groups of an empty store")
	equal(t, gs, []store.ResourceGroup(nil), "resource groups of an empty store")

	rg := newGroup(sub, "My-Group", t0)
	rg.Tags = map[string]string{"owner": "me", "Env": "Dev"}
	rg.ManagedBy = "/subscriptions/" + sub + "/providers/Microsoft.Something/things/x"
	created, err := s.PutResourceGroup(ctx, rg)
	ok(t, err, "create resource group")
	equal(t, created, true, "created flag of a new group")

	for _, k := range [][2]string{{sub, "My-Group"}, {strings.ToUpper(sub), "my-group"}, {sub, "MY-GROUP"}} {
		got, err := s.GetResourceGroup(ctx, k[0], k[1])
		ok(t, err, "get resource group "+k[1])
		equal(t, got, storedResourceGroup(rg), "resource group got by "+k[0]+"/"+k[1])
	}
	_, err = s.GetResourceGroup(ctx, otherSub, "My-Group")
	isErr(t, err, store.ErrNotFound, "get group through another subscription")
	_, err = s.GetResourceGroup(ctx, sub, "My-Group2")
	isErr(t, err, store.ErrNotFound, "get missing group")

	// Replacing in another case keeps the name's case and CreatedAt, replaces the rest; empty
	// tags come back nil.
	update := store.ResourceGroup{SubscriptionID: strings.ToUpper(sub), Name: "MY-GROUP", Location: "eastus",
		Tags: map[string]string{}, CreatedAt: t0.Add(time.Hour)}
	created, err = s.PutResourceGroup(ctx, update)
	ok(t, err, "replace resource group")
	equal(t, created, false, "created flag of an existing group")
	want := rg
	want.Location, want.Tags, want.ManagedBy = "eastus", nil, ""
	got, err := s.GetResourceGroup(ctx, sub, "my-group")
	ok(t, err, "get replaced group")
	equal(t, got, storedResourceGroup(want), "replaced group")

	// Listed by CreatedAt, then name (case-folded); the same name in another subscription is
	// another group.
	later := newGroup(sub, "a-later", t0.Add(time.Minute))
	tieA := newGroup(sub, "b-tie", t0.Add(-time.Minute))
	tieB := newGroup(sub, "C-tie", t0.Add(-time.Minute))
	elsewhere := newGroup(otherSub, "My-Group", t0)
	for _, g := range []store.ResourceGroup{later, tieB, elsewhere, tieA} {
		mustPutGroup(t, s, g)
	}
	gs, err = s.ListResourceGroups(ctx, strings.ToUpper(sub))
	ok(t, err, "list resource groups")
	equal(t, gs, storedAll(storedResourceGroup, tieA, tieB, want, later), "resource groups")
	gs, err = s.ListResourceGroups(ctx, otherSub)
	ok(t, err, "list resource groups of the other subscription")
	equal(t, gs, storedAll(storedResourceGroup, elsewhere), "resource groups of the other subscription")
	gs, err = s.ListResourceGroups(ctx, newID())
	ok(t, err, "list resource groups of an unknown subscription")
	equal(t, gs, []store.ResourceGroup(nil), "resource groups of an unknown subscription")
}

func testDeleteResourceGroup(t *testing.T, s store.Store) {
	ctx := t.Context()
	tenantID, sub := newID(), newID()
	// '_' and '%' are LIKE wildcards; "app_%" must not take "appx1" or "app_%2" with it.
	const name = "App_%"
	for _, g := range []string{name, "appx1", "app_%2", "appx", "Empty"} {
		mustPutGroup(t, s, newGroup(sub, g, t0))
	}

	identity := newResource(sub, name, identityType, "id-1", t0.Add(2*time.Second))
	identitySP := newIdentityPrincipal(tenantID, identity.ID, t0)
	identity.PrincipalID = identitySP.ObjectID
	fic := newChild(identity, "federatedIdentityCredentials", "fic", t0.Add(3*time.Second))
	vm := newResource(sub, name, vmType, "vm", t0.Add(time.Second))
	vmSP := newIdentityPrincipal(tenantID, vm.ID, t0)
	vm.PrincipalID = vmSP.ObjectID
	vm.UserAssignedIdentities = []string{identity.ID}
	// A resource that names the group though its id is elsewhere goes with the group too.
	odd := newResource(sub, "appx1", vmType, "odd", t0.Add(4*time.Second))
	odd.ResourceGroup = name
	mustPutResource(t, s, identity, identitySP)
	mustPutResource(t, s, fic)
	mustPutResource(t, s, vm, vmSP)
	mustPutResource(t, s, odd)
	cred := newPassword(vmSP.ObjectID, t0)
	ok(t, s.AddCredential(ctx, cred), "add credential to the vm's principal")

	// Bystanders: resources in the groups whose names a careless LIKE would match, and a
	// principal the deleted ones held app roles on.
	var bystanders []store.Resource
	for _, g := range []string{"appx1", "app_%2", "appx"} {
		r := newResource(sub, g, identityType, "id-1", t0)
		sp := newIdentityPrincipal(tenantID, r.ID, t0)
		r.PrincipalID = sp.ObjectID
		mustPutResource(t, s, r, sp)
		bystanders = append(bystanders, r)
	}
	api := newPrincipal(tenantID, t0)
	mustCreatePrincipal(t, s, api)
	held := newAssignment(vmSP.ObjectID, api.ObjectID, t0)
	ok(t, s.CreateAppRoleAssignment(ctx, held), "grant the vm an app role")

	principal, role := newID(), newID()
	rg := groupScope(sub, name)
	gone := []store.RoleAssignment{
		newRoleAssignment(rg, principal, role, t0),
		newRoleAssignment(strings.ToUpper(rg)+"/", newID(), role, t0), // other case, trailing slash
		newRoleAssignment(identity.ID, principal, role, t0),
		newRoleAssignment(fic.ID, principal, role, t0),
	}
	kept := []store.RoleAssignment{
		newRoleAssignment("/", principal, role, t0),
		newRoleAssignment("/subscriptions/"+sub, principal, role, t0),
		newRoleAssignment(groupScope(sub, "appx1"), principal, role, t0),
		newRoleAssignment(groupScope(sub, "app_%2"), principal, role, t0),
		newRoleAssignment(bystanders[0].ID, principal, role, t0),
	}
	for _, a := range slices.Concat(gone, kept) {
		mustCreateRoleAssignment(t, s, a)
	}

	deleted, err := s.DeleteResourceGroup(ctx, strings.ToUpper(sub), strings.ToLower(name))
	ok(t, err, "delete resource group")
	equal(t, resourceIDs(deleted), resourceIDs([]store.Resource{vm, identity, fic, odd}), "deleted resources (by CreatedAt)")
	equal(t, deleted, storedAll(storedResource, vm, identity, fic, odd), "deleted resources")

	_, err = s.GetResourceGroup(ctx, sub, name)
	isErr(t, err, store.ErrNotFound, "get deleted group")
	for _, r := range []store.Resource{vm, identity, fic, odd} {
		_, err := s.GetResource(ctx, r.ID)
		isErr(t, err, store.ErrNotFound, "get resource of a deleted group "+r.ID)
	}
	for _, sp := range []store.ServicePrincipal{identitySP, vmSP} {
		_, err := s.GetPrincipal(ctx, sp.ObjectID)
		isErr(t, err, store.ErrNotFound, "get principal owned by a resource of a deleted group")
	}
	creds, err := s.ListCredentials(ctx, vmSP.ObjectID)
	ok(t, err, "list credentials of a deleted principal")
	equal(t, creds, []store.Credential(nil), "credentials of a principal deleted with its group")
	isErr(t, s.DeleteAppRoleAssignment(ctx, held.ID), store.ErrNotFound, "delete app role assignment of a deleted principal")
	for _, a := range gone {
		_, err := s.GetRoleAssignment(ctx, a.ID)
		isErr(t, err, store.ErrNotFound, "get role assignment at or below a deleted group: "+a.Scope)
	}
	for _, a := range kept {
		got, err := s.GetRoleAssignment(ctx, a.ID)
		ok(t, err, "get role assignment outside a deleted group: "+a.Scope)
		equal(t, got, storedRoleAssignment(a), "role assignment outside a deleted group")
	}
	for _, r := range bystanders {
		got, err := s.GetResource(ctx, r.ID)
		ok(t, err, "get resource in a group with a similar name")
		equal(t, got, storedResource(r), "resource in a group with a similar name")
		_, err = s.GetPrincipal(ctx, r.PrincipalID)
		ok(t, err, "get principal of a resource in a group with a similar name")
	}
	_, err = s.GetPrincipal(ctx, api.ObjectID)
	ok(t, err, "get principal the deleted ones held roles on")
	rs, err := s.ListResources(ctx, store.ResourceFilter{AttachedIdentity: identity.ID})
	ok(t, err, "list resources attached to a deleted identity")
	equal(t, rs, []store.Resource(nil), "resources attached to a deleted identity")

	_, err = s.DeleteResourceGroup(ctx, sub, name)
	isErr(t, err, store.ErrNotFound, "delete group twice")
	_, err = s.DeleteResourceGroup(ctx, newID(), "appx1")
	isErr(t, err, store.ErrNotFound, "delete group through another subscription")

	deleted, err = s.DeleteResourceGroup(ctx, sub, "EMPTY")
	ok(t, err, "delete empty group")
	equal(t, deleted, []store.Resource(nil), "resources deleted with an empty group")

	// The name is free again, and the group is new.
	created, err := s.PutResourceGroup(ctx, newGroup(sub, name, t0))
	ok(t, err, "recreate deleted group")
	equal(t, created, true, "created flag of a recreated group")
	rs, err = s.ListResources(ctx, store.ResourceFilter{SubscriptionID: sub, ResourceGroup: name})
	ok(t, err, "list resources of a recreated group")
	equal(t, rs, []store.Resource(nil), "resources of a recreated group")
}

// Resources

func testResourceRoundTrip(t *testing.T, s store.Store) {
	ctx := t.Context()
	tenantID, sub := newID(), newID()
	r := newResource(sub, "Group", identityType, "My_Identity%1", t0)
	sp := newIdentityPrincipal(tenantID, r.ID, t0)
	r.PrincipalID = sp.ObjectID
	r.UserAssignedIdentities = []string{"/subscriptions/x/resourceGroups/y/providers/" + identityType + "/z"}

	// No group, no resource; nothing of the call is stored.
	_, err := s.PutResource(ctx, r, []store.ServicePrincipal{sp}, nil)
	isErr(t, err, store.ErrNotFound, "put resource in a missing group")
	_, err = s.GetResource(ctx, r.ID)
	isErr(t, err, store.ErrNotFound, "get resource whose put failed")
	_, err = s.GetPrincipal(ctx, sp.ObjectID)
	isErr(t, err, store.ErrNotFound, "get principal of a resource whose put failed")
	mustPutGroup(t, s, newGroup(newID(), "Group", t0)) // same name, other subscription
	_, err = s.PutResource(ctx, r, nil, nil)
	isErr(t, err, store.ErrNotFound, "put resource in a group of another subscription")

	mustPutGroup(t, s, newGroup(strings.ToUpper(sub), "GROUP", t0))
	created, err := s.PutResource(ctx, r, []store.ServicePrincipal{sp}, nil)
	ok(t, err, "create resource")
	equal(t, created, true, "created flag of a new resource")
	for _, id := range []string{r.ID, strings.ToUpper(r.ID), strings.ToLower(r.ID), r.ID + "/"} {
		got, err := s.GetResource(ctx, id)
		ok(t, err, "get resource "+id)
		equal(t, got, storedResource(r), "resource got by "+id)
	}
	gotSP, err := s.GetPrincipal(ctx, sp.ObjectID)
	ok(t, err, "get principal created with its resource")
	equal(t, gotSP, storedPrincipal(sp), "principal created with its resource")
	_, err = s.GetResource(ctx, r.ID+"x")
	isErr(t, err, store.ErrNotFound, "get missing resource")

	// Replacing (through the id in another case) keeps the id, name, subscription and group as
	// first written and CreatedAt; it replaces the rest. Empty values come back nil.
	update := store.Resource{
		ID: strings.ToUpper(r.ID), SubscriptionID: strings.ToUpper(sub), ResourceGroup: "group", Type: strings.ToLower(identityType),
		Name: "MY_IDENTITY%1", Location: "eastus", Tags: map[string]string{}, Properties: []byte{},
		PrincipalID: "", UserAssignedIdentities: []string{}, CreatedAt: t0.Add(time.Hour), UpdatedAt: t0.Add(2 * time.Hour),
	}
	created, err = s.PutResource(ctx, update, nil, nil)
	ok(t, err, "replace resource")
	equal(t, created, false, "created flag of an existing resource")
	want := r
	want.Type, want.Location, want.Tags, want.Properties = update.Type, "eastus", nil, nil
	want.PrincipalID, want.UserAssignedIdentities, want.UpdatedAt = "", nil, update.UpdatedAt
	got, err := s.GetResource(ctx, r.ID)
	ok(t, err, "get replaced resource")
	equal(t, got, storedResource(want), "replaced resource")
	if got.Tags != nil || got.Properties != nil || got.UserAssignedIdentities != nil {
		t.Fatalf("empty values came back non-nil: %#v", got)
	}

	// The store holds no business rules: a child whose parent does not exist is stored.
	orphan := newChild(newResource(sub, "Group", identityType, "missing", t0), "federatedIdentityCredentials", "f", t0)
	mustPutResource(t, s, orphan)
	got, err = s.GetResource(ctx, orphan.ID)
	ok(t, err, "get child of a missing parent")
	equal(t, got, storedResource(orphan), "child of a missing parent")
}

func testPutResourcePrincipals(t *testing.T, s store.Store) {
	ctx := t.Context()
	tenantID, sub := newID(), newID()
	mustPutGroup(t, s, newGroup(sub, "g", t0))
	vm := newResource(sub, "g", vmType, "vm", t0)
	mustPutResource(t, s, vm)

	// Enabling a system-assigned identity: the principal is born with the update.
	system := newIdentityPrincipal(tenantID, vm.ID, t0)
	withIdentity := vm
	withIdentity.PrincipalID = system.ObjectID
	created, err := s.PutResource(ctx, withIdentity, []store.ServicePrincipal{system}, nil)
	ok(t, err, "enable system-assigned identity")
	equal(t, created, false, "created flag of an update creating a principal")
	_, err = s.GetPrincipal(ctx, system.ObjectID)
	ok(t, err, "get system-assigned principal")

	// A principal that cannot be created (taken object id or appId) fails the whole put.
	clash := newIdentityPrincipal(tenantID, vm.ID, t0)
	clash.AppID = system.AppID
	fresh := newIdentityPrincipal(tenantID, vm.ID, t0)
	changed := withIdentity
	changed.Location, changed.PrincipalID = "elsewhere", fresh.ObjectID
	_, err = s.PutResource(ctx, changed, []store.ServicePrincipal{fresh, clash}, nil)
	isErr(t, err, store.ErrConflict, "put resource creating a principal with a taken appId")
	got, err := s.GetResource(ctx, vm.ID)
	ok(t, err, "get resource after a failed put")
	equal(t, got, storedResource(withIdentity), "resource after a failed put")
	_, err = s.GetPrincipal(ctx, fresh.ObjectID)
	isErr(t, err, store.ErrNotFound, "principal of a failed put")
	newVM := newResource(sub, "g", vmType, "vm2", t0)
	dup := system
	dup.AppID = newID()
	_, err = s.PutResource(ctx, newVM, []store.ServicePrincipal{dup}, nil)
	isErr(t, err, store.ErrConflict, "create resource with a principal whose object id is taken")
	_, err = s.GetResource(ctx, newVM.ID)
	isErr(t, err, store.ErrNotFound, "resource whose creation failed")

	// Disabling it deletes the principal, its credentials and app role assignments; principals
	// already gone are not an error.
	api := newPrincipal(tenantID, t0)
	mustCreatePrincipal(t, s, api)
	ok(t, s.AddCredential(ctx, newPassword(system.ObjectID, t0)), "add credential")
	held := newAssignment(system.ObjectID, api.ObjectID, t0)
	ok(t, s.CreateAppRoleAssignment(ctx, held), "grant app role")
	created, err = s.PutResource(ctx, vm, nil, []string{system.ObjectID, newID()})
	ok(t, err, "disable system-assigned identity")
	equal(t, created, false, "created flag of an update deleting a principal")
	_, err = s.GetPrincipal(ctx, system.ObjectID)
	isErr(t, err, store.ErrNotFound, "get principal deleted by a put")
	creds, err := s.ListCredentials(ctx, system.ObjectID)
	ok(t, err, "list credentials of a principal deleted by a put")
	equal(t, creds, []store.Credential(nil), "credentials of a principal deleted by a put")
	isErr(t, s.DeleteAppRoleAssignment(ctx, held.ID), store.ErrNotFound, "app role assignment of a principal deleted by a put")
	got, err = s.GetResource(ctx, vm.ID)
	ok(t, err, "get resource")
	equal(t, got, storedResource(vm), "resource after disabling its identity")
}

func testListResources(t *testing.T, s store.Store) {
	ctx := t.Context()
	sub, otherSub := newID(), newID()
	for _, g := range []store.ResourceGroup{newGroup(sub, "G1", t0), newGroup(sub, "g2", t0), newGroup(otherSub, "g1", t0)} {
		mustPutGroup(t, s, g)
	}
	rs, err := s.ListResources(ctx, store.ResourceFilter{})
	ok(t, err, "list resources of an empty store")
	equal(t, rs, []store.Resource(nil), "resources of an empty store")

	at := func(i int) time.Time { return t0.Add(time.Duration(i) * time.Second) }
	id1 := newResource(sub, "G1", identityType, "id_1", at(1))
	id1x := newResource(sub, "G1", identityType, "idx1", at(2))  // "id_1" as a LIKE pattern matches it
	id10 := newResource(sub, "G1", identityType, "id_10", at(3)) // id_1 is a prefix of its name
	ficA := newChild(id1, "federatedIdentityCredentials", "b", at(4))
	ficB := newChild(id1, "federatedIdentityCredentials", "a", at(4)) // tie with ficA: id breaks it
	fic10 := newChild(id10, "federatedIdentityCredentials", "a", at(5))
	deep := newChild(ficA, "things", "deep", at(6))
	vm := newResource(sub, "G1", vmType, "vm", at(7))
	vm.UserAssignedIdentities = []string{strings.ToUpper(id1.ID), id10.ID}
	ficX := newChild(id1x, "federatedIdentityCredentials", "a", at(8)) // a naive LIKE 'id_1/%' takes it
	vm2 := newResource(sub, "g2", vmType, "vm", at(-1))
	vm2.UserAssignedIdentities = []string{id1.ID}
	other := newResource(otherSub, "g1", identityType, "id_1", at(-2))
	// Put out of order: listed by CreatedAt, then id.
	all := []store.Resource{vm, deep, ficA, other, id10, ficX, vm2, id1x, fic10, ficB, id1}
	for _, r := range all {
		mustPutResource(t, s, r)
	}

	tests := []struct {
		name string
		f    store.ResourceFilter
		want []store.Resource
	}{
		{"all", store.ResourceFilter{}, []store.Resource{other, vm2, id1, id1x, id10, ficB, ficA, fic10, deep, vm, ficX}},
		{"subscription", store.ResourceFilter{SubscriptionID: strings.ToUpper(sub)}, []store.Resource{vm2, id1, id1x, id10, ficB, ficA, fic10, deep, vm, ficX}},
		{"group", store.ResourceFilter{SubscriptionID: sub, ResourceGroup: "g1"}, []store.Resource{id1, id1x, id10, ficB, ficA, fic10, deep, vm, ficX}},
		{"group in any subscription", store.ResourceFilter{ResourceGroup: "G1"}, []store.Resource{other, id1, id1x, id10, ficB, ficA, fic10, deep, vm, ficX}},
		{"type is exact", store.ResourceFilter{Type: strings.ToUpper(identityType)}, []store.Resource{other, id1, id1x, id10}},
		{"child type", store.ResourceFilter{SubscriptionID: sub, Type: ficType}, []store.Resource{ficB, ficA, fic10, ficX}},
		{"root is everything", store.ResourceFilter{ParentID: "/", SubscriptionID: otherSub}, []store.Resource{other}},
		{"children and their children", store.ResourceFilter{ParentID: id1.ID}, []store.Resource{ficB, ficA, deep}},
		{"children in other case, trailing slash", store.ResourceFilter{ParentID: strings.ToLower(id1.ID) + "/"}, []store.Resource{ficB, ficA, deep}},
		{"children of a type", store.ResourceFilter{ParentID: id1.ID, Type: ficType}, []store.Resource{ficB, ficA}},
		{"below a group", store.ResourceFilter{ParentID: groupScope(sub, "g2")}, []store.Resource{vm2}},
		{"no children", store.ResourceFilter{ParentID: vm.ID}, nil},
		{"attached identity", store.ResourceFilter{AttachedIdentity: id1.ID}, []store.Resource{vm2, vm}},
		{"attached identity in other case", store.ResourceFilter{AttachedIdentity: strings.ToUpper(id10.ID)}, []store.Resource{vm}},
		{"attached identity and group", store.ResourceFilter{AttachedIdentity: id1.ID, ResourceGroup: "g2"}, []store.Resource{vm2}},
		{"identity attached nowhere", store.ResourceFilter{AttachedIdentity: id1x.ID}, nil},
		{"unknown subscription", store.ResourceFilter{SubscriptionID: newID()}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := s.ListResources(ctx, tc.f)
			ok(t, err, "list resources")
			equal(t, resourceIDs(got), resourceIDs(tc.want), "resources listed")
			equal(t, got, storedAll(storedResource, tc.want...), "resources listed")
		})
	}

	// Attachments follow the resource: replaced on update, gone on delete.
	vm.UserAssignedIdentities = []string{id1x.ID}
	mustPutResource(t, s, vm)
	for id, want := range map[string][]store.Resource{id1.ID: {vm2}, id10.ID: nil, id1x.ID: {vm}} {
		got, err := s.ListResources(ctx, store.ResourceFilter{AttachedIdentity: id})
		ok(t, err, "list resources attached to "+id)
		equal(t, got, storedAll(storedResource, want...), "resources attached to "+id+" after an update")
	}
	_, err = s.DeleteResource(ctx, vm2.ID)
	ok(t, err, "delete resource")
	got, err := s.ListResources(ctx, store.ResourceFilter{AttachedIdentity: id1.ID})
	ok(t, err, "list resources attached")
	equal(t, got, []store.Resource(nil), "resources attached after the resource was deleted")
}

func testPageResources(t *testing.T, s store.Store) {
	ctx := t.Context()
	sub := newID()
	mustPutGroup(t, s, newGroup(sub, "g", t0))
	mustPutGroup(t, s, newGroup(sub, "other", t0))
	// 25 identities, put out of order; every third shares its creation time with the next (the
	// lower-cased id breaks the tie, names in mixed case), and nanoseconds are dropped as stored.
	var want []store.Resource
	for i := range 25 {
		created := t0.Add(time.Duration(i/3)*time.Second + time.Duration(i%3/2)*time.Microsecond + 123*time.Nanosecond)
		name := fmt.Sprintf("id-%02d", 24-i)
		if i%2 == 0 {
			name = strings.ToUpper(name)
		}
		want = append(want, newResource(sub, "g", identityType, name, created))
	}
	slices.SortFunc(want, func(a, b store.Resource) int {
		return cmp.Or(a.CreatedAt.Truncate(time.Microsecond).Compare(b.CreatedAt.Truncate(time.Microsecond)),
			strings.Compare(strings.ToLower(a.ID), strings.ToLower(b.ID)))
	})
	for i := range want {
		mustPutResource(t, s, want[(i*7)%len(want)]) // 7 and 25 are coprime: each one once
	}
	// Noise the filters exclude, interleaved in time.
	mustPutResource(t, s, newResource(sub, "other", identityType, "noise", t0.Add(3*time.Second)))
	mustPutResource(t, s, newResource(sub, "g", vmType, "noise", t0.Add(4*time.Second)))

	for _, f := range []store.ResourceFilter{
		{SubscriptionID: sub, ResourceGroup: "g", Type: identityType},
		{ParentID: groupScope(sub, "g"), Type: identityType},
	} {
		var got []store.Resource
		pages := 0
		for {
			f.Limit = 7
			page, err := s.ListResources(ctx, f)
			ok(t, err, "list a page of resources")
			if len(page) > 7 {
				t.Fatalf("page of %d resources with Limit 7", len(page))
			}
			got = append(got, page...)
			pages++
			if len(page) < 7 {
				break
			}
			f.After = store.ResourceCursor(page[len(page)-1])
			if pages > 10 {
				t.Fatalf("paging does not end: %v", resourceIDs(got))
			}
		}
		equal(t, pages, 4, "pages of 7 for 25 resources")
		equal(t, resourceIDs(got), resourceIDs(want), "resources paged through")
		equal(t, got, storedAll(storedResource, want...), "resources paged through")

		// After alone, without Limit, lists the rest.
		f.After, f.Limit = store.ResourceCursor(want[10]), 0
		rest, err := s.ListResources(ctx, f)
		ok(t, err, "list resources after a cursor")
		equal(t, resourceIDs(rest), resourceIDs(want[11:]), "resources after the 11th")
		// The cursor of the last row lists nothing.
		f.After = store.ResourceCursor(want[len(want)-1])
		rest, err = s.ListResources(ctx, f)
		ok(t, err, "list resources after the last")
		equal(t, rest, []store.Resource(nil), "resources after the last")
	}

	for _, bad := range []string{
		"garbage!",
		"bWludDpvZmZzZXQ6MTA", // an offset skiptoken, "mint:offset:10"
		base64.RawURLEncoding.EncodeToString([]byte("r1:notanumber:/subscriptions/x")),
		base64.RawURLEncoding.EncodeToString([]byte("r1:12")),
		base64.RawURLEncoding.EncodeToString([]byte("r1:12:/Subscriptions/X")),
		base64.RawURLEncoding.EncodeToString([]byte("r1:+12:/subscriptions/x")), // a second spelling of 12
		store.ResourceCursor(store.Resource{ID: sub, CreatedAt: t0}) + "\r\n",   // CR and LF are skipped by the decoder
	} {
		_, err := s.ListResources(ctx, store.ResourceFilter{SubscriptionID: sub, After: bad, Limit: 7})
		isErr(t, err, store.ErrInvalidCursor, "list resources after the malformed cursor "+bad)
	}
}

func testDeleteResource(t *testing.T, s store.Store) {
	ctx := t.Context()
	tenantID, sub := newID(), newID()
	mustPutGroup(t, s, newGroup(sub, "g", t0))
	at := func(i int) time.Time { return t0.Add(time.Duration(i) * time.Second) }

	identity := newResource(sub, "g", identityType, "Id_%", at(1))
	sp := newIdentityPrincipal(tenantID, identity.ID, t0)
	identity.PrincipalID = sp.ObjectID
	ficLate := newChild(identity, "federatedIdentityCredentials", "late", at(3))
	ficEarly := newChild(identity, "federatedIdentityCredentials", "early", at(2))
	sibling := newResource(sub, "g", identityType, "idx", at(0))    // matched by a LIKE 'id_%' pattern
	sibling2 := newResource(sub, "g", identityType, "Id_%2", at(0)) // the name is a prefix of its name
	siblingSP := newIdentityPrincipal(tenantID, sibling2.ID, t0)
	sibling2.PrincipalID = siblingSP.ObjectID
	// Children a naive LIKE 'id_%/%' would take along.
	siblingFIC := newChild(sibling, "federatedIdentityCredentials", "s", at(0))
	sibling2FIC := newChild(sibling2, "federatedIdentityCredentials", "s", at(0))
	vm := newResource(sub, "g", vmType, "vm", at(4))
	vm.UserAssignedIdentities = []string{identity.ID}
	mustPutResource(t, s, identity, sp)
	for _, r := range []store.Resource{ficLate, ficEarly, sibling, siblingFIC, sibling2FIC, vm} {
		mustPutResource(t, s, r)
	}
	mustPutResource(t, s, sibling2, siblingSP)
	ok(t, s.AddCredential(ctx, newPassword(sp.ObjectID, t0)), "add credential to the identity's principal")

	principal, role := newID(), newID()
	gone := []store.RoleAssignment{
		newRoleAssignment(identity.ID, principal, role, t0),
		newRoleAssignment(strings.ToLower(identity.ID)+"/", newID(), role, t0),
		newRoleAssignment(ficEarly.ID, principal, role, t0),
	}
	kept := []store.RoleAssignment{
		newRoleAssignment(groupScope(sub, "g"), principal, role, t0),
		newRoleAssignment(sibling.ID, principal, role, t0),
		newRoleAssignment(sibling2.ID, principal, role, t0),
		newRoleAssignment(siblingFIC.ID, principal, role, t0),
		newRoleAssignment(sibling2FIC.ID, principal, role, t0),
		newRoleAssignment(vm.ID, principal, role, t0),
	}
	for _, a := range slices.Concat(gone, kept) {
		mustCreateRoleAssignment(t, s, a)
	}

	// A child alone.
	deleted, err := s.DeleteResource(ctx, strings.ToUpper(ficLate.ID))
	ok(t, err, "delete child resource")
	equal(t, deleted, storedAll(storedResource, ficLate), "deleted child")

	// The resource first, then its children by CreatedAt.
	deleted, err = s.DeleteResource(ctx, strings.ToLower(identity.ID))
	ok(t, err, "delete resource")
	equal(t, deleted, storedAll(storedResource, identity, ficEarly), "deleted resources")
	for _, r := range []store.Resource{identity, ficEarly} {
		_, err := s.GetResource(ctx, r.ID)
		isErr(t, err, store.ErrNotFound, "get deleted resource "+r.ID)
	}
	_, err = s.GetPrincipal(ctx, sp.ObjectID)
	isErr(t, err, store.ErrNotFound, "get principal of a deleted resource")
	creds, err := s.ListCredentials(ctx, sp.ObjectID)
	ok(t, err, "list credentials")
	equal(t, creds, []store.Credential(nil), "credentials of a principal deleted with its resource")
	for _, a := range gone {
		_, err := s.GetRoleAssignment(ctx, a.ID)
		isErr(t, err, store.ErrNotFound, "role assignment at or below a deleted resource: "+a.Scope)
	}
	for _, a := range kept {
		_, err := s.GetRoleAssignment(ctx, a.ID)
		ok(t, err, "role assignment outside a deleted resource: "+a.Scope)
	}
	for _, r := range []store.Resource{sibling, sibling2, siblingFIC, sibling2FIC, vm} {
		got, err := s.GetResource(ctx, r.ID)
		ok(t, err, "get resource beside a deleted one")
		equal(t, got, storedResource(r), "resource beside a deleted one")
	}
	_, err = s.GetPrincipal(ctx, siblingSP.ObjectID)
	ok(t, err, "get principal of a resource beside a deleted one")
	// A resource another one has attached keeps its record of the attachment: ARM shows it
	// until the resource is updated.
	rs, err := s.ListResources(ctx, store.ResourceFilter{AttachedIdentity: identity.ID})
	ok(t, err, "list resources attached to a deleted identity")
	equal(t, rs, storedAll(storedResource, vm), "resources attached to a deleted identity")

	_, err = s.DeleteResource(ctx, identity.ID)
	isErr(t, err, store.ErrNotFound, "delete resource twice")
	_, err = s.DeleteResource(ctx, groupScope(sub, "g")+"/providers/"+vmType+"/missing")
	isErr(t, err, store.ErrNotFound, "delete missing resource")

	// The id is free again.
	created, err := s.PutResource(ctx, identity, nil, nil)
	ok(t, err, "recreate deleted resource")
	equal(t, created, true, "created flag of a recreated resource")
}

// Role definitions

func newRoleDefinition(name string, created time.Time) store.RoleDefinition {
	return store.RoleDefinition{
		ID:               newID(),
		Scope:            "/subscriptions/" + newID(),
		RoleName:         name,
		Description:      "reads things",
		AssignableScopes: []string{"/subscriptions/a", "/subscriptions/b/resourceGroups/c"},
		Permissions:      []byte(`[{"actions":["*/read"],"notActions":[],"dataActions":[],"notDataActions":[]}]`),
		CreatedAt:        created,
		UpdatedAt:        created,
		CreatedBy:        "creator",
		UpdatedBy:        "creator",
	}
}

func testRoleDefinitions(t *testing.T, s store.Store) {
	ctx := t.Context()
	ds, err := s.ListRoleDefinitions(ctx)
	ok(t, err, "list role definitions of an empty store")
	equal(t, ds, []store.RoleDefinition(nil), "role definitions of an empty store")

	reader := newRoleDefinition("Thing Reader", t0)
	reader.ID = strings.ToUpper(reader.ID) // original case is returned
	created, err := s.PutRoleDefinition(ctx, reader)
	ok(t, err, "create role definition")
	equal(t, created, true, "created flag of a new role definition")
	for _, id := range []string{reader.ID, strings.ToLower(reader.ID)} {
		got, err := s.GetRoleDefinition(ctx, id)
		ok(t, err, "get role definition "+id)
		equal(t, got, storedRoleDefinition(reader), "role definition got by "+id)
	}
	_, err = s.GetRoleDefinition(ctx, newID())
	isErr(t, err, store.ErrNotFound, "get missing role definition")

	// Replacing (by the id in another case, the name in another case) keeps the id's spelling,
	// CreatedAt and CreatedBy, and replaces the rest; empty lists come back nil.
	update := store.RoleDefinition{ID: strings.ToLower(reader.ID), Scope: "/", RoleName: "THING READER", Description: "",
		AssignableScopes: []string{}, Permissions: []byte{}, CreatedAt: t0.Add(time.Hour), UpdatedAt: t0.Add(2 * time.Hour),
		CreatedBy: "someone else", UpdatedBy: "updater"}
	created, err = s.PutRoleDefinition(ctx, update)
	ok(t, err, "replace role definition")
	equal(t, created, false, "created flag of an existing role definition")
	want := update
	want.ID, want.CreatedAt, want.CreatedBy = reader.ID, reader.CreatedAt, reader.CreatedBy
	got, err := s.GetRoleDefinition(ctx, reader.ID)
	ok(t, err, "get replaced role definition")
	equal(t, got, storedRoleDefinition(want), "replaced role definition")

	// Role names are unique, case-insensitively: not for a new definition, not by renaming.
	writer := newRoleDefinition("Thing Writer", t0.Add(-time.Minute))
	mustPutRoleDefinition(t, s, writer)
	taken := newRoleDefinition("thing reader", t0)
	_, err = s.PutRoleDefinition(ctx, taken)
	isErr(t, err, store.ErrConflict, "create role definition with a taken name")
	_, err = s.GetRoleDefinition(ctx, taken.ID)
	isErr(t, err, store.ErrNotFound, "role definition whose creation failed")
	rename := writer
	rename.RoleName, rename.Description = "Thing READER", "renamed"
	_, err = s.PutRoleDefinition(ctx, rename)
	isErr(t, err, store.ErrConflict, "rename role definition to a taken name")
	got, err = s.GetRoleDefinition(ctx, writer.ID)
	ok(t, err, "get role definition after a failed rename")
	equal(t, got, storedRoleDefinition(writer), "role definition after a failed rename")

	// Listed by CreatedAt, then id.
	tieA, tieB := newRoleDefinition("Tie A", t0), newRoleDefinition("Tie B", t0)
	if tieB.ID < tieA.ID {
		tieA, tieB = tieB, tieA
	}
	mustPutRoleDefinition(t, s, tieB)
	mustPutRoleDefinition(t, s, tieA)
	ds, err = s.ListRoleDefinitions(ctx)
	ok(t, err, "list role definitions")
	first, second, third := want, tieA, tieB // want, tieA and tieB share CreatedAt t0
	byKey := []store.RoleDefinition{first, second, third}
	slices.SortFunc(byKey, func(a, b store.RoleDefinition) int {
		return strings.Compare(strings.ToLower(a.ID), strings.ToLower(b.ID))
	})
	equal(t, ds, storedAll(storedRoleDefinition, slices.Concat([]store.RoleDefinition{writer}, byKey)...), "role definitions")

	ok(t, s.DeleteRoleDefinition(ctx, strings.ToLower(reader.ID)), "delete role definition")
	isErr(t, s.DeleteRoleDefinition(ctx, reader.ID), store.ErrNotFound, "delete role definition twice")
	isErr(t, s.DeleteRoleDefinition(ctx, newID()), store.ErrNotFound, "delete missing role definition")
	_, err = s.GetRoleDefinition(ctx, reader.ID)
	isErr(t, err, store.ErrNotFound, "get deleted role definition")
	// Its name is free.
	mustPutRoleDefinition(t, s, taken)
}

func mustPutRoleDefinition(t *testing.T, s store.Store, d store.RoleDefinition) {
	t.Helper()
	_, err := s.PutRoleDefinition(t.Context(), d)
	ok(t, err, "put role definition "+d.RoleName)
}

// Role assignments

func testRoleAssignments(t *testing.T, s store.Store) {
	ctx := t.Context()
	as, err := s.ListRoleAssignments(ctx, store.RoleAssignmentFilter{})
	ok(t, err, "list role assignments of an empty store")
	equal(t, as, []store.RoleAssignment(nil), "role assignments of an empty store")

	sub := "/subscriptions/" + newID()
	rg := sub + "/resourceGroups/Group_1"
	principal := newID()
	reader := "ACDD72A7-3385-48EF-BD42-F606FBA81AE7"

	full := store.RoleAssignment{
		ID:               strings.ToUpper(newID()), // original case is returned
		Scope:            rg,
		RoleDefinitionID: sub + "/providers/Microsoft.Authorization/roleDefinitions/" + reader,
		PrincipalID:      strings.ToUpper(principal),
		PrincipalType:    "ServicePrincipal",
		Description:      "reads the group",
		Condition:        "@Resource[Microsoft.Storage/storageAccounts/blobServices/containers:name] StringEquals 'c'",
		ConditionVersion: "2.0",
		CreatedAt:        t0,
		UpdatedAt:        t0.Add(time.Second),
		CreatedBy:        newID(),
		UpdatedBy:        newID(),
	}
	mustCreateRoleAssignment(t, s, full)
	for _, id := range []string{full.ID, strings.ToLower(full.ID)} {
		got, err := s.GetRoleAssignment(ctx, id)
		ok(t, err, "get role assignment "+id)
		equal(t, got, storedRoleAssignment(full), "role assignment got by "+id)
	}
	_, err = s.GetRoleAssignment(ctx, newID())
	isErr(t, err, store.ErrNotFound, "get missing role assignment")

	conflicts := map[string]func(a *store.RoleAssignment){
		"same id in other case": func(a *store.RoleAssignment) { a.ID = strings.ToLower(full.ID); a.Scope = sub },
		"same grant":            func(a *store.RoleAssignment) {},
		"same grant, scope in other case with a trailing slash": func(a *store.RoleAssignment) { a.Scope = strings.ToUpper(rg) + "/" },
		"same grant, role as a GUID":                            func(a *store.RoleAssignment) { a.RoleDefinitionID = strings.ToLower(reader) },
		"same grant, principal in other case":                   func(a *store.RoleAssignment) { a.PrincipalID = principal },
		"same grant, role as another full id": func(a *store.RoleAssignment) {
			a.RoleDefinitionID = "/providers/Microsoft.Authorization/roleDefinitions/" + strings.ToLower(reader)
		},
	}
	for name, change := range conflicts {
		a := newRoleAssignment(rg, full.PrincipalID, full.RoleDefinitionID, t0)
		change(&a)
		isErr(t, s.CreateRoleAssignment(ctx, a), store.ErrConflict, "create role assignment: "+name)
		if !strings.EqualFold(a.ID, full.ID) {
			_, err := s.GetRoleAssignment(ctx, a.ID)
			isErr(t, err, store.ErrNotFound, "role assignment whose creation failed: "+name)
		}
	}

	// The same role elsewhere, or another role at the same scope, is another grant.
	atSub := newRoleAssignment(sub, principal, reader, t0.Add(-time.Hour))
	otherRole := newRoleAssignment(rg, principal, newID(), t0.Add(time.Hour))
	otherPrincipal := newRoleAssignment(rg, newID(), reader, t0.Add(2*time.Hour))
	for _, a := range []store.RoleAssignment{atSub, otherRole, otherPrincipal} {
		mustCreateRoleAssignment(t, s, a)
	}

	got, err := s.ListRoleAssignmentsForPrincipal(ctx, strings.ToUpper(principal))
	ok(t, err, "list role assignments of a principal")
	equal(t, got, storedAll(storedRoleAssignment, atSub, full, otherRole), "role assignments of a principal")
	got, err = s.ListRoleAssignmentsForPrincipal(ctx, newID())
	ok(t, err, "list role assignments of a principal holding none")
	equal(t, got, []store.RoleAssignment(nil), "role assignments of a principal holding none")

	deleted, err := s.DeleteRoleAssignment(ctx, strings.ToLower(full.ID))
	ok(t, err, "delete role assignment")
	equal(t, deleted, storedRoleAssignment(full), "deleted role assignment")
	_, err = s.DeleteRoleAssignment(ctx, full.ID)
	isErr(t, err, store.ErrNotFound, "delete role assignment twice")
	_, err = s.DeleteRoleAssignment(ctx, newID())
	isErr(t, err, store.ErrNotFound, "delete missing role assignment")
	_, err = s.GetRoleAssignment(ctx, full.ID)
	isErr(t, err, store.ErrNotFound, "get deleted role assignment")
	// The grant and the id are free again.
	again := full
	again.CreatedAt = t0.Add(3 * time.Hour)
	mustCreateRoleAssignment(t, s, again)
	got, err = s.ListRoleAssignmentsForPrincipal(ctx, principal)
	ok(t, err, "list role assignments of a principal")
	equal(t, got, storedAll(storedRoleAssignment, atSub, otherRole, again), "role assignments of a principal after re-creation")
}

func testListRoleAssignments(t *testing.T, s store.Store) {
	ctx := t.Context()
	subID := newID()
	sub := "/subscriptions/" + subID
	rg := sub + "/resourceGroups/Group_1"
	vm := rg + "/providers/Microsoft.Compute/virtualMachines/vm"
	p1, p2 := newID(), newID()
	role := newID()
	at := func(i int) time.Time { return t0.Add(time.Duration(i) * time.Second) }

	root := newRoleAssignment("/", p1, role, at(0))
	onSub := newRoleAssignment(strings.ToUpper(sub), p1, role, at(1))
	onGroup := newRoleAssignment(rg, p1, role, at(2))
	onGroupP2 := newRoleAssignment(rg+"/", p2, role, at(3))
	onVM := newRoleAssignment(vm, p2, role, at(4))
	onVMChild := newRoleAssignment(vm+"/extensions/x", p1, role, at(5))
	// Beside the group: "Group_1" is a prefix of "Group_10", and a LIKE pattern of "GroupX1".
	onGroup10 := newRoleAssignment(sub+"/resourceGroups/Group_10", p1, role, at(6))
	onGroupX := newRoleAssignment(sub+"/resourceGroups/GroupX1/providers/a/b/c", p1, role, at(7))
	onOtherSub := newRoleAssignment("/subscriptions/"+newID(), p1, role, at(8))
	onSubsNoID := newRoleAssignment("/subscriptions", p2, role, at(9))
	all := []store.RoleAssignment{root, onSub, onGroup, onGroupP2, onVM, onVMChild, onGroup10, onGroupX, onOtherSub, onSubsNoID}
	for _, i := range []int{6, 2, 9, 0, 4, 8, 1, 3, 7, 5} { // out of order: listed by CreatedAt, then id
		mustCreateRoleAssignment(t, s, all[i])
	}

	tests := []struct {
		name string
		f    store.RoleAssignmentFilter
		want []store.RoleAssignment
	}{
		{"no filter", store.RoleAssignmentFilter{}, all},
		{"principal", store.RoleAssignmentFilter{PrincipalID: strings.ToUpper(p2)}, []store.RoleAssignment{onGroupP2, onVM, onSubsNoID}},
		{"at or above the root", store.RoleAssignmentFilter{AtOrAbove: "/"}, []store.RoleAssignment{root}},
		{"at or above a subscription", store.RoleAssignmentFilter{AtOrAbove: strings.ToLower(sub)}, []store.RoleAssignment{root, onSub, onSubsNoID}},
		{"at or above a group", store.RoleAssignmentFilter{AtOrAbove: rg}, []store.RoleAssignment{root, onSub, onGroup, onGroupP2, onSubsNoID}},
		{"at or above a group, other case, trailing slash", store.RoleAssignmentFilter{AtOrAbove: strings.ToUpper(rg) + "/"}, []store.RoleAssignment{root, onSub, onGroup, onGroupP2, onSubsNoID}},
		{"at or above a resource", store.RoleAssignmentFilter{AtOrAbove: vm}, []store.RoleAssignment{root, onSub, onGroup, onGroupP2, onVM, onSubsNoID}},
		{"at or above a resource, one principal", store.RoleAssignmentFilter{AtOrAbove: vm, PrincipalID: p1}, []store.RoleAssignment{root, onSub, onGroup}},
		{"below the root", store.RoleAssignmentFilter{Below: "/"}, all},
		{"below a group", store.RoleAssignmentFilter{Below: rg}, []store.RoleAssignment{onGroup, onGroupP2, onVM, onVMChild}},
		{"below a group, other case, trailing slash", store.RoleAssignmentFilter{Below: strings.ToLower(rg) + "/"}, []store.RoleAssignment{onGroup, onGroupP2, onVM, onVMChild}},
		{"below a resource", store.RoleAssignmentFilter{Below: vm}, []store.RoleAssignment{onVM, onVMChild}},
		{"below a group, one principal", store.RoleAssignmentFilter{Below: rg, PrincipalID: p2}, []store.RoleAssignment{onGroupP2, onVM}},
		{"at, above and below a group", store.RoleAssignmentFilter{AtOrAbove: rg, Below: rg}, []store.RoleAssignment{root, onSub, onGroup, onGroupP2, onVM, onVMChild, onSubsNoID}},
		{"at, above and below a group, one principal", store.RoleAssignmentFilter{AtOrAbove: rg, Below: rg, PrincipalID: p1}, []store.RoleAssignment{root, onSub, onGroup, onVMChild}},
		{"at, above and below the root", store.RoleAssignmentFilter{AtOrAbove: "/", Below: "/", PrincipalID: p2}, []store.RoleAssignment{onGroupP2, onVM, onSubsNoID}},
		{"below an unknown scope", store.RoleAssignmentFilter{Below: sub + "/resourceGroups/none"}, nil},
		{"unknown principal", store.RoleAssignmentFilter{PrincipalID: newID()}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := s.ListRoleAssignments(ctx, tc.f)
			ok(t, err, "list role assignments")
			equal(t, assignmentScopes(got), assignmentScopes(tc.want), "scopes of role assignments listed")
			equal(t, got, storedAll(storedRoleAssignment, tc.want...), "role assignments listed")
		})
	}
}

// testRoleAssignmentsForPrincipals: one read of several principals' assignments gives each one's,
// ordered by CreatedAt then id, whatever the case of the ids; none for no ids.
func testRoleAssignmentsForPrincipals(t *testing.T, s store.Store) {
	ctx := t.Context()
	sub := "/subscriptions/" + newID()
	role := newID()
	p1, p2, p3 := newID(), newID(), newID()
	a1 := newRoleAssignment(sub, p1, role, t0.Add(3*time.Second))
	a2 := newRoleAssignment(sub+"/resourceGroups/g", p2, role, t0.Add(time.Second))
	a3 := newRoleAssignment(sub+"/resourceGroups/h", p1, role, t0.Add(2*time.Second))
	a4 := newRoleAssignment(sub, p3, role, t0)
	for _, a := range []store.RoleAssignment{a1, a2, a3, a4} {
		mustCreateRoleAssignment(t, s, a)
	}
	got, err := s.ListRoleAssignmentsForPrincipals(ctx, []string{strings.ToUpper(p1), p2, newID()})
	ok(t, err, "list the role assignments of several principals")
	equal(t, got, storedAll(storedRoleAssignment, a2, a3, a1), "role assignments of two principals")
	got, err = s.ListRoleAssignmentsForPrincipals(ctx, nil)
	ok(t, err, "list the role assignments of no principals")
	equal(t, got, []store.RoleAssignment(nil), "role assignments of no principals")
}

// testRoleAssignmentPages: a list read a page at a time (Limit, then After the last row's
// RoleAssignmentCursor) gives the whole list once, in order, across ties of CreatedAt, with the
// scope filters applied; a malformed cursor is ErrInvalidCursor.
func testRoleAssignmentPages(t *testing.T, s store.Store) {
	ctx := t.Context()
	sub := "/subscriptions/" + newID()
	role := newID()
	var created []store.RoleAssignment
	for i := range 23 {
		at := t0.Add(time.Duration(i/3) * time.Second) // three at each instant: ordered by id
		scope := sub
		if i%4 == 0 {
			scope = sub + "/resourceGroups/rg"
		}
		a := newRoleAssignment(scope, newID(), role, at)
		mustCreateRoleAssignment(t, s, a)
		created = append(created, a)
	}
	mustCreateRoleAssignment(t, s, newRoleAssignment("/subscriptions/"+newID(), newID(), role, t0)) // not at or above sub
	f := store.RoleAssignmentFilter{AtOrAbove: sub}
	want, err := s.ListRoleAssignments(ctx, f)
	ok(t, err, "list role assignments at or above the subscription")
	if len(want) != 17 { // 23 less the 6 in the group
		t.Fatalf("%d assignments at or above the subscription, want 17", len(want))
	}
	for _, limit := range []int{1, 4, 17, 100} {
		var got []store.RoleAssignment
		f.After, f.Limit = "", limit
		for range 30 {
			page, err := s.ListRoleAssignments(ctx, f)
			ok(t, err, "list a page of role assignments")
			if len(page) > limit {
				t.Fatalf("page of %d with limit %d", len(page), limit)
			}
			got = append(got, page...)
			if len(page) < limit {
				break
			}
			f.After = store.RoleAssignmentCursor(page[len(page)-1])
		}
		equal(t, got, want, fmt.Sprintf("role assignments read %d at a time", limit))
	}
	f.After, f.Limit = store.RoleAssignmentCursor(want[len(want)-1]), 0
	rest, err := s.ListRoleAssignments(ctx, f)
	ok(t, err, "list role assignments after the last")
	equal(t, rest, []store.RoleAssignment(nil), "role assignments after the last")
	for _, bad := range []string{
		"garbage!",
		store.ResourceCursor(store.Resource{ID: sub, CreatedAt: t0}), // another list's cursor
		base64.RawURLEncoding.EncodeToString([]byte("a1:notanumber:x")),
		base64.RawURLEncoding.EncodeToString([]byte("a1:12")),
		base64.RawURLEncoding.EncodeToString([]byte("a1:12:Upper")),
		base64.RawURLEncoding.EncodeToString([]byte("a1:012:x")),                        // a second spelling of 12
		"\n" + store.RoleAssignmentCursor(store.RoleAssignment{ID: "x", CreatedAt: t0}), // CR and LF are skipped by the decoder
	} {
		_, err := s.ListRoleAssignments(ctx, store.RoleAssignmentFilter{AtOrAbove: sub, After: bad, Limit: 7})
		isErr(t, err, store.ErrInvalidCursor, "list role assignments after the malformed cursor "+bad)
	}
}

// Activity log

func testActivity(t *testing.T, s store.Store) {
	ctx := t.Context()
	es, err := s.ListActivity(ctx, store.ActivityFilter{})
	ok(t, err, "list activity of an empty store")
	equal(t, es, []store.ActivityEvent(nil), "activity of an empty store")

	subA, subB := newID(), newID()
	callerA, callerB := newID(), newID()
	identity := groupScope(subA, "G_1") + "/providers/" + identityType + "/id"
	mk := func(id string, at time.Time, sub, group, resourceID, caller string) store.ActivityEvent {
		return store.ActivityEvent{
			ID: id, OperationID: newID(), CorrelationID: newID(), Time: at, SubscriptionID: sub, ResourceGroup: group,
			ResourceID: resourceID, ResourceType: identityType, OperationName: identityType + "/write",
			Status: "Succeeded", SubStatus: "Created", HTTPStatus: 201, Caller: caller, CallerAppID: newID(), HTTPMethod: "PUT",
		}
	}
	e1 := mk("e1", t0, subA, "G_1", identity, callerA)
	e2 := mk("e2", t0.Add(time.Second), subA, "G_1", identity+"/federatedIdentityCredentials/f", callerB)
	e3a := mk("e3a", t0.Add(2*time.Second), subA, "g_10", groupScope(subA, "g_10")+"/providers/"+identityType+"/id", callerA)
	e3b := mk("e3b", t0.Add(2*time.Second), subB, "G_1", groupScope(subB, "G_1"), callerA) // same time as e3a: ID breaks the tie
	e4 := mk("e4", t0.Add(3*time.Second), subA, "gx1", groupScope(subA, "gx1")+"/providers/"+identityType+"/id", callerB)
	e4.Status, e4.SubStatus, e4.HTTPStatus, e4.Message = "Failed", "Forbidden", 403, "no permission"
	e5 := mk("e5", t0.Add(4*time.Second), subA, "", "", callerA) // a subscription-level event with no resource
	e5.ResourceType, e5.HTTPMethod, e5.CallerAppID = "", "", ""
	ok(t, s.AppendActivity(ctx, e3b, e1, e5), "append activity")
	ok(t, s.AppendActivity(ctx, e2, e3a, e4), "append activity")
	ok(t, s.AppendActivity(ctx), "append no activity")

	tests := []struct {
		name string
		f    store.ActivityFilter
		want []store.ActivityEvent
	}{
		{"all", store.ActivityFilter{}, []store.ActivityEvent{e5, e4, e3a, e3b, e2, e1}},
		{"subscription", store.ActivityFilter{SubscriptionID: strings.ToUpper(subB)}, []store.ActivityEvent{e3b}},
		{"group", store.ActivityFilter{SubscriptionID: subA, ResourceGroup: "g_1"}, []store.ActivityEvent{e2, e1}},
		{"group in any subscription", store.ActivityFilter{ResourceGroup: "G_1"}, []store.ActivityEvent{e3b, e2, e1}},
		{"resource and below", store.ActivityFilter{ResourceID: strings.ToUpper(identity)}, []store.ActivityEvent{e2, e1}},
		{"below a group", store.ActivityFilter{ResourceID: groupScope(subA, "g_1") + "/"}, []store.ActivityEvent{e2, e1}},
		{"child resource", store.ActivityFilter{ResourceID: e2.ResourceID}, []store.ActivityEvent{e2}},
		{"caller", store.ActivityFilter{Caller: strings.ToUpper(callerB)}, []store.ActivityEvent{e4, e2}},
		{"since is inclusive", store.ActivityFilter{Since: t0.Add(2 * time.Second)}, []store.ActivityEvent{e5, e4, e3a, e3b}},
		{"until is exclusive", store.ActivityFilter{Until: t0.Add(2 * time.Second)}, []store.ActivityEvent{e2, e1}},
		{"window", store.ActivityFilter{Since: t0.Add(time.Second), Until: t0.Add(3 * time.Second)}, []store.ActivityEvent{e3a, e3b, e2}},
		{"limit", store.ActivityFilter{Limit: 2}, []store.ActivityEvent{e5, e4}},
		{"negative limit means default", store.ActivityFilter{Limit: -1}, []store.ActivityEvent{e5, e4, e3a, e3b, e2, e1}},
		{"every field", store.ActivityFilter{SubscriptionID: subA, ResourceGroup: "G_1", ResourceID: identity, Caller: callerB,
			Since: t0, Until: t0.Add(time.Hour), Limit: 10}, []store.ActivityEvent{e2}},
		{"no match", store.ActivityFilter{SubscriptionID: subB, Caller: callerB}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := s.ListActivity(ctx, tc.f)
			ok(t, err, "list activity")
			equal(t, got, storedAll(storedActivity, tc.want...), "activity")
		})
	}

	// Limit 0 is 100; a batch is stored entirely or not at all.
	batch := make([]store.ActivityEvent, 150)
	for i := range batch {
		batch[i] = store.ActivityEvent{ID: fmt.Sprintf("b%03d", i), Time: t0.Add(time.Hour + time.Duration(i)*time.Millisecond), SubscriptionID: subB}
	}
	ok(t, s.AppendActivity(ctx, batch...), "append a batch")
	got, err := s.ListActivity(ctx, store.ActivityFilter{SubscriptionID: subB})
	ok(t, err, "list activity")
	if len(got) != 100 {
		t.Fatalf("Limit 0 returned %d events, want 100", len(got))
	}
	if got[0].ID != "b149" || got[99].ID != "b050" {
		t.Fatalf("Limit 0 returned %s..%s, want b149..b050", got[0].ID, got[99].ID)
	}
	fresh := store.ActivityEvent{ID: "fresh", Time: t0.Add(2 * time.Hour)}
	isErr(t, s.AppendActivity(ctx, fresh, e1), store.ErrConflict, "append a batch repeating a stored id")
	isErr(t, s.AppendActivity(ctx, fresh, fresh), store.ErrConflict, "append a batch with one id twice")
	got, err = s.ListActivity(ctx, store.ActivityFilter{Since: t0.Add(2 * time.Hour)})
	ok(t, err, "list activity")
	equal(t, got, []store.ActivityEvent(nil), "activity of failed batches")
	// Event ids are compared exactly.
	ok(t, s.AppendActivity(ctx, store.ActivityEvent{ID: "E1", Time: t0.Add(2 * time.Hour)}), "append an event whose id differs in case")
}

// Concurrency

func testControlPlaneConcurrency(t *testing.T, s store.Store) {
	ctx := t.Context()
	tenantID, sub := newID(), newID()
	mustPutGroup(t, s, newGroup(sub, "g", t0))

	t.Run("one new group put 20 times at once", func(t *testing.T) {
		var createdN atomic.Int32
		errs := parallel(20, func(i int) error {
			created, err := s.PutResourceGroup(ctx, newGroup(sub, "Race", t0))
			if created {
				createdN.Add(1)
			}
			return err
		})
		for i, err := range errs {
			ok(t, err, fmt.Sprintf("put group %d", i))
		}
		equal(t, int(createdN.Load()), 1, "puts told they created the group")
	})

	t.Run("one new resource put 20 times at once", func(t *testing.T) {
		r := newResource(sub, "g", identityType, "race", t0)
		var createdN atomic.Int32
		errs := parallel(20, func(i int) error {
			r := r
			if i%2 == 1 {
				r.ID = strings.ToUpper(r.ID)
			}
			r.Location = fmt.Sprint(i)
			created, err := s.PutResource(ctx, r, nil, nil)
			if created {
				createdN.Add(1)
			}
			return err
		})
		for i, err := range errs {
			ok(t, err, fmt.Sprintf("put resource %d", i))
		}
		equal(t, int(createdN.Load()), 1, "puts told they created the resource")
		rs, err := s.ListResources(ctx, store.ResourceFilter{SubscriptionID: sub, Type: identityType})
		ok(t, err, "list resources")
		equal(t, len(rs), 1, "resources after racing puts")
	})

	t.Run("one grant created 20 times at once", func(t *testing.T) {
		scope, principal, role := groupScope(sub, "g"), newID(), newID()
		errs := parallel(20, func(i int) error {
			a := newRoleAssignment(scope, principal, role, t0)
			if i%2 == 1 {
				a.Scope, a.PrincipalID = strings.ToUpper(scope), strings.ToUpper(principal)
				a.RoleDefinitionID = "/subscriptions/" + sub + "/providers/Microsoft.Authorization/roleDefinitions/" + role
			}
			return s.CreateRoleAssignment(ctx, a)
		})
		oneWinner(t, errs, "create one grant")
		as, err := s.ListRoleAssignmentsForPrincipal(ctx, principal)
		ok(t, err, "list role assignments")
		equal(t, len(as), 1, "role assignments after racing creates")
	})

	t.Run("one role name claimed 20 times at once", func(t *testing.T) {
		errs := parallel(20, func(int) error {
			_, err := s.PutRoleDefinition(ctx, newRoleDefinition("Contested Role", t0))
			return err
		})
		oneWinner(t, errs, "create role definitions with one name")
	})

	t.Run("resources put while their group is deleted", func(t *testing.T) {
		mustPutGroup(t, s, newGroup(sub, "doomed", t0))
		var deleted []store.Resource
		sps := make([]store.ServicePrincipal, 41)
		errs := parallel(41, func(i int) error {
			if i == 20 {
				var err error
				deleted, err = s.DeleteResourceGroup(ctx, sub, "doomed")
				return err
			}
			r := newResource(sub, "doomed", identityType, fmt.Sprintf("id-%d", i), t0)
			sp := newIdentityPrincipal(tenantID, r.ID, t0)
			sps[i] = sp
			r.PrincipalID = sp.ObjectID
			_, err := s.PutResource(ctx, r, []store.ServicePrincipal{sp}, nil)
			if errors.Is(err, store.ErrNotFound) {
				return nil // the group was gone
			}
			return err
		})
		for i, err := range errs {
			ok(t, err, fmt.Sprintf("call %d", i))
		}
		// Every resource written was either deleted with the group, with its principal, or
		// refused: none outlives the group.
		rs, err := s.ListResources(ctx, store.ResourceFilter{SubscriptionID: sub, ResourceGroup: "doomed"})
		ok(t, err, "list resources of the deleted group")
		equal(t, rs, []store.Resource(nil), "resources outliving their group")
		// Nor does a principal: deleted with its resource, or never created.
		for i, sp := range sps {
			if i == 20 {
				continue
			}
			_, err := s.GetPrincipal(ctx, sp.ObjectID)
			isErr(t, err, store.ErrNotFound, "principal of a resource put while its group was deleted")
		}
		t.Logf("%d of 40 resources were put before the group was deleted", len(deleted))
	})

	t.Run("mixed control-plane readers and writers", func(t *testing.T) {
		principal := newID()
		errs := parallel(60, func(i int) error {
			switch i % 6 {
			case 0:
				_, err := s.PutResource(ctx, newResource(sub, "g", vmType, fmt.Sprintf("vm-%d", i), t0), nil, nil)
				return err
			case 1:
				_, err := s.ListResources(ctx, store.ResourceFilter{SubscriptionID: sub})
				return err
			case 2:
				return s.CreateRoleAssignment(ctx, newRoleAssignment(groupScope(sub, "g"), principal, newID(), t0))
			case 3:
				_, err := s.ListRoleAssignmentsForPrincipal(ctx, principal)
				return err
			case 4:
				return s.AppendActivity(ctx, store.ActivityEvent{ID: newID(), Time: time.Now(), SubscriptionID: sub})
			default:
				_, err := s.ListActivity(ctx, store.ActivityFilter{SubscriptionID: sub})
				return err
			}
		})
		for i, err := range errs {
			ok(t, err, fmt.Sprintf("call %d", i))
		}
		as, err := s.ListRoleAssignmentsForPrincipal(ctx, principal)
		ok(t, err, "list role assignments")
		equal(t, len(as), 10, "role assignments created at once")
	})
}

// Shared

func testSharedControlPlane(t *testing.T, a, b store.Store) {
	ctx := t.Context()
	tenantID, sub := newID(), newID()
	mustPutGroup(t, a, newGroup(sub, "g", t0))
	r := newResource(sub, "g", identityType, "id", t0)
	sp := newIdentityPrincipal(tenantID, r.ID, t0)
	r.PrincipalID = sp.ObjectID
	created, err := b.PutResource(ctx, r, []store.ServicePrincipal{sp}, nil)
	ok(t, err, "put resource through b in a group put through a")
	equal(t, created, true, "created flag")
	got, err := a.GetResource(ctx, r.ID)
	ok(t, err, "get resource through a")
	equal(t, got, storedResource(r), "resource seen by a")

	handles := []store.Store{a, b}
	race := newResource(sub, "g", identityType, "race", t0)
	var createdN atomic.Int32
	errs := parallel(20, func(i int) error {
		created, err := handles[i%2].PutResource(ctx, race, nil, nil)
		if created {
			createdN.Add(1)
		}
		return err
	})
	for i, err := range errs {
		ok(t, err, fmt.Sprintf("put resource %d", i))
	}
	equal(t, int(createdN.Load()), 1, "puts through two handles told they created the resource")

	principal, role := newID(), newID()
	errs = parallel(20, func(i int) error {
		return handles[i%2].CreateRoleAssignment(ctx, newRoleAssignment(r.ID, principal, role, t0))
	})
	oneWinner(t, errs, "create one grant through two handles")
	as, err := b.ListRoleAssignmentsForPrincipal(ctx, principal)
	ok(t, err, "list role assignments through b")
	equal(t, len(as), 1, "role assignments seen by b")

	deleted, err := a.DeleteResourceGroup(ctx, sub, "g")
	ok(t, err, "delete group through a")
	equal(t, len(deleted), 2, "resources deleted with the group")
	_, err = b.GetPrincipal(ctx, sp.ObjectID)
	isErr(t, err, store.ErrNotFound, "principal deleted through a, seen by b")
	as, err = b.ListRoleAssignmentsForPrincipal(ctx, principal)
	ok(t, err, "list role assignments through b")
	equal(t, as, []store.RoleAssignment(nil), "role assignments deleted through a, seen by b")
}

// testActivityWithWrite: a context carrying a store.PendingActivity makes the first write
// transaction of each control-plane write method insert the entry with the write (with the
// created status when the write created its target), later writes with the same context add
// none, and a write whose entry cannot be inserted (here: its id is taken) writes nothing and
// fails with an error that is not the write's own ErrConflict or ErrNotFound.
func testActivityWithWrite(t *testing.T, s store.Store) {
	ctx := t.Context()
	tenantID, sub := newID(), newID()
	mustPutGroup(t, s, newGroup(sub, "g", t0))
	taken := store.ActivityEvent{ID: newID(), Time: t0, SubscriptionID: sub}
	ok(t, s.AppendActivity(ctx, taken), "append an event")

	pending := func(id string) (context.Context, *store.PendingActivity) {
		return store.WithPendingActivity(ctx, store.ActivityEvent{ID: id, Time: t0.Add(time.Minute), SubscriptionID: sub,
			ResourceGroup: "g", HTTPMethod: "PUT", Caller: "caller"}, 201, 200)
	}
	entries := func() map[string]store.ActivityEvent {
		es, err := s.ListActivity(ctx, store.ActivityFilter{SubscriptionID: sub, Limit: 1000})
		ok(t, err, "list activity")
		m := map[string]store.ActivityEvent{}
		for _, e := range es {
			m[e.ID] = e
		}
		return m
	}
	identity := newResource(sub, "g", identityType, "id", t0)
	sp := newIdentityPrincipal(tenantID, identity.ID, t0)
	identity.PrincipalID = sp.ObjectID
	vault := newResource(sub, "g", "Microsoft.KeyVault/vaults", "kv", t0)
	role := newID()
	assignment := newRoleAssignment(groupScope(sub, "g"), newID(), role, t0)
	def := store.RoleDefinition{ID: newID(), Scope: "/subscriptions/" + sub, RoleName: "r " + newID(), CreatedAt: t0, UpdatedAt: t0}

	// Each write fails while its entry's id is taken, and leaves nothing behind.
	failing := []struct {
		name  string
		write func(ctx context.Context) error
		gone  func() bool // the write left no trace
	}{
		{"PutResourceGroup", func(ctx context.Context) error {
			_, err := s.PutResourceGroup(ctx, newGroup(sub, "g2", t0))
			return err
		},
			func() bool { _, err := s.GetResourceGroup(ctx, sub, "g2"); return errors.Is(err, store.ErrNotFound) }},
		{"PutResource", func(ctx context.Context) error {
			_, err := s.PutResource(ctx, identity, []store.ServicePrincipal{sp}, nil)
			return err
		},
			func() bool {
				_, err := s.GetResource(ctx, identity.ID)
				_, perr := s.GetPrincipal(ctx, sp.ObjectID)
				return errors.Is(err, store.ErrNotFound) && errors.Is(perr, store.ErrNotFound)
			}},
		{"CreateRoleAssignment", func(ctx context.Context) error { return s.CreateRoleAssignment(ctx, assignment) },
			func() bool {
				_, err := s.GetRoleAssignment(ctx, assignment.ID)
				return errors.Is(err, store.ErrNotFound)
			}},
		{"PutRoleDefinition", func(ctx context.Context) error { _, err := s.PutRoleDefinition(ctx, def); return err },
			func() bool { _, err := s.GetRoleDefinition(ctx, def.ID); return errors.Is(err, store.ErrNotFound) }},
		{"DeleteResourceGroup", func(ctx context.Context) error { _, err := s.DeleteResourceGroup(ctx, sub, "g"); return err },
			func() bool { _, err := s.GetResourceGroup(ctx, sub, "g"); return err == nil }},
	}
	for _, f := range failing {
		pctx, p := pending(taken.ID)
		err := f.write(pctx)
		if err == nil || errors.Is(err, store.ErrConflict) || errors.Is(err, store.ErrNotFound) {
			t.Errorf("%s whose activity entry cannot be written: %v, want an error that is neither ErrConflict nor ErrNotFound", f.name, err)
		}
		if recorded, _ := p.Recorded(); recorded {
			t.Errorf("%s: the entry is reported recorded", f.name)
		}
		if !f.gone() {
			t.Errorf("%s whose activity entry cannot be written left its change behind", f.name)
		}
	}

	// The same writes with a free id: each records its entry, once, with its status.
	for _, w := range []struct {
		name   string
		write  func(ctx context.Context) error
		status int
	}{
		{"PutResourceGroup creates", func(ctx context.Context) error {
			_, err := s.PutResourceGroup(ctx, newGroup(sub, "g2", t0))
			return err
		}, 201},
		{"PutResourceGroup replaces", func(ctx context.Context) error {
			_, err := s.PutResourceGroup(ctx, newGroup(sub, "g2", t0))
			return err
		}, 200},
		{"PutResource creates", func(ctx context.Context) error {
			_, err := s.PutResource(ctx, identity, []store.ServicePrincipal{sp}, nil)
			return err
		}, 201},
		{"PutResource replaces", func(ctx context.Context) error { _, err := s.PutResource(ctx, identity, nil, nil); return err }, 200},
		{"PutResource and CreateVault", func(ctx context.Context) error {
			if _, err := s.PutResource(ctx, vault, nil, nil); err != nil {
				return err
			}
			return s.CreateVault(ctx, store.Vault{Name: "kv" + newID()[:8], ResourceID: vault.ID, DataKey: []byte("k"), CreatedAt: t0})
		}, 201},
		{"CreateRoleAssignment", func(ctx context.Context) error { return s.CreateRoleAssignment(ctx, assignment) }, 201},
		{"DeleteRoleAssignment", func(ctx context.Context) error { _, err := s.DeleteRoleAssignment(ctx, assignment.ID); return err }, 200},
		{"PutRoleDefinition", func(ctx context.Context) error { _, err := s.PutRoleDefinition(ctx, def); return err }, 201},
		{"DeleteRoleDefinition", func(ctx context.Context) error { return s.DeleteRoleDefinition(ctx, def.ID) }, 200},
		{"DeleteResource", func(ctx context.Context) error { _, err := s.DeleteResource(ctx, identity.ID); return err }, 200},
		{"DeleteResourceGroup", func(ctx context.Context) error { _, err := s.DeleteResourceGroup(ctx, sub, "g2"); return err }, 200},
	} {
		id := newID()
		pctx, p := pending(id)
		ok(t, w.write(pctx), w.name)
		recorded, status := p.Recorded()
		e, found := entries()[id]
		if !recorded || status != w.status || !found || e.HTTPStatus != w.status || e.Status != "Succeeded" || e.Caller != "caller" {
			t.Errorf("%s: recorded %v %d, stored %v %+v, want status %d", w.name, recorded, status, found, e, w.status)
		}
	}
	// A write that fails for its own reason records nothing and keeps its own error.
	id := newID()
	pctx, p := pending(id)
	_, err := s.DeleteResource(pctx, identity.ID)
	isErr(t, err, store.ErrNotFound, "delete a deleted resource")
	if recorded, _ := p.Recorded(); recorded || len(entries()) != 12 {
		t.Errorf("a failed write recorded an entry: %v, %d entries", recorded, len(entries()))
	}
}

// testPurgeLogs: PurgeSignIns and PurgeActivity delete only entries strictly older than the
// cut-off, at most limit per call and oldest first, and say how many; a retention purge that
// calls them until fewer than limit are deleted leaves exactly the newer entries.
func testPurgeLogs(t *testing.T, s store.Store) {
	ctx := t.Context()
	cut := storedTime(t0.Add(100 * time.Second)) // at microsecond precision, as stored
	var signIns []store.SignIn
	var events []store.ActivityEvent
	for i := range 250 {
		at := t0.Add(time.Duration(i) * time.Second) // 100 before the cut, 150 at or after it
		signIns = append(signIns, store.SignIn{ID: fmt.Sprintf("s%03d", i), Time: at, TenantID: "t", Result: "failure"})
		events = append(events, store.ActivityEvent{ID: fmt.Sprintf("a%03d", i), Time: at, SubscriptionID: "sub"})
	}
	ok(t, s.RecordSignIns(ctx, signIns), "record sign-ins")
	ok(t, s.AppendActivity(ctx, events...), "append activity")

	for _, log := range []struct {
		name  string
		purge func(limit int) (int, error)
		left  func() []time.Time
	}{
		{"sign-ins", func(limit int) (int, error) { return s.PurgeSignIns(ctx, cut, limit) }, func() []time.Time {
			es, err := s.ListSignIns(ctx, store.SignInFilter{Limit: 1000})
			ok(t, err, "list sign-ins")
			var ts []time.Time
			for _, e := range es {
				ts = append(ts, e.Time)
			}
			return ts
		}},
		{"activity", func(limit int) (int, error) { return s.PurgeActivity(ctx, cut, limit) }, func() []time.Time {
			es, err := s.ListActivity(ctx, store.ActivityFilter{Limit: 1000})
			ok(t, err, "list activity")
			var ts []time.Time
			for _, e := range es {
				ts = append(ts, e.Time)
			}
			return ts
		}},
	} {
		n, err := log.purge(0)
		ok(t, err, log.name+": purge with limit 0")
		equal(t, n, 0, log.name+": purged with limit 0")
		n, err = log.purge(30)
		ok(t, err, log.name+": purge a batch")
		equal(t, n, 30, log.name+": first batch")
		left := log.left()
		equal(t, len(left), 220, log.name+": left after a batch")
		if oldest := slices.MinFunc(left, func(a, b time.Time) int { return a.Compare(b) }); !oldest.Equal(storedTime(t0.Add(30 * time.Second))) {
			t.Errorf("%s: the batch did not take the oldest: oldest left %v", log.name, oldest)
		}
		total := 30
		for {
			n, err := log.purge(30)
			ok(t, err, log.name+": purge")
			total += n
			if n < 30 {
				break
			}
		}
		equal(t, total, 100, log.name+": purged in all")
		left = log.left()
		equal(t, len(left), 150, log.name+": left")
		for _, at := range left {
			if at.Before(cut) {
				t.Errorf("%s: an entry of %v is left before the cut %v", log.name, at, cut)
			}
		}
	}
}
