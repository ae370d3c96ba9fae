package e2e

import (
	"context"
	"encoding/json"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/chromedp/chromedp"
)

// An application of mint's directory as the client people sign in to, as in Entra: the
// developer registers it with az (public-client redirect URI http://localhost, public client
// flows allowed), then azidentity's InteractiveBrowserCredential and DeviceCodeCredential sign
// the developer in to it with its own client id, and so does MSAL Python's PublicClientApplication
// device flow; with public client flows turned off the device
// code is refused (AADSTS7000218), and a redirect URI it does not register gets the AADSTS50011
// page, never a redirect. A web redirect URI may have a query string while the app signs in
// work or school accounts only; az cannot then make it sign in personal accounts too.
func TestDirectoryAppSignsPeopleIn(t *testing.T) {
	az := needAz(t)
	browser := newBrowser(t, "")
	openerDir, urls := browserOpener(t, "xdg-open")
	t.Setenv("PATH", openerDir+string(os.PathListSeparator)+os.Getenv("PATH")) // azidentity opens the browser with xdg-open
	for _, sk := range stores(t) {
		t.Run(sk.name, func(t *testing.T) {
			m := startMint(t, options{store: sk.url(t)})
			dev := readDeveloper(t, m)
			tenant := m.Env["AZURE_TENANT_ID"]
			env := append(m.printedEnv(t, "HTTPS_PROXY", "HTTP_PROXY", "NO_PROXY", "REQUESTS_CA_BUNDLE", "SSL_CERT_FILE"), azConfigDir(t))
			mustAz(t, env, az, nil, "login", "-u", dev.UserPrincipalName, "-p", dev.Password, "-o", "none")

			// Registration through Graph, as az sends it.
			var app struct {
				AppID                  string
				IsFallbackPublicClient *bool
				PublicClient           struct{ RedirectURIs []string }
				Web                    struct{ RedirectURIs []string }
			}
			mustAz(t, env, az, &app, "ad", "app", "create", "--display-name", "desktop-tool-"+sk.name,
				"--public-client-redirect-uris", "http://localhost", "--is-fallback-public-client", "true", "-o", "json")
			if app.AppID == "" || len(app.PublicClient.RedirectURIs) != 1 || app.IsFallbackPublicClient == nil || !*app.IsFallbackPublicClient {
				t.Fatalf("az ad app create: %+v", app)
			}
			mustAz(t, env, az, nil, "ad", "app", "update", "--id", app.AppID, "--web-redirect-uris", "https://tool.example/signin-oidc")
			mustAz(t, env, az, &app, "ad", "app", "show", "--id", app.AppID, "-o", "json")
			if len(app.Web.RedirectURIs) != 1 || app.Web.RedirectURIs[0] != "https://tool.example/signin-oidc" || len(app.PublicClient.RedirectURIs) != 1 {
				t.Fatalf("az ad app show after update: %+v", app)
			}
			// Entra's registration rules: plain http only for loopback hosts.
			bad := runAz(t, env, az, "ad", "app", "update", "--id", app.AppID, "--web-redirect-uris", "http://tool.example/cb")
			if bad.code == 0 || !strings.Contains(bad.stderr, "web.redirectUris") {
				t.Errorf("az ad app update with an http redirect URI: exit %d\n%s", bad.code, bad.stderr)
			}
			// A query string: allowed while the app signs in work or school accounts only
			// (AzureADMyOrg, the default), refused once it would sign in personal accounts too.
			mustAz(t, env, az, nil, "ad", "app", "update", "--id", app.AppID, "--web-redirect-uris", "https://tool.example/signin-oidc?tenant=contoso")
			bad = runAz(t, env, az, "ad", "app", "update", "--id", app.AppID, "--sign-in-audience", "AzureADandPersonalMicrosoftAccount")
			if bad.code == 0 || !strings.Contains(bad.stderr, "query string") {
				t.Errorf("az ad app update --sign-in-audience AzureADandPersonalMicrosoftAccount with a query redirect URI: exit %d\n%s", bad.code, bad.stderr)
			}
			var audience struct {
				SignInAudience string
				Web            struct{ RedirectURIs []string }
			}
			mustAz(t, env, az, &audience, "ad", "app", "show", "--id", app.AppID, "-o", "json")
			if audience.SignInAudience != "AzureADMyOrg" || len(audience.Web.RedirectURIs) != 1 || audience.Web.RedirectURIs[0] != "https://tool.example/signin-oidc?tenant=contoso" {
				t.Errorf("az ad app show after the refused update: %+v", audience)
			}
			mustAz(t, env, az, nil, "ad", "app", "update", "--id", app.AppID, "--web-redirect-uris", "https://tool.example/signin-oidc")

			clientOptions := azcore.ClientOptions{Cloud: cloud.Configuration{ActiveDirectoryAuthorityHost: m.Env["AZURE_AUTHORITY_HOST"]}}
			ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
			defer cancel()

			// InteractiveBrowserCredential with the app's client id and a redirect URL on a port
			// of its own: the registered http://localhost matches any port.
			redirect := "http://localhost:" + freePort(t)
			ibc, err := azidentity.NewInteractiveBrowserCredential(&azidentity.InteractiveBrowserCredentialOptions{
				ClientOptions: clientOptions, TenantID: tenant, ClientID: app.AppID, RedirectURL: redirect, DisableInstanceDiscovery: true})
			if err != nil {
				t.Fatal(err)
			}
			done := getTokenAsync(ctx, ibc, "https://vault.azure.net/.default")
			authorize := nextURL(t, urls, "InteractiveBrowserCredential")
			if !strings.Contains(authorize, "client_id="+app.AppID) {
				t.Fatalf("InteractiveBrowserCredential opened %s", authorize)
			}
			browse(t, browser, "open the authorize URL", chromedp.Navigate(authorize))
			signInOnPage(t, browser, dev.UserPrincipalName, dev.Password)
			r := <-done
			if r.err != nil {
				t.Fatalf("InteractiveBrowserCredential with the app's client id: %v", r.err)
			}
			if c := jwtClaims(t, r.tok.Token); c["oid"] != dev.ObjectID || c["appid"] != app.AppID || c["appidacr"] != "0" || c["aud"] != "https://vault.azure.net" {
				t.Errorf("InteractiveBrowserCredential token %v", c)
			}

			// DeviceCodeCredential with the app's client id (public client flows allowed): the
			// browser, signed in already, picks the account and approves.
			prompts := make(chan azidentity.DeviceCodeMessage, 1)
			newDCC := func() *azidentity.DeviceCodeCredential {
				dcc, err := azidentity.NewDeviceCodeCredential(&azidentity.DeviceCodeCredentialOptions{
					ClientOptions: clientOptions, TenantID: tenant, ClientID: app.AppID, DisableInstanceDiscovery: true,
					UserPrompt: func(ctx context.Context, msg azidentity.DeviceCodeMessage) error {
						prompts <- msg
						return nil
					}})
				if err != nil {
					t.Fatal(err)
				}
				return dcc
			}
			done = getTokenAsync(ctx, newDCC(), "https://management.azure.com/.default")
			msg := devicePrompt(t, prompts, done)
			browse(t, browser, "enter the device code", chromedp.Navigate(msg.VerificationURL),
				chromedp.SendKeys("", msg.UserCode, byRole("textbox", "Code")),
				chromedp.Click("", byRole("button", "Next")),
				chromedp.Click("", byRole("button", "mint developer ("+dev.UserPrincipalName+")")),
				chromedp.Click("", byRole("button", "Continue")),
				chromedp.WaitVisible("", byRole("heading", "desktop-tool-"+sk.name)))
			r = <-done
			if r.err != nil {
				t.Fatalf("DeviceCodeCredential with the app's client id: %v", r.err)
			}
			if c := jwtClaims(t, r.tok.Token); c["oid"] != dev.ObjectID || c["appid"] != app.AppID {
				t.Errorf("DeviceCodeCredential token %v", c)
			}

			// MSAL Python's PublicClientApplication (Debian's python3-msal) through mint's proxy:
			// the device flow with the app's client id, the code typed into the same browser.
			py := exec.CommandContext(ctx, "/usr/bin/python3", "-c", `
import json, os, sys, msal
app = msal.PublicClientApplication(os.environ["APP_ID"], authority="https://login.microsoftonline.com/" + os.environ["TENANT"])
flow = app.initiate_device_flow(scopes=["https://vault.azure.net/.default"])
print(flow["message"], flush=True)
result = app.acquire_token_by_device_flow(flow)
print(json.dumps({"token": result.get("access_token"), "error": result.get("error_description")}), flush=True)
`)
			py.Env = append(m.printedEnv(t, "HTTPS_PROXY", "HTTP_PROXY", "NO_PROXY", "REQUESTS_CA_BUNDLE"), "APP_ID="+app.AppID, "TENANT="+tenant)
			pyOut := &lineWatcher{re: deviceCodeRe, found: make(chan []string, 1)}
			py.Stdout, py.Stderr = pyOut, pyOut
			if err := py.Start(); err != nil {
				t.Fatal(err)
			}
			var code []string
			select {
			case code = <-pyOut.found:
			case <-ctx.Done():
				t.Fatalf("MSAL Python printed no device code:\n%s", pyOut.String())
			}
			browse(t, browser, "enter MSAL Python's device code", chromedp.Navigate(code[1]),
				chromedp.SendKeys("", code[2], byRole("textbox", "Code")),
				chromedp.Click("", byRole("button", "Next")),
				chromedp.Click("", byRole("button", "mint developer ("+dev.UserPrincipalName+")")),
				chromedp.Click("", byRole("button", "Continue")),
				chromedp.WaitVisible("", byRole("heading", "desktop-tool-"+sk.name)))
			if err := py.Wait(); err != nil {
				t.Fatalf("MSAL Python device flow: %v\n%s", err, pyOut.String())
			}
			var pyResult struct{ Token, Error string }
			lines := strings.Split(strings.TrimSpace(pyOut.String()), "\n")
			if err := json.Unmarshal([]byte(lines[len(lines)-1]), &pyResult); err != nil || pyResult.Token == "" {
				t.Fatalf("MSAL Python device flow printed %s", pyOut.String())
			}
			if c := jwtClaims(t, pyResult.Token); c["oid"] != dev.ObjectID || c["appid"] != app.AppID {
				t.Errorf("MSAL Python device flow token %v", c)
			}

			// Public client flows off: the app is a confidential client for the device code,
			// which it cannot redeem without a credential.
			mustAz(t, env, az, nil, "ad", "app", "update", "--id", app.AppID, "--is-fallback-public-client", "false")
			done = getTokenAsync(ctx, newDCC(), "https://management.azure.com/.default")
			devicePrompt(t, prompts, done)
			if r := <-done; r.err == nil || !strings.Contains(r.err.Error(), "AADSTS7000218") {
				t.Errorf("DeviceCodeCredential for a confidential client: %v, want AADSTS7000218", r.err)
			}

			// Without the loopback redirect URI, InteractiveBrowserCredential's authorize request
			// gets the AADSTS50011 page and the browser stays at mint.
			mustAz(t, env, az, nil, "ad", "app", "update", "--id", app.AppID, "--public-client-redirect-uris", "https://tool.example/desktop")
			ctx2, cancel2 := context.WithCancel(ctx)
			ibc, err = azidentity.NewInteractiveBrowserCredential(&azidentity.InteractiveBrowserCredentialOptions{
				ClientOptions: clientOptions, TenantID: tenant, ClientID: app.AppID, RedirectURL: "http://localhost:" + freePort(t), DisableInstanceDiscovery: true})
			if err != nil {
				t.Fatal(err)
			}
			done = getTokenAsync(ctx2, ibc, "https://vault.azure.net/.default")
			var text, location string
			browse(t, browser, "open the authorize URL of an unregistered redirect URI", chromedp.Navigate(nextURL(t, urls, "InteractiveBrowserCredential")),
				chromedp.WaitVisible("", byRole("heading", "Sorry, but we're having trouble signing you in.")),
				into(&text, chromedp.Evaluate[string](`document.body.innerText`)), into(&location, chromedp.Location()))
			auditA11y(t, browser, "sts-error")
			cancel2()
			<-done
			if !strings.Contains(text, "AADSTS50011") || !strings.HasPrefix(location, m.Env["AZURE_AUTHORITY_HOST"]) {
				t.Errorf("unregistered redirect URI: at %s, page %q", location, text)
			}
		})
	}
}

// freePort finds a loopback port nothing listens on now.
func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
}
