package e2e

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// scenario is the seeds' set-up: a container app with a system-assigned identity and a
// user-assigned one attached.
type scenario struct {
	sub, appID, systemPrincipal   string
	uaID, uaClientID, uaPrincipal string
}

func seedScenario(t *testing.T, m *mint) scenario {
	t.Helper()
	m.mustCLI("group", "create", "-n", "app", "-l", "eastus")
	var ua struct{ ID, ClientID, PrincipalID string }
	mustJSON(t, m.mustCLI("identity", "create", "-g", "app", "-n", "web-id"), &ua)
	var app struct {
		ID       string
		Identity struct{ PrincipalID string }
	}
	mustJSON(t, m.mustCLI("resource", "create", "--type", "Microsoft.App/containerApps", "-g", "app", "-n", "web", "--system-assigned", "--user-assigned", "web-id"), &app)
	if app.Identity.PrincipalID == "" || ua.ClientID == "" {
		t.Fatalf("scenario not set up: app %+v, identity %+v", app, ua)
	}
	return scenario{sub: m.Env["AZURE_SUBSCRIPTION_ID"], appID: app.ID, systemPrincipal: app.Identity.PrincipalID,
		uaID: ua.ID, uaClientID: ua.ClientID, uaPrincipal: ua.PrincipalID}
}

// runWorkload runs miclient under `mint run` as resource and returns its claims, or its stderr.
func (m *mint) runWorkload(t *testing.T, socket, resource string, args ...string) (map[string]any, string) {
	t.Helper()
	full := append([]string{"run", "--socket", socket, "--resource", resource, "--", miClient}, args...)
	cmd := exec.Command(mintBin, full...)
	cmd.Env = cleanEnv()
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return nil, stderr.String()
	}
	var claims map[string]any
	mustJSON(t, stdout.String(), &claims)
	return claims, ""
}

var resourceGroupsRE = regexp.MustCompile(`(?i)/resourcegroups/`)

func mirid(id string) string { return resourceGroupsRE.ReplaceAllString(id, "/resourcegroups/") }

func TestManagedIdentityThroughMintRun(t *testing.T) {
	for _, sk := range stores(t) {
		t.Run(sk.name, func(t *testing.T) {
			m := startMint(t, options{store: sk.url(t)})
			sc := seedScenario(t, m)
			socket := m.Env["MINT_AGENT_SOCKET"]
			ua := map[string]any{"oid": sc.uaPrincipal, "appid": sc.uaClientID, "xms_mirid": mirid(sc.uaID), "xms_az_rid": mirid(sc.appID)}
			system := map[string]any{"oid": sc.systemPrincipal, "xms_mirid": mirid(sc.appID)}
			cases := []struct {
				name string
				args []string
				want map[string]any
			}{
				{"system-assigned, App Service dialect", []string{"-credential", "managed"}, system},
				{"user-assigned by client id", []string{"-client-id", sc.uaClientID}, ua},
				{"user-assigned by object id", []string{"-object-id", sc.uaPrincipal}, ua},
				{"user-assigned by resource id", []string{"-resource-id", sc.uaID}, ua},
				{"DefaultAzureCredential", []string{"-credential", "default"}, system},
				{"Azure ML dialect (MSI_ENDPOINT + MSI_SECRET)", []string{"-unset", "IDENTITY_ENDPOINT,IDENTITY_HEADER", "-client-id", sc.uaClientID}, ua},
				{"ARM audience", []string{"-scope", "https://management.azure.com//.default"}, map[string]any{"aud": "https://management.azure.com/", "oid": sc.systemPrincipal}},
			}
			for _, tc := range cases {
				t.Run(tc.name, func(t *testing.T) {
					claims, stderr := m.runWorkload(t, socket, sc.appID, tc.args...)
					if claims == nil {
						t.Fatalf("workload failed: %s", stderr)
					}
					want := map[string]any{"appidacr": "2", "idtyp": "app", "tid": m.Env["AZURE_TENANT_ID"], "ver": "1.0"}
					for k, v := range tc.want {
						want[k] = v
					}
					for k, v := range want {
						if !strings.EqualFold(fmt.Sprint(claims[k]), fmt.Sprint(v)) {
							t.Errorf("claim %s = %v, want %v", k, claims[k], v)
						}
					}
					if _, has := tc.want["xms_az_rid"]; !has && claims["xms_az_rid"] != nil {
						t.Errorf("a system-assigned token carries xms_az_rid %v", claims["xms_az_rid"])
					}
					if life := claims["exp"].(float64) - claims["iat"].(float64); life < 23*3600 {
						t.Errorf("managed-identity token lives %v s, want about 24 h", life)
					}
				})
			}
		})
	}
}

func TestManagedIdentityRefusals(t *testing.T) {
	m := startMint(t, options{})
	sc := seedScenario(t, m)
	socket := m.Env["MINT_AGENT_SOCKET"]

	// An identity the resource does not have.
	if _, stderr := m.runWorkload(t, socket, sc.appID, "-client-id", "11111111-2222-3333-4444-555555555555"); !strings.Contains(stderr, "no managed identity has client id 11111111-2222-3333-4444-555555555555") {
		t.Errorf("unknown identity: stderr = %s", stderr)
	}
	// A resource without a system-assigned identity and several user-assigned ones needs a selector.
	m.mustCLI("identity", "create", "-g", "app", "-n", "second-id")
	var bare struct{ ID string }
	mustJSON(t, m.mustCLI("resource", "create", "--type", "Microsoft.Web/sites", "-g", "app", "-n", "api", "--user-assigned", "web-id", "--user-assigned", "second-id"), &bare)
	if _, stderr := m.runWorkload(t, socket, bare.ID); !strings.Contains(stderr, "Multiple user assigned identities") {
		t.Errorf("several identities, none chosen: stderr = %s", stderr)
	}
	// After the identity is detached, the workload no longer gets its tokens.
	m.mustCLI("resource", "identity", "remove", "--ids", sc.appID, "--identities", "web-id")
	if _, stderr := m.runWorkload(t, socket, sc.appID, "-client-id", sc.uaClientID); !strings.Contains(stderr, "not attached") {
		t.Errorf("detached identity: stderr = %s", stderr)
	}

	// A stale secret: the run's IDENTITY_HEADER after the program exited.
	cmd := exec.Command(mintBin, "run", "--socket", socket, "--resource", sc.appID, "--", "sh", "-c", `echo "$IDENTITY_ENDPOINT $IDENTITY_HEADER"`)
	cmd.Env = cleanEnv()
	out, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	endpoint, secret, _ := strings.Cut(strings.TrimSpace(string(out)), " ")
	req, _ := http.NewRequest("GET", endpoint+"?api-version=2019-08-01&resource=https://vault.azure.net", nil)
	req.Header.Set("X-IDENTITY-HEADER", secret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode < 400 || resp.StatusCode >= 500 {
		t.Errorf("stale secret answered %d, want a 4xx refusal", resp.StatusCode)
	}

	// Every refusal is in the sign-in log with its reason (the log is written in batches).
	waitFor(t, func() (string, bool) {
		out := m.mustCLI("signin-log", "list", "--top", "100")
		return out, strings.Contains(out, "not attached to resource") && strings.Contains(out, "no managed identity has client id") &&
			strings.Contains(out, "Multiple user assigned identities")
	})
}

// agentProc is a standalone `mint agent`.
type agentProc struct {
	dataDir   string
	cmd       *exec.Cmd
	socket    string
	imdsProxy string
	done      chan struct{}
	log       *lockedBuffer
}

// startAgent joins a standalone agent (`mint agent`) to m with the broker role at scope.
func startAgent(t *testing.T, m *mint, scope string, extra ...string) *agentProc {
	t.Helper()
	return startAgentCommand(t, []string{mintBin, "agent"}, m, scope, extra...)
}

// startLeanAgent is startAgent with the lean binary a node installs (cmd/mint-agent).
func startLeanAgent(t *testing.T, m *mint, scope string, extra ...string) *agentProc {
	t.Helper()
	return startAgentCommand(t, []string{agentBin}, m, scope, extra...)
}

// startAgentCommand runs command (the binary and its leading arguments) as the agent.
func startAgentCommand(t *testing.T, command []string, m *mint, scope string, extra ...string) *agentProc {
	t.Helper()
	var jt struct{ JoinToken string }
	mustJSON(t, m.mustCLI("node", "join-token", "create", "--scope", scope, "--name", "e2e"), &jt)
	dir := t.TempDir()
	args := append(append(slices.Clone(command[1:]), "--server", m.URL, "--join-token", jt.JoinToken, "--data-dir", dir, "--addr", "127.0.0.1:0",
		"--proxy-addr", "127.0.0.1:0", "--ca-file", filepath.Join(sharedDir, "ca.pem")), extra...)
	a := &agentProc{dataDir: dir, socket: filepath.Join(dir, "agent.sock"), done: make(chan struct{}), log: &lockedBuffer{}}
	a.cmd = exec.Command(command[0], args...)
	a.cmd.Env = cleanEnv()
	stdout, _ := a.cmd.StdoutPipe()
	a.cmd.Stderr = a.log
	if err := a.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string, 16)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			a.log.Write([]byte(sc.Text() + "\n"))
			lines <- sc.Text()
		}
		close(lines)
	}()
	go func() { a.cmd.Wait(); close(a.done) }()
	t.Cleanup(func() {
		a.cmd.Process.Signal(syscall.SIGTERM)
		<-a.done
		if t.Failed() {
			t.Logf("agent log:\n%s", a.log.String())
		}
	})
	deadline := time.After(20 * time.Second)
	for a.imdsProxy == "" {
		select {
		case line, ok := <-lines:
			if !ok {
				t.Fatalf("agent exited:\n%s", a.log.String())
			}
			if _, v, ok := strings.Cut(line, "HTTP_PROXY="); ok {
				a.imdsProxy = strings.TrimSpace(v)
			}
		case <-deadline:
			t.Fatalf("agent not serving after 20 s:\n%s", a.log.String())
		}
	}
	go func() {
		for range lines {
		}
	}()
	return a
}

func TestNodeWithoutBrokerRoleIsRefused(t *testing.T) {
	m := startMint(t, options{})
	sc := seedScenario(t, m)
	m.mustCLI("group", "create", "-n", "other", "-l", "eastus")
	a := startAgent(t, m, "/subscriptions/"+sc.sub+"/resourceGroups/other")
	_, stderr := m.runWorkload(t, a.socket, sc.appID)
	if !strings.Contains(stderr, "Managed Identity Token Broker") {
		t.Fatalf("a node without the broker role over the app got past: %s", stderr)
	}
}

func TestIMDSThroughProxyForAHostBoundVM(t *testing.T) {
	m := startMint(t, options{})
	m.mustCLI("group", "create", "-n", "vms", "-l", "eastus")
	var vm struct {
		ID       string
		Identity struct{ PrincipalID string }
	}
	mustJSON(t, m.mustCLI("resource", "create", "--type", "Microsoft.Compute/virtualMachines", "-g", "vms", "-n", "vm1", "--system-assigned"), &vm)
	a := startAgent(t, m, "/subscriptions/"+m.Env["AZURE_SUBSCRIPTION_ID"], "--bind-host", vm.ID)
	for _, cred := range []string{"managed", "default"} {
		t.Run(cred, func(t *testing.T) {
			// The IMDS address is reached only through HTTP_PROXY, which is the agent.
			cmd := exec.Command(miClient, "-credential", cred)
			cmd.Env = append(cleanEnv(), "HTTP_PROXY="+a.imdsProxy, "http_proxy="+a.imdsProxy, "NO_PROXY=", "no_proxy=")
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			if err := cmd.Run(); err != nil {
				t.Fatalf("IMDS client failed: %v\n%s", err, stderr.String())
			}
			var claims map[string]any
			mustJSON(t, stdout.String(), &claims)
			if claims["oid"] != vm.Identity.PrincipalID || !strings.EqualFold(fmt.Sprint(claims["xms_mirid"]), mirid(vm.ID)) {
				t.Errorf("claims %v, want the VM's system identity %s", claims, vm.Identity.PrincipalID)
			}
		})
	}
}

func TestAgentServesCachedTokensWhileServerIsDown(t *testing.T) {
	m := startMint(t, options{})
	sc := seedScenario(t, m)
	a := startAgent(t, m, "/subscriptions/"+sc.sub)
	first, stderr := m.runWorkload(t, a.socket, sc.appID)
	if first == nil {
		t.Fatalf("first token: %s", stderr)
	}
	m.stop()
	second, stderr := m.runWorkload(t, a.socket, sc.appID)
	if second == nil {
		t.Fatalf("with the server stopped the agent did not serve its cached token: %s", stderr)
	}
	if second["uti"] != first["uti"] {
		t.Errorf("got a different token (%v, %v) although the server is down", first["uti"], second["uti"])
	}
	data, _ := json.Marshal(second)
	_ = os.WriteFile(filepath.Join(t.TempDir(), "claims.json"), data, 0o600)
}
