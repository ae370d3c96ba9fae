package e2e

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Where Azure's host serves only the resource's own identity, the clients refuse a user-assigned
// one before asking (Cloud Shell, Service Fabric; JS on Arc too); Go asks Arc, which refuses it.
var (
	goRefusesUserAssigned = map[string]string{
		"cloudshell":    "Cloud Shell doesn't support user-assigned managed identities",
		"servicefabric": "Service Fabric API doesn't support specifying a user-assigned identity",
		"arc":           "received 400",
	}
	jsRefusesUserAssigned = map[string]string{
		"cloudshell":    "not supported for CloudShell",
		"servicefabric": "not supported by the Service Fabric managed identity environment",
		"arc":           "Arc",
	}
)

// TestEveryDialectThroughMintRun: `mint run --dialect D` presents each managed-identity endpoint
// of Azure's hosts to an unmodified program, for any resource: the real azidentity (Go,
// test/e2e/miclient) and @azure/identity (JS, test/e2e/jsclient) pick the source the variables
// select and get the run's resource's tokens. Arc is served with its key-file challenge (Go's
// and JS's clients read key files only under /var/opt/azcmagent/tokens, so mint dev runs as
// root here) and refuses user-assigned identities as Azure Arc does; Service Fabric is mint dev's
// own https listener, trusted by Go and Python through the pinned thumbprint
// (IDENTITY_SERVER_THUMBPRINT) and by Node through the file mint run names in NODE_EXTRA_CA_CERTS.
func TestEveryDialectThroughMintRun(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatal("this test runs mint dev as root: Azure Arc's Go and JS clients accept challenge key files only under /var/opt/azcmagent/tokens (run the suite as root, as ./test.sh does in CI)")
	}
	removeArcTokenDirAtEnd(t)
	node, npm := needNode(t)
	installed := startJSClientInstall(t, npm)
	m := startMint(t, options{})
	sc := seedScenario(t, m)
	socket := m.Env["MINT_AGENT_SOCKET"]
	system := map[string]string{"oid": sc.systemPrincipal, "xms_mirid": mirid(sc.appID)}
	ua := map[string]string{"oid": sc.uaPrincipal, "appid": sc.uaClientID, "xms_mirid": mirid(sc.uaID), "xms_az_rid": mirid(sc.appID)}

	// runAs runs prog under `mint run --dialect d --resource <app>` with only PATH and HOME.
	runAs := func(t *testing.T, d string, prog ...string) (stdout, stderr string, code int) {
		t.Helper()
		args := append([]string{"run", "--socket", socket, "--dialect", d, "--resource", sc.appID, "--"}, prog...)
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, mintBin, args...)
		cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()}
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		err := cmd.Run()
		if _, ok := err.(*exec.ExitError); err != nil && !ok {
			t.Fatalf("mint run: %v", err)
		}
		return out.String(), errb.String(), cmd.ProcessState.ExitCode()
	}
	wantClaims := func(t *testing.T, claims map[string]any, want map[string]string) {
		t.Helper()
		for k, v := range want {
			if !strings.EqualFold(fmt.Sprint(claims[k]), v) {
				t.Errorf("claim %s = %v, want %s", k, claims[k], v)
			}
		}
		if claims["aud"] != "https://vault.azure.net" || claims["tid"] != m.Env["AZURE_TENANT_ID"] {
			t.Errorf("claims %v: want mint's Key Vault token", claims)
		}
	}

	dialects := []string{"appservice", "azureml", "cloudshell", "arc", "imds", "servicefabric"}
	for _, d := range dialects {
		t.Run("Go "+d+" system-assigned", func(t *testing.T) {
			out, stderr, code := runAs(t, d, miClient, "-credential", "managed")
			if code != 0 {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			var claims map[string]any
			mustJSON(t, out, &claims)
			wantClaims(t, claims, system)
		})
		t.Run("Go "+d+" user-assigned", func(t *testing.T) {
			out, stderr, code := runAs(t, d, miClient, "-client-id", sc.uaClientID)
			if refusal := goRefusesUserAssigned[d]; refusal != "" {
				if code == 0 || !strings.Contains(stderr, refusal) {
					t.Fatalf("%s with a user-assigned identity: exit %d, %s %s; want %q", d, code, out, stderr, refusal)
				}
				return
			}
			if code != 0 {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			var claims map[string]any
			mustJSON(t, out, &claims)
			wantClaims(t, claims, ua)
		})
	}

	dir := installed()
	for _, d := range dialects {
		t.Run("JS "+d+" system-assigned", func(t *testing.T) {
			out, stderr, code := runAs(t, d, jsCommand(node, dir, "--scope", "https://vault.azure.net/.default", "--credential", "managed")...)
			r := parseJSRun(t, out, stderr, code)
			if r.code != 0 || len(r.tokens) != 1 {
				t.Fatalf("want one token: %v", r)
			}
			wantJSClaims(t, m, r.tokens[0], "https://vault.azure.net", system)
		})
		t.Run("JS "+d+" user-assigned", func(t *testing.T) {
			out, stderr, code := runAs(t, d, jsCommand(node, dir, "--scope", "https://vault.azure.net/.default", "--credential", "managed", "--client-id", sc.uaClientID)...)
			r := parseJSRun(t, out, stderr, code)
			if refusal := jsRefusesUserAssigned[d]; refusal != "" {
				if r.code == 0 || !strings.Contains(r.last.Message, refusal) {
					t.Fatalf("%s with a user-assigned identity: %v; want %q", d, r, refusal)
				}
				return
			}
			if r.code != 0 || len(r.tokens) != 1 {
				t.Fatalf("want one token: %v", r)
			}
			wantJSClaims(t, m, r.tokens[0], "https://vault.azure.net", ua)
		})
	}

	// Python's ManagedIdentityCredential (Debian's python3-azure, azure-identity 1.13.0b2) on
	// each dialect, system-assigned.
	for _, d := range dialects {
		t.Run("Python "+d+" system-assigned", func(t *testing.T) {
			out, stderr, code := runAs(t, d, "/usr/bin/python3", "pyclient/mitoken.py", "https://vault.azure.net/.default")
			if code != 0 {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			var claims map[string]any
			mustJSON(t, out, &claims)
			wantClaims(t, claims, system)
		})
	}

	// The Service Fabric certificate is kept: a restart of mint dev serves the same thumbprint,
	// and the trust file mint run made is gone after the run.
	thumb := func() string {
		out, stderr, code := runAs(t, "servicefabric", "/bin/sh", "-c", `echo "$IDENTITY_SERVER_THUMBPRINT $NODE_EXTRA_CA_CERTS"`)
		if code != 0 {
			t.Fatalf("sh: %d %s", code, stderr)
		}
		return strings.TrimSpace(out)
	}
	before := strings.Fields(thumb())
	m.restart()
	after := strings.Fields(thumb())
	if len(before) != 2 || len(after) != 2 || before[0] != after[0] || len(before[0]) != 40 {
		t.Errorf("Service Fabric thumbprint before and after a restart: %v, %v", before, after)
	}
	if _, err := os.Stat(before[1]); !os.IsNotExist(err) {
		t.Errorf("NODE_EXTRA_CA_CERTS file %s left behind: %v", before[1], err)
	}
	if fi, err := os.Stat(filepath.Join(m.dataDir, "dev-service-fabric.json")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("the kept Service Fabric certificate: %v %v", fi, err)
	}
}

// TestDialectsUnderMintAgent: `mint run --dialect` against a standalone `mint agent` with a
// Service Fabric listener: Cloud Shell and Arc (Go), Service Fabric (Go and JS, Node trusting the
// listener through the file mint run writes). The agent keeps its Service Fabric certificate in
// its data directory (key 0600): after a restart the thumbprint is the same.
func TestDialectsUnderMintAgent(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatal("this test runs mint agent as root: Azure Arc's Go client accepts challenge key files only under /var/opt/azcmagent/tokens (run the suite as root, as ./test.sh does in CI)")
	}
	removeArcTokenDirAtEnd(t)
	node, npm := needNode(t)
	installed := startJSClientInstall(t, npm)
	m := startMint(t, options{})
	sc := seedScenario(t, m)
	a := startAgent(t, m, "/subscriptions/"+sc.sub, "--service-fabric-addr", "127.0.0.1:0")
	run := func(t *testing.T, a *agentProc, d string, prog ...string) (string, string, int) {
		t.Helper()
		cmd := exec.Command(mintBin, append([]string{"run", "--socket", a.socket, "--dialect", d, "--resource", sc.appID, "--"}, prog...)...)
		cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()}
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		err := cmd.Run()
		if _, ok := err.(*exec.ExitError); err != nil && !ok {
			t.Fatalf("mint run: %v", err)
		}
		return out.String(), errb.String(), cmd.ProcessState.ExitCode()
	}
	for _, d := range []string{"cloudshell", "arc", "servicefabric"} {
		t.Run("Go "+d, func(t *testing.T) {
			out, stderr, code := run(t, a, d, miClient, "-credential", "managed")
			if code != 0 {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			var claims map[string]any
			mustJSON(t, out, &claims)
			if claims["oid"] != sc.systemPrincipal {
				t.Errorf("claims %v: want the app's system-assigned identity %s", claims, sc.systemPrincipal)
			}
		})
	}
	dir := installed()
	t.Run("JS servicefabric", func(t *testing.T) {
		out, stderr, code := run(t, a, "servicefabric", jsCommand(node, dir, "--scope", "https://vault.azure.net/.default", "--credential", "managed")...)
		r := parseJSRun(t, out, stderr, code)
		if r.code != 0 || len(r.tokens) != 1 {
			t.Fatalf("want one token: %v", r)
		}
		wantJSClaims(t, m, r.tokens[0], "https://vault.azure.net", map[string]string{"oid": sc.systemPrincipal})
	})

	thumbprint := func(a *agentProc) string {
		out, stderr, code := run(t, a, "servicefabric", "/bin/sh", "-c", `echo "$IDENTITY_SERVER_THUMBPRINT"`)
		if code != 0 {
			t.Fatalf("sh: %d %s", code, stderr)
		}
		return strings.TrimSpace(out)
	}
	before := thumbprint(a)
	a.stop()
	again := runAgent(t, a.dataDir, "--service-fabric-addr", "127.0.0.1:0")
	if after := thumbprint(again); len(before) != 40 || after != before {
		t.Errorf("Service Fabric thumbprint %q before the restart, %q after", before, after)
	}
	if fi, err := os.Stat(filepath.Join(a.dataDir, "service-fabric.key")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("the Service Fabric key file: %v %v", fi, err)
	}
}

// removeArcTokenDirAtEnd removes Arc's key directory (/var/opt/azcmagent/tokens, which the agent
// creates as root) when the test ends, if it did not exist before.
func removeArcTokenDirAtEnd(t *testing.T) {
	created := ""
	for _, d := range []string{"/var/opt/azcmagent", "/var/opt/azcmagent/tokens"} {
		if _, err := os.Stat(d); os.IsNotExist(err) && created == "" {
			created = d
		}
	}
	if created != "" {
		t.Cleanup(func() { os.RemoveAll(created) })
	}
}
