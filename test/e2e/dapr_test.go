package e2e

import (
	"bytes"
	"encoding/json"
	"os/exec"
	"reflect"
	"strings"
	"testing"
	"time"
)

// Dapr's guide to managed identities, with Dapr's real Azure Key Vault secret store component
// (secretstores.azure.keyvault, github.com/dapr/components-contrib, unmodified; see
// test/e2e/daprclient) loaded as the Dapr sidecar loads it: metadata vaultName, and azureClientId
// for a user-assigned identity. The program runs as the container app under
// `mint run --proxy --resource <app id>`, so the component sees what it sees in Container Apps:
// IDENTITY_ENDPOINT / IDENTITY_HEADER (App Service dialect), and https://<vault>.vault.azure.net
// through mint's Azure-name proxy.
//
// Nothing reaches the network. The program's environment is PATH, a fresh HOME and
// MINT_DATA_DIR, plus what mint run adds: no AZURE_* credential variable, so Dapr's auth chain
// (client secret, certificate, workload identity, SPIFFE, managed identity, Azure CLI) has only
// the managed identity to build, and it omits the Azure CLI when IDENTITY_ENDPOINT is set.
// AZURE_TOKEN_CREDENTIALS would not help here: the chain is Dapr's own ChainedTokenCredential,
// not DefaultAzureCredential. With IDENTITY_ENDPOINT set, azidentity's ManagedIdentityCredential
// asks the agent on 127.0.0.1 and Dapr skips its IMDS reachability probe; every other request
// (the vault, and any request to 169.254.169.254) goes through HTTPS_PROXY / HTTP_PROXY to mint's
// proxy on 127.0.0.1, which serves Azure's names itself and never dials out.

var daprClient string // test/e2e/daprclient, built by TestMain

// daprLine is one line daprclient prints.
type daprLine struct {
	Op    string
	Name  string
	Data  json.RawMessage
	Error string
}

// runDapr runs daprclient as resource under `mint run --proxy` with the component metadata md
// (name=value) and the extra arguments, and returns its output lines and exit code.
func runDapr(t *testing.T, env []string, resource string, md []string, args ...string) ([]daprLine, string, int) {
	t.Helper()
	full := []string{"run", "--proxy", "--resource", resource, "--", daprClient}
	for _, kv := range md {
		full = append(full, "-metadata", kv)
	}
	cmd := exec.Command(mintBin, append(full, args...)...)
	cmd.Env = env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if _, ok := err.(*exec.ExitError); err != nil && !ok {
		t.Fatalf("mint run daprclient: %v", err)
	}
	var lines []daprLine
	for _, l := range strings.Split(strings.TrimSpace(stdout.String()), "\n") {
		if l == "" {
			continue
		}
		var dl daprLine
		if err := json.Unmarshal([]byte(l), &dl); err != nil {
			t.Fatalf("daprclient printed %q (%v); stderr:\n%s", l, err, stderr.String())
		}
		lines = append(lines, dl)
	}
	return lines, stderr.String(), cmd.ProcessState.ExitCode()
}

// wantData checks that the step op succeeded with data (as JSON) equal to want.
func wantData(t *testing.T, lines []daprLine, stderr, op string, want any) {
	t.Helper()
	for _, l := range lines {
		if l.Op != op {
			continue
		}
		if l.Error != "" {
			t.Fatalf("%s failed: %s\nstderr:\n%s", op, l.Error, stderr)
		}
		var got, wantV any
		json.Unmarshal(l.Data, &got)
		b, _ := json.Marshal(want)
		json.Unmarshal(b, &wantV)
		if !reflect.DeepEqual(got, wantV) {
			t.Fatalf("%s returned %s, want %s", op, l.Data, b)
		}
		return
	}
	t.Fatalf("no %s step in %+v; stderr:\n%s", op, lines, stderr)
}

// wantRefused checks that Init succeeded and GetSecret failed with an error containing every
// string of want, and returns that error.
func wantRefused(t *testing.T, lines []daprLine, stderr string, code int, want ...string) string {
	t.Helper()
	if code != 1 || len(lines) != 2 || lines[0].Op != "init" || lines[0].Error != "" || lines[1].Op != "get" || lines[1].Error == "" {
		t.Fatalf("exit %d, %+v: want Init to succeed and GetSecret to fail; stderr:\n%s", code, lines, stderr)
	}
	for _, w := range want {
		if !strings.Contains(lines[1].Error, w) {
			t.Errorf("the component's error lacks %q:\n%s", w, lines[1].Error)
		}
	}
	return lines[1].Error
}

func TestDaprKeyVaultSecretStoreComponent(t *testing.T) {
	m := startMint(t, options{})
	// web: system-assigned identity without a role, web-id attached with "Key Vault Secrets
	// User"; worker: system-assigned only (the unscoped component's other app).
	rs := seedReaderScenario(t, m, "kv1")
	var v1 struct{ ID string }
	mustJSON(t, m.mustCLI("keyvault", "secret", "show", "--vault-name", rs.vault, "-n", "db-password"), &v1)
	firstVersion := v1.ID[strings.LastIndex(v1.ID, "/")+1:]
	m.mustCLI("keyvault", "secret", "set", "--vault-name", rs.vault, "-n", "db-password", "--value", "rotated")
	m.mustCLI("keyvault", "secret", "set", "--vault-name", rs.vault, "-n", "api-key", "--value", "k-123")
	m.mustCLI("keyvault", "secret", "set", "--vault-name", rs.vault, "-n", "retired", "--value", "old", "--enabled", "false")

	env := m.printedEnv(t, "MINT_DATA_DIR")
	vaultName := "vaultName=" + rs.vault // https://kv1.vault.azure.net, as in Azure
	userAssigned := "azureClientId=" + rs.uaClientID

	t.Run("user-assigned identity named by azureClientId", func(t *testing.T) {
		lines, stderr, code := runDapr(t, env, rs.appID, []string{vaultName, userAssigned}, "-get", "db-password", "-bulk")
		if code != 0 {
			t.Fatalf("exit %d, %+v; stderr:\n%s", code, lines, stderr)
		}
		wantData(t, lines, stderr, "get", map[string]string{"db-password": "rotated"})
		// BulkGetSecret lists the vault and reads each enabled secret's latest version.
		wantData(t, lines, stderr, "bulk", map[string]map[string]string{
			"db-password": {"db-password": "rotated"}, "api-key": {"api-key": "k-123"}})
		lines, stderr, _ = runDapr(t, env, rs.appID, []string{vaultName, userAssigned}, "-get", "db-password", "-version-id", firstVersion)
		wantData(t, lines, stderr, "get", map[string]string{"db-password": readerSecret})
		waitFor(t, func() (string, bool) {
			log := m.mustCLI("signin-log", "list", "--app-id", rs.uaClientID)
			return log, strings.Contains(log, `"managed_identity"`) && strings.Contains(log, "https://vault.azure.net")
		})
	})

	t.Run("system-assigned identity without the role", func(t *testing.T) {
		lines, stderr, code := runDapr(t, env, rs.appID, []string{vaultName}, "-get", "db-password")
		wantRefused(t, lines, stderr, code, "GET https://kv1.vault.azure.net/secrets/db-password/", "RESPONSE 403",
			"ForbiddenByRbac", "oid="+rs.systemPrincipal, `assign \"Key Vault Secrets User\"`)
	})

	t.Run("azureClientId names an identity the app lacks", func(t *testing.T) {
		// Dapr's troubleshooting case: an unscoped component names web-id, attached only to web,
		// and worker loads it too.
		lines, stderr, code := runDapr(t, env, rs.workerID, []string{vaultName, userAssigned}, "-get", "db-password")
		msg := wantRefused(t, lines, stderr, code, "ManagedIdentityCredential authentication failed", "RESPONSE 400",
			"AADSTS9900001: Identity not found: the identity with client id "+rs.uaClientID+" is not attached to resource '"+rs.workerID+"'",
			"Attach it with: mint resource identity assign --ids "+rs.workerID+" --identities "+rs.uaID)
		t.Logf("the component's error:\n%s", msg)
		// azureClientId set to something that is no managed identity at all.
		lines, stderr, code = runDapr(t, env, rs.appID, []string{vaultName, "azureClientId=" + m.Env["AZURE_CLIENT_ID"]}, "-get", "db-password")
		wantRefused(t, lines, stderr, code, "client id "+m.Env["AZURE_CLIENT_ID"]+" is the application 'mint admin', not a managed identity")
	})

	t.Run("system-assigned identity with the role", func(t *testing.T) {
		m.mustCLI("role", "assignment", "create", "--assignee", rs.systemPrincipal, "--role", "Key Vault Secrets User", "--scope", rs.vaultID)
		// The vault re-reads role assignments at most every 0.5 s.
		deadline := time.Now().Add(3 * time.Second)
		for {
			lines, stderr, code := runDapr(t, env, rs.appID, []string{vaultName}, "-get", "db-password", "-get", "api-key")
			if code == 0 || time.Now().After(deadline) {
				if code != 0 {
					t.Fatalf("exit %d, %+v; stderr:\n%s", code, lines, stderr)
				}
				if len(lines) != 3 || string(lines[1].Data) != `{"db-password":"rotated"}` || string(lines[2].Data) != `{"api-key":"k-123"}` {
					t.Fatalf("read %+v", lines)
				}
				break
			}
			time.Sleep(200 * time.Millisecond)
		}
		waitFor(t, func() (string, bool) {
			log := m.mustCLI("signin-log", "list", "--principal", rs.systemPrincipal)
			return log, strings.Contains(log, `"managed_identity"`) && strings.Contains(strings.ToLower(log), strings.ToLower(rs.appID))
		})
	})

	// Everything the component sent through the proxy was for a name mint serves.
	if log := m.log.String(); strings.Contains(log, "proxy request refused") {
		t.Errorf("mint's proxy refused a request of the component:\n%s", log)
	}
}
