package e2e

import (
	"path"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// A vault's secret versions and the IAM blade's Roles filters and Deny assignments tab, in the
// browser: versions listed current first, an older version's value shown on request, that
// version disabled through the data plane (the vault then refuses to read it, and the
// unmodified CLI sees it disabled); the Roles tab filtered by type and category; ARM's deny
// assignments (none can exist in mint).
func TestPortalSecretVersionsAndRoles(t *testing.T) {
	for _, st := range stores(t) {
		t.Run(st.name, func(t *testing.T) { portalSecretVersions(t, st) })
	}
}

func portalSecretVersions(t *testing.T, st storeKind) {
	m := startMint(t, options{store: st.url(t)})
	dev := readDeveloper(t, m)
	shots := portalShots(t, "vault-"+st.name)
	m.mustCLI("group", "create", "-n", "app", "-l", "eastus")
	var kv struct{ ID string }
	mustJSON(t, m.mustCLI("keyvault", "create", "-n", "kv1", "-g", "app"), &kv)
	m.mustCLI("role", "assignment", "create", "--assignee-object-id", dev.ObjectID, "--assignee-principal-type", "User",
		"--role", "Key Vault Secrets Officer", "--scope", kv.ID)
	m.mustCLI("role", "assignment", "create", "--assignee", m.Env["AZURE_CLIENT_ID"], "--role", "Key Vault Secrets Officer", "--scope", kv.ID)
	m.mustCLI("keyvault", "secret", "set", "--vault-name", "kv1", "-n", "db-password", "--value", "first-value")
	m.mustCLI("keyvault", "secret", "set", "--vault-name", "kv1", "-n", "db-password", "--value", "second-value")

	b := newPortalBrowser(t, m, shots)
	b.signIn(m.URL, dev.UserPrincipalName, dev.Password)
	b.search("kv1", "kv1")
	var grid string
	b.run("versions", click("link", "Secrets"), click("link", "db-password"), waitRole("table", "Versions of db-password"),
		textOf("table", "Versions of db-password", &grid))
	if !strings.Contains(grid, "CURRENT VERSION") || !strings.Contains(grid, "OLDER VERSIONS") || strings.Count(grid, "Show Secret Value") != 2 ||
		strings.Contains(grid, "first-value") {
		t.Fatalf("the versions grid:\n%s", grid)
	}
	// The older version: its value on request, then disabled.
	// Which version is the older one, from the CLI: the one that is not the current.
	var current struct{ ID string }
	mustJSON(t, m.mustCLI("keyvault", "secret", "show", "--vault-name", "kv1", "-n", "db-password"), &current)
	var versions []struct{ ID string }
	mustJSON(t, m.mustCLI("keyvault", "secret", "list-versions", "--vault-name", "kv1", "-n", "db-password"), &versions)
	var older string
	for _, v := range versions {
		if v.ID != current.ID {
			older = path.Base(v.ID)
		}
	}
	if len(versions) != 2 || older == "" {
		t.Fatalf("versions %+v, current %s", versions, current.ID)
	}
	b.run("show the older value", click("link", "Show Secret Value of version "+older), waitRole("button", "Copy secret value to clipboard"),
		textOf("table", "Versions of db-password", &grid))
	b.shot("secret-version-value")
	b.audit("portal-secret-versions")
	if !strings.Contains(grid, "first-value") || strings.Contains(grid, "second-value") {
		t.Fatalf("the older version's value is not what was shown:\n%s", grid)
	}
	b.run("disable it", click("button", "Disable version "+older), waitText("status", "The version "+older+" was disabled."),
		waitRole("button", "Enable version "+older))
	b.shot("secret-version-disabled")
	out := m.mustCLI("keyvault", "secret", "list-versions", "--vault-name", "kv1", "-n", "db-password")
	if !strings.Contains(out, older) || !strings.Contains(out, `"enabled": false`) {
		t.Fatalf("mint keyvault secret list-versions after the portal disabled %s:\n%s", older, out)
	}
	b.run("a disabled version is not read", click("link", "Show Secret Value of version "+older), waitRole("heading", "You do not have permission"))
	if a := b.alertText(); !strings.Contains(a, "disabled") {
		t.Fatalf("reading a disabled version: %s", a)
	}

	// IAM: Roles filtered by type and category; Deny assignments from ARM.
	b.run("roles", click("link", "Access control (IAM)"), click("tab", "Roles"), waitRole("combobox", "Type"),
		chromedp.SetValue("Type", "BuiltInRole", byRole("combobox", "Type")), chromedp.SetValue("Category", "Security", byRole("combobox", "Category")),
		click("button", "Search roles"), waitRole("rowheader", "Key Vault Secrets User"), textOf("table", "Roles", &grid))
	b.shot("roles-filtered")
	b.audit("portal-iam-roles")
	if strings.Contains(grid, "Owner") || !strings.Contains(grid, "BuiltInRole") {
		t.Fatalf("the Roles tab filtered to built-in Security roles:\n%s", grid)
	}
	b.run("deny assignments", click("tab", "Deny assignments"), waitText("status", "No deny assignments at this scope."))
	b.shot("deny-assignments")
}
