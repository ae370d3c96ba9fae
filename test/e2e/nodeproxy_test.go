package e2e

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
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
				status, body := connectThrough(t, agentEnv["HTTPS_PROXY"], "example.com:443")
				if status != http.StatusForbidden || !strings.Contains(body, "never forwards") {
					t.Errorf("CONNECT example.com:443 through the node's proxy: %d %s", status, body)
				}
			})
			// By default the node's proxy passes the workload's TLS through: the leaf is the
			// server's, for exactly the vault's name. With --proxy-tls terminate (a server behind a
			// TLS-terminating load balancer) the agent terminates it with the node's proxy
			// certificate, for all of Azure's names, and the vault GET is still served.
			vaultHost := rs.vault + ".vault.azure.net"
			if leaf := tunnelLeaf(t, agentEnv["HTTPS_PROXY"], vaultHost, agentEnv["SSL_CERT_FILE"]); !slices.Equal(leaf.DNSNames, []string{vaultHost}) {
				t.Errorf("through the node's proxy %s presented %v, want the server's leaf for exactly that name (passthrough)", vaultHost, leaf.DNSNames)
			}
			t.Run("--proxy-tls terminate", func(t *testing.T) {
				a.stop()
				a = runAgentCommand(t, []string{agentBin}, a.dataDir, "--proxy-tls", "terminate")
				agentEnv, err := server.ParseEnvFile(filepath.Join(a.dataDir, "env"))
				if err != nil {
					t.Fatal(err)
				}
				if leaf := tunnelLeaf(t, agentEnv["HTTPS_PROXY"], vaultHost, agentEnv["SSL_CERT_FILE"]); !slices.Contains(leaf.DNSNames, "*.vault.azure.net") {
					t.Errorf("--proxy-tls terminate: the proxy presented %v, want the node's proxy certificate", leaf.DNSNames)
				}
				stdout, stderr, code := runReaderAs(t, env, rs.appID, append(read, "-managed-identity", "-client-id", rs.uaClientID)...)
				if code != 0 || stdout != readerSecret+"\n" {
					t.Fatalf("secret-reader through a terminating node proxy: exit %d, stdout %q, stderr:\n%s\nagent log:\n%s", code, stdout, stderr, a.log.String())
				}
			})
		})
	}
}

// TestProductionNodeServesAzureCLI: the real Azure CLI on a production node, with only the
// environment the node's agent wrote (its proxy and CA bundle), reaches every Azure name the node's
// proxy serves: login.microsoftonline.com (MSAL Python's instance discovery and the token
// endpoint), management.azure.com, graph.microsoft.com and <vault>.vault.azure.net; then signs
// in with the node's managed identity under `mint run --proxy`.
func TestProductionNodeServesAzureCLI(t *testing.T) {
	az := needAz(t)
	for _, kind := range stores(t) {
		t.Run(kind.name, func(t *testing.T) {
			m := startServer(t, kind)
			tenant, sub, adminID := m.Env["AZURE_TENANT_ID"], m.Env["AZURE_SUBSCRIPTION_ID"], m.Env["AZURE_CLIENT_ID"]
			rs := seedReaderScenario(t, m, "kv1")
			a := startLeanAgent(t, m, "/subscriptions/"+rs.sub)
			agentEnv, err := server.ParseEnvFile(filepath.Join(a.dataDir, "env"))
			if err != nil {
				t.Fatal(err)
			}
			env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(), azConfigDir(t)}
			for _, k := range []string{"HTTPS_PROXY", "HTTP_PROXY", "NO_PROXY", "REQUESTS_CA_BUNDLE", "SSL_CERT_FILE"} {
				env = append(env, k+"="+agentEnv[k])
			}

			var accounts []azAccount
			mustAz(t, env, az, &accounts, "login", "--service-principal", "-u", adminID, "-p", m.Env["AZURE_CLIENT_SECRET"], "--tenant", tenant, "-o", "json")
			if len(accounts) != 1 || accounts[0].ID != sub || accounts[0].TenantID != tenant {
				t.Fatalf("az login through the node's proxy: %+v", accounts)
			}
			var ua struct{ ClientID, TenantID string }
			mustAz(t, env, az, &ua, "identity", "create", "-g", "app", "-n", "node-id", "-o", "json")
			if ua.ClientID == "" || ua.TenantID != tenant {
				t.Errorf("az identity create through the node's proxy: %+v", ua)
			}
			var sp struct{ AppID string }
			mustAz(t, env, az, &sp, "ad", "sp", "show", "--id", adminID, "-o", "json")
			if sp.AppID != adminID {
				t.Errorf("az ad sp show (graph.microsoft.com) through the node's proxy: %+v", sp)
			}
			// The vault's data plane with az's own Key Vault token (the admin is the vault's
			// Secrets Officer).
			secretURL := "https://" + rs.vault + ".vault.azure.net/secrets/db-password?api-version=7.4"
			var secret struct{ Value string }
			mustAz(t, env, az, &secret, "rest", "--url", secretURL, "--resource", "https://vault.azure.net", "-o", "json")
			if secret.Value != readerSecret {
				t.Errorf("az rest to the vault through the node's proxy: %+v", secret)
			}

			// Managed identity on the node, as the VM: az 2.45 (msrestazure) asks IMDS, which
			// http://169.254.169.254 through HTTP_PROXY reaches on the node's proxy and agent.
			runEnv := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(), "MINT_DATA_DIR=" + a.dataDir, azConfigDir(t)}
			asVM := func(args ...string) []string {
				return append([]string{"run", "--proxy", "--dialect", "imds", "--resource", rs.vmID, "--", az}, args...)
			}
			mustAz(t, runEnv, mintBin, &accounts, asVM("login", "--identity", "-o", "json")...)
			if len(accounts) != 1 || accounts[0].ID != sub || accounts[0].User.Name != "systemAssignedIdentity" {
				t.Fatalf("az login --identity on the node: %+v", accounts)
			}
			secret.Value = ""
			mustAz(t, runEnv, mintBin, &secret, asVM("rest", "--url", secretURL, "--resource", "https://vault.azure.net", "-o", "json")...)
			if secret.Value != readerSecret {
				t.Errorf("az rest as the VM's managed identity on the node: %+v", secret)
			}
		})
	}
}

// tunnelLeaf opens a tunnel to host:443 through the proxy at proxyURL and returns the leaf
// certificate presented in it, checked against the CA bundle a workload is given.
func tunnelLeaf(t *testing.T, proxyURL, host, bundle string) *x509.Certificate {
	t.Helper()
	pem, err := os.ReadFile(bundle)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(pem)
	c, err := net.DialTimeout("tcp", strings.TrimPrefix(proxyURL, "http://"), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	fmt.Fprintf(c, "CONNECT %s:443 HTTP/1.1\r\nHost: %s:443\r\n\r\n", host, host)
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, &http.Request{Method: http.MethodConnect})
	if err != nil || resp.StatusCode != http.StatusOK || br.Buffered() != 0 {
		t.Fatalf("CONNECT %s through %s: %v %v", host, proxyURL, resp, err)
	}
	tc := tls.Client(c, &tls.Config{ServerName: host, RootCAs: roots})
	if err := tc.Handshake(); err != nil {
		t.Fatalf("TLS to %s through %s: %v", host, proxyURL, err)
	}
	return tc.ConnectionState().PeerCertificates[0]
}
