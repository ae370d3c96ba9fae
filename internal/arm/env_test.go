package arm

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/google/uuid"

	"github.com/mint-id/mint/internal/directory"
	"github.com/mint-id/mint/internal/store"
	"github.com/mint-id/mint/internal/store/sqlite"
)

// testEnv is a management endpoint over a real SQLite store in the test's temporary directory,
// bootstrapped as mint bootstraps an installation: a tenant, the subscription "mint
// subscription" and an admin application that is Owner of it. No resource group exists until
// group makes one. Callers sign in with tokens signed by a test key; the endpoint's clock starts
// at 2026-05-01T12:00:00Z and moves a second at every reading.
type testEnv struct {
	t  testing.TB
	st *sqlite.Store
	// storePath is st's database file.
	storePath string
	srv       *Server
	tenant    string
	sub       string
	admin     string // object id of the admin application

	mu    sync.Mutex
	clock time.Time
}

const testBase = "https://mint.test"

// testKey signs the tokens of every testEnv (one key: RSA generation is slow under -race).
var testKey = sync.OnceValues(func() (*rsa.PrivateKey, error) { return rsa.GenerateKey(rand.Reader, 2048) })

type testKeys struct{ pub *rsa.PublicKey }

func (k testKeys) PublicKey(kid string) (*rsa.PublicKey, bool) { return k.pub, kid == "k1" }

// openTestStore opens an empty SQLite store, closed when the test ends.
func openTestStore(tb testing.TB) *sqlite.Store {
	st, _ := openTestStoreAt(tb)
	return st
}

// openTestStoreAt is openTestStore, also returning the database file's path.
func openTestStoreAt(tb testing.TB) (*sqlite.Store, string) {
	tb.Helper()
	path := filepath.Join(tb.TempDir(), "mint.db")
	st, err := sqlite.Open(context.Background(), path)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { st.Close() })
	return st, path
}

func newTestEnv(tb testing.TB) *testEnv {
	tb.Helper()
	ctx := context.Background()
	key, err := testKey()
	if err != nil {
		tb.Fatal(err)
	}
	st, path := openTestStoreAt(tb)
	dir := directory.New(st, directory.Options{})
	in, err := dir.Bootstrap(ctx)
	if err != nil {
		tb.Fatal(err)
	}
	if err := EnsureOwner(ctx, st, in.Admin.ObjectID, in.Subscription.ID); err != nil {
		tb.Fatal(err)
	}
	e := &testEnv{t: tb, st: st, storePath: path, tenant: in.Tenant.ID, sub: in.Subscription.ID, admin: in.Admin.ObjectID,
		clock: time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)}
	e.srv = New(Config{BaseURL: testBase, Clock: e.now}, st, dir, testKeys{&key.PublicKey})
	e.srv.ConfigureKeyVault(KeyVaultConfig{
		VaultURI:    func(name string) string { return "https://" + strings.ToLower(name) + ".vault.localhost:8443/" },
		SealDataKey: func(id string) ([]byte, error) { return []byte("sealed key of " + id), nil },
	})
	return e
}

func (e *testEnv) now() time.Time {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.clock = e.clock.Add(time.Second)
	return e.clock
}

// group creates resource groups in the subscription directly in the store (not through the
// API, so that they leave no activity-log event).
func (e *testEnv) group(names ...string) {
	e.t.Helper()
	for _, name := range names {
		created, err := e.st.PutResourceGroup(context.Background(), store.ResourceGroup{SubscriptionID: e.sub, Name: name, Location: "eastus", CreatedAt: e.now()})
		if err != nil || !created {
			e.t.Fatalf("group %s: created %v, %v", name, created, err)
		}
	}
}

// principal registers a service principal in the tenant and returns its object id.
func (e *testEnv) principal(kind store.PrincipalKind, name string) string {
	e.t.Helper()
	sp := store.ServicePrincipal{ObjectID: uuid.NewString(), AppID: uuid.NewString(), TenantID: e.tenant, Kind: kind, DisplayName: name, CreatedAt: e.now()}
	if err := e.st.CreatePrincipal(context.Background(), sp, nil); err != nil {
		e.t.Fatal(err)
	}
	return sp.ObjectID
}

// assign gives a principal a role at a scope, directly in the store, and returns the
// assignment's name.
func (e *testEnv) assign(principalID, roleID, scope string) string {
	e.t.Helper()
	now := e.now()
	a := store.RoleAssignment{ID: uuid.NewString(), Scope: scope, RoleDefinitionID: roleID, PrincipalID: principalID,
		PrincipalType: "ServicePrincipal", CreatedAt: now, UpdatedAt: now}
	if err := e.st.CreateRoleAssignment(context.Background(), a); err != nil {
		e.t.Fatal(err)
	}
	return a.ID
}

// hasPrincipal tells whether the store holds a principal.
func (e *testEnv) hasPrincipal(id string) bool {
	e.t.Helper()
	_, err := e.st.GetPrincipal(context.Background(), id)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		e.t.Fatal(err)
	}
	return err == nil
}

func (e *testEnv) subScope() string      { return "/subscriptions/" + e.sub }
func (e *testEnv) rg(name string) string { return e.subScope() + "/resourceGroups/" + name }

// token is an hour's ARM access token for a principal of the tenant.
func (e *testEnv) token(principalID string) string {
	e.t.Helper()
	sp, err := e.st.GetPrincipal(context.Background(), principalID)
	if err != nil {
		e.t.Fatalf("token for %s: %v", principalID, err)
	}
	key, _ := testKey()
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: key}, (&jose.SignerOptions{}).WithHeader("kid", "k1").WithType("JWT"))
	if err != nil {
		e.t.Fatal(err)
	}
	now := time.Now()
	tok, err := jwt.Signed(signer).Claims(map[string]any{
		"aud": "https://management.azure.com/", "iss": testBase + "/" + e.tenant + "/", "tid": e.tenant,
		"oid": principalID, "sub": principalID, "appid": sp.AppID, "ver": "1.0",
		"iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(time.Hour).Unix(),
	}).Serialize()
	if err != nil {
		e.t.Fatal(err)
	}
	return tok
}

// response is a recorded answer; body is the decoded JSON object, nil when there is none.
type response struct {
	status int
	header http.Header
	raw    []byte
	body   map[string]any
}

func (r response) code() string    { return r.str("error.code") }
func (r response) message() string { return r.str("error.message") }

// str follows a dotted path of object keys to a string.
func (r response) str(path string) string {
	s, _ := lookup(r.body, path).(string)
	return s
}

// list is the body's value array.
func (r response) list() []map[string]any {
	var out []map[string]any
	vals, _ := r.body["value"].([]any)
	for _, v := range vals {
		if m, ok := v.(map[string]any); ok {
			out = append(out, m)
		}
	}
	return out
}

func lookup(m map[string]any, path string) any {
	var cur any = m
	for _, p := range strings.Split(path, ".") {
		mm, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = mm[p]
	}
	return cur
}

// call sends a request as principalID; body is JSON-encoded unless it is a string (sent raw).
// apiVersion "" leaves the path's query as it is.
func (e *testEnv) call(principalID, method, path, apiVersion string, body any) response {
	e.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		data, err := json.Marshal(b)
		if err != nil {
			e.t.Fatal(err)
		}
		rd = bytes.NewReader(data)
	}
	if apiVersion != "" {
		sep := "?"
		if strings.Contains(path, "?") {
			sep = "&"
		}
		path += sep + "api-version=" + apiVersion
	}
	r := httptest.NewRequest(method, path, rd)
	r.Header.Set("Authorization", "Bearer "+e.token(principalID))
	w := httptest.NewRecorder()
	e.srv.ServeHTTP(w, r)
	out := response{status: w.Code, header: w.Header(), raw: w.Body.Bytes()}
	if w.Body.Len() > 0 && method != http.MethodHead {
		if err := json.Unmarshal(w.Body.Bytes(), &out.body); err != nil {
			e.t.Fatalf("%s %s: body is not JSON: %s", method, path, w.Body.String())
		}
	}
	return out
}

// as is call for the admin.
func (e *testEnv) as(method, path, apiVersion string, body any) response {
	e.t.Helper()
	return e.call(e.admin, method, path, apiVersion, body)
}

// must is as, failing unless the status is want.
func (e *testEnv) must(want int, method, path, apiVersion string, body any) response {
	e.t.Helper()
	r := e.as(method, path, apiVersion, body)
	if r.status != want {
		e.t.Fatalf("%s %s: status %d, want %d: %s", method, path, r.status, want, r.raw)
	}
	return r
}

func props(body map[string]any) map[string]any {
	p, _ := body["properties"].(map[string]any)
	return p
}

// names are the sorted names of listed resources.
func names(list []map[string]any) []string {
	var out []string
	for _, v := range list {
		n, _ := v["name"].(string)
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}

func urlq(s string) string { return url.QueryEscape(s) }

var _ http.Handler = (*Server)(nil)
