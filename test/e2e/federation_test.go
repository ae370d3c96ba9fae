package e2e

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/go-jose/go-jose/v4"
)

// oidcIssuer is the test's own OpenID Connect issuer on 127.0.0.1, as a Kubernetes cluster's
// service-account issuer would be: a discovery document and a JWKS, and tokens signed with its key.
type oidcIssuer struct {
	srv *httptest.Server
	key *rsa.PrivateKey
	kid string
}

func startOIDCIssuer(t *testing.T) *oidcIssuer {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	is := &oidcIssuer{key: key, kid: "sa-key-1"}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"issuer": is.srv.URL, "jwks_uri": is.srv.URL + "/openid/v1/jwks",
			"response_types_supported": []string{"id_token"}, "subject_types_supported": []string{"public"},
			"id_token_signing_alg_values_supported": []string{"RS256"}})
	})
	mux.HandleFunc("GET /openid/v1/jwks", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/jwk-set+json")
		json.NewEncoder(w).Encode(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &is.key.PublicKey, KeyID: is.kid, Use: "sig", Algorithm: "RS256"}}})
	})
	is.srv = httptest.NewServer(mux)
	t.Cleanup(is.srv.Close)
	return is
}

// token is a projected service-account token for subject.
func (is *oidcIssuer) token(t *testing.T, subject string) string {
	t.Helper()
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: is.key}, (&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", is.kid))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	payload, _ := json.Marshal(map[string]any{"iss": is.srv.URL, "sub": subject, "aud": []string{"api://AzureADTokenExchange"},
		"iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(time.Hour).Unix(),
		"kubernetes.io": map[string]any{"namespace": "ns", "serviceaccount": map[string]any{"name": "app"}}})
	jws, err := signer.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := jws.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// workloadCredential is the real WorkloadIdentityCredential pointed at mint, as a pod's
// DefaultAzureCredential would build it from AZURE_* variables.
func (m *mint) workloadCredential(t *testing.T, clientID, tokenFile string) *azidentity.WorkloadIdentityCredential {
	t.Helper()
	cred, err := azidentity.NewWorkloadIdentityCredential(&azidentity.WorkloadIdentityCredentialOptions{
		ClientID: clientID, TenantID: m.Env["AZURE_TENANT_ID"], TokenFilePath: tokenFile,
		ClientOptions: m.clientOptions(), DisableInstanceDiscovery: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	return cred
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

func ficMirid(id string) string {
	return strings.Replace(id, "/resourceGroups/", "/resourcegroups/", 1)
}

// checkIdentityToken checks the claims of a managed-identity token issued through federation.
func checkIdentityToken(t *testing.T, m *mint, token string, identityID, clientID, principalID string) {
	t.Helper()
	claims, _ := m.verify(t, token)
	want := map[string]any{"aud": "https://vault.azure.net", "appid": clientID, "oid": principalID, "sub": principalID,
		"appidacr": "2", "idtyp": "app", "tid": m.Env["AZURE_TENANT_ID"], "ver": "1.0", "xms_mirid": ficMirid(identityID)}
	for k, v := range want {
		if fmt.Sprint(claims[k]) != v {
			t.Errorf("claim %s = %v, want %v", k, claims[k], v)
		}
	}
	if claims["xms_az_rid"] != nil {
		t.Errorf("a federated token carries xms_az_rid %v", claims["xms_az_rid"])
	}
}

func TestWorkloadIdentityFederation(t *testing.T) {
	for _, sk := range stores(t) {
		t.Run(sk.name, func(t *testing.T) {
			m := startMint(t, options{store: sk.url(t)})
			issuer := startOIDCIssuer(t)
			const subject = "system:serviceaccount:ns:app"

			m.mustCLI("group", "create", "-n", "fed", "-l", "eastus")
			var id struct{ ID, ClientID, PrincipalID string }
			mustJSON(t, m.mustCLI("identity", "create", "-g", "fed", "-n", "k8s-id"), &id)
			var fic struct{ Issuer, Subject string }
			mustJSON(t, m.mustCLI("identity", "federated-credential", "create", "-g", "fed", "--identity-name", "k8s-id", "-n", "kubernetes",
				"--issuer", issuer.srv.URL, "--subject", subject, "--audiences", "api://AzureADTokenExchange"), &fic)
			if fic.Issuer != issuer.srv.URL || fic.Subject != subject {
				t.Fatalf("credential = %+v", fic)
			}

			// The token file as kubelet writes it, trailing newline included: the client sends it raw.
			dir := t.TempDir()
			tokenFile := filepath.Join(dir, "token")
			writeFile(t, tokenFile, issuer.token(t, subject)+"\n")
			tok := getToken(t, m.workloadCredential(t, id.ClientID, tokenFile), "https://vault.azure.net/.default")
			checkIdentityToken(t, m, tok.Token, id.ID, id.ClientID, id.PrincipalID)

			// Another service account's token matches no credential: AADSTS70021 names the subject.
			otherFile := filepath.Join(dir, "other")
			writeFile(t, otherFile, issuer.token(t, "system:serviceaccount:ns:other"))
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			_, err := m.workloadCredential(t, id.ClientID, otherFile).GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{"https://vault.azure.net/.default"}})
			if err == nil {
				t.Fatal("a token for another subject was exchanged")
			}
			for _, s := range []string{"AADSTS70021", "No matching federated identity record found for presented assertion.",
				"Assertion Subject: 'system:serviceaccount:ns:other'.", "Subject mismatch: the credential expects '" + subject + "'"} {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error lacks %q:\n%v", s, err)
				}
			}
			// A flexible credential (the preview api-version's claimsMatchingExpression) trusts every
			// service account of the namespace, "other" included.
			m.mustCLI("identity", "federated-credential", "create", "-g", "fed", "--identity-name", "k8s-id", "-n", "namespace",
				"--issuer", issuer.srv.URL, "--claims-matching-expression", "claims['sub'] matches 'system:serviceaccount:ns:*'")
			tok = getToken(t, m.workloadCredential(t, id.ClientID, otherFile), "https://vault.azure.net/.default")
			checkIdentityToken(t, m, tok.Token, id.ID, id.ClientID, id.PrincipalID)

			// Both sign-ins are in the (batched) sign-in log, the refusal with mint's reason.
			waitFor(t, func() (string, bool) {
				out := m.mustCLI("signin-log", "list", "--top", "20")
				return out, strings.Count(out, `"grantType": "federated"`) >= 2 && strings.Contains(out, "70021") && strings.Contains(out, "Subject mismatch")
			})
		})
	}
}

// TestMintRunFederatedTokenFile: mint is the issuer. `mint run --federated-token-file` gives the
// program a token about its resource, and a federated credential on the identity trusts it.
func TestMintRunFederatedTokenFile(t *testing.T) {
	m := startMint(t, options{})
	m.mustCLI("group", "create", "-n", "fed", "-l", "eastus")
	var id struct{ ID, ClientID, PrincipalID string }
	mustJSON(t, m.mustCLI("identity", "create", "-g", "fed", "-n", "run-id"), &id)
	var app struct{ ID string }
	mustJSON(t, m.mustCLI("resource", "create", "--type", "Microsoft.App/containerApps", "-g", "fed", "-n", "web"), &app)
	mintIssuer := "https://login.microsoftonline.com/" + m.Env["AZURE_TENANT_ID"] + "/v2.0" // Entra's v2 issuer, as mint's tokens carry it
	m.mustCLI("identity", "federated-credential", "create", "-g", "fed", "--identity-name", "run-id", "-n", "mint-run",
		"--issuer", mintIssuer, "--subject", "mint:resource:"+app.ID)

	// The program copies its token file and shows its environment, then exits. mint run is given
	// the agent's socket and nothing else: no data directory, no credential of the caller's. The
	// agent obtains the token as the node.
	dir := t.TempDir()
	tokenFile, copied := filepath.Join(dir, "run", "token"), filepath.Join(dir, "copied")
	run := exec.Command(mintBin, "run", "--socket", m.Env["MINT_AGENT_SOCKET"], "--resource", app.ID, "--federated-token-file", tokenFile, "--client-id", id.ClientID,
		"--", "sh", "-c", `cp "$AZURE_FEDERATED_TOKEN_FILE" `+copied+` && env`)
	run.Env = cleanEnv()
	outBytes, err := run.Output()
	if err != nil {
		t.Fatalf("mint run with only the agent socket: %v", err)
	}
	out := string(outBytes)
	env := map[string]string{}
	for _, line := range strings.Split(out, "\n") {
		if k, v, ok := strings.Cut(line, "="); ok {
			env[k] = v
		}
	}
	for k, v := range map[string]string{"AZURE_FEDERATED_TOKEN_FILE": tokenFile, "AZURE_CLIENT_ID": id.ClientID,
		"AZURE_TENANT_ID": m.Env["AZURE_TENANT_ID"], "AZURE_AUTHORITY_HOST": strings.TrimSuffix(m.Env["AZURE_AUTHORITY_HOST"], "/")} {
		if env[k] != v {
			t.Errorf("program's %s = %q, want %q", k, env[k], v)
		}
	}
	if _, leaked := env["AZURE_CLIENT_SECRET"]; leaked {
		t.Error("the program inherited AZURE_CLIENT_SECRET")
	}
	if _, err := os.Stat(tokenFile); !os.IsNotExist(err) {
		t.Errorf("the token file outlived the program: %v", err)
	}

	raw, err := os.ReadFile(copied)
	if err != nil {
		t.Fatal(err)
	}
	claims, _ := m.verify(t, string(raw))
	if claims["iss"] != mintIssuer || claims["sub"] != "mint:resource:"+app.ID || claims["aud"] != "api://AzureADTokenExchange" {
		t.Errorf("workload token claims %v", claims)
	}
	if life := claims["exp"].(float64) - claims["iat"].(float64); life != 3600 {
		t.Errorf("workload token lives %v s, want 3600", life)
	}
	tok := getToken(t, m.workloadCredential(t, id.ClientID, copied), "https://vault.azure.net/.default")
	checkIdentityToken(t, m, tok.Token, id.ID, id.ClientID, id.PrincipalID)

	// Without --client-id the run is refused before the program starts.
	if _, err := m.cli("run", "--socket", m.Env["MINT_AGENT_SOCKET"], "--resource", app.ID, "--federated-token-file", tokenFile, "--", "true"); err == nil ||
		!strings.Contains(err.Error(), "--client-id is required") {
		t.Errorf("run without --client-id: %v", err)
	}
}

var _ azcore.TokenCredential = (*azidentity.WorkloadIdentityCredential)(nil)
