package sqlstore

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/mint-id/mint/internal/store"
	"github.com/mint-id/mint/internal/store/internal/column"
)

// Principals

const principalColumns = `p.object_id, p.app_id, p.tenant_id, p.kind, p.display_name, p.identifier_uris,
	p.access_token_version, p.app_roles, p.alternative_names, p.builtin, p.created_at, p.redirect_uris`

func scanPrincipal(row scanner) (store.ServicePrincipal, error) {
	var sp store.ServicePrincipal
	var uris, roles, names, redirects string
	if err := row.Scan(&sp.ObjectID, &sp.AppID, &sp.TenantID, &sp.Kind, &sp.DisplayName, &uris,
		&sp.AccessTokenVersion, &roles, &names, &sp.Builtin, tm(&sp.CreatedAt), &redirects); err != nil {
		return store.ServicePrincipal{}, err
	}
	var err error
	if sp.RedirectURIs, err = parseRedirectURIs(redirects); err != nil {
		return store.ServicePrincipal{}, err
	}
	if sp.IdentifierURIs, err = column.ParseList[string](uris); err != nil {
		return store.ServicePrincipal{}, err
	}
	if sp.AppRoles, err = column.ParseList[store.AppRole](roles); err != nil {
		return store.ServicePrincipal{}, err
	}
	if sp.AlternativeNames, err = column.ParseList[string](names); err != nil {
		return store.ServicePrincipal{}, err
	}
	return sp, nil
}

// principalLists encodes the list columns of a principal.
func principalLists(sp store.ServicePrincipal) (uris, roles, names string, err error) {
	if uris, err = column.List(sp.IdentifierURIs); err != nil {
		return "", "", "", err
	}
	if roles, err = column.List(sp.AppRoles); err != nil {
		return "", "", "", err
	}
	if names, err = column.List(sp.AlternativeNames); err != nil {
		return "", "", "", err
	}
	return uris, roles, names, nil
}

// redirectURIsColumn encodes an application's redirect URIs as JSON text ("" when it has none,
// as every row written before the column existed).
func redirectURIsColumn(r store.RedirectURIs) (string, error) {
	if len(r.Web) == 0 && len(r.SPA) == 0 && len(r.PublicClient) == 0 && !r.FallbackPublicClient {
		return "", nil
	}
	b, err := json.Marshal(r)
	if err != nil {
		return "", fmt.Errorf("encode redirect URIs: %w", err)
	}
	return string(b), nil
}

func parseRedirectURIs(s string) (store.RedirectURIs, error) {
	var r store.RedirectURIs
	if s == "" {
		return r, nil
	}
	if err := json.Unmarshal([]byte(s), &r); err != nil {
		return r, fmt.Errorf("decode redirect URIs: %w", err)
	}
	return r, nil
}

// claimIdentifierURIs reserves the principal's URIs in its tenant; the primary key of
// identifier_uris turns a URI taken (in any case) into ErrConflict.
func (s *Store) claimIdentifierURIs(ctx context.Context, tx Tx, sp store.ServicePrincipal, tenantKey string) error {
	for _, uri := range sp.IdentifierURIs {
		if _, err := tx.Exec(ctx, `INSERT INTO identifier_uris (tenant_key, uri_key, principal_id) VALUES ($1, $2, $3)`,
			tenantKey, column.Key(uri), sp.ObjectID); err != nil {
			return fmt.Errorf("identifier URI %s: %w", uri, s.err(ctx, err))
		}
	}
	return nil
}

// insertPrincipal stores sp and creds (already checked to belong to it) in tx.
func (s *Store) insertPrincipal(ctx context.Context, tx Tx, sp store.ServicePrincipal, creds []store.Credential) error {
	uris, roles, names, err := principalLists(sp)
	if err != nil {
		return err
	}
	redirects, err := redirectURIsColumn(sp.RedirectURIs)
	if err != nil {
		return err
	}
	tenantKey := column.Key(sp.TenantID)
	if _, err := tx.Exec(ctx, `INSERT INTO principals (object_id, tenant_id, tenant_key, app_id, app_key, kind,
		display_name, identifier_uris, access_token_version, app_roles, alternative_names, builtin, created_at, redirect_uris, display_key)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)`,
		sp.ObjectID, sp.TenantID, tenantKey, sp.AppID, column.Key(sp.AppID), string(sp.Kind),
		sp.DisplayName, uris, sp.AccessTokenVersion, roles, names, sp.Builtin, sp.CreatedAt, redirects, column.DisplayKey(sp.DisplayName)); err != nil {
		return err
	}
	if err := putWords(ctx, tx, "principals", sp.ObjectID, tenantKey, sp.DisplayName, false); err != nil {
		return err
	}
	if err := s.claimIdentifierURIs(ctx, tx, sp, tenantKey); err != nil {
		return err
	}
	for _, c := range creds {
		c.PrincipalID = sp.ObjectID
		if err := s.insertCredential(ctx, tx, c); err != nil {
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
	if err := s.inTx(ctx, func(tx Tx) error { return s.insertPrincipal(ctx, tx, sp, creds) }); err != nil {
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
	var w where
	w.add(`p.tenant_key = ` + w.p(column.Key(tenantID)))
	if kind != "" {
		w.add(`p.kind = ` + w.p(string(kind)))
	}
	sps, err := list(ctx, s, scanPrincipal, `SELECT `+principalColumns+` FROM principals p`+w.sql()+` ORDER BY p.created_at, p.object_id`, w.args...)
	if err != nil {
		return nil, fmt.Errorf("list principals of tenant %s: %w", tenantID, err)
	}
	return sps, nil
}

func (s *Store) ListPrincipalsPage(ctx context.Context, f store.PrincipalFilter) ([]store.ServicePrincipal, error) {
	q, args, err := ListPrincipalsPageQuery(f)
	if err != nil {
		return nil, fmt.Errorf("list principals of tenant %s: %w", f.TenantID, err)
	}
	sps, err := list(ctx, s, scanPrincipal, q, args...)
	if err != nil {
		return nil, fmt.Errorf("list principals of tenant %s: %w", f.TenantID, err)
	}
	return sps, nil
}

// ListPrincipalsPageQuery is ListPrincipalsPage's SQL and arguments (exported for the SQLite
// store's test of its query plan). Each lookup is an index's equality or range: appId and the
// identifier URIs by their unique keys, the display name by principals_by_display_key, the
// kind by principals_by_kind, the rest of the tenant by principals_by_tenant, each in
// (created_at, object_id) order so that a page stops at its LIMIT.
func ListPrincipalsPageQuery(f store.PrincipalFilter) (string, []any, error) {
	var w where
	w.add(`p.tenant_key = ` + w.p(column.Key(f.TenantID)))
	if f.After != "" {
		at, id, err := store.ParseObjectCursor(f.After)
		if err != nil {
			return "", nil, err
		}
		// As ListResourcesQuery: created_at >= $n bounds the range, the rest is the row-value
		// comparison (created_at, object_id) > ($n, $m) spelled out.
		t := w.p(at)
		w.add(`p.created_at >= ` + t + ` AND (p.created_at > ` + t + ` OR p.object_id > ` + w.p(id) + `)`)
	}
	if f.Kind != "" {
		w.add(`p.kind = ` + w.p(string(f.Kind)))
	}
	if f.NoBuiltin {
		w.add(`p.builtin = ` + w.p(false))
	}
	if f.AppID != "" {
		w.add(`p.app_key = ` + w.p(column.Key(f.AppID)))
	}
	// An appId and an identifier URI each name at most one principal of the tenant: the ones
	// named drive the query (CROSS JOIN keeps them the outer loop in SQLite), read by key, rather
	// than the tenant walked in list order and filtered.
	from := ` FROM principals p`
	var named []string
	if f.IdentifierURI != "" || f.ServicePrincipalName != "" {
		if f.IdentifierURI != "" {
			named = append(named, `SELECT u.principal_id AS id FROM identifier_uris u WHERE u.tenant_key = $1 AND u.uri_key = `+w.p(column.Key(f.IdentifierURI)))
		}
		if f.ServicePrincipalName != "" {
			k := w.p(column.Key(f.ServicePrincipalName))
			named = append(named, `SELECT n.id FROM (SELECT a.object_id AS id FROM principals a WHERE a.tenant_key = $1 AND a.app_key = `+k+
				` UNION SELECT u.principal_id FROM identifier_uris u WHERE u.tenant_key = $1 AND u.uri_key = `+k+`) n`)
		}
	}
	if f.DisplayName != "" {
		w.add(`p.display_key = ` + w.p(column.DisplayKey(f.DisplayName)))
	}
	if f.DisplayNamePrefix != "" {
		lo, hi := column.PrefixRange(column.DisplayKey(f.DisplayNamePrefix))
		w.add(`p.display_key >= ` + w.p(lo) + ` AND p.display_key < ` + w.p(hi))
	}
	if f.Search != nil {
		set, err := searchSet(f.Search, "principals", &w)
		if err != nil {
			return "", nil, err
		}
		named = append(named, `SELECT s.id FROM (`+set+`) s`)
	}
	if len(named) > 0 {
		from = ` FROM (` + strings.Join(named, ` INTERSECT `) + `) k CROSS JOIN principals p`
		w.add(`p.object_id = k.id`)
	}
	q := `SELECT ` + principalColumns + from + w.sql() + ` ORDER BY p.created_at, p.object_id`
	if f.Limit > 0 {
		q += ` LIMIT ` + w.p(f.Limit)
	}
	return q, w.args, nil
}

func (s *Store) UpdatePrincipal(ctx context.Context, sp store.ServicePrincipal) error {
	uris, roles, names, err := principalLists(sp)
	if err != nil {
		return fmt.Errorf("update principal %s: %w", sp.ObjectID, err)
	}
	redirects, err := redirectURIsColumn(sp.RedirectURIs)
	if err != nil {
		return fmt.Errorf("update principal %s: %w", sp.ObjectID, err)
	}
	err = s.inTx(ctx, func(tx Tx) error {
		// The tenant is the stored one: an update cannot move a principal.
		var tenantKey string
		if err := tx.QueryRow(ctx, `UPDATE principals SET display_name = $1, identifier_uris = $2,
			access_token_version = $3, app_roles = $4, alternative_names = $5, redirect_uris = $6, display_key = $8
			WHERE object_id = $7 RETURNING tenant_key`,
			sp.DisplayName, uris, sp.AccessTokenVersion, roles, names, redirects, sp.ObjectID, column.DisplayKey(sp.DisplayName)).Scan(&tenantKey); err != nil {
			return err
		}
		if err := putWords(ctx, tx, "principals", sp.ObjectID, tenantKey, sp.DisplayName, true); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM identifier_uris WHERE principal_id = $1`, sp.ObjectID); err != nil {
			return err
		}
		return s.claimIdentifierURIs(ctx, tx, sp, tenantKey)
	})
	if err != nil {
		return fmt.Errorf("update principal %s: %w", sp.ObjectID, err)
	}
	return nil
}

func (s *Store) DeletePrincipal(ctx context.Context, objectID string) error {
	// Credentials, identifier URIs and app role assignments (held or granted on this resource)
	// go with it through ON DELETE CASCADE.
	err := s.inTx(ctx, func(tx Tx) error {
		if err := affected(tx.Exec(ctx, `DELETE FROM principals WHERE object_id = $1`, objectID)); err != nil {
			return err
		}
		return recordRevocations(ctx, tx, principalRevocations([]string{objectID}))
	})
	if err != nil {
		return fmt.Errorf("delete principal %s: %w", objectID, err)
	}
	return nil
}

// Credentials

func (s *Store) insertCredential(ctx context.Context, tx Tx, c store.Credential) error {
	_, err := tx.Exec(ctx, `INSERT INTO credentials (key_id, principal_id, type, display_name, hint,
		secret_hash, certificate, thumbprint, starts_at, expires_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
		c.KeyID, c.PrincipalID, string(c.Type), c.DisplayName, c.Hint,
		column.Bytes(c.SecretHash), column.Bytes(c.Certificate), c.Thumbprint, c.StartsAt, c.ExpiresAt)
	return s.err(ctx, err)
}

func (s *Store) AddCredential(ctx context.Context, c store.Credential) error {
	if err := s.inTx(ctx, func(tx Tx) error { return s.insertCredential(ctx, tx, c) }); err != nil {
		return fmt.Errorf("add credential %s to principal %s: %w", c.KeyID, c.PrincipalID, err)
	}
	return nil
}

func scanCredential(row scanner) (store.Credential, error) {
	var c store.Credential
	if err := row.Scan(&c.KeyID, &c.PrincipalID, &c.Type, &c.DisplayName, &c.Hint, &c.SecretHash, &c.Certificate,
		&c.Thumbprint, tm(&c.StartsAt), tm(&c.ExpiresAt)); err != nil {
		return store.Credential{}, err
	}
	c.SecretHash, c.Certificate = column.Bytes(c.SecretHash), column.Bytes(c.Certificate)
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
		VALUES ($1, $2, $3, $4, $5)`, a.ID, a.PrincipalID, a.ResourceID, a.AppRoleID, a.CreatedAt)
	if err != nil {
		return fmt.Errorf("create app role assignment %s: %w", a.ID, err)
	}
	return nil
}

func scanAppRoleAssignment(row scanner) (store.AppRoleAssignment, error) {
	var a store.AppRoleAssignment
	err := row.Scan(&a.ID, &a.PrincipalID, &a.ResourceID, &a.AppRoleID, tm(&a.CreatedAt))
	return a, err
}

func (s *Store) ListAppRoleAssignments(ctx context.Context, principalID, resourceID string) ([]store.AppRoleAssignment, error) {
	var w where
	w.add(`principal_id = ` + w.p(principalID))
	if resourceID != "" {
		w.add(`resource_id = ` + w.p(resourceID))
	}
	as, err := list(ctx, s, scanAppRoleAssignment, `SELECT id, principal_id, resource_id, app_role_id, created_at
		FROM app_role_assignments`+w.sql()+` ORDER BY created_at, id`, w.args...)
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
