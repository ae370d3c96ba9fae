package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/authorization/armauthorization/v2"
	"github.com/chromedp/cdproto/accessibility"
	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/dom"
	"github.com/chromedp/chromedp"
	"github.com/google/uuid"
)

// The portal's logs and what mint shows beyond Azure, in a real browser: the Sign-in logs page
// with its chart shows a managed identity's token request made by the unmodified secret-reader
// (Go SDK) under `mint run`, and a failed sign-in; the Activity log shows a role assignment the
// Go SDK created and its JSON; a Reader-only person is refused the sign-in log with Graph's
// message; a vault's "Who can read secrets" names the group path; hostile display names render
// as text.

// byRolePrefix selects the first element of role whose accessible name starts with prefix (for
// names that end in a time stamp).
func byRolePrefix(role, prefix string) chromedp.QueryOption {
	return chromedp.ByFunc(func(ctx context.Context, t *chromedp.Target, n *chromedp.Node) ([]cdp.NodeID, error) {
		res, err := cdp.Call(ctx, t, accessibility.QueryAXTree, accessibility.QueryAXTreeParams{NodeID: n.NodeID, Role: role})
		if err != nil {
			return nil, err
		}
		for _, x := range res.Nodes {
			if x.Ignored || x.BackendDOMNodeID == 0 || x.Name == nil {
				continue
			}
			if name := strings.Trim(string(x.Name.Value), `"`); strings.HasPrefix(name, prefix) {
				pushed, err := cdp.Call(ctx, t, dom.PushNodesByBackendIDsToFrontend, dom.PushNodesByBackendIDsToFrontendParams{BackendNodeIDs: []cdp.BackendNodeID{x.BackendDOMNodeID}})
				return pushed.NodeIDs, err
			}
		}
		return nil, nil
	})
}

// devNodeName is the display name of mint dev's own node agent (the token broker behind mint run).
func devNodeName(t *testing.T, m *mint) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(m.dataDir, "dev-node.json"))
	if err != nil {
		t.Fatal(err)
	}
	var dn struct {
		Identity struct{ ObjectID string } `json:"identity"`
	}
	mustJSON(t, string(data), &dn)
	var sp struct{ DisplayName string }
	mustJSON(t, m.mustCLI("ad", "sp", "show", "--id", dn.Identity.ObjectID), &sp)
	if sp.DisplayName == "" {
		t.Fatalf("mint dev's node %s has no display name", dn.Identity.ObjectID)
	}
	return sp.DisplayName
}

func TestPortalLogsAndReach(t *testing.T) {
	for _, st := range stores(t) {
		t.Run(st.name, func(t *testing.T) { portalLogsAndReach(t, st) })
	}
}

func portalLogsAndReach(t *testing.T, st storeKind) {
	m := startMint(t, options{store: st.url(t)})
	dev := readDeveloper(t, m)
	domain := strings.SplitN(dev.UserPrincipalName, "@", 2)[1]
	shots := filepath.Join(os.TempDir(), fmt.Sprintf("mint-portal-logs-screenshots-%s-%d", st.name, time.Now().UnixNano()))
	if err := os.MkdirAll(shots, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Logf("portal screenshots: %s", shots)

	// The scenario: a container app using web-id, a vault with a secret.
	sc := seedScenario(t, m)
	var kv struct{ ID string }
	mustJSON(t, m.mustCLI("keyvault", "create", "-n", "kv1", "-g", "app"), &kv)
	m.mustCLI("role", "assignment", "create", "--assignee", m.Env["AZURE_CLIENT_ID"], "--role", "Key Vault Secrets Officer", "--scope", kv.ID)
	m.mustCLI("keyvault", "secret", "set", "--vault-name", "kv1", "-n", "db-password", "--value", readerSecret)

	// Hostile names: a person and an application whose display names are markup.
	const hostileUser = `<img src=x onerror="window.pwned=1">Mallory`
	const hostileApp = `<script>window.pwned=1</script>evil-app`
	var mallory struct{ ID string }
	mustJSON(t, m.mustCLI("ad", "user", "create", "--display-name", hostileUser, "--user-principal-name", "mallory@"+domain, "--password", "Mallory-portal-pw-1!"), &mallory)
	evil := m.newRBACApp(t, hostileApp)

	// Groups: Vault readers ⊃ Inner team ⊃ Mallory.
	var outer, inner struct{ ID string }
	mustJSON(t, m.mustCLI("ad", "group", "create", "--display-name", "Vault readers", "--mail-nickname", "vault-readers"), &outer)
	mustJSON(t, m.mustCLI("ad", "group", "create", "--display-name", "Inner team", "--mail-nickname", "inner-team"), &inner)
	m.mustCLI("ad", "group", "member", "add", "--group", outer.ID, "--member-id", inner.ID)
	m.mustCLI("ad", "group", "member", "add", "--group", inner.ID, "--member-id", mallory.ID)

	// Role assignments made by the Go SDK: Key Vault Secrets User for the group and for web-id.
	sub := m.Env["AZURE_SUBSCRIPTION_ID"]
	admin := m.rbacClients(t, m.adminCredential(t))
	secretsUser := roleDefID(sub, "4633458b-17de-408a-b874-0445c86b69e6")
	assign := func(principal string, typ armauthorization.PrincipalType) string {
		ra, err := admin.ras.Create(rbacCtx(t), kv.ID, uuid.NewString(), armauthorization.RoleAssignmentCreateParameters{Properties: &armauthorization.RoleAssignmentProperties{
			RoleDefinitionID: to.Ptr(secretsUser), PrincipalID: to.Ptr(principal), PrincipalType: to.Ptr(typ)}}, nil)
		if err != nil {
			t.Fatalf("Go SDK role assignment for %s: %v", principal, err)
		}
		return *ra.ID
	}
	assign(outer.ID, armauthorization.PrincipalTypeGroup)
	lastAssignment := assign(sc.uaPrincipal, armauthorization.PrincipalTypeServicePrincipal)

	// A managed identity's token request by a real SDK client: secret-reader under mint run.
	runEnv := m.printedEnv(t, "MINT_DATA_DIR")
	stdout, stderr, code := runReaderAs(t, runEnv, sc.appID, "-vault", "kv1", "-secret", "db-password", "-managed-identity", "-client-id", sc.uaClientID)
	if code != 0 || strings.TrimSpace(stdout) != readerSecret {
		t.Fatalf("secret-reader as the app: exit %d, stdout %q, stderr:\n%s", code, stdout, stderr)
	}
	// A failed sign-in: the hostile app presents a wrong secret through the Go SDK.
	wrong := m.secretCredential(t, evil.appID, "not-the-secret")
	if _, err := wrong.GetToken(rbacCtx(t), policy.TokenRequestOptions{Scopes: []string{"https://management.azure.com/.default"}}); err == nil {
		t.Fatal("a wrong client secret got a token")
	}

	b := newPortalBrowser(t, m, shots)
	b.signIn(m.URL, dev.UserPrincipalName, dev.Password)

	// Sign-in logs: the managed identity tab shows secret-reader's token request and the chart.
	var miTable, chartTable string
	b.run("sign-in logs", click("link", "Sign-in logs"), waitRole("image", "Sign-ins over time: successes and failures"),
		click("tab", "Managed identity sign-ins"), waitRole("image", "Sign-ins over time: successes and failures"),
		textOf("table", "Sign-ins", &miTable), textOf("table", "Sign-ins per interval", &chartTable))
	b.shot("signin-logs-managed-identity")
	b.audit("portal-signin-logs")
	for _, want := range []string{"web-id", sc.uaPrincipal, "https://vault.azure.net", sc.appID, "Success"} {
		if !strings.Contains(strings.ToLower(miTable), strings.ToLower(want)) {
			t.Errorf("the managed identity sign-ins lack %q:\n%s", want, miTable)
		}
	}
	if strings.Contains(miTable, "evil-app") {
		t.Errorf("the managed identity tab shows an application's sign-in:\n%s", miTable)
	}
	if !strings.Contains(chartTable, "UTC") {
		t.Errorf("the chart's table has no intervals:\n%s", chartTable)
	}

	// Failures on the service principal tab: the hostile app's refused secret, its name as text.
	var spTable string
	var pwned bool
	b.run("failures", click("tab", "Service principal sign-ins"), waitRole("combobox", "Status"),
		chromedp.SetValue("Status", "failure", byRole("combobox", "Status")), click("button", "Apply filters"),
		waitRole("image", "Sign-ins over time: successes and failures"), textOf("table", "Sign-ins", &spTable),
		into(&pwned, chromedp.Evaluate[bool](`window.pwned === 1`)))
	b.shot("signin-logs-failure")
	for _, want := range []string{hostileApp, "Failure", "7000215"} {
		if !strings.Contains(spTable, want) {
			t.Errorf("the failed sign-ins lack %q:\n%s", want, spTable)
		}
	}
	if strings.Contains(spTable, "Success") {
		t.Errorf("the failure filter shows a success:\n%s", spTable)
	}

	// The identity's tokens (beyond Azure): the last token and the unexpired one for the app.
	var tokens string
	b.search("web-id", "web-id")
	b.run("tokens", click("link", "Tokens (mint)"), waitRole("table", "Unexpired tokens (1)"), textOf("table", "Unexpired tokens (1)", &tokens))
	b.shot("identity-tokens")
	b.audit("portal-tokens")
	for _, want := range []string{sc.appID, "https://vault.azure.net", devNodeName(t, m)} {
		if !strings.Contains(strings.ToLower(tokens), strings.ToLower(want)) {
			t.Errorf("the unexpired tokens lack %q:\n%s", want, tokens)
		}
	}

	// The vault's Activity log: the Go SDK's role assignment and its JSON.
	var activity, eventJSON string
	b.search("kv1", "kv1")
	b.run("activity log", click("link", "Activity log"), waitRole("table", "Activity log"), textOf("table", "Activity log", &activity))
	b.shot("vault-activity-log")
	b.audit("portal-activity-log")
	if !strings.Contains(activity, "Create role assignment") || !strings.Contains(activity, "Succeeded") {
		t.Errorf("the vault's activity log lacks the role assignment:\n%s", activity)
	}
	b.run("event JSON", chromedp.Click("JSON of the newest role assignment", byRolePrefix("link", "JSON of Create role assignment at "), chromedp.NodeVisible),
		waitRole("region", "Event JSON"), textOf("region", "Event JSON", &eventJSON))
	b.shot("activity-event-json")
	b.audit("portal-activity-event")
	var ev struct {
		ResourceID    string `json:"resourceId"`
		OperationName struct{ Value string }
		Status        struct{ Value string }
		Caller        string
	}
	mustJSON(t, eventJSON, &ev)
	if !strings.EqualFold(ev.ResourceID, lastAssignment) || ev.OperationName.Value != "Microsoft.Authorization/roleAssignments/write" || ev.Status.Value != "Succeeded" {
		t.Errorf("the event's JSON is not the Go SDK's role assignment %s: %+v", lastAssignment, ev)
	}

	// Who can read the vault's secrets (beyond Azure): Mallory through the nested groups.
	var reach string
	b.search("kv1", "kv1")
	b.run("reach", click("link", "Who can read secrets (mint)"), waitRole("table", "Who can read secrets"), textOf("table", "Who can read secrets", &reach),
		into(&pwned, chromedp.Evaluate[bool](`window.pwned === 1`)))
	b.shot("vault-reach")
	b.audit("portal-reach")
	for _, want := range []string{hostileUser, `group "Vault readers" (` + outer.ID + `) ⊃ "Inner team" (` + inner.ID + `)`, "web-id", "Key Vault Secrets User", "Direct assignment"} {
		if !strings.Contains(reach, want) {
			t.Errorf("who can read secrets lacks %q:\n%s", want, reach)
		}
	}
	if pwned {
		t.Fatal("a hostile display name ran as script")
	}
	b.run("sign out", click("button", "Sign out"), waitRole("link", "Sign in"))

	// A person with Reader only is refused the sign-in log with Graph's message and the fix.
	const readerPassword = "Reader-portal-pw-1!"
	var reader struct{ ID string }
	mustJSON(t, m.mustCLI("ad", "user", "create", "--display-name", "Rita Reader", "--user-principal-name", "rita@"+domain, "--password", readerPassword), &reader)
	m.mustCLI("role", "assignment", "create", "--assignee-object-id", reader.ID, "--assignee-principal-type", "User", "--role", "Reader", "--scope", "/subscriptions/"+sub)
	r := newPortalBrowser(t, m, shots)
	r.signIn(m.URL, "rita@"+domain, readerPassword)
	r.run("reader sign-in logs", click("link", "Sign-in logs"), waitRole("heading", "You do not have permission"))
	r.shot("reader-refused-signin-logs")
	alert := r.alertText()
	for _, want := range []string{"Authentication_RequestFromUnsupportedUserRole", "User is not in the allowed roles", "mint:", "AuditLog.Read.All"} {
		if !strings.Contains(alert, want) {
			t.Errorf("the refusal lacks %q:\n%s", want, alert)
		}
	}
	// The Activity log is the subscription's, which Reader may read.
	var readerActivity string
	r.run("reader activity log", click("link", "Activity log"), waitRole("table", "Activity log"), textOf("table", "Activity log", &readerActivity))
	if !strings.Contains(readerActivity, "Create role assignment") {
		t.Errorf("Reader does not see the activity log:\n%s", readerActivity)
	}
}
