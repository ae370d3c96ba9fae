package e2e

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mint-id/mint/internal/server"
)

// The production form, as a platform team runs it: `mint server` (on PostgreSQL when the test
// command provides it) and a separate `mint agent` with a data directory of its own, standing in
// for a second host. The agent serves the Azure-name proxy as mint dev does, so an unmodified
// program that uses https://<vault>.vault.azure.net runs on that node under `mint run --proxy`.

// startServer starts `mint server` on kind's store with --print-admin-secret, so that the CLI
// can sign in with the environment it wrote.
func startServer(t *testing.T, kind storeKind) *mint {
	t.Helper()
	m := startMint(t, options{mode: "server", store: kind.url(t), extra: []string{"--print-admin-secret"}})
	if m.Env["AZURE_CLIENT_SECRET"] == "" || m.Env["MINT_ENDPOINT"] != m.URL {
		t.Fatalf("mint server --print-admin-secret wrote no complete environment: %v", m.Env)
	}
	return m
}

func TestProductionNodeServesAzureNamesThroughItsProxy(t *testing.T) {
	for _, kind := range stores(t) {
		t.Run(kind.name, func(t *testing.T) {
			m := startServer(t, kind)
			rs := seedReaderScenario(t, m, "kv1")
			a := startLeanAgent(t, m, "/subscriptions/"+rs.sub) // the binary a node installs

			// What mint run --proxy gives the program comes from the agent's environment file.
			agentEnv, err := server.ParseEnvFile(filepath.Join(a.dataDir, "env"))
			if err != nil {
				t.Fatal(err)
			}
			for _, k := range []string{"HTTPS_PROXY", "HTTP_PROXY", "NO_PROXY", "SSL_CERT_FILE", "MINT_AGENT_SOCKET"} {
				if agentEnv[k] == "" {
					t.Errorf("the agent's env file lacks %s: %v", k, agentEnv)
				}
			}
			if fi, err := os.Stat(filepath.Join(a.dataDir, "env")); err != nil || fi.Mode().Perm() != 0o600 {
				t.Errorf("agent env file: %v, want mode 0600", err)
			}

			// Only the agent's data directory: no server environment, no credential.
			env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(), "MINT_DATA_DIR=" + a.dataDir}
			read := []string{"-vault", rs.vault, "-secret", "db-password"}
			t.Run("secret-reader", func(t *testing.T) {
				stdout, stderr, code := runReaderAs(t, env, rs.appID, append(read, "-managed-identity", "-client-id", rs.uaClientID)...)
				if code != 0 || stdout != readerSecret+"\n" {
					t.Fatalf("secret-reader on the node: exit %d, stdout %q, stderr:\n%s\nagent log:\n%s", code, stdout, stderr, a.log.String())
				}
				stdout, stderr, code = runReaderAs(t, append(env, "AZURE_CLIENT_ID="+rs.uaClientID), rs.appID, read...)
				if code != 0 || stdout != readerSecret+"\n" {
					t.Fatalf("secret-reader (DefaultAzureCredential) on the node: exit %d, stdout %q, stderr:\n%s", code, stdout, stderr)
				}
			})
			t.Run("Dapr Key Vault component", func(t *testing.T) {
				lines, stderr, code := runDapr(t, env, rs.appID, []string{"vaultName=" + rs.vault, "azureClientId=" + rs.uaClientID}, "-get", "db-password")
				if code != 0 {
					t.Fatalf("exit %d, %+v; stderr:\n%s", code, lines, stderr)
				}
				wantData(t, lines, stderr, "get", map[string]string{"db-password": readerSecret})
			})
			t.Run("the node's proxy refuses other names without dialing", func(t *testing.T) {
				conn, err := net.DialTimeout("tcp", strings.TrimPrefix(agentEnv["HTTPS_PROXY"], "http://"), 5*time.Second)
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
				if resp.StatusCode != http.StatusForbidden || !strings.Contains(string(body), "never forwards") {
					t.Errorf("CONNECT example.com:443 through the node's proxy: %d %s", resp.StatusCode, body)
				}
			})
		})
	}
}
