// Package sqltest holds the tests the SQLite and PostgreSQL stores share beyond the conformance
// suite: what their SQL schema and migrations promise, and the benchmarks of the token path's
// reads and of creating principals. Each store's tests call them with its own database.
package sqltest

import (
	"github.com/google/uuid"

	"context"
	"io/fs"
	"strconv"
	"testing"
	"time"

	"github.com/mint-id/mint/internal/store"
	"github.com/mint-id/mint/internal/store/internal/sqlstore"
)

// MigratedOnce checks that schema_migrations has one row per migration in the "migrations"
// directory of fsys.
func MigratedOnce(t testing.TB, db sqlstore.Reader, fsys fs.FS) {
	t.Helper()
	ms, err := fs.ReadDir(fsys, "migrations")
	if err != nil {
		t.Fatal(err)
	}
	var versions int
	if err := db.QueryRow(context.Background(), `SELECT COUNT(*) FROM schema_migrations`).Scan(&versions); err != nil {
		t.Fatal(err)
	}
	if versions != len(ms) {
		t.Fatalf("schema_migrations has %d rows, want %d (one per migration, applied once)", versions, len(ms))
	}
}

// NewerSchemaRefused records a migration from the future in db, closes it with closeStore and
// checks that reopen refuses the database.
func NewerSchemaRefused(t *testing.T, db sqlstore.Querier, closeStore func() error, reopen func() (store.Store, error)) {
	if _, err := db.Exec(context.Background(), `INSERT INTO schema_migrations (version, name, applied_at)
		VALUES (999, 'future.sql', $1)`, time.Now()); err != nil {
		t.Fatal(err)
	}
	closeStore()
	if s, err := reopen(); err == nil {
		s.Close()
		t.Fatal("Open accepted a database migrated by a newer mint")
	}
}

// ExpiredAssertionsRemoved checks that using assertions removes the expired records (db reads
// the store's database).
func ExpiredAssertionsRemoved(t *testing.T, s store.Assertions, db sqlstore.Reader) {
	ctx := context.Background()
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
	if err := db.QueryRow(ctx, `SELECT COUNT(*) FROM assertions`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 3 {
		t.Fatalf("%d assertion records left, want the 3 live ones", n)
	}
}

// BenchmarkCreatePrincipal creates applications with one URI and one secret each: the create
// rate.
func BenchmarkCreatePrincipal(b *testing.B, s store.Principals) {
	ctx := context.Background()
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

// BenchmarkGetPrincipalByAppID reads principals by appId among 1,000: a read of the token path.
func BenchmarkGetPrincipalByAppID(b *testing.B, s store.Principals) {
	ctx := context.Background()
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

// Open opens the store at dsn with open, and closes it when the test ends.
func Open[S store.Store](t testing.TB, open func(context.Context, string) (S, error), dsn string) S {
	t.Helper()
	s, err := open(context.Background(), dsn)
	if err != nil {
		t.Fatalf("open %s: %v", dsn, err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// BenchmarkTokenPathReads makes the reads a client-credentials token request makes: the tenant
// (by domain), the client by appId, its credentials.
func BenchmarkTokenPathReads(b *testing.B, s interface {
	store.Tenants
	store.Principals
	store.Credentials
}) {
	ctx := context.Background()
	if err := s.CreateTenant(ctx, store.Tenant{ID: "tenant", DefaultDomain: "bench.localhost", CreatedAt: time.Now()}); err != nil {
		b.Fatal(err)
	}
	const n = 1000
	for i := range n {
		id := strconv.Itoa(i)
		sp := store.ServicePrincipal{ObjectID: "oid-" + id, AppID: "app-" + id, TenantID: "tenant", Kind: store.KindApplication, CreatedAt: time.Now()}
		cred := store.Credential{KeyID: "key-" + id, Type: store.CredentialPassword, SecretHash: make([]byte, 32), StartsAt: time.Now(), ExpiresAt: time.Now().Add(time.Hour)}
		if err := s.CreatePrincipal(ctx, sp, []store.Credential{cred}); err != nil {
			b.Fatal(err)
		}
	}
	for i := 0; b.Loop(); i++ {
		t, err := s.GetTenant(ctx, "BENCH.localhost")
		if err != nil {
			b.Fatal(err)
		}
		sp, err := s.GetPrincipalByAppID(ctx, t.ID, "app-"+strconv.Itoa(i%n))
		if err != nil {
			b.Fatal(err)
		}
		if cs, err := s.ListCredentials(ctx, sp.ObjectID); err != nil || len(cs) != 1 {
			b.Fatal(len(cs), err)
		}
	}
}

// BenchmarkRecordSignIns writes the sign-in log as the token path fills it under load: batches
// of batch successful client-credentials sign-ins of one app, into a table that already holds
// 20,000, with time-ordered ids as the STS makes them. 72 rows is ~1,440 tokens/s flushed every
// 50 ms (the log while quiet); 750 rows is the same rate written every 0.5 s, as the log does
// while busy. It reports the time per row (fsyncs included).
func BenchmarkRecordSignIns(b *testing.B, s store.SignIns, batch int) {
	ctx := context.Background()
	entries := func() []store.SignIn {
		out := make([]store.SignIn, batch)
		now := time.Now()
		for i := range out {
			out[i] = store.SignIn{ID: uuid.Must(uuid.NewV7()).String(), Time: now, TenantID: "8b0c2a5e-6a43-4c0c-9a57-6c1b4d8a9f11",
				PrincipalID: "2f6b9c1e-0d3a-4f6e-8b8a-1c2d3e4f5a6b", AppID: "5d1f8a2c-7e3b-4a9d-b6c5-0e1f2a3b4c5d",
				Resource: "https://vault.azure.net/.default", Grant: "client_credentials", Result: "success",
				CorrelationID: uuid.NewString(), TokenID: "b7LkQ2mZ9kS3x1PqR4tUvA"}
		}
		return out
	}
	for range 20_000 / batch {
		if err := s.RecordSignIns(ctx, entries()); err != nil {
			b.Fatal(err)
		}
	}
	rows := 0
	for b.Loop() {
		if err := s.RecordSignIns(ctx, entries()); err != nil {
			b.Fatal(err)
		}
		rows += batch
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(rows)/1000, "µs/row")
}
