package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// The Azure CLI, unmodified: Debian bookworm's azure-cli package (2.45.0, on Debian's
// python3-azure SDK build), which ./test.sh installs with apt-get when az is missing. Every az
// below is a real az process with its own AZURE_CONFIG_DIR, and gets only what `mint dev`
// printed for it: HTTPS_PROXY / HTTP_PROXY / NO_PROXY (mint's Azure-name proxy) and
// REQUESTS_CA_BUNDLE / SSL_CERT_FILE (mint's CA), plus PATH and a fresh HOME. So
// login.microsoftonline.com, management.azure.com, graph.microsoft.com and
// <vault>.vault.azure.net are mint, through the proxy; the CLI's telemetry upload
// (dc.services.visualstudio.com) and its other calls home are refused by the proxy, which never
// dials out.
//
// Two parts of that package cannot run at all, whatever the server, because Debian pairs the CLI
// with newer SDK builds than it was written for; both fail inside az before it sends a request:
//   - `az keyvault secret ...` loads the track-1 azure-keyvault SDK, which Debian does not ship:
//     "No module named 'azure.keyvault.v7_0'" (Azure/azure-cli#26835, #30740). The test reaches
//     the secrets data plane with `az rest --resource https://vault.azure.net` instead: az's own
//     token for Key Vault, az's own HTTP pipeline, the same requests.
//   - `az role assignment create|list` expects the old azure-mgmt-authorization:
//     "'RoleAssignmentsOperations' object has no attribute 'config'" (Azure/azure-cli#24959,
//     reported for this very version). The test grants roles with `mint role assignment create`.

// needAz returns the path of az, or fails the test: the check is part of the suite, never skipped.
func needAz(t *testing.T) string {
	t.Helper()
	az, err := exec.LookPath("az")
	if err != nil {
		t.Fatalf("az not found: install the Azure CLI (Debian/Ubuntu: sudo apt-get install --no-install-recommends azure-cli; ./test.sh does this itself when run as root or with CI=true)")
	}
	return az
}

// azRun is what one az process printed.
type azRun struct {
	cmdline        string // program and arguments, the admin's secret masked
	stdout, stderr string
	code           int
}

// runAz runs prog (az, or mint run wrapping az) with exactly env and returns what it printed.
func runAz(t *testing.T, env []string, prog string, args ...string) azRun {
	t.Helper()
	r, err := execAz(t, env, prog, args...)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// azConcurrently runs independent az commands (each a list of arguments) at once, each its own
// az process as with runAz, and returns what each printed, in order. An az command is mostly
// Python loading the CLI, 1-2 s of one core, so a row of commands that do not depend on each
// other (refusals, reads) takes about the time of the slowest when the other core is free.
// Only once az holds a token for what they call: the commands share the config directory's MSAL
// token cache file, and one writing a new token there while another read it made the reader
// find no account ("User ... does not exist in MSAL token cache").
func azConcurrently(t *testing.T, env []string, prog string, cmds ...[]string) []azRun {
	t.Helper()
	runs, errs := make([]azRun, len(cmds)), make([]error, len(cmds))
	var wg sync.WaitGroup
	for i, args := range cmds {
		wg.Go(func() { runs[i], errs[i] = execAz(t, env, prog, args...) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	return runs
}

// mustSucceed is what r printed on stdout, or fails the test when r's az failed (as mustAz).
func mustSucceed(t *testing.T, r azRun) string {
	t.Helper()
	if r.code != 0 {
		t.Fatalf("%s: exit %d\nstdout:\n%s\nstderr:\n%s", r.cmdline, r.code, r.stdout, r.stderr)
	}
	return r.stdout
}

// execAz is runAz's work, safe in any goroutine: it only logs, and returns what would fail the test.
func execAz(t *testing.T, env []string, prog string, args ...string) (azRun, error) {
	t.Helper()
	args = joinDashValues(args)
	shown := slices.Clone(args) // for messages: never the admin's secret
	for i := range shown {
		if i > 0 && shown[i-1] == "-p" {
			shown[i] = "<secret>"
		} else if strings.HasPrefix(shown[i], "-p=") {
			shown[i] = "-p=<secret>"
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, prog, args...)
	cmd.Env = env
	// A child left holding the output pipes (az's telemetry uploader, or az itself under a mint
	// run that was killed) must not keep the test waiting past the timeout.
	cmd.WaitDelay = 5 * time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err := cmd.Run()
	if _, ok := err.(*exec.ExitError); err != nil && !ok {
		return azRun{}, fmt.Errorf("%s %s: %v", prog, strings.Join(shown, " "), err)
	}
	if ctx.Err() != nil {
		return azRun{}, fmt.Errorf("%s %s did not finish within 90 s:\n%s\n%s", prog, strings.Join(shown, " "), stdout.String(), stderr.String())
	}
	r := azRun{cmdline: filepath.Base(prog) + " " + strings.Join(shown, " "), stdout: stdout.String(), stderr: stderr.String(), code: cmd.ProcessState.ExitCode()}
	t.Logf("%s: exit %d in %v", r.cmdline, r.code, time.Since(start).Round(time.Millisecond))
	return r, nil
}

// joinDashValues writes "-p <value>" as "-p=<value>" when the value begins with '-': az's
// parser takes such a value for an option ("argument --password/-p: expected one argument"), and
// its help says to write it this way. A generated client secret begins with '-' one time in 66
// (its alphabet has 66 characters), as Entra's may.
func joinDashValues(args []string) []string {
	var out []string
	for i := 0; i < len(args); i++ {
		if args[i] == "-p" && i+1 < len(args) && strings.HasPrefix(args[i+1], "-") {
			out = append(out, "-p="+args[i+1])
			i++
			continue
		}
		out = append(out, args[i])
	}
	return out
}

// mustAz runs az and decodes its JSON output into v (unless v is nil), or fails the test.
func mustAz(t *testing.T, env []string, prog string, v any, args ...string) azRun {
	t.Helper()
	r := runAz(t, env, prog, args...)
	if r.code != 0 {
		t.Fatalf("%s: exit %d\nstdout:\n%s\nstderr:\n%s", r.cmdline, r.code, r.stdout, r.stderr)
	}
	if v != nil {
		if err := json.Unmarshal([]byte(r.stdout), v); err != nil {
			t.Fatalf("%s printed no JSON: %v\n%s", r.cmdline, err, r.stdout)
		}
	}
	return r
}

// azConfigDir is a fresh AZURE_CONFIG_DIR: no account, no cloud, no configuration, only az's
// command index (see azCommandIndex). It is removed best-effort: az's telemetry uploader is a
// detached process that may still be writing there (before the proxy refuses it).
func azConfigDir(t *testing.T) string {
	dir, err := os.MkdirTemp("", "mint-az-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	index := azCommandIndex(t)
	if err := os.WriteFile(filepath.Join(dir, "commandIndex.json"), index, 0o644); err != nil {
		t.Fatal(err)
	}
	return "AZURE_CONFIG_DIR=" + dir
}

var azIndex struct {
	once sync.Once
	data []byte
	err  error
}

// azCommandIndex is the commandIndex.json az writes in a config directory on its first command
// there, made once per test process by az itself in a directory of its own. Making it loads
// every command module of the CLI, about 3 s of CPU (4 s of a fresh directory's first command
// against under 1 s for the next), which every fresh AZURE_CONFIG_DIR paid again. The index
// maps command names to modules for this az version and cloud profile, which az checks before
// using it; it holds no account, token or setting. Telemetry is off and the proxy a closed
// local port for this one command, so that nothing can leave the machine.
func azCommandIndex(t *testing.T) []byte {
	t.Helper()
	azIndex.once.Do(func() {
		dir, err := os.MkdirTemp("", "mint-az-index-")
		if err != nil {
			azIndex.err = err
			return
		}
		defer os.RemoveAll(dir)
		az, err := exec.LookPath("az")
		if err != nil {
			azIndex.err = err
			return
		}
		cmd := exec.Command(az, "account", "list", "-o", "none")
		cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir, "AZURE_CONFIG_DIR=" + dir,
			"AZURE_CORE_COLLECT_TELEMETRY=false", "HTTPS_PROXY=http://127.0.0.1:1", "HTTP_PROXY=http://127.0.0.1:1"}
		if out, err := cmd.CombinedOutput(); err != nil {
			azIndex.err = fmt.Errorf("az account list in a fresh config directory: %v\n%s", err, out)
			return
		}
		azIndex.data, azIndex.err = os.ReadFile(filepath.Join(dir, "commandIndex.json"))
	})
	if azIndex.err != nil {
		t.Fatalf("az's command index: %v", azIndex.err)
	}
	return azIndex.data
}

// azAccount is one entry of az login / az account show.
type azAccount struct {
	ID, TenantID string
	User         struct{ Name, Type, AssignedIdentityInfo string }
}

func TestAzureCLIThroughProxy(t *testing.T) {
	az := needAz(t)
	m := startMint(t, options{})
	tenant, sub, adminID := m.Env["AZURE_TENANT_ID"], m.Env["AZURE_SUBSCRIPTION_ID"], m.Env["AZURE_CLIENT_ID"]
	printed := m.printedEnv(t, "HTTPS_PROXY", "HTTP_PROXY", "NO_PROXY", "REQUESTS_CA_BUNDLE", "SSL_CERT_FILE")
	admin := append(slices.Clip(printed), azConfigDir(t))

	// 1. The admin application signs in with its secret at login.microsoftonline.com (MSAL
	// Python, instance discovery included) and lists its subscriptions at management.azure.com.
	var accounts []azAccount
	mustAz(t, admin, az, &accounts, "login", "--service-principal", "-u", adminID, "-p", m.Env["AZURE_CLIENT_SECRET"], "--tenant", tenant, "-o", "json")
	if len(accounts) != 1 || accounts[0].ID != sub || accounts[0].TenantID != tenant || accounts[0].User.Name != adminID || accounts[0].User.Type != "servicePrincipal" {
		t.Fatalf("az login: %+v, want subscription %s of tenant %s for %s", accounts, sub, tenant, adminID)
	}
	var account azAccount
	mustAz(t, admin, az, &account, "account", "show", "-o", "json")
	if account.ID != sub || account.User.Name != adminID {
		t.Errorf("az account show: %+v", account)
	}
	var group struct{ ID, Location string }
	mustAz(t, admin, az, &group, "group", "create", "-n", "app", "-l", "eastus", "-o", "json")
	if group.ID != "/subscriptions/"+sub+"/resourceGroups/app" || group.Location != "eastus" {
		t.Errorf("az group create: %+v", group)
	}
	var ua struct{ ID, ClientID, PrincipalID, TenantID string }
	mustAz(t, admin, az, &ua, "identity", "create", "-g", "app", "-n", "web-id", "-o", "json")
	if ua.ClientID == "" || ua.PrincipalID == "" || ua.TenantID != tenant || !strings.HasSuffix(ua.ID, "/providers/Microsoft.ManagedIdentity/userAssignedIdentities/web-id") {
		t.Fatalf("az identity create: %+v", ua)
	}
	var vault struct {
		ID         string
		Properties struct {
			EnableRbacAuthorization bool
			TenantID                string
		}
	}
	mustAz(t, admin, az, &vault, "keyvault", "create", "-g", "app", "-n", "kv-az", "-l", "eastus", "--enable-rbac-authorization", "true", "-o", "json")
	if !vault.Properties.EnableRbacAuthorization || vault.Properties.TenantID != tenant {
		t.Errorf("az keyvault create: %+v", vault)
	}
	// Without a group az finds the vault in the subscription's resource list, at the
	// Microsoft.Resources api-version 2015-11-01.
	if r := mustAz(t, admin, az, nil, "keyvault", "show", "-n", "kv-az", "--query", "id", "-o", "tsv"); strings.TrimSpace(r.stdout) != vault.ID {
		t.Errorf("az keyvault show -n kv-az: %q, want %s", r.stdout, vault.ID)
	}
	// Graph: az resolves an application id with servicePrincipals?$filter=servicePrincipalNames/any(c:c eq '<appId>').
	var sp struct{ ID, AppID string }
	mustAz(t, admin, az, &sp, "ad", "sp", "show", "--id", adminID, "-o", "json")
	if sp.AppID != adminID || sp.ID == "" {
		t.Errorf("az ad sp show --id %s: %+v", adminID, sp)
	}

	// Roles (az role assignment cannot run in this package, see above), and the web app the
	// identities run as: a Microsoft.Web/sites with a system-assigned identity and web-id.
	m.mustCLI("role", "assignment", "create", "--assignee", sp.ID, "--role", "Key Vault Secrets Officer", "--scope", vault.ID)
	m.mustCLI("role", "assignment", "create", "--assignee", ua.PrincipalID, "--role", "Key Vault Secrets User", "--scope", vault.ID)
	var site struct {
		ID       string
		Identity struct{ PrincipalID string }
	}
	mustJSON(t, m.mustCLI("resource", "create", "--type", "Microsoft.Web/sites", "-g", "app", "-n", "shop", "--system-assigned"), &site)
	m.mustCLI("resource", "identity", "assign", "--type", "Microsoft.Web/sites", "-g", "app", "-n", "shop", "--identities", "web-id")

	secretURL := "https://kv-az.vault.azure.net/secrets/db-password?api-version=7.4"
	var set struct{ ID, Value string }
	mustAz(t, admin, az, &set, "rest", "--method", "put", "--url", secretURL, "--resource", "https://vault.azure.net",
		"--body", `{"value":"`+readerSecret+`"}`, "-o", "json")
	if set.Value != readerSecret || !strings.HasPrefix(set.ID, "https://kv-az.vault.azure.net/secrets/db-password/") {
		t.Fatalf("az rest PUT %s: %+v", secretURL, set)
	}

	// 2. Managed identity, as the web app: `mint run --proxy --resource <site>` gives az App
	// Service's environment — IDENTITY_ENDPOINT / IDENTITY_HEADER, MSI_ENDPOINT / MSI_SECRET and
	// APPSETTING_WEBSITE_SITE_NAME — and the proxy variables and CA trust. az 2.45's managed
	// identity is msrestazure's MSIAuthentication: with APPSETTING_WEBSITE_SITE_NAME set it GETs
	// MSI_ENDPOINT (api-version 2017-09-01, "secret" header, clientid=), which mint's agent
	// answers for the run's resource; it would use IMDS only with neither that variable nor
	// MSI_ENDPOINT set. Even then nothing could reach the real 169.254.169.254: requests sends
	// http://169.254.169.254 through HTTP_PROXY (NO_PROXY names only 127.0.0.1 and localhost) to
	// mint's proxy, which answers IMDS from mint's agent and never dials out. (In a Container App,
	// which sets no APPSETTING_WEBSITE_SITE_NAME, az 2.45 POSTs a Cloud Shell form to
	// MSI_ENDPOINT without the secret and fails, in Azure as under mint: Azure/azure-cli#22677.)
	runEnv := append(m.printedEnv(t, "MINT_DATA_DIR"), azConfigDir(t))
	asSite := func(args ...string) []string {
		return append([]string{"run", "--proxy", "--resource", site.ID, "--", az}, args...)
	}
	login := mustAz(t, runEnv, mintBin, &accounts, asSite("login", "--identity", "--username", ua.ClientID, "-o", "json", "--debug")...)
	if len(accounts) != 1 || accounts[0].ID != sub || accounts[0].User.Name != "userAssignedIdentity" || accounts[0].User.AssignedIdentityInfo != "MSIClient-"+ua.ClientID {
		t.Errorf("az login --identity --username %s: %+v", ua.ClientID, accounts)
	}
	if want := `"GET /msi/token/?resource=https://management.core.windows.net/&api-version=2017-09-01&clientid=` + ua.ClientID; !strings.Contains(login.stderr, want) ||
		strings.Contains(login.stderr, "169.254.169.254") {
		t.Errorf("az's token request: want %s... to MSI_ENDPOINT and nothing to IMDS:\n%s", want, login.stderr)
	}
	if r := mustAz(t, runEnv, mintBin, nil, asSite("rest", "--url", secretURL, "--resource", "https://vault.azure.net", "--query", "value", "-o", "tsv")...); r.stdout != readerSecret+"\n" {
		t.Errorf("the secret read as web-id: %q", r.stdout)
	}

	// 3. The site's system-assigned identity has no role: no subscription either, hence
	// --allow-no-subscriptions, and the vault refuses it with Key Vault's ForbiddenByRbac.
	systemEnv := append(m.printedEnv(t, "MINT_DATA_DIR"), azConfigDir(t))
	mustAz(t, systemEnv, mintBin, &accounts, "run", "--proxy", "--resource", site.ID, "--", az, "login", "--identity", "--allow-no-subscriptions", "-o", "json")
	if len(accounts) != 1 || accounts[0].TenantID != tenant || accounts[0].User.Name != "systemAssignedIdentity" {
		t.Errorf("az login --identity: %+v", accounts)
	}
	r := runAz(t, systemEnv, mintBin, "run", "--proxy", "--resource", site.ID, "--", az, "rest", "--url", secretURL, "--resource", "https://vault.azure.net")
	if r.code == 0 || r.stdout != "" {
		t.Fatalf("the system-assigned identity read the secret: exit %d, %s", r.code, r.stdout)
	}
	for _, want := range []string{"ERROR: Forbidden(", `"code":"Forbidden"`, "Caller is not authorized to perform action on resource.",
		"oid=" + site.Identity.PrincipalID, `"innererror":{"code":"ForbiddenByRbac"}`, `assign \"Key Vault Secrets User\"`} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("az's error lacks %q:\n%s", want, r.stderr)
		}
	}

	waitFor(t, func() (string, bool) {
		log := m.mustCLI("signin-log", "list", "--principal", ua.PrincipalID)
		return log, strings.Contains(log, `"managed_identity"`) && strings.Contains(log, "https://vault.azure.net") && strings.Contains(log, "https://management.core.windows.net/")
	})
}
