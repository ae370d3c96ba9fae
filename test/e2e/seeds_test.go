package e2e

import (
	"bufio"
	"bytes"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestSeedsScenarioEndToEnd is the seeds' story on mint: a container app whose user-assigned
// identity holds "Key Vault Secrets User" on a vault reads a secret with the unmodified azsecrets
// client and ManagedIdentityCredential (client id) under `mint run`; with its system-assigned
// identity and DefaultAzureCredential too; without the role it gets ForbiddenByRbac; and once the
// identity is detached, its still-valid token is refused within a second.
func TestSeedsScenarioEndToEnd(t *testing.T) {
	for _, sk := range stores(t) {
		t.Run(sk.name, func(t *testing.T) {
			m := startMint(t, options{store: sk.url(t)})
			sc := seedScenario(t, m)
			socket := m.Env["MINT_AGENT_SOCKET"]
			vaultName := fmt.Sprintf("kv%d", time.Now().UnixNano()%1_000_000_000)
			var kv struct {
				ID       string
				VaultURI string `json:"vaultUri"`
			}
			mustJSON(t, m.mustCLI("keyvault", "create", "-n", vaultName, "-g", "app"), &kv)
			if kv.VaultURI == "" {
				var raw map[string]any
				mustJSON(t, m.mustCLI("keyvault", "show", "-n", vaultName, "-g", "app"), &raw)
				props, _ := raw["properties"].(map[string]any)
				kv.VaultURI, _ = props["vaultUri"].(string)
			}
			if kv.VaultURI == "" || kv.ID == "" {
				t.Fatalf("vault without id or URI: %+v", kv)
			}
			// As in Azure, owning the subscription grants no data actions: the admin gives itself
			// Secrets Officer on the vault before it can write secrets.
			m.mustCLI("role", "assignment", "create", "--assignee", m.Env["AZURE_CLIENT_ID"], "--role", "Key Vault Secrets Officer", "--scope", kv.ID)
			m.mustCLI("keyvault", "secret", "set", "--vault-name", vaultName, "-n", "db-password", "--value", "correct horse")
			read := func(args ...string) (string, string) {
				cmd := exec.Command(mintBin, append([]string{"run", "--socket", socket, "--resource", sc.appID, "--", miClient, "-vault", kv.VaultURI, "-secret", "db-password"}, args...)...)
				cmd.Env = cleanEnv()
				var stdout, stderr bytes.Buffer
				cmd.Stdout, cmd.Stderr = &stdout, &stderr
				cmd.Run()
				return strings.TrimSpace(stdout.String()), stderr.String()
			}
			// A new role assignment counts within the vault's 500 ms authorization cache.
			readAfterGrant := func(args ...string) (string, string) {
				deadline := time.Now().Add(2 * time.Second)
				for {
					out, stderr := read(args...)
					if out != "" || time.Now().After(deadline) {
						return out, stderr
					}
					time.Sleep(100 * time.Millisecond)
				}
			}

			// No role yet: the refusal names what is missing.
			if out, stderr := read("-client-id", sc.uaClientID); out != "" || !strings.Contains(stderr, "ForbiddenByRbac") {
				t.Fatalf("without a role: out %q, stderr %s", out, stderr)
			}
			m.mustCLI("role", "assignment", "create", "--assignee", sc.uaPrincipal, "--role", "Key Vault Secrets User", "--scope", kv.ID)
			if out, stderr := readAfterGrant("-client-id", sc.uaClientID); out != "correct horse" {
				t.Fatalf("user-assigned identity with the role read %q: %s", out, stderr)
			}
			// The system-assigned identity, through DefaultAzureCredential.
			if out, _ := read("-credential", "default"); out != "" {
				t.Fatalf("the system-assigned identity read the secret without a role")
			}
			m.mustCLI("role", "assignment", "create", "--assignee", sc.systemPrincipal, "--role", "Key Vault Secrets User", "--scope", kv.ID)
			if out, stderr := readAfterGrant("-credential", "default"); out != "correct horse" {
				t.Fatalf("DefaultAzureCredential read %q: %s", out, stderr)
			}

			// Detach while a workload holds a valid token: refused within a second.
			cmd := exec.Command(mintBin, "run", "--socket", socket, "--resource", sc.appID, "--", miClient,
				"-vault", kv.VaultURI, "-secret", "db-password", "-client-id", sc.uaClientID, "-watch", "20s")
			cmd.Env = cleanEnv()
			stdout, _ := cmd.StdoutPipe()
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			defer cmd.Process.Kill()
			lines := bufio.NewScanner(stdout)
			waitLine := func(pred func(string) bool) (int64, string) {
				for lines.Scan() {
					f := strings.Fields(lines.Text())
					if len(f) >= 2 && pred(lines.Text()) {
						ms, _ := strconv.ParseInt(f[0], 10, 64)
						return ms, lines.Text()
					}
				}
				t.Fatal("the watching workload ended without the expected line")
				return 0, ""
			}
			waitLine(func(l string) bool { return strings.HasSuffix(l, " OK") })
			m.mustCLI("resource", "identity", "remove", "--ids", sc.appID, "--identities", "web-id")
			detached := time.Now().UnixMilli()
			refusedAt, line := waitLine(func(l string) bool { return !strings.HasSuffix(l, " OK") })
			if !strings.Contains(line, " 401 ") {
				t.Errorf("after detaching: %q, want a 401", line)
			}
			if d := time.Duration(refusedAt-detached) * time.Millisecond; d > time.Second {
				t.Errorf("the detached identity's token was still accepted %v after the detach (want < 1 s)", d)
			} else {
				t.Logf("refused %v after the detach returned", d)
			}
		})
	}
}
