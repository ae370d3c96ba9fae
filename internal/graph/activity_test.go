package graph

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"database/sql"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/mint-id/mint/internal/directory"
	"github.com/mint-id/mint/internal/store"
	"github.com/mint-id/mint/internal/store/sqlite"
)

type testKeys struct{ pub *rsa.PublicKey }

func (k testKeys) PublicKey(kid string) (*rsa.PublicKey, bool) { return k.pub, kid == "k1" }

// graphEnv is Graph over a bootstrapped SQLite store, called as the admin application.
func graphEnv(t *testing.T) (*Server, *sqlite.Store, string, func(method, path, body string) *httptest.ResponseRecorder) {
	e := newTestEnv(t)
	return e.srv, e.st, e.path, e.caller(map[string]any{
		"oid": e.in.Admin.ObjectID, "sub": e.in.Admin.ObjectID, "appid": e.in.Admin.AppID,
		"roles": []string{directory.RoleApplicationReadWriteAll, directory.RoleDirectoryReadAll},
	})
}

// testEnv is Graph over a bootstrapped SQLite store, with callers of any claims.
type testEnv struct {
	srv    *Server
	st     *sqlite.Store
	dir    *directory.Directory
	in     directory.Installation
	path   string
	signer jose.Signer
}

func newTestEnv(t *testing.T) *testEnv {
	t.Helper()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "mint.db")
	st, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	dir := directory.New(st, directory.Options{})
	in, err := dir.Bootstrap(ctx)
	if err != nil {
		t.Fatal(err)
	}
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	const base = "https://mint.test"
	srv := New(dir, st, testKeys{&key.PublicKey}, base, nil)
	signer, _ := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: key}, (&jose.SignerOptions{}).WithHeader("kid", "k1").WithType("JWT"))
	return &testEnv{srv: srv, st: st, dir: dir, in: in, path: path, signer: signer}
}

// caller returns a function that calls Graph with a token of the tenant carrying claims.
func (e *testEnv) caller(claims map[string]any) func(method, path, body string) *httptest.ResponseRecorder {
	now := time.Now()
	all := map[string]any{
		"aud": "https://graph.microsoft.com", "iss": "https://sts.windows.net/" + e.in.Tenant.ID + "/", "tid": e.in.Tenant.ID, "ver": "1.0",
		"iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(time.Hour).Unix(),
	}
	for k, v := range claims {
		all[k] = v
	}
	tok, err := jwt.Signed(e.signer).Claims(all).Serialize()
	if err != nil {
		panic(err)
	}
	return func(method, p, body string) *httptest.ResponseRecorder {
		r := httptest.NewRequest(method, p, strings.NewReader(body))
		if r.URL.Query().Has("$search") {
			r.Header.Set("ConsistencyLevel", "eventual") // as every client sending $search does
		}
		r.Header.Set("Authorization", "Bearer "+tok)
		r.Header.Set("Content-Type", "application/json")
		w := httptest.NewRecorder()
		e.srv.ServeHTTP(w, r)
		return w
	}
}

// A directory write records its activity-log entry in its own transaction; when the entry
// cannot be written the application is not created and Graph answers an error in its shape.
func TestDirectoryWriteAndItsActivityEntryCommitTogether(t *testing.T) {
	_, st, path, call := graphEnv(t)
	ctx := context.Background()
	w := call("POST", "/v1.0/applications", `{"displayName":"logged"}`)
	if w.Code != http.StatusCreated {
		t.Fatalf("create: %d %s", w.Code, w.Body)
	}
	var app struct{ ID, AppID string }
	json.Unmarshal(w.Body.Bytes(), &app)
	events, err := st.ListActivity(ctx, store.ActivityFilter{ResourceID: "/v1.0/applications"})
	if err != nil || len(events) != 1 || events[0].Status != "Succeeded" || events[0].HTTPStatus != http.StatusCreated ||
		events[0].OperationName != "Microsoft.Graph/applications/write" {
		t.Fatalf("entries of the create: %+v %v", events, err)
	}

	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`CREATE TRIGGER activity_fails BEFORE INSERT ON activity BEGIN SELECT RAISE(ABORT, 'injected'); END`); err != nil {
		t.Fatal(err)
	}
	w = call("POST", "/v1.0/applications", `{"displayName":"unlogged"}`)
	var env struct {
		Error struct{ Code, Message string }
	}
	if w.Code < 500 || json.Unmarshal(w.Body.Bytes(), &env) != nil || env.Error.Code == "" {
		t.Errorf("create with the activity log failing: %d %s, want a 5xx in Graph's shape", w.Code, w.Body)
	}
	tenants, err := st.ListTenants(ctx)
	if err != nil || len(tenants) != 1 {
		t.Fatalf("tenants %v %v", tenants, err)
	}
	sps, err := st.ListPrincipals(ctx, tenants[0].ID, store.KindApplication)
	if err != nil || len(sps) < 2 {
		t.Fatalf("applications %v %v", sps, err)
	}
	for _, sp := range sps {
		if sp.DisplayName == "unlogged" {
			t.Errorf("application %s was created without its activity-log entry", sp.AppID)
		}
	}
	if w := call("DELETE", "/v1.0/applications/"+app.ID, ""); w.Code < 500 {
		t.Errorf("delete with the activity log failing: %d %s", w.Code, w.Body)
	}
	if _, err := st.GetPrincipal(ctx, app.ID); err != nil {
		t.Errorf("the application was deleted without its activity-log entry: %v", err)
	}
}
