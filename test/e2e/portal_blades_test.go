package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/msi/armmsi"
	"github.com/chromedp/chromedp"
)

// The user-assigned identity's Federated credentials and Associated resources blades in the
// browser, checked against the Azure CLI (an unmodified client reading what the portal wrote).

func portalShots(t *testing.T, name string) string {
	t.Helper()
	dir := filepath.Join(os.TempDir(), fmt.Sprintf("mint-portal-%s-%d", name, time.Now().UnixNano()))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Logf("portal screenshots: %s", dir)
	return dir
}

func TestPortalFederatedCredentialsAndAssociatedResources(t *testing.T) {
	for _, st := range stores(t) {
		t.Run(st.name, func(t *testing.T) { portalFederatedCredentials(t, st) })
	}
}

func portalFederatedCredentials(t *testing.T, st storeKind) {
	m := startMint(t, options{store: st.url(t)})
	dev := readDeveloper(t, m)
	shots := portalShots(t, "fic-"+st.name)
	m.mustCLI("group", "create", "-n", "app", "-l", "eastus")
	m.mustCLI("identity", "create", "-g", "app", "-n", "ci-id")
	m.mustCLI("resource", "create", "--type", "Microsoft.App/containerApps", "-g", "app", "-n", "web")
	m.mustCLI("resource", "identity", "assign", "--type", "Microsoft.App/containerApps", "-g", "app", "-n", "web", "--identities", "ci-id")
	fics, err := armmsi.NewFederatedIdentityCredentialsClient(m.Env["AZURE_SUBSCRIPTION_ID"], m.adminCredential(t), m.rmOptions())
	if err != nil {
		t.Fatal(err)
	}
	// readFIC reads a credential the portal wrote with the Go SDK.
	readFIC := func(name string) (issuer, subject string) {
		got, err := fics.Get(rmCtx(t), "app", "ci-id", name, nil)
		if err != nil {
			t.Fatalf("armmsi Get %s: %v", name, err)
		}
		return *got.Properties.Issuer, *got.Properties.Subject
	}

	b := newPortalBrowser(t, m, shots)
	b.signIn(m.URL, dev.UserPrincipalName, dev.Password)
	b.search("ci-id", "ci-id")

	// GitHub Actions deploying Azure resources: organization, repository, entity Branch → subject.
	b.run("open Federated credentials", click("link", "Federated credentials"), waitRole("link", "+ Add Credential"),
		click("link", "+ Add Credential"), waitRole("combobox", "Federated credential scenario (required)"),
		chromedp.SetValue("Federated credential scenario (required)", "github", byRole("combobox", "Federated credential scenario (required)")),
		click("button", "Select scenario"), waitRole("textbox", "Organization (required)"))
	b.run("github scenario", fill("textbox", "Organization (required)", "contoso"), fill("textbox", "Repository (required)", "shop"),
		chromedp.SetValue("Entity (required)", "branch", byRole("combobox", "Entity (required)")),
		fill("textbox", "Based on selection: environment, branch or tag name", "main"), fill("textbox", "Name (required)", "gh-main"))
	b.shot("fic-github-form")
	b.audit("portal-fic-form")
	// With JavaScript the subject follows the fields as they are typed.
	var preview string
	b.run("subject preview", into(&preview, chromedp.Value("Subject identifier", byRole("textbox", "Subject identifier"))))
	if preview != "repo:contoso/shop:ref:refs/heads/main" {
		t.Errorf("the Subject identifier shows %q while the form is filled in", preview)
	}
	var grid string
	b.run("add", click("button", "Add"), waitText("status", "The federated credential 'gh-main' was added."),
		waitRole("rowheader", "gh-main"), textOf("table", "Federated credentials of ci-id", &grid))
	b.shot("fic-added")
	b.audit("portal-fic-list")
	for _, want := range []string{"https://token.actions.githubusercontent.com", "repo:contoso/shop:ref:refs/heads/main", "api://AzureADTokenExchange"} {
		if !strings.Contains(grid, want) {
			t.Errorf("the credentials grid lacks %q:\n%s", want, grid)
		}
	}
	// The Go SDK reads what the portal wrote.
	if iss, sub := readFIC("gh-main"); iss != "https://token.actions.githubusercontent.com" || sub != "repo:contoso/shop:ref:refs/heads/main" {
		t.Fatalf("gh-main: %s %s", iss, sub)
	}

	// Kubernetes accessing Azure resources: issuer URL, namespace, service account.
	b.run("kubernetes scenario", click("link", "+ Add Credential"),
		chromedp.SetValue("Federated credential scenario (required)", "kubernetes", byRole("combobox", "Federated credential scenario (required)")),
		click("button", "Select scenario"), fill("textbox", "Cluster issuer URL (required)", "https://oidc.cluster.example/abc"),
		fill("textbox", "Namespace (required)", "shop"), fill("textbox", "Service account name (required)", "web"),
		fill("textbox", "Name (required)", "aks-web"), click("button", "Add"),
		waitText("status", "The federated credential 'aks-web' was added."), waitRole("rowheader", "aks-web"))
	if iss, sub := readFIC("aks-web"); iss != "https://oidc.cluster.example/abc" || sub != "system:serviceaccount:shop:web" {
		t.Fatalf("aks-web: %s %s", iss, sub)
	}

	// Other issuer with a bad issuer: the API's message next to the field and on top.
	b.run("other issuer, bad", click("link", "+ Add Credential"),
		chromedp.SetValue("Federated credential scenario (required)", "other", byRole("combobox", "Federated credential scenario (required)")),
		click("button", "Select scenario"), fill("textbox", "Issuer (required)", "not-a-url"), fill("textbox", "Subject identifier", "job"),
		fill("textbox", "Name (required)", "bad-issuer"), click("button", "Add"), waitRole("heading", "The request did not succeed"))
	b.shot("fic-bad-issuer")
	b.audit("portal-fic-errors")
	if a := b.alertText(); !strings.Contains(a, "The issuer 'not-a-url' is invalid.") {
		t.Fatalf("bad issuer alert: %s", a)
	}
	var fieldErr bool
	b.run("field error", into(&fieldErr, chromedp.Evaluate[bool](`(() => { const i = document.getElementById("fic-issuer"); const d = document.getElementById(i.getAttribute("aria-describedby")); return i.getAttribute("aria-invalid") === "true" && d.textContent.includes("is invalid"); })()`)))
	if !fieldErr {
		t.Fatal("the issuer field does not carry the API's message (aria-invalid, aria-describedby)")
	}

	// Associated resources: the container app the identity is attached to.
	b.run("associated resources", click("link", "Associated resources"), waitRole("link", "web"),
		waitText("status", "1 resource associated with this identity."))
	b.shot("associated-resources")
	b.audit("portal-associated")

	// Delete asks first.
	b.run("delete", click("link", "Federated credentials"), click("button", "Delete aks-web"),
		waitRole("alertdialog", "Delete federated credential"), click("button", "Delete"),
		waitText("status", "The federated credential 'aks-web' was deleted."))
	b.run("sign out", click("button", "Sign out"), waitRole("link", "Sign in"))

	// A Reader-only person sees the credentials and is refused at Add with the API's message.
	const readerPassword = "Reader-fic-pw-1!"
	domain := strings.SplitN(dev.UserPrincipalName, "@", 2)[1]
	var reader struct{ ID string }
	mustJSON(t, m.mustCLI("ad", "user", "create", "--display-name", "Rita Reader", "--user-principal-name", "rita@"+domain, "--password", readerPassword), &reader)
	m.mustCLI("role", "assignment", "create", "--assignee-object-id", reader.ID, "--assignee-principal-type", "User", "--role", "Reader", "--scope", "/subscriptions/"+m.Env["AZURE_SUBSCRIPTION_ID"])
	r := newPortalBrowser(t, m, shots)
	r.signIn(m.URL, "rita@"+domain, readerPassword)
	r.search("ci-id", "ci-id")
	r.run("reader add", click("link", "Federated credentials"), waitRole("rowheader", "gh-main"), click("link", "+ Add Credential"),
		chromedp.SetValue("Federated credential scenario (required)", "other", byRole("combobox", "Federated credential scenario (required)")),
		click("button", "Select scenario"), fill("textbox", "Issuer (required)", "https://issuer.example.com"),
		fill("textbox", "Subject identifier", "job"), fill("textbox", "Name (required)", "reader-made"), click("button", "Add"),
		waitRole("heading", "You do not have permission"))
	r.shot("reader-refused-fic")
	wantRefusal(t, r.alertText(), "AuthorizationFailed", "Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials/write")
}
