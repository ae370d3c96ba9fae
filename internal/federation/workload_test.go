package federation

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/mint-id/mint/internal/bearer"
	"github.com/mint-id/mint/internal/nodewire"
	"github.com/mint-id/mint/internal/rbac"
	"github.com/mint-id/mint/internal/store"
)

const (
	testBase      = "https://127.0.0.1:8443"
	subID         = "00000000-0000-0000-0000-000000000001"
	appResourceID = "/subscriptions/" + subID + "/resourceGroups/rg/providers/Microsoft.App/containerApps/web"
	contributor   = "c0000000-0000-0000-0000-000000000001"
	broker        = "b0000000-0000-0000-0000-000000000001"
	reader        = "d0000000-0000-0000-0000-000000000001"
	// customHolder holds a custom role whose definition the store cannot read (an outage).
	customHolder = "e0000000-0000-0000-0000-000000000001"
	outageRoleID = "f0000000-0000-0000-0000-00000000000f"
)

// handlerStore is the part of store.Store the workload-token endpoint reads.
type handlerStore struct {
	store.Store // nil: any other method panics
	*fakeStore
	assignments map[string][]store.RoleAssignment
	uris        map[string]bool
}

// ListMemberOf: no groups here.
func (h *handlerStore) ListMemberOf(context.Context, string) ([]store.GroupMember, error) {
	return nil, nil
}

// ListMemberOfAny: no groups here either (authz asks a store.Store in batches).
func (h *handlerStore) ListMemberOfAny(context.Context, []string) ([]store.GroupMember, error) {
	return nil, nil
}

// ListRoleAssignmentsForPrincipals is ListRoleAssignmentsForPrincipal for each id.
func (h *handlerStore) ListRoleAssignmentsForPrincipals(ctx context.Context, principalIDs []string) ([]store.RoleAssignment, error) {
	var all []store.RoleAssignment
	for _, id := range principalIDs {
		as, err := h.ListRoleAssignmentsForPrincipal(ctx, id)
		if err != nil {
			return nil, err
		}
		all = append(all, as...)
	}
	return all, nil
}

func (h *handlerStore) GetResource(ctx context.Context, id string) (store.Resource, error) {
	return h.fakeStore.GetResource(ctx, id)
}

func (h *handlerStore) ListFederatedCredentials(ctx context.Context, principalID string) ([]store.FederatedCredential, error) {
	return h.fakeStore.ListFederatedCredentials(ctx, principalID)
}

func (h *handlerStore) ListResources(ctx context.Context, f store.ResourceFilter) ([]store.Resource, error) {
	return h.fakeStore.ListResources(ctx, f)
}

func (h *handlerStore) GetSubscription(_ context.Context, id string) (store.Subscription, error) {
	if id != subID {
		return store.Subscription{}, store.ErrNotFound
	}
	return store.Subscription{ID: subID, TenantID: tenantID}, nil
}

func (h *handlerStore) GetPrincipalByIdentifierURI(_ context.Context, tid, uri string) (store.ServicePrincipal, error) {
	if tid == tenantID && h.uris[strings.ToLower(uri)] {
		return store.ServicePrincipal{}, nil
	}
	return store.ServicePrincipal{}, store.ErrNotFound
}

func (h *handlerStore) ListRoleAssignmentsForPrincipal(_ context.Context, principalID string) ([]store.RoleAssignment, error) {
	return h.assignments[principalID], nil
}

func (h *handlerStore) GetRoleDefinition(_ context.Context, id string) (store.RoleDefinition, error) {
	if id == outageRoleID {
		return store.RoleDefinition{}, errors.New("database is locked")
	}
	return store.RoleDefinition{}, store.ErrNotFound
}

// testSigner signs like keys.Manager and serves as the bearer validator's key source.
type testSigner struct{ key *rsa.PrivateKey }

func (s testSigner) Sign(claims any, _ bool) (string, error) {
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: s.key}, (&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", "mint1"))
	if err != nil {
		return "", err
	}
	payload, _ := json.Marshal(claims)
	jws, err := signer.Sign(payload)
	if err != nil {
		return "", err
	}
	return jws.CompactSerialize()
}

func (s testSigner) JWKS() []byte {
	b, _ := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &s.key.PublicKey, KeyID: "mint1", Use: "sig"}}})
	return b
}

func (s testSigner) PublicKey(kid string) (*rsa.PublicKey, bool) {
	return &s.key.PublicKey, kid == "mint1"
}

func TestWorkloadTokens(t *testing.T) {
	key, _ := rsa.GenerateKey(rand.Reader, 2048)
	signer := testSigner{key}
	st := &handlerStore{fakeStore: newStore(), uris: map[string]bool{"api://myapp": true}, assignments: map[string][]store.RoleAssignment{
		contributor:  {{Scope: "/subscriptions/" + subID + "/resourceGroups/rg", RoleDefinitionID: rbac.ContributorRoleID, PrincipalID: contributor}},
		broker:       {{Scope: appResourceID, RoleDefinitionID: rbac.TokenBrokerRoleID, PrincipalID: broker}},
		reader:       {{Scope: "/subscriptions/" + subID, RoleDefinitionID: rbac.ReaderRoleID, PrincipalID: reader}},
		customHolder: {{Scope: "/subscriptions/" + subID, RoleDefinitionID: outageRoleID, PrincipalID: customHolder}},
	}}
	h := NewHandler(HandlerConfig{Store: st, Signer: signer, BaseURL: testBase + "/",
		Tokens: &bearer.Validator{Keys: signer, IssuerBase: testBase, Audiences: []string{"https://management.azure.com/"}}})
	bearerFor := func(oid string) string {
		now := time.Now()
		tok, _ := signer.Sign(map[string]any{"aud": "https://management.azure.com/", "iss": testBase + "/" + tenantID + "/", "tid": tenantID,
			"oid": oid, "sub": oid, "appid": "app-" + oid[:1], "iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(time.Hour).Unix()}, true)
		return tok
	}
	call := func(oid string, body any) (int, map[string]any) {
		data, _ := json.Marshal(body)
		r := httptest.NewRequest("POST", nodewire.WorkloadTokensPath, bytes.NewReader(data))
		if oid != "" {
			r.Header.Set("Authorization", "Bearer "+bearerFor(oid))
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		var out map[string]any
		json.Unmarshal(w.Body.Bytes(), &out)
		return w.Code, out
	}

	for _, caller := range []string{contributor, broker} {
		status, out := call(caller, nodewire.WorkloadTokenRequest{ResourceID: appResourceID})
		if status != 200 {
			t.Fatalf("%s: %d %v", caller, status, out)
		}
		iss := "https://login.microsoftonline.com/" + tenantID + "/v2.0"
		if out["issuer"] != iss || out["subject"] != WorkloadSubjectPrefix+appResourceID || out["audience"] != DefaultAudience || out["tenantId"] != tenantID {
			t.Errorf("answer %v", out)
		}
		// The token verifies as a federated assertion from mint's own issuer.
		st.fakeStore.addFIC(t, "run-"+caller[:1], ficProps(iss, WorkloadSubjectPrefix+appResourceID))
		v := New(st, Options{BaseURL: testBase, LocalKeys: signer.JWKS})
		req := request(t, out["token"].(string), miClient)
		req.Now = time.Now()
		if err := v.VerifyFederated(context.Background(), req); err != nil {
			t.Errorf("workload token refused: %v", err)
		}
		if exp := int64(out["expiresOn"].(float64)); time.Until(time.Unix(exp, 0)) > time.Hour || time.Until(time.Unix(exp, 0)) < 59*time.Minute {
			t.Errorf("expiresOn %d", exp)
		}
	}

	tests := []struct {
		name   string
		caller string
		body   any
		status int
		code   string
		has    string
	}{
		{"no token", "", nodewire.WorkloadTokenRequest{ResourceID: appResourceID}, 401, "AuthenticationFailed", ""},
		{"reader", reader, nodewire.WorkloadTokenRequest{ResourceID: appResourceID}, 403, "AuthorizationFailed", "Microsoft.App/containerApps/write"},
		{"not an id", contributor, nodewire.WorkloadTokenRequest{ResourceID: "web"}, 400, "InvalidResourceId", ""},
		{"unknown resource", contributor, nodewire.WorkloadTokenRequest{ResourceID: appResourceID + "x"}, 404, "ResourceNotFound", ""},
		{"an identity", contributor, nodewire.WorkloadTokenRequest{ResourceID: identityID}, 400, "InvalidResourceId", "is an identity"},
		{"audience of a resource", contributor, nodewire.WorkloadTokenRequest{ResourceID: appResourceID, Audience: "https://vault.azure.net"}, 400, "InvalidAudience", "api://"},
		{"audience of an app", contributor, nodewire.WorkloadTokenRequest{ResourceID: appResourceID, Audience: "api://myapp"}, 400, "InvalidAudience", "identifier URI"},
		{"body", contributor, "[", 400, "InvalidRequestContent", ""},
		// Two spellings of resourceId: encoding/json would take the last one silently.
		{"resourceId twice", contributor, json.RawMessage(`{"resourceId":"` + identityID + `","ResourceId":"` + appResourceID + `"}`), 400, "InvalidRequestContent", ""},
		{"store outage", customHolder, nodewire.WorkloadTokenRequest{ResourceID: appResourceID}, 503, "ServiceUnavailable", "retry"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, out := call(tt.caller, tt.body)
			e, _ := out["error"].(map[string]any)
			if status != tt.status || e["code"] != tt.code || !strings.Contains(e["message"].(string), tt.has) {
				t.Errorf("%d %v, want %d %s containing %q", status, out, tt.status, tt.code, tt.has)
			}
		})
	}
}
