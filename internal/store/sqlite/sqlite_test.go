package sqlite

import (
	"bufio"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mint-id/mint/internal/cputime"
	"github.com/mint-id/mint/internal/store"
	"github.com/mint-id/mint/internal/store/internal/sqlstore"
	"github.com/mint-id/mint/internal/store/internal/sqltest"
	"github.com/mint-id/mint/internal/store/storetest"
)

func openAt(t testing.TB, path string) *Store { return sqltest.Open(t, Open, path) }

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		return openAt(t, filepath.Join(t.TempDir(), "mint.db"))
	})
}

func TestConformanceShared(t *testing.T) {
	storetest.RunShared(t, func(t *testing.T) (store.Store, store.Store) {
		path := filepath.Join(t.TempDir(), "mint.db")
		return openAt(t, path), openAt(t, path)
	})
}

func TestReopenKeepsData(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "mint.db")
	s, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	sp := store.ServicePrincipal{ObjectID: "oid", AppID: "app", TenantID: "tenant", Kind: store.KindApplication, IdentifierURIs: []string{"api://x"}}
	if err := s.CreatePrincipal(ctx, sp, nil); err != nil {
		t.Fatal(err)
	}
	if err := s.PutSetting(ctx, "bootstrap", "done"); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}

	for range 2 {
		s = openAt(t, path)
		got, err := s.GetPrincipalByIdentifierURI(ctx, "tenant", "API://X")
		if err != nil {
			t.Fatalf("principal after reopen: %v", err)
		}
		if got.ObjectID != "oid" {
			t.Fatalf("principal after reopen: %+v", got)
		}
		if v, err := s.GetSetting(ctx, "bootstrap"); err != nil || v != "done" {
			t.Fatalf("setting after reopen: %q, %v", v, err)
		}
		sqltest.MigratedOnce(t, s.stmts, migrations)
		s.Close()
	}
}

// TestKillKeepsAcknowledgedWrites kills a writing process with SIGKILL and checks that every
// write it reported done is there when the file is opened again.
func TestKillKeepsAcknowledgedWrites(t *testing.T) {
	if path := os.Getenv("MINT_SQLITE_KILL_TEST_DB"); path != "" {
		writeUntilKilled(t, path)
		return
	}
	if testing.Short() {
		t.Skip("starts a subprocess")
	}
	path := filepath.Join(t.TempDir(), "mint.db")
	cmd := exec.Command(os.Args[0], "-test.run=^TestKillKeepsAcknowledgedWrites$")
	cmd.Env = append(os.Environ(), "MINT_SQLITE_KILL_TEST_DB="+path)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	acked := -1
	lines := bufio.NewScanner(out)
	for acked < 200 && lines.Scan() {
		fmt.Sscanf(lines.Text(), "ok %d", &acked)
	}
	cmd.Process.Kill() // SIGKILL, mid-write
	cmd.Wait()
	if acked < 200 {
		t.Fatalf("writer stopped after %d writes", acked+1)
	}

	s := openAt(t, path)
	ctx := context.Background()
	for i := 0; i <= acked; i++ {
		if v, err := s.GetSetting(ctx, strconv.Itoa(i)); err != nil || v != "v" {
			t.Fatalf("acknowledged write %d of %d lost: %q, %v", i, acked+1, v, err)
		}
	}
}

func writeUntilKilled(t *testing.T, path string) {
	ctx := context.Background()
	s, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; ; i++ {
		if err := s.PutSetting(ctx, strconv.Itoa(i), "v"); err != nil {
			t.Fatal(err)
		}
		fmt.Printf("ok %d\n", i)
	}
}

func TestPragmas(t *testing.T) {
	ctx := context.Background()
	s := openAt(t, filepath.Join(t.TempDir(), "mint.db"))
	for _, tc := range []struct {
		pragma string
		want   string
	}{
		{"journal_mode", "wal"},
		{"synchronous", "2"}, // FULL
		{"foreign_keys", "1"},
		{"busy_timeout", strconv.Itoa(int(busyTimeout.Milliseconds()))},
	} {
		var got string
		if err := s.write.QueryRowContext(ctx, "PRAGMA "+tc.pragma).Scan(&got); err != nil {
			t.Fatal(err)
		}
		if got != tc.want {
			t.Errorf("PRAGMA %s = %s, want %s", tc.pragma, got, tc.want)
		}
	}
	if _, err := s.read.ExecContext(ctx, `INSERT INTO settings (key, value) VALUES ('k', 'v')`); err == nil {
		t.Error("the read pool accepted a write")
	}
}

func TestNewerSchemaRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "mint.db")
	s := openAt(t, path)
	sqltest.NewerSchemaRefused(t, sqlstore.SQLDB(s.write), s.Close, func() (store.Store, error) { return Open(context.Background(), path) })
}

func TestExpiredAssertionsRemoved(t *testing.T) {
	s := openAt(t, filepath.Join(t.TempDir(), "mint.db"))
	sqltest.ExpiredAssertionsRemoved(t, s, s.stmts)
}

func BenchmarkCreatePrincipal(b *testing.B) {
	sqltest.BenchmarkCreatePrincipal(b, openAt(b, filepath.Join(b.TempDir(), "mint.db")))
}

func BenchmarkGetPrincipalByAppID(b *testing.B) {
	sqltest.BenchmarkGetPrincipalByAppID(b, openAt(b, filepath.Join(b.TempDir(), "mint.db")))
}

// TestListResourcesPlan checks that a page of ListResources after a cursor reads an index range:
// in list order (no sort) for a subscription's resources of a type, in a group, or all of them;
// the children of one resource (a few: Azure allows 20 federated credentials per identity) are
// the primary key's range below it, sorted.
func TestListResourcesPlan(t *testing.T) {
	ctx := context.Background()
	s := openAt(t, filepath.Join(t.TempDir(), "mint.db"))
	after := store.ResourceCursor(store.Resource{ID: "/subscriptions/s/resourceGroups/g/providers/T/x", CreatedAt: time.Now()})
	for _, tc := range []struct {
		f       store.ResourceFilter
		index   string
		maySort bool
	}{
		{store.ResourceFilter{SubscriptionID: "s", ResourceGroup: "g", Type: "T", After: after, Limit: 101}, "", false},
		{store.ResourceFilter{SubscriptionID: "s", Type: "T", After: after, Limit: 101}, "resources_by_subscription_type (subscription_key=? AND type_key=? AND created_at>?)", false},
		{store.ResourceFilter{SubscriptionID: "s", ResourceGroup: "g", After: after, Limit: 101}, "resources_by_group (subscription_key=? AND resource_group_key=? AND created_at>?)", false},
		{store.ResourceFilter{ParentID: "/subscriptions/s/resourceGroups/g/providers/T/x", Type: "T/c", After: after, Limit: 101}, "sqlite_autoindex_resources_1 (id_key>? AND id_key<?)", true},
		{store.ResourceFilter{After: after, Limit: 101}, "resources_by_creation (created_at>?)", false},
	} {
		q, args, err := sqlstore.ListResourcesQuery(tc.f)
		if err != nil {
			t.Fatal(err)
		}
		rows, err := s.read.QueryContext(ctx, "EXPLAIN QUERY PLAN "+q, args...)
		if err != nil {
			t.Fatal(err)
		}
		var plan []string
		for rows.Next() {
			var id, parent, notUsed int
			var detail string
			if err := rows.Scan(&id, &parent, &notUsed, &detail); err != nil {
				t.Fatal(err)
			}
			plan = append(plan, detail)
		}
		rows.Close()
		joined := strings.Join(plan, "; ")
		t.Logf("%+v: %s", tc.f, joined)
		if !strings.Contains(joined, "USING INDEX") && !strings.Contains(joined, "USING COVERING INDEX") {
			t.Errorf("filter %+v: plan uses no index: %s", tc.f, joined)
		}
		if tc.index != "" && !strings.Contains(joined, "INDEX "+tc.index) {
			t.Errorf("filter %+v: plan does not read %s: %s", tc.f, tc.index, joined)
		}
		if !tc.maySort && strings.Contains(joined, "TEMP B-TREE") {
			t.Errorf("filter %+v: plan sorts: %s", tc.f, joined)
		}
	}
}

func BenchmarkTokenPathReads(b *testing.B) {
	sqltest.BenchmarkTokenPathReads(b, openAt(b, filepath.Join(b.TempDir(), "mint.db")))
}

// A full disk (here: the file may not grow past its current pages) fails a write with
// store.ErrUnavailable, and a control-plane write carrying its activity-log entry leaves
// neither the change nor the entry.
func TestFullDiskIsUnavailable(t *testing.T) {
	ctx := t.Context()
	s := openAt(t, filepath.Join(t.TempDir(), "mint.db"))
	if _, err := s.PutResourceGroup(ctx, store.ResourceGroup{SubscriptionID: "s", Name: "g1", Location: "eastus"}); err != nil {
		t.Fatal(err)
	}
	var pages int
	if err := s.write.QueryRowContext(ctx, `PRAGMA page_count`).Scan(&pages); err != nil {
		t.Fatal(err)
	}
	if _, err := s.write.ExecContext(ctx, fmt.Sprintf(`PRAGMA max_page_count = %d`, pages)); err != nil {
		t.Fatal(err)
	}
	big := map[string]string{}
	for i := range 50 {
		big[fmt.Sprint("tag", i)] = strings.Repeat("x", 256)
	}
	pctx, pending := store.WithPendingActivity(ctx, store.ActivityEvent{ID: "e1", SubscriptionID: "s"}, 201, 200)
	_, err := s.PutResourceGroup(pctx, store.ResourceGroup{SubscriptionID: "s", Name: "g2", Location: "eastus", Tags: big})
	for i := 0; err == nil && i < 100; i++ { // until the pages are used up
		_, err = s.PutResourceGroup(pctx, store.ResourceGroup{SubscriptionID: "s", Name: fmt.Sprint("g", i+3), Location: "eastus", Tags: big})
	}
	if !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("write on a full disk: %v, want ErrUnavailable", err)
	}
	if recorded, _ := pending.Recorded(); recorded {
		return // an earlier write fitted, with its entry; the full one is checked below
	}
	if _, err := s.GetResourceGroup(ctx, "s", "g2"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("the write that found the disk full left its group: %v", err)
	}
	if es, err := s.ListActivity(ctx, store.ActivityFilter{}); err != nil || len(es) != 0 {
		t.Errorf("entries after the failed write: %v %v", es, err)
	}
}

func BenchmarkRecordSignIns(b *testing.B) {
	for _, rows := range []int{72, 750} {
		b.Run(fmt.Sprintf("rows=%d", rows), func(b *testing.B) {
			sqltest.BenchmarkRecordSignIns(b, openAt(b, filepath.Join(b.TempDir(), "mint.db")), rows)
		})
	}
}

// Each ListPrincipalsPage lookup reads an index and, where the index is in list order, does not
// sort: a page at 1,000,000 principals reads the page, not the tenant.
func TestListPrincipalsPagePlan(t *testing.T) {
	s := openAt(t, filepath.Join(t.TempDir(), "mint.db"))
	after := store.PrincipalCursor(store.ServicePrincipal{ObjectID: "x", CreatedAt: time.Now()})
	for _, tc := range []struct {
		f       store.PrincipalFilter
		index   string
		maySort bool
	}{
		{store.PrincipalFilter{TenantID: "t", After: after, Limit: 101}, "principals_by_tenant (tenant_key=? AND created_at>?)", false},
		{store.PrincipalFilter{TenantID: "t", Kind: store.KindApplication, NoBuiltin: true, After: after, Limit: 101}, "principals_by_kind (tenant_key=? AND kind=? AND created_at>?)", false},
		{store.PrincipalFilter{TenantID: "t", DisplayName: "x", After: after, Limit: 101}, "principals_by_display_key (tenant_key=? AND display_key=? AND created_at>?)", false},
		{store.PrincipalFilter{TenantID: "t", DisplayNamePrefix: "x", Limit: 101}, "principals_by_display_key (tenant_key=? AND display_key>? AND display_key<?)", true},
		{store.PrincipalFilter{TenantID: "t", AppID: "x", After: after, Limit: 101}, "sqlite_autoindex_principals_2 (tenant_key=? AND app_key=?)", true},
		{store.PrincipalFilter{TenantID: "t", IdentifierURI: "x", After: after, Limit: 101}, "sqlite_autoindex_principals_1 (object_id=?)", true},
		{store.PrincipalFilter{TenantID: "t", ServicePrincipalName: "x", After: after, Limit: 101}, "sqlite_autoindex_principals_1 (object_id=?)", true},
		{store.PrincipalFilter{TenantID: "t", ServicePrincipalName: "x", IdentifierURI: "y", DisplayNamePrefix: "z", After: after, Limit: 101}, "sqlite_autoindex_principals_1 (object_id=?)", true},
		// The portal's member picker: $search="displayName:x" OR "appId:x" OR "id:x".
		{store.PrincipalFilter{TenantID: "t", Search: &store.SearchTerm{Op: "OR", Left: &store.SearchTerm{Op: "OR",
			Left:  &store.SearchTerm{Property: store.SearchDisplayName, Words: []string{"x"}},
			Right: &store.SearchTerm{Property: store.SearchAppID, Prefix: "x"}},
			Right: &store.SearchTerm{Property: store.SearchObjectID, Prefix: "x"}}, Limit: 1000}, "principal_words_by_word (tenant_key=? AND word>? AND word<?)", true},
		{store.PrincipalFilter{TenantID: "t", Search: &store.SearchTerm{Property: store.SearchDisplayName, Words: []string{"x", "y"}}, Limit: 1000},
			"principal_words_by_word (tenant_key=? AND word>? AND word<?)", true},
	} {
		q, args, err := sqlstore.ListPrincipalsPageQuery(tc.f)
		if err != nil {
			t.Fatal(err)
		}
		joined := queryPlan(t, s, q, args)
		if strings.Contains(joined, "SCAN p") || strings.Contains(joined, "principals_by_tenant (tenant_key=?)") || !strings.Contains(joined, "INDEX") {
			t.Errorf("filter %+v: plan scans: %s", tc.f, joined)
		}
		if tc.index != "" && !strings.Contains(joined, "INDEX "+tc.index) {
			t.Errorf("filter %+v: plan does not read %s: %s", tc.f, tc.index, joined)
		}
		if !tc.maySort && strings.Contains(joined, "TEMP B-TREE") {
			t.Errorf("filter %+v: plan sorts: %s", tc.f, joined)
		}
	}
}

func queryPlan(t *testing.T, s *Store, q string, args []any) string {
	t.Helper()
	rows, err := s.read.QueryContext(t.Context(), "EXPLAIN QUERY PLAN "+q, args...)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var plan []string
	for rows.Next() {
		var id, parent, notUsed int
		var detail string
		if err := rows.Scan(&id, &parent, &notUsed, &detail); err != nil {
			t.Fatal(err)
		}
		plan = append(plan, detail)
	}
	joined := strings.Join(plan, "; ")
	t.Logf("%s", joined)
	return joined
}

// ListUsersPage and ListGroupsPage read the same kind of index as ListPrincipalsPage.
func TestPeoplePagePlan(t *testing.T) {
	s := openAt(t, filepath.Join(t.TempDir(), "mint.db"))
	after := store.ObjectCursor(time.Now(), "x")
	for _, tc := range []struct {
		table   string
		f       store.PeopleFilter
		index   string
		maySort bool
	}{
		{"users", store.PeopleFilter{TenantID: "t", After: after, Limit: 101}, "users_by_tenant (tenant_key=? AND created_at>?)", false},
		{"users", store.PeopleFilter{TenantID: "t", UserPrincipalName: "x", After: after, Limit: 101}, "sqlite_autoindex_users_2 (tenant_key=? AND upn_key=?)", true},
		{"users", store.PeopleFilter{TenantID: "t", DisplayName: "x", After: after, Limit: 101}, "users_by_display_key (tenant_key=? AND display_key=? AND created_at>?)", false},
		{"users", store.PeopleFilter{TenantID: "t", DisplayNamePrefix: "x", Limit: 101}, "users_by_display_key (tenant_key=? AND display_key>? AND display_key<?)", true},
		{"groups", store.PeopleFilter{TenantID: "t", After: after, Limit: 101}, "groups_by_tenant (tenant_key=? AND created_at>?)", false},
		{"groups", store.PeopleFilter{TenantID: "t", DisplayName: "x", After: after, Limit: 101}, "groups_by_display_key (tenant_key=? AND display_key=? AND created_at>?)", false},
		{"groups", store.PeopleFilter{TenantID: "t", MailNickname: "x", Limit: 101}, "groups_by_mail_key (tenant_key=? AND mail_key=?)", false},
		{"users", store.PeopleFilter{TenantID: "t", MailNickname: "x", Limit: 101}, "users_by_mail_key (tenant_key=? AND mail_key=?)", false},
		// The portal's member picker: $search="displayName:x" OR "userPrincipalName:x" OR "id:x".
		{"users", store.PeopleFilter{TenantID: "t", Search: &store.SearchTerm{Op: "OR", Left: &store.SearchTerm{Op: "OR",
			Left:  &store.SearchTerm{Property: store.SearchDisplayName, Words: []string{"x"}},
			Right: &store.SearchTerm{Property: store.SearchUserPrincipalName, Prefix: "x"}},
			Right: &store.SearchTerm{Property: store.SearchObjectID, Prefix: "x"}}, Limit: 1000}, "user_words_by_word (tenant_key=? AND word>? AND word<?)", true},
		{"groups", store.PeopleFilter{TenantID: "t", Search: &store.SearchTerm{Property: store.SearchDisplayName, Words: []string{"x"}}, Limit: 1000},
			"group_words_by_word (tenant_key=? AND word>? AND word<?)", true},
	} {
		q, args, err := sqlstore.PeoplePageQuery(tc.table, "object_id", tc.f)
		if err != nil {
			t.Fatal(err)
		}
		joined := queryPlan(t, s, q, args)
		if !strings.Contains(joined, "INDEX "+tc.index) || strings.Contains(joined, "SCAN "+tc.table) || strings.Contains(joined, "_by_tenant (tenant_key=?)") {
			t.Errorf("%s %+v: plan does not read %s: %s", tc.table, tc.f, tc.index, joined)
		}
		if !tc.maySort && strings.Contains(joined, "TEMP B-TREE") {
			t.Errorf("%s %+v: plan sorts: %s", tc.table, tc.f, joined)
		}
	}
}

// Migration 0014 fills the word tables and mail keys of the objects a database already holds.
func TestMigrationFillsDirectorySearch(t *testing.T) {
	path := filepath.Join(t.TempDir(), "mint.db")
	db, err := sql.Open("sqlite", dsn(path, false))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := sqlstore.Migrate(t.Context(), sqlstore.SQLDB(db), sqltest.FirstMigrations(t, migrations, 13), schemaMigrationsTable, ""); err != nil {
		t.Fatal(err)
	}
	sqltest.DirectorySearchFilled(t, sqlstore.SQLDB(db), func() store.Store {
		db.Close()
		return openAt(t, path)
	})
}

// BenchmarkDirectoryPages: Graph's list pages over MINT_BENCH_IDENTITIES (100,000) identities.
func BenchmarkDirectoryPages(b *testing.B) {
	sqltest.BenchmarkDirectoryPages(b, openAt(b, filepath.Join(b.TempDir(), "mint.db")))
}

// BenchmarkGetUserForToken is the one store read of a refresh-token redemption, with a request's
// context (one that can be cancelled, as net/http's is) and without one.
func BenchmarkGetUserForToken(b *testing.B) {
	s := openAt(b, filepath.Join(b.TempDir(), "mint.db"))
	ctx := context.Background()
	if err := s.CreateTenant(ctx, store.Tenant{ID: "tenant", DefaultDomain: "bench.localhost", CreatedAt: time.Now()}); err != nil {
		b.Fatal(err)
	}
	u := store.User{ObjectID: "0b9e4b3c-5f0a-4d6e-9c1b-2a3d4e5f6a7b", TenantID: "tenant", UserPrincipalName: "ada@bench.localhost",
		DisplayName: "Ada", MailNickname: "ada", AccountEnabled: true, CreatedAt: time.Now()}
	if err := s.CreateUser(ctx, u); err != nil {
		b.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		ctx  func() (context.Context, context.CancelFunc)
	}{
		{"ctx=request", func() (context.Context, context.CancelFunc) { return context.WithCancel(ctx) }},
		{"ctx=background", func() (context.Context, context.CancelFunc) { return ctx, func() {} }},
	} {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			start := cputime.Process()
			for b.Loop() {
				rctx, cancel := tc.ctx()
				if _, err := s.GetUserForToken(rctx, u.ObjectID); err != nil {
					b.Fatal(err)
				}
				cancel()
			}
			if cpu := cputime.Process() - start; cpu > 0 {
				b.ReportMetric(float64(cpu.Nanoseconds())/1e3/float64(b.N), "cpu-µs/op")
			}
		})
	}
}

// A single-row read checks its context before it runs (it is not watched during the read; see
// stmtCache.QueryRow): a request already cancelled reads nothing.
func TestPointReadRefusesCancelledContext(t *testing.T) {
	s := openAt(t, filepath.Join(t.TempDir(), "mint.db"))
	if err := s.CreateTenant(t.Context(), store.Tenant{ID: "tenant", DefaultDomain: "t.localhost", CreatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := s.GetTenant(ctx, "tenant"); !errors.Is(err, context.Canceled) {
		t.Fatalf("read with a cancelled context: %v, want context.Canceled", err)
	}
	if _, err := s.GetTenant(t.Context(), "tenant"); err != nil {
		t.Fatalf("read after: %v", err)
	}
}

// TestSignInFiltersUseIndexes checks that every filter of the sign-in log (Graph's and the
// portal's lists) and the retention purge read one of the log's indexes rather than the whole
// table: each index serves a query no other can, which is why none is dropped to make the log's
// inserts cheaper.
func TestSignInFiltersUseIndexes(t *testing.T) {
	s := openAt(t, filepath.Join(t.TempDir(), "mint.db"))
	now := time.Now()
	for _, tc := range []struct {
		f     store.SignInFilter
		index string
	}{
		{store.SignInFilter{Limit: 50}, "sign_ins_by_time"},
		{store.SignInFilter{TenantID: "t", Limit: 50}, "sign_ins_by_tenant"},
		{store.SignInFilter{TenantID: "t", Since: now.Add(-time.Hour), Until: now, Limit: 50}, "sign_ins_by_tenant"},
		{store.SignInFilter{TenantID: "t", PrincipalID: "p", Limit: 50}, ""},
		{store.SignInFilter{TenantID: "t", AppID: "a", Limit: 50}, ""},
		{store.SignInFilter{PrincipalID: "p", Limit: 50}, "sign_ins_by_principal"},
		{store.SignInFilter{AppID: "a", Limit: 50}, "sign_ins_by_app"},
		{store.SignInFilter{Since: now.Add(-time.Hour), Limit: 50}, "sign_ins_by_time"},
	} {
		q, args := sqlstore.SignInsQuery(tc.f)
		plan := queryPlan(t, s, q, args)
		if !strings.Contains(plan, "USING INDEX") && !strings.Contains(plan, "USING COVERING INDEX") {
			t.Errorf("filter %+v: plan uses no index: %s", tc.f, plan)
		}
		if tc.index != "" && !strings.Contains(plan, "INDEX "+tc.index) {
			t.Errorf("filter %+v: plan does not read %s: %s", tc.f, tc.index, plan)
		}
	}
	purge := queryPlan(t, s, `DELETE FROM sign_ins WHERE id IN (SELECT id FROM sign_ins WHERE at < ? ORDER BY at LIMIT ?)`, []any{now, 100})
	if !strings.Contains(purge, "INDEX sign_ins_by_time") {
		t.Errorf("the retention purge does not read sign_ins_by_time: %s", purge)
	}
}
