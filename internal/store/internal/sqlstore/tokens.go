package sqlstore

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/mint-id/mint/internal/store"
	"github.com/mint-id/mint/internal/store/internal/column"
)

// Signing keys

func (s *Store) CreateSigningKey(ctx context.Context, k store.SigningKey) error {
	_, err := s.exec(ctx, `INSERT INTO signing_keys (kid, created_at, activate_at, sealed_key, certificate)
		VALUES ($1, $2, $3, $4, $5)`, k.KID, k.CreatedAt, k.ActivateAt, column.Bytes(k.SealedKey), column.Bytes(k.Certificate))
	if err != nil {
		return fmt.Errorf("create signing key %s: %w", k.KID, err)
	}
	return nil
}

func scanSigningKey(row scanner) (store.SigningKey, error) {
	var k store.SigningKey
	if err := row.Scan(&k.KID, tm(&k.CreatedAt), tm(&k.ActivateAt), &k.SealedKey, &k.Certificate); err != nil {
		return store.SigningKey{}, err
	}
	k.SealedKey, k.Certificate = column.Bytes(k.SealedKey), column.Bytes(k.Certificate)
	return k, nil
}

func (s *Store) ListSigningKeys(ctx context.Context) ([]store.SigningKey, error) {
	ks, err := list(ctx, s, scanSigningKey, `SELECT kid, created_at, activate_at, sealed_key, certificate FROM signing_keys
		ORDER BY activate_at, created_at, kid`)
	if err != nil {
		return nil, fmt.Errorf("list signing keys: %w", err)
	}
	return ks, nil
}

func (s *Store) SetSigningKeyActivation(ctx context.Context, kid string, activateAt time.Time) error {
	if err := s.execOne(ctx, `UPDATE signing_keys SET activate_at = $1 WHERE kid = $2`, activateAt, kid); err != nil {
		return fmt.Errorf("set activation of signing key %s: %w", kid, err)
	}
	return nil
}

func (s *Store) DeleteSigningKey(ctx context.Context, kid string) error {
	if err := s.execOne(ctx, `DELETE FROM signing_keys WHERE kid = $1`, kid); err != nil {
		return fmt.Errorf("delete signing key %s: %w", kid, err)
	}
	return nil
}

// Sign-ins

// signInInserts are the sign-in log's chunked INSERTs, by dialect (numbered or "?" parameters).
var signInInserts = map[bool]*chunkedInsert{false: newSignInInsert(false), true: newSignInInsert(true)}

func newSignInInsert(anonymous bool) *chunkedInsert {
	columns := []string{"id", "at", "tenant_id", "tenant_key", "principal_id", "app_id", "app_key",
		"resource", "grant_type", "result", "error_code", "reason", "correlation_id", "token_id", "resource_id"}
	return &chunkedInsert{table: "sign_ins", columns: columns,
		insert: `INSERT INTO sign_ins (` + strings.Join(columns, ", ") + `)`, cols: len(columns), anonymous: anonymous}
}

func (s *Store) RecordSignIns(ctx context.Context, entries []store.SignIn) error {
	if len(entries) == 0 {
		return nil
	}
	ins := signInInserts[s.d.AnonymousParams]
	ins.prepare(ctx, s.write)
	err := s.inTx(ctx, func(tx Tx) error {
		return ins.run(ctx, tx, len(entries), func(args []any, i int) []any {
			e := &entries[i]
			return append(args, e.ID, e.Time, e.TenantID, column.Key(e.TenantID), e.PrincipalID,
				e.AppID, column.Key(e.AppID), e.Resource, e.Grant, e.Result, e.ErrorCode, e.Reason, e.CorrelationID,
				e.TokenID, e.ResourceID)
		})
	})
	if err != nil {
		return fmt.Errorf("record %d sign-ins: %w", len(entries), err)
	}
	return nil
}

func (s *Store) PurgeSignIns(ctx context.Context, before time.Time, limit int) (int, error) {
	n, err := s.purgeBatch(ctx, "sign_ins", before, limit)
	if err != nil {
		return 0, fmt.Errorf("purge sign-ins before %s: %w", before.UTC().Format(time.RFC3339), err)
	}
	return n, nil
}

// purgeBatch deletes at most limit rows of table (a log keyed by id, timed by at) older than
// before, oldest first: one short statement per batch, on both databases.
func (s *Store) purgeBatch(ctx context.Context, table string, before time.Time, limit int) (int, error) {
	if limit <= 0 {
		return 0, nil
	}
	n, err := s.exec(ctx, `DELETE FROM `+table+` WHERE id IN (SELECT id FROM `+table+` WHERE at < $1 ORDER BY at LIMIT $2)`, before, limit)
	return int(n), err
}

func scanSignIn(row scanner) (store.SignIn, error) {
	var e store.SignIn
	err := row.Scan(&e.ID, tm(&e.Time), &e.TenantID, &e.PrincipalID, &e.AppID, &e.Resource, &e.Grant, &e.Result,
		&e.ErrorCode, &e.Reason, &e.CorrelationID, &e.TokenID, &e.ResourceID)
	return e, err
}

func (s *Store) ListSignIns(ctx context.Context, f store.SignInFilter) ([]store.SignIn, error) {
	q, args := SignInsQuery(f)
	es, err := list(ctx, s, scanSignIn, q, args...)
	if err != nil {
		return nil, fmt.Errorf("list sign-ins: %w", err)
	}
	return es, nil
}

// SignInsQuery is ListSignIns' query for f (exported for the stores' query-plan tests).
func SignInsQuery(f store.SignInFilter) (string, []any) {
	var w where
	if f.TenantID != "" {
		w.add(`tenant_key = ` + w.p(column.Key(f.TenantID)))
	}
	if f.PrincipalID != "" {
		w.add(`principal_id = ` + w.p(f.PrincipalID))
	}
	if f.AppID != "" {
		w.add(`app_key = ` + w.p(column.Key(f.AppID)))
	}
	if !f.Since.IsZero() {
		w.add(`at >= ` + w.p(f.Since))
	}
	if !f.Until.IsZero() {
		w.add(`at < ` + w.p(f.Until))
	}
	q := `SELECT id, at, tenant_id, principal_id, app_id, resource, grant_type, result, error_code, reason,
		correlation_id, token_id, resource_id FROM sign_ins` + w.sql()
	q += ` ORDER BY at DESC, id LIMIT ` + w.p(column.SignInLimit(f.Limit))
	return q, w.args
}

// Assertions

// upsertAssertion replaces an expired record and leaves a live one alone (no row changes, which
// is the replay). Concurrent uses of one key queue on its index entry and see the winner's record.
const upsertAssertion = `INSERT INTO assertions (key, expires_at) VALUES ($1, $2)
	ON CONFLICT (key) DO UPDATE SET expires_at = excluded.expires_at WHERE assertions.expires_at <= $3`

// purgeAssertions removes some expired records but key's, up to the closing parenthesis of its
// subquery; now and key are placeholders.
func purgeAssertions(now, key string) string {
	return `DELETE FROM assertions WHERE key IN (SELECT key FROM assertions WHERE expires_at <= ` + now +
		` AND key <> ` + key + ` LIMIT ` + strconv.Itoa(column.ExpiredAssertionsPerUse)
}

func (s *Store) UseAssertion(ctx context.Context, key string, expiresAt time.Time) error {
	now := time.Now()
	var n int64
	var err error
	if s.d.WritableCTE {
		// One statement, one round trip; the clean-up skips rows another call holds, so racing
		// calls never wait on each other for it.
		n, err = s.exec(ctx, `WITH purged AS (`+purgeAssertions("$3", "$1")+` FOR UPDATE SKIP LOCKED)) `+upsertAssertion,
			key, expiresAt, now)
	} else {
		// Both in one transaction of the single writer: one sync to disk.
		err = s.inTx(ctx, func(tx Tx) error {
			if _, err := tx.Exec(ctx, purgeAssertions("$1", "$2")+`)`, now, key); err != nil {
				return err
			}
			var err error
			n, err = tx.Exec(ctx, upsertAssertion, key, expiresAt, now)
			return err
		})
	}
	if err == nil && n == 0 {
		err = store.ErrConflict
	}
	if err != nil {
		return fmt.Errorf("use assertion %s: %w", key, err)
	}
	return nil
}

// Settings

func (s *Store) GetSetting(ctx context.Context, key string) (string, error) {
	v, err := get(ctx, s, func(row scanner) (string, error) {
		var v string
		err := row.Scan(&v)
		return v, err
	}, `SELECT value FROM settings WHERE key = $1`, key)
	if err != nil {
		return "", fmt.Errorf("get setting %s: %w", key, err)
	}
	return v, nil
}

func (s *Store) PutSetting(ctx context.Context, key, value string) error {
	if _, err := s.exec(ctx, `INSERT INTO settings (key, value) VALUES ($1, $2)
		ON CONFLICT (key) DO UPDATE SET value = excluded.value`, key, value); err != nil {
		return fmt.Errorf("put setting %s: %w", key, err)
	}
	return nil
}
