package postgres

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/mint-id/mint/internal/store"
	"github.com/mint-id/mint/internal/store/internal/sqlstore"
	"github.com/mint-id/mint/internal/store/internal/sqltest"
	"github.com/mint-id/mint/internal/store/storetest"
)

// adminURL is a superuser URL to an administrative database, from MINT_TEST_POSTGRES_URL.
// scripts/with-postgres.sh sets it. CI and ./test.sh (MINT_TEST_REQUIRE_POSTGRES=1) never skip these
// tests silently.
func adminURL(t testing.TB) string {
	u := os.Getenv("MINT_TEST_POSTGRES_URL")
	if u == "" {
		if ci, _ := strconv.ParseBool(os.Getenv("CI")); ci || os.Getenv("MINT_TEST_REQUIRE_POSTGRES") == "1" {
			t.Fatal("MINT_TEST_POSTGRES_URL is not set, and this run must test PostgreSQL (CI, or ./test.sh): use scripts/with-postgres.sh go test ./...")
		}
		t.Skip("MINT_TEST_POSTGRES_URL is not set; run under scripts/with-postgres.sh to test PostgreSQL")
	}
	return u
}

// freshDatabase creates an empty database for one test, dropped when the test ends, and returns
// its URL.
func freshDatabase(t testing.TB) string {
	t.Helper()
	admin := adminURL(t)
	u, err := url.Parse(admin)
	if err != nil || u.Scheme == "" {
		t.Fatalf("MINT_TEST_POSTGRES_URL must be a postgres:// URL: %q", admin)
	}
	var b [8]byte
	rand.Read(b[:])
	name := "mint_test_" + hex.EncodeToString(b[:])

	ctx := context.Background()
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		t.Fatalf("connect to %s: %v", admin, err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, `CREATE DATABASE `+name); err != nil {
		t.Fatalf("create database %s: %v", name, err)
	}
	t.Cleanup(func() {
		conn, err := pgx.Connect(ctx, admin)
		if err != nil {
			t.Errorf("connect to drop database %s: %v", name, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, `DROP DATABASE IF EXISTS `+name+` WITH (FORCE)`); err != nil {
			t.Errorf("drop database %s: %v", name, err)
		}
	})
	u.Path = "/" + name
	return u.String()
}

func openAt(t testing.TB, url string) *Store { return sqltest.Open(t, Open, url) }

func TestConformance(t *testing.T) {
	adminURL(t)
	storetest.Run(t, func(t *testing.T) store.Store {
		return openAt(t, freshDatabase(t))
	})
}

func TestConformanceShared(t *testing.T) {
	adminURL(t)
	storetest.RunShared(t, func(t *testing.T) (store.Store, store.Store) {
		url := freshDatabase(t)
		return openAt(t, url), openAt(t, url)
	})
}

// TestConcurrentMigration starts several servers on one new database at once: the advisory lock
// lets one migrate and the others find the work done.
func TestConcurrentMigration(t *testing.T) {
	url := freshDatabase(t)
	ctx := context.Background()
	const n = 8
	stores := make([]*Store, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			stores[i], errs[i] = Open(ctx, url)
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("open %d: %v", i, err)
		}
		t.Cleanup(func() { stores[i].Close() })
	}
	assertMigratedOnce(t, stores[0])
}

func assertMigratedOnce(t *testing.T, s *Store) {
	t.Helper()
	sqltest.MigratedOnce(t, newPgxDB(s.pool), migrations)
}

func TestReopenKeepsData(t *testing.T) {
	ctx := context.Background()
	url := freshDatabase(t)
	s := openAt(t, url)
	sp := store.ServicePrincipal{ObjectID: "oid", AppID: "app", TenantID: "tenant", Kind: store.KindApplication, IdentifierURIs: []string{"api://x"}}
	if err := s.CreatePrincipal(ctx, sp, nil); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetPrincipal(ctx, "oid"); err == nil {
		t.Fatal("GetPrincipal on a closed store succeeded")
	}
	s = openAt(t, url)
	got, err := s.GetPrincipalByIdentifierURI(ctx, "TENANT", "API://X")
	if err != nil || got.ObjectID != "oid" {
		t.Fatalf("principal after reopen: %+v, %v", got, err)
	}
	assertMigratedOnce(t, s)
}

func TestNewerSchemaRefused(t *testing.T) {
	url := freshDatabase(t)
	s := openAt(t, url)
	sqltest.NewerSchemaRefused(t, newPgxDB(s.pool), s.Close, func() (store.Store, error) { return Open(context.Background(), url) })
}

func TestExpiredAssertionsRemoved(t *testing.T) {
	s := openAt(t, freshDatabase(t))
	sqltest.ExpiredAssertionsRemoved(t, s, newPgxDB(s.pool))
}

// TestPoolRecoversFromBrokenConnections checks that a connection the server killed is not handed
// out again.
func TestPoolRecoversFromBrokenConnections(t *testing.T) {
	ctx := context.Background()
	url := freshDatabase(t)
	s := openAt(t, url+"&pool_max_conns=2")
	if err := s.PutSetting(ctx, "k", "v"); err != nil {
		t.Fatal(err)
	}
	admin, err := pgx.Connect(ctx, adminURL(t))
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(ctx)
	u, _ := pgx.ParseConfig(url)
	if _, err := admin.Exec(ctx, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1`, u.Database); err != nil {
		t.Fatal(err)
	}
	time.Sleep(checkAfter + 100*time.Millisecond) // idle long enough to be checked
	if v, err := s.GetSetting(ctx, "k"); err != nil || v != "v" {
		t.Fatalf("GetSetting after the server closed the connections: %q, %v", v, err)
	}
}

func BenchmarkCreatePrincipal(b *testing.B) {
	sqltest.BenchmarkCreatePrincipal(b, openAt(b, freshDatabase(b)))
}

func BenchmarkGetPrincipalByAppID(b *testing.B) {
	sqltest.BenchmarkGetPrincipalByAppID(b, openAt(b, freshDatabase(b)))
}

func BenchmarkTokenPathReads(b *testing.B) {
	sqltest.BenchmarkTokenPathReads(b, openAt(b, freshDatabase(b)))
}

// A database that stops serving (its connections terminated by an administrator, new ones
// refused) fails reads and writes with store.ErrUnavailable, so that the APIs answer 503 with
// Retry-After; when it serves again, so does the store.
func TestOutageIsUnavailable(t *testing.T) {
	ctx := context.Background()
	url := freshDatabase(t)
	s := openAt(t, url+"&pool_max_conns=2")
	if err := s.PutSetting(ctx, "k", "v"); err != nil {
		t.Fatal(err)
	}
	admin, err := pgx.Connect(ctx, adminURL(t))
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(ctx)
	u, _ := pgx.ParseConfig(url)
	for _, q := range []string{`ALTER DATABASE ` + u.Database + ` ALLOW_CONNECTIONS false`,
		`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '` + u.Database + `'`} {
		if _, err := admin.Exec(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(checkAfter + 100*time.Millisecond)
	if _, err := s.GetSetting(ctx, "k"); !errors.Is(err, store.ErrUnavailable) {
		t.Errorf("read during the outage: %v, want ErrUnavailable", err)
	}
	if _, err := s.PutResourceGroup(ctx, store.ResourceGroup{SubscriptionID: "s", Name: "g", Location: "eastus"}); !errors.Is(err, store.ErrUnavailable) {
		t.Errorf("write during the outage: %v, want ErrUnavailable", err)
	}
	if _, err := admin.Exec(ctx, `ALTER DATABASE `+u.Database+` ALLOW_CONNECTIONS true`); err != nil {
		t.Fatal(err)
	}
	if v, err := s.GetSetting(ctx, "k"); err != nil || v != "v" {
		t.Errorf("read after the outage: %q, %v", v, err)
	}
}

func TestErrorKind(t *testing.T) {
	_, refused := pgconn.Connect(context.Background(), "postgres://127.0.0.1:1/x?connect_timeout=2")
	for _, tc := range []struct {
		err  error
		want error
	}{
		{&pgconn.PgError{Code: "23505"}, store.ErrConflict},
		{&pgconn.PgError{Code: "23503"}, store.ErrNotFound},
		{&pgconn.PgError{Code: "53100"}, store.ErrUnavailable}, // disk_full
		{&pgconn.PgError{Code: "53300"}, store.ErrUnavailable}, // too_many_connections
		{&pgconn.PgError{Code: "57P01"}, store.ErrUnavailable}, // admin_shutdown
		{&pgconn.PgError{Code: "08006"}, store.ErrUnavailable}, // connection_failure
		{&pgconn.PgError{Code: "25006"}, store.ErrUnavailable}, // read-only standby
		{&pgconn.PgError{Code: "42601"}, nil},                  // syntax error: a bug, not an outage
		{refused, store.ErrUnavailable},
		{errors.New("other"), nil},
	} {
		if got := errorKind(tc.err); got != tc.want {
			t.Errorf("errorKind(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
}

func BenchmarkRecordSignIns(b *testing.B) {
	for _, rows := range []int{72, 750} {
		b.Run(fmt.Sprintf("rows=%d", rows), func(b *testing.B) {
			sqltest.BenchmarkRecordSignIns(b, openAt(b, freshDatabase(b)), rows)
		})
	}
}

// TestListResourcesPlan: a page of a subscription's resources of one type (ARM's list of
// user-assigned identities) is an index scan in list order that stops after the page, never a
// sort of the subscription: with the planner's statistics (SeedManagedIdentities ANALYZEs) and
// without any (a bulk load no one has analysed: the planner then took the table for a few rows
// and sorted the whole subscription, 120 ms p99 at 100,000 identities), as a custom and as a
// generic plan (pgx prepares its statements). A small subscription beside a big one is read
// through resources_by_subscription_type, not by walking the big one's rows.
func TestListResourcesPlan(t *testing.T) {
	ctx := t.Context()
	s := openAt(t, freshDatabase(t))
	const big, small, tenant = "00000000-0000-0000-0000-000000000001", "00000000-0000-0000-0000-000000000002", "00000000-0000-0000-0000-0000000000aa"
	const uaType = "Microsoft.ManagedIdentity/userAssignedIdentities"
	t0 := time.Now().UTC()
	for _, c := range []struct {
		sub string
		n   int
	}{{big, 5000}, {small, 200}} {
		if _, err := s.PutResourceGroup(ctx, store.ResourceGroup{SubscriptionID: c.sub, Name: "g", Location: "westeurope", CreatedAt: t0}); err != nil {
			t.Fatal(err)
		}
		err := s.SeedManagedIdentities(ctx, c.n, func(i int) store.IdentitySeed {
			at := t0.Add(time.Duration(i) * time.Microsecond)
			objectID, name := guid(), "id-"+strconv.Itoa(i)
			id := "/subscriptions/" + c.sub + "/resourceGroups/g/providers/" + uaType + "/" + name
			return store.IdentitySeed{
				Resource: store.Resource{ID: id, SubscriptionID: c.sub, ResourceGroup: "g", Type: uaType, Name: name,
					Location: "westeurope", PrincipalID: objectID, CreatedAt: at, UpdatedAt: at},
				Principal: store.ServicePrincipal{ObjectID: objectID, TenantID: tenant, AppID: guid(), Kind: store.KindManagedIdentity,
					DisplayName: name, AlternativeNames: []string{"isExplicit=True", id}, CreatedAt: at},
			}
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	check := func(stats string) {
		for _, sub := range []string{big, small} {
			after := store.ResourceCursor(store.Resource{ID: "/subscriptions/" + sub + "/resourceGroups/g/providers/" + uaType + "/id-10", CreatedAt: t0.Add(10 * time.Microsecond)})
			for _, f := range []store.ResourceFilter{
				{SubscriptionID: sub, Type: uaType, Limit: 101},
				{SubscriptionID: sub, Type: uaType, After: after, Limit: 101},
			} {
				for _, mode := range []string{"force_custom_plan", "force_generic_plan"} {
					plan := explain(t, s, mode, f)
					if !strings.Contains(plan, "Index Scan") || strings.Contains(plan, "Sort") {
						t.Errorf("%s, %s, subscription %s, after %q: not an index scan in list order:\n%s", stats, mode, sub, f.After, plan)
					}
					if sub == small && !strings.Contains(plan, "Index Scan using resources_by_subscription_type") {
						t.Errorf("%s, %s, the small subscription, after %q: not read through its own index range:\n%s", stats, mode, f.After, plan)
					}
				}
			}
		}
	}
	check("analysed")
	// As if the tables had never been analysed (no autovacuum pass yet after a bulk load).
	for _, q := range []string{
		`DELETE FROM pg_statistic WHERE starelid = 'resources'::regclass`,
		`UPDATE pg_class SET reltuples = -1, relpages = 0 WHERE oid = 'resources'::regclass`,
	} {
		if _, err := s.pool.Exec(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	check("no statistics")
}

// explain is PostgreSQL's plan of ListResources(f) under plan_cache_mode mode.
func explain(t *testing.T, s *Store, mode string, f store.ResourceFilter) string {
	t.Helper()
	ctx := t.Context()
	q, args, err := sqlstore.ListResourcesQuery(f)
	if err != nil {
		t.Fatal(err)
	}
	var plan []string
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SET LOCAL plan_cache_mode = `+mode); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, `EXPLAIN `+q, args...)
		if err != nil {
			return err
		}
		plan, err = pgx.CollectRows(rows, pgx.RowTo[string])
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return strings.Join(plan, "\n")
}

// guid is a random GUID in its lower-case string form.
func guid() string {
	var b [16]byte
	rand.Read(b[:])
	h := hex.EncodeToString(b[:])
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// Migration 0014 fills the word tables and mail keys of the objects a database already holds.
func TestMigrationFillsDirectorySearch(t *testing.T) {
	url := freshDatabase(t)
	pool, err := pgxpool.New(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	if err := sqlstore.Migrate(t.Context(), newPgxDB(pool), sqltest.FirstMigrations(t, migrations, 13), schemaMigrationsTable, migrationLockStatement); err != nil {
		t.Fatal(err)
	}
	sqltest.DirectorySearchFilled(t, newPgxDB(pool), func() store.Store { return openAt(t, url) })
}

// BenchmarkDirectoryPages: Graph's list pages over MINT_BENCH_IDENTITIES (100,000) identities.
func BenchmarkDirectoryPages(b *testing.B) {
	sqltest.BenchmarkDirectoryPages(b, openAt(b, freshDatabase(b)))
}

// TestExplainDirectoryPages logs the plans of Graph's list pages at scale (EXPLAIN ANALYZE,
// BUFFERS), when MINT_EXPLAIN_SCALE is set: a tool for reading a plan, not a check.
func TestExplainDirectoryPages(t *testing.T) {
	if os.Getenv("MINT_EXPLAIN_SCALE") == "" {
		t.Skip("MINT_EXPLAIN_SCALE is not set")
	}
	s := openAt(t, freshDatabase(t))
	tenantID, middle := sqltest.SeedScaleTenant(t, s, sqltest.ScaleIdentities(t))
	sqltest.ExplainScaleQueries(t, newPgxDB(s.pool), "EXPLAIN (ANALYZE, BUFFERS)", tenantID, middle)
}
