package e2e

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/png"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
)

// The seeds' portal walkthroughs (managed identities for developers; managed identity in
// Container Apps) in a real browser: Debian's Chromium driven by chromedp, headless. Elements
// are found the way a person finds them, by role and accessible name through the browser's
// accessibility tree (Accessibility.queryAXTree), never by CSS class or position; every wait is
// for a state, never a sleep. Each step's screenshot is saved to a directory the test prints and
// checked to be non-blank.

// act is one browser step.
type act = chromedp.Action[chromedp.Void]

// seq runs steps in order as one step.
func seq(steps ...act) act {
	return func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
		for _, s := range steps {
			if _, err := s(ctx, t); err != nil {
				return chromedp.Void{}, err
			}
		}
		return chromedp.Void{}, nil
	}
}

// into runs a that yields a value and stores it in out.
func into[T any](out *T, a chromedp.Action[T]) act {
	return func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
		v, err := a(ctx, t)
		if err == nil {
			*out = v
		}
		return chromedp.Void{}, err
	}
}

// el names an element for chromedp's messages and selects it by role and name.
func el(role, name string) (string, chromedp.QueryOption) {
	return role + " " + fmt.Sprintf("%q", name), byRole(role, name)
}

func click(role, name string) act {
	sel, by := el(role, name)
	return chromedp.Click(sel, by, chromedp.NodeVisible)
}

func fill(role, name, value string) act {
	sel, by := el(role, name)
	return seq(chromedp.Clear(sel, by), chromedp.SendKeys(sel, value, by))
}

func waitRole(role, name string) act {
	sel, by := el(role, name)
	return chromedp.WaitVisible(sel, by)
}

// waitText waits for a live region (role status or alert, whose accessible name is not taken from
// its content) showing exactly text.
func waitText(role, text string) act {
	return chromedp.WaitVisible(fmt.Sprintf(`//*[@role=%q and normalize-space()=%q]`, role, text))
}

func textOf(role, name string, out *string) act {
	sel, by := el(role, name)
	return into(out, chromedp.Text(sel, by, chromedp.NodeVisible))
}

// browserSession is one Chromium with a fresh profile.
type browserSession struct {
	t     *testing.T
	ctx   context.Context
	shots string
	step  int
}

func newPortalBrowser(t *testing.T, m *mint, shots string) *browserSession {
	t.Helper()
	startAxeInstall(t) // for the accessibility audits (a11y_test.go), beside Chromium's start
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(needChromium(t)),
		chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("no-proxy-server", true),
		chromedp.Flag("force-prefers-reduced-motion", true),
		trustMintCA(t),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 800),
	}
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(alloc)
	ctx, cancelTimeout := context.WithTimeout(ctx, 4*time.Minute)
	t.Cleanup(func() { cancelTimeout(); cancelCtx(); cancelAlloc() })
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start Chromium: %v", err)
	}
	return &browserSession{t: t, ctx: ctx, shots: shots}
}

// run runs actions, failing with the page's text when they do not complete.
func (b *browserSession) run(what string, actions ...act) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		var loc, body string
		chromedp.Do(b.ctx, into(&loc, chromedp.Location()), into(&body, chromedp.Text(chromedp.CSS("body"))))
		b.t.Fatalf("%s: %v\nat %s:\n%s", what, err, loc, body)
	}
}

// shot saves a full-page screenshot of the step and checks it is not blank.
func (b *browserSession) shot(name string) {
	b.t.Helper()
	var buf []byte
	b.run("screenshot "+name, into(&buf, chromedp.FullScreenshot(100)))
	b.step++
	path := filepath.Join(b.shots, fmt.Sprintf("%02d-%s.png", b.step, name))
	if err := os.WriteFile(path, buf, 0o644); err != nil {
		b.t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(buf))
	if err != nil {
		b.t.Fatalf("screenshot %s: %v", name, err)
	}
	if blank(img) {
		b.t.Fatalf("screenshot %s is blank", path)
	}
}

// blank reports whether every sampled pixel has the same colour.
func blank(img image.Image) bool {
	r := img.Bounds()
	r0, g0, b0, _ := img.At(r.Min.X, r.Min.Y).RGBA()
	for y := r.Min.Y; y < r.Max.Y; y += 4 {
		for x := r.Min.X; x < r.Max.X; x += 4 {
			if rr, g, bb, _ := img.At(x, y).RGBA(); rr != r0 || g != g0 || bb != b0 {
				return false
			}
		}
	}
	return true
}

// signIn goes from the portal's signed-out page through mint's sign-in page and back.
func (b *browserSession) signIn(base, login, password string) {
	b.t.Helper()
	b.run("open the portal", chromedp.Navigate(base+"/portal/"), waitRole("link", "Sign in"))
	b.shot("signed-out")
	b.audit("portal-signed-out")
	b.run("sign in", click("link", "Sign in"), waitRole("textbox", "Sign-in name"),
		fill("textbox", "Sign-in name", login), fill("textbox", "Password", password))
	b.shot("sts-sign-in")
	b.audit("sts-sign-in")
	b.run("submit the password", click("button", "Sign in"), waitRole("button", "Sign out"))
}

// continueSignIn finishes a sign-in that mint's STS may answer with its account picker (the
// person is still signed in there), its password page, or straight back to the portal.
func (b *browserSession) continueSignIn(login, password string) {
	b.t.Helper()
	b.run("sign-in continues", chromedp.WaitVisible(`//button[normalize-space()="Sign out"] | //button[contains(., `+fmt.Sprintf("%q", login)+`)] | //input[@type="password"]`))
	var picker, passwordPage bool
	b.run("which page", into(&picker, chromedp.Evaluate[bool](`document.title.startsWith("Pick an account")`)),
		into(&passwordPage, chromedp.Evaluate[bool](`document.querySelector("input[type=password]") !== null`)))
	switch {
	case picker:
		b.run("pick the account", chromedp.Click(`//button[contains(., `+fmt.Sprintf("%q", login)+`)]`), waitRole("button", "Sign out"))
	case passwordPage:
		b.run("password again", fill("textbox", "Sign-in name", login), fill("textbox", "Password", password), click("button", "Sign in"), waitRole("button", "Sign out"))
	}
}

// search uses the global search box and opens a result link.
func (b *browserSession) search(text, result string) {
	b.t.Helper()
	b.run("search "+text, fill("searchbox", "Search resources, services and docs", text), click("button", "Search"),
		waitRole("heading", "Resources"))
	b.audit("portal-search-results")
	b.run("open "+result, click("link", result))
}

func (b *browserSession) alertText() string {
	var s string
	b.run("read the alert", into(&s, chromedp.Text(`//*[@role="alert"]`, chromedp.NodeVisible)))
	return s
}

func TestPortalSeedsWalkthrough(t *testing.T) {
	for _, st := range stores(t) {
		t.Run(st.name, func(t *testing.T) { portalWalkthrough(t, st) })
	}
}

func portalWalkthrough(t *testing.T, st storeKind) {
	m := startMint(t, options{store: st.url(t)})
	dev := readDeveloper(t, m)
	shots := filepath.Join(os.TempDir(), fmt.Sprintf("mint-portal-screenshots-%s-%d", st.name, time.Now().UnixNano()))
	if err := os.MkdirAll(shots, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Logf("portal screenshots: %s", shots)

	// What the seeds start from: a group, a container app without identities, a vault with a secret.
	m.mustCLI("group", "create", "-n", "app", "-l", "eastus")
	var app struct{ ID string }
	mustJSON(t, m.mustCLI("resource", "create", "--type", "Microsoft.App/containerApps", "-g", "app", "-n", "web"), &app)
	var kv struct{ ID string }
	mustJSON(t, m.mustCLI("keyvault", "create", "-n", "kv1", "-g", "app"), &kv)
	m.mustCLI("role", "assignment", "create", "--assignee", m.Env["AZURE_CLIENT_ID"], "--role", "Key Vault Secrets Officer", "--scope", kv.ID)
	m.mustCLI("keyvault", "secret", "set", "--vault-name", "kv1", "-n", "db-password", "--value", readerSecret)

	b := newPortalBrowser(t, m, shots)
	b.signIn(m.URL, dev.UserPrincipalName, dev.Password)
	b.shot("home")
	b.audit("portal-home")

	// Managed Identities → Create: Basics, a hostile tag, Review + create, Create, Go to resource.
	// Review + create on the empty form first: the errors next to the fields and above them.
	b.search("Managed Identities", "Managed Identities")
	b.run("the Managed Identities list", waitRole("link", "+ Create"))
	b.audit("portal-identities")
	b.run("open Create", click("link", "+ Create"), waitRole("combobox", "Resource group (required)"),
		click("button", "Review + create"), waitRole("alert", "2 errors to fix"))
	b.shot("create-errors")
	b.audit("portal-create-errors")
	b.auditNarrow("portal-create-errors")
	b.run("basics", chromedp.SetValue("Resource group", "app", byRole("combobox", "Resource group (required)")),
		fill("textbox", "Name (required)", "web-id"), click("button", "Next: Tags >"), waitRole("textbox", "Tag name 1"))
	b.run("tags", fill("textbox", "Tag name 1", "note"), fill("textbox", "Tag value 1", `<script>window.pwned=1</script>`),
		click("button", "Review + create"), waitText("status", "Validation passed"))
	b.shot("review-create")
	b.audit("portal-create-review")
	b.run("create", click("button", "Create"), waitRole("heading", "Your deployment is complete"))
	b.shot("deployment-complete")
	b.audit("portal-deployment")
	var clientID, tagText string
	var pwned bool
	b.run("go to resource", click("link", "Go to resource"), waitRole("definition", "Client ID"),
		textOf("definition", "Client ID", &clientID), textOf("definition", "note", &tagText),
		into(&pwned, chromedp.Evaluate[bool](`window.pwned === 1`)))
	b.shot("identity-overview")
	b.audit("portal-overview")
	b.auditNarrow("portal-overview")
	clientID = strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(clientID), "Copy"))
	if len(clientID) != 36 {
		t.Fatalf("Client ID on the overview: %q", clientID)
	}
	if pwned || !strings.Contains(tagText, "<script>") {
		t.Fatalf("a hostile tag value ran or was not shown as text (pwned=%v, shown %q)", pwned, tagText)
	}

	// The app's Identity blade: System assigned On → Save → Yes; User assigned → Add → web-id → Add.
	b.search("web", "web")
	b.run("identity blade", click("link", "Identity"), waitRole("tab", "System assigned"), click("radio", "On"), click("button", "Save"),
		waitRole("alertdialog", "Enable system assigned managed identity"))
	b.shot("enable-system-confirm")
	b.audit("portal-confirm-dialog")
	b.run("yes", click("button", "Yes"), waitText("status", "The system assigned managed identity is on. It can now be granted access to resources."),
		waitRole("definition", "Object (principal) ID"))
	b.shot("system-assigned-on")
	b.audit("portal-identity-system")
	b.run("user assigned", click("tab", "User assigned"), click("link", "+ Add"), waitRole("region", "Add user assigned managed identity"))
	b.audit("portal-identity-user-add")
	b.run("add web-id", click("checkbox", "web-id"), click("button", "Add"), waitRole("checkbox", "Select web-id"))
	b.shot("user-assigned-added")

	// The vault's Access control (IAM) → Add role assignment: role search, View, Managed identity,
	// Select members, Review + assign twice.
	b.search("kv1", "kv1")
	b.run("IAM", click("link", "Access control (IAM)"), waitRole("tab", "Role assignments"))
	b.shot("vault-iam")
	b.audit("portal-iam")
	b.run("add role assignment", click("link", "+ Add role assignment"), fill("searchbox", "Search by role name or description", "Key Vault Secrets User"),
		click("button", "Search roles"), click("link", "View Key Vault Secrets User"), waitRole("heading", "Key Vault Secrets User: Permissions"))
	b.shot("role-permissions")
	b.audit("portal-addrole-role")
	b.run("members", click("radio", "Key Vault Secrets User"), click("button", "Next"), click("radio", "Managed identity"),
		click("button", "+ Select members"), waitRole("region", "Select managed identities"),
		waitRole("combobox", "Managed identity"))
	b.audit("portal-addrole-member-picker")
	b.run("select web-id", click("checkbox", "web-id"), click("button", "Select"), waitRole("rowheader", "web-id"))
	b.shot("members-selected")
	b.run("review", click("button", "Review + assign"), waitRole("tab", "Review + assign"), waitRole("rowheader", "web-id"))
	b.shot("review-assign")
	b.audit("portal-addrole-review")
	var grid string
	b.run("assign", click("button", "Review + assign"), waitText("status", "Added role assignment: Key Vault Secrets User. It is effective now; tokens issued before it are checked against it on their next use."),
		textOf("table", "Role assignments", &grid))
	b.shot("role-assigned")
	b.audit("portal-iam-assigned")
	b.auditNarrow("portal-iam-assigned")
	for _, want := range []string{"Key Vault Secrets User (1)", "web-id", "Managed identity", "This resource"} {
		if !strings.Contains(grid, want) {
			t.Errorf("the role assignments grid lacks %q:\n%s", want, grid)
		}
	}

	// The unmodified secret-reader, run as the app with the identity's client id, reads the secret.
	runEnv := m.printedEnv(t, "MINT_DATA_DIR")
	read := []string{"-vault", "kv1", "-secret", "db-password", "-managed-identity", "-client-id", clientID}
	stdout, stderr, code := runReaderAs(t, runEnv, app.ID, read...)
	if code != 0 || strings.TrimSpace(stdout) != readerSecret {
		t.Fatalf("secret-reader as the app with client id %s: exit %d, stdout %q, stderr:\n%s", clientID, code, stdout, stderr)
	}

	// Safety: a state-changing POST with the browser's session but without the form's token is
	// refused; a sign-in asked to return elsewhere lands on the portal.
	checkCSRF(t, b, m)
	b.run("a page that does not exist", chromedp.Navigate(m.URL+"/portal/no-such-page"), waitRole("heading", "Not found"))
	b.audit("portal-not-found")
	b.run("open redirect", chromedp.Navigate(m.URL+"/portal/signin?return="+url.QueryEscape("https://example.invalid/")))
	b.continueSignIn(dev.UserPrincipalName, dev.Password)
	var loc string
	b.run("where sign-in returned", waitRole("button", "Sign out"), into(&loc, chromedp.Location()))
	if !strings.HasPrefix(loc, m.URL+"/portal/") {
		t.Fatalf("sign-in returned to %s", loc)
	}

	// Seed 004: remove the user-assigned identity, turn the system identity off; the program is refused.
	b.search("web", "web")
	b.run("remove user assigned", click("link", "Identity"), click("tab", "User assigned"), click("checkbox", "Select web-id"), click("button", "Remove"),
		waitRole("alertdialog", "Remove user assigned managed identities"), click("button", "Yes"),
		waitText("status", "The user assigned managed identity was removed."))
	b.run("system off", click("tab", "System assigned"), click("radio", "Off"), click("button", "Save"),
		waitRole("alertdialog", "Disable system assigned managed identity"), click("button", "Yes"),
		waitText("status", "The system assigned managed identity is off. Its service principal was deleted."))
	b.shot("identities-removed")
	if stdout, stderr, code := runReaderAs(t, runEnv, app.ID, read...); code == 0 {
		t.Fatalf("secret-reader still reads after the identity was removed: %q %s", stdout, stderr)
	}
	b.run("sign out", click("button", "Sign out"), waitRole("link", "Sign in"))

	// A second person with Reader only sees everything and is refused with the API's message.
	const readerPassword = "Reader-portal-pw-1!"
	var reader struct{ ID string }
	mustJSON(t, m.mustCLI("ad", "user", "create", "--display-name", "Rita Reader", "--user-principal-name", "rita@"+strings.SplitN(dev.UserPrincipalName, "@", 2)[1],
		"--password", readerPassword), &reader)
	m.mustCLI("role", "assignment", "create", "--assignee-object-id", reader.ID, "--assignee-principal-type", "User", "--role", "Reader", "--scope", "/subscriptions/"+m.Env["AZURE_SUBSCRIPTION_ID"])
	r := newPortalBrowser(t, m, shots)
	r.signIn(m.URL, "rita@"+strings.SplitN(dev.UserPrincipalName, "@", 2)[1], readerPassword)
	r.search("Managed Identities", "Managed Identities")
	r.run("reader create", waitRole("rowheader", "web-id"), click("link", "+ Create"),
		chromedp.SetValue("Resource group", "app", byRole("combobox", "Resource group (required)")),
		fill("textbox", "Name (required)", "not-allowed"), click("button", "Review + create"), waitText("status", "Validation passed"), click("button", "Create"),
		waitRole("heading", "You do not have permission"))
	r.shot("reader-refused-create")
	r.audit("portal-refused")
	wantRefusal(t, r.alertText(), "AuthorizationFailed", "Microsoft.ManagedIdentity/userAssignedIdentities/write")
	r.search("web", "web")
	r.run("reader save", click("link", "Identity"), click("radio", "On"), click("button", "Save"), click("button", "Yes"),
		waitRole("heading", "You do not have permission"))
	r.shot("reader-refused-save")
	wantRefusal(t, r.alertText(), "AuthorizationFailed", "Microsoft.App/containerApps/write")
	r.search("kv1", "kv1")
	r.run("reader assign", click("link", "Access control (IAM)"), click("link", "+ Add role assignment"),
		fill("searchbox", "Search by role name or description", "Key Vault Secrets User"), click("button", "Search roles"),
		click("radio", "Key Vault Secrets User"), click("button", "Next"), click("radio", "Managed identity"), click("button", "+ Select members"),
		click("checkbox", "web-id"), click("button", "Select"), click("button", "Review + assign"), waitRole("tab", "Review + assign"),
		click("button", "Review + assign"), waitRole("heading", "You do not have permission"))
	r.shot("reader-refused-assign")
	wantRefusal(t, r.alertText(), "AuthorizationFailed", "Microsoft.Authorization/roleAssignments/write")
}

func wantRefusal(t *testing.T, alert string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(alert, w) {
			t.Errorf("the refusal lacks %q:\n%s", w, alert)
		}
	}
	if !strings.Contains(alert, "mint:") {
		t.Errorf("the refusal lacks mint's explanation of what would fix it:\n%s", alert)
	}
}

// checkCSRF posts a state-changing form with the browser's own session cookie but a forged
// token, as a cross-site page could, and expects the portal to refuse and change nothing.
func checkCSRF(t *testing.T, b *browserSession, m *mint) {
	t.Helper()
	var cookies []*network.Cookie
	b.run("cookies", func(ctx context.Context, tg *chromedp.Target) (chromedp.Void, error) {
		res, err := cdp.Call(ctx, tg, network.GetCookies, network.GetCookiesParams{URLs: []string{m.URL + "/portal/"}})
		cookies = res.Cookies
		return chromedp.Void{}, err
	})
	var session string
	for _, c := range cookies {
		if c.Name == "__Host-mint-portal" {
			session = c.Value
			if !c.HTTPOnly || !c.Secure || c.SameSite != network.CookieSameSiteLax {
				t.Errorf("session cookie is not HttpOnly, Secure, SameSite=Lax: %+v", c)
			}
		}
	}
	if session == "" {
		t.Fatal("the browser holds no portal session cookie")
	}
	form := url.Values{"csrf": {"forged"}, "subscription": {m.Env["AZURE_SUBSCRIPTION_ID"]}, "resourceGroup": {"app"}, "region": {"eastus"},
		"name": {"csrf-made"}, "action": {"create"}}
	req, _ := http.NewRequest(http.MethodPost, m.URL+"/portal/identities/create", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.AddCookie(&http.Cookie{Name: "__Host-mint-portal", Value: session})
	res, err := httpClient().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusForbidden || !strings.Contains(string(body), "InvalidCsrfToken") {
		t.Fatalf("forged CSRF token: %d %s", res.StatusCode, body)
	}
	// A browser's cross-site POST is refused before the token is even looked at.
	req, _ = http.NewRequest(http.MethodPost, m.URL+"/portal/identities/create", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	req.AddCookie(&http.Cookie{Name: "__Host-mint-portal", Value: session})
	if res, err = httpClient().Do(req); err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusForbidden {
		t.Fatalf("cross-site POST: %d", res.StatusCode)
	}
	if out, _ := m.cli("identity", "show", "-g", "app", "-n", "csrf-made"); strings.Contains(out, "csrf-made") {
		t.Fatalf("a forged form created an identity: %s", out)
	}
}
