package store

import (
	"context"
	"time"
)

// PrincipalOwner is one owner of an application. mint keeps an application and its service
// principal as one object, so the same owners stand for both.
type PrincipalOwner struct {
	PrincipalID string     // object id of the owned application
	OwnerID     string     // object id of the user or service principal that owns it
	OwnerType   MemberType // MemberUser or MemberServicePrincipal
	CreatedAt   time.Time
}

// Owners keeps the owners of applications: who, besides the directory's administrators, may
// change an application, as in Entra. Who may be an owner is decided above the store.
type Owners interface {
	// AddOwner: ErrNotFound if the principal does not exist, ErrConflict if already an owner.
	AddOwner(ctx context.Context, o PrincipalOwner) error
	// RemoveOwner: ErrNotFound if ownerID was not an owner of the principal.
	RemoveOwner(ctx context.Context, principalID, ownerID string) error
	// ListOwners lists a principal's owners in the order added.
	ListOwners(ctx context.Context, principalID string) ([]PrincipalOwner, error)
	// ListOwnedObjects lists what ownerID owns, in the order added.
	ListOwnedObjects(ctx context.Context, ownerID string) ([]PrincipalOwner, error)
	// IsOwner reports whether ownerID owns the principal.
	IsOwner(ctx context.Context, principalID, ownerID string) (bool, error)
}
