package arm

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/mint-id/mint/internal/rbac"
	"github.com/mint-id/mint/internal/store"
)

// A token from another tenant than the subscription's is refused, as ARM refuses it
// (InvalidAuthenticationTokenTenant), even when that tenant's principal holds a role there.
func TestTokenFromAnotherTenantIsRefused(t *testing.T) {
	e := newTestEnv(t)
	e.group("rg1")
	other := uuid.NewString()
	if err := e.st.CreateTenant(context.Background(), store.Tenant{ID: other, DisplayName: "other", DefaultDomain: "other.test", CreatedAt: e.now()}); err != nil {
		t.Fatal(err)
	}
	sp := store.ServicePrincipal{ObjectID: uuid.NewString(), AppID: uuid.NewString(), TenantID: other, Kind: store.KindApplication, DisplayName: "foreign", CreatedAt: e.now()}
	if err := e.st.CreatePrincipal(context.Background(), sp, nil); err != nil {
		t.Fatal(err)
	}
	e.assign(sp.ObjectID, rbac.OwnerRoleID, e.subScope())
	saved := e.tenant
	e.tenant = other // the token's tid
	r := e.call(sp.ObjectID, http.MethodGet, e.rg("rg1"), "2021-04-01", nil)
	e.tenant = saved
	if r.status != http.StatusUnauthorized || r.code() != "InvalidAuthenticationTokenTenant" || !strings.Contains(r.message(), "https://sts.windows.net/"+saved+"/") {
		t.Fatalf("%d %s", r.status, r.raw)
	}
	// The subscription's own tenant still gets in.
	e.must(http.StatusOK, http.MethodGet, e.rg("rg1"), "2021-04-01", nil)
}
