package sts

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/google/uuid"

	"github.com/mint-id/mint/internal/nodewire"
	"github.com/mint-id/mint/internal/store"
)

const (
	v2Audience = testBaseURL + "/" + testTenantID + "/oauth2/v2.0/token"
	v1Audience = testBaseURL + "/" + testTenantID + "/oauth2/token"
)

// signAssertion signs claims as a compact JWS with the given algorithm, key and extra headers.
func signAssertion(t testing.TB, alg jose.SignatureAlgorithm, key any, headers map[jose.HeaderKey]any, claims map[string]any) string {
	t.Helper()
	opts := (&jose.SignerOptions{}).WithType("JWT")
	for k, v := range headers {
		opts = opts.WithHeader(k, v)
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: key}, opts)
	if err != nil {
		t.Fatal(err)
	}
	payload, _ := json.Marshal(claims)
	jws, err := signer.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	out, err := jws.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// assertionClaimsAt is what MSAL puts in a certificate assertion.
func assertionClaimsAt(now time.Time, aud string) map[string]any {
	return map[string]any{"aud": aud, "iss": appClientID, "sub": appClientID, "jti": uuid.NewString(),
		"nbf": now.Unix(), "exp": now.Add(10 * time.Minute).Unix()}
}

// msalGoAssertion is MSAL Go's style: PS256, x5t#S256 in standard base64 with padding.
func msalGoAssertion(t testing.TB, now time.Time, aud string) string {
	return signAssertion(t, jose.PS256, clientKey, map[jose.HeaderKey]any{"x5t#S256": clientCertS256Std}, assertionClaimsAt(now, aud))
}

func assertionForm(assertion string) url.Values {
	return url.Values{"client_assertion": {assertion}, "client_assertion_type": {nodewire.AssertionTypeJWTBearer}, "client_id": {appClientID},
		"client_info": {"1"}, "grant_type": {"client_credentials"}, "scope": {"https://vault.azure.net/.default openid offline_access profile"}}
}

func noneJWT(claims map[string]any) string {
	p, _ := json.Marshal(claims)
	return base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"JWT"}`)) + "." + base64.RawURLEncoding.EncodeToString(p) + "."
}

type fakeFederated struct{}

func (fakeFederated) VerifyFederated(_ context.Context, req FederatedRequest) error {
	a := req.Assertion
	if a.Issuer != "https://issuer.example" || a.Subject != "system:serviceaccount:ns:sa" || a.VerifySignature(&otherKey.PublicKey) != nil {
		return NewError(http.StatusBadRequest, "invalid_request", 70021, "No matching federated identity record found for presented assertion.")
	}
	return nil
}

func TestClientAssertion(t *testing.T) {
	testKeys(t)
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	hdrS256 := map[jose.HeaderKey]any{"x5t#S256": clientCertS256Std}
	claimsWith := func(now time.Time, mut func(map[string]any)) map[string]any {
		c := assertionClaimsAt(now, v2Audience)
		mut(c)
		return c
	}
	fedClaims := func(now time.Time) map[string]any {
		return map[string]any{"iss": "https://issuer.example", "sub": "system:serviceaccount:ns:sa", "aud": "api://AzureADTokenExchange",
			"exp": now.Add(time.Hour).Unix(), "iat": now.Unix()}
	}
	tests := []struct {
		name      string
		path      string
		clientID  string
		assertion func(now time.Time) string
		federated bool
		status    int
		err       string
		code      int // 0: success
		contains  string
		grant     string
	}{
		{name: "MSAL Go: PS256, x5t#S256 std base64 padded", assertion: func(now time.Time) string { return msalGoAssertion(t, now, v2Audience) },
			grant: "client_certificate"},
		{name: "MSAL JS: PS256, x5t#S256 base64url", assertion: func(now time.Time) string {
			return signAssertion(t, jose.PS256, clientKey, map[jose.HeaderKey]any{"x5t#S256": clientCertS256}, assertionClaimsAt(now, v2Audience))
		}, grant: "client_certificate"},
		{name: "RS256 with x5t (SHA-1)", assertion: func(now time.Time) string {
			return signAssertion(t, jose.RS256, clientKey, map[jose.HeaderKey]any{"x5t": clientCertX5T}, assertionClaimsAt(now, v2Audience))
		}, grant: "client_certificate"},
		{name: "RS512 without thumbprint tries each certificate", assertion: func(now time.Time) string {
			return signAssertion(t, jose.RS512, clientKey, nil, assertionClaimsAt(now, v2Audience))
		}, grant: "client_certificate"},
		{name: "trailing newline trimmed", assertion: func(now time.Time) string { return msalGoAssertion(t, now, v2Audience) + "\n" },
			grant: "client_certificate"},
		{name: "aud: v1 endpoint, tenant by domain, upper case", assertion: func(now time.Time) string {
			return msalGoAssertion(t, now, strings.ToUpper(testBaseURL+"/"+testDomain+"/oauth2/token"))
		}, path: "/" + testDomain + "/oauth2/v2.0/token", grant: "client_certificate"},
		{name: "aud: Entra host name", assertion: func(now time.Time) string {
			return msalGoAssertion(t, now, "https://login.microsoftonline.com/"+testTenantID+"/oauth2/v2.0/token")
		}, grant: "client_certificate"},
		{name: "aud: authority", assertion: func(now time.Time) string { return msalGoAssertion(t, now, testBaseURL+"/"+testTenantID+"/") },
			grant: "client_certificate"},
		{name: "aud: array with the endpoint", assertion: func(now time.Time) string {
			return signAssertion(t, jose.PS256, clientKey, hdrS256, claimsWith(now, func(c map[string]any) { c["aud"] = []string{"x", v1Audience} }))
		}, grant: "client_certificate"},
		{name: "nbf within skew", assertion: func(now time.Time) string {
			return signAssertion(t, jose.PS256, clientKey, hdrS256, claimsWith(now, func(c map[string]any) { c["nbf"] = now.Add(4 * time.Minute).Unix() }))
		}, grant: "client_certificate"},

		{name: "alg none", assertion: func(now time.Time) string { return noneJWT(assertionClaimsAt(now, v2Audience)) },
			status: 400, err: "invalid_request", code: 5002738,
			contains: "Invalid JWT token. 'none' is not a supported signature algorithm. Supported signing algorithms are: 'RS256, RS384, RS512, PS256, PS384, PS512'"},
		{name: "alg HS256", assertion: func(now time.Time) string {
			return signAssertion(t, jose.HS256, []byte("0123456789abcdef0123456789abcdef"), nil, assertionClaimsAt(now, v2Audience))
		}, status: 400, err: "invalid_request", code: 5002738, contains: "'HS256' is not a supported signature algorithm"},
		{name: "alg ES256", assertion: func(now time.Time) string {
			return signAssertion(t, jose.ES256, ecKey, nil, assertionClaimsAt(now, v2Audience))
		}, status: 400, err: "invalid_request", code: 5002738, contains: "'ES256'"},
		{name: "malformed", assertion: func(time.Time) string { return "not-a-jwt" },
			status: 400, err: "invalid_request", code: 50027, contains: "JWT token is invalid or malformed."},
		{name: "payload not JSON", assertion: func(time.Time) string {
			return base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"RS256"}`)) + ".bm90IGpzb24." + base64.RawURLEncoding.EncodeToString([]byte("sig"))
		}, status: 400, err: "invalid_request", code: 50027},
		{name: "expired", assertion: func(now time.Time) string {
			return signAssertion(t, jose.PS256, clientKey, hdrS256, claimsWith(now, func(c map[string]any) {
				c["nbf"], c["exp"] = now.Add(-20*time.Minute).Unix(), now.Add(-10*time.Minute).Unix()
			}))
		}, status: 401, err: "invalid_client", code: 700024,
			contains: "Client assertion is not within its valid time range. Current time: 2026-11-22T00:00:00.0000000Z, assertion valid from 2026-11-21T23:40:00.0000000Z, expiry time of assertion 2026-11-21T23:50:00.0000000Z."},
		{name: "not yet valid", assertion: func(now time.Time) string {
			return signAssertion(t, jose.PS256, clientKey, hdrS256, claimsWith(now, func(c map[string]any) { c["nbf"] = now.Add(6 * time.Minute).Unix() }))
		}, status: 401, err: "invalid_client", code: 700024},
		{name: "lifetime over a day", assertion: func(now time.Time) string {
			return signAssertion(t, jose.PS256, clientKey, hdrS256, claimsWith(now, func(c map[string]any) { c["exp"] = now.Add(48 * time.Hour).Unix() }))
		}, status: 401, err: "invalid_client", code: 700024, contains: "at most 1 day"},
		{name: "no exp", assertion: func(now time.Time) string {
			return signAssertion(t, jose.PS256, clientKey, hdrS256, claimsWith(now, func(c map[string]any) { delete(c, "exp") }))
		}, status: 400, err: "invalid_request", code: 50027, contains: "'exp'"},
		{name: "no jti", assertion: func(now time.Time) string {
			return signAssertion(t, jose.PS256, clientKey, hdrS256, claimsWith(now, func(c map[string]any) { delete(c, "jti") }))
		}, status: 400, err: "invalid_request", code: 50027, contains: "'jti'"},
		{name: "wrong aud", assertion: func(now time.Time) string { return msalGoAssertion(t, now, "https://wrong.example/token") },
			status: 401, err: "invalid_client", code: 700023, contains: "Client assertion audience claim does not match Realm issuer."},
		{name: "aud of another tenant", assertion: func(now time.Time) string {
			return msalGoAssertion(t, now, testBaseURL+"/00000000-0000-4000-8000-00000000dead/oauth2/v2.0/token")
		}, status: 401, err: "invalid_client", code: 700023},
		{name: "wrong iss", assertion: func(now time.Time) string {
			return signAssertion(t, jose.PS256, clientKey, hdrS256, claimsWith(now, func(c map[string]any) { c["iss"] = expiredAppClientID }))
		}, status: 401, err: "invalid_client", code: 700021, contains: "Client assertion application identifier doesn't match 'client_id' parameter."},
		{name: "wrong sub", assertion: func(now time.Time) string {
			return signAssertion(t, jose.PS256, clientKey, hdrS256, claimsWith(now, func(c map[string]any) { c["sub"] = "someone" }))
		}, status: 401, err: "invalid_client", code: 700021},
		{name: "unregistered certificate", assertion: func(now time.Time) string {
			return signAssertion(t, jose.PS256, otherKey, map[jose.HeaderKey]any{"x5t#S256": thumbS256(otherCertDER)}, assertionClaimsAt(now, v2Audience))
		}, status: 401, err: "invalid_client", code: 700027, contains: "Client assertion failed signature validation. The key was not found."},
		{name: "right thumbprint, wrong key", assertion: func(now time.Time) string {
			return signAssertion(t, jose.PS256, otherKey, hdrS256, assertionClaimsAt(now, v2Audience))
		}, status: 401, err: "invalid_client", code: 700027, contains: "Client assertion failed signature validation."},
		{name: "no thumbprint, wrong key", assertion: func(now time.Time) string {
			return signAssertion(t, jose.RS256, otherKey, nil, assertionClaimsAt(now, v2Audience))
		}, status: 401, err: "invalid_client", code: 700027},
		{name: "managed identity with certificate assertion", clientID: miClientID, assertion: func(now time.Time) string {
			return signAssertion(t, jose.PS256, clientKey, hdrS256, claimsWith(now, func(c map[string]any) { c["iss"], c["sub"] = miClientID, miClientID }))
		}, status: 401, err: "invalid_client", code: 70002},
		{name: "federated without verifier", assertion: func(now time.Time) string {
			return signAssertion(t, jose.RS256, otherKey, map[jose.HeaderKey]any{"kid": "k8s"}, fedClaims(now))
		}, status: 400, err: "invalid_request", code: 70021,
			contains: "No matching federated identity record found for presented assertion. Assertion Issuer: 'https://issuer.example'. Assertion Subject: 'system:serviceaccount:ns:sa'. Assertion Audience: 'api://AzureADTokenExchange'."},
		{name: "federated with verifier", federated: true, assertion: func(now time.Time) string {
			return signAssertion(t, jose.RS256, otherKey, nil, fedClaims(now))
		}, grant: "federated"},
		{name: "federated managed identity with verifier", federated: true, clientID: miClientID, assertion: func(now time.Time) string {
			return signAssertion(t, jose.RS256, otherKey, nil, fedClaims(now))
		}, grant: "federated"},
		{name: "federated refused by verifier", federated: true, assertion: func(now time.Time) string {
			return signAssertion(t, jose.RS256, clientKey, nil, fedClaims(now))
		}, status: 400, err: "invalid_request", code: 70021},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, func(c *Config) {
				if tt.federated {
					c.Federated = fakeFederated{}
				}
			})
			path := tt.path
			if path == "" {
				path = v2TokenPath
			}
			form := assertionForm(tt.assertion(f.now))
			if tt.clientID != "" {
				form.Set("client_id", tt.clientID)
			}
			w := f.post(path, form)
			rec := f.rec.last(t)
			if tt.code == 0 {
				if w.Code != 200 {
					t.Fatalf("status %d: %s", w.Code, w.Body)
				}
				_, c := decodeJWT(t, accessToken(t, w))
				if c["appidacr"] != "2" {
					t.Errorf("appidacr %v", c["appidacr"])
				}
				if rec.Grant != tt.grant || rec.Result != "success" {
					t.Errorf("sign-in %+v", rec)
				}
				return
			}
			if w.Code != tt.status {
				t.Fatalf("status %d, want %d: %s", w.Code, tt.status, w.Body)
			}
			e := decodeError(t, w)
			checkEnvelope(t, w, e, tt.err, tt.code)
			if tt.contains != "" && !strings.Contains(e.ErrorDescription, tt.contains) {
				t.Errorf("description %q\nwant it to contain %q", e.ErrorDescription, tt.contains)
			}
			if rec.Result != "failure" || rec.ErrorCode == "" {
				t.Errorf("sign-in %+v", rec)
			}
		})
	}
}

func thumbS256(der []byte) string {
	return base64.StdEncoding.EncodeToString(sha256Sum(der))
}

func TestClientAssertionReplay(t *testing.T) {
	f := newFixture(t)
	a := msalGoAssertion(t, f.now, v2Audience)
	if w := f.post(v2TokenPath, assertionForm(a)); w.Code != 200 {
		t.Fatalf("first use: %d %s", w.Code, w.Body)
	}
	w := f.post(v2TokenPath, assertionForm(a))
	if w.Code != 401 {
		t.Fatalf("replay: status %d", w.Code)
	}
	e := decodeError(t, w)
	checkEnvelope(t, w, e, "invalid_client", 50013)
	if !strings.Contains(e.ErrorDescription, "Assertion is invalid because of various reasons - The assertion has already been used (jti replay)") {
		t.Errorf("description %q", e.ErrorDescription)
	}
	// A refused assertion does not use up its jti.
	f2 := newFixture(t)
	c := assertionClaimsAt(f2.now, "https://wrong.example/")
	bad := signAssertion(t, jose.PS256, clientKey, map[jose.HeaderKey]any{"x5t#S256": clientCertS256Std}, c)
	f2.post(v2TokenPath, assertionForm(bad))
	if len(f2.assertions.used) != 0 {
		t.Errorf("refused assertion recorded: %v", f2.assertions.used)
	}
	// The replay store failing is a server error.
	f3 := newFixture(t)
	f3.assertions.fail = errStoreDown
	if w := f3.post(v2TokenPath, assertionForm(msalGoAssertion(t, f3.now, v2Audience))); w.Code != 500 {
		t.Errorf("store failure: %d", w.Code)
	}
}

func TestDecodeThumbprint(t *testing.T) {
	testKeys(t)
	want := sha256Sum(clientCertDER)
	for _, s := range []string{clientCertS256Std, clientCertS256, strings.TrimRight(clientCertS256Std, "="), hexUpper(want)} {
		if got := decodeThumbprint(s, 32); string(got) != string(want) {
			t.Errorf("decodeThumbprint(%q) = %x", s, got)
		}
	}
	for _, s := range []string{"", "!!", clientCertX5T, "AAAA"} {
		if got := decodeThumbprint(s, 32); got != nil {
			t.Errorf("decodeThumbprint(%q) = %x, want nil", s, got)
		}
	}
}

func TestVerifyClientAssertionPure(t *testing.T) {
	testKeys(t)
	a, e := ParseAssertion(msalGoAssertion(t, testNow, v2Audience))
	if e != nil {
		t.Fatal(e)
	}
	if a.Algorithm != "PS256" || a.X5TS256 != clientCertS256Std || a.Issuer != appClientID || len(a.Audience) != 1 || a.ID == "" {
		t.Errorf("parsed %+v", a)
	}
	certs := []store.Credential{certCredential(appObjectID, otherCertDER), certCredential(appObjectID, clientCertDER)}
	chk := AssertionCheck{ClientID: strings.ToUpper(appClientID), Certificates: certs, Now: testNow,
		AudienceOK: func(aud string) bool { return aud == v2Audience }}
	if e := VerifyClientAssertion(a, chk); e != nil {
		t.Errorf("valid assertion refused: %v", e)
	}
	chk.Now = testNow.Add(11 * time.Minute)
	if e := VerifyClientAssertion(a, chk); e == nil || e.Code != 700024 {
		t.Errorf("expired: %v", e)
	}
	if _, err := x509.ParseCertificate(clientCertDER); err != nil {
		t.Fatal(err)
	}
}

func TestAssertionAudience(t *testing.T) {
	f := newFixture(t)
	for aud, want := range map[string]bool{
		v2Audience:                                 true,
		v1Audience:                                 true,
		testBaseURL + "/" + testTenantID:           true,
		testBaseURL + "/" + testTenantID + "/":     true,
		testBaseURL + "/" + testTenantID + "/v2.0": true,
		testBaseURL + "/" + strings.ToUpper(testDomain) + "/oauth2/v2.0/token":     true, // the segment used
		"HTTPS://127.0.0.1:8443/" + testTenantID + "/OAUTH2/V2.0/TOKEN":            true,
		"https://login.microsoftonline.com/" + testTenantID + "/oauth2/v2.0/token": true,
		"https://sts.windows.net/" + testTenantID + "/":                            true,
		"http://login.microsoftonline.com/" + testTenantID + "/oauth2/v2.0/token":  false,
		"https://127.0.0.1:9999/" + testTenantID + "/oauth2/v2.0/token":            false,
		"https://evil.example/" + testTenantID + "/oauth2/v2.0/token":              false,
		testBaseURL + "/common/oauth2/v2.0/token":                                  false,
		testBaseURL + "/" + testTenantID + "/oauth2/v2.0/authorize":                false,
		testBaseURL + "/" + testTenantID + "/oauth2/v2.0/token/extra":              false,
		testBaseURL + "/" + testTenantID + "x/oauth2/v2.0/token":                   false,
		"":           false,
		testTenantID: false,
	} {
		if got := f.srv.assertionAudienceOK(testTenantID, testDomain, aud); got != want {
			t.Errorf("aud %q: %v, want %v", aud, got, want)
		}
	}
}
