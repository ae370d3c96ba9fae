package federation

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/mint-id/mint/internal/managedidentity"
	"github.com/mint-id/mint/internal/store"
	"github.com/mint-id/mint/internal/sts"
)

const (
	identityID    = "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/web-id"
	identityMirid = "/subscriptions/00000000-0000-0000-0000-000000000001/resourcegroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/web-id"
	principalID   = "11111111-1111-1111-1111-111111111111"
	clientID      = "22222222-2222-2222-2222-222222222222"
	tenantID      = "33333333-3333-3333-3333-333333333333"
	k8sSubject    = "system:serviceaccount:ns:app"
)

var testNow = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// fakeStore holds resources and applications' federated credentials in memory.
type fakeStore struct {
	mu      sync.Mutex
	res     []store.Resource
	appFICs []store.FederatedCredential
}

func (f *fakeStore) ListFederatedCredentials(_ context.Context, principalID string) ([]store.FederatedCredential, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []store.FederatedCredential
	for _, c := range f.appFICs {
		if c.PrincipalID == principalID {
			out = append(out, c)
		}
	}
	return out, nil
}

func (f *fakeStore) GetResource(_ context.Context, id string) (store.Resource, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, r := range f.res {
		if strings.EqualFold(r.ID, id) {
			return r, nil
		}
	}
	return store.Resource{}, store.ErrNotFound
}

func (f *fakeStore) ListResources(_ context.Context, flt store.ResourceFilter) ([]store.Resource, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []store.Resource
	for _, r := range f.res {
		if flt.ParentID != "" && !strings.HasPrefix(strings.ToLower(r.ID), strings.ToLower(flt.ParentID)+"/") {
			continue
		}
		if flt.Type != "" && !strings.EqualFold(flt.Type, r.Type) {
			continue
		}
		out = append(out, r)
	}
	return out, nil
}

func (f *fakeStore) addFIC(t *testing.T, name string, props map[string]any) {
	t.Helper()
	data, err := json.Marshal(props)
	if err != nil {
		t.Fatal(err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.res = append(f.res, store.Resource{ID: identityID + "/federatedIdentityCredentials/" + name, Name: name, Type: CredentialType, Properties: data})
}

func newStore() *fakeStore {
	return &fakeStore{res: []store.Resource{
		{ID: identityID, Name: "web-id", Type: managedidentity.UserAssignedType, PrincipalID: principalID, SubscriptionID: "00000000-0000-0000-0000-000000000001"},
		{ID: "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg/providers/Microsoft.App/containerApps/web", Name: "web",
			Type: "Microsoft.App/containerApps", PrincipalID: "44444444-4444-4444-4444-444444444444", SubscriptionID: "00000000-0000-0000-0000-000000000001"},
	}}
}

var miClient = store.ServicePrincipal{ObjectID: principalID, AppID: clientID, TenantID: tenantID, Kind: store.KindManagedIdentity,
	AlternativeNames: []string{identityMirid}}

// testIssuer is an OIDC issuer: discovery document and JWKS, keys that can rotate.
type testIssuer struct {
	t   *testing.T
	srv *httptest.Server

	mu            sync.Mutex
	keys          map[string]crypto.Signer
	published     []string
	discoveryHits int
	jwksHits      int
	cacheControl  string
	docIssuer     string // when set, the discovery document claims this issuer
	jwksBody      []byte // when set, served instead of the key set
}

func newIssuer(t *testing.T, tls bool) *testIssuer {
	is := &testIssuer{t: t, keys: map[string]crypto.Signer{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		is.mu.Lock()
		is.discoveryHits++
		iss := is.docIssuer
		is.mu.Unlock()
		if iss == "" {
			iss = is.URL()
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"issuer": iss, "jwks_uri": is.URL() + "/openid/v1/jwks"})
	})
	mux.HandleFunc("GET /openid/v1/jwks", func(w http.ResponseWriter, r *http.Request) {
		is.mu.Lock()
		defer is.mu.Unlock()
		is.jwksHits++
		if is.cacheControl != "" {
			w.Header().Set("Cache-Control", is.cacheControl)
		}
		if is.jwksBody != nil {
			w.Write(is.jwksBody)
			return
		}
		json.NewEncoder(w).Encode(is.jwksLocked())
	})
	if tls {
		is.srv = httptest.NewTLSServer(mux)
	} else {
		is.srv = httptest.NewServer(mux)
	}
	t.Cleanup(is.srv.Close)
	return is
}

func (is *testIssuer) URL() string { return is.srv.URL }

func (is *testIssuer) jwksLocked() jose.JSONWebKeySet {
	var set jose.JSONWebKeySet
	for _, kid := range is.published {
		k := is.keys[kid]
		set.Keys = append(set.Keys, jose.JSONWebKey{Key: k.Public(), KeyID: kid, Use: "sig", Algorithm: algFor(k)})
	}
	return set
}

func (is *testIssuer) jwks() jose.JSONWebKeySet {
	is.mu.Lock()
	defer is.mu.Unlock()
	return is.jwksLocked()
}

func algFor(k crypto.Signer) string {
	if _, ok := k.(*ecdsa.PrivateKey); ok {
		return string(jose.ES256)
	}
	return string(jose.RS256)
}

// publish generates a key, publishes it, and unpublishes the others when rotate.
func (is *testIssuer) publish(kid string, ec, rotate bool) {
	var k crypto.Signer
	var err error
	if ec {
		k, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	} else {
		k, err = rsa.GenerateKey(rand.Reader, 2048)
	}
	if err != nil {
		is.t.Fatal(err)
	}
	is.mu.Lock()
	defer is.mu.Unlock()
	is.keys[kid] = k
	if rotate {
		is.published = nil
	}
	is.published = append(is.published, kid)
}

func (is *testIssuer) hits() (int, int) {
	is.mu.Lock()
	defer is.mu.Unlock()
	return is.discoveryHits, is.jwksHits
}

func sign(t *testing.T, key crypto.Signer, kid string, claims map[string]any) string {
	t.Helper()
	opts := (&jose.SignerOptions{}).WithType("JWT")
	if kid != "" {
		opts = opts.WithHeader("kid", kid)
	}
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.SignatureAlgorithm(algFor(key)), Key: key}, opts)
	if err != nil {
		t.Fatal(err)
	}
	payload, _ := json.Marshal(claims)
	jws, err := s.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := jws.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

func (is *testIssuer) token(t *testing.T, kid string, mut func(map[string]any)) string {
	t.Helper()
	is.mu.Lock()
	key := is.keys[kid]
	is.mu.Unlock()
	return sign(t, key, kid, claimsFor(is.URL(), mut))
}

func claimsFor(iss string, mut func(map[string]any)) map[string]any {
	c := map[string]any{"iss": iss, "sub": k8sSubject, "aud": []string{DefaultAudience},
		"iat": testNow.Unix(), "nbf": testNow.Unix(), "exp": testNow.Add(time.Hour).Unix(), "jti": "j1"}
	if mut != nil {
		mut(c)
	}
	return c
}

func request(t *testing.T, raw string, client store.ServicePrincipal) sts.FederatedRequest {
	t.Helper()
	a, e := sts.ParseAssertion(raw)
	if e != nil {
		t.Fatalf("parse assertion: %v", e)
	}
	return sts.FederatedRequest{Tenant: store.Tenant{ID: tenantID}, Client: client, Assertion: a, Now: testNow}
}

// checkRefusal asserts err is an *sts.Error with code whose description has every string.
func checkRefusal(t *testing.T, err error, code int, has ...string) {
	t.Helper()
	var e *sts.Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v (%T), want an *sts.Error AADSTS%d", err, err, code)
	}
	if e.Code != code {
		t.Fatalf("AADSTS%d, want %d: %s", e.Code, code, e.Description)
	}
	for _, s := range has {
		if !strings.Contains(e.Description, s) {
			t.Errorf("description %q\nlacks %q", e.Description, s)
		}
	}
}

func ficProps(issuer, subject string) map[string]any {
	return map[string]any{"issuer": issuer, "subject": subject, "audiences": []string{DefaultAudience}}
}

// fixture is a verifier over a store with one identity trusting one test issuer.
type fixture struct {
	st     *fakeStore
	is     *testIssuer
	v      *Verifier
	now    time.Time // the cache's clock
	nowMu  sync.Mutex
	client *http.Client
}

func newFixture(t *testing.T, tls bool) *fixture {
	f := &fixture{st: newStore(), is: newIssuer(t, tls), now: testNow}
	f.is.publish("k1", false, false)
	f.st.addFIC(t, "k8s", ficProps(f.is.URL(), k8sSubject))
	var client *http.Client
	if tls {
		client = newFetchClient(f.is.srv.Client().Transport)
	}
	f.v = New(f.st, Options{HTTPClient: client, Clock: f.clock})
	return f
}

func (f *fixture) clock() time.Time {
	f.nowMu.Lock()
	defer f.nowMu.Unlock()
	return f.now
}

func (f *fixture) advance(d time.Duration) {
	f.nowMu.Lock()
	defer f.nowMu.Unlock()
	f.now = f.now.Add(d)
}

func (f *fixture) verify(t *testing.T, raw string) error {
	t.Helper()
	return f.v.VerifyFederated(context.Background(), request(t, raw, miClient))
}

func TestVerifyAccepts(t *testing.T) {
	t.Run("RS256 over loopback http", func(t *testing.T) {
		f := newFixture(t, false)
		if err := f.verify(t, f.is.token(t, "k1", nil)); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("ES256", func(t *testing.T) {
		f := newFixture(t, false)
		f.is.publish("ec", true, false)
		if err := f.verify(t, f.is.token(t, "ec", nil)); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("https issuer", func(t *testing.T) {
		f := newFixture(t, true)
		if !strings.HasPrefix(f.is.URL(), "https://") {
			t.Fatal(f.is.URL())
		}
		if err := f.verify(t, f.is.token(t, "k1", nil)); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("aud string, no kid, skew", func(t *testing.T) {
		f := newFixture(t, false)
		f.is.mu.Lock()
		key := f.is.keys["k1"]
		f.is.mu.Unlock()
		raw := sign(t, key, "", claimsFor(f.is.URL(), func(c map[string]any) {
			c["aud"] = DefaultAudience
			c["exp"] = testNow.Add(-4 * time.Minute).Unix()
			c["nbf"] = testNow.Add(4 * time.Minute).Unix()
		}))
		if err := f.verify(t, raw); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("trailing newline of a token file", func(t *testing.T) {
		f := newFixture(t, false)
		if err := f.verify(t, f.is.token(t, "k1", nil)+"\n"); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("keys cached", func(t *testing.T) {
		f := newFixture(t, false)
		for range 5 {
			if err := f.verify(t, f.is.token(t, "k1", nil)); err != nil {
				t.Fatal(err)
			}
		}
		if d, j := f.is.hits(); d != 1 || j != 1 {
			t.Errorf("%d discovery and %d JWKS fetches, want 1 and 1", d, j)
		}
	})
}

func TestVerifyMismatchNamesTheField(t *testing.T) {
	f := newFixture(t, false)
	tests := []struct {
		name string
		mut  func(map[string]any)
		has  []string
	}{
		{"issuer", func(c map[string]any) { c["iss"] = f.is.URL() + "/" }, []string{
			"No matching federated identity record found for presented assertion. Assertion Issuer: '" + f.is.URL() + "/'. Assertion Subject: '" + k8sSubject + "'. Assertion Audience: 'api://AzureADTokenExchange'.",
			"Issuer mismatch: the credential expects '" + f.is.URL() + "'", "trailing '/'", identityID}},
		{"subject", func(c map[string]any) { c["sub"] = "system:serviceaccount:ns:other" }, []string{
			"Assertion Subject: 'system:serviceaccount:ns:other'.", "Subject mismatch: the credential expects '" + k8sSubject + "'", "--subject 'system:serviceaccount:ns:other'"}},
		{"audience", func(c map[string]any) { c["aud"] = "api://other" }, []string{
			"Assertion Audience: 'api://other'.", "Audience mismatch: the credential expects 'api://AzureADTokenExchange'"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := f.verify(t, f.is.token(t, "k1", tt.mut))
			checkRefusal(t, err, 70021, tt.has...)
		})
	}
	if d, j := f.is.hits(); d != 0 || j != 0 {
		t.Errorf("keys fetched (%d, %d) for assertions that match no credential", d, j)
	}
}

func TestVerifyTimes(t *testing.T) {
	f := newFixture(t, false)
	tests := []struct {
		name string
		mut  func(map[string]any)
		has  string
	}{
		{"expired", func(c map[string]any) { c["exp"] = testNow.Add(-6 * time.Minute).Unix() }, "has expired"},
		{"no exp", func(c map[string]any) { delete(c, "exp") }, "no 'exp' claim"},
		{"not yet valid", func(c map[string]any) { c["nbf"] = testNow.Add(6 * time.Minute).Unix() }, "not valid yet"},
		{"too long", func(c map[string]any) { c["exp"] = testNow.Add(25 * time.Hour).Unix() }, "at most 24 hours"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkRefusal(t, f.verify(t, f.is.token(t, "k1", tt.mut)), 700024, "Client assertion is not within its valid time range.", tt.has)
		})
	}
}

func TestVerifySignature(t *testing.T) {
	t.Run("bad signature", func(t *testing.T) {
		f := newFixture(t, false)
		other, _ := rsa.GenerateKey(rand.Reader, 2048)
		checkRefusal(t, f.verify(t, sign(t, other, "k1", claimsFor(f.is.URL(), nil))), 700027,
			"Client assertion failed signature validation.", "does not verify with the key set at "+f.is.URL()+"/openid/v1/jwks")
	})
	t.Run("tampered payload", func(t *testing.T) {
		f := newFixture(t, false)
		raw := f.is.token(t, "k1", nil)
		parts := strings.Split(raw, ".")
		other := strings.Split(f.is.token(t, "k1", func(c map[string]any) { c["jti"] = "j2" }), ".")
		checkRefusal(t, f.verify(t, parts[0]+"."+other[1]+"."+parts[2]), 700027)
	})
	t.Run("rotation refetches on an unknown kid, at most every 30 s", func(t *testing.T) {
		f := newFixture(t, false)
		if err := f.verify(t, f.is.token(t, "k1", nil)); err != nil {
			t.Fatal(err)
		}
		f.is.publish("k2", false, true) // k1 retired, k2 current
		f.advance(31 * time.Second)
		if err := f.verify(t, f.is.token(t, "k2", nil)); err != nil {
			t.Fatalf("after rotation: %v", err)
		}
		if _, j := f.is.hits(); j != 2 {
			t.Errorf("%d JWKS fetches, want 2", j)
		}
		// An unknown kid refetches once, then not again within 30 s.
		f.advance(31 * time.Second)
		for range 3 {
			checkRefusal(t, f.verify(t, f.is.token(t, "k1", nil)), 700027, "The key was not found: the assertion's kid 'k1' is not in the key set")
		}
		if _, j := f.is.hits(); j != 3 {
			t.Errorf("%d JWKS fetches, want 3", j)
		}
		// A new key published within 30 s of the last fetch waits for the interval.
		f.is.publish("k3", false, false)
		checkRefusal(t, f.verify(t, f.is.token(t, "k3", nil)), 700027, "kid 'k3'")
		f.advance(31 * time.Second)
		if err := f.verify(t, f.is.token(t, "k3", nil)); err != nil {
			t.Fatalf("after the interval: %v", err)
		}
	})
	t.Run("cache-control max-age", func(t *testing.T) {
		f := newFixture(t, false)
		f.is.cacheControl = "public, max-age=120"
		if err := f.verify(t, f.is.token(t, "k1", nil)); err != nil {
			t.Fatal(err)
		}
		f.advance(100 * time.Second)
		f.verify(t, f.is.token(t, "k1", nil))
		if _, j := f.is.hits(); j != 1 {
			t.Errorf("%d JWKS fetches within max-age, want 1", j)
		}
		f.advance(30 * time.Second)
		f.verify(t, f.is.token(t, "k1", nil))
		if _, j := f.is.hits(); j != 2 {
			t.Errorf("%d JWKS fetches after max-age, want 2", j)
		}
	})
	t.Run("stale keys serve while the issuer is down", func(t *testing.T) {
		f := newFixture(t, false)
		if err := f.verify(t, f.is.token(t, "k1", nil)); err != nil {
			t.Fatal(err)
		}
		raw := f.is.token(t, "k1", nil)
		f.is.srv.Close()
		f.advance(2 * time.Hour)
		if err := f.verify(t, raw); err != nil {
			t.Fatalf("with the issuer down: %v", err)
		}
	})
}

func TestVerifyKeyFetching(t *testing.T) {
	t.Run("http issuer refused unless loopback", func(t *testing.T) {
		f := newFixture(t, false)
		iss := "http://issuer.example"
		f.st.addFIC(t, "plain", ficProps(iss, k8sSubject))
		f.is.mu.Lock()
		key := f.is.keys["k1"]
		f.is.mu.Unlock()
		checkRefusal(t, f.verify(t, sign(t, key, "k1", claimsFor(iss, nil))), 50166,
			"Request to External OIDC endpoint failed.", "is http: mint fetches issuer keys over https only")
	})
	t.Run("unreachable issuer", func(t *testing.T) {
		f := newFixture(t, false)
		raw := f.is.token(t, "k1", nil)
		f.is.srv.Close()
		checkRefusal(t, f.verify(t, raw), 50166, f.is.URL()+"/.well-known/openid-configuration")
	})
	t.Run("discovery names another issuer", func(t *testing.T) {
		f := newFixture(t, false)
		f.is.docIssuer = "https://elsewhere.example"
		checkRefusal(t, f.verify(t, f.is.token(t, "k1", nil)), 50166, "the document's issuer is 'https://elsewhere.example'")
	})
	t.Run("oversized key set", func(t *testing.T) {
		f := newFixture(t, false)
		f.is.jwksBody = []byte(`{"keys":[],"pad":"` + strings.Repeat("x", maxDocumentBytes) + `"}`)
		checkRefusal(t, f.verify(t, f.is.token(t, "k1", nil)), 50166, "larger than")
	})
	t.Run("key set without usable keys", func(t *testing.T) {
		f := newFixture(t, false)
		small, _ := rsa.GenerateKey(rand.Reader, 1024)
		body, _ := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: small.Public(), KeyID: "k1", Use: "sig"}}})
		f.is.jwksBody = body
		checkRefusal(t, f.verify(t, f.is.token(t, "k1", nil)), 50166, "holds no RSA (2048 bits or more) or EC public signing key")
	})
	t.Run("redirect to another host refused", func(t *testing.T) {
		elsewhere := newIssuer(t, false)
		elsewhere.publish("k1", false, false)
		redirector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, strings.Replace(elsewhere.URL(), "127.0.0.1", "localhost", 1)+r.URL.Path, http.StatusFound)
		}))
		defer redirector.Close()
		st := newStore()
		st.addFIC(t, "r", ficProps(redirector.URL, k8sSubject))
		v := New(st, Options{})
		elsewhere.mu.Lock()
		key := elsewhere.keys["k1"]
		elsewhere.mu.Unlock()
		err := v.VerifyFederated(context.Background(), request(t, sign(t, key, "k1", claimsFor(redirector.URL, nil)), miClient))
		checkRefusal(t, err, 50166, "redirect to another host")
	})
	t.Run("static keys on the credential", func(t *testing.T) {
		f := newFixture(t, false)
		iss := "https://air-gapped.invalid"
		jwks, _ := json.Marshal(f.is.jwks())
		props := ficProps(iss, k8sSubject)
		props["mintJwks"] = json.RawMessage(jwks)
		f.st.addFIC(t, "static", props)
		f.is.mu.Lock()
		key := f.is.keys["k1"]
		f.is.mu.Unlock()
		if err := f.verify(t, sign(t, key, "k1", claimsFor(iss, nil))); err != nil {
			t.Fatal(err)
		}
		other, _ := rsa.GenerateKey(rand.Reader, 2048)
		checkRefusal(t, f.verify(t, sign(t, other, "k1", claimsFor(iss, nil))), 700027, "the keys given on credential 'static' (mintJwks)")
	})
}

func TestVerifyLocalIssuer(t *testing.T) {
	st := newStore()
	key, _ := rsa.GenerateKey(rand.Reader, 2048)
	jwks, _ := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: key.Public(), KeyID: "mint1", Use: "sig"}}})
	base := "https://127.0.0.1:8443"
	iss := base + "/" + tenantID + "/v2.0"
	st.addFIC(t, "self", ficProps(iss, "mint:resource:/x"))
	v := New(st, Options{BaseURL: base + "/", LocalKeys: func() []byte { return jwks }})
	raw := sign(t, key, "mint1", claimsFor(iss, func(c map[string]any) { c["sub"] = "mint:resource:/x" }))
	if err := v.VerifyFederated(context.Background(), request(t, raw, miClient)); err != nil {
		t.Fatal(err)
	}
}

// An application trusts assertions through its own (Graph) federated credentials, not through an
// identity's.
func TestVerifyApplicationCredentials(t *testing.T) {
	f := newFixture(t, false)
	app := store.ServicePrincipal{ObjectID: "app-object", AppID: "app-1", Kind: store.KindApplication}
	f.st.appFICs = []store.FederatedCredential{
		{ID: "c1", PrincipalID: app.ObjectID, Name: "ci", Issuer: f.is.URL(), Subject: "repo:o/r:ref:refs/heads/main", Audiences: []string{DefaultAudience}},
		{ID: "c2", PrincipalID: "another-app", Name: "k8s", Issuer: f.is.URL(), Subject: k8sSubject, Audiences: []string{DefaultAudience}},
	}
	main := f.is.token(t, "k1", func(c map[string]any) { c["sub"] = "repo:o/r:ref:refs/heads/main" })
	if err := f.v.VerifyFederated(context.Background(), request(t, main, app)); err != nil {
		t.Fatalf("application credential not honoured: %v", err)
	}
	// The identity's credential (k8sSubject) and another application's do not count.
	checkRefusal(t, f.v.VerifyFederated(context.Background(), request(t, f.is.token(t, "k1", nil), app)), 70021,
		"Credentials of application 'app-1':", "Subject mismatch: the credential expects 'repo:o/r:ref:refs/heads/main'",
		"mint ad app federated-credential create --id app-1")
	// And an identity does not gain the application's credentials.
	f.st.res = f.st.res[:2]
	checkRefusal(t, f.v.VerifyFederated(context.Background(), request(t, main, miClient)), 70021, "has no federated identity credentials")
}

func TestVerifyClientsWithoutCredentials(t *testing.T) {
	f := newFixture(t, false)
	raw := f.is.token(t, "k1", nil)
	app := store.ServicePrincipal{ObjectID: "a", AppID: "app-1", Kind: store.KindApplication}
	checkRefusal(t, f.v.VerifyFederated(context.Background(), request(t, raw, app)), 70021,
		"application 'app-1' has no federated identity credentials.",
		"mint ad app federated-credential create --id app-1 -n <name> --issuer '"+f.is.URL()+"' --subject '"+k8sSubject+"'")
	system := store.ServicePrincipal{ObjectID: "44444444-4444-4444-4444-444444444444", AppID: "sys-1", Kind: store.KindManagedIdentity,
		AlternativeNames: []string{"/subscriptions/00000000-0000-0000-0000-000000000001/resourcegroups/rg/providers/Microsoft.App/containerApps/web"}}
	checkRefusal(t, f.v.VerifyFederated(context.Background(), request(t, raw, system)), 70021, "system-assigned identity")
	gone := miClient
	gone.AlternativeNames = []string{identityMirid + "-deleted"}
	checkRefusal(t, f.v.VerifyFederated(context.Background(), request(t, raw, gone)), 70021, "no user-assigned identity resource")
	empty := &fakeStore{res: newStore().res}
	v := New(empty, Options{})
	checkRefusal(t, v.VerifyFederated(context.Background(), request(t, raw, miClient)), 70021,
		"user-assigned identity '"+identityID+"' (client id "+clientID+") has no federated identity credentials.",
		"mint identity federated-credential create -g rg --identity-name web-id -n <name> --issuer '"+f.is.URL()+"' --subject '"+k8sSubject+"' --audiences 'api://AzureADTokenExchange'.")
}

func TestCacheMaxAge(t *testing.T) {
	for h, want := range map[string]time.Duration{
		"":                             -1,
		"public, max-age=3600":         time.Hour,
		"max-age=\"60\"":               time.Minute,
		"no-store":                     0,
		"private, no-cache":            0,
		"max-age=99999999999999999999": -1, // overflows: ignored
		"max-age=999999":               maxKeyTTL,
	} {
		if got := cacheMaxAge(h); got != want {
			t.Errorf("cacheMaxAge(%q) = %v, want %v", h, got, want)
		}
	}
}

func TestParseStaticKeys(t *testing.T) {
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	pub, _ := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: rsaKey.Public(), KeyID: "a"}}})
	priv, _ := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: rsaKey, KeyID: "a"}}})
	for name, tt := range map[string]struct {
		raw string
		ok  bool
	}{
		"public":  {string(pub), true},
		"private": {string(priv), false},
		"empty":   {`{"keys":[]}`, false},
		"garbage": {`"x"`, false},
	} {
		if _, err := ParseStaticKeys(json.RawMessage(tt.raw)); (err == nil) != tt.ok {
			t.Errorf("%s: err %v", name, err)
		}
	}
}
