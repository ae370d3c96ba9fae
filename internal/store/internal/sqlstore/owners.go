package sqlstore

import (
	"context"
	"fmt"

	"github.com/mint-id/mint/internal/store"
	"github.com/mint-id/mint/internal/store/internal/column"
)

// Owners of applications. The owned principal's id is compared exactly, as every principal id;
// an owner's id is folded with column.Key, as a user's is.

func (s *Store) AddOwner(ctx context.Context, o store.PrincipalOwner) error {
	_, err := s.exec(ctx, `INSERT INTO principal_owners (principal_id, owner_id, owner_type, created_at) VALUES ($1, $2, $3, $4)`,
		o.PrincipalID, column.Key(o.OwnerID), string(o.OwnerType), o.CreatedAt)
	if err != nil {
		return fmt.Errorf("add owner %s to %s: %w", o.OwnerID, o.PrincipalID, err)
	}
	return nil
}

func (s *Store) RemoveOwner(ctx context.Context, principalID, ownerID string) error {
	if err := s.execOne(ctx, `DELETE FROM principal_owners WHERE principal_id = $1 AND owner_id = $2`, principalID, column.Key(ownerID)); err != nil {
		return fmt.Errorf("remove owner %s of %s: %w", ownerID, principalID, err)
	}
	return nil
}

func scanOwner(row scanner) (store.PrincipalOwner, error) {
	var o store.PrincipalOwner
	var typ string
	err := row.Scan(&o.PrincipalID, &o.OwnerID, &typ, tm(&o.CreatedAt))
	o.OwnerType = store.MemberType(typ)
	return o, err
}

func (s *Store) ListOwners(ctx context.Context, principalID string) ([]store.PrincipalOwner, error) {
	owners, err := list(ctx, s, scanOwner, `SELECT principal_id, owner_id, owner_type, created_at
		FROM principal_owners WHERE principal_id = $1 ORDER BY seq`, principalID)
	if err != nil {
		return nil, fmt.Errorf("list owners of %s: %w", principalID, err)
	}
	return owners, nil
}

func (s *Store) ListOwnedObjects(ctx context.Context, ownerID string) ([]store.PrincipalOwner, error) {
	owners, err := list(ctx, s, scanOwner, `SELECT principal_id, owner_id, owner_type, created_at
		FROM principal_owners WHERE owner_id = $1 ORDER BY seq`, column.Key(ownerID))
	if err != nil {
		return nil, fmt.Errorf("list objects owned by %s: %w", ownerID, err)
	}
	return owners, nil
}

func (s *Store) IsOwner(ctx context.Context, principalID, ownerID string) (bool, error) {
	n, err := get(ctx, s, func(row scanner) (int, error) {
		var n int
		return n, row.Scan(&n)
	}, `SELECT COUNT(*) FROM principal_owners WHERE principal_id = $1 AND owner_id = $2`, principalID, column.Key(ownerID))
	if err != nil {
		return false, fmt.Errorf("is %s an owner of %s: %w", ownerID, principalID, err)
	}
	return n > 0, nil
}
