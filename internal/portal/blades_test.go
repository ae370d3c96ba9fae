package portal_test

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/mint-id/mint/internal/authz"
	"github.com/mint-id/mint/internal/rbac"
)

// TestFederatedCredentialsBlade: the three scenarios build Entra's issuer and subject, the API's
// own messages land next to the field and on top, delete asks first, and a Reader is refused
// with the API's message.
func TestFederatedCredentialsBlade(t *testing.T) {
	e := newEnv(t)
	b := e.signIn("Admin", e.admin)
	rg := "/subscriptions/" + e.in.Subscription.ID + "/resourceGroups/app"
	e.armPut(rg, "2022-12-01", map[string]any{"location": "westeurope"})
	mi := rg + "/providers/Microsoft.ManagedIdentity/userAssignedIdentities/web-id"
	e.armPut(mi, "2024-11-30", map[string]any{"location": "westeurope"})
	page := "/portal/resource" + mi

	_, body := b.get(page + "?view=fic&add=1&scenario=github")
	mustContain(t, body, "Add Federated Credential", `value="https://token.actions.githubusercontent.com" readonly`, `<label for="fic-organization">Organization (required)</label>`)

	// Missing parts are named by the field.
	code, body, _ := b.post(page, url.Values{"view": {"fic"}, "action": {"add"}, "scenario": {"github"}, "entity": {"environment"}, "name": {"gh"}})
	if code != http.StatusBadRequest {
		t.Fatalf("missing fields: %d", code)
	}
	mustContain(t, body, "Organization is required.", "Repository is required.", "Environment name is required.", `href="#fic-organization"`)

	add := func(form url.Values) (int, string) {
		form.Set("view", "fic")
		form.Set("action", "add")
		code, body, h := b.post(page, form)
		if code == http.StatusSeeOther {
			_, body = b.get(h.Get("Location"))
		}
		return code, body
	}
	for _, tc := range []struct {
		form    url.Values
		subject string
	}{
		{url.Values{"scenario": {"github"}, "organization": {"contoso"}, "repository": {"app"}, "entity": {"environment"}, "entityValue": {"prod"}, "name": {"gh-env"}}, "repo:contoso/app:environment:prod"},
		{url.Values{"scenario": {"github"}, "organization": {"contoso"}, "repository": {"app"}, "entity": {"branch"}, "entityValue": {"main"}, "name": {"gh-branch"}}, "repo:contoso/app:ref:refs/heads/main"},
		{url.Values{"scenario": {"github"}, "organization": {"contoso"}, "repository": {"app"}, "entity": {"pull_request"}, "name": {"gh-pr"}}, "repo:contoso/app:pull_request"},
		{url.Values{"scenario": {"github"}, "organization": {"contoso"}, "repository": {"app"}, "entity": {"tag"}, "entityValue": {"v1"}, "name": {"gh-tag"}}, "repo:contoso/app:ref:refs/tags/v1"},
		{url.Values{"scenario": {"kubernetes"}, "clusterIssuer": {"https://oidc.example.com/cluster"}, "namespace": {"shop"}, "serviceAccount": {"web"}, "name": {"aks"}}, "system:serviceaccount:shop:web"},
		{url.Values{"scenario": {"other"}, "issuer": {"https://issuer.example.com"}, "subjectKind": {"subject"}, "subject": {"job:42"}, "name": {"other"}, "audience": {"api://custom"}}, "job:42"},
		{url.Values{"scenario": {"other"}, "issuer": {"https://issuer.example.com"}, "subjectKind": {"expression"}, "expression": {"claims['sub'] matches 'repo:contoso/*'"}, "name": {"flex"}}, "claims[&#39;sub&#39;] matches &#39;repo:contoso/*&#39;"},
	} {
		code, body := add(tc.form)
		if code != http.StatusSeeOther {
			t.Fatalf("add %s: %d\n%s", tc.form.Get("name"), code, body)
		}
		mustContain(t, body, "The federated credential &#39;"+tc.form.Get("name")+"&#39; was added.", ">"+tc.form.Get("name")+"</th>", tc.subject)
	}
	_, body = b.get(page + "?view=fic")
	mustContain(t, body, "api://AzureADTokenExchange", "api://custom")

	// The API's messages: a bad issuer next to the issuer, a duplicate issuer+subject next to the subject.
	code, body = add(url.Values{"scenario": {"other"}, "issuer": {"not a url"}, "subject": {"x"}, "name": {"bad-issuer"}})
	if code != http.StatusBadRequest {
		t.Fatalf("bad issuer: %d", code)
	}
	mustContain(t, body, `id="fic-issuer-error">The issuer &#39;not a url&#39; is invalid.`, `href="#fic-issuer"`, `role="alert"`)
	code, body = add(url.Values{"scenario": {"kubernetes"}, "clusterIssuer": {"https://oidc.example.com/cluster"}, "namespace": {"shop"}, "serviceAccount": {"web"}, "name": {"aks-again"}})
	if code != http.StatusBadRequest {
		t.Fatalf("duplicate: %d", code)
	}
	mustContain(t, body, `id="fic-subject-error">Issuer and subject combination already exists for this Managed Identity.`)
	code, body = add(url.Values{"scenario": {"other"}, "issuer": {"https://issuer.example.com"}, "subject": {"y"}, "name": {"bad name!"}})
	if code != http.StatusBadRequest {
		t.Fatalf("bad name: %d", code)
	}
	mustContain(t, body, `id="fic-name-error">Federated Identity Credential name &#39;bad name!&#39; is invalid.`)
	code, body = add(url.Values{"scenario": {"other"}, "issuer": {"https://issuer.example.com"}, "subjectKind": {"expression"}, "expression": {"claims['sub'] like 'x'"}, "name": {"bad-expr"}})
	if code != http.StatusBadRequest {
		t.Fatalf("bad expression: %d", code)
	}
	mustContain(t, body, `id="fic-expression-error">The claims matching expression`)

	// Delete asks first, then deletes.
	_, body, _ = b.post(page, url.Values{"view": {"fic"}, "action": {"delete"}, "name": {"gh-pr"}})
	mustContain(t, body, `role="alertdialog"`, "Delete federated credential", ">Delete</button>")
	code, _, h := b.post(page, url.Values{"view": {"fic"}, "action": {"delete"}, "name": {"gh-pr"}, "confirm": {"yes"}})
	if code != http.StatusSeeOther {
		t.Fatalf("delete: %d", code)
	}
	_, body = b.get(h.Get("Location"))
	mustContain(t, body, "The federated credential &#39;gh-pr&#39; was deleted.")
	if strings.Contains(body, ">gh-pr</th>") {
		t.Fatal("deleted credential still listed")
	}

	// A Reader sees the list and is refused at Add with the API's message.
	rd := e.signIn("Reader", e.reader())
	_, body = rd.get(page + "?view=fic")
	mustContain(t, body, ">gh-env</th>")
	code, body, _ = rd.post(page, url.Values{"view": {"fic"}, "action": {"add"}, "scenario": {"other"}, "issuer": {"https://issuer.example.com"}, "subject": {"r"}, "name": {"reader"}})
	if code != http.StatusForbidden {
		t.Fatalf("reader add: %d", code)
	}
	mustContain(t, body, "AuthorizationFailed", "Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials/write")
}

// TestAssociatedResourcesBlade: the identity's attachments from listAssociatedResources, with
// the filter and the sort going to the API.
func TestAssociatedResourcesBlade(t *testing.T) {
	e := newEnv(t)
	b := e.signIn("Admin", e.admin)
	rg := "/subscriptions/" + e.in.Subscription.ID + "/resourceGroups/app"
	e.armPut(rg, "2022-12-01", map[string]any{"location": "westeurope"})
	mi := e.armPut(rg+"/providers/Microsoft.ManagedIdentity/userAssignedIdentities/web-id", "2024-11-30", map[string]any{"location": "westeurope"})
	miID := mi["id"].(string)
	attach := map[string]any{"type": "UserAssigned", "userAssignedIdentities": map[string]any{miID: map[string]any{}}}
	e.armPut(rg+"/providers/Microsoft.App/containerApps/web", "2024-03-01", map[string]any{"location": "westeurope", "properties": map[string]any{}, "identity": attach})
	e.armPut(rg+"/providers/Microsoft.Web/sites/shop", "2023-12-01", map[string]any{"location": "westeurope", "properties": map[string]any{}, "identity": attach})
	page := "/portal/resource" + miID

	_, body := b.get(page + "?view=assoc")
	mustContain(t, body, "2 resources associated with this identity.", ">web</a>", ">shop</a>", `aria-sort="ascending"`)
	if strings.Index(body, ">shop</a>") > strings.Index(body, ">web</a>") {
		t.Fatal("not sorted by name")
	}
	_, body = b.get(page + "?view=assoc&sort=name&dir=desc")
	if strings.Index(body, ">shop</a>") < strings.Index(body, ">web</a>") {
		t.Fatal("not sorted by name, descending")
	}
	mustContain(t, body, `aria-sort="descending"`)
	_, body = b.get(page + "?view=assoc&filter=we")
	mustContain(t, body, "1 resource associated with this identity match the filter.", ">web</a>")
	_, body = b.get(page + "?view=assoc&type=microsoft.web%2Fsites")
	mustContain(t, body, ">shop</a>")
	if strings.Contains(body, ">web</a>") {
		t.Fatal("type filter ignored")
	}
}

// TestSecretVersions: a secret's page lists its versions (current first), shows one version's
// value on request, and disables a version through the data plane; the vault then refuses to
// read it with its own message.
func TestSecretVersions(t *testing.T) {
	e := newEnv(t)
	b := e.signIn("Admin", e.admin)
	rg := "/subscriptions/" + e.in.Subscription.ID + "/resourceGroups/app"
	e.armPut(rg, "2022-12-01", map[string]any{"location": "westeurope"})
	vaultID := rg + "/providers/Microsoft.KeyVault/vaults/kv1"
	e.armPut(vaultID, "2024-11-01", map[string]any{"location": "westeurope", "properties": map[string]any{
		"tenantId": e.in.Tenant.ID, "sku": map[string]any{"family": "A", "name": "standard"}, "enableRbacAuthorization": true}})
	if err := authz.EnsureRole(context.Background(), e.srv.Store, e.in.Admin.ObjectID, rbac.KeyVaultSecretsOfficerRoleID, vaultID, "test"); err != nil {
		t.Fatal(err)
	}
	page := "/portal/resource" + vaultID
	for _, v := range []string{"first-value", "second-value"} {
		if code, body, _ := b.post(page, url.Values{"view": {"secrets"}, "action": {"create"}, "name": {"db"}, "value": {v}}); code != http.StatusSeeOther {
			t.Fatalf("create %s: %d %s", v, code, body)
		}
	}
	_, body := b.get(page + "?view=secrets")
	mustContain(t, body, `?view=secrets&amp;secret=db">db</a>`)
	_, body = b.get(page + "?view=secrets&secret=db")
	mustContain(t, body, "Versions of db", "CURRENT VERSION", "OLDER VERSIONS")
	versions := regexp.MustCompile(`aria-label="Disable version ([0-9a-zA-Z]+)"`).FindAllStringSubmatch(body, -1)
	if len(versions) != 2 {
		t.Fatalf("versions: %v\n%s", versions, body)
	}
	older := versions[1][1]
	if strings.Contains(body, "first-value") {
		t.Fatal("a value is shown before it was asked for")
	}
	_, body = b.get(page + "?view=secrets&secret=db&version=" + older + "&show=1")
	mustContain(t, body, `<span id="secret-value-shown" class="value">first-value</span>`)

	code, _, h := b.post(page, url.Values{"view": {"secrets"}, "action": {"version"}, "secret": {"db"}, "version": {older}, "enabled": {"false"}})
	if code != http.StatusSeeOther {
		t.Fatalf("disable: %d", code)
	}
	_, body = b.get(h.Get("Location"))
	mustContain(t, body, "The version "+older+" was disabled.", `aria-label="Enable version `+older+`"`, "Disabled")
	code, body = b.get(page + "?view=secrets&secret=db&version=" + older + "&show=1")
	mustContain(t, body, "Forbidden", "disabled")
	if strings.Contains(body, "first-value") {
		t.Fatal("a disabled version's value was shown")
	}
	// A forged version id is refused by the portal, not sent.
	if code, _, _ := b.post(page, url.Values{"view": {"secrets"}, "action": {"version"}, "secret": {"db"}, "version": {"../x"}, "enabled": {"true"}}); code != http.StatusBadRequest {
		t.Fatalf("bad version: %d", code)
	}
}

// TestRolesFiltersAndDenyAssignments: the Roles tab filters by type (ARM's $filter) and
// category; the Deny assignments tab shows ARM's (empty) list.
func TestRolesFiltersAndDenyAssignments(t *testing.T) {
	e := newEnv(t)
	b := e.signIn("Admin", e.admin)
	sub := "/subscriptions/" + e.in.Subscription.ID
	e.armPut(sub+"/providers/Microsoft.Authorization/roleDefinitions/11111111-2222-3333-4444-555555555555", "2022-04-01", map[string]any{"properties": map[string]any{
		"roleName": "Vault Peeker", "description": "Reads vault metadata", "type": "CustomRole", "assignableScopes": []string{sub},
		"permissions": []map[string]any{{"actions": []string{"Microsoft.KeyVault/vaults/read"}}}}})
	_, body := b.get("/portal/resource" + sub + "?view=iam&tab=roles&type=CustomRole")
	mustContain(t, body, ">Vault Peeker</th>", "1 role</p>", "<td>CustomRole</td>")
	if strings.Contains(body, ">Owner</th>") {
		t.Fatal("the type filter kept a built-in role")
	}
	_, body = b.get("/portal/resource" + sub + "?view=iam&tab=roles&type=BuiltInRole&category=General")
	mustContain(t, body, ">Owner</th>", ">Reader</th>", `<option value="Security"`)
	if strings.Contains(body, ">Vault Peeker</th>") || strings.Contains(body, ">Key Vault Secrets User</th>") {
		t.Fatal("the category filter kept a role of another category")
	}
	_, body = b.get("/portal/resource" + sub + "?view=iam&tab=roles&category=Security&search=secrets")
	mustContain(t, body, ">Key Vault Secrets User</th>")
	_, body = b.get("/portal/resource" + sub + "?view=iam&tab=deny")
	mustContain(t, body, `id="tab-deny" href=`, `aria-selected="true" aria-controls="iam-panel">Deny assignments</a>`, "No deny assignments at this scope.")
}
