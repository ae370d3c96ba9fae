package e2e

import (
	"bufio"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Revocation beyond Azure: when what a token was issued for no longer stands, the node agents
// stop serving it within a second (the server pushes the change on the node channel's long
// poll, fed by the store's revocation feed), and ARM and the directory API refuse it as the
// vault does. Every change is made through the CLI on one server and, on PostgreSQL, the agent
// is connected to another replica.

// revocationWithin is the goal: the agent refuses this long after the change was acknowledged.
const revocationWithin = time.Second

// startReplicas starts the servers of a revocation test: on SQLite one server (a and b are the
// same), on PostgreSQL two replicas of one database. Changes are made through a; the agent joins
// b. extraB are more flags for b (a fixed --addr, to restart it where the agent looks).
func startReplicas(t *testing.T, kind storeKind, extraB ...string) (a, b *mint) {
	t.Helper()
	url := kind.url(t)
	if url == "" {
		a = startMint(t, options{mode: "server", extra: append([]string{"--print-admin-secret"}, extraB...)})
		return a, a
	}
	a = startMint(t, options{mode: "server", store: url, extra: []string{"--print-admin-secret"}})
	b = startMint(t, options{mode: "server", store: url, extra: extraB})
	if a.Env["AZURE_CLIENT_SECRET"] == "" {
		t.Fatalf("mint server --print-admin-secret wrote no environment: %v", a.Env)
	}
	b.Env = map[string]string{}
	for k, v := range a.Env {
		b.Env[k] = v
	}
	b.Env["AZURE_AUTHORITY_HOST"], b.Env["MINT_ENDPOINT"] = b.URL, b.URL
	writeEnv(t, b)
	return a, b
}

// nodeClientID is the client id the agent joined as.
func nodeClientID(t *testing.T, a *agentProc) string {
	t.Helper()
	var n struct{ ClientID string }
	data, err := os.ReadFile(filepath.Join(a.dataDir, "node.json"))
	if err != nil {
		t.Fatal(err)
	}
	mustJSON(t, string(data), &n)
	return n.ClientID
}

// nodeObjectID is the object id of the principal the agent joined as.
func nodeObjectID(t *testing.T, a *agentProc) string {
	t.Helper()
	var n struct{ ObjectID string }
	data, err := os.ReadFile(filepath.Join(a.dataDir, "node.json"))
	if err != nil {
		t.Fatal(err)
	}
	mustJSON(t, string(data), &n)
	if n.ObjectID == "" {
		t.Fatalf("node.json names no objectId: %s", data)
	}
	return n.ObjectID
}

// feedReached waits until the agent has had its first answer from the revocation feed, which
// drops whatever it cached before (it cannot know what was revoked before it had a cursor).
func feedReached(t *testing.T, ag *agentProc) {
	t.Helper()
	waitFor(t, func() (string, bool) {
		return "the agent never reached the revocation feed:\n" + ag.log.String(), strings.Contains(ag.log.String(), "revocation feed reached")
	})
}

// servedThenRefused gets a token through the agent as resource (so the agent caches it), makes
// change, and checks that a workload started revocationWithin after the change was acknowledged
// is refused, where the agent would otherwise have served its cached token for hours.
func servedThenRefused(t *testing.T, m *mint, ag *agentProc, what, resource string, change func(), args ...string) {
	t.Helper()
	if claims, stderr := m.runWorkload(t, ag.socket, resource, args...); claims == nil {
		t.Fatalf("%s: the workload got no token before the change: %s\nagent log:\n%s", what, stderr, ag.log.String())
	}
	if claims, _ := m.runWorkload(t, ag.socket, resource, args...); claims == nil {
		t.Fatalf("%s: the cached token was not served before the change", what)
	}
	change()
	acked := time.Now()
	time.Sleep(time.Until(acked.Add(revocationWithin)))
	claims, stderr := m.runWorkload(t, ag.socket, resource, args...)
	if claims != nil {
		t.Fatalf("%s: the agent still served the token %v after the change was acknowledged (oid %v)\nagent log:\n%s",
			what, time.Since(acked).Round(time.Millisecond), claims["oid"], ag.log.String())
	}
	if strings.Contains(stderr, "connection refused") {
		t.Errorf("%s: refused, but because the agent is gone: %s", what, stderr)
	}
	t.Logf("%s: refused %v after the change: %s", what, revocationWithin, strings.TrimSpace(stderr))
}

func TestAgentRefusesWithinOneSecondAfterEachRevokingChange(t *testing.T) {
	for _, kind := range stores(t) {
		t.Run(kind.name, func(t *testing.T) {
			a, b := startReplicas(t, kind)
			sc := seedScenario(t, a)
			ag := startLeanAgent(t, b, "/subscriptions/"+sc.sub)
			feedReached(t, ag)
			create := func(name string, flags ...string) string {
				var r struct{ ID string }
				mustJSON(t, a.mustCLI(append([]string{"resource", "create", "--type", "Microsoft.App/containerApps", "-g", "app", "-n", name}, flags...)...), &r)
				return r.ID
			}
			identity := func(name string) (id, clientID string) {
				var ua struct{ ID, ClientID string }
				mustJSON(t, a.mustCLI("identity", "create", "-g", "app", "-n", name), &ua)
				return ua.ID, ua.ClientID
			}

			t.Run("identity detached from its resource", func(t *testing.T) {
				uaID, clientID := identity("rv-detach")
				app := create("rv-detach-app", "--user-assigned", uaID)
				servedThenRefused(t, a, ag, "detach", app, func() {
					a.mustCLI("resource", "identity", "remove", "--ids", app, "--identities", uaID)
				}, "-client-id", clientID)
			})
			t.Run("identity deleted", func(t *testing.T) {
				uaID, clientID := identity("rv-delete")
				app := create("rv-delete-app", "--user-assigned", uaID)
				servedThenRefused(t, a, ag, "identity deleted", app, func() {
					a.mustCLI("identity", "delete", "--ids", uaID)
				}, "-client-id", clientID)
			})
			t.Run("resource deleted", func(t *testing.T) {
				app := create("rv-gone-app", "--system-assigned")
				servedThenRefused(t, a, ag, "resource deleted", app, func() {
					a.mustCLI("resource", "delete", "--ids", app)
				})
			})
			t.Run("node loses its broker role", func(t *testing.T) {
				app := create("rv-node-app", "--system-assigned")
				servedThenRefused(t, a, ag, "broker role removed", app, func() {
					a.mustCLI("role", "assignment", "delete", "--assignee", nodeClientID(t, ag), "--scope", "/subscriptions/"+sc.sub)
				})
			})

			// A node that holds the broker role over a resource group only through a group, and
			// then only through a custom role: another agent, joined where the test's resources
			// are not, so that each change takes its last path to them away.
			ag2 := startLeanAgent(t, b, "/subscriptions/"+sc.sub+"/resourceGroups/app")
			feedReached(t, ag2)
			node2 := nodeObjectID(t, ag2)
			a.mustCLI("group", "create", "-n", "rv-nodes", "-l", "eastus")
			nodesScope := "/subscriptions/" + sc.sub + "/resourceGroups/rv-nodes"
			createIn := func(name string) string {
				var r struct{ ID string }
				mustJSON(t, a.mustCLI("resource", "create", "--type", "Microsoft.App/containerApps", "-g", "rv-nodes", "-n", name, "--system-assigned"), &r)
				return r.ID
			}
			adGroup := func(name string) string {
				var g struct{ ID string }
				mustJSON(t, a.mustCLI("ad", "group", "create", "--display-name", name, "--mail-nickname", name), &g)
				return g.ID
			}
			t.Run("node's group leaves the group holding the broker role", func(t *testing.T) {
				brokers, rack := adGroup("rv-brokers"), adGroup("rv-rack")
				a.mustCLI("ad", "group", "member", "add", "--group", brokers, "--member-id", rack)
				a.mustCLI("ad", "group", "member", "add", "--group", rack, "--member-id", node2)
				a.mustCLI("role", "assignment", "create", "--assignee-object-id", brokers, "--assignee-principal-type", "Group",
					"--role", "Managed Identity Token Broker", "--scope", nodesScope)
				app := createIn("rv-group-app")
				servedThenRefused(t, a, ag2, "node's group left the broker group", app, func() {
					a.mustCLI("ad", "group", "member", "remove", "--group", brokers, "--member-id", rack)
				})
			})
			t.Run("custom role loses the broker action", func(t *testing.T) {
				role := func(dataActions string) string {
					return `{"Name": "rv broker", "Description": "brokers tokens in rv-nodes", "Actions": ["Microsoft.Resources/subscriptions/resourceGroups/read"],
						"DataActions": [` + dataActions + `], "AssignableScopes": ["/subscriptions/` + sc.sub + `"]}`
				}
				a.mustCLI("role", "definition", "create", "--role-definition", role(`"Microsoft.ManagedIdentity/identities/issueToken/action"`))
				a.mustCLI("role", "assignment", "create", "--assignee-object-id", node2, "--assignee-principal-type", "ServicePrincipal",
					"--role", "rv broker", "--scope", nodesScope)
				app := createIn("rv-role-app")
				servedThenRefused(t, a, ag2, "custom role lost the broker action", app, func() {
					a.mustCLI("role", "definition", "update", "--role-definition", role(""))
				})
			})
		})
	}
}

// An agent cut off from the server keeps serving the tokens it holds (as without the feed), and
// when it reaches the server again it catches up from its cursor: what was revoked meanwhile
// (on PostgreSQL, through the other replica) is dropped.
func TestAgentCutOffFromServerServesCachedTokens(t *testing.T) {
	for _, kind := range stores(t) {
		t.Run(kind.name, func(t *testing.T) {
			addr := freeAddr(t)
			a, b := startReplicas(t, kind, "--addr", addr)
			sc := seedScenario(t, a)
			ag := startLeanAgent(t, b, "/subscriptions/"+sc.sub)
			feedReached(t, ag)
			args := []string{"-client-id", sc.uaClientID}
			if claims, stderr := b.runWorkload(t, ag.socket, sc.appID, args...); claims == nil {
				t.Fatalf("no token before the cut: %s\nagent log:\n%s", stderr, ag.log.String())
			}

			b.stop()
			for i := 0; i < 2; i++ {
				if claims, stderr := b.runWorkload(t, ag.socket, sc.appID, args...); claims == nil {
					t.Fatalf("the agent cut off from its server did not serve its cached token: %s\nagent log:\n%s", stderr, ag.log.String())
				}
			}
			if a != b {
				// Revoked through the other replica while the agent cannot hear of it: it keeps
				// serving (it cannot know) until it reaches its server again.
				a.mustCLI("resource", "identity", "remove", "--ids", sc.appID, "--identities", sc.uaID)
				if claims, stderr := b.runWorkload(t, ag.socket, sc.appID, args...); claims == nil {
					t.Fatalf("the agent cut off from its server stopped serving: %s", stderr)
				}
			}
			reached := strings.Count(ag.log.String(), "revocation feed reached")
			b.start() // same data dir, store and address
			// The agent retries with a backoff of at most 10 s.
			for deadline := time.Now().Add(30 * time.Second); strings.Count(ag.log.String(), "revocation feed reached") == reached; time.Sleep(100 * time.Millisecond) {
				if time.Now().After(deadline) {
					t.Fatalf("the agent never reached its server again:\n%s", ag.log.String())
				}
			}
			if a == b {
				a.mustCLI("resource", "identity", "remove", "--ids", sc.appID, "--identities", sc.uaID)
			}
			acked := time.Now()
			time.Sleep(time.Until(acked.Add(revocationWithin)))
			if claims, _ := b.runWorkload(t, ag.socket, sc.appID, args...); claims != nil {
				t.Fatalf("after reconnecting, the agent still served the detached identity's token\nagent log:\n%s", ag.log.String())
			}
		})
	}
}

// ARM and the directory API refuse the token of a managed identity detached from the resource
// it was issued for, as the vault does: the same program, with the same credential and the
// token its SDK cached, is accepted before the detach and refused with 401 after.
func TestARMAndGraphRefuseARevokedToken(t *testing.T) {
	for _, kind := range stores(t) {
		t.Run(kind.name, func(t *testing.T) {
			m := startMint(t, options{store: kind.url(t)})
			sc := seedScenario(t, m)
			m.mustCLI("role", "assignment", "create", "--assignee", sc.uaPrincipal, "--role", "Reader", "--scope", "/subscriptions/"+sc.sub+"/resourceGroups/app")

			cmd := exec.Command(mintBin, "run", "--proxy", "--resource", sc.appID, "--", proxyClient, "-mode", "watch", "-credential", "managed",
				"-client-id", sc.uaClientID, "-subscription", sc.sub, "-group", "app")
			cmd.Env = append(cleanEnv(), "MINT_DATA_DIR="+m.dataDir)
			stdin, _ := cmd.StdinPipe()
			stdout, _ := cmd.StdoutPipe()
			var stderr lockedBuffer
			cmd.Stderr = &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { stdin.Close(); cmd.Process.Kill(); cmd.Wait() })
			lines := bufio.NewScanner(stdout)
			round := func() map[string]string {
				t.Helper()
				got := make(chan map[string]string, 1)
				go func() {
					var r map[string]string
					if lines.Scan() {
						json.Unmarshal(lines.Bytes(), &r)
					}
					got <- r
				}()
				select {
				case r := <-got:
					if r == nil {
						t.Fatalf("the program stopped: %s", stderr.String())
					}
					return r
				case <-time.After(60 * time.Second):
					t.Fatalf("no answer from the program: %s", stderr.String())
				}
				return nil
			}
			before := round()
			if before["arm"] != "200" || !strings.HasPrefix(before["graph"], "403 ") {
				t.Fatalf("before the detach: %v (want ARM 200, Graph 403: authenticated, no Graph role)\n%s", before, stderr.String())
			}
			m.mustCLI("resource", "identity", "remove", "--ids", sc.appID, "--identities", sc.uaID)
			time.Sleep(revocationWithin)
			io.WriteString(stdin, "again\n")
			after := round()
			if after["arm"] != "401 InvalidAuthenticationToken" || after["graph"] != "401 InvalidAuthenticationToken" {
				t.Errorf("after the detach, with the token the SDK cached: %v, want 401 InvalidAuthenticationToken from both", after)
			}
		})
	}
}
