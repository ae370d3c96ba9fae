package sqltest

import (
	"context"
	"io/fs"
	"testing"
	"testing/fstest"
	"time"

	"github.com/mint-id/mint/internal/store"
	"github.com/mint-id/mint/internal/store/internal/sqlstore"
)

// FirstMigrations is the "migrations" directory of fsys up to version n only: the schema an
// older mint left, to test what a migration does to the rows it finds.
func FirstMigrations(t testing.TB, fsys fs.FS, n int) fs.FS {
	t.Helper()
	ms, err := fs.ReadDir(fsys, "migrations")
	if err != nil {
		t.Fatal(err)
	}
	out := fstest.MapFS{}
	for _, m := range ms[:n] {
		b, err := fs.ReadFile(fsys, "migrations/"+m.Name())
		if err != nil {
			t.Fatal(err)
		}
		out["migrations/"+m.Name()] = &fstest.MapFile{Data: b}
	}
	return out
}

// DirectorySearchFilled checks migration 0014's Go: a principal, a user and a group written
// under schema 13 (into db, migrated that far) are found by the words of their display names
// and by mail nickname in the store open returns (which migrates the database on).
func DirectorySearchFilled(t *testing.T, db sqlstore.Querier, open func() store.Store) {
	t.Helper()
	ctx := context.Background()
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, q := range []struct {
		sql  string
		args []any
	}{
		{`INSERT INTO principals (object_id, tenant_id, tenant_key, app_id, app_key, kind, display_name, identifier_uris,
			access_token_version, app_roles, alternative_names, builtin, created_at, redirect_uris, display_key)
			VALUES ('p1', 'T', 't', 'a1', 'a1', 'ManagedIdentity', 'Orders-Worker', '[]', 0, '[]', '[]', $1, $2, '{}', 'orders-worker')`,
			[]any{false, at}},
		{`INSERT INTO users (object_id, tenant_id, tenant_key, upn, upn_key, display_name, mail_nickname, account_enabled,
			password_hash, force_change, tokens_valid_after, created_at, display_key)
			VALUES ('u1', 'T', 't', 'ada@x', 'ada@x', 'Ada Lovelace', 'AdaL', $1, '', $1, $2, $2, 'ada lovelace')`, []any{true, at}},
		{`INSERT INTO groups (object_id, tenant_id, tenant_key, display_name, mail_nickname, description, security_enabled,
			mail_enabled, created_at, display_key) VALUES ('g1', 'T', 't', 'Night Ops', 'NightOps', '', $1, $2, $3, 'night ops')`,
			[]any{true, false, at}},
	} {
		if _, err := db.Exec(ctx, q.sql, q.args...); err != nil {
			t.Fatalf("write under schema 13: %v", err)
		}
	}
	s := open()
	words := func(ws ...string) *store.SearchTerm {
		return &store.SearchTerm{Property: store.SearchDisplayName, Words: ws}
	}
	sps, err := s.ListPrincipalsPage(ctx, store.PrincipalFilter{TenantID: "t", Search: words("work", "ord")})
	if err != nil || len(sps) != 1 || sps[0].ObjectID != "p1" {
		t.Errorf("principal by words after the migration: %+v, %v", sps, err)
	}
	us, err := s.ListUsersPage(ctx, store.PeopleFilter{TenantID: "t", Search: words("love")})
	if err != nil || len(us) != 1 || us[0].ObjectID != "u1" {
		t.Errorf("user by words after the migration: %+v, %v", us, err)
	}
	us, err = s.ListUsersPage(ctx, store.PeopleFilter{TenantID: "t", MailNickname: "adal"})
	if err != nil || len(us) != 1 {
		t.Errorf("user by mail nickname after the migration: %+v, %v", us, err)
	}
	gs, err := s.ListGroupsPage(ctx, store.PeopleFilter{TenantID: "t", Search: words("nigh")})
	if err != nil || len(gs) != 1 || gs[0].ObjectID != "g1" {
		t.Errorf("group by words after the migration: %+v, %v", gs, err)
	}
	gs, err = s.ListGroupsPage(ctx, store.PeopleFilter{TenantID: "t", MailNickname: "NIGHTOPS"})
	if err != nil || len(gs) != 1 {
		t.Errorf("group by mail nickname after the migration: %+v, %v", gs, err)
	}
}
