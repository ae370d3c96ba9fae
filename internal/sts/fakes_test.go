package sts

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"log/slog"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/mint-id/mint/internal/store"
)

// ---- fixture ids -------------------------------------------------------------------------

const (
	testBaseURL    = "https://127.0.0.1:8443"
	testTenantID   = "72f988bf-86f1-41af-91ab-2d7cd011db47"
	testTenantName = "Mint Test"
	testDomain     = "mint.localhost"

	appObjectID = "11111111-1111-4111-8111-111111111111"
	appClientID = "aaaaaaaa-0000-4000-8000-000000000001"
	appSecret   = "s3cr3t~Xq7vN2pLmK9wRt4ZyB8cD"

	expiredAppObjectID = "22222222-2222-4222-8222-222222222222"
	expiredAppClientID = "aaaaaaaa-0000-4000-8000-000000000002"
	expiredSecret      = "old~ExpiredSecretValue123"

	miObjectID = "33333333-3333-4333-8333-333333333333"
	miClientID = "aaaaaaaa-0000-4000-8000-000000000003"

	armAppID    = "797f4846-ba00-4fd7-ba43-dac1f8f63013"
	vaultAppID  = "cfa8b339-82a2-471a-a3c9-0fc0be7a4093"
	apiObjectID = "44444444-4444-4444-8444-444444444444"
	apiAppID    = "bbbbbbbb-0000-4000-8000-000000000001"
	apiURI      = "api://mint-api"
)

var (
	testNow           = time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC)
	testTenantCreated = time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
)

// ---- keys and certificates (generated once per test binary) ---------------------------------

var (
	keysOnce                          sync.Once
	signerKey, clientKey, otherKey    *rsa.PrivateKey
	clientCertDER, otherCertDER       []byte
	clientCertS256Std, clientCertS256 string // x5t#S256 in MSAL Go's (std, padded) and JS's (base64url) style
	clientCertX5T                     string // x5t (SHA-1, base64url)
)

func testKeys(t testing.TB) {
	t.Helper()
	keysOnce.Do(func() {
		var err error
		for _, k := range []**rsa.PrivateKey{&signerKey, &clientKey, &otherKey} {
			if *k, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
				panic(err)
			}
		}
		clientCertDER = selfSigned(clientKey, "client")
		otherCertDER = selfSigned(otherKey, "other")
		s256 := sha256.Sum256(clientCertDER)
		clientCertS256Std = base64.StdEncoding.EncodeToString(s256[:])
		clientCertS256 = base64.RawURLEncoding.EncodeToString(s256[:])
		s1 := sha1.Sum(clientCertDER)
		clientCertX5T = base64.RawURLEncoding.EncodeToString(s1[:])
	})
}

func selfSigned(key *rsa.PrivateKey, cn string) []byte {
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    testNow.Add(-24 * time.Hour),
		NotAfter:     testNow.Add(365 * 24 * time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		panic(err)
	}
	return der
}

func certCredential(principalID string, der []byte) store.Credential {
	s1 := sha1.Sum(der)
	return store.Credential{KeyID: "c-" + principalID, PrincipalID: principalID, Type: store.CredentialCertificate,
		Certificate: der, Thumbprint: strings.ToUpper(hex.EncodeToString(s1[:]))}
}

// ---- fakeDirectory -------------------------------------------------------------------------

type fakeSecret struct {
	value   string
	expired bool
}

type fakeDirectory struct {
	tenants    []store.Tenant
	principals []store.ServicePrincipal
	secrets    map[string][]fakeSecret
	certs      map[string][]store.Credential
	roles      map[string][]string // principalID|resourceObjectID
	failWith   error               // every call fails with it when set
}

func (d *fakeDirectory) Tenant(_ context.Context, ref string) (store.Tenant, error) {
	if d.failWith != nil {
		return store.Tenant{}, d.failWith
	}
	for _, t := range d.tenants {
		if strings.EqualFold(t.ID, ref) || strings.EqualFold(t.DefaultDomain, ref) {
			return t, nil
		}
	}
	return store.Tenant{}, store.ErrNotFound
}

func (d *fakeDirectory) Client(_ context.Context, tenantID, clientID string) (store.ServicePrincipal, error) {
	if d.failWith != nil {
		return store.ServicePrincipal{}, d.failWith
	}
	for _, p := range d.principals {
		if p.TenantID == tenantID && strings.EqualFold(p.AppID, clientID) {
			return p, nil
		}
	}
	return store.ServicePrincipal{}, store.ErrNotFound
}

func (d *fakeDirectory) Resource(_ context.Context, tenantID, audience string) (store.ServicePrincipal, error) {
	if d.failWith != nil {
		return store.ServicePrincipal{}, d.failWith
	}
	aud := strings.TrimSuffix(audience, "/")
	for _, p := range d.principals {
		if p.TenantID != tenantID {
			continue
		}
		if strings.EqualFold(p.AppID, audience) {
			return p, nil
		}
		for _, u := range p.IdentifierURIs {
			if strings.EqualFold(strings.TrimSuffix(u, "/"), aud) {
				return p, nil
			}
		}
	}
	return store.ServicePrincipal{}, store.ErrNotFound
}

func (d *fakeDirectory) VerifySecret(_ context.Context, principalID, secret string) (bool, error) {
	if d.failWith != nil {
		return false, d.failWith
	}
	expired := false
	for _, s := range d.secrets[principalID] {
		if subtle.ConstantTimeCompare([]byte(s.value), []byte(secret)) == 1 {
			if !s.expired {
				return true, nil
			}
			expired = true
		}
	}
	if expired {
		return false, ErrSecretExpired
	}
	return false, nil
}

func (d *fakeDirectory) Certificates(_ context.Context, principalID string) ([]store.Credential, error) {
	if d.failWith != nil {
		return nil, d.failWith
	}
	return d.certs[principalID], nil
}

func (d *fakeDirectory) AppRoles(_ context.Context, principalID string, resource store.ServicePrincipal) ([]string, error) {
	if d.failWith != nil {
		return nil, d.failWith
	}
	return d.roles[principalID+"|"+resource.ObjectID], nil
}

func newFakeDirectory() *fakeDirectory {
	return &fakeDirectory{
		tenants: []store.Tenant{{ID: testTenantID, DisplayName: testTenantName, DefaultDomain: testDomain, CreatedAt: testTenantCreated}},
		principals: []store.ServicePrincipal{
			{ObjectID: appObjectID, AppID: appClientID, TenantID: testTenantID, Kind: store.KindApplication, DisplayName: "app"},
			{ObjectID: expiredAppObjectID, AppID: expiredAppClientID, TenantID: testTenantID, Kind: store.KindApplication},
			{ObjectID: miObjectID, AppID: miClientID, TenantID: testTenantID, Kind: store.KindManagedIdentity,
				AlternativeNames: []string{"/subscriptions/s/resourcegroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id1"}},
			{ObjectID: "55555555-5555-4555-8555-555555555555", AppID: armAppID, TenantID: testTenantID, Kind: store.KindApplication,
				IdentifierURIs: []string{"https://management.azure.com/", "https://management.core.windows.net/"}, Builtin: true},
			{ObjectID: "66666666-6666-4666-8666-666666666666", AppID: vaultAppID, TenantID: testTenantID, Kind: store.KindApplication,
				IdentifierURIs: []string{"https://vault.azure.net"}, Builtin: true},
			{ObjectID: apiObjectID, AppID: apiAppID, TenantID: testTenantID, Kind: store.KindApplication,
				IdentifierURIs: []string{apiURI}, AccessTokenVersion: 2,
				AppRoles: []store.AppRole{{ID: "r1", Value: "Data.Read"}, {ID: "r2", Value: "Data.Write"}}},
		},
		secrets: map[string][]fakeSecret{
			appObjectID:        {{value: appSecret}},
			expiredAppObjectID: {{value: expiredSecret, expired: true}},
		},
		certs: map[string][]store.Credential{},
		roles: map[string][]string{appObjectID + "|" + apiObjectID: {"Data.Read", "Data.Write"}},
	}
}

// ---- fakeSigner: RS256 with crypto/rsa directly, as lean as a real key manager ----------------

type fakeSigner struct {
	key      *rsa.PrivateKey
	kid      string
	hdrX5T   string // base64url header with x5t
	hdrNoX5T string
	jwks     []byte
	fail     error
	signs    atomic.Int64 // signatures made
}

func newFakeSigner(key *rsa.PrivateKey) *fakeSigner {
	s := &fakeSigner{key: key, kid: "kid-1"}
	s.hdrX5T = base64.RawURLEncoding.EncodeToString([]byte(`{"typ":"JWT","alg":"RS256","x5t":"kid-1","kid":"kid-1"}`))
	s.hdrNoX5T = base64.RawURLEncoding.EncodeToString([]byte(`{"typ":"JWT","alg":"RS256","kid":"kid-1"}`))
	s.jwks, _ = json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &key.PublicKey, KeyID: s.kid, Algorithm: "RS256", Use: "sig"}}})
	return s
}

func (s *fakeSigner) Sign(claims any, withX5T bool) (string, error) {
	s.signs.Add(1)
	if s.fail != nil {
		return "", s.fail
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", err
	}
	hdr := s.hdrNoX5T
	if withX5T {
		hdr = s.hdrX5T
	}
	signingInput := hdr + "." + base64.RawURLEncoding.EncodeToString(payload)
	sum := sha256.Sum256([]byte(signingInput))
	sig, err := rsa.SignPKCS1v15(nil, s.key, crypto.SHA256, sum[:])
	if err != nil {
		return "", err
	}
	return signingInput + "." + base64.RawURLEncoding.EncodeToString(sig), nil
}

func (s *fakeSigner) JWKS() []byte { return s.jwks }

// ---- fakeRecorder, fakeAssertions ------------------------------------------------------------

type fakeRecorder struct {
	mu      sync.Mutex
	entries []store.SignIn
}

func (r *fakeRecorder) Record(e store.SignIn) {
	r.mu.Lock()
	r.entries = append(r.entries, e)
	r.mu.Unlock()
}

func (r *fakeRecorder) last(t *testing.T) store.SignIn {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.entries) == 0 {
		t.Fatal("no sign-in recorded")
	}
	return r.entries[len(r.entries)-1]
}

type fakeAssertions struct {
	mu   sync.Mutex
	used map[string]time.Time
	fail error
}

func (a *fakeAssertions) UseAssertion(_ context.Context, key string, expiresAt time.Time) error {
	if a.fail != nil {
		return a.fail
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.used == nil {
		a.used = map[string]time.Time{}
	}
	if _, ok := a.used[key]; ok {
		return store.ErrConflict
	}
	a.used[key] = expiresAt
	return nil
}

// ---- test server -------------------------------------------------------------------------

type fixture struct {
	srv        *Server
	dir        *fakeDirectory
	signer     *fakeSigner
	rec        *fakeRecorder
	assertions *fakeAssertions
	logs       *syncBuffer
	now        time.Time
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

func newFixture(t testing.TB, mutate ...func(*Config)) *fixture {
	t.Helper()
	testKeys(t)
	f := &fixture{dir: newFakeDirectory(), signer: newFakeSigner(signerKey), rec: &fakeRecorder{},
		assertions: &fakeAssertions{}, logs: &syncBuffer{}, now: testNow}
	f.dir.certs[appObjectID] = []store.Credential{certCredential(appObjectID, clientCertDER)}
	cfg := Config{
		BaseURL: testBaseURL + "/",
		Clock:   func() time.Time { return f.now },
		Logger:  slog.New(slog.NewTextHandler(f.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	for _, m := range mutate {
		m(&cfg)
	}
	f.srv = New(cfg, f.dir, f.signer, f.rec, f.assertions)
	return f
}

// post sends a form to path through the handler.
func (f *fixture) post(path string, form url.Values, header ...string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodPost, "https://127.0.0.1:8443"+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	w := httptest.NewRecorder()
	f.srv.ServeHTTP(w, req)
	return w
}

func (f *fixture) get(path string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodGet, "https://127.0.0.1:8443"+path, nil)
	w := httptest.NewRecorder()
	f.srv.ServeHTTP(w, req)
	return w
}

func secretForm(scope string) url.Values {
	return url.Values{"grant_type": {"client_credentials"}, "client_id": {appClientID}, "client_secret": {appSecret}, "scope": {scope}}
}

// decodeJWT verifies tok with the signer's key and returns its header and claims.
func decodeJWT(t *testing.T, tok string) (map[string]any, map[string]any) {
	t.Helper()
	jws, err := jose.ParseSignedCompact(tok, []jose.SignatureAlgorithm{jose.RS256})
	if err != nil {
		t.Fatalf("parse token: %v", err)
	}
	payload, err := jws.Verify(&signerKey.PublicKey)
	if err != nil {
		t.Fatalf("verify token: %v", err)
	}
	var claims map[string]any
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.UseNumber()
	if err := dec.Decode(&claims); err != nil {
		t.Fatal(err)
	}
	hb, _ := base64.RawURLEncoding.DecodeString(strings.SplitN(tok, ".", 2)[0])
	var hdr map[string]any
	if err := json.Unmarshal(hb, &hdr); err != nil {
		t.Fatal(err)
	}
	return hdr, claims
}

// entraError is the error envelope as a client reads it.
type entraError struct {
	Error            string `json:"error"`
	ErrorDescription string `json:"error_description"`
	ErrorCodes       []int  `json:"error_codes"`
	Timestamp        string `json:"timestamp"`
	TraceID          string `json:"trace_id"`
	CorrelationID    string `json:"correlation_id"`
	ErrorURI         string `json:"error_uri"`
}

func decodeError(t *testing.T, w *httptest.ResponseRecorder) entraError {
	t.Helper()
	var e entraError
	if err := json.Unmarshal(w.Body.Bytes(), &e); err != nil {
		t.Fatalf("error body is not JSON: %v: %s", err, w.Body.String())
	}
	return e
}

var errStoreDown = errors.New("dial tcp 10.0.0.5:5432: connection refused (password=hunter2)")

func httptestRequest(method, path string) *http.Request {
	return httptest.NewRequest(method, "https://127.0.0.1:8443"+path, nil)
}

func serve(f *fixture, r *http.Request) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	f.srv.ServeHTTP(w, r)
	return w
}

func sha256Sum(b []byte) []byte {
	s := sha256.Sum256(b)
	return s[:]
}

func hexUpper(b []byte) string { return strings.ToUpper(hex.EncodeToString(b)) }
