package sqlstore

import (
	"context"
	"fmt"
	"time"

	"github.com/mint-id/mint/internal/store"
)

// The portal's browser sessions

func scanPortalSession(row scanner) (store.PortalSession, error) {
	var p store.PortalSession
	err := row.Scan(&p.IDHash, &p.Sealed, tm(&p.ExpiresAt), tm(&p.CreatedAt))
	return p, err
}

func (s *Store) PutPortalSession(ctx context.Context, p store.PortalSession) error {
	err := s.inTx(ctx, func(tx Tx) error {
		if _, err := tx.Exec(ctx, `DELETE FROM portal_sessions WHERE expires_at < $1`, p.CreatedAt); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `INSERT INTO portal_sessions (id_hash, sealed, expires_at, created_at) VALUES ($1, $2, $3, $4)
			ON CONFLICT (id_hash) DO UPDATE SET sealed = excluded.sealed, expires_at = excluded.expires_at`,
			p.IDHash, p.Sealed, p.ExpiresAt, p.CreatedAt)
		return err
	})
	if err != nil {
		return fmt.Errorf("put portal session: %w", err)
	}
	return nil
}

func (s *Store) GetPortalSession(ctx context.Context, idHash string, now time.Time) (store.PortalSession, error) {
	p, err := get(ctx, s, scanPortalSession, `SELECT id_hash, sealed, expires_at, created_at FROM portal_sessions
		WHERE id_hash = $1 AND expires_at > $2`, idHash, now)
	if err != nil {
		return p, fmt.Errorf("get portal session: %w", err)
	}
	return p, nil
}

func (s *Store) DeletePortalSession(ctx context.Context, idHash string) error {
	if err := s.execOne(ctx, `DELETE FROM portal_sessions WHERE id_hash = $1`, idHash); err != nil {
		return fmt.Errorf("delete portal session: %w", err)
	}
	return nil
}
