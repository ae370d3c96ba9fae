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
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/google/uuid"

	"github.com/mint-id/mint/internal/arm/armid"
	"github.com/mint-id/mint/internal/directory"
	"github.com/mint-id/mint/internal/rbac"
	"github.com/mint-id/mint/internal/store"
)

// rmStore is an in-memory store with the semantics the resource-manager, managed-identity and
// compute-like providers rely on (PutResource writing principals with the resource,
// DeleteResource and DeleteResourceGroup cascading). Methods the providers never call panic
// (the embedded interfaces are nil).
type rmStore struct {
	store.Store

	mu          sync.Mutex
	tenants     map[string]store.Tenant
	subs        map[string]store.Subscription
	groups      map[string]store.ResourceGroup // lower(sub/name)
	resources   map[string]store.Resource      // lower(id)
	principals  map[string]store.ServicePrincipal
	settings    map[string]string
	assignments map[string]store.RoleAssignment
	events      []store.ActivityEvent
}

func newRMStore() *rmStore {
	return &rmStore{
		tenants: map[string]store.Tenant{}, subs: map[string]store.Subscription{}, groups: map[string]store.ResourceGroup{},
		resources: map[string]store.Resource{}, principals: map[string]store.ServicePrincipal{}, settings: map[string]string{},
		assignments: map[string]store.RoleAssignment{},
	}
}

func (f *rmStore) GetTenant(_ context.Context, id string) (store.Tenant, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	t, ok := f.tenants[strings.ToLower(id)]
	if !ok {
		return t, store.ErrNotFound
	}
	return t, nil
}

func (f *rmStore) GetSetting(_ context.Context, key string) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	v, ok := f.settings[key]
	if !ok {
		return "", store.ErrNotFound
	}
	return v, nil
}

func (f *rmStore) GetSubscription(_ context.Context, id string) (store.Subscription, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	s, ok := f.subs[strings.ToLower(id)]
	if !ok {
		return s, store.ErrNotFound
	}
	return s, nil
}

func (f *rmStore) ListSubscriptions(_ context.Context, tenantID string) ([]store.Subscription, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []store.Subscription
	for _, s := range f.subs {
		if strings.EqualFold(s.TenantID, tenantID) {
			out = append(out, s)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

func (f *rmStore) PutResourceGroup(_ context.Context, g store.ResourceGroup) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	k := strings.ToLower(g.SubscriptionID + "/" + g.Name)
	old, existed := f.groups[k]
	if existed {
		g.Name, g.CreatedAt = old.Name, old.CreatedAt
	}
	f.groups[k] = g
	return !existed, nil
}

func (f *rmStore) GetResourceGroup(_ context.Context, sub, name string) (store.ResourceGroup, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	g, ok := f.groups[strings.ToLower(sub+"/"+name)]
	if !ok {
		return g, store.ErrNotFound
	}
	return g, nil
}

func (f *rmStore) ListResourceGroups(_ context.Context, sub string) ([]store.ResourceGroup, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []store.ResourceGroup
	for _, g := range f.groups {
		if strings.EqualFold(g.SubscriptionID, sub) {
			out = append(out, g)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].CreatedAt.Before(out[j].CreatedAt) })
	return out, nil
}

// deleteLocked removes the resources matching del, the principals they own and the role
// assignments at or below scope.
func (f *rmStore) deleteLocked(scope string, del func(store.Resource) bool) []store.Resource {
	var out []store.Resource
	for k, r := range f.resources {
		if del(r) {
			out = append(out, r)
			delete(f.resources, k)
			if r.PrincipalID != "" {
				delete(f.principals, strings.ToLower(r.PrincipalID))
			}
		}
	}
	for id, a := range f.assignments {
		if s, err := armid.ParseScope(a.Scope); err == nil && s.IsUnder(scope) {
			delete(f.assignments, id)
		}
	}
	sort.Slice(out, func(i, j int) bool { return len(out[i].ID) < len(out[j].ID) })
	return out
}

func (f *rmStore) DeleteResourceGroup(_ context.Context, sub, name string) ([]store.Resource, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	k := strings.ToLower(sub + "/" + name)
	if _, ok := f.groups[k]; !ok {
		return nil, store.ErrNotFound
	}
	delete(f.groups, k)
	return f.deleteLocked(armid.ResourceGroupID(sub, name).String(), func(r store.Resource) bool {
		return strings.EqualFold(r.SubscriptionID, sub) && strings.EqualFold(r.ResourceGroup, name)
	}), nil
}

func (f *rmStore) PutResource(_ context.Context, r store.Resource, create []store.ServicePrincipal, deletePrincipals []string) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.groups[strings.ToLower(r.SubscriptionID+"/"+r.ResourceGroup)]; !ok {
		return false, store.ErrNotFound
	}
	k := strings.ToLower(r.ID)
	old, existed := f.resources[k]
	if existed {
		r.CreatedAt = old.CreatedAt
	}
	for _, sp := range create {
		if _, ok := f.principals[strings.ToLower(sp.ObjectID)]; ok {
			return false, store.ErrConflict
		}
	}
	for _, sp := range create {
		f.principals[strings.ToLower(sp.ObjectID)] = sp
	}
	for _, id := range deletePrincipals {
		delete(f.principals, strings.ToLower(id))
	}
	f.resources[k] = r
	return !existed, nil
}

func (f *rmStore) GetResource(_ context.Context, id string) (store.Resource, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	r, ok := f.resources[strings.ToLower(id)]
	if !ok {
		return r, store.ErrNotFound
	}
	return r, nil
}

func (f *rmStore) ListResources(_ context.Context, flt store.ResourceFilter) ([]store.Resource, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []store.Resource
	for _, r := range f.resources {
		switch {
		case flt.SubscriptionID != "" && !strings.EqualFold(flt.SubscriptionID, r.SubscriptionID),
			flt.ResourceGroup != "" && !strings.EqualFold(flt.ResourceGroup, r.ResourceGroup),
			flt.Type != "" && !strings.EqualFold(flt.Type, r.Type),
			flt.ParentID != "" && !strings.HasPrefix(strings.ToLower(r.ID), strings.ToLower(flt.ParentID)+"/"):
			continue
		}
		if flt.AttachedIdentity != "" {
			found := false
			for _, u := range r.UserAssignedIdentities {
				found = found || strings.EqualFold(u, flt.AttachedIdentity)
			}
			if !found {
				continue
			}
		}
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].CreatedAt.Equal(out[j].CreatedAt) {
			return out[i].CreatedAt.Before(out[j].CreatedAt)
		}
		return out[i].ID < out[j].ID
	})
	return out, nil
}

func (f *rmStore) DeleteResource(_ context.Context, id string) ([]store.Resource, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.resources[strings.ToLower(id)]; !ok {
		return nil, store.ErrNotFound
	}
	lower := strings.ToLower(id)
	return f.deleteLocked(id, func(r store.Resource) bool {
		l := strings.ToLower(r.ID)
		return l == lower || strings.HasPrefix(l, lower+"/")
	}), nil
}

func (f *rmStore) GetPrincipal(_ context.Context, id string) (store.ServicePrincipal, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	p, ok := f.principals[strings.ToLower(id)]
	if !ok {
		return p, store.ErrNotFound
	}
	return p, nil
}

func (f *rmStore) hasPrincipal(id string) bool {
	_, err := f.GetPrincipal(context.Background(), id)
	return err == nil
}

func (f *rmStore) GetRoleDefinition(context.Context, string) (store.RoleDefinition, error) {
	return store.RoleDefinition{}, store.ErrNotFound
}

func (f *rmStore) ListRoleAssignmentsForPrincipal(_ context.Context, principalID string) ([]store.RoleAssignment, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []store.RoleAssignment
	for _, a := range f.assignments {
		if strings.EqualFold(a.PrincipalID, principalID) {
			out = append(out, a)
		}
	}
	return out, nil
}

func (f *rmStore) AppendActivity(_ context.Context, events ...store.ActivityEvent) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.events = append(f.events, events...)
	return nil
}

// rmKeys is the token-signing key of an rmEnv.
type rmKeys struct{ pub *rsa.PublicKey }

func (k rmKeys) PublicKey(kid string) (*rsa.PublicKey, bool) { return k.pub, kid == "rm1" }

const rmTestBase = "https://mint.rm.test"

// rmEnv is a management endpoint over rmStore, with an admin that is Owner of the
// subscription and a group "app".
type rmEnv struct {
	t      *testing.T
	st     *rmStore
	srv    *Server
	key    *rsa.PrivateKey
	tenant string
	sub    string
	admin  string
	clock  time.Time
	mu     sync.Mutex
}

func newRMEnv(t *testing.T) *rmEnv {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	st := newRMStore()
	e := &rmEnv{t: t, st: st, key: key, tenant: uuid.NewString(), sub: uuid.NewString(),
		clock: time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)}
	st.tenants[e.tenant] = store.Tenant{ID: e.tenant, DisplayName: "t"}
	st.settings[directory.SettingDefaultTenant] = e.tenant
	st.subs[e.sub] = store.Subscription{ID: e.sub, TenantID: e.tenant, DisplayName: "mint subscription", State: "Enabled"}
	e.admin = e.principal("admin")
	e.assign(e.admin, rbac.OwnerRoleID, "/subscriptions/"+e.sub)
	dir := directory.New(st, directory.Options{})
	e.srv = New(Config{BaseURL: rmTestBase, Clock: func() time.Time {
		e.mu.Lock()
		defer e.mu.Unlock()
		e.clock = e.clock.Add(time.Second)
		return e.clock
	}}, st, dir, rmKeys{&key.PublicKey})
	return e
}

// principal registers an application principal and returns its object id.
func (e *rmEnv) principal(name string) string {
	id := uuid.NewString()
	e.st.principals[id] = store.ServicePrincipal{ObjectID: id, AppID: uuid.NewString(), TenantID: e.tenant, Kind: store.KindApplication, DisplayName: name}
	return id
}

// assign gives a principal a built-in role at a scope, directly in the store.
func (e *rmEnv) assign(principalID, roleID, scope string) {
	id := uuid.NewString()
	e.st.mu.Lock()
	defer e.st.mu.Unlock()
	e.st.assignments[id] = store.RoleAssignment{ID: id, Scope: scope, RoleDefinitionID: roleID, PrincipalID: principalID, PrincipalType: "ServicePrincipal"}
}

func (e *rmEnv) rg(name string) string { return "/subscriptions/" + e.sub + "/resourceGroups/" + name }

func (e *rmEnv) token(principalID string) string {
	sp := e.st.principals[principalID]
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: e.key}, (&jose.SignerOptions{}).WithHeader("kid", "rm1").WithType("JWT"))
	if err != nil {
		e.t.Fatal(err)
	}
	now := time.Now()
	tok, err := jwt.Signed(signer).Claims(map[string]any{
		"aud": "https://management.azure.com/", "iss": rmTestBase + "/" + e.tenant + "/", "tid": e.tenant,
		"oid": principalID, "sub": principalID, "appid": sp.AppID, "ver": "1.0",
		"iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(time.Hour).Unix(),
	}).Serialize()
	if err != nil {
		e.t.Fatal(err)
	}
	return tok
}

// rmResponse is a recorded answer.
type rmResponse struct {
	status int
	header http.Header
	raw    []byte
	body   map[string]any
}

func (r rmResponse) code() string {
	if e, ok := r.body["error"].(map[string]any); ok {
		s, _ := e["code"].(string)
		return s
	}
	return ""
}

func (r rmResponse) message() string {
	if e, ok := r.body["error"].(map[string]any); ok {
		s, _ := e["message"].(string)
		return s
	}
	return ""
}

// str follows a dotted path of object keys to a string.
func (r rmResponse) str(path string) string {
	v := rmLookup(r.body, path)
	s, _ := v.(string)
	return s
}

func (r rmResponse) list() []map[string]any {
	var out []map[string]any
	vals, _ := r.body["value"].([]any)
	for _, v := range vals {
		if m, ok := v.(map[string]any); ok {
			out = append(out, m)
		}
	}
	return out
}

func rmLookup(m map[string]any, path string) any {
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
func (e *rmEnv) call(principalID, method, path, apiVersion string, body any) rmResponse {
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
	out := rmResponse{status: w.Code, header: w.Header(), raw: w.Body.Bytes()}
	if w.Body.Len() > 0 && method != http.MethodHead {
		if err := json.Unmarshal(w.Body.Bytes(), &out.body); err != nil {
			e.t.Fatalf("%s %s: body is not JSON: %s", method, path, w.Body.String())
		}
	}
	return out
}

// as is call for the admin.
func (e *rmEnv) as(method, path, apiVersion string, body any) rmResponse {
	e.t.Helper()
	return e.call(e.admin, method, path, apiVersion, body)
}

// must is as, failing unless the status is want.
func (e *rmEnv) must(want int, method, path, apiVersion string, body any) rmResponse {
	e.t.Helper()
	r := e.as(method, path, apiVersion, body)
	if r.status != want {
		e.t.Fatalf("%s %s: status %d, want %d: %s", method, path, r.status, want, r.raw)
	}
	return r
}

func (e *rmEnv) group(name string) {
	e.t.Helper()
	e.must(http.StatusCreated, http.MethodPut, e.rg(name), "2021-04-01", map[string]any{"location": "eastus"})
}
