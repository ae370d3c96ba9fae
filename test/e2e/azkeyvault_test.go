package e2e

import (
	"strings"
	"testing"
)

// TestAzureCLIDeletedVaults: az 2.45's control-plane soft delete of vaults through mint's proxy:
// `az keyvault delete`, `list-deleted`, `show-deleted`, name reuse refused with Key Vault's
// ConflictError, `recover` (the vault and its secret back), `delete` again and `purge`, then the
// name is free; and Python's KeyVaultManagementClient (list_deleted, get_deleted,
// check_name_availability) on the deleted vault.
func TestAzureCLIDeletedVaults(t *testing.T) {
	az := needAz(t)
	m := startMint(t, options{})
	tenant, adminID := m.Env["AZURE_TENANT_ID"], m.Env["AZURE_CLIENT_ID"]
	admin := append(m.printedEnv(t, "HTTPS_PROXY", "HTTP_PROXY", "NO_PROXY", "REQUESTS_CA_BUNDLE", "SSL_CERT_FILE"), azConfigDir(t))
	mustAz(t, admin, az, nil, "login", "--service-principal", "-u", adminID, "-p", m.Env["AZURE_CLIENT_SECRET"], "--tenant", tenant, "-o", "none")
	mustAz(t, admin, az, nil, "group", "create", "-n", "app", "-l", "westeurope", "-o", "none")
	mustAz(t, admin, az, nil, "group", "create", "-n", "other", "-l", "westeurope", "-o", "none")
	var vault struct{ ID string }
	mustAz(t, admin, az, &vault, "keyvault", "create", "-g", "app", "-n", "kv-soft", "-l", "westeurope", "-o", "json")
	m.mustCLI("role", "assignment", "create", "--assignee", adminID, "--role", "Key Vault Secrets Officer", "--scope", "/subscriptions/"+m.Env["AZURE_SUBSCRIPTION_ID"])
	m.mustCLI("keyvault", "secret", "set", "--vault-name", "kv-soft", "-n", "kept", "--value", "still here")

	mustAz(t, admin, az, nil, "keyvault", "delete", "-n", "kv-soft", "-g", "app")
	var deleted []struct {
		Name       string
		Properties struct{ VaultID, Location, ScheduledPurgeDate string }
	}
	mustAz(t, admin, az, &deleted, "keyvault", "list-deleted", "-o", "json")
	if len(deleted) != 1 || deleted[0].Name != "kv-soft" || !strings.EqualFold(deleted[0].Properties.VaultID, vault.ID) || deleted[0].Properties.ScheduledPurgeDate == "" {
		t.Fatalf("az keyvault list-deleted: %+v", deleted)
	}
	var shown struct{ Name, Type string }
	mustAz(t, admin, az, &shown, "keyvault", "show-deleted", "-n", "kv-soft", "-l", "westeurope", "-o", "json")
	if shown.Name != "kv-soft" || shown.Type != "Microsoft.KeyVault/deletedVaults" {
		t.Errorf("az keyvault show-deleted: %+v", shown)
	}
	// Python's KeyVaultManagementClient (Debian's python3-azure) sees the same.
	py := runPython(t, m.printedEnv(t, "HTTPS_PROXY", "HTTP_PROXY", "NO_PROXY", "REQUESTS_CA_BUNDLE",
		"AZURE_TENANT_ID", "AZURE_CLIENT_ID", "AZURE_CLIENT_SECRET", "AZURE_SUBSCRIPTION_ID"), "pyclient/deletedvaults.py", "kv-soft", "westeurope")
	var pd struct {
		Deleted       []string
		VaultID       string
		NameAvailable bool
		Reason        string
	}
	mustJSON(t, py, &pd)
	if len(pd.Deleted) != 1 || pd.Deleted[0] != "kv-soft" || !strings.EqualFold(pd.VaultID, vault.ID) || pd.NameAvailable || !strings.Contains(pd.Reason, "AlreadyExists") {
		t.Errorf("Python list_deleted/get_deleted/check_name_availability: %+v", pd)
	}
	if r := runAz(t, admin, az, "keyvault", "create", "-g", "other", "-n", "kv-soft", "-l", "westeurope"); r.code == 0 ||
		!strings.Contains(r.stderr, "already exists in deleted state") {
		t.Errorf("az keyvault create over a deleted vault: exit %d\n%s", r.code, r.stderr)
	}

	mustAz(t, admin, az, nil, "keyvault", "recover", "-n", "kv-soft", "-o", "none")
	mustAz(t, admin, az, &vault, "keyvault", "show", "-n", "kv-soft", "-g", "app", "-o", "json")
	var kept map[string]any
	mustJSON(t, waitFor(t, func() (string, bool) {
		out, err := m.cli("keyvault", "secret", "show", "--vault-name", "kv-soft", "-n", "kept")
		return out, err == nil
	}), &kept)
	if kept["value"] != "still here" {
		t.Fatalf("the recovered vault's secret: %v", kept)
	}

	mustAz(t, admin, az, nil, "keyvault", "delete", "-n", "kv-soft", "-g", "app")
	mustAz(t, admin, az, nil, "keyvault", "purge", "-n", "kv-soft", "-l", "westeurope")
	mustAz(t, admin, az, &deleted, "keyvault", "list-deleted", "-o", "json")
	if len(deleted) != 0 {
		t.Errorf("az keyvault list-deleted after purge: %+v", deleted)
	}
	mustAz(t, admin, az, nil, "keyvault", "create", "-g", "other", "-n", "kv-soft", "-l", "westeurope", "-o", "none")
}
