package arm

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/mint-id/mint/internal/directory"
	"github.com/mint-id/mint/internal/store"
	"github.com/mint-id/mint/internal/store/sqlite"
)

// The Microsoft.KeyVault/vaults provider over a real SQLite store (the vault records and their
// cascade are the store's).

type kvEnv struct {
	t   *testing.T
	st  *sqlite.Store
	srv *Server
	key *rsa.PrivateKey
	in  directory.Installation
}

const kvTestBase = "https://127.0.0.1:8443"

func newKVEnv(t *testing.T) *kvEnv {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "mint.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	dir := directory.New(st, directory.Options{})
	in, err := dir.Bootstrap(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := EnsureOwner(ctx, st, in.Admin.ObjectID, in.Subscription.ID); err != nil {
		t.Fatal(err)
	}
	e := &kvEnv{t: t, st: st, key: key, in: in}
	e.srv = New(Config{BaseURL: kvTestBase}, st, dir, testKeys{&key.PublicKey})
	e.srv.ConfigureKeyVault(KeyVaultConfig{
		VaultURI:    func(name string) string { return "https://" + strings.ToLower(name) + ".vault.localhost:8443/" },
		SealDataKey: func(id string) ([]byte, error) { return []byte("sealed key of " + id), nil },
	})
	for _, g := range []string{"app", "other"} {
		if _, err := st.PutResourceGroup(ctx, store.ResourceGroup{SubscriptionID: in.Subscription.ID, Name: g, Location: "westeurope", CreatedAt: time.Now()}); err != nil {
			t.Fatal(err)
		}
	}
	return e
}

func (e *kvEnv) vaultPath(group, name string) string {
	return "/subscriptions/" + e.in.Subscription.ID + "/resourceGroups/" + group + "/providers/Microsoft.KeyVault/vaults/" + name
}

func (e *kvEnv) do(method, path string, body any) rmResponse {
	e.t.Helper()
	var data []byte
	if body != nil {
		data, _ = json.Marshal(body)
	}
	if !strings.Contains(path, "api-version=") {
		sep := "?"
		if strings.Contains(path, "?") {
			sep = "&"
		}
		path += sep + "api-version=2024-11-01"
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: e.key}, (&jose.SignerOptions{}).WithHeader("kid", "k1").WithType("JWT"))
	if err != nil {
		e.t.Fatal(err)
	}
	now := time.Now()
	tok, err := jwt.Signed(signer).Claims(map[string]any{
		"aud": "https://management.azure.com/", "iss": kvTestBase + "/" + e.in.Tenant.ID + "/", "tid": e.in.Tenant.ID,
		"oid": e.in.Admin.ObjectID, "sub": e.in.Admin.ObjectID, "appid": e.in.Admin.AppID, "ver": "1.0",
		"iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(time.Hour).Unix(),
	}).Serialize()
	if err != nil {
		e.t.Fatal(err)
	}
	r := httptest.NewRequest(method, path, bytes.NewReader(data))
	r.Header.Set("Authorization", "Bearer "+tok)
	w := httptest.NewRecorder()
	e.srv.ServeHTTP(w, r)
	out := rmResponse{status: w.Code, header: w.Header(), raw: w.Body.Bytes()}
	if w.Body.Len() > 0 && method != http.MethodHead {
		if err := json.Unmarshal(w.Body.Bytes(), &out.body); err != nil {
			e.t.Fatalf("%s %s: body is not JSON: %s", method, path, w.Body.String())
		}
	}
	return out
}

func (e *kvEnv) must(want int, method, path string, body any) rmResponse {
	e.t.Helper()
	r := e.do(method, path, body)
	if r.status != want {
		e.t.Fatalf("%s %s: %d, want %d: %s", method, path, r.status, want, r.raw)
	}
	return r
}

func TestKeyVaultLifecycle(t *testing.T) {
	e := newKVEnv(t)
	ctx := context.Background()
	path := e.vaultPath("app", "Kv1")

	r := e.must(201, "PUT", path, map[string]any{"location": "West Europe", "properties": map[string]any{"sku": map[string]string{"family": "A", "name": "Standard"}}})
	if r.header.Get("Location") != "" {
		t.Fatalf("a long-running create must not carry a relative Location: %q", r.header.Get("Location"))
	}
	for k, want := range map[string]string{
		"id": path, "name": "Kv1", "type": "Microsoft.KeyVault/vaults", "location": "westeurope",
		"properties.tenantId": e.in.Tenant.ID, "properties.sku.name": "standard", "properties.sku.family": "A",
		"properties.vaultUri": "https://kv1.vault.localhost:8443/", "properties.provisioningState": "Succeeded",
		"properties.publicNetworkAccess": "Enabled",
	} {
		if got := r.str(k); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
	for k, want := range map[string]any{
		"properties.enableRbacAuthorization": true, "properties.enableSoftDelete": true, "properties.softDeleteRetentionInDays": float64(90),
	} {
		if got := rmLookup(r.body, k); got != want {
			t.Errorf("%s = %v, want %v", k, got, want)
		}
	}
	if _, ok := r.body["properties"].(map[string]any)["enablePurgeProtection"]; ok {
		t.Error("enablePurgeProtection shown although never set")
	}
	v, err := e.st.GetVault(ctx, "KV1")
	if err != nil || v.ResourceID != path || string(v.DataKey) != "sealed key of "+path {
		t.Fatalf("vault record %+v, %v", v, err)
	}

	e.must(200, "PUT", path, map[string]any{"location": "westeurope", "tags": map[string]string{"env": "dev"}})
	e.must(200, "GET", path, nil)
	e.must(204, "HEAD", path, nil)
	e.must(404, "GET", e.vaultPath("app", "missing"), nil)

	// PATCH merges; the permission model switches to access policies.
	r = e.must(200, "PATCH", path, map[string]any{"properties": map[string]any{
		"enableRbacAuthorization": false,
		"accessPolicies":          []map[string]any{{"tenantId": e.in.Tenant.ID, "objectId": e.in.Admin.ObjectID, "permissions": map[string]any{"secrets": []string{"Get", "list"}}}},
	}})
	if rmLookup(r.body, "properties.enableRbacAuthorization") != false || r.str("tags.env") != "dev" {
		t.Fatalf("patch: %s", r.raw)
	}
	aps := rmLookup(r.body, "properties.accessPolicies").([]any)
	if len(aps) != 1 || rmLookup(aps[0].(map[string]any), "permissions.secrets").([]any)[0] != "get" {
		t.Fatalf("access policies: %s", r.raw)
	}

	// Immutable and invalid settings.
	for _, tc := range []struct {
		method string
		body   map[string]any
		code   string
	}{
		{"PATCH", map[string]any{"properties": map[string]any{"softDeleteRetentionInDays": 30}}, "BadRequest"},
		{"PATCH", map[string]any{"properties": map[string]any{"enableSoftDelete": false}}, "BadRequest"},
		{"PATCH", map[string]any{"properties": map[string]any{"sku": map[string]string{"name": "gold"}}}, "BadRequest"},
		{"PATCH", map[string]any{"properties": map[string]any{"tenantId": "not-a-guid"}}, "BadRequest"},
		{"PATCH", map[string]any{"properties": map[string]any{"accessPolicies": []map[string]any{{"tenantId": e.in.Tenant.ID, "objectId": "x", "permissions": map[string]any{"secrets": []string{"fly"}}}}}}, "BadRequest"},
		{"PUT", map[string]any{"location": "eastus"}, "InvalidResourceLocation"},
	} {
		if r := e.do(tc.method, path, tc.body); r.status != 400 || r.code() != tc.code {
			t.Errorf("%s %v: %d %s", tc.method, tc.body, r.status, r.raw)
		}
	}
	e.must(200, "PATCH", path, map[string]any{"properties": map[string]any{"enablePurgeProtection": true}})
	if r := e.do("PATCH", path, map[string]any{"properties": map[string]any{"enablePurgeProtection": false}}); r.status != 400 {
		t.Fatalf("disabling purge protection: %d %s", r.status, r.raw)
	}
	for _, bad := range []map[string]any{
		{"location": "westeurope", "properties": map[string]any{"softDeleteRetentionInDays": 6}},
		{"location": "westeurope", "properties": map[string]any{"softDeleteRetentionInDays": 91}},
	} {
		if r := e.do("PUT", e.vaultPath("app", "kv-new"), bad); r.status != 400 {
			t.Errorf("create with %v: %d %s", bad, r.status, r.raw)
		}
	}
	r = e.must(201, "PUT", e.vaultPath("app", "kv7"), map[string]any{"location": "westeurope", "properties": map[string]any{"softDeleteRetentionInDays": 7}})
	if rmLookup(r.body, "properties.softDeleteRetentionInDays") != float64(7) {
		t.Fatalf("retention 7: %s", r.raw)
	}

	// Names are the vault's across the installation.
	if r := e.do("PUT", e.vaultPath("other", "KV1"), map[string]any{"location": "westeurope"}); r.status != 409 || r.code() != "VaultAlreadyExists" {
		t.Fatalf("a taken name in another group: %d %s", r.status, r.raw)
	}
	if _, err := e.st.GetResource(ctx, e.vaultPath("other", "KV1")); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("the refused vault's resource was left: %v", err)
	}
	for _, bad := range []string{"kv", "1kv", "kv--1", "kv_1", strings.Repeat("k", 25)} {
		if r := e.do("PUT", e.vaultPath("app", bad), map[string]any{"location": "westeurope"}); r.status != 400 || r.code() != "VaultNameNotValid" {
			t.Errorf("name %q: %d %s", bad, r.status, r.raw)
		}
	}

	// Lists.
	r = e.must(200, "GET", "/subscriptions/"+e.in.Subscription.ID+"/resourceGroups/app/providers/Microsoft.KeyVault/vaults", nil)
	if got := names(r.list()); len(got) != 2 {
		t.Fatalf("group list: %v", got)
	}
	r = e.must(200, "GET", "/subscriptions/"+e.in.Subscription.ID+"/providers/Microsoft.KeyVault/vaults?$top=1", nil)
	if len(r.list()) != 1 || r.str("nextLink") == "" {
		t.Fatalf("subscription list with $top: %s", r.raw)
	}

	// Delete: the vault record goes with the resource and the name is free again.
	e.must(200, "DELETE", path, nil)
	e.must(204, "DELETE", path, nil)
	if _, err := e.st.GetVault(ctx, "kv1"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("vault record after delete: %v", err)
	}
	e.must(201, "PUT", e.vaultPath("other", "kv1"), map[string]any{"location": "westeurope"})
}

func TestKeyVaultAccessPolicies(t *testing.T) {
	e := newKVEnv(t)
	path := e.vaultPath("app", "kvp")
	e.must(201, "PUT", path, map[string]any{"location": "westeurope", "properties": map[string]any{"enableRbacAuthorization": false}})
	oid := "0c5f6f0e-1111-2222-3333-444444444444"
	entry := func(secrets ...string) map[string]any {
		return map[string]any{"properties": map[string]any{"accessPolicies": []map[string]any{
			{"tenantId": e.in.Tenant.ID, "objectId": oid, "permissions": map[string]any{"secrets": secrets}}}}}
	}
	secretsOf := func() []string {
		r := e.must(200, "GET", path, nil)
		aps, _ := rmLookup(r.body, "properties.accessPolicies").([]any)
		if len(aps) == 0 {
			return nil
		}
		var out []string
		for _, s := range rmLookup(aps[0].(map[string]any), "permissions.secrets").([]any) {
			out = append(out, s.(string))
		}
		return out
	}
	r := e.must(200, "PUT", path+"/accessPolicies/add", entry("get"))
	if r.str("type") != "Microsoft.KeyVault/vaults/accessPolicies" || r.str("name") != "add" {
		t.Fatalf("access policy answer: %s", r.raw)
	}
	e.must(200, "PUT", path+"/accessPolicies/add", entry("list", "GET"))
	if got := strings.Join(secretsOf(), ","); got != "get,list" {
		t.Fatalf("after add: %s", got)
	}
	e.must(200, "PUT", path+"/accessPolicies/replace", entry("set"))
	if got := strings.Join(secretsOf(), ","); got != "set" {
		t.Fatalf("after replace: %s", got)
	}
	e.must(200, "PUT", path+"/accessPolicies/remove", entry("set"))
	if got := secretsOf(); got != nil {
		t.Fatalf("after remove: %v", got)
	}
	if r := e.do("PUT", path+"/accessPolicies/merge", entry("get")); r.status != 400 {
		t.Fatalf("unknown operation: %d %s", r.status, r.raw)
	}
	if r := e.do("PUT", e.vaultPath("app", "nope")+"/accessPolicies/add", entry("get")); r.status != 404 {
		t.Fatalf("policies of a missing vault: %d %s", r.status, r.raw)
	}
}

func TestKeyVaultGoesWithItsGroup(t *testing.T) {
	e := newKVEnv(t)
	e.must(201, "PUT", e.vaultPath("other", "kvg"), map[string]any{"location": "westeurope"})
	if _, err := e.st.DeleteResourceGroup(context.Background(), e.in.Subscription.ID, "other"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.st.GetVault(context.Background(), "kvg"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("vault record after its group was deleted: %v", err)
	}
}
