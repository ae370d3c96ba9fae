package e2e

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/chromedp/chromedp"
	"github.com/google/uuid"
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
			// Graph knows the person: a delegated token for graph.microsoft.com from the same
			// refresh token.
			var me struct{ ID, UserPrincipalName string }
			mustAz(t, env, az, &me, "ad", "signed-in-user", "show", "-o", "json")
			if me.ID != dev.ObjectID || me.UserPrincipalName != dev.UserPrincipalName {
				t.Errorf("az ad signed-in-user show: %+v", me)
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
			// The developer, Owner of the subscription, grants itself a data role (az role
			// assignment cannot run in Debian's az, see azcli_test.go: az rest sends the same PUT).
			assignment := "https://management.azure.com" + vault.ID + "/providers/Microsoft.Authorization/roleAssignments/" + uuid.NewString() + "?api-version=2022-04-01"
			mustAz(t, env, az, nil, "rest", "--method", "put", "--url", assignment, "--body", `{"properties":{"roleDefinitionId":"/subscriptions/`+sub+
				`/providers/Microsoft.Authorization/roleDefinitions/b86a8fe4-44ce-4948-aee5-eccb2c155cd7","principalId":"`+dev.ObjectID+`","principalType":"User"}}`)
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

// upOptions point a user credential at mint's own host (AZURE_AUTHORITY_HOST); MSAL's instance
// discovery would ask login.microsoftonline.com, as it does for any custom authority.
func upOptions(m *mint) *azidentity.UsernamePasswordCredentialOptions {
	return &azidentity.UsernamePasswordCredentialOptions{DisableInstanceDiscovery: true,
		ClientOptions: azcore.ClientOptions{Cloud: cloud.Configuration{ActiveDirectoryAuthorityHost: m.Env["AZURE_AUTHORITY_HOST"]}}}
}

func TestPersonSignsInWithSDKUsernamePassword(t *testing.T) {
	m := startMint(t, options{})
	dev := readDeveloper(t, m)
	tenant := m.Env["AZURE_TENANT_ID"]

	// azidentity (MSAL Go): /common/UserRealm/{upn} on mint's own host and port, then ROPC.
	//lint:ignore SA1019 UsernamePasswordCredential is deprecated in Azure, still used and supported
	cred, err := azidentity.NewUsernamePasswordCredential(tenant, azureCLIClientID, dev.UserPrincipalName, dev.Password,
		upOptions(m))
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
		upOptions(m))
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

// deviceCodeRe finds the code in the device-code message every client prints.
var deviceCodeRe = regexp.MustCompile(`open the page (\S+) and enter the code (\S+) to authenticate`)

// approveDeviceCode types a device code into mint's verification page, signs in and approves.
// With signedIn, the browser already has a session: the person picks the account instead.
func approveDeviceCode(t *testing.T, browser context.Context, page, code string, dev developer, signedIn bool) {
	t.Helper()
	browse(t, browser, "open "+page, chromedp.Navigate(page), chromedp.WaitVisible("", byRole("textbox", "Code")))
	auditA11y(t, browser, "sts-device-code")
	browse(t, browser, "enter the code", chromedp.SendKeys("", code, byRole("textbox", "Code")),
		chromedp.Click("", byRole("button", "Next")))
	if signedIn {
		account := byRole("button", "mint developer ("+dev.UserPrincipalName+")")
		browse(t, browser, "the account picker", chromedp.WaitVisible("", account))
		auditA11y(t, browser, "sts-account-picker")
		browse(t, browser, "pick the signed-in account", chromedp.Click("", account))
	} else {
		signInOnPage(t, browser, dev.UserPrincipalName, dev.Password)
	}
	browse(t, browser, "the device code's confirmation", chromedp.WaitVisible("", byRole("button", "Continue")))
	auditA11y(t, browser, "sts-device-code-confirm")
	browse(t, browser, "approve the device code",
		chromedp.Click("", byRole("button", "Continue")),
		chromedp.WaitVisible("", byRole("heading", "Microsoft Azure CLI")))
	auditA11y(t, browser, "sts-device-code-done")
}

// lineWatcher collects a process's output and reports the first match of re.
type lineWatcher struct {
	lockedBuffer
	re    *regexp.Regexp
	found chan []string
	once  sync.Once
}

func (l *lineWatcher) Write(p []byte) (int, error) {
	n, err := l.lockedBuffer.Write(p)
	if m := l.re.FindStringSubmatch(l.String()); m != nil {
		l.once.Do(func() { l.found <- m })
	}
	return n, err
}

func TestPersonSignsInWithAzureCLIDeviceCode(t *testing.T) {
	az := needAz(t)
	m := startMint(t, options{})
	dev := readDeveloper(t, m)
	env := append(m.printedEnv(t, "HTTPS_PROXY", "HTTP_PROXY", "NO_PROXY", "REQUESTS_CA_BUNDLE", "SSL_CERT_FILE"), azConfigDir(t))
	browser := newBrowser(t, "")

	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, az, "login", "--use-device-code", "-o", "json")
	cmd.Env = env
	var stdout bytes.Buffer
	stderr := &lineWatcher{re: deviceCodeRe, found: make(chan []string, 1)}
	cmd.Stdout, cmd.Stderr = &stdout, stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var m2 []string
	select {
	case m2 = <-stderr.found:
	case <-ctx.Done():
		t.Fatalf("az printed no device code:\n%s", stderr.String())
	}
	approveDeviceCode(t, browser, m2[1], m2[2], dev, false)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("az login --use-device-code: %v\n%s", err, stderr.String())
	}
	var accounts []azAccount
	if err := json.Unmarshal(stdout.Bytes(), &accounts); err != nil || len(accounts) != 1 || accounts[0].User.Name != dev.UserPrincipalName ||
		accounts[0].ID != m.Env["AZURE_SUBSCRIPTION_ID"] {
		t.Fatalf("az login --use-device-code printed %s (%v)", stdout.String(), err)
	}
	var at struct{ AccessToken string }
	mustAz(t, env, az, &at, "account", "get-access-token", "--resource", "https://vault.azure.net", "-o", "json")
	if c := jwtClaims(t, at.AccessToken); c["oid"] != dev.ObjectID {
		t.Errorf("token after device code: %v", c)
	}
}

func TestPersonSignsInWithAzureCLIBrowser(t *testing.T) {
	az := needAz(t)
	m := startMint(t, options{})
	dev := readDeveloper(t, m)
	openerDir, urls := browserOpener(t, "open-browser")
	env := append(m.printedEnv(t, "HTTPS_PROXY", "HTTP_PROXY", "NO_PROXY", "REQUESTS_CA_BUNDLE", "SSL_CERT_FILE"), azConfigDir(t),
		"BROWSER="+filepath.Join(openerDir, "open-browser"))
	browser := newBrowser(t, m.Env["HTTPS_PROXY"])

	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, az, "login", "-o", "json")
	cmd.Env = env
	var stdout, stderr lockedBuffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	authorize := nextURL(t, urls, "az login")
	if !strings.HasPrefix(authorize, "https://login.microsoftonline.com/organizations/oauth2/v2.0/authorize?") {
		t.Fatalf("az opened %s", authorize)
	}
	browse(t, browser, "open the authorize URL", chromedp.Navigate(authorize))
	signInOnPage(t, browser, dev.UserPrincipalName, dev.Password)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("az login (browser): %v\n%s", err, stderr.String())
	}
	var accounts []azAccount
	if err := json.Unmarshal([]byte(stdout.String()), &accounts); err != nil || len(accounts) != 1 || accounts[0].User.Name != dev.UserPrincipalName {
		t.Fatalf("az login printed %s (%v)\n%s", stdout.String(), err, stderr.String())
	}
	var at struct{ AccessToken string }
	mustAz(t, env, az, &at, "account", "get-access-token", "--resource", "https://vault.azure.net", "-o", "json")
	if c := jwtClaims(t, at.AccessToken); c["oid"] != dev.ObjectID {
		t.Errorf("token after browser sign-in: %v", c)
	}

	// The browser session is shared: a second az (another config dir) signs in with the account
	// picker, no password.
	env2 := append(slices.Clip(env[:len(env)-2]), azConfigDir(t), "BROWSER="+filepath.Join(openerDir, "open-browser"))
	cmd = exec.CommandContext(ctx, az, "login", "-o", "json")
	cmd.Env = env2
	stdout, stderr = lockedBuffer{}, lockedBuffer{}
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	browse(t, browser, "pick the signed-in account", chromedp.Navigate(nextURL(t, urls, "the second az login")),
		chromedp.Click("", byRole("button", "mint developer ("+dev.UserPrincipalName+")")))
	if err := cmd.Wait(); err != nil || !strings.Contains(stdout.String(), dev.UserPrincipalName) {
		t.Fatalf("second az login: %v\n%s\n%s", err, stdout.String(), stderr.String())
	}
}

func TestPersonSignsInWithSDKInteractiveCredentials(t *testing.T) {
	m := startMint(t, options{})
	dev := readDeveloper(t, m)
	browser := newBrowser(t, "")
	openerDir, urls := browserOpener(t, "xdg-open")
	t.Setenv("PATH", openerDir+string(os.PathListSeparator)+os.Getenv("PATH")) // azidentity opens the browser with xdg-open
	clientOptions := azcore.ClientOptions{Cloud: cloud.Configuration{ActiveDirectoryAuthorityHost: m.Env["AZURE_AUTHORITY_HOST"]}}
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()

	// InteractiveBrowserCredential: authorization code + PKCE, response_mode form_post to
	// MSAL Go's loopback listener.
	ibc, err := azidentity.NewInteractiveBrowserCredential(&azidentity.InteractiveBrowserCredentialOptions{
		ClientOptions: clientOptions, TenantID: m.Env["AZURE_TENANT_ID"], DisableInstanceDiscovery: true})
	if err != nil {
		t.Fatal(err)
	}
	done := getTokenAsync(ctx, ibc, "https://vault.azure.net/.default")
	authorize := nextURL(t, urls, "InteractiveBrowserCredential")
	browse(t, browser, "open the authorize URL", chromedp.Navigate(authorize))
	signInOnPage(t, browser, dev.UserPrincipalName, dev.Password)
	r := <-done
	if r.err != nil {
		t.Fatalf("InteractiveBrowserCredential: %v", r.err)
	}
	if c := jwtClaims(t, r.tok.Token); c["oid"] != dev.ObjectID || c["aud"] != "https://vault.azure.net" {
		t.Errorf("InteractiveBrowserCredential token %v", c)
	}

	// DeviceCodeCredential: its prompt callback hands the code to the browser, which is signed
	// in already (the session cookie of the sign-in above): the person picks the account.
	prompts := make(chan azidentity.DeviceCodeMessage, 1)
	dcc, err := azidentity.NewDeviceCodeCredential(&azidentity.DeviceCodeCredentialOptions{
		ClientOptions: clientOptions, TenantID: m.Env["AZURE_TENANT_ID"], DisableInstanceDiscovery: true,
		UserPrompt: func(ctx context.Context, msg azidentity.DeviceCodeMessage) error {
			prompts <- msg
			return nil
		}})
	if err != nil {
		t.Fatal(err)
	}
	done = getTokenAsync(ctx, dcc, "https://management.azure.com/.default")
	msg := devicePrompt(t, prompts, done)
	if !strings.Contains(msg.Message, msg.UserCode) || !strings.Contains(msg.Message, msg.VerificationURL) {
		t.Errorf("device code message %q", msg.Message)
	}
	approveDeviceCode(t, browser, msg.VerificationURL, msg.UserCode, dev, true)
	r = <-done
	if r.err != nil {
		t.Fatalf("DeviceCodeCredential: %v", r.err)
	}
	if c := jwtClaims(t, r.tok.Token); c["oid"] != dev.ObjectID || c["idtyp"] != "user" {
		t.Errorf("DeviceCodeCredential token %v", c)
	}
}

func TestJavaScriptSDKPersonSignIn(t *testing.T) {
	node, npm := needNode(t)
	installed := startJSClientInstall(t, npm)
	az := needAz(t)
	m := startMint(t, options{})
	dev := readDeveloper(t, m)
	browser := newBrowser(t, "")
	config := azConfigDir(t)
	azEnv := append(m.printedEnv(t, "HTTPS_PROXY", "HTTP_PROXY", "NO_PROXY", "REQUESTS_CA_BUNDLE", "SSL_CERT_FILE"), config)
	mustAz(t, azEnv, az, nil, "login", "-u", dev.UserPrincipalName, "-p", dev.Password, "-o", "none")
	dir := installed()

	// AzureCliCredential: the developer's az sign-in, nothing else.
	cliEnv := append(m.printedEnv(t, "HTTPS_PROXY", "HTTP_PROXY", "NO_PROXY", "NODE_EXTRA_CA_CERTS", "REQUESTS_CA_BUNDLE"), config)
	r := runJSClient(t, cliEnv, node, dir, "--credential", "cli", "--scope", "https://vault.azure.net/.default")
	if r.code != 0 || len(r.tokens) != 1 || r.tokens[0].Claims["oid"] != dev.ObjectID || r.tokens[0].Claims["aud"] != "https://vault.azure.net" {
		t.Fatalf("AzureCliCredential: %s", r)
	}

	// DeviceCodeCredential (msal-node): the code typed into mint's page; msal-node treats any
	// polling error but authorization_pending as fatal, so this fails if mint ever says slow_down.
	dcEnv := m.printedEnv(t, "HTTPS_PROXY", "HTTP_PROXY", "NO_PROXY", "NODE_EXTRA_CA_CERTS", "AZURE_TENANT_ID", "AZURE_AUTHORITY_HOST")
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, jsCommand(node, dir, "--credential", "devicecode", "--scope", "https://management.azure.com/.default")[1:]...)
	cmd.Env = dcEnv
	stdout := &lineWatcher{re: regexp.MustCompile(`"userCode":"([^"]+)","verificationUri":"([^"]+)"`), found: make(chan []string, 1)}
	var stderr lockedBuffer
	cmd.Stdout, cmd.Stderr = stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var code []string
	select {
	case code = <-stdout.found:
	case <-ctx.Done():
		t.Fatalf("DeviceCodeCredential printed no code:\n%s\n%s", stdout.String(), stderr.String())
	}
	approveDeviceCode(t, browser, code[2], code[1], dev, false)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("DeviceCodeCredential: %v\n%s\n%s", err, stdout.String(), stderr.String())
	}
	var tok jsEvent
	for _, line := range strings.Split(strings.TrimSpace(stdout.String()), "\n") {
		if err := json.Unmarshal([]byte(line), &tok); err == nil && tok.Event == "token" {
			break
		}
	}
	if tok.Event != "token" || tok.Claims["oid"] != dev.ObjectID || tok.Claims["idtyp"] != "user" {
		t.Fatalf("DeviceCodeCredential printed %s", stdout.String())
	}
}

func TestPersonRefusedAfterPasswordResetAndDisable(t *testing.T) {
	az := needAz(t)
	m := startMint(t, options{})
	dev := readDeveloper(t, m)
	env := append(m.printedEnv(t, "HTTPS_PROXY", "HTTP_PROXY", "NO_PROXY", "REQUESTS_CA_BUNDLE", "SSL_CERT_FILE"), azConfigDir(t))
	mustAz(t, env, az, nil, "login", "-u", dev.UserPrincipalName, "-p", dev.Password, "-o", "none")
	mustAz(t, env, az, nil, "account", "get-access-token", "--resource", "https://vault.azure.net", "-o", "none")

	// The developer (the directory's administrator) resets its own password through Graph; the
	// refresh tokens az holds are revoked with it.
	user := "https://graph.microsoft.com/v1.0/users/" + dev.ObjectID
	const newPassword = "N3w-Passw0rd!for-mint"
	mustAz(t, env, az, nil, "rest", "--method", "patch", "--url", user, "--body",
		`{"passwordProfile":{"password":"`+newPassword+`","forceChangePasswordNextSignIn":false}}`)
	r := runAz(t, env, az, "account", "get-access-token", "--resource", "https://storage.azure.com", "-o", "json")
	if r.code == 0 || !strings.Contains(r.stderr, "AADSTS50173") || !strings.Contains(r.stderr, "az login") {
		t.Fatalf("a refresh token after a password reset: exit %d\n%s", r.code, r.stderr)
	}
	// The old password is refused, the new one works.
	if r := runAz(t, env, az, "login", "-u", dev.UserPrincipalName, "-p", dev.Password, "-o", "none"); r.code == 0 || !strings.Contains(r.stderr, "AADSTS50126") {
		t.Fatalf("the old password: exit %d\n%s", r.code, r.stderr)
	}
	mustAz(t, env, az, nil, "login", "-u", dev.UserPrincipalName, "-p", newPassword, "-o", "none")

	// Disabled (by the admin application, through Graph): sign-in refused with AADSTS50057.
	admin := m.adminCredential(t)
	tok, err := admin.GetToken(context.Background(), policy.TokenRequestOptions{Scopes: []string{"https://graph.microsoft.com/.default"}})
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodPatch, m.URL+"/v1.0/users/"+dev.ObjectID, strings.NewReader(`{"accountEnabled":false}`))
	req.Header.Set("Authorization", "Bearer "+tok.Token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := httpClient().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("PATCH accountEnabled false: %d", resp.StatusCode)
	}
	if r := runAz(t, env, az, "login", "-u", dev.UserPrincipalName, "-p", newPassword, "-o", "none"); r.code == 0 || !strings.Contains(r.stderr, "AADSTS50057") {
		t.Fatalf("a disabled user: exit %d\n%s", r.code, r.stderr)
	}
}

func TestDeviceCodeAcrossTwoServers(t *testing.T) {
	if os.Getenv("MINT_TEST_POSTGRES_URL") == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("MINT_TEST_POSTGRES_URL is not set")
		}
		t.Skip("needs PostgreSQL: run through ./test.sh")
	}
	url := freshDatabase(t)
	a := startMint(t, options{mode: "server", store: url, extra: []string{"--print-admin-secret"}})
	b := startMint(t, options{mode: "server", store: url})
	vars := map[string]string{}
	for _, line := range strings.Split(a.log.String(), "\n") {
		// --print-admin-secret prints the client environment as the env file holds it ("export K=V").
		if k, v, ok := strings.Cut(strings.TrimPrefix(strings.TrimSpace(line), "export "), "="); ok && strings.HasPrefix(k, "AZURE_") {
			vars[k] = v
		}
	}
	for _, s := range []*mint{a, b} {
		s.Env = map[string]string{"AZURE_AUTHORITY_HOST": s.URL, "MINT_ENDPOINT": s.URL, "AZURE_TENANT_ID": vars["AZURE_TENANT_ID"],
			"AZURE_CLIENT_ID": vars["AZURE_CLIENT_ID"], "AZURE_CLIENT_SECRET": vars["AZURE_CLIENT_SECRET"]}
	}
	// A person, created through Graph at A by the admin application.
	admin := a.secretCredential(t, vars["AZURE_CLIENT_ID"], vars["AZURE_CLIENT_SECRET"])
	call := func(method, target string, scope string, body string) []byte {
		t.Helper()
		tok := getToken(t, admin, scope)
		req, _ := http.NewRequest(method, target, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+tok.Token)
		req.Header.Set("Content-Type", "application/json")
		resp, err := httpClient().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var buf bytes.Buffer
		buf.ReadFrom(resp.Body)
		if resp.StatusCode/100 != 2 {
			t.Fatalf("%s %s: %d %s", method, target, resp.StatusCode, buf.String())
		}
		return buf.Bytes()
	}
	var tenants struct {
		Value []struct{ DefaultDomain string }
	}
	json.Unmarshal(call("GET", a.URL+"/tenants?api-version=2020-01-01", "https://management.azure.com/.default", ""), &tenants)
	if len(tenants.Value) != 1 {
		t.Fatalf("tenants %+v", tenants)
	}
	person := developer{UserPrincipalName: "ada@" + tenants.Value[0].DefaultDomain, Password: "Shared-Servers-9!x"}
	var created struct{ ID string }
	json.Unmarshal(call("POST", a.URL+"/v1.0/users", "https://graph.microsoft.com/.default", `{"accountEnabled":true,"displayName":"mint developer",`+
		`"mailNickname":"ada","userPrincipalName":"`+person.UserPrincipalName+`","passwordProfile":{"password":"`+person.Password+`","forceChangePasswordNextSignIn":false}}`), &created)
	person.ObjectID = created.ID

	// DeviceCodeCredential asks B for the code and polls B; the person types it at A.
	prompts := make(chan azidentity.DeviceCodeMessage, 1)
	dcc, err := azidentity.NewDeviceCodeCredential(&azidentity.DeviceCodeCredentialOptions{
		ClientOptions: azcore.ClientOptions{Cloud: cloud.Configuration{ActiveDirectoryAuthorityHost: b.URL}},
		TenantID:      vars["AZURE_TENANT_ID"], DisableInstanceDiscovery: true,
		UserPrompt: func(ctx context.Context, msg azidentity.DeviceCodeMessage) error { prompts <- msg; return nil }})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	done := getTokenAsync(ctx, dcc, "https://vault.azure.net/.default")
	msg := devicePrompt(t, prompts, done)
	if !strings.HasPrefix(msg.VerificationURL, b.URL+"/") {
		t.Errorf("verification URL %s, want B's", msg.VerificationURL)
	}
	approveDeviceCode(t, newBrowser(t, ""), a.URL+"/devicelogin", msg.UserCode, person, false)
	r := <-done
	if r.err != nil {
		t.Fatalf("DeviceCodeCredential polling B after approval at A: %v", r.err)
	}
	if c := jwtClaims(t, r.tok.Token); c["oid"] != person.ObjectID {
		t.Errorf("token %v", c)
	}
}

// tokenResult is what a credential's GetToken returned.
type tokenResult struct {
	tok azcore.AccessToken
	err error
}

// getTokenAsync starts cred.GetToken for scope and returns where its result will arrive: the
// credential waits meanwhile for a browser or a person the test drives.
func getTokenAsync(ctx context.Context, cred azcore.TokenCredential, scope string) <-chan tokenResult {
	done := make(chan tokenResult, 1)
	go func() {
		tok, err := cred.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{scope}})
		done <- tokenResult{tok, err}
	}()
	return done
}

// devicePrompt waits for DeviceCodeCredential's prompt (its UserPrompt sends it on prompts),
// failing the test if GetToken ends (done) before it prompts.
func devicePrompt(t *testing.T, prompts <-chan azidentity.DeviceCodeMessage, done <-chan tokenResult) azidentity.DeviceCodeMessage {
	t.Helper()
	select {
	case msg := <-prompts:
		return msg
	case r := <-done:
		t.Fatalf("DeviceCodeCredential ended before prompting: %v", r.err)
	}
	return azidentity.DeviceCodeMessage{}
}
