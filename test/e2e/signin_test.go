package e2e

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
)

// People sign in at mint's STS with the real clients, unmodified: the Azure CLI (az login -u -p,
// --use-device-code, browser), azidentity's user credentials, azure-identity (Python) and
// @azure/identity (JS). mint dev's developer (developer.json, mode 0600) is the person.

// azureCLIClientID is the Azure CLI's first-party app id, also the default client of the Azure
// Identity libraries' user credentials.
const azureCLIClientID = "04b07795-8ddb-461a-bbee-02f9e1bf7b46"

type developer struct {
	UserPrincipalName, Password, ObjectID, TenantID string
}

// readDeveloper reads the developer's sign-in name and password that mint dev wrote.
func readDeveloper(t *testing.T, m *mint) developer {
	t.Helper()
	path := filepath.Join(m.dataDir, "developer.json")
	info, err := os.Stat(path)
	if err != nil {
		t.Fatalf("mint dev wrote no developer file: %v", err)
	}
	if info.Mode().Perm() != 0o600 {
		t.Errorf("%s has mode %v, want 0600", path, info.Mode().Perm())
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var d developer
	if err := json.Unmarshal(data, &d); err != nil || d.UserPrincipalName == "" || d.Password == "" || d.ObjectID == "" {
		t.Fatalf("developer file %s: %v", path, err)
	}
	return d
}

// jwtClaims decodes a token's claims without verifying it (the server under test verifies).
func jwtClaims(t *testing.T, tok string) map[string]any {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %.20q", tok)
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var c map[string]any
	if err := json.Unmarshal(raw, &c); err != nil {
		t.Fatal(err)
	}
	return c
}

func TestPersonSignsInWithAzureCLIPassword(t *testing.T) {
	az := needAz(t)
	for _, sk := range stores(t) {
		t.Run(sk.name, func(t *testing.T) {
			m := startMint(t, options{store: sk.url(t)})
			dev := readDeveloper(t, m)
			tenant, sub := m.Env["AZURE_TENANT_ID"], m.Env["AZURE_SUBSCRIPTION_ID"]
			env := append(m.printedEnv(t, "HTTPS_PROXY", "HTTP_PROXY", "NO_PROXY", "REQUESTS_CA_BUNDLE", "SSL_CERT_FILE"), azConfigDir(t))

			// A wrong password: Entra's AADSTS50126, and az says to log in.
			bad := runAz(t, env, az, "login", "-u", dev.UserPrincipalName, "-p", "not-the-password", "-o", "json")
			if bad.code == 0 || !strings.Contains(bad.stderr, "AADSTS50126") {
				t.Fatalf("az login with a wrong password: exit %d\n%s", bad.code, bad.stderr)
			}

			// openid-configuration, /common/userrealm (on :443 through the proxy), the password
			// grant at /organizations, then /tenants and /subscriptions with refresh tokens.
			var accounts []azAccount
			mustAz(t, env, az, &accounts, "login", "-u", dev.UserPrincipalName, "-p", dev.Password, "-o", "json")
			if len(accounts) != 1 || accounts[0].ID != sub || accounts[0].TenantID != tenant || accounts[0].User.Name != dev.UserPrincipalName || accounts[0].User.Type != "user" {
				t.Fatalf("az login -u -p: %+v", accounts)
			}
			var account azAccount
			mustAz(t, env, az, &account, "account", "show", "-o", "json")
			if account.ID != sub || account.User.Name != dev.UserPrincipalName {
				t.Errorf("az account show: %+v", account)
			}
			// One refresh token for another resource.
			var at struct{ AccessToken, Tenant string }
			mustAz(t, env, az, &at, "account", "get-access-token", "--resource", "https://vault.azure.net", "-o", "json")
			c := jwtClaims(t, at.AccessToken)
			if c["oid"] != dev.ObjectID || c["aud"] != "https://vault.azure.net" || c["idtyp"] != "user" || c["upn"] != dev.UserPrincipalName ||
				c["appid"] != azureCLIClientID || c["tid"] != tenant || at.Tenant != tenant {
				t.Errorf("az account get-access-token --resource https://vault.azure.net: %v", c)
			}
			// ARM knows the person: the developer owns the subscription and creates a group.
			var group struct{ ID string }
			mustAz(t, env, az, &group, "group", "create", "-n", "people", "-l", "eastus", "-o", "json")
			if group.ID != "/subscriptions/"+sub+"/resourceGroups/people" {
				t.Errorf("az group create as the developer: %+v", group)
			}

			// Your own credentials: an unmodified Go program with DefaultAzureCredential, no AZURE_*
			// credential in its environment, reads a secret through az (AzureCLICredential).
			vaultName := "kvdev" + strings.ReplaceAll(sk.name, "sql", "")[:3]
			var vault struct{ ID string }
			mustAz(t, env, az, &vault, "keyvault", "create", "-g", "people", "-n", vaultName, "-l", "eastus", "--enable-rbac-authorization", "true", "-o", "json")
			m.mustCLI("role", "assignment", "create", "--assignee", dev.ObjectID, "--role", "Key Vault Secrets Officer", "--scope", vault.ID)
			secretURL := "https://" + vaultName + ".vault.azure.net/secrets/db-password?api-version=7.4"
			mustAz(t, env, az, nil, "rest", "--method", "put", "--url", secretURL, "--resource", "https://vault.azure.net", "--body", `{"value":"`+readerSecret+`"}`)
			progEnv := append(slices.Clip(env), "AZURE_TOKEN_CREDENTIALS=dev")
			out := runProxyClient(t, progEnv, "-mode", "secret", "-credential", "default", "-vault", "https://"+vaultName+".vault.azure.net", "-name", "db-password")
			if out["value"] != readerSecret {
				t.Errorf("DefaultAzureCredential (AzureCLICredential) read %v", out)
			}
		})
	}
}

func TestPersonSignsInWithSDKUsernamePassword(t *testing.T) {
	m := startMint(t, options{})
	dev := readDeveloper(t, m)
	tenant := m.Env["AZURE_TENANT_ID"]

	// azidentity (MSAL Go): /common/UserRealm/{upn} on mint's own host and port, then ROPC.
	//lint:ignore SA1019 UsernamePasswordCredential is deprecated in Azure, still used and supported
	cred, err := azidentity.NewUsernamePasswordCredential(tenant, azureCLIClientID, dev.UserPrincipalName, dev.Password,
		&azidentity.UsernamePasswordCredentialOptions{ClientOptions: azcore.ClientOptions{Cloud: cloud.Configuration{ActiveDirectoryAuthorityHost: m.Env["AZURE_AUTHORITY_HOST"]}}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	tok, err := cred.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{"https://management.azure.com/.default"}})
	if err != nil {
		t.Fatalf("UsernamePasswordCredential: %v", err)
	}
	if c := jwtClaims(t, tok.Token); c["oid"] != dev.ObjectID || c["idtyp"] != "user" || c["scp"] != "user_impersonation" {
		t.Errorf("UsernamePasswordCredential token: %v", c)
	}
	// The cached account's refresh token serves another resource silently.
	tok, err = cred.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{"https://vault.azure.net/.default"}})
	if err != nil || jwtClaims(t, tok.Token)["aud"] != "https://vault.azure.net" {
		t.Fatalf("UsernamePasswordCredential for Key Vault: %v", err)
	}
	//lint:ignore SA1019 see above
	wrong, _ := azidentity.NewUsernamePasswordCredential(tenant, azureCLIClientID, dev.UserPrincipalName, "wrong",
		&azidentity.UsernamePasswordCredentialOptions{ClientOptions: azcore.ClientOptions{Cloud: cloud.Configuration{ActiveDirectoryAuthorityHost: m.Env["AZURE_AUTHORITY_HOST"]}}})
	if _, err := wrong.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{"https://vault.azure.net/.default"}}); err == nil || !strings.Contains(err.Error(), "AADSTS50126") {
		t.Errorf("a wrong password: %v", err)
	}

	// azure-identity (Debian's python3-azure) through mint's proxy: userrealm goes to the
	// authority's host on :443, which the proxy serves.
	py := exec.Command("/usr/bin/python3", "-c", `
import json, os, sys
from azure.identity import UsernamePasswordCredential
c = UsernamePasswordCredential("`+azureCLIClientID+`", os.environ["DEV_USER"], os.environ["DEV_PASSWORD"], tenant_id=os.environ["DEV_TENANT"])
t = c.get_token("https://vault.azure.net/.default")
print(json.dumps({"token": t.token, "expires_on": t.expires_on}))
`)
	py.Env = append(m.printedEnv(t, "HTTPS_PROXY", "HTTP_PROXY", "NO_PROXY", "REQUESTS_CA_BUNDLE"),
		"DEV_USER="+dev.UserPrincipalName, "DEV_PASSWORD="+dev.Password, "DEV_TENANT="+tenant)
	outb, err := py.CombinedOutput()
	if err != nil {
		t.Fatalf("python UsernamePasswordCredential: %v\n%s", err, outb)
	}
	var got struct{ Token string }
	if err := json.Unmarshal(outb[strings.LastIndexByte(strings.TrimSpace(string(outb)), '\n')+1:], &got); err != nil {
		t.Fatalf("python printed %s", outb)
	}
	if c := jwtClaims(t, got.Token); c["oid"] != dev.ObjectID || c["aud"] != "https://vault.azure.net" {
		t.Errorf("python token %v", c)
	}
}
