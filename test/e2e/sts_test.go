package e2e

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/go-jose/go-jose/v4"
)

// clientOptions points a real azidentity credential at mint: authority host = mint, instance
// discovery off (there is no login.microsoftonline.com here). Trust comes from SSL_CERT_FILE.
func (m *mint) clientOptions() azcore.ClientOptions {
	return azcore.ClientOptions{Cloud: cloud.Configuration{ActiveDirectoryAuthorityHost: m.Env["AZURE_AUTHORITY_HOST"]}}
}

func (m *mint) adminCredential(t *testing.T) *azidentity.ClientSecretCredential {
	t.Helper()
	return m.secretCredential(t, m.Env["AZURE_CLIENT_ID"], m.Env["AZURE_CLIENT_SECRET"])
}

func (m *mint) secretCredential(t *testing.T, clientID, secret string) *azidentity.ClientSecretCredential {
	t.Helper()
	cred, err := azidentity.NewClientSecretCredential(m.Env["AZURE_TENANT_ID"], clientID, secret,
		&azidentity.ClientSecretCredentialOptions{ClientOptions: m.clientOptions(), DisableInstanceDiscovery: true})
	if err != nil {
		t.Fatal(err)
	}
	return cred
}

func getToken(t *testing.T, cred azcore.TokenCredential, scope string) azcore.AccessToken {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	tok, err := cred.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{scope}})
	if err != nil {
		t.Fatalf("GetToken(%s): %v", scope, err)
	}
	return tok
}

// verify checks a token against mint's published JWKS with go-jose and returns its claims and
// header.
func (m *mint) verify(t *testing.T, token string) (map[string]any, jose.Header) {
	t.Helper()
	status, body := m.get("/" + m.Env["AZURE_TENANT_ID"] + "/discovery/v2.0/keys")
	if status != 200 {
		t.Fatalf("JWKS: %d %s", status, body)
	}
	var jwks jose.JSONWebKeySet
	if err := json.Unmarshal(body, &jwks); err != nil {
		t.Fatal(err)
	}
	jws, err := jose.ParseSigned(token, []jose.SignatureAlgorithm{jose.RS256})
	if err != nil {
		t.Fatalf("parse token: %v", err)
	}
	hdr := jws.Signatures[0].Header
	keys := jwks.Key(hdr.KeyID)
	if len(keys) != 1 {
		t.Fatalf("kid %q not in JWKS (%d keys)", hdr.KeyID, len(jwks.Keys))
	}
	payload, err := jws.Verify(keys[0].Key)
	if err != nil {
		t.Fatalf("signature does not verify against JWKS: %v", err)
	}
	var claims map[string]any
	if err := json.Unmarshal(payload, &claims); err != nil {
		t.Fatal(err)
	}
	return claims, hdr
}

func TestClientSecretCredentialV1Audiences(t *testing.T) {
	for _, sk := range stores(t) {
		t.Run(sk.name, func(t *testing.T) {
			m := startMint(t, options{store: sk.url(t)})
			cred := m.adminCredential(t)
			tenant := m.Env["AZURE_TENANT_ID"]
			for _, tc := range []struct{ scope, aud string }{
				{"https://vault.azure.net/.default", "https://vault.azure.net"},
				{"https://management.azure.com//.default", "https://management.azure.com/"},
				{"https://storage.azure.com/.default", "https://storage.azure.com"},
			} {
				tok := getToken(t, cred, tc.scope)
				if until := time.Until(tok.ExpiresOn); until < 55*time.Minute || until > 61*time.Minute {
					t.Errorf("%s: expires in %v, want about 1 h", tc.scope, until)
				}
				claims, hdr := m.verify(t, tok.Token)
				if hdr.Algorithm != "RS256" || hdr.ExtraHeaders["x5t"] != hdr.KeyID {
					t.Errorf("v1 header: alg %s kid %s x5t %v", hdr.Algorithm, hdr.KeyID, hdr.ExtraHeaders["x5t"])
				}
				want := map[string]any{
					"aud": tc.aud, "iss": "https://sts.windows.net/" + tenant + "/", "idp": "https://sts.windows.net/" + tenant + "/",
					"appid": m.Env["AZURE_CLIENT_ID"], "appidacr": "1", "idtyp": "app", "tid": tenant, "ver": "1.0",
				}
				for k, v := range want {
					if claims[k] != v {
						t.Errorf("%s: claim %s = %v, want %v", tc.scope, k, claims[k], v)
					}
				}
				if claims["oid"] == nil || claims["oid"] != claims["sub"] || claims["uti"] == nil {
					t.Errorf("oid/sub/uti: %v %v %v", claims["oid"], claims["sub"], claims["uti"])
				}
				iat, nbf, exp := claims["iat"].(float64), claims["nbf"].(float64), claims["exp"].(float64)
				if iat != nbf || exp-iat < 3500 || exp-iat > 3700 {
					t.Errorf("iat %v nbf %v exp %v", iat, nbf, exp)
				}
			}
		})
	}
}

func TestV2AudienceAndAppRoles(t *testing.T) {
	m := startMint(t, options{})
	var app struct{ AppID string }
	mustJSON(t, m.mustCLI("ad", "app", "create", "--display-name", "orders-api", "--identifier-uris", "api://orders",
		"--requested-access-token-version", "2", "--app-role", "Orders.Read"), &app)
	// The resource by its identifier URI, as the README shows (compared as Entra does: any case,
	// a trailing slash or not).
	m.mustCLI("ad", "sp", "app-role", "grant", "--assignee", m.Env["AZURE_CLIENT_ID"], "--resource", "API://orders/", "--role", "Orders.Read")

	tok := getToken(t, m.adminCredential(t), "api://orders/.default")
	claims, hdr := m.verify(t, tok.Token)
	tenant := m.Env["AZURE_TENANT_ID"]
	if _, ok := hdr.ExtraHeaders["x5t"]; ok {
		t.Errorf("v2 token header carries x5t")
	}
	for k, v := range map[string]any{"aud": app.AppID, "iss": "https://login.microsoftonline.com/" + tenant + "/v2.0", "azp": m.Env["AZURE_CLIENT_ID"], "azpacr": "1", "ver": "2.0", "idtyp": "app"} {
		if claims[k] != v {
			t.Errorf("claim %s = %v, want %v", k, claims[k], v)
		}
	}
	if _, ok := claims["appid"]; ok {
		t.Errorf("v2 token carries appid")
	}
	if roles, _ := claims["roles"].([]any); len(roles) != 1 || roles[0] != "Orders.Read" {
		t.Errorf("roles = %v, want [Orders.Read]", claims["roles"])
	}
}

func TestClientCertificateCredential(t *testing.T) {
	for _, sk := range stores(t) {
		t.Run(sk.name, func(t *testing.T) {
			m := startMint(t, options{store: sk.url(t)})
			certs, key, certFile := newCertificate(t)
			var app struct{ AppID string }
			mustJSON(t, m.mustCLI("ad", "app", "create", "--display-name", "cert-app", "--cert-file", certFile), &app)

			cred, err := azidentity.NewClientCertificateCredential(m.Env["AZURE_TENANT_ID"], app.AppID, certs, key,
				&azidentity.ClientCertificateCredentialOptions{ClientOptions: m.clientOptions(), DisableInstanceDiscovery: true})
			if err != nil {
				t.Fatal(err)
			}
			for _, scope := range []string{"https://vault.azure.net/.default", "https://management.azure.com/.default"} {
				claims, _ := m.verify(t, getToken(t, cred, scope).Token)
				if claims["appid"] != app.AppID || claims["appidacr"] != "2" {
					t.Errorf("%s: appid %v appidacr %v", scope, claims["appid"], claims["appidacr"])
				}
			}

			// A certificate the app does not have is refused with Entra's error.
			other, otherKey, _ := newCertificate(t)
			bad, _ := azidentity.NewClientCertificateCredential(m.Env["AZURE_TENANT_ID"], app.AppID, other, otherKey,
				&azidentity.ClientCertificateCredentialOptions{ClientOptions: m.clientOptions(), DisableInstanceDiscovery: true})
			_, err = bad.GetToken(context.Background(), policy.TokenRequestOptions{Scopes: []string{"https://vault.azure.net/.default"}})
			if err == nil || !strings.Contains(err.Error(), "AADSTS700027") {
				t.Errorf("unknown certificate: err = %v, want AADSTS700027", err)
			}
		})
	}
}

func TestRefusalsCarryEntraErrors(t *testing.T) {
	m := startMint(t, options{})
	ctx := context.Background()
	scope := func(s string) policy.TokenRequestOptions { return policy.TokenRequestOptions{Scopes: []string{s}} }
	cases := []struct {
		name string
		cred azcore.TokenCredential
		opts policy.TokenRequestOptions
		code string
	}{
		{"unknown audience", m.adminCredential(t), scope("https://nothing.example/.default"), "AADSTS500011"},
		{"wrong secret", m.secretCredential(t, m.Env["AZURE_CLIENT_ID"], "not-the-secret"), scope("https://vault.azure.net/.default"), "AADSTS7000215"},
		{"unknown client", m.secretCredential(t, "00000000-1111-2222-3333-444444444444", "x"), scope("https://vault.azure.net/.default"), "AADSTS700016"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.cred.GetToken(ctx, tc.opts)
			if err == nil || !strings.Contains(err.Error(), tc.code) {
				t.Fatalf("err = %v, want %s", err, tc.code)
			}
		})
	}
	// Unknown tenant.
	cred, _ := azidentity.NewClientSecretCredential("11111111-2222-3333-4444-555555555555", m.Env["AZURE_CLIENT_ID"], m.Env["AZURE_CLIENT_SECRET"],
		&azidentity.ClientSecretCredentialOptions{ClientOptions: m.clientOptions(), DisableInstanceDiscovery: true})
	if _, err := cred.GetToken(ctx, scope("https://vault.azure.net/.default")); err == nil || !strings.Contains(err.Error(), "AADSTS90002") {
		t.Errorf("unknown tenant: err = %v, want AADSTS90002", err)
	}

	// Every refusal and issue is in the sign-in log, with its reason; no secret anywhere.
	var entries []struct {
		AppID  string `json:"appId"`
		Result string `json:"result"`
		Status struct {
			ErrorCode     int    `json:"errorCode"`
			FailureReason string `json:"failureReason"`
		} `json:"status"`
	}
	out := waitFor(t, func() (string, bool) {
		out := m.mustCLI("signin-log", "list", "--app-id", m.Env["AZURE_CLIENT_ID"])
		return out, strings.Contains(out, "7000215") && strings.Contains(out, "500011")
	})
	mustJSON(t, out, &entries)
	if strings.Contains(out, m.Env["AZURE_CLIENT_SECRET"]) || strings.Contains(out, "not-the-secret") {
		t.Fatal("the sign-in log shows a secret")
	}
	codes := map[int]string{}
	for _, e := range entries {
		if e.Result == "failure" {
			codes[e.Status.ErrorCode] = e.Status.FailureReason
		}
	}
	if !strings.Contains(codes[500011], "https://nothing.example") || !strings.Contains(codes[7000215], "Invalid client secret") {
		t.Errorf("sign-in log failure reasons: %v", codes)
	}
}

func TestKeyRotationKeepsOldTokensVerifiable(t *testing.T) {
	for _, sk := range stores(t) {
		t.Run(sk.name, func(t *testing.T) {
			m := startMint(t, options{store: sk.url(t)})
			before := getToken(t, m.adminCredential(t), "https://vault.azure.net/.default").Token
			_, oldHdr := m.verify(t, before)

			args := []string{"keys", "rotate", "--data-dir", m.dataDir}
			if m.store != "" {
				args = append(args, "--store", m.store)
			}
			m.mustCLI(args...)

			// A fresh credential (no token cache) gets a token signed by the new key once the
			// server has reloaded its keys.
			after := waitFor(t, func() (string, bool) {
				tok := getToken(t, m.secretCredential(t, m.Env["AZURE_CLIENT_ID"], m.Env["AZURE_CLIENT_SECRET"]), "https://vault.azure.net/.default").Token
				_, hdr := m.verify(t, tok)
				return tok, hdr.KeyID != oldHdr.KeyID
			})
			_ = after
			m.verify(t, before) // the old key is still published
		})
	}
}

func TestRestartKeepsTenantAppsAndKeys(t *testing.T) {
	for _, sk := range stores(t) {
		t.Run(sk.name, func(t *testing.T) {
			m := startMint(t, options{store: sk.url(t)})
			var app struct{ AppID string }
			mustJSON(t, m.mustCLI("ad", "app", "create", "--display-name", "keeper"), &app)
			var reset struct{ Password string }
			mustJSON(t, m.mustCLI("ad", "app", "credential", "reset", "--id", app.AppID), &reset)
			tok := getToken(t, m.adminCredential(t), "https://vault.azure.net/.default").Token
			envBefore := m.Env
			_, jwksBefore := m.get("/common/discovery/v2.0/keys")

			m.restart()
			for _, k := range []string{"AZURE_TENANT_ID", "AZURE_SUBSCRIPTION_ID", "AZURE_CLIENT_ID", "AZURE_CLIENT_SECRET"} {
				if m.Env[k] != envBefore[k] {
					t.Errorf("%s changed across restart", k)
				}
			}
			_, jwksAfter := m.get("/common/discovery/v2.0/keys")
			if string(jwksBefore) != string(jwksAfter) {
				t.Errorf("JWKS changed across restart:\n%s\n%s", jwksBefore, jwksAfter)
			}
			m.verify(t, tok)
			getToken(t, m.secretCredential(t, app.AppID, reset.Password), "https://vault.azure.net/.default")
		})
	}
}

func TestAcknowledgedWriteSurvivesKill9(t *testing.T) {
	for _, sk := range stores(t) {
		t.Run(sk.name, func(t *testing.T) {
			m := startMint(t, options{store: sk.url(t)})
			var app struct{ AppID string }
			mustJSON(t, m.mustCLI("ad", "app", "create", "--display-name", "durable"), &app)
			var reset struct{ Password string }
			mustJSON(t, m.mustCLI("ad", "app", "credential", "reset", "--id", app.AppID), &reset)
			m.kill() // right after the 2xx
			m.start()
			m.mustCLI("ad", "app", "show", "--id", app.AppID)
			getToken(t, m.secretCredential(t, app.AppID, reset.Password), "https://vault.azure.net/.default")
		})
	}
}

func TestTwoServersShareOnePostgres(t *testing.T) {
	if os.Getenv("MINT_TEST_POSTGRES_URL") == "" {
		if postgresRequired() {
			t.Fatal("MINT_TEST_POSTGRES_URL is not set")
		}
		t.Skip("needs PostgreSQL: run through ./test.sh")
	}
	url := freshDatabase(t)
	// mint init creates the installation's first signing keys in the store: the servers started
	// afterwards create none of their own and publish the same keys from the start.
	dir := newDataDir(t)
	initCmd := exec.Command(mintBin, "init", "--data-dir", dir, "--store", url)
	initCmd.Env = cleanEnv()
	out, err := initCmd.CombinedOutput()
	_, signing, ok := strings.Cut(string(out), "signing keys created in the store: ")
	signing, _, _ = strings.Cut(signing, " ")
	if err != nil || !ok {
		t.Fatalf("mint init --store: %v\n%s", err, out)
	}
	a := startMint(t, options{mode: "server", dataDir: dir, store: url, extra: []string{"--print-admin-secret"}})
	b := startMint(t, options{mode: "server", store: url})
	jwksKIDs := func(m *mint) []string {
		_, body := m.get("/common/discovery/v2.0/keys")
		var set struct{ Keys []struct{ Kid string } }
		if err := json.Unmarshal(body, &set); err != nil {
			t.Fatalf("JWKS: %v %s", err, body)
		}
		var kids []string
		for _, k := range set.Keys {
			kids = append(kids, k.Kid)
		}
		sort.Strings(kids)
		return kids
	}
	if ka, kb := jwksKIDs(a), jwksKIDs(b); len(ka) != 2 || !slices.Equal(ka, kb) || !slices.Contains(ka, signing) {
		t.Fatalf("after mint init (%s signs): server A publishes %v, B %v; want the two keys mint init created", signing, ka, kb)
	}
	// --print-admin-secret wrote A's client environment to its data dir; B's is the same
	// credential at B's URL.
	if a.Env["AZURE_CLIENT_SECRET"] == "" || a.Env["MINT_ENDPOINT"] != a.URL || a.Env["MINT_CA_FILE"] == "" {
		t.Fatalf("server A wrote no complete client environment: %v\n%s", a.Env, a.log.String())
	}
	if fi, err := os.Stat(filepath.Join(a.dataDir, "env")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("env file: %v, mode %v; want 0600", err, fi.Mode())
	}
	b.Env = map[string]string{}
	for k, v := range a.Env {
		b.Env[k] = v
	}
	b.Env["AZURE_AUTHORITY_HOST"], b.Env["MINT_ENDPOINT"] = b.URL, b.URL
	writeEnv(t, b)

	// An app created through A authenticates through B, and B's tokens verify with A's JWKS.
	var app struct{ AppID string }
	mustJSON(t, a.mustCLI("ad", "app", "create", "--display-name", "shared"), &app)
	var reset struct{ Password string }
	mustJSON(t, a.mustCLI("ad", "app", "credential", "reset", "--id", app.AppID), &reset)
	tok := getToken(t, b.secretCredential(t, app.AppID, reset.Password), "https://vault.azure.net/.default")
	claims, _ := a.verify(t, tok.Token)
	if claims["appid"] != app.AppID {
		t.Errorf("appid = %v", claims["appid"])
	}
}

// writeEnv writes an env file for a `mint server` instance so the CLI can sign in to it.
func writeEnv(t *testing.T, m *mint) {
	var b strings.Builder
	for k, v := range m.Env {
		fmt.Fprintf(&b, "export %s=%s\n", k, v)
	}
	if err := os.WriteFile(filepath.Join(m.dataDir, "env"), []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestDevWritesClientEnvironment(t *testing.T) {
	m := startMint(t, options{})
	for _, k := range []string{"AZURE_TENANT_ID", "AZURE_SUBSCRIPTION_ID", "AZURE_CLIENT_ID", "AZURE_CLIENT_SECRET", "AZURE_AUTHORITY_HOST",
		"MINT_ENDPOINT", "MINT_CA_FILE", "SSL_CERT_FILE", "NODE_EXTRA_CA_CERTS", "REQUESTS_CA_BUNDLE"} {
		if m.Env[k] == "" {
			t.Errorf("env file lacks %s", k)
		}
	}
	bundle, err := os.ReadFile(m.Env["SSL_CERT_FILE"])
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := os.ReadFile(m.Env["MINT_CA_FILE"])
	if !strings.Contains(string(bundle), strings.TrimSpace(string(ca))) {
		t.Error("the CA bundle does not hold mint's CA")
	}
	if fi, _ := os.Stat(filepath.Join(m.dataDir, "env")); fi.Mode().Perm() != 0o600 {
		t.Errorf("env file mode %v, want 0600", fi.Mode().Perm())
	}
	// The secret is nowhere in the store or the logs.
	if db, err := os.ReadFile(filepath.Join(m.dataDir, "mint.db")); err == nil && strings.Contains(string(db), m.Env["AZURE_CLIENT_SECRET"]) {
		t.Error("the SQLite file holds the admin secret in clear")
	}
	for _, line := range strings.Split(m.log.String(), "\n") {
		if strings.Contains(line, "level=") && strings.Contains(line, m.Env["AZURE_CLIENT_SECRET"]) {
			t.Errorf("a log line shows the admin secret: %s", line)
		}
	}
}

func mustJSON(t *testing.T, s string, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(s), v); err != nil {
		t.Fatalf("decode %q: %v", s, err)
	}
}

// waitFor polls f for up to 10 s until it reports done.
func waitFor(t *testing.T, f func() (string, bool)) string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		out, ok := f()
		if ok {
			return out
		}
		if time.Now().After(deadline) {
			t.Fatalf("condition not met within 10 s; last: %s", out)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// newCertificate makes a self-signed RSA certificate like one an app would register, and writes
// its PEM to a file.
func newCertificate(t *testing.T) ([]*x509.Certificate, *rsa.PrivateKey, string) {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: "e2e app"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	path := filepath.Join(t.TempDir(), "cert.pem")
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return []*x509.Certificate{cert}, key, path
}
