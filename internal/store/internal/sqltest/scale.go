package sqltest

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/mint-id/mint/internal/store"
	"github.com/mint-id/mint/internal/store/internal/sqlstore"
)

// Seeder is a store that loads identities in bulk (the scale bench's path).
type Seeder interface {
	store.Store
	SeedManagedIdentities(ctx context.Context, n int, identity func(i int) store.IdentitySeed) error
}

// ScaleIdentities is the directory size of BenchmarkDirectoryPages: MINT_BENCH_IDENTITIES, or
// 100,000.
func ScaleIdentities(tb testing.TB) int {
	n := 100_000
	if v := os.Getenv("MINT_BENCH_IDENTITIES"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n < 1 {
			tb.Fatalf("MINT_BENCH_IDENTITIES=%q", v)
		}
	}
	return n
}

// SeedScaleTenant loads n managed identities into a new tenant as the scale bench does (names
// id-0000000 ..., one a microsecond) and returns the tenant and the middle identity.
func SeedScaleTenant(tb testing.TB, s Seeder, n int) (tenantID string, middle store.ServicePrincipal) {
	tb.Helper()
	tenantID = uuid.NewString()
	sub := uuid.NewString()
	now := time.Now().UTC().Truncate(time.Microsecond)
	ctx := context.Background()
	if err := s.CreateTenant(ctx, store.Tenant{ID: tenantID, DisplayName: "scale", CreatedAt: now}); err != nil {
		tb.Fatal(err)
	}
	if err := s.CreateSubscription(ctx, store.Subscription{ID: sub, TenantID: tenantID, DisplayName: "scale", State: "Enabled", CreatedAt: now}); err != nil {
		tb.Fatal(err)
	}
	if _, err := s.PutResourceGroup(ctx, store.ResourceGroup{SubscriptionID: sub, Name: "rg", Location: "westeurope", CreatedAt: now}); err != nil {
		tb.Fatal(err)
	}
	err := s.SeedManagedIdentities(context.Background(), n, func(i int) store.IdentitySeed {
		name := fmt.Sprintf("id-%07d", i)
		id := "/subscriptions/" + sub + "/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/" + name
		at := now.Add(time.Duration(i) * time.Microsecond)
		sp := store.ServicePrincipal{ObjectID: uuid.NewString(), AppID: uuid.NewString(), TenantID: tenantID, Kind: store.KindManagedIdentity,
			DisplayName: name, AlternativeNames: []string{id}, CreatedAt: at}
		if i == n/2 {
			middle = sp
		}
		return store.IdentitySeed{
			Resource: store.Resource{ID: id, SubscriptionID: sub, ResourceGroup: "rg", Type: "Microsoft.ManagedIdentity/userAssignedIdentities",
				Name: name, Location: "westeurope", Properties: []byte(`{}`), PrincipalID: sp.ObjectID, CreatedAt: at, UpdatedAt: at},
			Principal: sp,
		}
	})
	if err != nil {
		tb.Fatal(err)
	}
	return tenantID, middle
}

// PickerSearch is the $search the portal's member picker sends for service principals once
// text is typed: "displayName:text" OR "appId:text" OR "id:text", as the store receives it.
func PickerSearch(text string) *store.SearchTerm {
	clause := func(p store.SearchProperty) *store.SearchTerm {
		if p == store.SearchDisplayName {
			return &store.SearchTerm{Property: p, Words: store.SearchTokens(text)}
		}
		return &store.SearchTerm{Property: p, Prefix: text}
	}
	return &store.SearchTerm{Op: "OR", Left: &store.SearchTerm{Op: "OR", Left: clause(store.SearchDisplayName), Right: clause(store.SearchAppID)},
		Right: clause(store.SearchObjectID)}
}

// ScaleQueries are the Graph list shapes whose cost must not grow with the directory, over a
// tenant SeedScaleTenant loaded: name, filter, and how many principals the answer has.
func ScaleQueries(tenantID string, middle store.ServicePrincipal) []struct {
	Name string
	F    store.PrincipalFilter
	Want int
} {
	return []struct {
		Name string
		F    store.PrincipalFilter
		Want int
	}{
		{"first page", store.PrincipalFilter{TenantID: tenantID, Limit: 101}, 101},
		{"appId", store.PrincipalFilter{TenantID: tenantID, AppID: middle.AppID, Limit: 101}, 1},
		// The portal's picker with a whole name typed: words id and 00xxxxx.
		{"picker search", store.PrincipalFilter{TenantID: tenantID, Search: PickerSearch(middle.DisplayName), Limit: 1000}, 1},
		{"picker search, id", store.PrincipalFilter{TenantID: tenantID, Search: PickerSearch(middle.ObjectID[:8]), Limit: 1000}, 1},
	}
}

// BenchmarkDirectoryPages times ScaleQueries over ScaleIdentities identities.
func BenchmarkDirectoryPages(b *testing.B, s Seeder) {
	tenantID, middle := SeedScaleTenant(b, s, ScaleIdentities(b))
	for _, q := range ScaleQueries(tenantID, middle) {
		b.Run(q.Name, func(b *testing.B) {
			for b.Loop() {
				got, err := s.ListPrincipalsPage(b.Context(), q.F)
				if err != nil {
					b.Fatal(err)
				}
				if len(got) != q.Want {
					b.Fatalf("%d principals, want %d", len(got), q.Want)
				}
			}
		})
	}
}

// ExplainScaleQueries logs db's plan (explain prefixes the query) of each ScaleQueries shape.
func ExplainScaleQueries(t *testing.T, db sqlstore.Reader, explain string, tenantID string, middle store.ServicePrincipal) {
	for _, q := range ScaleQueries(tenantID, middle) {
		sql, args, err := sqlstore.ListPrincipalsPageQuery(q.F)
		if err != nil {
			t.Fatal(err)
		}
		rows, err := db.Query(t.Context(), explain+" "+sql, args...)
		if err != nil {
			t.Fatal(err)
		}
		plan := ""
		for rows.Next() {
			var line string
			if err := rows.Scan(&line); err != nil {
				t.Fatal(err)
			}
			plan += line + "\n"
		}
		rows.Close()
		t.Logf("%s:\n%s", q.Name, plan)
	}
}
