package e2e

import (
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// The Azure SDK for Python, unmodified: test/e2e/pyclient/main.py uses azure-identity and
// azure-keyvault-secrets as Debian bookworm ships them (python3-azure: azure-identity 1.13,
// azure-keyvault-secrets 4.7; MSAL for Python 1.21 from python3-msal), run by Debian's
// /usr/bin/python3 (a pyenv python3 earlier on PATH cannot import them). Every run puts
// pyclient/guard on PYTHONPATH: its sitecustomize ends the program before it connects anywhere
// but 127.0.0.1 (the real IMDS address included).

const systemPython = "/usr/bin/python3"

// needPython fails the test unless Debian's Python with the Azure SDK is installed: this check
// is part of the suite and must not be skipped.
func needPython(t *testing.T) {
	t.Helper()
	out, err := exec.Command(systemPython, "-c", "import azure.identity, azure.keyvault.secrets, msal").CombinedOutput()
	if err != nil {
		t.Fatalf("%s cannot import the Azure SDK for Python (apt-get install python3-azure python3-msal; test.sh does): %v\n%s", systemPython, err, out)
	}
}

// pyCommand is the command line that runs main.py with args.
func pyCommand(args ...string) []string {
	dir, _ := filepath.Abs("pyclient")
	return append([]string{systemPython, filepath.Join(dir, "main.py")}, args...)
}

// pyEnv is env plus the guard on PYTHONPATH.
func pyEnv(env []string) []string {
	dir, _ := filepath.Abs(filepath.Join("pyclient", "guard"))
	return append(slices.Clip(env), "PYTHONPATH="+dir)
}

// runPyClientAs runs main.py under `mint run --proxy --resource resource` (with prefix, e.g.
// `env -u ...`, before python3), with env naming mint dev's data dir (MINT_DATA_DIR).
func runPyClientAs(t *testing.T, env []string, resource string, prefix []string, args ...string) jsRun {
	t.Helper()
	full := append(append([]string{"run", "--proxy", "--resource", resource, "--"}, prefix...), pyCommand(args...)...)
	return runPy(t, env, mintBin, full, args)
}

// runPyClient runs main.py with exactly env (plus the guard).
func runPyClient(t *testing.T, env []string, args ...string) jsRun {
	t.Helper()
	full := pyCommand(args...)
	return runPy(t, env, full[0], full[1:], args)
}

func runPy(t *testing.T, env []string, prog string, full, args []string) jsRun {
	t.Helper()
	return runClient(t, "main.py "+strings.Join(args, " "), "the guard", 90*time.Second, pyEnv(env), prog, full)
}

// wantPyForbiddenByRbac checks Key Vault's refusal as azure-keyvault-secrets raises it: an
// HttpResponseError with status 403, code Forbidden and inner code ForbiddenByRbac.
func wantPyForbiddenByRbac(t *testing.T, r jsRun, principal string) {
	t.Helper()
	e := r.last
	if r.code != 1 || e.Event != "error" || e.Name != "HttpResponseError" || e.StatusCode != 403 || e.Code != "Forbidden" || e.InnerCode != "ForbiddenByRbac" {
		t.Fatalf("want HttpResponseError 403 Forbidden / ForbiddenByRbac: %v", r)
	}
	for _, want := range []string{"Caller is not authorized to perform action on resource.", "oid=" + principal, `"Key Vault Secrets User"`} {
		if !strings.Contains(e.Message, want) {
			t.Errorf("message lacks %q: %s", want, e.Message)
		}
	}
}

// TestPythonSDKThroughMintRun: Python programs in a container app, under `mint run --proxy`:
// App Service's dialect (IDENTITY_ENDPOINT / IDENTITY_HEADER, as mint run sets them), and Azure
// ML's (MSI_ENDPOINT / MSI_SECRET only: the program starts with IDENTITY_* removed, as in an
// Azure ML compute). The secret is read from https://<vault>.vault.azure.net through mint's
// proxy, with mint's CA in REQUESTS_CA_BUNDLE (mint run --proxy sets it), and SecretClient's
// default challenge-resource check.
func TestPythonSDKThroughMintRun(t *testing.T) {
	needPython(t)
	m := startMint(t, options{})
	rs := seedReaderScenario(t, m, "kv-py")
	runEnv := m.printedEnv(t, "MINT_DATA_DIR")
	read := []string{"--vault", rs.vault, "--secret", "db-password"}
	ua := map[string]string{"oid": rs.uaPrincipal, "appid": rs.uaClientID, "xms_mirid": mirid(rs.uaID), "xms_az_rid": mirid(rs.appID)}
	azureML := []string{"env", "-u", "IDENTITY_ENDPOINT", "-u", "IDENTITY_HEADER"}

	for _, d := range []struct {
		name   string
		prefix []string
	}{{"App Service", nil}, {"Azure ML", azureML}} {
		t.Run(d.name+", ManagedIdentityCredential with client_id", func(t *testing.T) {
			r := runPyClientAs(t, runEnv, rs.appID, d.prefix, append(read, "--credential", "managed", "--client-id", rs.uaClientID)...)
			wantJSSecret(t, m, r, rs.vault, "ManagedIdentityCredential", ua)
		})
		t.Run(d.name+", DefaultAzureCredential with AZURE_CLIENT_ID", func(t *testing.T) {
			r := runPyClientAs(t, append(slices.Clip(runEnv), "AZURE_CLIENT_ID="+rs.uaClientID), rs.appID, d.prefix, append(read, "--credential", "default")...)
			wantJSSecret(t, m, r, rs.vault, "DefaultAzureCredential", ua)
		})
		t.Run(d.name+", system-assigned without the role", func(t *testing.T) {
			r := runPyClientAs(t, runEnv, rs.appID, d.prefix, append(read, "--credential", "managed")...)
			wantPyForbiddenByRbac(t, r, rs.systemPrincipal)
		})
	}
	// The other selectors App Service's dialect takes, through identity_config.
	t.Run("App Service, identity_config object_id", func(t *testing.T) {
		r := runPyClientAs(t, runEnv, rs.appID, nil, append(read, "--credential", "managed", "--identity-config", "object_id="+rs.uaPrincipal)...)
		wantJSSecret(t, m, r, rs.vault, "ManagedIdentityCredential", ua)
	})
	t.Run("App Service, identity_config mi_res_id", func(t *testing.T) {
		r := runPyClientAs(t, runEnv, rs.appID, nil, append(read, "--credential", "managed", "--identity-config", "mi_res_id="+rs.uaID)...)
		wantJSSecret(t, m, r, rs.vault, "ManagedIdentityCredential", ua)
	})
	// An application with a secret, against mint's STS (AZURE_AUTHORITY_HOST): MSAL for Python
	// validates the authority with instance discovery at login.microsoftonline.com, which
	// HTTPS_PROXY sends to mint's proxy.
	t.Run("ClientSecretCredential with AZURE_AUTHORITY_HOST", func(t *testing.T) {
		env := m.printedEnv(t, "HTTPS_PROXY", "HTTP_PROXY", "NO_PROXY", "REQUESTS_CA_BUNDLE", "AZURE_TENANT_ID", "AZURE_CLIENT_ID", "AZURE_CLIENT_SECRET", "AZURE_AUTHORITY_HOST")
		r := runPyClient(t, env, append(read, "--credential", "secret")...)
		wantJSSecret(t, m, r, rs.vault, "ClientSecretCredential", map[string]string{"appid": m.Env["AZURE_CLIENT_ID"], "idtyp": "app"})
	})
}

// TestPythonSDKIMDSThroughProxy: Python programs on a VM. mint dev is bound to a VM with a
// system-assigned identity and the user-assigned web-id; the program gets only the proxy
// variables and REQUESTS_CA_BUNDLE mint dev printed, so azure-identity picks IMDS at
// http://169.254.169.254 (first probing it without the Metadata header), and requests sends
// both through HTTP_PROXY to mint's proxy, which answers from mint dev's agent.
func TestPythonSDKIMDSThroughProxy(t *testing.T) {
	needPython(t)
	m := startMint(t, options{})
	rs := seedReaderScenario(t, m, "kv-py-imds")
	m.mustCLI("resource", "identity", "assign", "--type", "Microsoft.Compute/virtualMachines", "-g", "app", "-n", "vm1", "--identities", "web-id")
	m.stop()
	bound := startMint(t, options{dataDir: m.dataDir, extra: []string{"--bind-host", rs.vmID}})
	env := bound.printedEnv(t, "HTTPS_PROXY", "HTTP_PROXY", "NO_PROXY", "REQUESTS_CA_BUNDLE")
	read := []string{"--vault", rs.vault, "--secret", "db-password"}
	system := map[string]string{"oid": rs.vmPrincipal, "xms_mirid": mirid(rs.vmID), "xms_az_rid": ""}
	ua := map[string]string{"oid": rs.uaPrincipal, "appid": rs.uaClientID, "xms_mirid": mirid(rs.uaID), "xms_az_rid": mirid(rs.vmID)}

	t.Run("ManagedIdentityCredential, system-assigned", func(t *testing.T) {
		wantJSSecret(t, bound, runPyClient(t, env, append(read, "--credential", "managed")...), rs.vault, "ManagedIdentityCredential", system)
	})
	t.Run("ManagedIdentityCredential with client_id", func(t *testing.T) {
		r := runPyClient(t, env, append(read, "--credential", "managed", "--client-id", rs.uaClientID)...)
		wantJSSecret(t, bound, r, rs.vault, "ManagedIdentityCredential", ua)
	})
	t.Run("ManagedIdentityCredential, identity_config object_id", func(t *testing.T) {
		r := runPyClient(t, env, append(read, "--credential", "managed", "--identity-config", "object_id="+rs.uaPrincipal)...)
		wantJSSecret(t, bound, r, rs.vault, "ManagedIdentityCredential", ua)
	})
	t.Run("ManagedIdentityCredential, identity_config msi_res_id", func(t *testing.T) {
		r := runPyClient(t, env, append(read, "--credential", "managed", "--identity-config", "msi_res_id="+rs.uaID)...)
		wantJSSecret(t, bound, r, rs.vault, "ManagedIdentityCredential", ua)
	})
	t.Run("DefaultAzureCredential, system-assigned", func(t *testing.T) {
		wantJSSecret(t, bound, runPyClient(t, env, append(read, "--credential", "default")...), rs.vault, "DefaultAzureCredential", system)
	})
	t.Run("DefaultAzureCredential with AZURE_CLIENT_ID", func(t *testing.T) {
		r := runPyClient(t, append(slices.Clip(env), "AZURE_CLIENT_ID="+rs.uaClientID), append(read, "--credential", "default")...)
		wantJSSecret(t, bound, r, rs.vault, "DefaultAzureCredential", ua)
	})
}
