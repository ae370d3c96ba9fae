package arm

import (
	"strings"
	"testing"
)

func TestDeletedVaults(t *testing.T) {
	e := newTestEnv(t)
	e.group("app", "other")
	path := e.vaultPath("app", "kv-soft")
	create := map[string]any{"location": "westeurope", "tags": map[string]string{"env": "dev"}}
	e.must(201, "PUT", path, kvVersion, create)
	check := func(name string) response {
		return e.must(200, "POST", e.subScope()+"/providers/Microsoft.KeyVault/checkNameAvailability", kvVersion,
			map[string]string{"name": name, "type": "Microsoft.KeyVault/vaults"})
	}
	if r := check("kv-soft"); lookup(r.body, "nameAvailable") != false || r.str("reason") != "AlreadyExists" {
		t.Errorf("taken name: %s", r.raw)
	}
	if r := check("kv-free"); lookup(r.body, "nameAvailable") != true {
		t.Errorf("free name: %s", r.raw)
	}
	if r := check("-bad"); lookup(r.body, "nameAvailable") != false || r.str("reason") != "AccountNameInvalid" {
		t.Errorf("invalid name: %s", r.raw)
	}
	if r := e.as("POST", e.subScope()+"/providers/Microsoft.KeyVault/checkNameAvailability", kvVersion, map[string]string{"name": "x", "type": "Microsoft.Storage/storageAccounts"}); r.status != 400 {
		t.Errorf("other type: %d %s", r.status, r.raw)
	}

	e.must(200, "DELETE", path, kvVersion, nil)
	list := e.must(200, "GET", e.subScope()+"/providers/Microsoft.KeyVault/deletedVaults", kvVersion, nil).list()
	if len(list) != 1 || list[0]["name"] != "kv-soft" || lookup(list[0], "properties.vaultId") != path || lookup(list[0], "properties.location") != "westeurope" {
		t.Fatalf("deleted vaults: %v", list)
	}
	dpath := e.subScope() + "/providers/Microsoft.KeyVault/locations/westeurope/deletedVaults/kv-soft"
	d := e.must(200, "GET", dpath, kvVersion, nil)
	if d.str("id") != dpath || d.str("properties.tags.env") != "dev" || d.str("properties.scheduledPurgeDate") == "" {
		t.Errorf("deleted vault: %s", d.raw)
	}
	e.must(404, "GET", e.subScope()+"/providers/Microsoft.KeyVault/locations/eastus/deletedVaults/kv-soft", kvVersion, nil)
	if r := check("kv-soft"); lookup(r.body, "nameAvailable") != false {
		t.Errorf("a deleted vault's name: %s", r.raw)
	}

	// The name cannot be taken, in this group or another, until purged or recovered.
	for _, p := range []string{path, e.vaultPath("other", "kv-soft")} {
		if r := e.as("PUT", p, kvVersion, create); r.status != 409 || r.code() != "ConflictError" || !strings.Contains(r.message(), "already exists in deleted state") {
			t.Errorf("PUT %s over a deleted vault: %d %s", p, r.status, r.raw)
		}
	}
	recover := map[string]any{"location": "westeurope", "properties": map[string]any{"createMode": "recover", "tenantId": e.tenant, "sku": map[string]string{"family": "A", "name": "standard"}}}
	if r := e.as("PUT", e.vaultPath("other", "kv-soft"), kvVersion, recover); r.status != 400 {
		t.Errorf("recover elsewhere: %d %s", r.status, r.raw)
	}
	rec := e.must(200, "PUT", path, kvVersion, recover)
	if rec.str("id") != path || rec.str("tags.env") != "dev" {
		t.Errorf("recovered: %s", rec.raw)
	}
	e.must(200, "GET", path, kvVersion, nil)
	e.must(404, "GET", dpath, kvVersion, nil)
	if r := e.as("PUT", e.vaultPath("app", "kv-none"), kvVersion, recover); r.status != 400 {
		t.Errorf("recover a vault never deleted: %d %s", r.status, r.raw)
	}

	// Purged: the name is free.
	e.must(200, "DELETE", path, kvVersion, nil)
	e.must(200, "POST", dpath+"/purge", kvVersion, nil)
	e.must(404, "POST", dpath+"/purge", kvVersion, nil)
	if n := len(e.must(200, "GET", e.subScope()+"/providers/Microsoft.KeyVault/deletedVaults", kvVersion, nil).list()); n != 0 {
		t.Errorf("%d deleted vaults after the purge", n)
	}
	e.must(201, "PUT", path, kvVersion, create)
}
