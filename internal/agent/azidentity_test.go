package agent

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"sort"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
)

// These tests drive the real azidentity v1.15.0 (MSAL Go) clients against the agent on
// 127.0.0.1. MSAL Go caches managed-identity tokens process-wide by (identity, resource), so
// every case asks for its own audience to make sure a request reaches the agent.

// audSeq makes every audience unique within the process, so that MSAL's process-wide cache
// never answers for the agent (also with -count > 1).
var audSeq atomic.Int64

// newAudience returns a fresh audience and the scope that asks for it.
func newAudience(name string) (sc, aud string) {
	aud = fmt.Sprintf("api://mint-agent-test/%s-%d", name, audSeq.Add(1))
	return aud + "/.default", aud
}

func scope(name string) string { sc, _ := newAudience(name); return sc }

type idCase struct {
	name   string
	id     azidentity.ManagedIDKind
	client string // expected client id
}

// getToken builds a ManagedIdentityCredential from the current environment and gets a token.
func getToken(t *testing.T, id azidentity.ManagedIDKind, sc string) (azcore.AccessToken, error) {
	t.Helper()
	cred, err := azidentity.NewManagedIdentityCredential(&azidentity.ManagedIdentityCredentialOptions{ID: id})
	if err != nil {
		return azcore.AccessToken{}, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return cred.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{sc}})
}

func checkToken(t *testing.T, tok azcore.AccessToken, err error, client, aud string) {
	t.Helper()
	if err != nil {
		t.Fatalf("GetToken: %v", err)
	}
	if got := tokenClient(tok.Token); got != client {
		t.Errorf("token for client %q, want %q", got, client)
	}
	if !strings.Contains(tok.Token, "."+aud+".") {
		t.Errorf("token %.80s… is not for audience %s", tok.Token, aud)
	}
	if until := time.Until(tok.ExpiresOn); until < 23*time.Hour || until > 25*time.Hour {
		t.Errorf("ExpiresOn in %v", until)
	}
}

func TestAzidentityAppService(t *testing.T) {
	up := newFakeUpstream()
	a := startAgent(t, up, nil)
	web, _ := a.Register(webID, 0)
	setAppServiceEnv := func(t *testing.T) {
		isolateEnv(t)
		t.Setenv("IDENTITY_ENDPOINT", a.Endpoints().IdentityEndpoint)
		t.Setenv("IDENTITY_HEADER", web.Secret)
	}
	for _, c := range []idCase{
		{"system-assigned", nil, webSystem.clientID},
		{"client-id", azidentity.ClientID(webUA1.clientID), webUA1.clientID},
		{"object-id", azidentity.ObjectID(webUA2.objectID), webUA2.clientID},
		{"resource-id", azidentity.ResourceID(webUA1.resourceID), webUA1.clientID},
	} {
		t.Run(c.name, func(t *testing.T) {
			setAppServiceEnv(t)
			sc, aud := newAudience("appservice-" + c.name)
			tok, err := getToken(t, c.id, sc)
			checkToken(t, tok, err, c.client, aud)
		})
	}
	t.Run("DefaultAzureCredential", func(t *testing.T) {
		setAppServiceEnv(t)
		os.Unsetenv("AZURE_TOKEN_CREDENTIALS") // the whole chain, as an app would have it
		cred, err := azidentity.NewDefaultAzureCredential(nil)
		if err != nil {
			t.Fatal(err)
		}
		sc, aud := newAudience("appservice-dac")
		tok, err := cred.GetToken(t.Context(), policy.TokenRequestOptions{Scopes: []string{sc}})
		checkToken(t, tok, err, webSystem.clientID, aud)
	})
	t.Run("DefaultAzureCredential AZURE_CLIENT_ID", func(t *testing.T) {
		setAppServiceEnv(t)
		t.Setenv("AZURE_CLIENT_ID", webUA2.clientID)
		cred, err := azidentity.NewDefaultAzureCredential(nil)
		if err != nil {
			t.Fatal(err)
		}
		sc, aud := newAudience("appservice-dac-ua")
		tok, err := cred.GetToken(t.Context(), policy.TokenRequestOptions{Scopes: []string{sc}})
		checkToken(t, tok, err, webUA2.clientID, aud)
	})
	t.Run("identity not attached", func(t *testing.T) {
		setAppServiceEnv(t)
		_, err := getToken(t, azidentity.ClientID(jobUA.clientID), scope("appservice-unattached"))
		var afe *azidentity.AuthenticationFailedError
		if !errors.As(err, &afe) || afe.RawResponse.StatusCode != 400 ||
			!strings.Contains(err.Error(), "is not attached to resource "+webID) {
			t.Errorf("want AuthenticationFailedError 400 naming the resource, got %v", err)
		}
	})
	t.Run("stale secret", func(t *testing.T) {
		stale, _ := a.Register(webID, 0)
		_ = a.Unregister(stale.Secret)
		isolateEnv(t)
		t.Setenv("IDENTITY_ENDPOINT", a.Endpoints().IdentityEndpoint)
		t.Setenv("IDENTITY_HEADER", stale.Secret)
		_, err := getToken(t, nil, scope("appservice-stale"))
		var afe *azidentity.AuthenticationFailedError
		if !errors.As(err, &afe) || afe.RawResponse.StatusCode != 401 {
			t.Errorf("want AuthenticationFailedError 401, got %v", err)
		}
	})
}

func TestAzidentityAzureML(t *testing.T) {
	a := startAgent(t, newFakeUpstream(), nil)
	web, _ := a.Register(webID, 0)
	for _, c := range []idCase{
		{"system-assigned", nil, webSystem.clientID},
		{"client-id", azidentity.ClientID(webUA1.clientID), webUA1.clientID},
	} {
		t.Run(c.name, func(t *testing.T) {
			isolateEnv(t)
			t.Setenv("MSI_ENDPOINT", a.Endpoints().MSIEndpoint)
			t.Setenv("MSI_SECRET", web.Secret)
			sc, aud := newAudience("ml-" + c.name)
			tok, err := getToken(t, c.id, sc)
			checkToken(t, tok, err, c.client, aud)
		})
	}
}

func TestAzidentityCloudShell(t *testing.T) {
	a := startAgent(t, newFakeUpstream(), nil)
	if err := a.BindHost(vmID); err != nil {
		t.Fatal(err)
	}
	isolateEnv(t)
	t.Setenv("MSI_ENDPOINT", a.Endpoints().CloudShellEndpoint)
	sc, aud := newAudience("cloudshell")
	tok, err := getToken(t, nil, sc)
	checkToken(t, tok, err, vmSystem.clientID, aud)
}

func TestAzidentityServiceFabric(t *testing.T) {
	a := startAgent(t, newFakeUpstream(), func(c *Config) { c.ServiceFabricAddr = "127.0.0.1:0" })
	web, _ := a.Register(webID, 0)
	ep := a.Endpoints()
	isolateEnv(t)
	t.Setenv("IDENTITY_ENDPOINT", ep.ServiceFabricEndpoint)
	t.Setenv("IDENTITY_HEADER", web.Secret)
	// MSAL ignores ':' and case in the thumbprint; give it the way Service Fabric does.
	t.Setenv("IDENTITY_SERVER_THUMBPRINT", strings.ToLower(ep.ServiceFabricThumbprint))
	sc, aud := newAudience("servicefabric")
	tok, err := getToken(t, nil, sc)
	checkToken(t, tok, err, webSystem.clientID, aud)
}

// TestAzidentityArc needs root: Go's Arc client accepts key files only in /var/opt/azcmagent/tokens.
func TestAzidentityArc(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("Azure Arc clients read key files only from " + ArcTokenDir + ", which needs root")
	}
	created := ""
	for _, d := range []string{"/var/opt/azcmagent", ArcTokenDir} {
		if _, err := os.Stat(d); os.IsNotExist(err) && created == "" {
			created = d
		}
	}
	if created != "" {
		t.Cleanup(func() { os.RemoveAll(created) })
	}
	a := startAgent(t, newFakeUpstream(), nil) // default key directory as root: ArcTokenDir
	if err := a.BindHost(vmID); err != nil {
		t.Fatal(err)
	}
	setArcEnv := func(t *testing.T) {
		isolateEnv(t)
		t.Setenv("IDENTITY_ENDPOINT", a.Endpoints().ArcIdentityEndpoint)
		t.Setenv("IMDS_ENDPOINT", a.Endpoints().ArcIMDSEndpoint)
	}
	t.Run("system-assigned", func(t *testing.T) {
		setArcEnv(t)
		sc, aud := newAudience("arc-system")
		tok, err := getToken(t, nil, sc)
		checkToken(t, tok, err, vmSystem.clientID, aud)
	})
	// An Arc-enabled server has only its system-assigned identity; MSAL Go asks anyway and gets
	// Arc's refusal, a 400 instead of the challenge (MSAL reports the status, not the body).
	for _, c := range []idCase{
		{"client-id", azidentity.ClientID(vmUA.clientID), ""},
		{"object-id", azidentity.ObjectID(vmUA.objectID), ""},
		{"resource-id", azidentity.ResourceID(vmUA.resourceID), ""},
	} {
		t.Run(c.name+" refused", func(t *testing.T) {
			setArcEnv(t)
			_, err := getToken(t, c.id, scope("arc-"+c.name))
			if err == nil || !strings.Contains(err.Error(), "received 400") {
				t.Fatalf("user-assigned on Arc: %v, want Arc's refusal", err)
			}
		})
	}
	if fi, err := os.Stat(ArcTokenDir); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("%s: %v %v", ArcTokenDir, fi, err)
	}
}

// --- IMDS through HTTP_PROXY, in a subprocess ---------------------------------------------------
//
// Go reads the proxy environment once per process, so the IMDS client runs in a child process
// (this test binary, re-executed; TestMain dispatches on MINT_AGENT_TEST_HELPER) whose only
// proxy setting is HTTP_PROXY=<agent>. The helper refuses to send anything unless the proxy for
// http://169.254.169.254 resolves to a loopback address, so nothing can reach IMDS's address.

type helperCase struct {
	Name   string `json:"name"`
	Cred   string `json:"cred"`             // "mi", "dac", or "chain" (MI, then a static fallback credential)
	IDKind string `json:"idKind,omitempty"` // "client", "object", "resource"
	ID     string `json:"id,omitempty"`
	Scope  string `json:"scope"`
	Chain  string `json:"chain,omitempty"` // AZURE_TOKEN_CREDENTIALS for dac
}

type helperResult struct {
	Name  string `json:"name"`
	Token string `json:"token,omitempty"`
	Err   string `json:"err,omitempty"`
	Kind  string `json:"kind,omitempty"` // "authfailed" (AuthenticationFailedError) or "other"
	At    int64  `json:"at"`             // unix ns when GetToken returned
}

func TestMain(m *testing.M) {
	switch os.Getenv("MINT_AGENT_TEST_HELPER") {
	case "":
		os.Exit(m.Run())
	case "imds":
		os.Exit(helperMain(true))
	case "workload":
		os.Exit(helperMain(false))
	case "memory":
		os.Exit(memoryHelper())
	default:
		os.Exit(2)
	}
}

func helperMain(imds bool) int {
	if imds {
		req, _ := http.NewRequest("GET", "http://169.254.169.254/metadata/identity/oauth2/token", nil) // never sent: asks which proxy would carry it
		proxy, err := http.ProxyFromEnvironment(req)
		if err != nil || proxy == nil || (proxy.Hostname() != "127.0.0.1" && proxy.Hostname() != "localhost") {
			fmt.Fprintf(os.Stderr, "refusing to run: the proxy for IMDS is %v (%v), not the local agent\n", proxy, err)
			return 3
		}
	}
	var cases []helperCase
	if err := json.Unmarshal([]byte(os.Getenv("MINT_AGENT_TEST_CASES")), &cases); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	out := json.NewEncoder(os.Stdout)
	for _, c := range cases {
		var id azidentity.ManagedIDKind
		switch c.IDKind {
		case "client":
			id = azidentity.ClientID(c.ID)
		case "object":
			id = azidentity.ObjectID(c.ID)
		case "resource":
			id = azidentity.ResourceID(c.ID)
		}
		var cred azcore.TokenCredential
		var err error
		switch c.Cred {
		case "dac":
			os.Setenv("AZURE_TOKEN_CREDENTIALS", c.Chain)
			cred, err = azidentity.NewDefaultAzureCredential(nil)
		case "chain":
			var mi *azidentity.ManagedIdentityCredential
			if mi, err = azidentity.NewManagedIdentityCredential(&azidentity.ManagedIdentityCredentialOptions{ID: id}); err == nil {
				cred, err = azidentity.NewChainedTokenCredential([]azcore.TokenCredential{mi, fallbackCredential{}}, nil)
			}
		default:
			cred, err = azidentity.NewManagedIdentityCredential(&azidentity.ManagedIdentityCredentialOptions{ID: id})
		}
		res := helperResult{Name: c.Name}
		if err == nil {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			var tok azcore.AccessToken
			tok, err = cred.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{c.Scope}})
			cancel()
			res.Token = tok.Token
		}
		res.At = time.Now().UnixNano()
		if err != nil {
			res.Err = err.Error()
			var afe *azidentity.AuthenticationFailedError
			if errors.As(err, &afe) {
				res.Kind = "authfailed"
			} else {
				res.Kind = "other"
			}
		}
		_ = out.Encode(res)
	}
	return 0
}

// fallbackCredential is the next credential in a chain; reaching it means the managed identity
// credential reported itself unavailable.
type fallbackCredential struct{}

func (fallbackCredential) GetToken(context.Context, policy.TokenRequestOptions) (azcore.AccessToken, error) {
	return azcore.AccessToken{Token: "fallback", ExpiresOn: time.Now().Add(time.Hour)}, nil
}

// helperEnv is this process's environment without proxy or managed-identity settings, plus extra.
func helperEnv(extra ...string) []string {
	drop := map[string]bool{"HTTP_PROXY": true, "HTTPS_PROXY": true, "ALL_PROXY": true, "NO_PROXY": true, "REQUEST_METHOD": true,
		"AZURE_TOKEN_CREDENTIALS": true, "AZURE_CLIENT_ID": true, "AZURE_TENANT_ID": true, "AZURE_FEDERATED_TOKEN_FILE": true,
		"AZURE_CLIENT_SECRET": true, "AZURE_POD_IDENTITY_AUTHORITY_HOST": true, "MINT_AGENT_TEST_HELPER": true, "MINT_AGENT_TEST_CASES": true}
	for _, v := range identityEnv {
		drop[v] = true
	}
	var env []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if !drop[strings.ToUpper(name)] {
			env = append(env, kv)
		}
	}
	// A race-enabled child would otherwise sleep 1 s at exit (TSAN's atexit_sleep_ms).
	return append(append(env, "GORACE=atexit_sleep_ms=0"), extra...)
}

func parseHelperOutput(t *testing.T, out []byte) map[string]helperResult {
	t.Helper()
	res := map[string]helperResult{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		var r helperResult
		if err := json.Unmarshal(sc.Bytes(), &r); err == nil && r.Name != "" {
			res[r.Name] = r
		}
	}
	return res
}

func runIMDSHelper(t *testing.T, a *Agent, cases []helperCase) map[string]helperResult {
	t.Helper()
	b, _ := json.Marshal(cases)
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = helperEnv("MINT_AGENT_TEST_HELPER=imds", "MINT_AGENT_TEST_CASES="+string(b), "HTTP_PROXY="+a.Endpoints().IMDSProxy)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("helper: %v\n%s", err, stderr.String())
	}
	return parseHelperOutput(t, out)
}

func TestAzidentityIMDSViaHTTPProxy(t *testing.T) {
	a := startAgent(t, newFakeUpstream(), nil)

	t.Run("no resource bound to the host", func(t *testing.T) {
		res := runIMDSHelper(t, a, []helperCase{
			{Name: "mi", Cred: "mi", Scope: scope("imds-unbound")},
			{Name: "chain", Cred: "chain", Scope: scope("imds-unbound-chain")},
			{Name: "dac", Cred: "dac", Chain: "prod", Scope: scope("imds-unbound-dac")},
		})
		if r := res["mi"]; r.Kind == "authfailed" || !strings.Contains(r.Err, "Identity not found") {
			t.Errorf("mi: %+v", r)
		}
		// 400 for a system-assigned identity: credential unavailable, so a chain moves on.
		if r := res["chain"]; r.Token != "fallback" {
			t.Errorf("chain did not move on past managed identity: %+v", r)
		}
		if r := res["dac"]; r.Err == "" || !strings.Contains(r.Err, "Identity not found") {
			t.Errorf("dac: %+v", r)
		}
	})

	if err := a.BindHost(vmID); err != nil {
		t.Fatal(err)
	}
	cases := []helperCase{
		{Name: "system-assigned", Cred: "mi", Scope: scope("imds-sa")},
		{Name: "client-id", Cred: "mi", IDKind: "client", ID: vmUA.clientID, Scope: scope("imds-client")},
		{Name: "object-id", Cred: "mi", IDKind: "object", ID: vmUA.objectID, Scope: scope("imds-object")},
		{Name: "resource-id", Cred: "mi", IDKind: "resource", ID: vmUA.resourceID, Scope: scope("imds-resource")},
		{Name: "dac-mi-only", Cred: "dac", Chain: "ManagedIdentityCredential", Scope: scope("imds-dac-mi")},
		{Name: "dac-prod-with-probe", Cred: "dac", Chain: "prod", Scope: scope("imds-dac-prod")},
		{Name: "unattached", Cred: "mi", IDKind: "client", ID: webUA1.clientID, Scope: scope("imds-unattached")},
		{Name: "unattached-chain", Cred: "chain", IDKind: "client", ID: webUA1.clientID, Scope: scope("imds-unattached-chain")},
	}
	res := runIMDSHelper(t, a, cases)
	want := map[string]string{"system-assigned": vmSystem.clientID, "client-id": vmUA.clientID, "object-id": vmUA.clientID,
		"resource-id": vmUA.clientID, "dac-mi-only": vmSystem.clientID, "dac-prod-with-probe": vmSystem.clientID}
	for name, client := range want {
		r := res[name]
		if r.Err != "" || tokenClient(r.Token) != client {
			t.Errorf("%s: token for %q, want %q (err %s)", name, tokenClient(r.Token), client, r.Err)
		}
	}
	if r := res["unattached"]; r.Kind != "authfailed" || !strings.Contains(r.Err, "the requested identity isn't assigned to this resource") {
		t.Errorf("unattached user-assigned identity: %+v", r)
	}
	// A user-assigned identity that is not attached stops a chain, as on Azure.
	if r := res["unattached-chain"]; r.Token == "fallback" || r.Err == "" {
		t.Errorf("unattached user-assigned identity in a chain: %+v", r)
	}
}

// --- mint run ------------------------------------------------------------------------------------

func TestRunExitCodeAndEnv(t *testing.T) {
	sock := t.TempDir() + "/agent.sock"
	a := startAgent(t, newFakeUpstream(), func(c *Config) { c.SocketPath = sock })
	var out bytes.Buffer
	code, err := Run(t.Context(), RunOptions{
		SocketPath: sock, ResourceID: webID, Stdout: &out,
		Env:     []string{"PATH=" + os.Getenv("PATH"), "IDENTITY_HEADER=stale-from-parent", "KEEP=1"},
		Command: []string{"/bin/sh", "-c", `echo "$IDENTITY_ENDPOINT|$IDENTITY_HEADER|$MSI_ENDPOINT|$MSI_SECRET|$KEEP"; exit 7`},
	})
	if err != nil || code != 7 {
		t.Fatalf("Run = %d, %v", code, err)
	}
	f := strings.Split(strings.TrimSpace(out.String()), "|")
	if len(f) != 5 || f[0] != a.Endpoints().IdentityEndpoint || len(f[1]) != 43 || f[2] != f[0] || f[3] != f[1] || f[4] != "1" {
		t.Fatalf("child environment %q", out.String())
	}
	// The secret died with the child.
	if a.reg.lookup(f[1]) != nil {
		t.Error("secret still registered after the child exited")
	}
	status, _, _ := get(t, nil, "GET", f[0]+"?api-version=2019-08-01&resource=r", nil, "X-IDENTITY-HEADER", f[1])
	if status != 401 {
		t.Errorf("stale secret: %d", status)
	}

	out.Reset()
	code, err = Run(t.Context(), RunOptions{SocketPath: sock, ResourceID: webID, Stdout: &out, DisableMSI: true,
		Command: []string{"/bin/sh", "-c", `echo "${MSI_ENDPOINT-unset}"`}})
	if err != nil || code != 0 || strings.TrimSpace(out.String()) != "unset" {
		t.Errorf("DisableMSI: %d %v %q", code, err, out.String())
	}
	if _, err := Run(t.Context(), RunOptions{SocketPath: sock, ResourceID: "bogus", Command: []string{"true"}}); err == nil {
		t.Error("bad resource id accepted")
	}
	if _, err := Run(t.Context(), RunOptions{SocketPath: t.TempDir() + "/none.sock", ResourceID: webID, Command: []string{"true"}}); err == nil {
		t.Error("no agent: no error")
	}
}

func TestRunForwardsSignals(t *testing.T) {
	sock := t.TempDir() + "/agent.sock"
	startAgent(t, newFakeUpstream(), func(c *Config) { c.SocketPath = sock })
	ready := t.TempDir() + "/ready"
	started := make(chan int, 1)
	done := make(chan [2]any, 1)
	go func() {
		code, err := Run(context.Background(), RunOptions{SocketPath: sock, ResourceID: webID,
			Started: func(pid int) { started <- pid },
			Command: []string{"/bin/sh", "-c", `trap 'exit 42' TERM; touch ` + ready + `; while :; do sleep 0.05; done`}})
		done <- [2]any{code, err}
	}()
	<-started
	waitFor(t, func() bool { _, err := os.Stat(ready); return err == nil })
	// Signal this process, as a supervisor stopping `mint run` would; Run forwards it.
	if p, err := os.FindProcess(os.Getpid()); err == nil {
		_ = p.Signal(syscall.SIGTERM)
	}
	select {
	case r := <-done:
		if r[0] != 42 || r[1] != nil {
			t.Fatalf("Run = %v, %v; want 42 from the child's TERM trap", r[0], r[1])
		}
	case <-time.After(10 * time.Second):
		t.Fatal("child did not exit after SIGTERM")
	}

	// Killed by a signal: 128+n.
	code, err := Run(t.Context(), RunOptions{SocketPath: sock, ResourceID: webID, Command: []string{"/bin/sh", "-c", `kill -KILL $$`}})
	if err != nil || code != 128+9 {
		t.Errorf("killed child: %d %v", code, err)
	}
}

// TestRunDefaultAzureCredential: the seeds' scenario — a workload started by `mint run` uses an
// unmodified DefaultAzureCredential and gets a token for its resource's identity. It also
// measures the time from Run to the workload's first token.
func TestRunDefaultAzureCredential(t *testing.T) {
	sock := t.TempDir() + "/agent.sock"
	up := newFakeUpstream()
	startAgent(t, up, func(c *Config) { c.SocketPath = sock; c.ServiceFabricAddr = "127.0.0.1:0" })
	runs := 1
	if !testing.Short() {
		runs = 10
	}
	var ttft []time.Duration
	for i := 0; i < runs; i++ {
		cases, _ := json.Marshal([]helperCase{
			{Name: "dac", Cred: "dac", Chain: "prod", Scope: scope(fmt.Sprintf("run-dac-%d", i))},
			{Name: "dac-ua", Cred: "mi", IDKind: "client", ID: webUA1.clientID, Scope: scope(fmt.Sprintf("run-ua-%d", i))},
		})
		var out, stderr bytes.Buffer
		t0 := time.Now()
		code, err := Run(t.Context(), RunOptions{SocketPath: sock, ResourceID: webID, Stdout: &out, Stderr: &stderr,
			Env:     helperEnv("MINT_AGENT_TEST_HELPER=workload", "MINT_AGENT_TEST_CASES="+string(cases)),
			Command: []string{os.Args[0], "-test.run=^$"}})
		if err != nil || code != 0 {
			t.Fatalf("Run = %d, %v\n%s", code, err, stderr.String())
		}
		res := parseHelperOutput(t, out.Bytes())
		if r := res["dac"]; r.Err != "" || tokenClient(r.Token) != webSystem.clientID {
			t.Fatalf("DefaultAzureCredential in a mint run workload: %+v", r)
		}
		if r := res["dac-ua"]; r.Err != "" || tokenClient(r.Token) != webUA1.clientID {
			t.Fatalf("user-assigned in a mint run workload: %+v", r)
		}
		ttft = append(ttft, time.Duration(res["dac"].At-t0.UnixNano()))
	}

	// `mint run --service-fabric`: the same workload through the pinned-certificate https dialect.
	cases, _ := json.Marshal([]helperCase{{Name: "sf", Cred: "mi", Scope: scope("run-sf")}})
	var out, stderr bytes.Buffer
	code, err := Run(t.Context(), RunOptions{SocketPath: sock, ResourceID: webID, Stdout: &out, Stderr: &stderr, ServiceFabric: true,
		Env:     helperEnv("MINT_AGENT_TEST_HELPER=workload", "MINT_AGENT_TEST_CASES="+string(cases)),
		Command: []string{os.Args[0], "-test.run=^$"}})
	if err != nil || code != 0 {
		t.Fatalf("Run = %d, %v\n%s", code, err, stderr.String())
	}
	if r := parseHelperOutput(t, out.Bytes())["sf"]; r.Err != "" || tokenClient(r.Token) != webSystem.clientID {
		t.Fatalf("Service Fabric in a mint run workload: %+v", r)
	}

	sort.Slice(ttft, func(i, j int) bool { return ttft[i] < ttft[j] })
	t.Logf("mint run → first token (%d runs, child = this test binary): p50 %v, max %v", len(ttft), ttft[len(ttft)/2], ttft[len(ttft)-1])
}
