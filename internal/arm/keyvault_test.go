package arm

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/mint-id/mint/internal/store"
)

// The Microsoft.KeyVault/vaults provider (the vault records and their cascade are the store's).

const kvVersion = "2024-11-01"

func (e *testEnv) vaultPath(group, name string) string {
	return e.rg(group) + "/providers/Microsoft.KeyVault/vaults/" + name
}

func TestKeyVaultLifecycle(t *testing.T) {
	e := newTestEnv(t)
	e.group("app", "other")
	ctx := context.Background()
	path := e.vaultPath("app", "Kv1")

	r := e.must(201, "PUT", path, kvVersion, map[string]any{"location": "West Europe", "properties": map[string]any{"sku": map[string]string{"family": "A", "name": "Standard"}}})
	if r.header.Get("Location") != "" {
		t.Fatalf("a long-running create must not carry a relative Location: %q", r.header.Get("Location"))
	}
	for k, want := range map[string]string{
		"id": path, "name": "Kv1", "type": "Microsoft.KeyVault/vaults", "location": "westeurope",
		"properties.tenantId": e.tenant, "properties.sku.name": "standard", "properties.sku.family": "A",
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
		if got := lookup(r.body, k); got != want {
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

	e.must(200, "PUT", path, kvVersion, map[string]any{"location": "westeurope", "tags": map[string]string{"env": "dev"}})
	e.must(200, "GET", path, kvVersion, nil)
	e.must(204, "HEAD", path, kvVersion, nil)
	e.must(404, "GET", e.vaultPath("app", "missing"), kvVersion, nil)

	// PATCH merges; the permission model switches to access policies.
	r = e.must(200, "PATCH", path, kvVersion, map[string]any{"properties": map[string]any{
		"enableRbacAuthorization": false,
		"accessPolicies":          []map[string]any{{"tenantId": e.tenant, "objectId": e.admin, "permissions": map[string]any{"secrets": []string{"Get", "list"}}}},
	}})
	if lookup(r.body, "properties.enableRbacAuthorization") != false || r.str("tags.env") != "dev" {
		t.Fatalf("patch: %s", r.raw)
	}
	aps := lookup(r.body, "properties.accessPolicies").([]any)
	if len(aps) != 1 || lookup(aps[0].(map[string]any), "permissions.secrets").([]any)[0] != "get" {
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
		{"PATCH", map[string]any{"properties": map[string]any{"accessPolicies": []map[string]any{{"tenantId": e.tenant, "objectId": "x", "permissions": map[string]any{"secrets": []string{"fly"}}}}}}, "BadRequest"},
		{"PUT", map[string]any{"location": "eastus"}, "InvalidResourceLocation"},
	} {
		if r := e.as(tc.method, path, kvVersion, tc.body); r.status != 400 || r.code() != tc.code {
			t.Errorf("%s %v: %d %s", tc.method, tc.body, r.status, r.raw)
		}
	}
	e.must(200, "PATCH", path, kvVersion, map[string]any{"properties": map[string]any{"enablePurgeProtection": true}})
	if r := e.as("PATCH", path, kvVersion, map[string]any{"properties": map[string]any{"enablePurgeProtection": false}}); r.status != 400 {
		t.Fatalf("disabling purge protection: %d %s", r.status, r.raw)
	}
	for _, bad := range []map[string]any{
		{"location": "westeurope", "properties": map[string]any{"softDeleteRetentionInDays": 6}},
		{"location": "westeurope", "properties": map[string]any{"softDeleteRetentionInDays": 91}},
	} {
		if r := e.as("PUT", e.vaultPath("app", "kv-new"), kvVersion, bad); r.status != 400 {
			t.Errorf("create with %v: %d %s", bad, r.status, r.raw)
		}
	}
	r = e.must(201, "PUT", e.vaultPath("app", "kv7"), kvVersion, map[string]any{"location": "westeurope", "properties": map[string]any{"softDeleteRetentionInDays": 7}})
	if lookup(r.body, "properties.softDeleteRetentionInDays") != float64(7) {
		t.Fatalf("retention 7: %s", r.raw)
	}

	// Names are the vault's across the installation.
	if r := e.as("PUT", e.vaultPath("other", "KV1"), kvVersion, map[string]any{"location": "westeurope"}); r.status != 409 || r.code() != "VaultAlreadyExists" {
		t.Fatalf("a taken name in another group: %d %s", r.status, r.raw)
	}
	if _, err := e.st.GetResource(ctx, e.vaultPath("other", "KV1")); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("the refused vault's resource was left: %v", err)
	}
	for _, bad := range []string{"kv", "1kv", "kv--1", "kv_1", strings.Repeat("k", 25)} {
		if r := e.as("PUT", e.vaultPath("app", bad), kvVersion, map[string]any{"location": "westeurope"}); r.status != 400 || r.code() != "VaultNameNotValid" {
			t.Errorf("name %q: %d %s", bad, r.status, r.raw)
		}
	}

	// Lists.
	r = e.must(200, "GET", "/subscriptions/"+e.sub+"/resourceGroups/app/providers/Microsoft.KeyVault/vaults", kvVersion, nil)
	if got := names(r.list()); len(got) != 2 {
		t.Fatalf("group list: %v", got)
	}
	r = e.must(200, "GET", "/subscriptions/"+e.sub+"/providers/Microsoft.KeyVault/vaults?$top=1", kvVersion, nil)
	if len(r.list()) != 1 || r.str("nextLink") == "" {
		t.Fatalf("subscription list with $top: %s", r.raw)
	}

	// Delete: the vault record goes with the resource; the vault is kept as deleted, so the name
	// is free again only once it is purged (keyvault_deleted_test.go).
	e.must(200, "DELETE", path, kvVersion, nil)
	e.must(204, "DELETE", path, kvVersion, nil)
	if _, err := e.st.GetVault(ctx, "kv1"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("vault record after delete: %v", err)
	}
	e.must(409, "PUT", e.vaultPath("other", "kv1"), kvVersion, map[string]any{"location": "westeurope"})
	// Kv1 has purge protection (set above): it cannot be purged before its scheduled date.
	e.must(409, "POST", e.subScope()+"/providers/Microsoft.KeyVault/locations/westeurope/deletedVaults/kv1/purge", kvVersion, nil)
}

func TestKeyVaultAccessPolicies(t *testing.T) {
	e := newTestEnv(t)
	e.group("app", "other")
	path := e.vaultPath("app", "kvp")
	e.must(201, "PUT", path, kvVersion, map[string]any{"location": "westeurope", "properties": map[string]any{"enableRbacAuthorization": false}})
	oid := "0c5f6f0e-1111-2222-3333-444444444444"
	entry := func(secrets ...string) map[string]any {
		return map[string]any{"properties": map[string]any{"accessPolicies": []map[string]any{
			{"tenantId": e.tenant, "objectId": oid, "permissions": map[string]any{"secrets": secrets}}}}}
	}
	secretsOf := func() []string {
		r := e.must(200, "GET", path, kvVersion, nil)
		aps, _ := lookup(r.body, "properties.accessPolicies").([]any)
		if len(aps) == 0 {
			return nil
		}
		var out []string
		for _, s := range lookup(aps[0].(map[string]any), "permissions.secrets").([]any) {
			out = append(out, s.(string))
		}
		return out
	}
	r := e.must(200, "PUT", path+"/accessPolicies/add", kvVersion, entry("get"))
	if r.str("type") != "Microsoft.KeyVault/vaults/accessPolicies" || r.str("name") != "add" {
		t.Fatalf("access policy answer: %s", r.raw)
	}
	e.must(200, "PUT", path+"/accessPolicies/add", kvVersion, entry("list", "GET"))
	if got := strings.Join(secretsOf(), ","); got != "get,list" {
		t.Fatalf("after add: %s", got)
	}
	e.must(200, "PUT", path+"/accessPolicies/replace", kvVersion, entry("set"))
	if got := strings.Join(secretsOf(), ","); got != "set" {
		t.Fatalf("after replace: %s", got)
	}
	e.must(200, "PUT", path+"/accessPolicies/remove", kvVersion, entry("set"))
	if got := secretsOf(); got != nil {
		t.Fatalf("after remove: %v", got)
	}
	if r := e.as("PUT", path+"/accessPolicies/merge", kvVersion, entry("get")); r.status != 400 {
		t.Fatalf("unknown operation: %d %s", r.status, r.raw)
	}
	if r := e.as("PUT", e.vaultPath("app", "nope")+"/accessPolicies/add", kvVersion, entry("get")); r.status != 404 {
		t.Fatalf("policies of a missing vault: %d %s", r.status, r.raw)
	}
}

func TestKeyVaultGoesWithItsGroup(t *testing.T) {
	e := newTestEnv(t)
	e.group("app", "other")
	e.must(201, "PUT", e.vaultPath("other", "kvg"), kvVersion, map[string]any{"location": "westeurope"})
	if _, err := e.st.DeleteResourceGroup(context.Background(), e.sub, "other"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.st.GetVault(context.Background(), "kvg"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("vault record after its group was deleted: %v", err)
	}
}
