package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The Azure SDK for JavaScript, unmodified: test/e2e/jsclient is a small Node program using
// @azure/identity and @azure/keyvault-secrets (the versions pinned in its package.json and
// package-lock.json). The tests install it with `npm ci` into a temporary directory, once per
// test binary, so they work from a fresh clone; the npm registry is the only thing they reach
// beyond 127.0.0.1. Every run of the program preloads guard.mjs, which ends it before it
// connects anywhere else (the real IMDS address included).

// jsClientFiles are the committed files of test/e2e/jsclient (never its node_modules) that
// its install needs: guard.mjs is run from where it is committed (see jsGuard).
var jsClientFiles = []string{"package.json", "package-lock.json", "main.mjs", "blob.mjs"}

// jsGuard is the absolute path of test/e2e/jsclient/guard.mjs, which every Node program of the
// tests (jsclient's and armjsclient's) preloads with --import: it ends the program before it
// connects anywhere but 127.0.0.1. It imports only node:net, so one copy serves every project.
func jsGuard() string {
	p, _ := filepath.Abs(filepath.Join("jsclient", "guard.mjs"))
	return p
}

// needNode returns the paths of node and npm, or fails the test: this check is part of the
// suite and must not be skipped.
func needNode(t *testing.T) (node, npm string) {
	t.Helper()
	// 20.6: node --import (guard.mjs).
	const install = "install Node.js 20.6 or later (node and npm on PATH, https://nodejs.org/en/download): the Azure SDK for JavaScript tests run test/e2e/jsclient with it"
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatalf("node not found: %s", install)
	}
	if npm, err = exec.LookPath("npm"); err != nil {
		t.Fatalf("npm not found: %s", install)
	}
	out, err := exec.Command(node, "--version").Output()
	if err != nil {
		t.Fatalf("node --version: %v: %s", err, install)
	}
	version := strings.TrimSpace(string(out))
	parts := strings.SplitN(strings.TrimPrefix(version, "v"), ".", 3)
	major, err := strconv.Atoi(parts[0])
	minor := 0
	if err == nil && len(parts) > 1 {
		minor, err = strconv.Atoi(parts[1])
	}
	if err != nil || major < 20 || major == 20 && minor < 6 {
		t.Fatalf("node is %s: %s", version, install)
	}
	return node, npm
}

// npmProject is one locked npm project under test/e2e (its committed files, never its
// node_modules), installed with one `npm ci` per test binary: the first test that needs it
// starts it, the others reuse its directory (under TestMain's temporary directory, removed when
// the binary ends), or one per run of several test binaries that share MINT_E2E_SHARED_DIR.
type npmProject struct {
	name  string   // the directory under test/e2e
	files []string // the committed files to copy

	once   sync.Once
	done   chan struct{}
	dir    string
	err    error
	took   time.Duration
	reused bool // installed by another test process (installSharedNPMProject)
	out    bytes.Buffer
}

// jsInstall is test/e2e/jsclient (@azure/identity, @azure/keyvault-secrets).
var jsInstall = &npmProject{name: "jsclient", files: jsClientFiles}

// startJSClientInstall starts the install of test/e2e/jsclient (see startNPMInstall).
func startJSClientInstall(t *testing.T, npm string) func() string {
	t.Helper()
	return startNPMInstall(t, npm, jsInstall)
}

// startNPMInstall copies the project into TestMain's temporary directory and starts `npm ci`
// there (exactly the locked versions; npm's own cache makes repeated runs fast), once per test
// binary. The returned function waits for it and returns the directory holding the program and
// node_modules.
func startNPMInstall(t *testing.T, npm string, p *npmProject) func() string {
	t.Helper()
	p.once.Do(func() {
		p.done = make(chan struct{})
		p.dir = filepath.Join(filepath.Dir(mintBin), p.name)
		shared := os.Getenv("MINT_E2E_SHARED_DIR")
		if shared != "" {
			p.dir = filepath.Join(shared, "npm", p.name)
		}
		go func() {
			defer close(p.done)
			start := time.Now()
			if shared != "" {
				p.err = installSharedNPMProject(npm, p)
			} else {
				p.err = installNPMProject(npm, p, &p.out)
			}
			p.took = time.Since(start)
		}()
	})
	// Never leave npm running behind a test that ends early (it is bounded by its own timeout).
	t.Cleanup(func() { <-p.done })
	return func() string {
		t.Helper()
		<-p.done
		if p.err != nil {
			t.Fatalf("npm ci --no-audit --no-fund in a copy of test/e2e/%s (it needs the npm registry): %v\n%s", p.name, p.err, p.out.String())
		}
		if p.reused {
			t.Logf("test/e2e/%s: npm ci by another test process of this run (waited %v for it)", p.name, p.took.Round(time.Millisecond))
		} else {
			t.Logf("npm ci of test/e2e/%s took %v (once for all the tests that run it)", p.name, p.took.Round(time.Millisecond))
		}
		return p.dir
	}
}

// installSharedNPMProject installs p once for every test process of a run: scripts/go-test.sh
// runs the e2e tests as several go test processes at once and gives them one
// MINT_E2E_SHARED_DIR. The first process to take the project's lock file runs npm ci; the others
// wait for the lock and use its directory, which the tests only read. A failed install leaves
// no mark, so the next process tries again (and reports its own failure).
func installSharedNPMProject(npm string, p *npmProject) error {
	if err := os.MkdirAll(filepath.Dir(p.dir), 0o755); err != nil {
		return err
	}
	unlock, err := lockFile(p.dir + ".lock")
	if err != nil {
		return err
	}
	defer unlock()
	mark := filepath.Join(p.dir, ".installed")
	if _, err := os.Stat(mark); err == nil {
		p.reused = true
		return nil
	}
	if err := os.RemoveAll(p.dir); err != nil {
		return err
	}
	if err := installNPMProject(npm, p, &p.out); err != nil {
		return err
	}
	return os.WriteFile(mark, nil, 0o644)
}

// lockFile waits for an exclusive lock on the file name (made if missing), which the test
// processes of one run share; unlock releases it (as the process's end does).
func lockFile(name string) (unlock func(), err error) {
	f, err := os.OpenFile(name, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("lock %s: %w", name, err)
	}
	return func() { f.Close() }, nil
}

func installNPMProject(npm string, p *npmProject, out *bytes.Buffer) error {
	dir := p.dir
	if err := os.Mkdir(dir, 0o755); err != nil {
		return err
	}
	for _, f := range p.files {
		data, err := os.ReadFile(filepath.Join(p.name, f))
		if err != nil {
			return err
		}
		if f == "package-lock.json" {
			if err := checkLockResolved(data); err != nil {
				return fmt.Errorf("test/e2e/%s/%s: %w", p.name, f, err)
			}
		}
		if err := os.WriteFile(filepath.Join(dir, f), data, 0o644); err != nil {
			return err
		}
	}
	// Azurite's tree is the largest (450 packages): six minutes for a cold npm cache.
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, npm, "ci", "--no-audit", "--no-fund", "--ignore-scripts", "--loglevel", "error")
	cmd.Dir = dir
	// The user's environment (their HOME, npm configuration and cache, any network proxy they
	// need for the registry), without what this test process set for mint: its CA bundle as
	// SSL_CERT_FILE, and the AZURE_* / MINT_* variables.
	for _, kv := range cleanEnv() {
		if !strings.HasPrefix(kv, "SSL_CERT_FILE=") && !strings.HasPrefix(kv, "NODE_EXTRA_CA_CERTS=") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, "npm_config_update_notifier=false")
	cmd.Stdout, cmd.Stderr = out, out
	return cmd.Run()
}

// checkLockResolved makes sure every package of a lockfile names its tarball's URL ("resolved")
// beside its integrity. With both, npm ci takes each tarball straight from npm's cache; a lockfile
// without URLs (what npm writes with omit-lockfile-registry-resolved set) makes every npm ci fetch
// each package's registry document first to find the URL: for Azurite's 452 packages, 904
// requests and about twice the CPU (12 s more) on every install, cache or not. npm writes the URLs
// unless omit-lockfile-registry-resolved is set; scripts/npm-lock-resolved.sh adds them to a
// lockfile written without, changing no version.
func checkLockResolved(data []byte) error {
	var lock struct {
		Packages map[string]struct {
			Version, Resolved, Integrity string
			Link                         bool
		} `json:"packages"`
	}
	if err := json.Unmarshal(data, &lock); err != nil {
		return err
	}
	for path, pkg := range lock.Packages {
		if path != "" && !pkg.Link && (pkg.Resolved == "" || pkg.Integrity == "") {
			return fmt.Errorf("%s has no \"resolved\" URL or no integrity: run scripts/npm-lock-resolved.sh on it", path)
		}
	}
	return nil
}

// jsEvent is one JSON line main.mjs prints.
type jsEvent struct {
	Event      string         `json:"event"`
	Credential string         `json:"credential"`
	Scopes     []string       `json:"scopes"`
	Claims     map[string]any `json:"claims"`
	Name       string         `json:"name"`
	Value      string         `json:"value"`
	ID         string         `json:"id"`
	VaultURL   string         `json:"vaultUrl"`
	StatusCode int            `json:"statusCode"`
	Code       string         `json:"code"`
	InnerCode  string         `json:"innerCode"`
	Message    string         `json:"message"`
}

// jsRun is what one run of main.mjs printed.
type jsRun struct {
	tokens []jsEvent
	last   jsEvent // the secret, or the error
	stderr string
	code   int
}

// jsCommand is the command line that runs main.mjs with args, guard.mjs preloaded: the program
// is ended before it connects anywhere but 127.0.0.1 (see guard.mjs).
func jsCommand(node, dir string, args ...string) []string {
	return append([]string{node, "--import", jsGuard(), filepath.Join(dir, "main.mjs")}, args...)
}

// runJSClientAs runs main.mjs under `mint run --proxy --resource resource` with env (which
// names mint dev's data dir, MINT_DATA_DIR) and parses its output.
func runJSClientAs(t *testing.T, env []string, node, dir, resource string, args ...string) jsRun {
	t.Helper()
	full := append([]string{"run", "--proxy", "--resource", resource, "--"}, jsCommand(node, dir, args...)...)
	return runJS(t, env, mintBin, full, args)
}

// runJSClient runs main.mjs with exactly env and parses its output.
func runJSClient(t *testing.T, env []string, node, dir string, args ...string) jsRun {
	t.Helper()
	return runJS(t, env, node, jsCommand(node, dir, args...)[1:], args)
}

func runJS(t *testing.T, env []string, prog string, full, args []string) jsRun {
	t.Helper()
	return runClient(t, "node main.mjs "+strings.Join(args, " "), "guard.mjs", 60*time.Second, env, prog, full)
}

// runClient runs one of the client programs (what names it and its arguments in messages) as
// prog full... with exactly env, bounded by timeout, and parses what it printed; guard names
// the safety net that ends it before it connects beyond 127.0.0.1.
func runClient(t *testing.T, what, guard string, timeout time.Duration, env []string, prog string, full []string) jsRun {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, prog, full...)
	cmd.Env = env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if _, ok := err.(*exec.ExitError); err != nil && !ok {
		t.Fatalf("%s %s: %v", prog, strings.Join(full, " "), err)
	}
	if ctx.Err() != nil {
		t.Fatalf("%s did not finish within %v; stdout:\n%s\nstderr:\n%s", what, timeout, stdout.String(), stderr.String())
	}
	t.Logf("%s: exit %d\n%s%s", what, cmd.ProcessState.ExitCode(), stdout.String(), stderr.String())
	return parseClientRun(t, what, guard, stdout.String(), stderr.String(), cmd.ProcessState.ExitCode())
}

// parseJSRun parses what one run of main.mjs printed.
func parseJSRun(t *testing.T, stdout, stderr string, code int) jsRun {
	t.Helper()
	return parseClientRun(t, "node main.mjs", "guard.mjs", stdout, stderr, code)
}

// parseClientRun parses what one run of a client program (main.mjs or main.py) printed: a JSON
// event a line.
func parseClientRun(t *testing.T, what, guard, stdout, stderr string, code int) jsRun {
	t.Helper()
	r := jsRun{stderr: stderr, code: code}
	if strings.Contains(r.stderr, "mint-e2e-guard:") {
		t.Fatalf("the SDK tried to connect beyond 127.0.0.1 (%s ended it before it did): %s", guard, r.stderr)
	}
	for _, line := range strings.Split(strings.TrimSpace(stdout), "\n") {
		var ev jsEvent
		if err := json.Unmarshal([]byte(line), &ev); err != nil {
			t.Fatalf("%s printed a line that is not JSON: %q (exit %d)\nstdout:\n%s\nstderr:\n%s", what, line, r.code, stdout, r.stderr)
		}
		if ev.Event == "token" {
			r.tokens = append(r.tokens, ev)
		} else {
			r.last = ev
		}
	}
	return r
}

// wantJSSecret checks that main.mjs read db-password (readerSecret) from vault on
// vault.azure.net with credential, and that the first token it got is mint's Key Vault token
// with claims (compared case-insensitively: resource ids).
func wantJSSecret(t *testing.T, m *mint, r jsRun, vault, credential string, claims map[string]string) {
	t.Helper()
	vaultURL := "https://" + vault + ".vault.azure.net"
	if r.code != 0 || r.last.Event != "secret" || r.last.Value != readerSecret {
		t.Fatalf("want the secret: %v", r)
	}
	if r.last.Name != "db-password" || r.last.VaultURL != vaultURL || !strings.HasPrefix(r.last.ID, vaultURL+"/secrets/db-password/") {
		t.Errorf("secret name %q, vaultUrl %q, id %q: want db-password in %s", r.last.Name, r.last.VaultURL, r.last.ID, vaultURL)
	}
	if len(r.tokens) == 0 {
		t.Fatalf("the SDK asked for no token: %v", r)
	}
	tok := r.tokens[0]
	// The scope comes from the vault's challenge, which the SDK verified against the vault's host.
	if tok.Credential != credential || len(tok.Scopes) != 1 || tok.Scopes[0] != "https://vault.azure.net/.default" {
		t.Errorf("token from %s for %v: want %s for https://vault.azure.net/.default", tok.Credential, tok.Scopes, credential)
	}
	wantJSClaims(t, m, tok, "https://vault.azure.net", claims)
}

// wantJSClaims checks that tok is mint's token for audience in mint's tenant, with claims
// (compared case-insensitively: resource ids); a claim wanted as "" must be absent.
func wantJSClaims(t *testing.T, m *mint, tok jsEvent, audience string, claims map[string]string) {
	t.Helper()
	for k, v := range claims {
		got, ok := tok.Claims[k]
		if v == "" && ok {
			t.Errorf("claim %s = %v, want none (claims %v)", k, got, tok.Claims)
		} else if v != "" && !strings.EqualFold(fmt.Sprint(got), v) {
			t.Errorf("claim %s = %v, want %s (claims %v)", k, got, v, tok.Claims)
		}
	}
	if tok.Claims["aud"] != audience || tok.Claims["tid"] != m.Env["AZURE_TENANT_ID"] || !isEntraIssuer(tok.Claims["iss"], m.Env["AZURE_TENANT_ID"]) {
		t.Errorf("claims %v: want mint's token for %s in tenant %s", tok.Claims, audience, m.Env["AZURE_TENANT_ID"])
	}
}

// isEntraIssuer reports whether iss is one of Entra's issuers for the tenant, which mint's tokens
// carry (v1 https://sts.windows.net/{tid}/, v2 https://login.microsoftonline.com/{tid}/v2.0).
func isEntraIssuer(iss any, tenantID string) bool {
	s := fmt.Sprint(iss)
	return s == "https://sts.windows.net/"+tenantID+"/" || s == "https://login.microsoftonline.com/"+tenantID+"/v2.0"
}

// loggedRequest is one request in @azure/identity's and core-rest-pipeline's request log
// (AZURE_LOG_LEVEL=info, on stderr): its URL as logged (secrets and query values REDACTED) and
// the proxy its agent used, if any.
type loggedRequest struct{ url, proxy string }

var (
	loggedURLRE   = regexp.MustCompile(`(?m)^\s*"url": "([^"]*)",$`)
	loggedProxyRE = regexp.MustCompile(`(?m)^\s*"proxy": "([^"]*)",?$`)
)

// loggedRequests returns the logged requests whose URL starts with prefix, in order.
func loggedRequests(stderr, prefix string) []loggedRequest {
	var out []loggedRequest
	for _, block := range strings.Split(stderr, "Request: {")[1:] {
		block, _, _ = strings.Cut(block, "\n}\n") // the request object ends at a closing brace of its own
		u := loggedURLRE.FindStringSubmatch(block)
		if u == nil || !strings.HasPrefix(u[1], prefix) {
			continue
		}
		r := loggedRequest{url: u[1]}
		if p := loggedProxyRE.FindStringSubmatch(block); p != nil {
			r.proxy = strings.TrimSuffix(p[1], "/")
		}
		out = append(out, r)
	}
	return out
}

// wantLoggedRequests checks that the requests to URLs starting with prefix were exactly want (as
// logged), each through proxy.
func wantLoggedRequests(t *testing.T, r jsRun, prefix, proxy string, want ...string) {
	t.Helper()
	got := loggedRequests(r.stderr, prefix)
	ok := len(got) == len(want)
	for i := 0; ok && i < len(got); i++ {
		ok = got[i].url == want[i] && got[i].proxy == strings.TrimSuffix(proxy, "/")
	}
	if !ok {
		t.Errorf("requests to %s: %+v, want %q each through %s", prefix, got, want, proxy)
	}
}

func (r jsRun) String() string {
	b, _ := json.Marshal(r.last)
	return fmt.Sprintf("exit %d, tokens %d, last %s, stderr:\n%s", r.code, len(r.tokens), b, r.stderr)
}

func TestJavaScriptSDKThroughMintRun(t *testing.T) {
	node, npm := needNode(t)
	installed := startJSClientInstall(t, npm) // while mint starts and the scenario is seeded
	m := startMint(t, options{})
	rs := seedReaderScenario(t, m, "kv-js")
	dir := installed()
	// Only MINT_DATA_DIR (plus PATH and a fresh HOME) from what mint dev printed, as a user
	// would run it; `mint run --proxy` adds IDENTITY_ENDPOINT / IDENTITY_HEADER (App Service
	// dialect, http://127.0.0.1:<port>, which NO_PROXY keeps off the proxy), MSI_ENDPOINT /
	// MSI_SECRET, HTTPS_PROXY / HTTP_PROXY / NO_PROXY=127.0.0.1,localhost and NODE_EXTRA_CA_CERTS.
	//
	// Nothing here reaches 169.254.169.254: with IDENTITY_ENDPOINT and IDENTITY_HEADER set, MSAL
	// Node (under @azure/identity) picks the App Service source, never IMDS; DefaultAzureCredential
	// does not probe IMDS for that source; and should any request to IMDS be made anyway, the
	// SDK's pipeline (also MSAL's network client here) sends plain-HTTP requests through the
	// proxy variables, to mint's proxy, which answers IMDS from mint's agent and never dials out
	// (and guard.mjs would end the program first). So AZURE_TOKEN_CREDENTIALS is not needed, and
	// DefaultAzureCredential keeps its full chain.
	runEnv := m.printedEnv(t, "MINT_DATA_DIR")
	read := []string{"--vault", rs.vault, "--secret", "db-password"}
	ua := map[string]string{"oid": rs.uaPrincipal, "appid": rs.uaClientID, "xms_mirid": mirid(rs.uaID), "xms_az_rid": mirid(rs.appID)}

	wantSecret := func(t *testing.T, r jsRun, credential string, claims map[string]string) {
		t.Helper()
		wantJSSecret(t, m, r, rs.vault, credential, claims)
	}
	wantForbiddenByRbac := func(t *testing.T, r jsRun) {
		t.Helper()
		// Key Vault's body is {"error":{"code":"Forbidden","message":...,"innererror":{"code":"ForbiddenByRbac"}}};
		// the SDK surfaces it as a RestError with statusCode 403, code Forbidden and details.
		e := r.last
		if r.code != 1 || e.Event != "error" || e.Name != "RestError" || e.StatusCode != 403 || e.Code != "Forbidden" || e.InnerCode != "ForbiddenByRbac" {
			t.Fatalf("want RestError 403 Forbidden / ForbiddenByRbac: %v", r)
		}
		for _, want := range []string{"Caller is not authorized to perform action on resource.", "oid=" + rs.systemPrincipal, `"Key Vault Secrets User"`} {
			if !strings.Contains(e.Message, want) {
				t.Errorf("message lacks %q: %s", want, e.Message)
			}
		}
		if len(r.tokens) == 0 || r.tokens[0].Claims["oid"] != rs.systemPrincipal {
			t.Errorf("want a token for the app's system-assigned identity %s: %v", rs.systemPrincipal, r.tokens)
		}
	}

	t.Run("ManagedIdentityCredential with a user-assigned client id", func(t *testing.T) {
		r := runJSClientAs(t, runEnv, node, dir, rs.appID, append(read, "--credential", "managed", "--client-id", rs.uaClientID)...)
		wantSecret(t, r, "ManagedIdentityCredential", ua)
	})
	t.Run("DefaultAzureCredential with AZURE_CLIENT_ID", func(t *testing.T) {
		r := runJSClientAs(t, append(runEnv, "AZURE_CLIENT_ID="+rs.uaClientID), node, dir, rs.appID, append(read, "--credential", "default")...)
		wantSecret(t, r, "DefaultAzureCredential", ua)
	})
	t.Run("ManagedIdentityCredential, system-assigned without the role", func(t *testing.T) {
		wantForbiddenByRbac(t, runJSClientAs(t, runEnv, node, dir, rs.appID, append(read, "--credential", "managed")...))
	})
	t.Run("DefaultAzureCredential, system-assigned without the role", func(t *testing.T) {
		wantForbiddenByRbac(t, runJSClientAs(t, runEnv, node, dir, rs.appID, append(read, "--credential", "default")...))
	})
	t.Run("the sign-in log has the SDK's managed-identity tokens", func(t *testing.T) {
		waitFor(t, func() (string, bool) {
			log := m.mustCLI("signin-log", "list", "--principal", rs.uaPrincipal)
			return log, strings.Contains(log, `"managed_identity"`) && strings.Contains(log, "https://vault.azure.net")
		})
	})
}

// TestJavaScriptSDKIMDSThroughProxy: the JS SDK on a VM. mint dev is bound to a VM (--bind-host)
// that has a system-assigned identity and the user-assigned web-id; the program gets only the
// proxy variables and NODE_EXTRA_CA_CERTS `mint dev` printed (no IDENTITY_ENDPOINT or
// MSI_ENDPOINT), so MSAL Node picks its IMDS source, http://169.254.169.254/metadata/identity/
// oauth2/token. The SDK's pipeline (MSAL's network client here is @azure/identity's
// IdentityClient, a core-rest-pipeline client) sends every request, plain http included, through
// HTTPS_PROXY (its proxyPolicy uses HTTPS_PROXY || ALL_PROXY || HTTP_PROXY for both schemes;
// NO_PROXY=127.0.0.1,localhost names exact hosts only, never 169.254.169.254); http-proxy-agent
// sends the absolute-form request line mint's proxy answers from mint dev's agent, and mint's
// proxy never dials out. guard.mjs makes sure of it: the program is ended before it connects
// anywhere but 127.0.0.1.
func TestJavaScriptSDKIMDSThroughProxy(t *testing.T) {
	node, npm := needNode(t)
	installed := startJSClientInstall(t, npm)
	m := startMint(t, options{})
	rs := seedReaderScenario(t, m, "kv-js-imds") // the VM's identity and web-id are "Key Vault Secrets User"
	m.mustCLI("resource", "identity", "assign", "--type", "Microsoft.Compute/virtualMachines", "-g", "app", "-n", "vm1", "--identities", "web-id")
	var stray struct{ ClientID string }
	mustJSON(t, m.mustCLI("identity", "create", "-g", "app", "-n", "stray-id"), &stray) // attached to nothing
	m.stop()
	bound := startMint(t, options{dataDir: m.dataDir, extra: []string{"--bind-host", rs.vmID}})
	// AZURE_LOG_LEVEL=info: @azure/identity logs (to stderr) the source MSAL picked and the probe's outcome.
	env := append(bound.printedEnv(t, "HTTPS_PROXY", "HTTP_PROXY", "NO_PROXY", "NODE_EXTRA_CA_CERTS"), "AZURE_LOG_LEVEL=info")
	dir := installed()
	read := []string{"--vault", rs.vault, "--secret", "db-password"}
	system := map[string]string{"oid": rs.vmPrincipal, "xms_mirid": mirid(rs.vmID), "xms_az_rid": ""}
	ua := map[string]string{"oid": rs.uaPrincipal, "appid": rs.uaClientID, "xms_mirid": mirid(rs.uaID), "xms_az_rid": mirid(rs.vmID)}

	proxyURL := bound.Env["HTTPS_PROXY"]
	// wantIMDS checks, in the SDK's request log, that MSAL picked IMDS and that every request to
	// 169.254.169.254 went through mint's proxy: the probe (no query, no Metadata header) when
	// probe, then the token request (the log redacts the query's values; user-assigned: client_id).
	wantIMDS := func(t *testing.T, r jsRun, probe, userAssigned bool) {
		t.Helper()
		if !strings.Contains(r.stderr, "ManagedIdentityCredential => Using DefaultToImds managed identity.") {
			t.Errorf("@azure/identity did not log that MSAL chose IMDS")
		}
		const imds = "http://169.254.169.254/metadata/identity/oauth2/token"
		var want []string
		if probe {
			want = append(want, imds)
			if !strings.Contains(r.stderr, "ManagedIdentityCredential - IMDS: The Azure IMDS endpoint is available") {
				t.Errorf("the IMDS probe did not find IMDS")
			}
		}
		token := imds + "?api-version=2018-02-01&resource=REDACTED"
		if userAssigned {
			token += "&client_id=REDACTED"
		}
		wantLoggedRequests(t, r, "http://169.254.169.254/", proxyURL, append(want, token)...)
	}
	t.Run("ManagedIdentityCredential, system-assigned", func(t *testing.T) {
		r := runJSClient(t, env, node, dir, append(read, "--credential", "managed")...)
		wantJSSecret(t, bound, r, rs.vault, "ManagedIdentityCredential", system)
		wantIMDS(t, r, false, false)
	})
	t.Run("ManagedIdentityCredential with a user-assigned client id", func(t *testing.T) {
		r := runJSClient(t, env, node, dir, append(read, "--credential", "managed", "--client-id", rs.uaClientID)...)
		wantJSSecret(t, bound, r, rs.vault, "ManagedIdentityCredential", ua)
		wantIMDS(t, r, false, true)
	})
	// DefaultAzureCredential's ManagedIdentityCredential first probes IMDS (no query, no Metadata
	// header, 1 s timeout, no retries), through the proxy too; the agent's quick 400 means "IMDS
	// is here", and the chain asks for the token.
	t.Run("DefaultAzureCredential, system-assigned", func(t *testing.T) {
		r := runJSClient(t, env, node, dir, append(read, "--credential", "default")...)
		wantJSSecret(t, bound, r, rs.vault, "DefaultAzureCredential", system)
		wantIMDS(t, r, true, false)
	})
	t.Run("DefaultAzureCredential with AZURE_CLIENT_ID", func(t *testing.T) {
		r := runJSClient(t, append(slices.Clip(env), "AZURE_CLIENT_ID="+rs.uaClientID), node, dir, append(read, "--credential", "default")...)
		wantJSSecret(t, bound, r, rs.vault, "DefaultAzureCredential", ua)
		wantIMDS(t, r, true, true)
	})
	// IMDS's own answer, {"error":"invalid_request","error_description":"Identity not found"}
	// (400: one request, no retries), as the SDK surfaces it.
	t.Run("an identity the VM does not have", func(t *testing.T) {
		r := runJSClient(t, env, node, dir, "--scope", "https://vault.azure.net/.default", "--credential", "managed", "--client-id", stray.ClientID)
		if r.code != 1 || r.last.Event != "error" || r.last.Name != "CredentialUnavailableError" || len(r.tokens) != 0 {
			t.Fatalf("want a CredentialUnavailableError: %v", r)
		}
		if want := "ManagedIdentityCredential: Authentication failed. Message invalid_request: "; !strings.HasPrefix(r.last.Message, want) ||
			!strings.Contains(r.last.Message, "Description: Identity not found") {
			t.Errorf("message %q: want %q... Identity not found", r.last.Message, want)
		}
		wantIMDS(t, r, false, true)
	})
	t.Run("the sign-in log has the VM's tokens", func(t *testing.T) {
		waitFor(t, func() (string, bool) {
			log := bound.mustCLI("signin-log", "list", "--principal", rs.vmPrincipal)
			return log, strings.Contains(log, `"managed_identity"`) && strings.Contains(strings.ToLower(log), strings.ToLower(rs.vmID))
		})
	})
}

// TestJavaScriptSDKWorkloadIdentity: the JS SDK in a Kubernetes pod or a CI job. The test's own
// OIDC issuer (startOIDCIssuer, on 127.0.0.1) signs the token file; a federated identity
// credential trusts it on the user-assigned identity web-id (ARM) and on an application (Graph).
// The program gets what a pod with workload identity gets — AZURE_FEDERATED_TOKEN_FILE,
// AZURE_CLIENT_ID, AZURE_TENANT_ID and AZURE_AUTHORITY_HOST (mint's, as `mint dev` printed it) —
// and the proxy variables and NODE_EXTRA_CA_CERTS `mint dev` printed.
//
// No disableInstanceDiscovery: main.mjs builds `new WorkloadIdentityCredential()` (and
// DefaultAzureCredential) with the SDK's defaults, as an unmodified program does. MSAL Node then
// validates the custom authority with instance discovery at
// https://login.microsoftonline.com/common/discovery/instance, which HTTPS_PROXY sends to mint's
// proxy and mint answers (its tenant discovery endpoint on AZURE_AUTHORITY_HOST); the authority
// itself, https://127.0.0.1:<port>, is in NO_PROXY. (Without the proxy, the program would need
// the disableInstanceDiscovery option, since JS has no environment variable for it.)
// ManagedIdentityCredential with the same environment takes the SDK's token-exchange path, a
// WorkloadIdentityCredential with instance discovery disabled.
func TestJavaScriptSDKWorkloadIdentity(t *testing.T) {
	node, npm := needNode(t)
	installed := startJSClientInstall(t, npm)
	m := startMint(t, options{})
	issuer := startOIDCIssuer(t)
	rs := seedReaderScenario(t, m, "kv-js-wi") // web-id is "Key Vault Secrets User" at the vault
	const podSubject, ciSubject = "system:serviceaccount:ns:app", "repo:contoso/web:environment:production"
	m.mustCLI("identity", "federated-credential", "create", "-g", "app", "--identity-name", "web-id", "-n", "kubernetes",
		"--issuer", issuer.srv.URL, "--subject", podSubject, "--audiences", "api://AzureADTokenExchange")
	var app struct{ AppID, ID string }
	mustJSON(t, m.mustCLI("ad", "app", "create", "--display-name", "js-deployer"), &app)
	m.mustCLI("ad", "app", "federated-credential", "create", "--id", app.AppID, "-n", "github-production", "--issuer", issuer.srv.URL, "--subject", ciSubject)

	files := t.TempDir()
	tokenFile := func(name, subject string) string {
		path := filepath.Join(files, name)
		writeFile(t, path, issuer.token(t, subject)+"\n") // as kubelet writes it; the SDK trims it
		return path
	}
	pod, otherPod := tokenFile("pod", podSubject), tokenFile("other-pod", "system:serviceaccount:ns:other")
	ci, otherCI := tokenFile("ci", ciSubject), tokenFile("other-ci", "repo:contoso/web:ref:refs/heads/feature")
	printed := append(m.printedEnv(t, "HTTPS_PROXY", "HTTP_PROXY", "NO_PROXY", "NODE_EXTRA_CA_CERTS", "AZURE_TENANT_ID", "AZURE_AUTHORITY_HOST"), "AZURE_LOG_LEVEL=info")
	wiEnv := func(clientID, file string) []string {
		return append(slices.Clip(printed), "AZURE_CLIENT_ID="+clientID, "AZURE_FEDERATED_TOKEN_FILE="+file)
	}
	dir := installed()
	read := []string{"--vault", rs.vault, "--secret", "db-password"}
	identity := map[string]string{"appid": rs.uaClientID, "oid": rs.uaPrincipal, "sub": rs.uaPrincipal, "idtyp": "app", "appidacr": "2",
		"ver": "1.0", "xms_mirid": ficMirid(rs.uaID), "xms_az_rid": ""}

	// wantExchange checks, in the SDK's request log, where the token exchange went: instance
	// discovery (when discovery) to login.microsoftonline.com through mint's proxy, then OIDC
	// discovery and the token request straight to AZURE_AUTHORITY_HOST (NO_PROXY).
	authority := strings.TrimSuffix(m.Env["AZURE_AUTHORITY_HOST"], "/") + "/" + m.Env["AZURE_TENANT_ID"]
	wantExchange := func(t *testing.T, r jsRun, discovery bool) {
		t.Helper()
		var want []string
		if discovery {
			want = append(want, "https://login.microsoftonline.com/common/discovery/instance?api-version=1.1&authorization_endpoint=REDACTED")
		}
		wantLoggedRequests(t, r, "https://login.microsoftonline.com/", m.Env["HTTPS_PROXY"], want...)
		wantLoggedRequests(t, r, authority+"/", "", authority+"/v2.0/.well-known/openid-configuration", authority+"/oauth2/v2.0/token?client-request-id=REDACTED")
	}

	for _, c := range []struct {
		credential, name string
		discovery        bool
	}{
		{"workload", "WorkloadIdentityCredential", true},
		{"default", "DefaultAzureCredential", true},
		{"managed", "ManagedIdentityCredential", false}, // the token-exchange path disables instance discovery
	} {
		t.Run(c.name+", user-assigned identity", func(t *testing.T) {
			r := runJSClient(t, wiEnv(rs.uaClientID, pod), node, dir, append(read, "--credential", c.credential)...)
			wantJSSecret(t, m, r, rs.vault, c.name, identity)
			wantExchange(t, r, c.discovery)
		})
	}
	// wantMismatch checks the SDK's error for a token file whose subject no credential trusts.
	// mint answers as Entra does: 400 {"error":"invalid_request","error_description":"AADSTS70021:
	// ...","error_codes":[70021],...}. MSAL Node throws a ServerError, which @azure/identity
	// 4.13.1 (handleMsalError) rethrows as an AuthenticationRequiredError with MSAL's message.
	wantMismatch := func(t *testing.T, r jsRun, want ...string) {
		t.Helper()
		e := r.last
		if r.code != 1 || e.Event != "error" || e.Name != "AuthenticationRequiredError" || len(r.tokens) != 0 {
			t.Fatalf("want an AuthenticationRequiredError: %v", r)
		}
		if prefix := "invalid_request: Error(s): 70021 - "; !strings.HasPrefix(e.Message, prefix) {
			t.Errorf("message does not start with %q:\n%s", prefix, e.Message)
		}
		for _, s := range append([]string{"Description: AADSTS70021: No matching federated identity record found for presented assertion."}, want...) {
			if !strings.Contains(e.Message, s) {
				t.Errorf("message lacks %q:\n%s", s, e.Message)
			}
		}
		wantExchange(t, r, true)
	}
	t.Run("WorkloadIdentityCredential, another service account", func(t *testing.T) {
		r := runJSClient(t, wiEnv(rs.uaClientID, otherPod), node, dir, "--scope", "https://vault.azure.net/.default", "--credential", "workload")
		wantMismatch(t, r, "Assertion Subject: 'system:serviceaccount:ns:other'.", "Subject mismatch: the credential expects '"+podSubject+"'")
	})

	t.Run("WorkloadIdentityCredential, application", func(t *testing.T) {
		r := runJSClient(t, wiEnv(app.AppID, ci), node, dir, "--scope", "https://management.azure.com/.default", "--credential", "workload")
		if r.code != 0 || len(r.tokens) != 1 {
			t.Fatalf("want a token: %v", r)
		}
		wantJSClaims(t, m, r.tokens[0], "https://management.azure.com", map[string]string{"appid": app.AppID, "oid": app.ID, "idtyp": "app",
			"appidacr": "2", "xms_mirid": ""})
		wantExchange(t, r, true)
	})
	t.Run("WorkloadIdentityCredential, application, another branch", func(t *testing.T) {
		r := runJSClient(t, wiEnv(app.AppID, otherCI), node, dir, "--scope", "https://management.azure.com/.default", "--credential", "workload")
		wantMismatch(t, r, "Credentials of application '"+app.AppID+"'", "Subject mismatch: the credential expects '"+ciSubject+"'")
	})
	t.Run("the sign-in log has the exchanges", func(t *testing.T) {
		waitFor(t, func() (string, bool) {
			out := m.mustCLI("signin-log", "list", "--top", "20")
			return out, strings.Count(out, `"grantType": "federated"`) >= 5 && strings.Count(out, "70021") >= 2
		})
	})
}
