package postgres

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/mint-id/mint/internal/store"
	"github.com/mint-id/mint/internal/store/internal/column"
)

// nullIfEmpty stores "" as NULL, for unique columns that may be absent.
func nullIfEmpty(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// Principals

const principalColumns = `p.object_id, p.app_id, p.tenant_id, p.kind, p.display_name, p.identifier_uris,
	p.access_token_version, p.app_roles, p.alternative_names, p.builtin, p.created_at`

func scanPrincipal(row pgx.Row) (store.ServicePrincipal, error) {
	var sp store.ServicePrincipal
	var kind, uris, roles, names string
	if err := row.Scan(&sp.ObjectID, &sp.AppID, &sp.TenantID, &kind, &sp.DisplayName, &uris,
		&sp.AccessTokenVersion, &roles, &names, &sp.Builtin, &sp.CreatedAt); err != nil {
		return store.ServicePrincipal{}, err
	}
	sp.Kind = store.PrincipalKind(kind)
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
	sp.CreatedAt = column.Time(sp.CreatedAt)
	return sp, nil
}

// claimIdentifierURIs reserves the principal's URIs in its tenant; the primary key of
// identifier_uris turns a URI taken (in any case) into ErrConflict.
func claimIdentifierURIs(ctx context.Context, tx pgx.Tx, sp store.ServicePrincipal, tenantKey string) error {
	for _, uri := range sp.IdentifierURIs {
		if _, err := tx.Exec(ctx, `INSERT INTO identifier_uris (tenant_key, uri_key, principal_id) VALUES ($1, $2, $3)`,
			tenantKey, column.Key(uri), sp.ObjectID); err != nil {
			return fmt.Errorf("identifier URI %s: %w", uri, dbErr(ctx, err))
		}
	}
	return nil
}

// insertPrincipal stores sp and creds (already checked to belong to it) in tx.
func insertPrincipal(ctx context.Context, tx pgx.Tx, sp store.ServicePrincipal, creds []store.Credential) error {
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
	if _, err := tx.Exec(ctx, `INSERT INTO principals (object_id, tenant_id, tenant_key, app_id, app_key, kind,
		display_name, identifier_uris, access_token_version, app_roles, alternative_names, builtin, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`,
		sp.ObjectID, sp.TenantID, tenantKey, sp.AppID, column.Key(sp.AppID), string(sp.Kind),
		sp.DisplayName, uris, sp.AccessTokenVersion, roles, names, sp.Builtin, column.Time(sp.CreatedAt)); err != nil {
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
	err := s.inTx(ctx, func(tx pgx.Tx) error { return insertPrincipal(ctx, tx, sp, creds) })
	if err != nil {
		return fmt.Errorf("create principal %s: %w", sp.ObjectID, err)
	}
	return nil
}

func (s *Store) GetPrincipal(ctx context.Context, objectID string) (store.ServicePrincipal, error) {
	sp, err := get(ctx, s, scanPrincipal, `SELECT `+principalColumns+` FROM principals p WHERE p.object_id = $1`, objectID)
	if err != nil {
		return store.ServicePrincipal{}, fmt.Errorf("get principal %s: %w", objectID, err)
	}
	return sp, nil
}

func (s *Store) GetPrincipalByAppID(ctx context.Context, tenantID, appID string) (store.ServicePrincipal, error) {
	sp, err := get(ctx, s, scanPrincipal, `SELECT `+principalColumns+` FROM principals p
		WHERE p.tenant_key = $1 AND p.app_key = $2`, column.Key(tenantID), column.Key(appID))
	if err != nil {
		return store.ServicePrincipal{}, fmt.Errorf("get principal by appId %s in tenant %s: %w", appID, tenantID, err)
	}
	return sp, nil
}

func (s *Store) GetPrincipalByIdentifierURI(ctx context.Context, tenantID, uri string) (store.ServicePrincipal, error) {
	sp, err := get(ctx, s, scanPrincipal, `SELECT `+principalColumns+` FROM identifier_uris u
		JOIN principals p ON p.object_id = u.principal_id
		WHERE u.tenant_key = $1 AND u.uri_key = $2`, column.Key(tenantID), column.Key(uri))
	if err != nil {
		return store.ServicePrincipal{}, fmt.Errorf("get principal by identifier URI %s in tenant %s: %w", uri, tenantID, err)
	}
	return sp, nil
}

func (s *Store) ListPrincipals(ctx context.Context, tenantID string, kind store.PrincipalKind) ([]store.ServicePrincipal, error) {
	q := `SELECT ` + principalColumns + ` FROM principals p WHERE p.tenant_key = $1`
	args := []any{column.Key(tenantID)}
	if kind != "" {
		q += ` AND p.kind = $2`
		args = append(args, string(kind))
	}
	q += ` ORDER BY p.created_at, p.object_id`
	sps, err := list(ctx, s, scanPrincipal, q, args...)
	if err != nil {
		return nil, fmt.Errorf("list principals of tenant %s: %w", tenantID, err)
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
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		// The tenant is the stored one: an update cannot move a principal.
		var tenantKey string
		if err := tx.QueryRow(ctx, `UPDATE principals SET display_name = $1, identifier_uris = $2,
			access_token_version = $3, app_roles = $4, alternative_names = $5
			WHERE object_id = $6 RETURNING tenant_key`,
			sp.DisplayName, uris, sp.AccessTokenVersion, roles, names, sp.ObjectID).Scan(&tenantKey); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM identifier_uris WHERE principal_id = $1`, sp.ObjectID); err != nil {
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
	if err := s.execOne(ctx, `DELETE FROM principals WHERE object_id = $1`, objectID); err != nil {
		return fmt.Errorf("delete principal %s: %w", objectID, err)
	}
	return nil
}

// Credentials

func insertCredential(ctx context.Context, tx pgx.Tx, c store.Credential) error {
	_, err := tx.Exec(ctx, `INSERT INTO credentials (key_id, principal_id, type, display_name, hint,
		secret_hash, certificate, thumbprint, starts_at, expires_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
		c.KeyID, c.PrincipalID, string(c.Type), c.DisplayName, c.Hint,
		column.Bytes(c.SecretHash), column.Bytes(c.Certificate), c.Thumbprint, column.Time(c.StartsAt), column.Time(c.ExpiresAt))
	return dbErr(ctx, err)
}

func (s *Store) AddCredential(ctx context.Context, c store.Credential) error {
	if err := s.inTx(ctx, func(tx pgx.Tx) error { return insertCredential(ctx, tx, c) }); err != nil {
		return fmt.Errorf("add credential %s to principal %s: %w", c.KeyID, c.PrincipalID, err)
	}
	return nil
}

func scanCredential(row pgx.Row) (store.Credential, error) {
	var c store.Credential
	var typ string
	if err := row.Scan(&c.KeyID, &c.PrincipalID, &typ, &c.DisplayName, &c.Hint, &c.SecretHash, &c.Certificate,
		&c.Thumbprint, &c.StartsAt, &c.ExpiresAt); err != nil {
		return store.Credential{}, err
	}
	c.Type = store.CredentialType(typ)
	c.SecretHash, c.Certificate = column.Bytes(c.SecretHash), column.Bytes(c.Certificate)
	c.StartsAt, c.ExpiresAt = column.Time(c.StartsAt), column.Time(c.ExpiresAt)
	return c, nil
}

func (s *Store) ListCredentials(ctx context.Context, principalID string) ([]store.Credential, error) {
	cs, err := list(ctx, s, scanCredential, `SELECT key_id, principal_id, type, display_name, hint, secret_hash, certificate,
		thumbprint, starts_at, expires_at FROM credentials WHERE principal_id = $1 ORDER BY starts_at, seq`, principalID)
	if err != nil {
		return nil, fmt.Errorf("list credentials of principal %s: %w", principalID, err)
	}
	return cs, nil
}

func (s *Store) DeleteCredential(ctx context.Context, principalID, keyID string) error {
	if err := s.execOne(ctx, `DELETE FROM credentials WHERE principal_id = $1 AND key_id = $2`, principalID, keyID); err != nil {
		return fmt.Errorf("delete credential %s of principal %s: %w", keyID, principalID, err)
	}
	return nil
}

// App role assignments

func (s *Store) CreateAppRoleAssignment(ctx context.Context, a store.AppRoleAssignment) error {
	_, err := s.exec(ctx, `INSERT INTO app_role_assignments (id, principal_id, resource_id, app_role_id, created_at)
		VALUES ($1, $2, $3, $4, $5)`, a.ID, a.PrincipalID, a.ResourceID, a.AppRoleID, column.Time(a.CreatedAt))
	if err != nil {
		return fmt.Errorf("create app role assignment %s: %w", a.ID, err)
	}
	return nil
}

func scanAssignment(row pgx.Row) (store.AppRoleAssignment, error) {
	var a store.AppRoleAssignment
	if err := row.Scan(&a.ID, &a.PrincipalID, &a.ResourceID, &a.AppRoleID, &a.CreatedAt); err != nil {
		return store.AppRoleAssignment{}, err
	}
	a.CreatedAt = column.Time(a.CreatedAt)
	return a, nil
}

func (s *Store) ListAppRoleAssignments(ctx context.Context, principalID, resourceID string) ([]store.AppRoleAssignment, error) {
	q := `SELECT id, principal_id, resource_id, app_role_id, created_at FROM app_role_assignments WHERE principal_id = $1`
	args := []any{principalID}
	if resourceID != "" {
		q += ` AND resource_id = $2`
		args = append(args, resourceID)
	}
	q += ` ORDER BY created_at, id`
	as, err := list(ctx, s, scanAssignment, q, args...)
	if err != nil {
		return nil, fmt.Errorf("list app role assignments of principal %s: %w", principalID, err)
	}
	return as, nil
}

func (s *Store) DeleteAppRoleAssignment(ctx context.Context, id string) error {
	if err := s.execOne(ctx, `DELETE FROM app_role_assignments WHERE id = $1`, id); err != nil {
		return fmt.Errorf("delete app role assignment %s: %w", id, err)
	}
	return nil
}

// Signing keys

func (s *Store) CreateSigningKey(ctx context.Context, k store.SigningKey) error {
	_, err := s.exec(ctx, `INSERT INTO signing_keys (kid, created_at, activate_at, sealed_key, certificate)
		VALUES ($1, $2, $3, $4, $5)`, k.KID, column.Time(k.CreatedAt), column.Time(k.ActivateAt), column.Bytes(k.SealedKey), column.Bytes(k.Certificate))
	if err != nil {
		return fmt.Errorf("create signing key %s: %w", k.KID, err)
	}
	return nil
}

func scanSigningKey(row pgx.Row) (store.SigningKey, error) {
	var k store.SigningKey
	if err := row.Scan(&k.KID, &k.CreatedAt, &k.ActivateAt, &k.SealedKey, &k.Certificate); err != nil {
		return store.SigningKey{}, err
	}
	k.CreatedAt, k.ActivateAt = column.Time(k.CreatedAt), column.Time(k.ActivateAt)
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
	if err := s.execOne(ctx, `UPDATE signing_keys SET activate_at = $1 WHERE kid = $2`, column.Time(activateAt), kid); err != nil {
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

func (s *Store) RecordSignIns(ctx context.Context, entries []store.SignIn) error {
	if len(entries) == 0 {
		return nil
	}
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		// One round trip for the batch; the transaction makes it all or nothing.
		b := &pgx.Batch{}
		for _, e := range entries {
			b.Queue(`INSERT INTO sign_ins (id, at, tenant_id, tenant_key, principal_id, app_id, app_key,
				resource, grant_type, result, error_code, reason, correlation_id, token_id, resource_id)
				VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)`,
				e.ID, column.Time(e.Time), e.TenantID, column.Key(e.TenantID), e.PrincipalID,
				e.AppID, column.Key(e.AppID), e.Resource, e.Grant, e.Result, e.ErrorCode, e.Reason, e.CorrelationID,
				e.TokenID, e.ResourceID)
		}
		br := tx.SendBatch(ctx, b)
		for _, e := range entries {
			if _, err := br.Exec(); err != nil {
				br.Close()
				return fmt.Errorf("sign-in %s: %w", e.ID, dbErr(ctx, err))
			}
		}
		return br.Close()
	})
	if err != nil {
		return fmt.Errorf("record %d sign-ins: %w", len(entries), err)
	}
	return nil
}

func scanSignIn(row pgx.Row) (store.SignIn, error) {
	var e store.SignIn
	if err := row.Scan(&e.ID, &e.Time, &e.TenantID, &e.PrincipalID, &e.AppID, &e.Resource, &e.Grant, &e.Result,
		&e.ErrorCode, &e.Reason, &e.CorrelationID, &e.TokenID, &e.ResourceID); err != nil {
		return store.SignIn{}, err
	}
	e.Time = column.Time(e.Time)
	return e, nil
}

func (s *Store) ListSignIns(ctx context.Context, f store.SignInFilter) ([]store.SignIn, error) {
	var where []string
	var args []any
	arg := func(cond string, v any) {
		args = append(args, v)
		where = append(where, cond+" $"+strconv.Itoa(len(args)))
	}
	if f.TenantID != "" {
		arg(`tenant_key =`, column.Key(f.TenantID))
	}
	if f.PrincipalID != "" {
		arg(`principal_id =`, f.PrincipalID)
	}
	if f.AppID != "" {
		arg(`app_key =`, column.Key(f.AppID))
	}
	if !f.Since.IsZero() {
		arg(`at >=`, column.Time(f.Since))
	}
	if !f.Until.IsZero() {
		arg(`at <`, column.Time(f.Until))
	}
	q := `SELECT id, at, tenant_id, principal_id, app_id, resource, grant_type, result, error_code, reason,
		correlation_id, token_id, resource_id FROM sign_ins`
	if len(where) > 0 {
		q += ` WHERE ` + strings.Join(where, ` AND `)
	}
	args = append(args, column.SignInLimit(f.Limit))
	q += ` ORDER BY at DESC, id LIMIT $` + strconv.Itoa(len(args))
	es, err := list(ctx, s, scanSignIn, q, args...)
	if err != nil {
		return nil, fmt.Errorf("list sign-ins: %w", err)
	}
	return es, nil
}

// Assertions

func (s *Store) UseAssertion(ctx context.Context, key string, expiresAt time.Time) error {
	// One statement: the clean-up skips rows another call holds, so racing calls never wait on
	// each other for it; the upsert replaces an expired record and leaves a live one alone (no
	// row changes, which is the replay). Concurrent uses of one key queue on its index entry
	// and see the winner's record.
	tag, err := s.exec(ctx, `WITH purged AS (
			DELETE FROM assertions WHERE key IN (
				SELECT key FROM assertions WHERE expires_at <= $3 AND key <> $1
				LIMIT `+strconv.Itoa(column.ExpiredAssertionsPerUse)+` FOR UPDATE SKIP LOCKED)
		)
		INSERT INTO assertions (key, expires_at) VALUES ($1, $2)
		ON CONFLICT (key) DO UPDATE SET expires_at = EXCLUDED.expires_at WHERE assertions.expires_at <= $3`,
		key, column.Time(expiresAt), column.Time(time.Now()))
	if err == nil && tag.RowsAffected() == 0 {
		err = store.ErrConflict
	}
	if err != nil {
		return fmt.Errorf("use assertion %s: %w", key, err)
	}
	return nil
}

// Settings

func (s *Store) GetSetting(ctx context.Context, key string) (string, error) {
	v, err := get(ctx, s, func(row pgx.Row) (string, error) {
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
		ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value`, key, value); err != nil {
		return fmt.Errorf("put setting %s: %w", key, err)
	}
	return nil
}
