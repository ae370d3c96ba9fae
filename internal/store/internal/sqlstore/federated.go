package sqlstore

import (
	"context"
	"fmt"

	"github.com/mint-id/mint/internal/store"
	"github.com/mint-id/mint/internal/store/internal/column"
)

// Applications' federated identity credentials

func (s *Store) AddFederatedCredential(ctx context.Context, c store.FederatedCredential, limit int) error {
	audiences, err := column.List(c.Audiences)
	if err != nil {
		return fmt.Errorf("add federated credential %s: %w", c.ID, err)
	}
	err = s.inTx(ctx, func(tx Tx) error {
		// Locking the application's row serialises the writers of its credentials, on every
		// replica: the count cannot change between this read and the insert.
		var one int
		if err := tx.QueryRow(ctx, `SELECT 1 FROM principals WHERE object_id = $1`+s.lock("UPDATE"), c.PrincipalID).Scan(&one); err != nil {
			return err
		}
		var n int
		if err := tx.QueryRow(ctx, `SELECT COUNT(*) FROM federated_credentials WHERE principal_id = $1`, c.PrincipalID).Scan(&n); err != nil {
			return err
		}
		if n >= limit {
			return store.ErrLimitReached
		}
		_, err := tx.Exec(ctx, `INSERT INTO federated_credentials (id, principal_id, name_key, name, issuer, subject,
			claims_expression, audiences, description, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
			c.ID, c.PrincipalID, column.Key(c.Name), c.Name, c.Issuer, c.Subject, c.ClaimsMatchingExpression, audiences, c.Description, c.CreatedAt)
		return err
	})
	if err != nil {
		return fmt.Errorf("add federated credential %s to principal %s: %w", c.Name, c.PrincipalID, err)
	}
	return nil
}

func scanFederatedCredential(row scanner) (store.FederatedCredential, error) {
	var c store.FederatedCredential
	var audiences string
	if err := row.Scan(&c.ID, &c.PrincipalID, &c.Name, &c.Issuer, &c.Subject, &c.ClaimsMatchingExpression, &audiences, &c.Description, tm(&c.CreatedAt)); err != nil {
		return c, err
	}
	var err error
	if c.Audiences, err = column.ParseList[string](audiences); err != nil {
		return c, fmt.Errorf("federated credential %s: %w", c.ID, err)
	}
	return c, nil
}

func (s *Store) ListFederatedCredentials(ctx context.Context, principalID string) ([]store.FederatedCredential, error) {
	cs, err := list(ctx, s, scanFederatedCredential, `SELECT id, principal_id, name, issuer, subject, claims_expression, audiences, description, created_at
		FROM federated_credentials WHERE principal_id = $1 ORDER BY seq`, principalID)
	if err != nil {
		return nil, fmt.Errorf("list federated credentials of principal %s: %w", principalID, err)
	}
	return cs, nil
}

func (s *Store) UpdateFederatedCredential(ctx context.Context, c store.FederatedCredential) error {
	audiences, err := column.List(c.Audiences)
	if err != nil {
		return fmt.Errorf("update federated credential %s: %w", c.ID, err)
	}
	if err := s.execOne(ctx, `UPDATE federated_credentials SET issuer = $1, subject = $2, claims_expression = $3, audiences = $4,
		description = $5 WHERE principal_id = $6 AND id = $7`, c.Issuer, c.Subject, c.ClaimsMatchingExpression, audiences, c.Description, c.PrincipalID, c.ID); err != nil {
		return fmt.Errorf("update federated credential %s of principal %s: %w", c.ID, c.PrincipalID, err)
	}
	return nil
}

func (s *Store) DeleteFederatedCredential(ctx context.Context, principalID, id string) error {
	if err := s.execOne(ctx, `DELETE FROM federated_credentials WHERE principal_id = $1 AND id = $2`, principalID, id); err != nil {
		return fmt.Errorf("delete federated credential %s of principal %s: %w", id, principalID, err)
	}
	return nil
}
