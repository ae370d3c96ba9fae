package sqlite

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/mint-id/mint/internal/store"
	"github.com/mint-id/mint/internal/store/internal/column"
)

// Applications' federated identity credentials

func (s *Store) AddFederatedCredential(ctx context.Context, c store.FederatedCredential, limit int) error {
	audiences, err := column.Strings(c.Audiences)
	if err != nil {
		return fmt.Errorf("add federated credential %s: %w", c.ID, err)
	}
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		// One writer at a time: the count cannot change between this read and the insert.
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM federated_credentials WHERE principal_id = ?`, c.PrincipalID).Scan(&n); err != nil {
			return err
		}
		if n >= limit {
			return store.ErrLimitReached
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO federated_credentials (id, principal_id, name_key, name, issuer, subject,
			claims_expression, audiences, description, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			c.ID, c.PrincipalID, column.Key(c.Name), c.Name, c.Issuer, c.Subject, c.ClaimsMatchingExpression, audiences, c.Description, column.Micros(c.CreatedAt))
		return err
	})
	if err != nil {
		return fmt.Errorf("add federated credential %s to principal %s: %w", c.Name, c.PrincipalID, err)
	}
	return nil
}

func (s *Store) ListFederatedCredentials(ctx context.Context, principalID string) ([]store.FederatedCredential, error) {
	rows, err := s.query(ctx, `SELECT id, principal_id, name, issuer, subject, claims_expression, audiences, description, created_at
		FROM federated_credentials WHERE principal_id = ? ORDER BY seq`, principalID)
	if err != nil {
		return nil, fmt.Errorf("list federated credentials of principal %s: %w", principalID, dbErr(ctx, err))
	}
	defer rows.Close()
	var cs []store.FederatedCredential
	for rows.Next() {
		var c store.FederatedCredential
		var audiences string
		var createdAt int64
		if err := rows.Scan(&c.ID, &c.PrincipalID, &c.Name, &c.Issuer, &c.Subject, &c.ClaimsMatchingExpression, &audiences, &c.Description, &createdAt); err != nil {
			return nil, fmt.Errorf("list federated credentials of principal %s: %w", principalID, dbErr(ctx, err))
		}
		if c.Audiences, err = column.ParseStrings(audiences); err != nil {
			return nil, fmt.Errorf("federated credential %s: %w", c.ID, err)
		}
		c.CreatedAt = column.FromMicros(createdAt)
		cs = append(cs, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list federated credentials of principal %s: %w", principalID, dbErr(ctx, err))
	}
	return cs, nil
}

func (s *Store) UpdateFederatedCredential(ctx context.Context, c store.FederatedCredential) error {
	audiences, err := column.Strings(c.Audiences)
	if err != nil {
		return fmt.Errorf("update federated credential %s: %w", c.ID, err)
	}
	res, err := s.write.ExecContext(ctx, `UPDATE federated_credentials SET issuer = ?, subject = ?, claims_expression = ?, audiences = ?,
		description = ? WHERE principal_id = ? AND id = ?`, c.Issuer, c.Subject, c.ClaimsMatchingExpression, audiences, c.Description, c.PrincipalID, c.ID)
	if err == nil {
		err = mustAffect(res)
	}
	if err != nil {
		return fmt.Errorf("update federated credential %s of principal %s: %w", c.ID, c.PrincipalID, dbErr(ctx, err))
	}
	return nil
}

func (s *Store) DeleteFederatedCredential(ctx context.Context, principalID, id string) error {
	res, err := s.write.ExecContext(ctx, `DELETE FROM federated_credentials WHERE principal_id = ? AND id = ?`, principalID, id)
	if err == nil {
		err = mustAffect(res)
	}
	if err != nil {
		return fmt.Errorf("delete federated credential %s of principal %s: %w", id, principalID, dbErr(ctx, err))
	}
	return nil
}
