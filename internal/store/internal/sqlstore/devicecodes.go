package sqlstore

import (
	"context"
	"fmt"
	"time"

	"github.com/mint-id/mint/internal/store"
)

// Device-code sign-ins

const deviceCodeColumns = `device_code_hash, user_code, client_id, client_name, version, tenant_segment, scope, resource,
	expires_at, state, user_id, tenant_id, auth_time, created_at`

func scanDeviceCode(row scanner) (store.DeviceCode, error) {
	var c store.DeviceCode
	var state string
	err := row.Scan(&c.DeviceCodeHash, &c.UserCode, &c.ClientID, &c.ClientName, &c.Version, &c.TenantSegment, &c.Scope, &c.Resource,
		tm(&c.ExpiresAt), &state, &c.UserID, &c.TenantID, tm(&c.AuthTime), tm(&c.CreatedAt))
	c.State = store.DeviceCodeState(state)
	return c, err
}

func (s *Store) CreateDeviceCode(ctx context.Context, c store.DeviceCode) error {
	err := s.inTx(ctx, func(tx Tx) error {
		if _, err := tx.Exec(ctx, `DELETE FROM device_codes WHERE expires_at < $1`, c.CreatedAt); err != nil {
			return err
		}
		var authTime any
		if !c.AuthTime.IsZero() {
			authTime = c.AuthTime
		}
		_, err := tx.Exec(ctx, `INSERT INTO device_codes (`+deviceCodeColumns+`)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)`,
			c.DeviceCodeHash, c.UserCode, c.ClientID, c.ClientName, c.Version, c.TenantSegment, c.Scope, c.Resource,
			c.ExpiresAt, string(c.State), c.UserID, c.TenantID, authTime, c.CreatedAt)
		return err
	})
	if err != nil {
		return fmt.Errorf("create device code %s: %w", c.UserCode, err)
	}
	return nil
}

func (s *Store) GetDeviceCodeByUserCode(ctx context.Context, userCode string) (store.DeviceCode, error) {
	c, err := get(ctx, s, scanDeviceCode, `SELECT `+deviceCodeColumns+` FROM device_codes WHERE user_code = $1`, userCode)
	if err != nil {
		return c, fmt.Errorf("get device code by user code: %w", err)
	}
	return c, nil
}

func (s *Store) DecideDeviceCode(ctx context.Context, hash string, state store.DeviceCodeState, userID, tenantID string, authTime, now time.Time) error {
	if state != store.DeviceCodeApproved && state != store.DeviceCodeDeclined {
		return fmt.Errorf("decide device code: state %q is not a decision", state)
	}
	err := s.execOne(ctx, `UPDATE device_codes SET state = $2, user_id = $3, tenant_id = $4, auth_time = $5
		WHERE device_code_hash = $1 AND state = 'pending' AND expires_at >= $6`, hash, string(state), userID, tenantID, authTime, now)
	if err != nil {
		return fmt.Errorf("decide device code: %w", err)
	}
	return nil
}

func (s *Store) PollDeviceCode(ctx context.Context, hash string) (store.DeviceCode, error) {
	var c store.DeviceCode
	err := s.inTx(ctx, func(tx Tx) error {
		var err error
		c, err = scanDeviceCode(tx.QueryRow(ctx, `SELECT `+deviceCodeColumns+` FROM device_codes WHERE device_code_hash = $1`+s.lock("UPDATE"), hash))
		if err != nil || c.State != store.DeviceCodeApproved {
			return err
		}
		_, err = tx.Exec(ctx, `UPDATE device_codes SET state = 'redeemed' WHERE device_code_hash = $1`, hash)
		return err
	})
	if err != nil {
		return c, fmt.Errorf("poll device code: %w", err)
	}
	return c, nil
}
