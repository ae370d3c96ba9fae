package e2e

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azsecrets"
)

// The Azure-name proxy: unmodified programs that know only Azure's own host names reach mint
// with nothing but the environment `mint dev` prints. The programs run as subprocesses
// (proxyclient), since Go reads the proxy variables once per process.

// printedEnv is a child environment made of nothing but PATH, a fresh HOME and the named
// variables as `mint dev` printed them.
func (m *mint) printedEnv(t *testing.T, names ...string) []string {
	t.Helper()
	env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()}
	for _, n := range names {
		v, ok := m.Env[n]
		if !ok {
			t.Fatalf("mint dev did not print %s", n)
		}
		env = append(env, n+"="+v)
	}
	return env
}

var proxyVars = []string{"HTTPS_PROXY", "HTTP_PROXY", "NO_PROXY", "SSL_CERT_FILE"}

// runProxyClient runs proxyclient with env and returns its JSON output, or fails with its stderr.
func runProxyClient(t *testing.T, env []string, args ...string) map[string]any {
	t.Helper()
	out, stderr, err := tryProxyClient(env, args...)
	if err != nil {
		t.Fatalf("proxyclient %s: %v\n%s", strings.Join(args, " "), err, stderr)
	}
	return out
}

func tryProxyClient(env []string, args ...string) (map[string]any, string, error) {
	cmd := exec.Command(proxyClient, args...)
	cmd.Env = env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return nil, stderr.String(), err
	}
	var out map[string]any
	if err := json.Unmarshal(stdout.Bytes(), &out); err != nil {
		return nil, stdout.String(), err
	}
	return out, "", nil
}

// proxiedClient is an in-process HTTP client that uses mint's proxy explicitly (this process
// has no HTTPS_PROXY) and trusts mint's CA.
func (m *mint) proxiedClient(t *testing.T) *http.Client {
	t.Helper()
	u, err := url.Parse(m.Env["HTTPS_PROXY"])
	if err != nil {
		t.Fatal(err)
	}
	pool, err := x509.SystemCertPool()
	if err != nil {
		t.Fatal(err)
	}
	return &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{Proxy: http.ProxyURL(u), TLSClientConfig: &tls.Config{RootCAs: pool}}}
}

func TestProxyEnvironmentIsPrintedAndReprintedByMintEnv(t *testing.T) {
	m := startMint(t, options{})
	proxyURL := m.Env["HTTPS_PROXY"]
	if !strings.HasPrefix(proxyURL, "http://127.0.0.1:") || m.Env["HTTP_PROXY"] != proxyURL || m.Env["NO_PROXY"] != "127.0.0.1,localhost" {
		t.Fatalf("proxy environment HTTPS_PROXY=%q HTTP_PROXY=%q NO_PROXY=%q", proxyURL, m.Env["HTTP_PROXY"], m.Env["NO_PROXY"])
	}
	for _, k := range []string{"SSL_CERT_FILE", "NODE_EXTRA_CA_CERTS", "REQUESTS_CA_BUNDLE"} {
		if m.Env[k] == "" {
			t.Errorf("env lacks %s", k)
		}
	}
	if !strings.Contains(m.log.String(), "export HTTPS_PROXY="+proxyURL) {
		t.Errorf("mint dev did not print HTTPS_PROXY:\n%s", m.log.String())
	}

	bash := m.mustCLI("env")
	for k, v := range m.Env {
		if !strings.Contains(bash, "export "+k+"=") {
			t.Errorf("mint env lacks %s", k)
		}
		if k == "HTTPS_PROXY" && !strings.Contains(bash, "export HTTPS_PROXY="+v+"\n") {
			t.Errorf("mint env: %s", bash)
		}
	}
	if fish := m.mustCLI("env", "--shell", "fish"); !strings.Contains(fish, "set -gx HTTPS_PROXY '"+proxyURL+"';\n") {
		t.Errorf("mint env --shell fish:\n%s", fish)
	}
	if ps := m.mustCLI("env", "--shell", "powershell"); !strings.Contains(ps, "$env:NO_PROXY = '127.0.0.1,localhost'\n") {
		t.Errorf("mint env --shell powershell:\n%s", ps)
	}
	if _, err := m.cli("env", "--data-dir", t.TempDir()); err == nil || !strings.Contains(err.Error(), "no environment in") {
		t.Errorf("mint env on an empty directory: %v", err)
	}

	off := startMint(t, options{extra: []string{"--proxy-addr", ""}})
	for _, k := range []string{"HTTPS_PROXY", "HTTP_PROXY", "NO_PROXY"} {
		if _, ok := off.Env[k]; ok {
			t.Errorf("--proxy-addr '' still printed %s", k)
		}
	}
}

func TestProxyClientSecretCredentialWithDefaultAuthority(t *testing.T) {
	m := startMint(t, options{})
	m.mustCLI("group", "create", "-n", "proxied-rg", "-l", "eastus")
	// No AZURE_AUTHORITY_HOST: the SDK's defaults (login.microsoftonline.com with instance
	// discovery, management.azure.com) are the only way to mint, through the proxy.
	env := m.printedEnv(t, append(proxyVars, "AZURE_TENANT_ID", "AZURE_CLIENT_ID", "AZURE_CLIENT_SECRET", "AZURE_SUBSCRIPTION_ID")...)
	out := runProxyClient(t, env, "-mode", "arm")
	groups, _ := out["resourceGroups"].([]any)
	found := false
	for _, g := range groups {
		found = found || g == "proxied-rg"
	}
	if !found {
		t.Errorf("resource groups listed through management.azure.com: %v, want proxied-rg", groups)
	}
	claims, _ := out["claims"].(map[string]any)
	if claims["tid"] != m.Env["AZURE_TENANT_ID"] || claims["appid"] != m.Env["AZURE_CLIENT_ID"] || !isEntraIssuer(claims["iss"], m.Env["AZURE_TENANT_ID"]) {
		t.Errorf("token claims %v: want mint's token for the admin application", claims)
	}
	// The token request is in mint's sign-in log (written asynchronously).
	waitFor(t, func() (string, bool) {
		log := m.mustCLI("signin-log", "list", "--app-id", m.Env["AZURE_CLIENT_ID"])
		return log, strings.Contains(log, "management.core.windows.net")
	})
}

func TestProxyIMDSThroughTheDevAgent(t *testing.T) {
	m := startMint(t, options{})
	env := m.printedEnv(t, proxyVars...)
	// No host binding: the agent's own refusal, through the proxy.
	_, stderr, err := tryProxyClient(env, "-mode", "token", "-credential", "managed", "-scope", "https://vault.azure.net/.default")
	if err == nil || !strings.Contains(stderr, "Identity not found") {
		t.Errorf("IMDS without a host binding: %v %s", err, stderr)
	}

	m.mustCLI("group", "create", "-n", "vms", "-l", "eastus")
	var vm struct {
		ID       string
		Identity struct{ PrincipalID string }
	}
	mustJSON(t, m.mustCLI("resource", "create", "--type", "Microsoft.Compute/virtualMachines", "-g", "vms", "-n", "vm1", "--system-assigned"), &vm)
	m.stop()
	bound := startMint(t, options{dataDir: m.dataDir, extra: []string{"--bind-host", vm.ID}})
	env = bound.printedEnv(t, proxyVars...)
	for _, cred := range []string{"default", "managed"} {
		t.Run(cred, func(t *testing.T) {
			out := runProxyClient(t, env, "-mode", "token", "-credential", cred, "-scope", "https://vault.azure.net/.default")
			claims, _ := out["claims"].(map[string]any)
			if claims["oid"] != vm.Identity.PrincipalID || !strings.EqualFold(fmt.Sprint(claims["xms_mirid"]), mirid(vm.ID)) {
				t.Errorf("claims %v, want the VM's system identity %s", claims, vm.Identity.PrincipalID)
			}
		})
	}
}

func TestProxyRefusesEverythingElse(t *testing.T) {
	m := startMint(t, options{})
	proxyAddr := strings.TrimPrefix(m.Env["HTTPS_PROXY"], "http://")

	conn, err := net.DialTimeout("tcp", proxyAddr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	fmt.Fprintf(conn, "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n")
	resp, err := http.ReadResponse(bufio.NewReader(conn), &http.Request{Method: http.MethodConnect})
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusForbidden || !strings.Contains(string(body), "example.com:443") || !strings.Contains(string(body), "never forwards") {
		t.Errorf("CONNECT example.com:443: %d %s", resp.StatusCode, body)
	}

	c := m.proxiedClient(t)
	for _, u := range []string{"http://example.com/", "http://management.azure.com/subscriptions"} {
		resp, err := c.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden || !strings.Contains(string(body), "never forwards") {
			t.Errorf("GET %s through the proxy: %d %s", u, resp.StatusCode, body)
		}
	}
	if _, err := c.Get("https://example.com/"); err == nil || !strings.Contains(err.Error(), "Forbidden") {
		t.Errorf("GET https://example.com through the proxy: %v, want the proxy's 403", err)
	}
}

// requireVaultDataPlane fails unless mint answers https://<vault>.vault.azure.net as Key Vault
// (its service-version header): a build without it is a regression, not a reason to skip.
func (m *mint) requireVaultDataPlane(t *testing.T) {
	t.Helper()
	resp, err := m.proxiedClient(t).Get("https://probe.vault.azure.net/secrets?api-version=7.4")
	if err != nil {
		t.Fatalf("probe the vault data plane through the proxy: %v", err)
	}
	resp.Body.Close()
	if resp.Header.Get("x-ms-keyvault-service-version") == "" {
		t.Fatalf("the vault data plane does not answer *.vault.azure.net through the proxy: %s without x-ms-keyvault-service-version", resp.Status)
	}
}

func TestProxyVaultSecretThroughAzureNames(t *testing.T) {
	m := startMint(t, options{})
	m.requireVaultDataPlane(t)
	sc := seedScenario(t, m)
	var vm struct {
		ID       string
		Identity struct{ PrincipalID string }
	}
	mustJSON(t, m.mustCLI("resource", "create", "--type", "Microsoft.Compute/virtualMachines", "-g", "app", "-n", "vm1", "--system-assigned"), &vm)

	admin := m.adminCredential(t)
	suffix := make([]byte, 4)
	rand.Read(suffix)
	vaultName := "kv" + hex.EncodeToString(suffix)
	vaultID := "/subscriptions/" + sc.sub + "/resourceGroups/app/providers/Microsoft.KeyVault/vaults/" + vaultName
	status, body := m.rmDo(t, admin, "PUT", vaultID+"?api-version=2023-07-01", map[string]any{"location": "eastus", "properties": map[string]any{
		"tenantId": m.Env["AZURE_TENANT_ID"], "sku": map[string]any{"family": "A", "name": "standard"}, "enableRbacAuthorization": true}})
	if status != http.StatusOK && status != http.StatusCreated {
		t.Fatalf("create vault: %d %v", status, body)
	}
	m.mustCLI("role", "assignment", "create", "--assignee", m.Env["AZURE_CLIENT_ID"], "--role", "Key Vault Secrets Officer", "--scope", vaultID)
	for _, p := range []string{sc.systemPrincipal, vm.Identity.PrincipalID} {
		m.mustCLI("role", "assignment", "create", "--assignee", p, "--role", "Key Vault Secrets User", "--scope", vaultID)
	}
	vaultURL := "https://" + vaultName + ".vault.azure.net"
	secrets, err := azsecrets.NewClient(vaultURL, admin, &azsecrets.ClientOptions{ClientOptions: azcore.ClientOptions{Transport: m.proxiedClient(t)}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := secrets.SetSecret(ctx, "db-password", azsecrets.SetSecretParameters{Value: to.Ptr("s3cr3t through the proxy")}, nil); err != nil {
		t.Fatalf("set the secret through %s: %v", vaultURL, err)
	}

	// The host's IMDS (the VM) through HTTP_PROXY, the vault through HTTPS_PROXY.
	m.stop()
	bound := startMint(t, options{dataDir: m.dataDir, extra: []string{"--bind-host", vm.ID}})
	out := runProxyClient(t, bound.printedEnv(t, proxyVars...), "-mode", "secret", "-credential", "default", "-vault", vaultURL, "-name", "db-password")
	if out["value"] != "s3cr3t through the proxy" {
		t.Errorf("DefaultAzureCredential (IMDS) read %v", out)
	}
	// The vaultUri mint hands out (https://<vault>.vault.localhost:<port>) works through the proxy
	// too, with no /etc/hosts entry: the challenge names the port, the client's check passes. Go
	// reads NO_PROXY's "localhost" as covering *.localhost; Node does not and proxies these names,
	// which NO_PROXY=127.0.0.1 reproduces here.
	_, body = bound.rmDo(t, bound.adminCredential(t), "GET", vaultID+"?api-version=2023-07-01", nil)
	vaultURI := strings.TrimSuffix(rmStr(body, "properties.vaultUri"), "/")
	if !strings.HasPrefix(vaultURI, "https://"+vaultName+".") || strings.Contains(vaultURI, "vault.azure.net") {
		t.Fatalf("vaultUri %q", vaultURI)
	}
	nodeLike := append(bound.printedEnv(t, proxyVars...), "NO_PROXY=127.0.0.1")
	out = runProxyClient(t, nodeLike, "-mode", "secret", "-credential", "default", "-vault", vaultURI, "-name", "db-password")
	if out["value"] != "s3cr3t through the proxy" {
		t.Errorf("through the vaultUri %s: read %v", vaultURI, out)
	}

	// ManagedIdentityCredential under `mint run --proxy` as the container app.
	cmd := exec.Command(mintBin, "run", "--proxy", "--resource", sc.appID, "--", proxyClient, "-mode", "secret", "-credential", "managed", "-vault", vaultURL, "-name", "db-password")
	cmd.Env = append(cleanEnv(), "MINT_DATA_DIR="+bound.dataDir)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("mint run --proxy: %v\n%s", err, stderr.String())
	}
	var got map[string]any
	mustJSON(t, stdout.String(), &got)
	if got["value"] != "s3cr3t through the proxy" {
		t.Errorf("ManagedIdentityCredential under mint run read %v", got)
	}
}
