package directory

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/google/uuid"

	"github.com/mint-id/mint/internal/store"
)

// Owners of applications, as in Entra
// (https://learn.microsoft.com/entra/identity/role-based-access-control/delegate-app-roles,
// https://learn.microsoft.com/graph/api/application-post-owners): a member who registers an
// application becomes its owner, and its owners may change it, add credentials to it, delete it
// and name other owners, as the directory's administrators may; other members may only read it.
// mint keeps an application and its service principal as one object, so their owners are one
// list.

const (
	msgAlreadyOwner = "One or more added object references already exist for the following modified properties: 'owners'."
	msgOwnerKind    = "An application's owners may be users and service principals only."
	msgNoOwners     = "The owners of this service principal cannot be changed: it is a managed identity or a first-party application."
)

// MayHaveOwners reports whether sp is an object whose owners can be read and changed: an
// application registered in the tenant (with its service principal), not a managed identity
// (Azure manages those) nor a first-party application.
func MayHaveOwners(sp store.ServicePrincipal) bool {
	return sp.Kind == store.KindApplication && !sp.Builtin
}

// AddOwner makes the user or service principal ownerID an owner of the application sp.
// store.ErrNotFound when ownerID names no object of sp's tenant; an InputError when it is a
// group or owns sp already.
func (d *Directory) AddOwner(ctx context.Context, sp store.ServicePrincipal, ownerID string) error {
	if !MayHaveOwners(sp) {
		return &InputError{msgNoOwners}
	}
	obj, err := d.Object(ctx, sp.TenantID, ownerID)
	if err != nil {
		return err
	}
	if obj.Type == store.MemberGroup {
		return &InputError{msgOwnerKind}
	}
	err = d.st.AddOwner(ctx, store.PrincipalOwner{PrincipalID: sp.ObjectID, OwnerID: obj.ID(), OwnerType: obj.Type, CreatedAt: d.now()})
	if errors.Is(err, store.ErrConflict) {
		return &InputError{msgAlreadyOwner}
	}
	if err != nil {
		return fmt.Errorf("add owner %s to %s: %w", ownerID, sp.ObjectID, err)
	}
	return nil
}

// RemoveOwner removes ownerID from sp's owners; store.ErrNotFound if it was not one. The last
// owner may go, as in Entra: the application is then changed by administrators only.
func (d *Directory) RemoveOwner(ctx context.Context, sp store.ServicePrincipal, ownerID string) error {
	if !MayHaveOwners(sp) {
		return &InputError{msgNoOwners}
	}
	if _, err := uuid.Parse(ownerID); err != nil {
		return store.ErrNotFound
	}
	return d.st.RemoveOwner(ctx, sp.ObjectID, strings.ToLower(ownerID))
}

// Owners returns sp's owners in the order they were added (none for objects that have none).
func (d *Directory) Owners(ctx context.Context, sp store.ServicePrincipal) ([]Object, error) {
	if !MayHaveOwners(sp) {
		return nil, nil
	}
	owners, err := d.st.ListOwners(ctx, sp.ObjectID)
	if err != nil {
		return nil, err
	}
	return d.objects(ctx, sp.TenantID, owners, func(o store.PrincipalOwner) string { return o.OwnerID })
}

// OwnedApplications returns the applications ownerID owns in its tenant, in the order it came
// to own them.
func (d *Directory) OwnedApplications(ctx context.Context, tenantID, ownerID string) ([]store.ServicePrincipal, error) {
	owned, err := d.st.ListOwnedObjects(ctx, ownerID)
	if err != nil {
		return nil, err
	}
	objs, err := d.objects(ctx, tenantID, owned, func(o store.PrincipalOwner) string { return o.PrincipalID })
	if err != nil {
		return nil, err
	}
	var out []store.ServicePrincipal
	for _, o := range objs {
		if o.Type == store.MemberServicePrincipal {
			out = append(out, o.ServicePrincipal)
		}
	}
	return out, nil
}

// objects resolves the object each record names, skipping those deleted meanwhile.
func (d *Directory) objects(ctx context.Context, tenantID string, owners []store.PrincipalOwner, id func(store.PrincipalOwner) string) ([]Object, error) {
	var out []Object
	for _, o := range owners {
		obj, err := d.Object(ctx, tenantID, id(o))
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		out = append(out, obj)
	}
	return out, nil
}

// MayManageApplication reports whether the signed-in user u may change the application sp: its
// owners and the directory's administrator may (Entra's Global Administrator and Application
// Administrator roles, which mint does not model, stand for the latter).
func (d *Directory) MayManageApplication(ctx context.Context, sp store.ServicePrincipal, u store.User) (bool, error) {
	if !u.AccountEnabled || !strings.EqualFold(u.TenantID, sp.TenantID) {
		return false, nil
	}
	if d.IsDirectoryAdmin(ctx, u) {
		return true, nil
	}
	if !MayHaveOwners(sp) {
		return false, nil
	}
	return d.st.IsOwner(ctx, sp.ObjectID, u.ObjectID)
}
