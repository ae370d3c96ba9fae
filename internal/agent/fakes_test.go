package agent

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Test resources: a web app with a system-assigned identity and two user-assigned ones, a job
// with one user-assigned identity only, a worker with two user-assigned ones only, and a VM.
const (
	webID    = "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/app/providers/Microsoft.App/containerApps/web"
	jobID    = "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/app/providers/Microsoft.App/jobs/job"
	workerID = "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/app/providers/Microsoft.App/containerApps/worker"
	vmID     = "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/app/providers/Microsoft.Compute/virtualMachines/vm1"
	uaBase   = "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/app/providers/Microsoft.ManagedIdentity/userAssignedIdentities/"
)

type identity struct{ clientID, objectID, resourceID string }

var (
	webSystem = identity{"11111111-0000-0000-0000-00000000000a", "22222222-0000-0000-0000-00000000000a", ""}
	webUA1    = identity{"11111111-0000-0000-0000-0000000000b1", "22222222-0000-0000-0000-0000000000b1", uaBase + "web-id"}
	webUA2    = identity{"11111111-0000-0000-0000-0000000000b2", "22222222-0000-0000-0000-0000000000b2", uaBase + "web-id-2"}
	jobUA     = identity{"11111111-0000-0000-0000-0000000000c1", "22222222-0000-0000-0000-0000000000c1", uaBase + "job-id"}
	vmSystem  = identity{"11111111-0000-0000-0000-00000000000d", "22222222-0000-0000-0000-00000000000d", ""}
	vmUA      = identity{"11111111-0000-0000-0000-0000000000d1", "22222222-0000-0000-0000-0000000000d1", uaBase + "vm-id"}
)

type fakeResource struct {
	system *identity
	users  []identity
}

// fakeUpstream plays the mint server's broker grant: it resolves the selector against the
// resource's identities and mints opaque tokens that name what they are for.
type fakeUpstream struct {
	resources map[string]fakeResource
	calls     atomic.Int64
	down      atomic.Bool
	forbidden atomic.Bool
	lifetime  atomic.Int64 // nanoseconds; default 24h5m like real MI tokens
	clock     func() time.Time
	pad       int // extra token length, to make tokens realistic in size

	mu   sync.Mutex
	gate chan struct{} // if set, calls block until it is closed
	log  []TokenRequest
}

func newFakeUpstream() *fakeUpstream {
	return &fakeUpstream{
		resources: map[string]fakeResource{
			strings.ToLower(webID):    {system: &webSystem, users: []identity{webUA1, webUA2}},
			strings.ToLower(jobID):    {users: []identity{jobUA}},
			strings.ToLower(workerID): {users: []identity{webUA1, webUA2}},
			strings.ToLower(vmID):     {system: &vmSystem, users: []identity{vmUA}},
		},
		clock: time.Now,
		pad:   1100,
	}
}

func (f *fakeUpstream) Token(ctx context.Context, req TokenRequest) (Token, error) {
	n := f.calls.Add(1)
	f.mu.Lock()
	gate := f.gate
	f.log = append(f.log, req)
	f.mu.Unlock()
	if gate != nil {
		select {
		case <-gate:
		case <-ctx.Done():
			return Token{}, ctx.Err()
		}
	}
	if f.down.Load() {
		return Token{}, &UpstreamError{Kind: Unavailable, Message: "the mint server at https://mint.example:8443 is unreachable"}
	}
	if f.forbidden.Load() {
		return Token{}, &UpstreamError{Kind: NodeNotAllowed, Message: "node n1 holds no Managed Identity Token Broker role at " + req.ResourceID}
	}
	res, ok := f.resources[strings.ToLower(req.ResourceID)]
	if !ok {
		return Token{}, &UpstreamError{Kind: ResourceNotFound, Message: "resource " + req.ResourceID + " does not exist"}
	}
	if strings.Contains(req.Resource, "nope") {
		return Token{}, &UpstreamError{Kind: InvalidResource, Message: "AADSTS500011: The resource principal named " + req.Resource + " was not found in the tenant named t."}
	}
	var id *identity
	sel := req.Identity
	switch {
	case sel.IsZero():
		switch {
		case res.system != nil:
			id = res.system
		case len(res.users) == 1:
			id = &res.users[0]
		case len(res.users) > 1:
			return Token{}, &UpstreamError{Kind: MultipleIdentities, Message: "resource " + req.ResourceID + " has several user-assigned identities and no system-assigned one; choose one with client_id"}
		default:
			return Token{}, &UpstreamError{Kind: IdentityNotFound, Message: "resource " + req.ResourceID + " has no managed identity"}
		}
	default:
		all := res.users
		if res.system != nil {
			all = append([]identity{*res.system}, all...)
		}
		for i := range all {
			c := all[i]
			if (sel.ClientID != "" && strings.EqualFold(sel.ClientID, c.clientID)) ||
				(sel.ObjectID != "" && strings.EqualFold(sel.ObjectID, c.objectID)) ||
				(sel.ResourceID != "" && c.resourceID != "" && strings.EqualFold(sel.ResourceID, c.resourceID)) {
				id = &c
				break
			}
		}
		if id == nil {
			return Token{}, &UpstreamError{Kind: IdentityNotFound, Message: fmt.Sprintf("identity %s is not attached to resource %s", selectorString(sel), req.ResourceID)}
		}
	}
	life := time.Duration(f.lifetime.Load())
	if life == 0 {
		life = 24*time.Hour + 5*time.Minute
	}
	now := f.clock()
	tok := fmt.Sprintf("tok.%s.%s.%d.", id.clientID, req.Resource, n) + strings.Repeat("x", f.pad)
	return Token{AccessToken: tok, ClientID: id.clientID, ObjectID: id.objectID, IdentityResourceID: id.resourceID,
		ExpiresOn: now.Add(life).Truncate(time.Second), NotBefore: now.Truncate(time.Second), Resource: req.Resource}, nil
}

// tokenClient extracts the client id a fake token was minted for.
func tokenClient(tok string) string {
	parts := strings.SplitN(tok, ".", 3)
	if len(parts) < 2 {
		return ""
	}
	return parts[1]
}

// testClock is real time plus an adjustable offset.
type testClock struct{ offset atomic.Int64 }

func (c *testClock) now() time.Time          { return time.Now().Add(time.Duration(c.offset.Load())) }
func (c *testClock) advance(d time.Duration) { c.offset.Add(int64(d)) }
func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}
func quietLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }
func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

type testWriter struct{ t testing.TB }

// startAgent starts an agent on 127.0.0.1 with the fake upstream and stops it at cleanup.
func startAgent(t testing.TB, up Upstream, mutate func(*Config)) *Agent {
	t.Helper()
	cfg := Config{Upstream: up, ListenAddr: "127.0.0.1:0", Logger: quietLogger(), PIDPollInterval: 50 * time.Millisecond}
	if mutate != nil {
		mutate(&cfg)
	}
	a, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Serve(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return a
}

// get sends a request and returns status, headers and body.
func get(t testing.TB, c *http.Client, method, url string, body io.Reader, headers ...string) (int, http.Header, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	if c == nil {
		c = http.DefaultClient
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

// isolateEnv clears every variable that steers the Azure SDKs' credential selection, so that a
// test sets exactly what it means to (and nothing probes 169.254.169.254).
func isolateEnv(t *testing.T) {
	t.Helper()
	for _, k := range []string{"IDENTITY_ENDPOINT", "IDENTITY_HEADER", "IDENTITY_SERVER_THUMBPRINT", "MSI_ENDPOINT", "MSI_SECRET",
		"IMDS_ENDPOINT", "AZURE_CLIENT_ID", "AZURE_TENANT_ID", "AZURE_CLIENT_SECRET", "AZURE_FEDERATED_TOKEN_FILE",
		"AZURE_CLIENT_CERTIFICATE_PATH", "AZURE_USERNAME", "AZURE_POD_IDENTITY_AUTHORITY_HOST", "DEFAULT_IDENTITY_CLIENT_ID"} {
		if _, ok := os.LookupEnv(k); ok {
			t.Setenv(k, "")
			os.Unsetenv(k)
		}
	}
	t.Setenv("AZURE_TOKEN_CREDENTIALS", "ManagedIdentityCredential")
}
