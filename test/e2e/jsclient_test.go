package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The Azure SDK for JavaScript, unmodified: test/e2e/jsclient is a small Node program using
// @azure/identity and @azure/keyvault-secrets (the versions pinned in its package.json and
// package-lock.json). The test installs it with `npm ci` into a temporary directory, so it works
// from a fresh clone; the npm registry is the only thing it reaches beyond 127.0.0.1.

// jsClientFiles are the committed files of test/e2e/jsclient (never its node_modules).
var jsClientFiles = []string{"package.json", "package-lock.json", "main.mjs"}

// needNode returns the paths of node and npm, or fails the test: this check is part of the
// suite and must not be skipped.
func needNode(t *testing.T) (node, npm string) {
	t.Helper()
	const install = "install Node.js 20 or later (node and npm on PATH, https://nodejs.org/en/download): the Azure SDK for JavaScript test runs test/e2e/jsclient with it"
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
	major, err := strconv.Atoi(strings.SplitN(strings.TrimPrefix(version, "v"), ".", 2)[0])
	if err != nil || major < 20 {
		t.Fatalf("node is %s: %s", version, install)
	}
	return node, npm
}

// startJSClientInstall copies test/e2e/jsclient into a temporary directory and starts
// `npm ci` there (exactly the locked versions; npm's own cache makes repeated runs fast). The
// returned function waits for it and returns the directory holding main.mjs and node_modules.
func startJSClientInstall(t *testing.T, npm string) func() string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "jsclient")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, f := range jsClientFiles {
		data, err := os.ReadFile(filepath.Join("jsclient", f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, f), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
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
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatalf("npm ci: %v", err)
	}
	var result error
	var took time.Duration
	done := make(chan struct{})
	go func() { result = cmd.Wait(); took = time.Since(start); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return func() string {
		t.Helper()
		<-done
		if result != nil {
			t.Fatalf("npm ci --no-audit --no-fund in a copy of test/e2e/jsclient (it needs the npm registry): %v\n%s", result, out.String())
		}
		t.Logf("npm ci of test/e2e/jsclient took %v", took.Round(time.Millisecond))
		return dir
	}
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

// runJSClientAs runs main.mjs under `mint run --proxy --resource resource` with env (which
// names mint dev's data dir, MINT_DATA_DIR) and parses its output.
func runJSClientAs(t *testing.T, env []string, node, dir, resource string, args ...string) jsRun {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	full := append([]string{"run", "--proxy", "--resource", resource, "--", node, filepath.Join(dir, "main.mjs")}, args...)
	cmd := exec.CommandContext(ctx, mintBin, full...)
	cmd.Env = env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if _, ok := err.(*exec.ExitError); err != nil && !ok {
		t.Fatalf("mint run ... node main.mjs: %v", err)
	}
	if ctx.Err() != nil {
		t.Fatalf("node main.mjs %s did not finish within 60 s; stdout:\n%s\nstderr:\n%s", strings.Join(args, " "), stdout.String(), stderr.String())
	}
	r := jsRun{stderr: stderr.String(), code: cmd.ProcessState.ExitCode()}
	t.Logf("node main.mjs %s: exit %d\n%s%s", strings.Join(args, " "), r.code, stdout.String(), r.stderr)
	for _, line := range strings.Split(strings.TrimSpace(stdout.String()), "\n") {
		var ev jsEvent
		if err := json.Unmarshal([]byte(line), &ev); err != nil {
			t.Fatalf("node main.mjs %s printed a line that is not JSON: %q (exit %d)\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), line, r.code, stdout.String(), r.stderr)
		}
		if ev.Event == "token" {
			r.tokens = append(r.tokens, ev)
		} else {
			r.last = ev
		}
	}
	return r
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
	// proxy variables, to mint's proxy, which answers IMDS from mint's agent and never dials out.
	// So AZURE_TOKEN_CREDENTIALS is not needed, and DefaultAzureCredential keeps its full chain.
	runEnv := m.printedEnv(t, "MINT_DATA_DIR")
	read := []string{"--vault", rs.vault, "--secret", "db-password"}
	vaultURL := "https://" + rs.vault + ".vault.azure.net"
	ua := map[string]string{"oid": rs.uaPrincipal, "appid": rs.uaClientID, "xms_mirid": mirid(rs.uaID), "xms_az_rid": mirid(rs.appID)}

	wantSecret := func(t *testing.T, r jsRun, credential string, claims map[string]string) {
		t.Helper()
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
		for k, v := range claims {
			if !strings.EqualFold(fmt.Sprint(tok.Claims[k]), v) {
				t.Errorf("claim %s = %v, want %s (claims %v)", k, tok.Claims[k], v, tok.Claims)
			}
		}
		if tok.Claims["aud"] != "https://vault.azure.net" || tok.Claims["tid"] != m.Env["AZURE_TENANT_ID"] || !strings.HasPrefix(fmt.Sprint(tok.Claims["iss"]), m.URL+"/") {
			t.Errorf("claims %v: want mint's Key Vault token in tenant %s", tok.Claims, m.Env["AZURE_TENANT_ID"])
		}
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
