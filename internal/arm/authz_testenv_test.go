package arm

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/google/uuid"

	"github.com/mint-id/mint/internal/directory"
	"github.com/mint-id/mint/internal/rbac"
	"github.com/mint-id/mint/internal/store"
)

// authzFakeStore is an in-memory store with what the authorization and insights providers and
// the front door use; every other method panics (the embedded interfaces are nil).
type authzFakeStore struct {
	store.Store // nil: what is not overridden below panics

	mu          sync.Mutex
	tenants     map[string]store.Tenant
	subs        map[string]store.Subscription
	groups      map[string]store.ResourceGroup
	principals  map[string]store.ServicePrincipal
	settings    map[string]string
	roleDefs    map[string]store.RoleDefinition
	assignments map[string]store.RoleAssignment
	events      []store.ActivityEvent
}

func newAuthzFakeStore() *authzFakeStore {
	return &authzFakeStore{
		tenants: map[string]store.Tenant{}, subs: map[string]store.Subscription{}, groups: map[string]store.ResourceGroup{},
		principals: map[string]store.ServicePrincipal{}, settings: map[string]string{},
		roleDefs: map[string]store.RoleDefinition{}, assignments: map[string]store.RoleAssignment{},
	}
}

func (f *authzFakeStore) GetTenant(_ context.Context, id string) (store.Tenant, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	t, ok := f.tenants[strings.ToLower(id)]
	if !ok {
		return t, store.ErrNotFound
	}
	return t, nil
}

func (f *authzFakeStore) GetSetting(_ context.Context, key string) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	v, ok := f.settings[key]
	if !ok {
		return "", store.ErrNotFound
	}
	return v, nil
}

func (f *authzFakeStore) GetSubscription(_ context.Context, id string) (store.Subscription, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	s, ok := f.subs[strings.ToLower(id)]
	if !ok {
		return s, store.ErrNotFound
	}
	return s, nil
}

func (f *authzFakeStore) GetResourceGroup(_ context.Context, sub, name string) (store.ResourceGroup, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	g, ok := f.groups[strings.ToLower(sub+"/"+name)]
	if !ok {
		return g, store.ErrNotFound
	}
	return g, nil
}

func (f *authzFakeStore) GetPrincipal(_ context.Context, id string) (store.ServicePrincipal, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	p, ok := f.principals[strings.ToLower(id)]
	if !ok {
		return p, store.ErrNotFound
	}
	return p, nil
}

func (f *authzFakeStore) PutRoleDefinition(_ context.Context, d store.RoleDefinition) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for id, x := range f.roleDefs {
		if id != d.ID && strings.EqualFold(x.RoleName, d.RoleName) {
			return false, store.ErrConflict
		}
	}
	_, existed := f.roleDefs[d.ID]
	f.roleDefs[d.ID] = d
	return !existed, nil
}

func (f *authzFakeStore) GetRoleDefinition(_ context.Context, id string) (store.RoleDefinition, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	d, ok := f.roleDefs[strings.ToLower(id)]
	if !ok {
		return d, store.ErrNotFound
	}
	return d, nil
}

func (f *authzFakeStore) ListRoleDefinitions(context.Context) ([]store.RoleDefinition, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []store.RoleDefinition
	for _, d := range f.roleDefs {
		out = append(out, d)
	}
	return out, nil
}

func (f *authzFakeStore) DeleteRoleDefinition(_ context.Context, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.roleDefs[id]; !ok {
		return store.ErrNotFound
	}
	delete(f.roleDefs, id)
	return nil
}

func (f *authzFakeStore) CreateRoleAssignment(_ context.Context, a store.RoleAssignment) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.assignments[a.ID]; ok {
		return store.ErrConflict
	}
	for _, x := range f.assignments {
		if sameGrant(x, a) {
			return store.ErrConflict
		}
	}
	f.assignments[a.ID] = a
	return nil
}

func (f *authzFakeStore) GetRoleAssignment(_ context.Context, id string) (store.RoleAssignment, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	a, ok := f.assignments[strings.ToLower(id)]
	if !ok {
		return a, store.ErrNotFound
	}
	return a, nil
}

func (f *authzFakeStore) ListRoleAssignments(_ context.Context, flt store.RoleAssignmentFilter) ([]store.RoleAssignment, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []store.RoleAssignment
	for _, a := range f.assignments {
		if flt.PrincipalID != "" && !strings.EqualFold(flt.PrincipalID, a.PrincipalID) {
			continue
		}
		above := flt.AtOrAbove != "" && rbac.ScopeCovers(a.Scope, flt.AtOrAbove)
		below := flt.Below != "" && rbac.ScopeCovers(flt.Below, a.Scope)
		if (flt.AtOrAbove != "" || flt.Below != "") && !above && !below {
			continue
		}
		out = append(out, a)
	}
	return out, nil
}

func (f *authzFakeStore) ListRoleAssignmentsForPrincipal(ctx context.Context, principalID string) ([]store.RoleAssignment, error) {
	return f.ListRoleAssignments(ctx, store.RoleAssignmentFilter{PrincipalID: principalID})
}

func (f *authzFakeStore) DeleteRoleAssignment(_ context.Context, id string) (store.RoleAssignment, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	a, ok := f.assignments[id]
	if !ok {
		return a, store.ErrNotFound
	}
	delete(f.assignments, id)
	return a, nil
}

func (f *authzFakeStore) AppendActivity(_ context.Context, events ...store.ActivityEvent) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.events = append(f.events, events...)
	return nil
}

func (f *authzFakeStore) ListActivity(_ context.Context, flt store.ActivityFilter) ([]store.ActivityEvent, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []store.ActivityEvent
	for i := len(f.events) - 1; i >= 0; i-- {
		ev := f.events[i]
		switch {
		case flt.SubscriptionID != "" && !strings.EqualFold(flt.SubscriptionID, ev.SubscriptionID),
			flt.ResourceGroup != "" && !strings.EqualFold(flt.ResourceGroup, ev.ResourceGroup),
			flt.ResourceID != "" && !rbac.ScopeCovers(flt.ResourceID, ev.ResourceID),
			flt.Caller != "" && !strings.EqualFold(flt.Caller, ev.Caller),
			!flt.Since.IsZero() && ev.Time.Before(flt.Since),
			!flt.Until.IsZero() && ev.Time.After(flt.Until):
			continue
		}
		out = append(out, ev)
	}
	limit := flt.Limit
	if limit == 0 {
		limit = 100
	}
	if len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

// authzEnv is a management endpoint over the fake store, with principals that sign in with
// tokens signed by a test key.
type authzEnv struct {
	t      *testing.T
	st     *authzFakeStore
	srv    *Server
	key    *rsa.PrivateKey
	tenant string
	sub    string
	rg     string
	clock  time.Time
}

type testKeys struct{ pub *rsa.PublicKey }

func (k testKeys) PublicKey(kid string) (*rsa.PublicKey, bool) { return k.pub, kid == "k1" }

const authzTestBase = "https://mint.test"

func newAuthzEnv(t *testing.T) *authzEnv {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	st := newAuthzFakeStore()
	e := &authzEnv{t: t, st: st, key: key, tenant: uuid.NewString(), sub: uuid.NewString(), rg: "app",
		clock: time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)}
	st.tenants[e.tenant] = store.Tenant{ID: e.tenant, DisplayName: "t"}
	st.settings[directory.SettingDefaultTenant] = e.tenant
	st.subs[e.sub] = store.Subscription{ID: e.sub, TenantID: e.tenant, State: "Enabled"}
	st.groups[strings.ToLower(e.sub+"/"+e.rg)] = store.ResourceGroup{SubscriptionID: e.sub, Name: e.rg}
	st.groups[strings.ToLower(e.sub+"/other")] = store.ResourceGroup{SubscriptionID: e.sub, Name: "other"}
	dir := directory.New(st, directory.Options{})
	e.srv = New(Config{BaseURL: authzTestBase, Clock: func() time.Time {
		e.clock = e.clock.Add(time.Second)
		return e.clock
	}}, st, dir, testKeys{&key.PublicKey})
	return e
}

// principal registers a service principal and returns its object id.
func (e *authzEnv) principal(kind store.PrincipalKind, name string) string {
	id := uuid.NewString()
	e.st.principals[id] = store.ServicePrincipal{ObjectID: id, AppID: uuid.NewString(), TenantID: e.tenant, Kind: kind, DisplayName: name}
	return id
}

// assign gives a principal a role at a scope directly in the store.
func (e *authzEnv) assign(principalID, roleID, scope string) string {
	id := uuid.NewString()
	e.st.assignments[id] = store.RoleAssignment{ID: id, Scope: scope, RoleDefinitionID: roleID, PrincipalID: principalID,
		PrincipalType: "ServicePrincipal", CreatedAt: e.clock, UpdatedAt: e.clock}
	return id
}

func (e *authzEnv) subScope() string { return "/subscriptions/" + e.sub }
func (e *authzEnv) rgScope() string  { return "/subscriptions/" + e.sub + "/resourceGroups/" + e.rg }

func (e *authzEnv) token(principalID string) string {
	sp := e.st.principals[principalID]
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: e.key}, (&jose.SignerOptions{}).WithHeader("kid", "k1").WithType("JWT"))
	if err != nil {
		e.t.Fatal(err)
	}
	now := time.Now()
	tok, err := jwt.Signed(signer).Claims(map[string]any{
		"aud": "https://management.azure.com/", "iss": authzTestBase + "/" + e.tenant + "/", "tid": e.tenant,
		"oid": principalID, "sub": principalID, "appid": sp.AppID, "ver": "1.0",
		"iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(time.Hour).Unix(),
	}).Serialize()
	if err != nil {
		e.t.Fatal(err)
	}
	return tok
}

// do sends a request as principalID and returns the status and decoded JSON body.
func (e *authzEnv) do(principalID, method, path string, body any) (int, map[string]any) {
	e.t.Helper()
	var rd io.Reader
	if body != nil {
		data, err := json.Marshal(body)
		if err != nil {
			e.t.Fatal(err)
		}
		rd = bytes.NewReader(data)
	}
	if !strings.Contains(path, "api-version=") {
		sep := "?"
		if strings.Contains(path, "?") {
			sep = "&"
		}
		path += sep + "api-version=2022-04-01"
	}
	r := httptest.NewRequest(method, path, rd)
	r.Header.Set("Authorization", "Bearer "+e.token(principalID))
	w := httptest.NewRecorder()
	e.srv.ServeHTTP(w, r)
	var out map[string]any
	if w.Body.Len() > 0 {
		if err := json.Unmarshal(w.Body.Bytes(), &out); err != nil {
			e.t.Fatalf("%s %s: body is not JSON: %s", method, path, w.Body.String())
		}
	}
	return w.Code, out
}

func errCode(body map[string]any) string {
	e, _ := body["error"].(map[string]any)
	c, _ := e["code"].(string)
	return c
}

func errMessage(body map[string]any) string {
	e, _ := body["error"].(map[string]any)
	m, _ := e["message"].(string)
	return m
}

func props(body map[string]any) map[string]any {
	p, _ := body["properties"].(map[string]any)
	return p
}

func values(body map[string]any) []map[string]any {
	var out []map[string]any
	list, _ := body["value"].([]any)
	for _, v := range list {
		m, _ := v.(map[string]any)
		out = append(out, m)
	}
	return out
}

func names(list []map[string]any) []string {
	var out []string
	for _, v := range list {
		n, _ := v["name"].(string)
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}

var _ http.Handler = (*Server)(nil)

func urlq(s string) string { return url.QueryEscape(s) }
