package vault

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/mint-id/mint/internal/directory"
	"github.com/mint-id/mint/internal/keys"
	"github.com/mint-id/mint/internal/rbac"
	"github.com/mint-id/mint/internal/store"
	"github.com/mint-id/mint/internal/store/sqlite"
	"github.com/mint-id/mint/internal/sts"
)

// testEnv is a data plane on a real SQLite store, with tokens minted by the real STS's
// in-process issuance (the one the node agents' broker grant uses), so tokens carry exactly the
// claims mint issues, xms_mirid and xms_az_rid included.

const (
	testBaseURL = "https://127.0.0.1:8443"
	testHost    = "kv1.vault.localhost:8443"
	testAud     = "https://vault.localhost:8443"
	apiVersion  = "2026-04-01"
)

// fakeClock runs with real time (caches expire as they would) plus an offset tests move forward.
type fakeClock struct {
	mu     sync.Mutex
	offset time.Duration
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().UTC().Add(c.offset)
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.offset += d
	c.mu.Unlock()
}

type testEnv struct {
	t       *testing.T
	ctx     context.Context
	st      *sqlite.Store
	kek     *keys.KEK
	signer  *keys.Manager
	dir     *directory.Directory
	sts     *sts.Server
	in      directory.Installation
	kvApp   store.ServicePrincipal
	clock   *fakeClock
	srv     *Server
	group   string
	vaultID string
	dbPath  string
}

type envOptions struct {
	properties string // vault properties JSON; default RBAC on
	cacheTTL   time.Duration
}

func newEnv(t *testing.T, o envOptions) *testEnv {
	t.Helper()
	ctx := context.Background()
	dbPath := filepath.Join(t.TempDir(), "mint.db")
	st, err := sqlite.Open(ctx, dbPath)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	raw := make([]byte, keys.KEKSize)
	rand.Read(raw)
	kek, err := keys.NewKEK(raw)
	if err != nil {
		t.Fatal(err)
	}
	clock := &fakeClock{}
	signer := keys.NewManager(st, kek, keys.ManagerOptions{})
	if err := signer.Ensure(ctx); err != nil {
		t.Fatal(err)
	}
	dir := directory.New(st, directory.Options{VaultAudiences: Audiences([]string{DefaultDNSSuffix}, "8443")})
	in, err := dir.Bootstrap(ctx)
	if err != nil {
		t.Fatal(err)
	}
	kvApp, err := dir.Resource(ctx, in.Tenant.ID, testAud)
	if err != nil {
		t.Fatal(err)
	}
	e := &testEnv{t: t, ctx: ctx, st: st, kek: kek, signer: signer, dir: dir, in: in, kvApp: kvApp, clock: clock, group: "app", dbPath: dbPath}
	e.sts = sts.New(sts.Config{BaseURL: testBaseURL}, dir, signer, nil, st)
	e.srv = New(Config{BaseURL: testBaseURL, Clock: clock.Now, CacheTTL: o.cacheTTL}, st, kek, signer)
	if _, err := st.PutResourceGroup(ctx, store.ResourceGroup{SubscriptionID: in.Subscription.ID, Name: e.group, Location: "westeurope", CreatedAt: clock.Now()}); err != nil {
		t.Fatal(err)
	}
	props := o.properties
	if props == "" {
		props = `{"enableRbacAuthorization":true,"softDeleteRetentionInDays":90}`
	}
	e.vaultID = e.createVault("kv1", props)
	return e
}

// createVault creates a vault resource and its data-plane record; properties get the tenant.
func (e *testEnv) createVault(name, properties string) string {
	e.t.Helper()
	var props map[string]any
	if err := json.Unmarshal([]byte(properties), &props); err != nil {
		e.t.Fatal(err)
	}
	props["tenantId"] = e.in.Tenant.ID
	data, _ := json.Marshal(props)
	id := "/subscriptions/" + e.in.Subscription.ID + "/resourceGroups/" + e.group + "/providers/Microsoft.KeyVault/vaults/" + name
	now := e.clock.Now()
	if _, err := e.st.PutResource(e.ctx, store.Resource{ID: id, SubscriptionID: e.in.Subscription.ID, ResourceGroup: e.group,
		Type: "Microsoft.KeyVault/vaults", Name: name, Location: "westeurope", Properties: data, CreatedAt: now, UpdatedAt: now}, nil, nil); err != nil {
		e.t.Fatal(err)
	}
	key, err := SealDataKey(e.kek, id)
	if err != nil {
		e.t.Fatal(err)
	}
	if err := e.st.CreateVault(e.ctx, store.Vault{Name: name, ResourceID: id, DataKey: key, CreatedAt: now}); err != nil {
		e.t.Fatal(err)
	}
	return id
}

// app registers an application with the given roles at the vault.
func (e *testEnv) app(name string, roleIDs ...string) store.ServicePrincipal {
	e.t.Helper()
	sp, err := e.dir.CreateApplication(e.ctx, e.in.Tenant.ID, directory.ApplicationSpec{DisplayName: name})
	if err != nil {
		e.t.Fatal(err)
	}
	for _, r := range roleIDs {
		e.assign(sp.ObjectID, r, e.vaultID)
	}
	return sp
}

func (e *testEnv) assign(principalID, roleID, scope string) string {
	e.t.Helper()
	id := uuid.NewString()
	now := time.Now().UTC()
	if err := e.st.CreateRoleAssignment(e.ctx, store.RoleAssignment{ID: id, Scope: scope, RoleDefinitionID: roleID,
		PrincipalID: principalID, PrincipalType: "ServicePrincipal", CreatedAt: now, UpdatedAt: now}); err != nil {
		e.t.Fatal(err)
	}
	return id
}

// token issues a Key Vault token for client (with managed-identity claims when mi is set).
func (e *testEnv) token(client store.ServicePrincipal, mi *sts.ManagedIdentityClaims) string {
	e.t.Helper()
	kind := sts.CredentialSecret
	if mi != nil {
		kind = sts.CredentialManagedIdentity
	}
	tok, err := e.sts.Issue(e.ctx, sts.IssueRequest{Tenant: e.in.Tenant, Client: client, Resource: e.kvApp, Audience: testAud,
		CredentialKind: kind, ManagedIdentity: mi})
	if err != nil {
		e.t.Fatal(err)
	}
	return tok.AccessToken
}

// response is a recorded answer.
type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("body is not JSON (%d): %s", r.status, r.body)
	}
	return m
}

func (r response) errorCodes(t *testing.T) (code, inner string) {
	t.Helper()
	var env struct {
		Error struct {
			Code       string `json:"code"`
			InnerError *struct {
				Code string `json:"code"`
			} `json:"innererror"`
		} `json:"error"`
	}
	if err := json.Unmarshal(r.body, &env); err != nil {
		t.Fatalf("error body is not JSON (%d): %s", r.status, r.body)
	}
	if env.Error.InnerError != nil {
		inner = env.Error.InnerError.Code
	}
	return env.Error.Code, inner
}

// do sends a request to host (testHost when "") with token (none when "").
func (e *testEnv) do(method, host, path, token string, body any) response {
	e.t.Helper()
	if host == "" {
		host = testHost
	}
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		data, _ := json.Marshal(b)
		rd = bytes.NewReader(data)
	}
	if !strings.Contains(path, "api-version") {
		sep := "?"
		if strings.Contains(path, "?") {
			sep = "&"
		}
		path += sep + "api-version=" + apiVersion
	}
	req := httptest.NewRequest(method, "https://"+host+path, rd)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	rec := httptest.NewRecorder()
	e.srv.ServeHTTP(rec, req)
	return response{status: rec.Code, header: rec.Header(), body: rec.Body.Bytes()}
}

func (e *testEnv) mustStatus(r response, want int, what string) {
	e.t.Helper()
	if r.status != want {
		e.t.Fatalf("%s: status %d, want %d: %s", what, r.status, want, r.body)
	}
}

var (
	officerRole = rbac.KeyVaultSecretsOfficerRoleID
	userRole    = rbac.KeyVaultSecretsUserRoleID
)

func stsRequest(e *testEnv, client, resource store.ServicePrincipal, audience string) sts.IssueRequest {
	return sts.IssueRequest{Tenant: e.in.Tenant, Client: client, Resource: resource, Audience: audience, CredentialKind: sts.CredentialSecret}
}
