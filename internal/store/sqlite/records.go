package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/mint-id/mint/internal/store"
	"github.com/mint-id/mint/internal/store/internal/column"
)

type scanner interface{ Scan(dest ...any) error }

// nullIfEmpty stores "" as NULL, for unique columns that may be absent.
func nullIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// Principals

const principalColumns = `p.object_id, p.app_id, p.tenant_id, p.kind, p.display_name, p.identifier_uris,
	p.access_token_version, p.app_roles, p.alternative_names, p.builtin, p.created_at`

func scanPrincipal(row scanner) (store.ServicePrincipal, error) {
	var sp store.ServicePrincipal
	var uris, roles, names string
	var createdAt int64
	if err := row.Scan(&sp.ObjectID, &sp.AppID, &sp.TenantID, &sp.Kind, &sp.DisplayName, &uris,
		&sp.AccessTokenVersion, &roles, &names, &sp.Builtin, &createdAt); err != nil {
		return store.ServicePrincipal{}, err
	}
	var err error
	if sp.IdentifierURIs, err = column.ParseStrings(uris); err != nil {
		return store.ServicePrincipal{}, err
	}
	if sp.AppRoles, err = column.ParseAppRoles(roles); err != nil {
		return store.ServicePrincipal{}, err
	}
	if sp.AlternativeNames, err = column.ParseStrings(names); err != nil {
		return store.ServicePrincipal{}, err
	}
	sp.CreatedAt = column.FromMicros(createdAt)
	return sp, nil
}

// claimIdentifierURIs reserves the principal's URIs in its tenant; the primary key of
// identifier_uris turns a URI taken (in any case) into ErrConflict.
func claimIdentifierURIs(ctx context.Context, tx *sql.Tx, sp store.ServicePrincipal, tenantKey string) error {
	for _, uri := range sp.IdentifierURIs {
		if _, err := tx.ExecContext(ctx, `INSERT INTO identifier_uris (tenant_key, uri_key, principal_id) VALUES (?, ?, ?)`,
			tenantKey, column.Key(uri), sp.ObjectID); err != nil {
			return fmt.Errorf("identifier URI %s: %w", uri, dbErr(ctx, err))
		}
	}
	return nil
}

// insertPrincipal stores sp and creds (already checked to belong to it) in tx.
func insertPrincipal(ctx context.Context, tx *sql.Tx, sp store.ServicePrincipal, creds []store.Credential) error {
	uris, err := column.Strings(sp.IdentifierURIs)
	if err != nil {
		return err
	}
	roles, err := column.AppRoles(sp.AppRoles)
	if err != nil {
		return err
	}
	names, err := column.Strings(sp.AlternativeNames)
	if err != nil {
		return err
	}
	tenantKey := column.Key(sp.TenantID)
	if _, err := tx.ExecContext(ctx, `INSERT INTO principals (object_id, tenant_id, tenant_key, app_id, app_key, kind,
		display_name, identifier_uris, access_token_version, app_roles, alternative_names, builtin, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		sp.ObjectID, sp.TenantID, tenantKey, sp.AppID, column.Key(sp.AppID), string(sp.Kind),
		sp.DisplayName, uris, sp.AccessTokenVersion, roles, names, sp.Builtin, column.Micros(sp.CreatedAt)); err != nil {
		return err
	}
	if err := claimIdentifierURIs(ctx, tx, sp, tenantKey); err != nil {
		return err
	}
	for _, c := range creds {
		c.PrincipalID = sp.ObjectID
		if err := insertCredential(ctx, tx, c); err != nil {
			return fmt.Errorf("credential %s: %w", c.KeyID, err)
		}
	}
	return nil
}

func (s *Store) CreatePrincipal(ctx context.Context, sp store.ServicePrincipal, creds []store.Credential) error {
	for i := range creds {
		if creds[i].PrincipalID != "" && creds[i].PrincipalID != sp.ObjectID {
			return fmt.Errorf("create principal %s: credential %s belongs to principal %s", sp.ObjectID, creds[i].KeyID, creds[i].PrincipalID)
		}
	}
	err := s.inTx(ctx, func(tx *sql.Tx) error { return insertPrincipal(ctx, tx, sp, creds) })
	if err != nil {
		return fmt.Errorf("create principal %s: %w", sp.ObjectID, err)
	}
	return nil
}

func (s *Store) GetPrincipal(ctx context.Context, objectID string) (store.ServicePrincipal, error) {
	sp, err := scanPrincipal(s.queryRow(ctx, `SELECT `+principalColumns+` FROM principals p WHERE p.object_id = ?`, objectID))
	if err != nil {
		return store.ServicePrincipal{}, fmt.Errorf("get principal %s: %w", objectID, dbErr(ctx, err))
	}
	return sp, nil
}

func (s *Store) GetPrincipalByAppID(ctx context.Context, tenantID, appID string) (store.ServicePrincipal, error) {
	sp, err := scanPrincipal(s.queryRow(ctx, `SELECT `+principalColumns+` FROM principals p
		WHERE p.tenant_key = ? AND p.app_key = ?`, column.Key(tenantID), column.Key(appID)))
	if err != nil {
		return store.ServicePrincipal{}, fmt.Errorf("get principal by appId %s in tenant %s: %w", appID, tenantID, dbErr(ctx, err))
	}
	return sp, nil
}

func (s *Store) GetPrincipalByIdentifierURI(ctx context.Context, tenantID, uri string) (store.ServicePrincipal, error) {
	sp, err := scanPrincipal(s.queryRow(ctx, `SELECT `+principalColumns+` FROM identifier_uris u
		JOIN principals p ON p.object_id = u.principal_id
		WHERE u.tenant_key = ? AND u.uri_key = ?`, column.Key(tenantID), column.Key(uri)))
	if err != nil {
		return store.ServicePrincipal{}, fmt.Errorf("get principal by identifier URI %s in tenant %s: %w", uri, tenantID, dbErr(ctx, err))
	}
	return sp, nil
}

func (s *Store) ListPrincipals(ctx context.Context, tenantID string, kind store.PrincipalKind) ([]store.ServicePrincipal, error) {
	q := `SELECT ` + principalColumns + ` FROM principals p WHERE p.tenant_key = ?`
	args := []any{column.Key(tenantID)}
	if kind != "" {
		q += ` AND p.kind = ?`
		args = append(args, string(kind))
	}
	q += ` ORDER BY p.created_at, p.object_id`
	rows, err := s.query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("list principals of tenant %s: %w", tenantID, dbErr(ctx, err))
	}
	defer rows.Close()
	var sps []store.ServicePrincipal
	for rows.Next() {
		sp, err := scanPrincipal(rows)
		if err != nil {
			return nil, fmt.Errorf("list principals of tenant %s: %w", tenantID, dbErr(ctx, err))
		}
		sps = append(sps, sp)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list principals of tenant %s: %w", tenantID, dbErr(ctx, err))
	}
	return sps, nil
}

func (s *Store) UpdatePrincipal(ctx context.Context, sp store.ServicePrincipal) error {
	uris, err := column.Strings(sp.IdentifierURIs)
	if err != nil {
		return fmt.Errorf("update principal %s: %w", sp.ObjectID, err)
	}
	roles, err := column.AppRoles(sp.AppRoles)
	if err != nil {
		return fmt.Errorf("update principal %s: %w", sp.ObjectID, err)
	}
	names, err := column.Strings(sp.AlternativeNames)
	if err != nil {
		return fmt.Errorf("update principal %s: %w", sp.ObjectID, err)
	}
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		// The tenant is the stored one: an update cannot move a principal.
		var tenantKey string
		if err := tx.QueryRowContext(ctx, `UPDATE principals SET display_name = ?, identifier_uris = ?,
			access_token_version = ?, app_roles = ?, alternative_names = ?
			WHERE object_id = ? RETURNING tenant_key`,
			sp.DisplayName, uris, sp.AccessTokenVersion, roles, names, sp.ObjectID).Scan(&tenantKey); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM identifier_uris WHERE principal_id = ?`, sp.ObjectID); err != nil {
			return err
		}
		return claimIdentifierURIs(ctx, tx, sp, tenantKey)
	})
	if err != nil {
		return fmt.Errorf("update principal %s: %w", sp.ObjectID, err)
	}
	return nil
}

func (s *Store) DeletePrincipal(ctx context.Context, objectID string) error {
	// Credentials, identifier URIs and app role assignments (held or granted on this resource)
	// go with it through ON DELETE CASCADE.
	res, err := s.write.ExecContext(ctx, `DELETE FROM principals WHERE object_id = ?`, objectID)
	if err == nil {
		err = mustAffect(res)
	}
	if err != nil {
		return fmt.Errorf("delete principal %s: %w", objectID, dbErr(ctx, err))
	}
	return nil
}

// Credentials

func insertCredential(ctx context.Context, tx *sql.Tx, c store.Credential) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO credentials (key_id, principal_id, type, display_name, hint,
		secret_hash, certificate, thumbprint, starts_at, expires_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		c.KeyID, c.PrincipalID, string(c.Type), c.DisplayName, c.Hint,
		column.Bytes(c.SecretHash), column.Bytes(c.Certificate), c.Thumbprint, column.Micros(c.StartsAt), column.Micros(c.ExpiresAt))
	return dbErr(ctx, err)
}

func (s *Store) AddCredential(ctx context.Context, c store.Credential) error {
	err := s.inTx(ctx, func(tx *sql.Tx) error { return insertCredential(ctx, tx, c) })
	if err != nil {
		return fmt.Errorf("add credential %s to principal %s: %w", c.KeyID, c.PrincipalID, err)
	}
	return nil
}

func (s *Store) ListCredentials(ctx context.Context, principalID string) ([]store.Credential, error) {
	rows, err := s.query(ctx, `SELECT key_id, principal_id, type, display_name, hint, secret_hash, certificate,
		thumbprint, starts_at, expires_at FROM credentials WHERE principal_id = ? ORDER BY starts_at, seq`, principalID)
	if err != nil {
		return nil, fmt.Errorf("list credentials of principal %s: %w", principalID, dbErr(ctx, err))
	}
	defer rows.Close()
	var cs []store.Credential
	for rows.Next() {
		var c store.Credential
		var startsAt, expiresAt int64
		if err := rows.Scan(&c.KeyID, &c.PrincipalID, &c.Type, &c.DisplayName, &c.Hint, &c.SecretHash, &c.Certificate,
			&c.Thumbprint, &startsAt, &expiresAt); err != nil {
			return nil, fmt.Errorf("list credentials of principal %s: %w", principalID, dbErr(ctx, err))
		}
		c.SecretHash, c.Certificate = column.Bytes(c.SecretHash), column.Bytes(c.Certificate)
		c.StartsAt, c.ExpiresAt = column.FromMicros(startsAt), column.FromMicros(expiresAt)
		cs = append(cs, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list credentials of principal %s: %w", principalID, dbErr(ctx, err))
	}
	return cs, nil
}

func (s *Store) DeleteCredential(ctx context.Context, principalID, keyID string) error {
	res, err := s.write.ExecContext(ctx, `DELETE FROM credentials WHERE principal_id = ? AND key_id = ?`, principalID, keyID)
	if err == nil {
		err = mustAffect(res)
	}
	if err != nil {
		return fmt.Errorf("delete credential %s of principal %s: %w", keyID, principalID, dbErr(ctx, err))
	}
	return nil
}

// App role assignments

func (s *Store) CreateAppRoleAssignment(ctx context.Context, a store.AppRoleAssignment) error {
	_, err := s.write.ExecContext(ctx, `INSERT INTO app_role_assignments (id, principal_id, resource_id, app_role_id, created_at)
		VALUES (?, ?, ?, ?, ?)`, a.ID, a.PrincipalID, a.ResourceID, a.AppRoleID, column.Micros(a.CreatedAt))
	if err != nil {
		return fmt.Errorf("create app role assignment %s: %w", a.ID, dbErr(ctx, err))
	}
	return nil
}

func (s *Store) ListAppRoleAssignments(ctx context.Context, principalID, resourceID string) ([]store.AppRoleAssignment, error) {
	q := `SELECT id, principal_id, resource_id, app_role_id, created_at FROM app_role_assignments WHERE principal_id = ?`
	args := []any{principalID}
	if resourceID != "" {
		q += ` AND resource_id = ?`
		args = append(args, resourceID)
	}
	q += ` ORDER BY created_at, id`
	rows, err := s.query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("list app role assignments of principal %s: %w", principalID, dbErr(ctx, err))
	}
	defer rows.Close()
	var as []store.AppRoleAssignment
	for rows.Next() {
		var a store.AppRoleAssignment
		var createdAt int64
		if err := rows.Scan(&a.ID, &a.PrincipalID, &a.ResourceID, &a.AppRoleID, &createdAt); err != nil {
			return nil, fmt.Errorf("list app role assignments of principal %s: %w", principalID, dbErr(ctx, err))
		}
		a.CreatedAt = column.FromMicros(createdAt)
		as = append(as, a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list app role assignments of principal %s: %w", principalID, dbErr(ctx, err))
	}
	return as, nil
}

func (s *Store) DeleteAppRoleAssignment(ctx context.Context, id string) error {
	res, err := s.write.ExecContext(ctx, `DELETE FROM app_role_assignments WHERE id = ?`, id)
	if err == nil {
		err = mustAffect(res)
	}
	if err != nil {
		return fmt.Errorf("delete app role assignment %s: %w", id, dbErr(ctx, err))
	}
	return nil
}

// Signing keys

func (s *Store) CreateSigningKey(ctx context.Context, k store.SigningKey) error {
	_, err := s.write.ExecContext(ctx, `INSERT INTO signing_keys (kid, created_at, activate_at, sealed_key, certificate)
		VALUES (?, ?, ?, ?, ?)`, k.KID, column.Micros(k.CreatedAt), column.Micros(k.ActivateAt), column.Bytes(k.SealedKey), column.Bytes(k.Certificate))
	if err != nil {
		return fmt.Errorf("create signing key %s: %w", k.KID, dbErr(ctx, err))
	}
	return nil
}

func (s *Store) ListSigningKeys(ctx context.Context) ([]store.SigningKey, error) {
	rows, err := s.query(ctx, `SELECT kid, created_at, activate_at, sealed_key, certificate FROM signing_keys
		ORDER BY activate_at, created_at, kid`)
	if err != nil {
		return nil, fmt.Errorf("list signing keys: %w", dbErr(ctx, err))
	}
	defer rows.Close()
	var ks []store.SigningKey
	for rows.Next() {
		var k store.SigningKey
		var createdAt, activateAt int64
		if err := rows.Scan(&k.KID, &createdAt, &activateAt, &k.SealedKey, &k.Certificate); err != nil {
			return nil, fmt.Errorf("list signing keys: %w", dbErr(ctx, err))
		}
		k.CreatedAt, k.ActivateAt = column.FromMicros(createdAt), column.FromMicros(activateAt)
		k.SealedKey, k.Certificate = column.Bytes(k.SealedKey), column.Bytes(k.Certificate)
		ks = append(ks, k)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list signing keys: %w", dbErr(ctx, err))
	}
	return ks, nil
}

func (s *Store) SetSigningKeyActivation(ctx context.Context, kid string, activateAt time.Time) error {
	res, err := s.write.ExecContext(ctx, `UPDATE signing_keys SET activate_at = ? WHERE kid = ?`, column.Micros(activateAt), kid)
	if err == nil {
		err = mustAffect(res)
	}
	if err != nil {
		return fmt.Errorf("set activation of signing key %s: %w", kid, dbErr(ctx, err))
	}
	return nil
}

func (s *Store) DeleteSigningKey(ctx context.Context, kid string) error {
	res, err := s.write.ExecContext(ctx, `DELETE FROM signing_keys WHERE kid = ?`, kid)
	if err == nil {
		err = mustAffect(res)
	}
	if err != nil {
		return fmt.Errorf("delete signing key %s: %w", kid, dbErr(ctx, err))
	}
	return nil
}

// Sign-ins

func (s *Store) RecordSignIns(ctx context.Context, entries []store.SignIn) error {
	if len(entries) == 0 {
		return nil
	}
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		stmt, err := tx.PrepareContext(ctx, `INSERT INTO sign_ins (id, at, tenant_id, tenant_key, principal_id, app_id, app_key,
			resource, grant_type, result, error_code, reason, correlation_id, token_id, resource_id)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
		if err != nil {
			return err
		}
		defer stmt.Close()
		for _, e := range entries {
			if _, err := stmt.ExecContext(ctx, e.ID, column.Micros(e.Time), e.TenantID, column.Key(e.TenantID), e.PrincipalID,
				e.AppID, column.Key(e.AppID), e.Resource, e.Grant, e.Result, e.ErrorCode, e.Reason, e.CorrelationID,
				e.TokenID, e.ResourceID); err != nil {
				return fmt.Errorf("sign-in %s: %w", e.ID, dbErr(ctx, err))
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("record %d sign-ins: %w", len(entries), err)
	}
	return nil
}

func (s *Store) ListSignIns(ctx context.Context, f store.SignInFilter) ([]store.SignIn, error) {
	var where []string
	var args []any
	if f.TenantID != "" {
		where = append(where, `tenant_key = ?`)
		args = append(args, column.Key(f.TenantID))
	}
	if f.PrincipalID != "" {
		where = append(where, `principal_id = ?`)
		args = append(args, f.PrincipalID)
	}
	if f.AppID != "" {
		where = append(where, `app_key = ?`)
		args = append(args, column.Key(f.AppID))
	}
	if !f.Since.IsZero() {
		where = append(where, `at >= ?`)
		args = append(args, column.Micros(f.Since))
	}
	if !f.Until.IsZero() {
		where = append(where, `at < ?`)
		args = append(args, column.Micros(f.Until))
	}
	q := `SELECT id, at, tenant_id, principal_id, app_id, resource, grant_type, result, error_code, reason,
		correlation_id, token_id, resource_id FROM sign_ins`
	if len(where) > 0 {
		q += ` WHERE ` + strings.Join(where, ` AND `)
	}
	q += ` ORDER BY at DESC, id LIMIT ?`
	args = append(args, column.SignInLimit(f.Limit))
	rows, err := s.query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("list sign-ins: %w", dbErr(ctx, err))
	}
	defer rows.Close()
	var es []store.SignIn
	for rows.Next() {
		var e store.SignIn
		var at int64
		if err := rows.Scan(&e.ID, &at, &e.TenantID, &e.PrincipalID, &e.AppID, &e.Resource, &e.Grant, &e.Result,
			&e.ErrorCode, &e.Reason, &e.CorrelationID, &e.TokenID, &e.ResourceID); err != nil {
			return nil, fmt.Errorf("list sign-ins: %w", dbErr(ctx, err))
		}
		e.Time = column.FromMicros(at)
		es = append(es, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list sign-ins: %w", dbErr(ctx, err))
	}
	return es, nil
}

// Assertions

func (s *Store) UseAssertion(ctx context.Context, key string, expiresAt time.Time) error {
	now := column.Micros(time.Now())
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM assertions WHERE key IN
			(SELECT key FROM assertions WHERE expires_at <= ? AND key <> ? LIMIT ?)`,
			now, key, column.ExpiredAssertionsPerUse); err != nil {
			return err
		}
		// A record still present but expired is replaced; a live one is left alone and no row
		// changes, which is the replay.
		res, err := tx.ExecContext(ctx, `INSERT INTO assertions (key, expires_at) VALUES (?, ?)
			ON CONFLICT (key) DO UPDATE SET expires_at = excluded.expires_at WHERE assertions.expires_at <= ?`,
			key, column.Micros(expiresAt), now)
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		if err != nil {
			return err
		}
		if n == 0 {
			return store.ErrConflict
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("use assertion %s: %w", key, err)
	}
	return nil
}

// Settings

func (s *Store) GetSetting(ctx context.Context, key string) (string, error) {
	var value string
	if err := s.queryRow(ctx, `SELECT value FROM settings WHERE key = ?`, key).Scan(&value); err != nil {
		return "", fmt.Errorf("get setting %s: %w", key, dbErr(ctx, err))
	}
	return value, nil
}

func (s *Store) PutSetting(ctx context.Context, key, value string) error {
	if _, err := s.write.ExecContext(ctx, `INSERT INTO settings (key, value) VALUES (?, ?)
		ON CONFLICT (key) DO UPDATE SET value = excluded.value`, key, value); err != nil {
		return fmt.Errorf("put setting %s: %w", key, dbErr(ctx, err))
	}
	return nil
}
