package postgres

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/mint-id/mint/internal/store"
	"github.com/mint-id/mint/internal/store/storetest"
)

// adminURL is a superuser URL to an administrative database, from MINT_TEST_POSTGRES_URL.
// scripts/with-postgres.sh sets it. CI must never skip these tests silently.
func adminURL(t testing.TB) string {
	u := os.Getenv("MINT_TEST_POSTGRES_URL")
	if u == "" {
		if ci, _ := strconv.ParseBool(os.Getenv("CI")); ci {
			t.Fatal("MINT_TEST_POSTGRES_URL is not set, and CI must run the PostgreSQL tests: use scripts/with-postgres.sh go test ./...")
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

func openAt(t testing.TB, url string) *Store {
	t.Helper()
	s, err := Open(context.Background(), url)
	if err != nil {
		t.Fatalf("open %s: %v", url, err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

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
	ctx := context.Background()
	ms, err := migrations.ReadDir("migrations")
	if err != nil {
		t.Fatal(err)
	}
	var versions int
	err = s.withConn(ctx, func(conn *pgx.Conn) error {
		return conn.QueryRow(ctx, `SELECT COUNT(*) FROM schema_migrations`).Scan(&versions)
	})
	if err != nil {
		t.Fatal(err)
	}
	if versions != len(ms) {
		t.Fatalf("schema_migrations has %d rows, want %d (one per migration, applied once)", versions, len(ms))
	}
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
	ctx := context.Background()
	url := freshDatabase(t)
	s := openAt(t, url)
	if _, err := s.exec(ctx, `INSERT INTO schema_migrations (version, name) VALUES (999, 'future.sql')`); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if s, err := Open(ctx, url); err == nil {
		s.Close()
		t.Fatal("Open accepted a database migrated by a newer mint")
	}
}

func TestExpiredAssertionsRemoved(t *testing.T) {
	ctx := context.Background()
	s := openAt(t, freshDatabase(t))
	past := time.Now().Add(-time.Hour)
	for i := range 150 {
		if err := s.UseAssertion(ctx, "old-"+strconv.Itoa(i), past); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 3 {
		if err := s.UseAssertion(ctx, "new-"+strconv.Itoa(i), time.Now().Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
	}
	var n int
	err := s.withConn(ctx, func(conn *pgx.Conn) error {
		return conn.QueryRow(ctx, `SELECT COUNT(*) FROM assertions`).Scan(&n)
	})
	if err != nil {
		t.Fatal(err)
	}
	if n != 3 {
		t.Fatalf("%d assertion records left, want the 3 live ones", n)
	}
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
	ctx := context.Background()
	s := openAt(b, freshDatabase(b))
	for i := 0; b.Loop(); i++ {
		id := strconv.Itoa(i)
		sp := store.ServicePrincipal{ObjectID: "oid-" + id, AppID: "app-" + id, TenantID: "tenant", Kind: store.KindApplication,
			IdentifierURIs: []string{"api://" + id}, CreatedAt: time.Now()}
		cred := store.Credential{KeyID: "key-" + id, Type: store.CredentialPassword, SecretHash: make([]byte, 32), StartsAt: time.Now(), ExpiresAt: time.Now().Add(time.Hour)}
		if err := s.CreatePrincipal(ctx, sp, []store.Credential{cred}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkGetPrincipalByAppID(b *testing.B) {
	ctx := context.Background()
	s := openAt(b, freshDatabase(b))
	const n = 1000
	for i := range n {
		id := strconv.Itoa(i)
		sp := store.ServicePrincipal{ObjectID: "oid-" + id, AppID: "APP-" + id, TenantID: "tenant", Kind: store.KindApplication, CreatedAt: time.Now()}
		if err := s.CreatePrincipal(ctx, sp, nil); err != nil {
			b.Fatal(err)
		}
	}
	for i := 0; b.Loop(); i++ {
		if _, err := s.GetPrincipalByAppID(ctx, "tenant", "app-"+strconv.Itoa(i%n)); err != nil {
			b.Fatal(err)
		}
	}
}
