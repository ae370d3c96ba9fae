package portal_test

import (
	"context"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/mint-id/mint/internal/authz"
	"github.com/mint-id/mint/internal/directory"
	"github.com/mint-id/mint/internal/portal"
	"github.com/mint-id/mint/internal/rbac"
	"github.com/mint-id/mint/internal/server"
)

// These tests drive the portal's pages over HTTP against a real, in-process mint (the same ARM,
// Graph and vault handlers), signed in with a token source of the test's own: client credentials
// of an application. The portal's shipped sign-in (authorization code + PKCE at mint's STS) is
// exercised end to end by the browser test in test/e2e.

type env struct {
	t      *testing.T
	srv    *server.Server
	in     directory.Installation
	admin  *clientCredentials
	portal http.Handler
}

// clientCredentials is a portal.Tokens that signs in as an application (tests only).
type clientCredentials struct {
	h                        http.Handler
	base, tenant, id, secret string
	mu                       sync.Mutex
	cache                    map[string]string // by scope, as the portal's own token source caches
}

func (c *clientCredentials) Token(ctx context.Context, scope string) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if tok, ok := c.cache[scope]; ok {
		return tok, nil
	}
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {c.id}, "client_secret": {c.secret}, "scope": {scope}}
	req := httptest.NewRequestWithContext(ctx, http.MethodPost, c.base+"/"+c.tenant+"/oauth2/v2.0/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	rec := httptest.NewRecorder()
	c.h.ServeHTTP(rec, req)
	var tr struct {
		AccessToken string `json:"access_token"`
	}
	if rec.Code != 200 || json.Unmarshal(rec.Body.Bytes(), &tr) != nil {
		return "", fmt.Errorf("token: %d %s", rec.Code, rec.Body.String())
	}
	if c.cache == nil {
		c.cache = map[string]string{}
	}
	c.cache[scope] = tr.AccessToken
	return tr.AccessToken, nil
}

func newEnv(t *testing.T) *env {
	t.Helper()
	ctx := context.Background()
	s, err := server.New(ctx, server.Config{DataDir: t.TempDir(), Addr: "127.0.0.1:0", CreateKEK: true,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Store.Close() })
	in, secret, err := s.AdminSecret(ctx)
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, srv: s, in: in, portal: s.Portal}
	e.admin = &clientCredentials{h: s.Handler(), base: s.BaseURL, tenant: in.Tenant.ID, id: in.Admin.AppID, secret: secret}
	return e
}

// reader creates an application with Reader on the subscription and returns its token source.
func (e *env) reader() *clientCredentials {
	e.t.Helper()
	ctx := context.Background()
	sp, err := e.srv.Directory.CreateApplication(ctx, e.in.Tenant.ID, directory.ApplicationSpec{DisplayName: "reader"})
	if err != nil {
		e.t.Fatal(err)
	}
	pc, err := e.srv.Directory.AddPassword(ctx, sp.ObjectID, "t", 0)
	if err != nil {
		e.t.Fatal(err)
	}
	if err := authz.EnsureRole(ctx, e.srv.Store, sp.ObjectID, rbac.ReaderRoleID, "/subscriptions/"+e.in.Subscription.ID, "test reader"); err != nil {
		e.t.Fatal(err)
	}
	return &clientCredentials{h: e.srv.Handler(), base: e.srv.BaseURL, tenant: e.in.Tenant.ID, id: sp.AppID, secret: pc.SecretText}
}

// browser is a signed-in session against the portal handler.
type browser struct {
	e      *env
	cookie string
	csrf   string
}

func (e *env) signIn(name string, t portal.Tokens) *browser {
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodGet, "/portal/", nil)
	s := e.srv.Portal.StartSession(rec, req, portal.User{ObjectID: "test", Name: name}, t)
	return &browser{e: e, cookie: rec.Result().Cookies()[0].Value, csrf: s.CSRF}
}

func (b *browser) do(method, target string, form url.Values) (int, string, http.Header) {
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req := httptest.NewRequest(method, target, body)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if b.cookie != "" {
		req.AddCookie(&http.Cookie{Name: "__Host-mint-portal", Value: b.cookie})
	}
	rec := httptest.NewRecorder()
	b.e.portal.ServeHTTP(rec, req)
	return rec.Code, rec.Body.String(), rec.Header()
}

func (b *browser) get(target string) (int, string) {
	code, body, _ := b.do(http.MethodGet, target, nil)
	return code, body
}

func (b *browser) post(target string, form url.Values) (int, string, http.Header) {
	if form.Get("csrf") == "" {
		form.Set("csrf", b.csrf)
	}
	return b.do(http.MethodPost, target, form)
}

func mustContain(t *testing.T, body string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(body, w) {
			t.Fatalf("page lacks %q:\n%s", w, body)
		}
	}
}

func TestSignedOutPageAndSecurityHeaders(t *testing.T) {
	e := newEnv(t)
	b := &browser{e: e}
	code, body, h := b.do(http.MethodGet, "/portal/identities", nil)
	if code != 200 {
		t.Fatalf("status %d", code)
	}
	mustContain(t, body, "Sign in to the mint portal", `href="/portal/signin?return=%2fportal%2fidentities"`)
	csp := h.Get("Content-Security-Policy")
	for _, want := range []string{"frame-ancestors 'none'", "script-src 'self'", "default-src 'none'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("CSP %q lacks %q", csp, want)
		}
	}
	if strings.Contains(csp, "unsafe-inline") {
		t.Errorf("CSP allows inline code: %q", csp)
	}
	// A POST without a session changes nothing.
	code, _, _ = b.do(http.MethodPost, "/portal/identities/create", url.Values{"action": {"create"}, "name": {"x"}})
	if code != http.StatusUnauthorized {
		t.Fatalf("POST without session: %d", code)
	}
	// The sign-in redirect goes to mint's own authorize endpoint with PKCE, and a hostile return
	// address is not kept.
	code, _, h = b.do(http.MethodGet, "/portal/signin?return=https://evil.example/", nil)
	if code != http.StatusFound {
		t.Fatalf("signin: %d", code)
	}
	loc, _ := url.Parse(h.Get("Location"))
	if !strings.HasPrefix(h.Get("Location"), e.srv.BaseURL+"/"+e.in.Tenant.ID+"/oauth2/v2.0/authorize?") {
		t.Fatalf("signin redirects to %s", loc)
	}
	q := loc.Query()
	if q.Get("code_challenge_method") != "S256" || q.Get("code_challenge") == "" || q.Get("redirect_uri") != e.srv.BaseURL+"/portal/signin-oidc" || q.Get("state") == "" {
		t.Fatalf("authorize query %v", q)
	}
	// A callback with a state the portal never issued is refused.
	code, body, _ = b.do(http.MethodGet, "/portal/signin-oidc?code=x&state=forged", nil)
	if code != http.StatusBadRequest || !strings.Contains(body, "InvalidState") {
		t.Fatalf("forged callback: %d %s", code, body)
	}
}

var csrfRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

func TestCreateIdentityWalkthrough(t *testing.T) {
	e := newEnv(t)
	b := e.signIn("Admin", e.admin)
	sub := e.in.Subscription.ID
	// Search finds the service.
	_, body := b.get("/portal/search?q=managed")
	mustContain(t, body, `<a href="/portal/identities">Managed Identities</a>`)

	code, body := b.get("/portal/identities/create")
	if code != 200 {
		t.Fatalf("create page %d", code)
	}
	mustContain(t, body, "Create User Assigned Managed Identity", `<label for="name">Name (required)</label>`)
	if m := csrfRE.FindStringSubmatch(body); m == nil || m[1] != b.csrf {
		t.Fatalf("form carries no CSRF token of the session")
	}

	// A bad name is refused on the server with the API's message, next to the field and on top.
	form := url.Values{"subscription": {sub}, "newResourceGroup": {"app"}, "region": {"westeurope"}, "name": {"-bad"}, "action": {"review"}}
	code, body, _ = b.post("/portal/identities/create", form)
	mustContain(t, body, "A user assigned identity name must be 3 to 128 characters long", `aria-invalid="true" aria-describedby="name-error"`, "Basics, 1 error", `href="#name"`)

	// A forged CSRF token changes nothing.
	form = url.Values{"subscription": {sub}, "newResourceGroup": {"app"}, "region": {"westeurope"}, "name": {"web-id"}, "action": {"create"}, "csrf": {"forged"}}
	code, body, _ = b.post("/portal/identities/create", form)
	if code != http.StatusForbidden || !strings.Contains(body, "InvalidCsrfToken") {
		t.Fatalf("forged CSRF: %d", code)
	}

	// Review + create, then Create; a hostile tag value is kept and shown as text.
	form = url.Values{"subscription": {sub}, "newResourceGroup": {"app"}, "region": {"westeurope"}, "name": {"web-id"},
		"tagName": {"owner"}, "tagValue": {"<script>alert(1)</script>"}, "action": {"review"}}
	_, body, _ = b.post("/portal/identities/create", form)
	mustContain(t, body, "Validation passed", ">Create</button>")
	form.Set("action", "create")
	code, _, h := b.post("/portal/identities/create", form)
	if code != http.StatusSeeOther || !strings.HasPrefix(h.Get("Location"), "/portal/deployment?") {
		t.Fatalf("create: %d %s", code, h.Get("Location"))
	}
	_, body = b.get(h.Get("Location"))
	mustContain(t, body, "Your deployment is complete", "Go to resource")
	id := "/subscriptions/" + sub + "/resourceGroups/app/providers/Microsoft.ManagedIdentity/userAssignedIdentities/web-id"
	_, body = b.get("/portal/resource" + id)
	mustContain(t, body, "Client ID", "Object (principal) ID", "&lt;script&gt;alert(1)&lt;/script&gt;")
	if strings.Contains(body, "<script>alert(1)") {
		t.Fatal("a tag value was rendered as markup")
	}
	_, body = b.get("/portal/identities?subscription=" + sub)
	mustContain(t, body, ">web-id</a>")
}

// armPut creates a resource with the admin's token through the real ARM handler.
func (e *env) armPut(path, apiVersion string, body any) map[string]any {
	e.t.Helper()
	tok, err := e.admin.Token(context.Background(), portal.ScopeARM)
	if err != nil {
		e.t.Fatal(err)
	}
	raw, _ := json.Marshal(body)
	req := httptest.NewRequest(http.MethodPut, e.srv.BaseURL+path+"?api-version="+apiVersion, strings.NewReader(string(raw)))
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	e.srv.Handler().ServeHTTP(rec, req)
	if rec.Code >= 300 {
		e.t.Fatalf("PUT %s: %d %s", path, rec.Code, rec.Body.String())
	}
	var out map[string]any
	json.Unmarshal(rec.Body.Bytes(), &out)
	return out
}

func TestIdentityBladeAndRoleAssignmentWizard(t *testing.T) {
	e := newEnv(t)
	b := e.signIn("Admin", e.admin)
	sub := e.in.Subscription.ID
	rg := "/subscriptions/" + sub + "/resourceGroups/app"
	e.armPut(rg, "2022-12-01", map[string]any{"location": "westeurope"})
	mi := e.armPut(rg+"/providers/Microsoft.ManagedIdentity/userAssignedIdentities/web-id", "2024-11-30", map[string]any{"location": "westeurope"})
	miID := mi["id"].(string)
	miPrincipal := mi["properties"].(map[string]any)["principalId"].(string)
	app := rg + "/providers/Microsoft.App/containerApps/web"
	e.armPut(app, "2024-03-01", map[string]any{"location": "westeurope", "properties": map[string]any{}})
	vaultID := rg + "/providers/Microsoft.KeyVault/vaults/kv1"
	e.armPut(vaultID, "2024-11-01", map[string]any{"location": "westeurope", "properties": map[string]any{
		"tenantId": e.in.Tenant.ID, "sku": map[string]any{"family": "A", "name": "standard"}, "enableRbacAuthorization": true}})

	// System assigned: On → Save asks first, Yes saves.
	_, body, _ := b.post("/portal/resource"+app, url.Values{"view": {"identity"}, "tab": {"system"}, "action": {"save"}, "status": {"on"}})
	mustContain(t, body, `role="alertdialog"`, "Enable system assigned managed identity", ">Yes</button>")
	code, _, h := b.post("/portal/resource"+app, url.Values{"view": {"identity"}, "tab": {"system"}, "action": {"save"}, "status": {"on"}, "confirm": {"yes"}})
	if code != http.StatusSeeOther {
		t.Fatalf("save: %d", code)
	}
	_, body = b.get(h.Get("Location"))
	mustContain(t, body, "The system assigned managed identity is on", "Object (principal) ID")

	// User assigned: the Add pane lists web-id; Add attaches it.
	_, body = b.get("/portal/resource" + app + "?view=identity&tab=user&pane=add")
	mustContain(t, body, "Add user assigned managed identity", ">web-id</label>")
	code, _, h = b.post("/portal/resource"+app, url.Values{"view": {"identity"}, "tab": {"user"}, "action": {"add"}, "identity": {miID}})
	if code != http.StatusSeeOther {
		t.Fatalf("add: %d", code)
	}
	_, body = b.get(h.Get("Location"))
	mustContain(t, body, "Select web-id")

	// Add role assignment: Key Vault Secrets User for web-id on the vault.
	_, body = b.get("/portal/resource" + vaultID + "?view=addrole&search=Key+Vault+Secrets")
	mustContain(t, body, ">Key Vault Secrets User</label>")
	_, body = b.get("/portal/resource" + vaultID + "?view=addrole&step=select&assign=mi&role=4633458b-17de-408a-b874-0445c86b69e6&mitype=userAssigned")
	mustContain(t, body, "Select managed identities", ">web-id</label>")
	member := "ServicePrincipal:" + miPrincipal
	_, body = b.get("/portal/resource" + vaultID + "?view=addrole&step=review&assign=mi&role=4633458b-17de-408a-b874-0445c86b69e6&member=" + url.QueryEscape(member))
	mustContain(t, body, "Key Vault Secrets User", ">web-id</th>", "Review + assign")
	code, _, h = b.post("/portal/resource"+vaultID, url.Values{"view": {"addrole"}, "step": {"review"}, "action": {"assign"}, "assign": {"mi"},
		"role": {"4633458b-17de-408a-b874-0445c86b69e6"}, "member": {member}})
	if code != http.StatusSeeOther {
		t.Fatalf("assign: %d", code)
	}
	_, body = b.get(h.Get("Location"))
	mustContain(t, body, "Added role assignment", "Key Vault Secrets User (1)", "web-id", "This resource")

	// The identity's own "Azure role assignments" lists it; the Roles tab shows the role's permissions.
	_, body = b.get("/portal/resource" + miID + "?view=roles")
	mustContain(t, body, "Key Vault Secrets User", "/providers/Microsoft.KeyVault/vaults/kv1")
	_, body = b.get("/portal/resource" + vaultID + "?view=iam&tab=roles&role=4633458b-17de-408a-b874-0445c86b69e6")
	mustContain(t, body, "Key Vault Secrets User: Permissions", "Microsoft.KeyVault/vaults/secrets/getSecret/action")

	// Check access explains it.
	_, body = b.get("/portal/resource" + vaultID + "?view=iam&tab=check&principal=" + miPrincipal + "&action=Microsoft.KeyVault%2Fvaults%2Fsecrets%2FgetSecret%2Faction&data=on")
	mustContain(t, body, "<h2 id=\"result-title\">Allowed</h2>", "Key Vault Secrets User")

	// Secrets: the admin (Owner, no data role) sees Azure's RBAC banner.
	_, body = b.get("/portal/resource" + vaultID + "?view=secrets")
	mustContain(t, body, "The operation is not allowed by RBAC", "ForbiddenByRbac")
}

func TestReaderIsRefusedWithTheAPIMessage(t *testing.T) {
	e := newEnv(t)
	sub := e.in.Subscription.ID
	rg := "/subscriptions/" + sub + "/resourceGroups/app"
	e.armPut(rg, "2022-12-01", map[string]any{"location": "westeurope"})
	app := rg + "/providers/Microsoft.App/containerApps/web"
	e.armPut(app, "2024-03-01", map[string]any{"location": "westeurope", "properties": map[string]any{}})
	b := e.signIn("Reader", e.reader())

	// Reader sees the group and the app.
	_, body := b.get("/portal/resource" + rg)
	mustContain(t, body, ">web</a>")
	// Create: refused by ARM, message shown.
	form := url.Values{"subscription": {sub}, "resourceGroup": {"app"}, "region": {"westeurope"}, "name": {"nope"}, "action": {"create"}}
	code, body, _ := b.post("/portal/identities/create", form)
	if code != http.StatusForbidden {
		t.Fatalf("reader create: %d", code)
	}
	mustContain(t, body, "AuthorizationFailed", "Microsoft.ManagedIdentity/userAssignedIdentities/write")
	// Identity blade Save: refused.
	code, body, _ = b.post("/portal/resource"+app, url.Values{"view": {"identity"}, "tab": {"system"}, "action": {"save"}, "status": {"on"}, "confirm": {"yes"}})
	if code != http.StatusForbidden {
		t.Fatalf("reader save: %d", code)
	}
	mustContain(t, body, "AuthorizationFailed", "Microsoft.App/containerApps/write")
	// Review + assign: refused.
	code, body, _ = b.post("/portal/resource"+app, url.Values{"view": {"addrole"}, "step": {"review"}, "action": {"assign"}, "assign": {"mi"},
		"role": {"acdd72a7-3385-48ef-bd42-f606fba81ae7"}, "member": {"ServicePrincipal:" + e.in.Admin.ObjectID}})
	if code != http.StatusForbidden {
		t.Fatalf("reader assign: %d %s", code, html.UnescapeString(body))
	}
	mustContain(t, body, "AuthorizationFailed", "Microsoft.Authorization/roleAssignments/write")
}

func TestSignOutEndsTheSession(t *testing.T) {
	e := newEnv(t)
	b := e.signIn("Admin", e.admin)
	if _, body := b.get("/portal/"); !strings.Contains(body, "Sign out") {
		t.Fatal("not signed in")
	}
	// Sign-out needs the session's token (a cross-site form cannot sign someone out).
	if code, _, _ := b.post("/portal/signout", url.Values{"csrf": {"forged"}}); code != http.StatusForbidden {
		t.Fatalf("forged sign-out: %d", code)
	}
	if code, _, _ := b.post("/portal/signout", url.Values{}); code != 200 {
		t.Fatalf("sign-out: %d", code)
	}
	if _, body := b.get("/portal/"); !strings.Contains(body, "Sign in to the mint portal") {
		t.Fatal("the old session cookie still works after sign-out")
	}
	// A tampered cookie is no session.
	b2 := e.signIn("Admin", e.admin)
	b2.cookie += "x"
	if _, body := b2.get("/portal/"); !strings.Contains(body, "Sign in to the mint portal") {
		t.Fatal("a tampered cookie was accepted")
	}
}

// TestIAMIsPaged: a scope with more assignments than a page shows the first page, grouped by role,
// with a link to the next one (ARM's own skiptoken), and the next page renders too.
func TestIAMIsPaged(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	sub := "/subscriptions/" + e.in.Subscription.ID
	for i := range 250 {
		if err := authz.EnsureRole(ctx, e.srv.Store, fmt.Sprintf("00000000-0000-0000-0000-%012d", i), rbac.ReaderRoleID, sub, "paging"); err != nil {
			t.Fatal(err)
		}
	}
	b := e.signIn("Admin", e.admin)
	code, body := b.get("/portal/resource" + sub + "?view=iam")
	if code != 200 {
		t.Fatalf("IAM: %d", code)
	}
	mustContain(t, body, "100 role assignments on this page.", ">Next page</a>", "Identity not found")
	next := regexp.MustCompile(`<a href="([^"]+)">Next page</a>`).FindStringSubmatch(body)[1]
	code, body = b.get(html.UnescapeString(next))
	if code != 200 {
		t.Fatalf("IAM page 2: %d", code)
	}
	mustContain(t, body, "100 role assignments on this page.", "Reader (100)")
}

// TestMemberPickerSearchesGraph: the Add role assignment Members pane finds what is typed with
// Graph's $search (ConsistencyLevel: eventual), by words of the name, however many principals
// the directory holds, and nothing that merely contains the letters.
func TestMemberPickerSearchesGraph(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	for i := range 120 {
		if _, err := e.srv.Directory.CreateApplication(ctx, e.in.Tenant.ID, directory.ApplicationSpec{DisplayName: fmt.Sprintf("filler-%03d", i)}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := e.srv.Directory.CreateApplication(ctx, e.in.Tenant.ID, directory.ApplicationSpec{DisplayName: "PayrollReporter"}); err != nil {
		t.Fatal(err)
	}
	b := e.signIn("Admin", e.admin)
	vault := "/subscriptions/" + e.in.Subscription.ID
	pane := func(filter string) string {
		code, body := b.get("/portal/resource" + vault + "?" + url.Values{"view": {"addrole"}, "step": {"select"}, "assign": {"user"},
			"role": {"4633458b-17de-408a-b874-0445c86b69e6"}, "filter": {filter}}.Encode())
		if code != 200 {
			t.Fatalf("pane %q: %d\n%s", filter, code, body)
		}
		return body
	}
	mustContain(t, pane("reporter"), ">PayrollReporter</label>")
	body := pane("filler 119")
	mustContain(t, body, ">filler-119</label>")
	if strings.Contains(body, "filler-118") || strings.Contains(body, "PayrollReporter") {
		t.Errorf("the pane for \"filler 119\" lists others:\n%s", body)
	}
	if body := pane("ayroll"); strings.Contains(body, "PayrollReporter") {
		t.Errorf("a search by words found a name by its middle letters")
	}
}
