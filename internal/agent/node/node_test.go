package node

import (
	"context"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/mint-id/mint/internal/agent"
	"github.com/mint-id/mint/internal/nodewire"
)

const (
	testTenant   = "11111111-1111-1111-1111-111111111111"
	testClientID = "22222222-2222-2222-2222-222222222222"
	testHost     = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.App/containerApps/web"
)

// testKey is one node key for the whole package: RSA generation is slow.
var testKey = sync.OnceValue(func() *Identity {
	key, cert, err := NewKey("n1")
	if err != nil {
		panic(err)
	}
	return (&Identity{TenantID: testTenant, ClientID: testClientID, ObjectID: "o1", Name: "n1"}).WithKey(key, cert)
})

// fakeServer is a mint server as far as a node sees it: the join endpoint, the token endpoint
// (which checks the node's assertion as the STS does) and the workload-token endpoint.
type fakeServer struct {
	t   *testing.T
	srv *httptest.Server
	id  *Identity

	mu        sync.Mutex
	forms     []url.Values // token requests, in order
	answer    func(form url.Values) (status int, header http.Header, body any)
	mgmtCalls atomic.Int32
	workload  func(r *http.Request, body nodewire.WorkloadTokenRequest) (int, any)
	feed      func(r *http.Request) (int, any) // the revocation feed's answers
}

func newFakeServer(t *testing.T) *fakeServer {
	f := &fakeServer{t: t}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	base := testKey()
	f.id = &Identity{ServerURL: f.srv.URL, TenantID: base.TenantID, ClientID: base.ClientID, ObjectID: base.ObjectID, Name: base.Name, key: base.key, cert: base.cert}
	return f
}

func (f *fakeServer) serve(w http.ResponseWriter, r *http.Request) {
	writeJSON := func(status int, v any) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(v)
	}
	switch r.URL.Path {
	case "/" + testTenant + "/oauth2/token":
		if err := r.ParseForm(); err != nil {
			f.t.Errorf("token form: %v", err)
		}
		f.checkAssertion(r.PostForm)
		f.mu.Lock()
		f.forms = append(f.forms, r.PostForm)
		answer := f.answer
		f.mu.Unlock()
		if r.PostForm.Get("grant_type") == "client_credentials" {
			f.mgmtCalls.Add(1)
			writeJSON(http.StatusOK, map[string]string{"access_token": "mgmt-token", "expires_on": strconv.FormatInt(time.Now().Add(time.Hour).Unix(), 10)})
			return
		}
		status, header, body := answer(r.PostForm)
		for k, v := range header {
			w.Header()[k] = v
		}
		writeJSON(status, body)
	case nodewire.WorkloadTokensPath:
		if got := r.Header.Get("Authorization"); got != "Bearer mgmt-token" {
			f.t.Errorf("workload token asked with %q", got)
		}
		var body nodewire.WorkloadTokenRequest
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
			f.t.Errorf("workload token body: %v", err)
		}
		writeJSON(f.workload(r, body))
	case nodewire.RevocationsPath:
		if got := r.Header.Get("Authorization"); got != "Bearer mgmt-token" {
			f.t.Errorf("revocations polled with %q", got)
		}
		writeJSON(f.feed(r))
	default:
		writeJSON(http.StatusNotFound, map[string]any{"error": map[string]string{"code": "NotFound", "message": r.URL.Path}})
	}
}

// checkAssertion verifies the node's private_key_jwt as the STS does: signed with the node's
// key, naming the node as issuer and subject and the token endpoint as audience.
func (f *fakeServer) checkAssertion(form url.Values) {
	f.t.Helper()
	if form.Get("client_id") != testClientID || form.Get("client_assertion_type") != nodewire.AssertionTypeJWTBearer {
		f.t.Errorf("client authentication: %v", form)
		return
	}
	tok, err := jwt.ParseSigned(form.Get("client_assertion"), []jose.SignatureAlgorithm{jose.RS256})
	if err != nil {
		f.t.Errorf("assertion: %v", err)
		return
	}
	var c jwt.Claims
	if err := tok.Claims(f.id.cert.PublicKey, &c); err != nil {
		f.t.Errorf("assertion signature: %v", err)
		return
	}
	if err := c.ValidateWithLeeway(jwt.Expected{Issuer: testClientID, Subject: testClientID, AnyAudience: jwt.Audience{f.srv.URL + "/" + testTenant + "/oauth2/token"}}, time.Minute); err != nil || c.ID == "" {
		f.t.Errorf("assertion claims %+v: %v", c, err)
	}
	if len(tok.Headers) != 1 || tok.Headers[0].ExtraHeaders["x5t#S256"] == nil {
		f.t.Errorf("assertion headers: %+v", tok.Headers)
	}
}

func TestJoin(t *testing.T) {
	var got map[string]string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != "/mint/nodes/join" {
			t.Errorf("%s %s", r.Method, r.URL.Path)
		}
		_ = json.NewDecoder(r.Body).Decode(&got)
		if got["joinToken"] == "bad" {
			w.WriteHeader(http.StatusForbidden)
			_, _ = w.Write([]byte(`{"error":{"code":"InvalidJoinToken","message":"The join token was used already."}}`))
			return
		}
		_, _ = w.Write([]byte(`{"tenantId":"` + testTenant + `","clientId":"` + testClientID + `","objectId":"o1","name":"n1"}`))
	}))
	defer srv.Close()

	id, err := Join(context.Background(), srv.Client(), srv.URL+"/", "jt-1", "n1")
	if err != nil {
		t.Fatal(err)
	}
	if id.ServerURL != srv.URL || id.TenantID != testTenant || id.ClientID != testClientID || id.Key() == nil {
		t.Fatalf("identity %+v", id)
	}
	der, err := base64.StdEncoding.DecodeString(got["certificate"])
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil || !cert.Equal(id.Certificate()) || got["joinToken"] != "jt-1" || got["name"] != "n1" {
		t.Fatalf("join request %v: the certificate sent is not the node's (%v)", got, err)
	}

	if _, err := Join(context.Background(), srv.Client(), srv.URL, "bad", "n1"); err == nil ||
		!strings.Contains(err.Error(), "InvalidJoinToken: The join token was used already.") {
		t.Fatalf("refused join: %v", err)
	}
	if _, err := Join(context.Background(), srv.Client(), "http://127.0.0.1:1", "jt", "n1"); err == nil {
		t.Fatal("join to a closed port succeeded")
	}
}

func TestSaveAndLoad(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "agent")
	if _, err := Load(dir); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("Load before a join: %v, want ErrNotExist", err)
	}
	id := testKey()
	if err := id.Save(dir); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(filepath.Join(dir, keyFile))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v %v, want mode 0600", fi, err)
	}
	back, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if back.ClientID != id.ClientID || back.TenantID != id.TenantID || !back.Key().Equal(id.Key()) || !back.Certificate().Equal(id.Certificate()) {
		t.Fatalf("loaded %+v", back)
	}
	// A key file without the certificate is refused, not half-loaded.
	if err := os.WriteFile(filepath.Join(dir, keyFile), []byte("-----BEGIN NOTHING-----\n-----END NOTHING-----\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(dir); err == nil || !strings.Contains(err.Error(), "lacks the key or the certificate") {
		t.Fatalf("Load of an empty key file: %v", err)
	}
}

func TestUpstreamTokenSendsTheBrokerGrant(t *testing.T) {
	f := newFakeServer(t)
	exp := time.Now().Add(24 * time.Hour).Truncate(time.Second)
	f.answer = func(url.Values) (int, http.Header, any) {
		return http.StatusOK, nil, map[string]string{"access_token": "at", "expires_on": strconv.FormatInt(exp.Unix(), 10),
			"not_before": strconv.FormatInt(exp.Add(-24*time.Hour).Unix(), 10), "resource": "https://vault.azure.net", "client_id": "mi-client"}
	}
	up := NewUpstream(f.id, f.srv.Client())
	for _, tc := range []struct {
		sel   agent.Selector
		param string
		value string
	}{
		{agent.Selector{}, "", ""},
		{agent.Selector{ClientID: "c1"}, nodewire.ParamClientID, "c1"},
		{agent.Selector{ObjectID: "o2"}, nodewire.ParamObjectID, "o2"},
		{agent.Selector{ResourceID: "/x/id1"}, nodewire.ParamResourceID, "/x/id1"},
	} {
		tok, err := up.Token(context.Background(), agent.TokenRequest{ResourceID: testHost, Identity: tc.sel, Resource: "https://vault.azure.net"})
		if err != nil {
			t.Fatal(err)
		}
		if tok.AccessToken != "at" || tok.ClientID != "mi-client" || !tok.ExpiresOn.Equal(exp) || tok.Resource != "https://vault.azure.net" {
			t.Errorf("token %+v", tok)
		}
		f.mu.Lock()
		form := f.forms[len(f.forms)-1]
		f.mu.Unlock()
		if form.Get("grant_type") != nodewire.GrantManagedIdentity || form.Get("resource") != "https://vault.azure.net" || form.Get(nodewire.ParamHostResourceID) != testHost {
			t.Errorf("broker grant form %v", form)
		}
		for _, p := range []string{nodewire.ParamClientID, nodewire.ParamObjectID, nodewire.ParamResourceID} {
			if want := map[bool]string{true: tc.value}[p == tc.param]; form.Get(p) != want {
				t.Errorf("selector %+v: %s = %q, want %q", tc.sel, p, form.Get(p), want)
			}
		}
	}
}

func TestUpstreamRefusalsBecomeAgentKinds(t *testing.T) {
	f := newFakeServer(t)
	up := NewUpstream(f.id, f.srv.Client())
	refusal := func(status, code int) func(url.Values) (int, http.Header, any) {
		return func(url.Values) (int, http.Header, any) {
			return status, http.Header{"Retry-After": {"7"}}, map[string]any{"error": "invalid_request",
				"error_description": "AADSTS" + strconv.Itoa(code) + ": why.\r\nTrace ID: x", "error_codes": []int{code}}
		}
	}
	for _, tc := range []struct {
		name   string
		answer func(url.Values) (int, http.Header, any)
		kind   agent.UpstreamErrorKind
		retry  time.Duration
	}{
		{"identity not found", refusal(400, nodewire.CodeIdentityNotFound), agent.IdentityNotFound, 0},
		{"multiple identities", refusal(400, nodewire.CodeMultipleIdentities), agent.MultipleIdentities, 0},
		{"node not allowed", refusal(403, nodewire.CodeNodeNotAllowed), agent.NodeNotAllowed, 0},
		{"host resource not found", refusal(400, nodewire.CodeHostResourceNotFound), agent.ResourceNotFound, 0},
		{"invalid resource", refusal(400, 500011), agent.InvalidResource, 0},
		{"throttled", refusal(429, 0), agent.Throttled, 7 * time.Second},
		{"node credential refused", refusal(401, 7000215), agent.NodeNotAllowed, 0},
		{"server failure", refusal(500, 0), agent.Unavailable, 0},
		{"server's store unavailable", refusal(503, 90033), agent.Unavailable, 7 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f.mu.Lock()
			f.answer = tc.answer
			f.mu.Unlock()
			_, err := up.Token(context.Background(), agent.TokenRequest{ResourceID: testHost, Resource: "api://x"})
			var ue *agent.UpstreamError
			if !errors.As(err, &ue) || ue.Kind != tc.kind || ue.RetryAfter != tc.retry {
				t.Fatalf("error %v, want kind %v retry %v", err, tc.kind, tc.retry)
			}
			if strings.Contains(ue.Message, "Trace ID") {
				t.Errorf("message keeps the trace: %q", ue.Message)
			}
		})
	}
	t.Run("malformed answer", func(t *testing.T) {
		f.mu.Lock()
		f.answer = func(url.Values) (int, http.Header, any) { return 200, nil, map[string]string{"access_token": ""} }
		f.mu.Unlock()
		_, err := up.Token(context.Background(), agent.TokenRequest{ResourceID: testHost, Resource: "api://x"})
		var ue *agent.UpstreamError
		if !errors.As(err, &ue) || ue.Kind != agent.Unavailable {
			t.Fatalf("error %v, want Unavailable", err)
		}
	})
	t.Run("server unreachable", func(t *testing.T) {
		id := *f.id
		id.ServerURL = "http://127.0.0.1:1"
		_, err := NewUpstream(&id, f.srv.Client()).Token(context.Background(), agent.TokenRequest{ResourceID: testHost, Resource: "api://x"})
		var ue *agent.UpstreamError
		if !errors.As(err, &ue) || ue.Kind != agent.Unavailable {
			t.Fatalf("error %v, want Unavailable", err)
		}
	})
}

func TestWorkloadToken(t *testing.T) {
	f := newFakeServer(t)
	exp := time.Now().Add(time.Hour).Truncate(time.Second)
	f.workload = func(_ *http.Request, body nodewire.WorkloadTokenRequest) (int, any) {
		if body.ResourceID == "/refused" {
			return http.StatusForbidden, map[string]any{"error": map[string]string{"code": "AuthorizationFailed", "message": "no role"}}
		}
		return http.StatusOK, nodewire.WorkloadToken{Token: "wt", Issuer: "iss", Subject: "mint:resource:" + body.ResourceID,
			Audience: body.Audience, TenantID: testTenant, ExpiresOn: exp.Unix()}
	}
	up := NewUpstream(f.id, f.srv.Client())
	for range 2 {
		wt, err := up.WorkloadToken(context.Background(), testHost, "api://AzureADTokenExchange")
		if err != nil {
			t.Fatal(err)
		}
		if wt.Token != "wt" || wt.Subject != "mint:resource:"+testHost || wt.Audience != "api://AzureADTokenExchange" ||
			wt.AuthorityHost != f.srv.URL || !wt.ExpiresOn.Equal(exp) {
			t.Errorf("workload token %+v", wt)
		}
	}
	if n := f.mgmtCalls.Load(); n != 1 {
		t.Errorf("%d management sign-ins for two workload tokens, want 1 (the token is reused)", n)
	}
	if _, err := up.WorkloadToken(context.Background(), "/refused", ""); err == nil || !strings.Contains(err.Error(), "AuthorizationFailed: no role") {
		t.Fatalf("refused workload token: %v", err)
	}
}
