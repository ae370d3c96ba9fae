package e2e

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/resources/armresources"
)

// TestApplicationFederatedCredentials: an application registration (not a managed identity)
// trusts a CI system's tokens through a Graph federatedIdentityCredential, as a GitHub Actions
// deployment does with Entra. The real WorkloadIdentityCredential exchanges the CI token for an
// application token, and the real armresources client uses it under the application's role.
func TestApplicationFederatedCredentials(t *testing.T) {
	for _, sk := range stores(t) {
		t.Run(sk.name, func(t *testing.T) {
			m := startMint(t, options{store: sk.url(t)})
			ci := startOIDCIssuer(t)
			const subject = "repo:contoso/web:environment:production"

			var app struct{ AppID, ID string }
			mustJSON(t, m.mustCLI("ad", "app", "create", "--display-name", "deployer"), &app)
			var fic struct{ ID, Name, Issuer, Subject string }
			mustJSON(t, m.mustCLI("ad", "app", "federated-credential", "create", "--id", app.AppID, "-n", "github-production",
				"--issuer", ci.srv.URL, "--subject", subject, "--description", "deploys production"), &fic)
			if fic.Name != "github-production" || fic.Issuer != ci.srv.URL || fic.Subject != subject || fic.ID == "" {
				t.Fatalf("credential = %+v", fic)
			}

			// Bad input: each refused by Graph with a 400 naming the rule, nothing stored.
			for _, bad := range []struct {
				args []string
				want string
			}{
				{[]string{"-n", "x", "--issuer", ci.srv.URL, "--subject", "s"}, "Federated Identity Credential name 'x' is invalid."},
				{[]string{"-n", "relative", "--issuer", "ci.example", "--subject", "s"}, "It must be an absolute https or http URL."},
				{[]string{"-n", "two-audiences", "--issuer", ci.srv.URL, "--subject", "s", "--audiences", "a,b"}, "exactly one audience"},
				{[]string{"-n", "again", "--issuer", ci.srv.URL, "--subject", subject}, "already has a federated identity credential with this name, or with this issuer and subject"},
				{[]string{"-n", "GitHub-Production", "--issuer", ci.srv.URL, "--subject", "other"}, "already has a federated identity credential with this name"},
			} {
				_, err := m.cli(append([]string{"ad", "app", "federated-credential", "create", "--id", app.AppID}, bad.args...)...)
				if err == nil || !strings.Contains(err.Error(), bad.want) || !strings.Contains(err.Error(), "Request_BadRequest") {
					t.Errorf("create %v: %v, want Request_BadRequest saying %q", bad.args, err, bad.want)
				}
			}
			// And what the CLI cannot send, straight to Graph: Graph's error shape, never a 5xx.
			ficPath := "/v1.0/applications/" + app.ID + "/federatedIdentityCredentials"
			for _, bad := range []struct {
				method, path string
				body         any
				status       int
				want         string
			}{
				{"POST", ficPath, `{"name":`, 400, "Unable to read JSON request payload"},
				{"POST", ficPath, map[string]any{"issuer": ci.srv.URL, "subject": "s", "audiences": []string{"a"}}, 400, "The 'name' property is required."},
				{"POST", ficPath, map[string]any{"name": "no-subject", "issuer": ci.srv.URL, "audiences": []string{"a"}}, 400, "The 'subject' property is required."},
				{"POST", ficPath, map[string]any{"name": "long", "issuer": ci.srv.URL, "subject": strings.Repeat("s", 601), "audiences": []string{"a"}}, 400, "at most 600"},
				{"PATCH", ficPath + "/github-production", map[string]any{"name": "renamed"}, 400, "cannot be changed"},
				{"PATCH", ficPath + "/github-production", map[string]any{"audiences": []string{}}, 400, "exactly one audience"},
				{"GET", ficPath + "/missing", nil, 404, "does not exist on application"},
				{"GET", ficPath + "(name='github-production'", nil, 400, "Resource not found for the segment"},
				{"GET", ficPath + "/github-production/extra", nil, 400, "Resource not found for the segment 'extra'"},
				{"PUT", ficPath, `{}`, 405, "not supported"},
				{"GET", "/v1.0/applications/" + app.ID + "/passwordCredentials/x", nil, 400, "Resource not found for the segment"},
			} {
				status, body := m.apiDo(t, m.adminCredential(t), graphScopeE2E, bad.method, bad.path, bad.body)
				if status != bad.status || !strings.Contains(rmStr(body, "error.message"), bad.want) || rmErrCode(body) == "" {
					t.Errorf("%s %s: %d %v, want %d with a message saying %q", bad.method, bad.path, status, body, bad.status, bad.want)
				}
			}
			status, body := m.apiDo(t, m.adminCredential(t), graphScopeE2E, "GET", ficPath+"(name='github-production')", nil)
			if status != 200 || rmStr(body, "id") != fic.ID {
				t.Errorf("GET by (name='...'): %d %v", status, body)
			}

			var listed []struct{ Name string }
			mustJSON(t, m.mustCLI("ad", "app", "federated-credential", "list", "--id", app.AppID), &listed)
			if len(listed) != 1 || listed[0].Name != "github-production" {
				t.Fatalf("credentials after refused creates: %+v", listed)
			}
			var shown struct{ ID string }
			mustJSON(t, m.mustCLI("ad", "app", "federated-credential", "show", "--id", app.AppID, "--federated-credential-id", "github-production"), &shown)
			if shown.ID != fic.ID {
				t.Errorf("show by name = %+v, want id %s", shown, fic.ID)
			}

			// The CI job's token, exchanged by the real WorkloadIdentityCredential.
			dir := t.TempDir()
			tokenFile := filepath.Join(dir, "token")
			writeFile(t, tokenFile, ci.token(t, subject))
			cred := m.workloadCredential(t, app.AppID, tokenFile)
			tok := getToken(t, cred, "https://management.azure.com/.default")
			claims, _ := m.verify(t, tok.Token)
			for k, v := range map[string]string{"aud": "https://management.azure.com", "appid": app.AppID, "oid": app.ID, "idtyp": "app",
				"appidacr": "2", "tid": m.Env["AZURE_TENANT_ID"]} {
				if fmt.Sprint(claims[k]) != v {
					t.Errorf("claim %s = %v, want %v", k, claims[k], v)
				}
			}
			if claims["xms_mirid"] != nil {
				t.Errorf("an application token carries xms_mirid %v", claims["xms_mirid"])
			}

			// The token works at the control plane under the application's own role, and only so.
			sub := m.Env["AZURE_SUBSCRIPTION_ID"]
			m.mustCLI("group", "create", "-n", "web", "-l", "eastus")
			groups, err := armresources.NewResourceGroupsClient(sub, cred, m.rmOptions())
			if err != nil {
				t.Fatal(err)
			}
			ctx := rmCtx(t)
			if _, err := groups.Get(ctx, "web", nil); err == nil || !strings.Contains(err.Error(), "AuthorizationFailed") {
				t.Fatalf("without a role: %v, want AuthorizationFailed", err)
			}
			m.mustCLI("role", "assignment", "create", "--assignee", app.AppID, "--role", "Contributor", "--scope", "/subscriptions/"+sub+"/resourceGroups/web")
			if _, err := groups.CreateOrUpdate(ctx, "web", armresources.ResourceGroup{Location: to.Ptr("eastus"), Tags: map[string]*string{"deployed-by": to.Ptr("ci")}}, nil); err != nil {
				t.Fatalf("deploy with the federated application token: %v", err)
			}

			// Another branch's token matches no credential; after the credential is deleted, nothing does.
			otherFile := filepath.Join(dir, "other")
			writeFile(t, otherFile, ci.token(t, "repo:contoso/web:ref:refs/heads/feature"))
			refused := func(file string, want ...string) {
				t.Helper()
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				defer cancel()
				_, err := m.workloadCredential(t, app.AppID, file).GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{"https://management.azure.com/.default"}})
				if err == nil {
					t.Fatalf("token from %s exchanged", file)
				}
				for _, s := range append([]string{"AADSTS70021", "No matching federated identity record found for presented assertion."}, want...) {
					if !strings.Contains(err.Error(), s) {
						t.Errorf("error lacks %q:\n%v", s, err)
					}
				}
			}
			refused(otherFile, "Credentials of application '"+app.AppID+"'", "Subject mismatch: the credential expects '"+subject+"'",
				"mint ad app federated-credential create --id "+app.AppID)
			// A flexible credential trusts every branch of the repository; not another repository.
			var flex struct{ ID string }
			mustJSON(t, m.mustCLI("ad", "app", "federated-credential", "create", "--id", app.AppID, "-n", "github-branches",
				"--issuer", ci.srv.URL, "--claims-matching-expression", "claims['sub'] matches 'repo:contoso/web:ref:refs/heads/*'"), &flex)
			if tok := getToken(t, m.workloadCredential(t, app.AppID, otherFile), "https://management.azure.com/.default"); tok.Token == "" {
				t.Fatal("no token through the flexible credential")
			}
			forkFile := filepath.Join(dir, "fork")
			writeFile(t, forkFile, ci.token(t, "repo:mallory/web:ref:refs/heads/main"))
			refused(forkFile, "'github-branches' (claims mismatch: the assertion's sub is 'repo:mallory/web:ref:refs/heads/main', which fails claims['sub'] matches 'repo:contoso/web:ref:refs/heads/*')")
			if _, err := m.cli("ad", "app", "federated-credential", "create", "--id", app.AppID, "-n", "bad-expression",
				"--issuer", ci.srv.URL, "--claims-matching-expression", "sub matches '*'"); err == nil || !strings.Contains(err.Error(), "must start with claims['<claim name>']") {
				t.Errorf("malformed expression: %v", err)
			}

			for _, id := range []string{fic.ID, flex.ID} {
				m.mustCLI("ad", "app", "federated-credential", "delete", "--id", app.AppID, "--federated-credential-id", id)
			}
			refused(tokenFile, "application '"+app.AppID+"' has no federated identity credentials.")
		})
	}
}
