package agent

import (
	"bufio"
	"crypto/sha1"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mint-id/mint/internal/agent/dialect"
)

func decode(t *testing.T, body string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(body), &m); err != nil {
		t.Fatalf("body %q: %v", body, err)
	}
	return m
}

// tokenFields are the fields each endpoint's 200 body carries, and whether each is a JSON string
// (true) or a number (false), as the real endpoints send them.
var tokenFields = map[dialect.Kind]map[string]bool{
	dialect.IMDS: {"access_token": true, "client_id": true, "expires_in": true, "expires_on": true,
		"ext_expires_in": true, "not_before": true, "resource": true, "token_type": true},
	dialect.AppService: {"access_token": true, "client_id": true, "expires_on": true, "not_before": true,
		"resource": true, "token_type": true},
	dialect.AzureML:       {"access_token": true, "expires_on": true, "resource": true, "token_type": true},
	dialect.ServiceFabric: {"access_token": true, "expires_on": false, "resource": true, "token_type": true},
}

// checkTokenBody checks a 200 body: exactly the fields the real endpoint of kind sends (plus Arc's
// echo of a user-assigned identity), each a string or a number as there.
func checkTokenBody(t *testing.T, kind dialect.Kind, body, wantClient, wantResource string) map[string]any {
	t.Helper()
	m := decode(t, body)
	want, ok := tokenFields[kind]
	if !ok {
		want = tokenFields[dialect.IMDS]
	}
	for k, str := range want {
		if _, isStr := m[k].(string); isStr != str {
			t.Errorf("%v: field %s = %#v, want string=%v (body %s)", kind, k, m[k], str, body)
		}
	}
	for k := range m {
		if _, ok := want[k]; !ok && !(kind == dialect.Arc && (k == "object_id" || k == "msi_res_id")) {
			t.Errorf("%v: field %s, which the real endpoint does not send (body %s)", kind, k, body)
		}
	}
	if tokenClient(m["access_token"].(string)) != wantClient {
		t.Errorf("token %v, want client %s", m["access_token"], wantClient)
	}
	if c, ok := m["client_id"]; ok && c != wantClient {
		t.Errorf("client_id %v, want %s", c, wantClient)
	}
	if m["resource"] != wantResource || m["token_type"] != "Bearer" {
		t.Errorf("resource %v token_type %v", m["resource"], m["token_type"])
	}
	var exp int64
	switch v := m["expires_on"].(type) {
	case string:
		exp, _ = strconv.ParseInt(v, 10, 64)
	case float64:
		exp = int64(v)
	}
	if d := exp - time.Now().Unix(); d < 60 {
		t.Errorf("expires_on %d is not in the future", exp)
	}
	if s, ok := m["expires_in"].(string); ok {
		in, _ := strconv.ParseInt(s, 10, 64)
		if d := exp - time.Now().Unix() - in; d < -2 || d > 2 {
			t.Errorf("expires_on %d and expires_in %d disagree", exp, in)
		}
	}
	return m
}

func TestAppServiceDialect(t *testing.T) {
	up := newFakeUpstream()
	a := startAgent(t, up, nil)
	web, err := a.Register(webID, 0)
	if err != nil {
		t.Fatal(err)
	}
	job, _ := a.Register(jobID, 0)
	worker, _ := a.Register(workerID, 0)
	base := a.Endpoints().IdentityEndpoint + "?api-version=2019-08-01&resource=" + url.QueryEscape("https://vault.azure.net")

	tests := []struct {
		name   string
		secret string
		query  string
		status int
		client string // expected client_id on success
		body   string // expected substring on failure
	}{
		{"system assigned", web.Secret, "", 200, webSystem.clientID, ""},
		{"client_id", web.Secret, "&client_id=" + webUA1.clientID, 200, webUA1.clientID, ""},
		{"client_id upper case", web.Secret, "&client_id=" + strings.ToUpper(webUA1.clientID), 200, webUA1.clientID, ""},
		{"principal_id", web.Secret, "&principal_id=" + webUA2.objectID, 200, webUA2.clientID, ""},
		{"object_id", web.Secret, "&object_id=" + webUA2.objectID, 200, webUA2.clientID, ""},
		{"mi_res_id", web.Secret, "&mi_res_id=" + url.QueryEscape(webUA1.resourceID), 200, webUA1.clientID, ""},
		{"only user-assigned is the default", job.Secret, "", 200, jobUA.clientID, ""},
		{"identity of another resource", job.Secret, "&client_id=" + webUA1.clientID, 400, "",
			`Unable to load the proper Managed Identity. identity client_id=` + webUA1.clientID + ` is not attached to resource ` + jobID},
		{"several user-assigned, none chosen", worker.Secret, "", 400, "", "Multiple user assigned identities exist"},
		{"two selectors", web.Secret, "&client_id=a&mi_res_id=b", 400, "", "Only one of"},
		{"unknown secret", "not-a-secret", "", 401, "", "stale"},
		{"no secret", "", "", 401, "", "X-IDENTITY-HEADER"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var hdr []string
			if tt.secret != "" {
				hdr = []string{"X-IDENTITY-HEADER", tt.secret}
			}
			status, h, body := get(t, nil, "GET", base+tt.query, nil, hdr...)
			if status != tt.status {
				t.Fatalf("status %d, want %d: %s", status, tt.status, body)
			}
			if status == 200 {
				checkTokenBody(t, dialect.AppService, body, tt.client, "https://vault.azure.net")
				if h.Get("Content-Length") != strconv.Itoa(len(body)) || !strings.HasPrefix(h.Get("Content-Type"), "application/json") {
					t.Errorf("headers %v", h)
				}
				return
			}
			m := decode(t, body)
			if m["statusCode"] != float64(tt.status) || m["correlationId"] == "" || !strings.Contains(m["message"].(string), tt.body) {
				t.Errorf("error body %s, want message containing %q", body, tt.body)
			}
		})
	}

	t.Run("invalid resource", func(t *testing.T) {
		status, _, body := get(t, nil, "GET", a.Endpoints().IdentityEndpoint+"?api-version=2019-08-01&resource=https://nope", nil, "X-IDENTITY-HEADER", web.Secret)
		if status != 400 || !strings.Contains(body, "AADSTS500011") {
			t.Errorf("%d %s", status, body)
		}
	})
	t.Run("node not allowed", func(t *testing.T) {
		up.forbidden.Store(true)
		defer up.forbidden.Store(false)
		status, _, body := get(t, nil, "GET", a.Endpoints().IdentityEndpoint+"?api-version=2019-08-01&resource=api://forbidden", nil, "X-IDENTITY-HEADER", web.Secret)
		if status != 403 || !strings.Contains(body, "Managed Identity Token Broker") {
			t.Errorf("%d %s", status, body)
		}
	})
	t.Run("unknown path is 400 not 404", func(t *testing.T) {
		if status, _, _ := get(t, nil, "GET", a.Endpoints().IMDSProxy+"/nothing/here", nil); status != 400 {
			t.Errorf("status %d", status)
		}
	})
	t.Run("not a general proxy", func(t *testing.T) {
		proxy, _ := url.Parse(a.Endpoints().IMDSProxy)
		c := &http.Client{Transport: &http.Transport{Proxy: http.ProxyURL(proxy)}}
		if status, _, _ := get(t, c, "GET", "http://example.com/", nil); status != 403 {
			t.Errorf("status %d", status)
		}
	})
}

func TestAzureMLDialect(t *testing.T) {
	a := startAgent(t, newFakeUpstream(), nil)
	web, _ := a.Register(webID, 0)
	ep := a.Endpoints().MSIEndpoint
	status, _, body := get(t, nil, "GET", ep+"?api-version=2017-09-01&clientid=&resource=https://vault.azure.net", nil, "secret", web.Secret)
	if status != 200 {
		t.Fatalf("%d %s", status, body)
	}
	checkTokenBody(t, dialect.AzureML, body, webSystem.clientID, "https://vault.azure.net")
	status, _, body = get(t, nil, "GET", ep+"?api-version=2017-09-01&clientid="+webUA1.clientID+"&resource=r", nil, "secret", web.Secret, "Metadata", "true")
	if status != 200 {
		t.Fatalf("%d %s", status, body)
	}
	checkTokenBody(t, dialect.AzureML, body, webUA1.clientID, "r")
	// az's legacy App Service form: MSI_ENDPOINT + "/?resource=..."
	status, _, body = get(t, nil, "GET", ep+"/?resource=r&api-version=2017-09-01", nil, "secret", web.Secret)
	if status != 200 {
		t.Fatalf("trailing slash: %d %s", status, body)
	}
	if status, _, body = get(t, nil, "GET", ep+"?api-version=2017-09-01&resource=r", nil, "secret", "stale"); status != 401 {
		t.Errorf("stale secret: %d %s", status, body)
	}
}

func TestIMDSDialect(t *testing.T) {
	a := startAgent(t, newFakeUpstream(), nil)
	proxy, _ := url.Parse(a.Endpoints().IMDSProxy)
	// What HTTP_PROXY clients do: absolute-form request lines for 169.254.169.254.
	viaProxy := &http.Client{Transport: &http.Transport{Proxy: http.ProxyURL(proxy)}}
	const imds = "http://169.254.169.254/metadata/identity/oauth2/token" // only ever sent through viaProxy, in absolute form
	md := []string{"Metadata", "true"}

	// Nothing bound to the host: Identity not found (Go's DAC moves on for system-assigned).
	status, _, body := get(t, viaProxy, "GET", imds+"?api-version=2018-02-01&resource=r", nil, md...)
	if status != 400 || body != `{"error":"invalid_request","error_description":"Identity not found"}` {
		t.Fatalf("unbound: %d %s", status, body)
	}
	if err := a.BindHost(vmID); err != nil {
		t.Fatal(err)
	}
	direct := a.Endpoints().IMDSProxy
	tests := []struct {
		name    string
		client  *http.Client
		url     string
		headers []string
		status  int
		want    string // client id, or a body substring for errors
	}{
		{"probe", viaProxy, imds, nil, 400, `{"error":"invalid_request","error_description":"Required metadata header not specified"}`},
		{"system assigned via proxy", viaProxy, imds + "?api-version=2018-02-01&resource=https%3A%2F%2Fvault.azure.net", md, 200, vmSystem.clientID},
		{"client_id", viaProxy, imds + "?api-version=2018-02-01&client_id=" + vmUA.clientID + "&resource=https%3A%2F%2Fvault.azure.net", md, 200, vmUA.clientID},
		{"object_id", viaProxy, imds + "?api-version=2018-02-01&object_id=" + vmUA.objectID + "&resource=https%3A%2F%2Fvault.azure.net", md, 200, vmUA.clientID},
		{"msi_res_id", viaProxy, imds + "?api-version=2018-02-01&msi_res_id=" + url.QueryEscape(vmUA.resourceID) + "&resource=https%3A%2F%2Fvault.azure.net", md, 200, vmUA.clientID},
		{"JS trailing slash", nil, direct + "/metadata/identity/oauth2/token/?api-version=2018-02-01&resource=https://vault.azure.net", md, 200, vmSystem.clientID},
		{"JS double slash", nil, direct + "//metadata/identity/oauth2/token/?api-version=2018-02-01&resource=https://vault.azure.net", md, 200, vmSystem.clientID},
		{"identity not attached", viaProxy, imds + "?api-version=2018-02-01&client_id=" + webUA1.clientID + "&resource=r", md, 400, `{"error":"invalid_request","error_description":"Identity not found"}`},
		{"bad resource", viaProxy, imds + "?api-version=2018-02-01&resource=https://nope", md, 400, `"error":"invalid_resource"`},
		{"x-forwarded-for", viaProxy, imds + "?api-version=2018-02-01&resource=r", []string{"Metadata", "true", "X-Forwarded-For", "10.1.1.1"}, 400, "X-Forwarded-For"},
		{"duplicate parameter", viaProxy, imds + "?api-version=2018-02-01&resource=r&resource=r", md, 400, "more than once"},
		{"unknown version", viaProxy, imds + "?api-version=2017-01-01&resource=r", md, 400, `"newest-versions":[`},
		{"POST", viaProxy, imds + "?api-version=2018-02-01&resource=r", md, 405, "not allowed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			method := "GET"
			if tt.name == "POST" {
				method = "POST"
			}
			status, _, body := get(t, tt.client, method, tt.url, nil, tt.headers...)
			if status != tt.status {
				t.Fatalf("status %d, want %d: %s", status, tt.status, body)
			}
			if status == 200 {
				checkTokenBody(t, dialect.IMDS, body, tt.want, "https://vault.azure.net")
			} else if !strings.Contains(body, tt.want) {
				t.Errorf("body %s, want %s", body, tt.want)
			}
		})
	}
}

func TestCloudShellDialect(t *testing.T) {
	a := startAgent(t, newFakeUpstream(), nil)
	_ = a.BindHost(vmID)
	ep := a.Endpoints().CloudShellEndpoint
	form := []string{"Metadata", "true", "Content-Type", "application/x-www-form-urlencoded"}
	status, _, body := get(t, nil, "POST", ep, strings.NewReader("resource=https%3A%2F%2Fvault.azure.net"), form...)
	if status != 200 {
		t.Fatalf("%d %s", status, body)
	}
	checkTokenBody(t, dialect.CloudShell, body, vmSystem.clientID, "https://vault.azure.net")
	// az's MSI_ENDPOINT mode posts the same form to MSI_ENDPOINT.
	status, _, body = get(t, nil, "POST", a.Endpoints().MSIEndpoint, strings.NewReader("resource=r"), form...)
	if status != 200 {
		t.Fatalf("az form to MSI_ENDPOINT: %d %s", status, body)
	}
	if status, _, body = get(t, nil, "POST", ep, strings.NewReader("resource=r"), "Content-Type", "application/x-www-form-urlencoded"); status != 400 || !strings.Contains(body, "metadata") {
		t.Errorf("no Metadata: %d %s", status, body)
	}
}

func TestArcDialect(t *testing.T) {
	dir := t.TempDir()
	a := startAgent(t, newFakeUpstream(), func(c *Config) { c.ArcKeyDir = dir + "/tokens" })
	_ = a.BindHost(vmID)
	ep := a.Endpoints().ArcIdentityEndpoint + "?api-version=2020-06-01&resource=r"

	challenge := func(query string) string {
		status, h, body := get(t, nil, "GET", ep+query, nil, "Metadata", "true")
		if status != 401 {
			t.Fatalf("challenge: %d %s", status, body)
		}
		realm, ok := strings.CutPrefix(h.Get("WWW-Authenticate"), "Basic realm=")
		if !ok || !strings.HasSuffix(realm, ".key") || !strings.HasPrefix(realm, dir+"/tokens/") {
			t.Fatalf("WWW-Authenticate %q", h.Get("WWW-Authenticate"))
		}
		fi, err := os.Stat(realm)
		if err != nil || fi.Mode().Perm() != 0o600 || fi.Size() > 4096 {
			t.Fatalf("key file %v %v", fi, err)
		}
		if di, _ := os.Stat(dir + "/tokens"); di.Mode().Perm() != 0o700 {
			t.Errorf("key dir mode %v", di.Mode())
		}
		key, _ := os.ReadFile(realm)
		return string(key)
	}
	key := challenge("")
	status, _, body := get(t, nil, "GET", ep, nil, "Metadata", "true", "Authorization", "Basic "+key)
	if status != 200 {
		t.Fatalf("%d %s", status, body)
	}
	checkTokenBody(t, dialect.Arc, body, vmSystem.clientID, "r")
	// A key is good once.
	if status, h, _ := get(t, nil, "GET", ep, nil, "Metadata", "true", "Authorization", "Basic "+key); status != 401 || h.Get("WWW-Authenticate") == "" {
		t.Errorf("replayed key: %d", status)
	}
	// User-assigned: an Arc-enabled server has only its system-assigned identity, so Arc
	// refuses the request at once, without a challenge (no key file is written).
	for _, q := range []string{"&client_id=" + vmUA.clientID, "&object_id=" + vmUA.objectID, "&msi_res_id=" + url.QueryEscape(vmUA.resourceID)} {
		status, h, body := get(t, nil, "GET", ep+q, nil, "Metadata", "true")
		if status != 400 || h.Get("WWW-Authenticate") != "" || !strings.Contains(string(body), "not supported by Azure Arc") {
			t.Errorf("%s: %d %q %s, want 400 without a challenge", q, status, h.Get("WWW-Authenticate"), body)
		}
	}
	// Redeemed keys are gone; the one challenge still open (answering the replay) goes at shutdown.
	if entries, _ := os.ReadDir(dir + "/tokens"); len(entries) != 1 {
		t.Errorf("%d key files, want the 1 open challenge", len(entries))
	}
	a.Close()
	if entries, _ := os.ReadDir(dir + "/tokens"); len(entries) != 0 {
		t.Errorf("%d key files left behind at shutdown", len(entries))
	}
}

// TestArcListener: with Config.ArcAddr, Arc is also served at Arc's own path on its own port.
func TestArcListener(t *testing.T) {
	dir := t.TempDir() + "/tokens"
	a := startAgent(t, newFakeUpstream(), func(c *Config) { c.ArcAddr = "127.0.0.1:0"; c.ArcKeyDir = dir })
	_ = a.BindHost(vmID)
	ep := a.Endpoints()
	if !strings.HasSuffix(ep.ArcIdentityEndpoint, "/metadata/identity/oauth2/token") || ep.ArcIMDSEndpoint == ep.IMDSProxy {
		t.Fatalf("endpoints %+v", ep)
	}
	url := ep.ArcIdentityEndpoint + "?api-version=2019-11-01&resource=r"
	status, h, _ := get(t, nil, "GET", url, nil, "Metadata", "true")
	realm, _ := strings.CutPrefix(h.Get("WWW-Authenticate"), "Basic realm=")
	key, err := os.ReadFile(realm)
	if status != 401 || err != nil {
		t.Fatalf("challenge: %d %v", status, err)
	}
	if status, _, body := get(t, nil, "GET", url, nil, "Metadata", "true", "Authorization", "Basic "+string(key)); status != 200 {
		t.Fatalf("%d %s", status, body)
	}
}

func TestServiceFabricDialect(t *testing.T) {
	a := startAgent(t, newFakeUpstream(), func(c *Config) { c.ServiceFabricAddr = "127.0.0.1:0" })
	web, _ := a.Register(webID, 0)
	ep := a.Endpoints()
	if len(ep.ServiceFabricThumbprint) != 40 || !strings.HasPrefix(ep.ServiceFabricEndpoint, "https://127.0.0.1:") {
		t.Fatalf("endpoints %+v", ep)
	}
	// Pin the thumbprint as MSAL Go does.
	var seen string
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{
		InsecureSkipVerify: true, // #nosec G402 -- the thumbprint is pinned below, as MSAL Go does.
		VerifyConnection: func(cs tls.ConnectionState) error {
			sum := sha1.Sum(cs.PeerCertificates[0].Raw)
			seen = strings.ToUpper(hex.EncodeToString(sum[:]))
			return nil
		},
	}}}
	status, _, body := get(t, c, "GET", ep.ServiceFabricEndpoint+"?api-version=2019-07-01-preview&resource=https://vault.azure.net", nil, "Secret", web.Secret, "Accept", "application/json")
	if status != 200 || seen != ep.ServiceFabricThumbprint {
		t.Fatalf("%d %s (thumbprint %s vs %s)", status, body, seen, ep.ServiceFabricThumbprint)
	}
	checkTokenBody(t, dialect.ServiceFabric, body, webSystem.clientID, "https://vault.azure.net")
	status, _, body = get(t, c, "GET", ep.ServiceFabricEndpoint+"?api-version=2019-07-01-preview&resource=r", nil)
	if status != 401 || !strings.Contains(body, `"code":"SecretHeaderNotFound"`) {
		t.Errorf("%d %s", status, body)
	}
	status, _, body = get(t, c, "GET", ep.ServiceFabricEndpoint+"?api-version=2019-07-01-preview&resource=r", nil, "Secret", "stale")
	if status != 401 || !strings.Contains(body, `"code":"ManagedIdentityNotFound"`) {
		t.Errorf("%d %s", status, body)
	}
}

func TestStaleSecretAfterUnregister(t *testing.T) {
	a := startAgent(t, newFakeUpstream(), nil)
	web, _ := a.Register(webID, 0)
	url := a.Endpoints().IdentityEndpoint + "?api-version=2019-08-01&resource=r"
	if status, _, _ := get(t, nil, "GET", url, nil, "X-IDENTITY-HEADER", web.Secret); status != 200 {
		t.Fatalf("status %d", status)
	}
	if err := a.Unregister(web.Secret); err != nil {
		t.Fatal(err)
	}
	if status, _, body := get(t, nil, "GET", url, nil, "X-IDENTITY-HEADER", web.Secret); status != 401 || !strings.Contains(body, "stale") {
		t.Errorf("after unregister: %d %s", status, body)
	}
	if err := a.Unregister(web.Secret); err == nil {
		t.Error("second unregister succeeded")
	}
}

func TestRateLimitPerWorkload(t *testing.T) {
	a := startAgent(t, newFakeUpstream(), func(c *Config) { c.RateLimit = RateLimit{PerSecond: 0.5, Burst: 3} })
	noisy, _ := a.Register(webID, 0)
	quiet, _ := a.Register(webID, 0)
	url := a.Endpoints().IdentityEndpoint + "?api-version=2019-08-01&resource=r"
	for i := 0; i < 3; i++ {
		if status, _, body := get(t, nil, "GET", url, nil, "X-IDENTITY-HEADER", noisy.Secret); status != 200 {
			t.Fatalf("request %d: %d %s", i, status, body)
		}
	}
	status, h, body := get(t, nil, "GET", url, nil, "X-IDENTITY-HEADER", noisy.Secret)
	if status != 429 || h.Get("Retry-After") != "2" || !strings.Contains(body, `"statusCode":429`) {
		t.Fatalf("over the limit: %d %v %s", status, h, body)
	}
	// Another workload of the same resource is not slowed down.
	for i := 0; i < 3; i++ {
		if status, _, _ := get(t, nil, "GET", url, nil, "X-IDENTITY-HEADER", quiet.Secret); status != 200 {
			t.Fatalf("other workload: %d", status)
		}
	}
}

func TestLimiter(t *testing.T) {
	l := newLimiter(RateLimit{PerSecond: 10, Burst: 5})
	now := time.Now().UnixNano()
	for i := 0; i < 5; i++ {
		if ok, _ := l.allow(now); !ok {
			t.Fatalf("burst request %d refused", i)
		}
	}
	ok, wait := l.allow(now)
	if ok || wait <= 0 || wait > 100*time.Millisecond {
		t.Fatalf("6th: %v %v", ok, wait)
	}
	if ok, _ := l.allow(now + int64(wait)); !ok {
		t.Fatal("refused after waiting")
	}
	if newLimiter(RateLimit{Disabled: true}) != nil {
		t.Error("disabled limiter")
	}
	if ok, _ := (*limiter)(nil).allow(now); !ok {
		t.Error("nil limiter refuses")
	}
}

// TestSingleflight: N concurrent misses for one key make one upstream call.
func TestSingleflight(t *testing.T) {
	up := newFakeUpstream()
	gate := make(chan struct{})
	up.gate = gate
	a := startAgent(t, up, func(c *Config) { c.RateLimit.Disabled = true })
	web, _ := a.Register(webID, 0)
	url := a.Endpoints().IdentityEndpoint + "?api-version=2019-08-01&resource=api://singleflight"
	const n = 50
	var wg sync.WaitGroup
	bodies := make([]string, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			status, _, body := get(t, nil, "GET", url, nil, "X-IDENTITY-HEADER", web.Secret)
			if status != 200 {
				t.Errorf("status %d %s", status, body)
			}
			bodies[i] = body
		}(i)
	}
	waitFor(t, func() bool { return a.waiting.Load() == n }) // every request has joined the one call
	close(gate)
	wg.Wait()
	if c := up.calls.Load(); c != 1 {
		t.Fatalf("%d upstream calls, want 1", c)
	}
	tok := decode(t, bodies[0])["access_token"]
	for _, b := range bodies {
		if decode(t, b)["access_token"] != tok {
			t.Fatal("different tokens")
		}
	}
	// Further requests are cache hits.
	for i := 0; i < 10; i++ {
		get(t, nil, "GET", url, nil, "X-IDENTITY-HEADER", web.Secret)
	}
	if c := up.calls.Load(); c != 1 {
		t.Fatalf("%d upstream calls after hits", c)
	}
}

func waitFor(t testing.TB, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met in 5s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestCacheLifecycle: refresh ahead in the background, keep serving while upstream is down,
// never cache short-lived tokens.
func TestCacheLifecycle(t *testing.T) {
	up := newFakeUpstream()
	clock := &testClock{}
	up.clock = clock.now
	a := startAgent(t, up, func(c *Config) { c.Clock = clock.now; c.RateLimit.Disabled = true })
	web, _ := a.Register(webID, 0)
	url := a.Endpoints().IdentityEndpoint + "?api-version=2019-08-01&resource=api://lifecycle"
	fetch := func() (int, map[string]any) {
		status, _, body := get(t, nil, "GET", url, nil, "X-IDENTITY-HEADER", web.Secret)
		if status != 200 {
			return status, nil
		}
		return status, decode(t, body)
	}
	_, first := fetch()
	if up.calls.Load() != 1 {
		t.Fatal("no upstream call")
	}

	// Before half-life: cache hits.
	clock.advance(10 * time.Hour)
	if _, m := fetch(); m["access_token"] != first["access_token"] || up.calls.Load() != 1 {
		t.Fatal("not served from cache before half-life")
	}
	// expires_in counts down.
	if in, _ := strconv.Atoi(fetchField(fetch, "expires_in")); in > 14*3600+5*60 {
		t.Errorf("expires_in %d does not count down", in)
	}

	// Past half-life: the caller gets the cached token at once; a background refresh follows.
	clock.advance(3 * time.Hour)
	if _, m := fetch(); m["access_token"] != first["access_token"] {
		t.Fatal("caller waited for the refresh")
	}
	waitFor(t, func() bool { return up.calls.Load() == 2 })
	var second map[string]any
	waitFor(t, func() bool { _, second = fetch(); return second["access_token"] != first["access_token"] })

	// Upstream down: the cached token is served, past its refresh time, until it expires.
	up.down.Store(true)
	clock.advance(20 * time.Hour) // 4h5m of life left
	if _, m := fetch(); m["access_token"] != second["access_token"] {
		t.Fatal("cached token not served while upstream is down")
	}
	clock.advance(4 * time.Hour) // 5 minutes left: the agent tries upstream, falls back to the cache
	if _, m := fetch(); m == nil || m["access_token"] != second["access_token"] {
		t.Fatal("valid token not served in its last minutes while upstream is down")
	}
	clock.advance(10 * time.Minute) // expired
	if status, _ := fetch(); status != 503 {
		t.Fatalf("expired with upstream down: status %d, want 503", status)
	}

	// Upstream back, short-lived tokens: served, never cached.
	up.down.Store(false)
	up.lifetime.Store(int64(4 * time.Minute))
	before := up.calls.Load()
	for i := 0; i < 3; i++ {
		if status, _ := fetch(); status != 200 {
			t.Fatalf("short-lived: %d", status)
		}
	}
	if got := up.calls.Load() - before; got != 3 {
		t.Errorf("short-lived tokens: %d upstream calls for 3 requests, want 3", got)
	}
}

func fetchField(fetch func() (int, map[string]any), k string) string {
	_, m := fetch()
	s, _ := m[k].(string)
	return s
}

// TestRefusalStopsCachedToken: when the server refuses (identity detached), the agent stops
// serving its cached token for that key, and remembers the refusal briefly.
func TestRefusalStopsCachedToken(t *testing.T) {
	up := newFakeUpstream()
	clock := &testClock{}
	up.clock = clock.now
	a := startAgent(t, up, func(c *Config) { c.Clock = clock.now; c.RateLimit.Disabled = true })
	web, _ := a.Register(webID, 0)
	url := a.Endpoints().IdentityEndpoint + "?api-version=2019-08-01&resource=r&client_id=" + webUA1.clientID
	if status, _, _ := get(t, nil, "GET", url, nil, "X-IDENTITY-HEADER", web.Secret); status != 200 {
		t.Fatal(status)
	}
	// Detach web-id, then let the background refresh discover it.
	up.resources[strings.ToLower(webID)] = fakeResource{system: &webSystem, users: []identity{webUA2}}
	clock.advance(13 * time.Hour)
	get(t, nil, "GET", url, nil, "X-IDENTITY-HEADER", web.Secret)
	waitFor(t, func() bool { return up.calls.Load() == 2 })
	waitFor(t, func() bool {
		status, _, _ := get(t, nil, "GET", url, nil, "X-IDENTITY-HEADER", web.Secret)
		return status == 400
	})
	calls := up.calls.Load()
	for i := 0; i < 5; i++ {
		get(t, nil, "GET", url, nil, "X-IDENTITY-HEADER", web.Secret)
	}
	if up.calls.Load() != calls {
		t.Errorf("refusal not remembered: %d calls", up.calls.Load()-calls)
	}
}

func TestCacheEviction(t *testing.T) {
	up := newFakeUpstream()
	a := startAgent(t, up, func(c *Config) { c.Cache.MaxEntries = 10; c.RateLimit.Disabled = true })
	web, _ := a.Register(webID, 0)
	for i := 0; i < 25; i++ {
		url := fmt.Sprintf("%s?api-version=2019-08-01&resource=api://evict/%d", a.Endpoints().IdentityEndpoint, i)
		if status, _, _ := get(t, nil, "GET", url, nil, "X-IDENTITY-HEADER", web.Secret); status != 200 {
			t.Fatal(status)
		}
	}
	if n := a.cache.len(); n > 10 {
		t.Errorf("cache holds %d entries, max 10", n)
	}
}

func TestSocketRegistration(t *testing.T) {
	sock := t.TempDir() + "/agent.sock"
	a := startAgent(t, newFakeUpstream(), func(c *Config) { c.SocketPath = sock })
	fi, err := os.Stat(sock)
	if err != nil || fi.Mode()&os.ModeSocket == 0 || fi.Mode().Perm() != 0o600 {
		t.Fatalf("socket %v %v", fi, err)
	}
	url := a.Endpoints().IdentityEndpoint + "?api-version=2019-08-01&resource=r"
	ctx := t.Context()

	// Bound to the connection: closing it revokes the secret.
	c, err := Dial(ctx, sock)
	if err != nil {
		t.Fatal(err)
	}
	reg, err := c.Register(ctx, webID, 0, true)
	if err != nil || reg.Endpoints.IdentityEndpoint != a.Endpoints().IdentityEndpoint {
		t.Fatalf("register: %+v %v", reg, err)
	}
	if status, _, _ := get(t, nil, "GET", url, nil, "X-IDENTITY-HEADER", reg.Secret); status != 200 {
		t.Fatalf("status %d", status)
	}
	if _, err := c.Register(ctx, "not-an-arm-id", 0, false); err == nil {
		t.Error("bad resource id accepted")
	}
	c.Close()
	waitFor(t, func() bool { return a.reg.lookup(reg.Secret) == nil })

	// Bound to a process: its exit revokes the secret.
	c, _ = Dial(ctx, sock)
	defer c.Close()
	child := startSleeper(t)
	reg, err = c.Register(ctx, webID, child.Process.Pid, false)
	if err != nil {
		t.Fatal(err)
	}
	if status, _, _ := get(t, nil, "GET", url, nil, "X-IDENTITY-HEADER", reg.Secret); status != 200 {
		t.Fatalf("status %d", status)
	}
	child.Process.Kill()
	child.Wait()
	waitFor(t, func() bool { return a.reg.lookup(reg.Secret) == nil })
	if status, _, _ := get(t, nil, "GET", url, nil, "X-IDENTITY-HEADER", reg.Secret); status != 401 {
		t.Errorf("secret of an exited process: %d", status)
	}

	// Host binding over the socket.
	if err := c.BindHost(ctx, vmID); err != nil || a.reg.host.Load().resourceID != vmID {
		t.Fatalf("bind host: %v", err)
	}
	if err := c.UnbindHost(ctx); err != nil || a.reg.host.Load() != nil {
		t.Fatalf("unbind host: %v", err)
	}

	// Malformed input gets an error, not a hang up.
	raw, _ := Dial(ctx, sock)
	defer raw.Close()
	fmt.Fprintln(raw.conn, "{not json")
	line, _ := bufio.NewReader(raw.conn).ReadString('\n')
	if !strings.Contains(line, "malformed") {
		t.Errorf("malformed: %q", line)
	}

	// A second agent on the same socket is refused.
	if _, err := New(Config{Upstream: newFakeUpstream(), ListenAddr: "127.0.0.1:0", SocketPath: sock}); err == nil {
		t.Error("second agent on a live socket")
	}
}

func TestListenLoopbackOnly(t *testing.T) {
	for _, addr := range []string{"0.0.0.0:0", ":0", "8.8.8.8:0"} {
		if a, err := New(Config{Upstream: newFakeUpstream(), ListenAddr: addr}); err == nil {
			a.Close()
			t.Errorf("%s accepted", addr)
		}
	}
}

func TestAppendKeyNoAlloc(t *testing.T) {
	a := startAgent(t, newFakeUpstream(), nil)
	web, _ := a.Register(webID, 0)
	get(t, nil, "GET", a.Endpoints().IdentityEndpoint+"?api-version=2019-08-01&resource=r", nil, "X-IDENTITY-HEADER", web.Secret)
	var kb [384]byte
	allocs := testing.AllocsPerRun(100, func() {
		key := appendKey(kb[:0], webID, Selector{}, "r")
		if a.cache.get(key) == nil {
			t.Fatal("miss")
		}
	})
	if allocs != 0 {
		t.Errorf("cache lookup allocates %.0f times", allocs)
	}
}

func startSleeper(t *testing.T) *exec.Cmd {
	t.Helper()
	cmd := exec.Command("sleep", "30")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	return cmd
}

// TestRunURLs: `mint run --dialect cloudshell|arc|imds` reach the run's workload through its
// secret in the URL or the proxy credentials, never the host binding.
func TestRunURLs(t *testing.T) {
	a := startAgent(t, newFakeUpstream(), func(c *Config) { c.ArcKeyDir = t.TempDir() + "/tokens" })
	web, _ := a.Register(webID, 0)
	base := strings.TrimSuffix(a.Endpoints().IdentityEndpoint, "/msi/token")
	form := strings.NewReader("resource=r")
	status, _, body := get(t, nil, "POST", base+RunPathPrefix+web.Secret+"/cloudshell", form, "Metadata", "true", "Content-Type", "application/x-www-form-urlencoded")
	if status != 200 {
		t.Fatalf("cloud shell: %d %s", status, body)
	}
	checkTokenBody(t, dialect.CloudShell, body, webSystem.clientID, "r")
	if status, _, _ := get(t, nil, "POST", base+RunPathPrefix+"nope/cloudshell", strings.NewReader("resource=r"), "Metadata", "true"); status != 401 {
		t.Errorf("unknown secret: %d", status)
	}
	if status, _, _ := get(t, nil, "GET", base+RunPathPrefix+web.Secret+"/lambda", nil); status != 400 {
		t.Errorf("unknown dialect: %d", status)
	}
	// Arc: challenge first, then the run's token.
	arc := base + RunPathPrefix + web.Secret + "/arc?api-version=2020-06-01&resource=r"
	status, h, _ := get(t, nil, "GET", arc, nil, "Metadata", "true")
	realm, _ := strings.CutPrefix(h.Get("WWW-Authenticate"), "Basic realm=")
	key, err := os.ReadFile(realm)
	if status != 401 || err != nil {
		t.Fatalf("arc challenge: %d %v", status, err)
	}
	if status, _, body := get(t, nil, "GET", arc, nil, "Metadata", "true", "Authorization", "Basic "+string(key)); status != 200 {
		t.Fatalf("arc: %d %s", status, body)
	}
	// IMDS with the run's secret as proxy credentials (no host binding exists).
	imds := base + "/metadata/identity/oauth2/token" + "?api-version=2018-02-01&resource=r"
	basic := "Basic " + basicCredentials("mint", web.Secret)
	if status, _, body := get(t, nil, "GET", imds, nil, "Metadata", "true", "Proxy-Authorization", basic); status != 200 {
		t.Fatalf("imds: %d %s", status, body)
	}
	if status, _, _ := get(t, nil, "GET", imds, nil, "Metadata", "true", "Proxy-Authorization", "Basic bWludDpub3Bl"); status != 401 {
		t.Errorf("imds with an unknown secret: %d", status)
	}
}

func basicCredentials(user, password string) string {
	r, _ := http.NewRequest(http.MethodGet, "http://x", nil)
	r.SetBasicAuth(user, password)
	v, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Basic ")
	return v
}
