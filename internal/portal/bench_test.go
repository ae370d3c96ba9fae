package portal_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/mint-id/mint/internal/directory"
	"github.com/mint-id/mint/internal/rbac"
	"github.com/mint-id/mint/internal/store"
)

// The portal's figures: server time to render the first page of the IAM blade of a scope with
// many role assignments, and of the Managed Identities list of a subscription with many
// identities, each beside the ARM list call the page is made from, in the same run. The sizes
// default to small ones so that `go test -bench` is quick; the figures to report are at
// MINT_PORTAL_BENCH_ASSIGNMENTS=10000 and MINT_PORTAL_BENCH_IDENTITIES=100000 (goal: < 100 ms p99
// per page).

func benchSize(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

func BenchmarkPortalIAMFirstPage(b *testing.B) {
	n := benchSize("MINT_PORTAL_BENCH_ASSIGNMENTS", 500)
	e := newEnv(&testing.T{})
	ctx := context.Background()
	sub := "/subscriptions/" + e.in.Subscription.ID
	now := time.Now().UTC()
	for i := range n {
		a := store.RoleAssignment{ID: uuid.NewString(), Scope: sub, RoleDefinitionID: rbac.ReaderRoleID, PrincipalID: uuid.NewString(),
			PrincipalType: "ServicePrincipal", CreatedAt: now.Add(time.Duration(i) * time.Microsecond), UpdatedAt: now}
		if err := e.srv.Store.CreateRoleAssignment(ctx, a); err != nil {
			b.Fatal(err)
		}
	}
	br := e.signIn("Admin", e.admin)
	armPath := sub + "/providers/Microsoft.Authorization/roleAssignments?api-version=2022-04-01&$filter=atScope()"
	b.Run(fmt.Sprintf("portal/%d", n), func(b *testing.B) {
		for b.Loop() {
			if code, body := br.get("/portal/resource" + sub + "?view=iam"); code != 200 || !strings.Contains(body, "Reader (") {
				b.Fatalf("IAM page: %d", code)
			}
		}
	})
	b.Run(fmt.Sprintf("arm/%d", n), func(b *testing.B) { benchARM(b, e, armPath) })
}

func BenchmarkPortalIdentitiesFirstPage(b *testing.B) {
	n := benchSize("MINT_PORTAL_BENCH_IDENTITIES", 500)
	e := newEnv(&testing.T{})
	ctx := context.Background()
	sub := e.in.Subscription.ID
	now := time.Now().UTC()
	if _, err := e.srv.Store.PutResourceGroup(ctx, store.ResourceGroup{SubscriptionID: sub, Name: "list", Location: "westeurope", CreatedAt: now}); err != nil {
		b.Fatal(err)
	}
	const uaType = "Microsoft.ManagedIdentity/userAssignedIdentities"
	prefix := "/subscriptions/" + sub + "/resourceGroups/list/providers/" + uaType + "/"
	for i := range n {
		name := fmt.Sprintf("id-%06d", i)
		sp := directory.NewManagedIdentityPrincipal(e.in.Tenant.ID, name, prefix+name)
		props, _ := json.Marshal(map[string]string{"tenantId": e.in.Tenant.ID, "principalId": sp.ObjectID, "clientId": sp.AppID})
		at := now.Add(time.Duration(i) * time.Microsecond)
		r := store.Resource{ID: prefix + name, SubscriptionID: sub, ResourceGroup: "list", Type: uaType, Name: name, Location: "westeurope",
			Properties: props, PrincipalID: sp.ObjectID, CreatedAt: at, UpdatedAt: at}
		if _, err := e.srv.Store.PutResource(ctx, r, []store.ServicePrincipal{sp}, nil); err != nil {
			b.Fatal(err)
		}
	}
	br := e.signIn("Admin", e.admin)
	b.Run(fmt.Sprintf("portal/%d", n), func(b *testing.B) {
		for b.Loop() {
			if code, body := br.get("/portal/identities?subscription=" + sub); code != 200 || !strings.Contains(body, "id-000000") {
				b.Fatalf("identities page: %d", code)
			}
		}
	})
	b.Run(fmt.Sprintf("arm/%d", n), func(b *testing.B) {
		benchARM(b, e, "/subscriptions/"+sub+"/providers/"+uaType+"?api-version=2024-11-30&$top=100")
	})
}

// benchARM times the raw ARM call, in-process like the portal's, with the same token.
func benchARM(b *testing.B, e *env, path string) {
	tok, err := e.admin.Token(context.Background(), "https://management.azure.com/.default")
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		req := httptest.NewRequest(http.MethodGet, e.srv.BaseURL+path, nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		rec := httptest.NewRecorder()
		e.srv.Handler().ServeHTTP(rec, req)
		if rec.Code != 200 {
			b.Fatalf("ARM %s: %d %s", path, rec.Code, rec.Body.String())
		}
	}
}
