package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/chromedp/cdproto/target"
	"github.com/chromedp/chromedp"
)

// spaInstall is test/e2e/spaclient: a page with MSAL.js (@azure/msal-browser, locked).
var spaInstall = &npmProject{name: "spaclient", files: []string{"package.json", "package-lock.json", "index.html", "app.js"}}

// serveSPA serves the single-page application from a loopback port: its page, its script,
// MSAL.js from the locked install and config.js with cfg (as it is when the page loads). It returns the SPA's origin,
// http://localhost:<port> (a secure context, so MSAL.js has WebCrypto).
func serveSPA(t *testing.T, dir string, cfg map[string]string) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]string{
		"/":                    filepath.Join(dir, "index.html"),
		"/app.js":              filepath.Join(dir, "app.js"),
		"/msal-browser.min.js": filepath.Join(dir, "node_modules", "@azure", "msal-browser", "lib", "msal-browser.min.js"),
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/config.js" { // read when the page loads: the test fills cfg in before
			config, _ := json.Marshal(cfg)
			w.Header().Set("Content-Type", "text/javascript")
			fmt.Fprintf(w, "window.spaConfig = %s;\n", config)
			return
		}
		f, ok := files[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		if strings.HasSuffix(f, ".js") {
			w.Header().Set("Content-Type", "text/javascript")
		}
		http.ServeFile(w, r, f)
	})}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	return "http://localhost:" + fmt.Sprint(l.Addr().(*net.TCPAddr).Port)
}

// A single-page application registered with a spa redirect URI, as Entra treats one: MSAL.js
// (@azure/msal-browser, unmodified, in Chromium) signs the developer in with loginRedirect
// against mint's authority (knownAuthorities: no instance discovery) and redeems the code
// cross-origin, which mint answers with CORS headers for the SPA's origin; acquireTokenSilent
// then gets a Key Vault token by redeeming the refresh token (a preflighted cross-origin POST).
// The same again with loginPopup: the sign-in form in a popup window, the code brought back to
// the opener through the popup's redirect.
// MSAL.js keeps the refresh token for the 24 hours mint gives it (refresh_token_expires_in), and
// the refresh hands out one with the same expiry, not a later one. A client that is not in a
// browser (azidentity's InteractiveBrowserCredential with the SPA's client id) gets its code
// but cannot redeem it: AADSTS9002327. Both stores.
func TestSinglePageAppWithMSALBrowser(t *testing.T) {
	az := needAz(t)
	_, npm := needNode(t)
	installed := startNPMInstall(t, npm, spaInstall)
	browser := newBrowser(t, "")
	openerDir, urls := browserOpener(t, "xdg-open")
	t.Setenv("PATH", openerDir+string(os.PathListSeparator)+os.Getenv("PATH")) // azidentity opens the browser with xdg-open
	dir := installed()
	for _, sk := range stores(t) {
		t.Run(sk.name, func(t *testing.T) {
			m := startMint(t, options{store: sk.url(t)})
			dev := readDeveloper(t, m)
			tenant := m.Env["AZURE_TENANT_ID"]
			env := append(m.printedEnv(t, "HTTPS_PROXY", "HTTP_PROXY", "NO_PROXY", "REQUESTS_CA_BUNDLE", "SSL_CERT_FILE"), azConfigDir(t))
			mustAz(t, env, az, nil, "login", "-u", dev.UserPrincipalName, "-p", dev.Password, "-o", "none")

			authority, _ := url.Parse(m.URL)
			cfg := map[string]string{"authority": m.URL + "/" + tenant, "authorityHost": authority.Host}
			origin := serveSPA(t, dir, cfg)
			redirect := origin + "/"
			var app struct {
				ID, AppID string
				Spa       struct{ RedirectURIs []string }
			}
			mustAz(t, env, az, &app, "ad", "app", "create", "--display-name", "spa-"+sk.name, "-o", "json")
			mustAz(t, env, az, nil, "rest", "--method", "patch", "--url", "https://graph.microsoft.com/v1.0/applications/"+app.ID,
				"--body", `{"spa":{"redirectUris":["`+redirect+`"]}}`)
			mustAz(t, env, az, &app, "ad", "app", "show", "--id", app.AppID, "-o", "json")
			if len(app.Spa.RedirectURIs) != 1 || app.Spa.RedirectURIs[0] != redirect {
				t.Fatalf("az ad app show: spa redirect URIs %v", app.Spa.RedirectURIs)
			}
			cfg["clientId"], cfg["redirectUri"] = app.AppID, redirect

			signedIn := time.Now().Unix()
			var text string
			browse(t, browser, "open the SPA and sign in with loginRedirect", chromedp.Navigate(origin+"/"),
				chromedp.Click("", byRole("button", "Sign in")))
			signInOnPage(t, browser, dev.UserPrincipalName, dev.Password)
			browse(t, browser, "wait for the SPA's tokens",
				chromedp.WaitVisible(`//*[@role="status" and @aria-busy="false" and normalize-space()!=""]`),
				into(&text, chromedp.Text(chromedp.CSS(`[role="status"]`))))
			var got struct {
				Error, Username, ArmToken, VaultToken string
				VaultFromCache                        bool
				RefreshTokenExpiresOn                 []float64
			}
			if err := json.Unmarshal([]byte(text), &got); err != nil || got.Error != "" {
				t.Fatalf("the SPA says %s", text)
			}
			if c := jwtClaims(t, got.ArmToken); c["oid"] != dev.ObjectID || c["appid"] != app.AppID || !strings.HasPrefix(c["aud"].(string), "https://management") {
				t.Errorf("loginRedirect's token %v", c)
			}
			if c := jwtClaims(t, got.VaultToken); c["oid"] != dev.ObjectID || c["appid"] != app.AppID || c["aud"] != "https://vault.azure.net" || got.VaultFromCache {
				t.Errorf("acquireTokenSilent's token (from cache %v) %v", got.VaultFromCache, c)
			}
			if len(got.RefreshTokenExpiresOn) != 2 {
				t.Fatalf("refresh token expiry %v", got.RefreshTokenExpiresOn)
			}
			first, second := got.RefreshTokenExpiresOn[0], got.RefreshTokenExpiresOn[1]
			if want := float64(signedIn + 24*3600); math.Abs(first-want) > 120 {
				t.Errorf("MSAL.js keeps the refresh token until %v, want 24 h after the sign-in (%v)", first, want)
			}
			if math.Abs(second-first) > 2 {
				t.Errorf("the refreshed refresh token expires at %v, the first at %v: a SPA's refresh token does not slide", second, first)
			}

			// loginPopup, after the page forgets the first sign-in: MSAL.js opens mint's sign-in
			// page in a popup window (a new target, driven through a context attached to it; the
			// form, as prompt=login asks), reads the code from the popup's redirect to the SPA's
			// page (response_mode=fragment), closes the popup, redeems the code cross-origin and
			// gets a Key Vault token silently with the refresh token the popup's sign-in brought.
			popupStart := time.Now()
			opened := chromedp.WaitNewTarget(browser, func(*target.Info) bool { return true })
			browse(t, browser, "sign in again with loginPopup", chromedp.Click("", byRole("button", "Sign in with a popup")))
			var popupID target.ID
			select {
			case popupID = <-opened:
			case <-time.After(30 * time.Second):
			}
			if popupID == "" {
				t.Fatal("loginPopup opened no window")
			}
			popup, cancelPopup := chromedp.NewContext(browser, chromedp.WithTargetID(popupID))
			defer cancelPopup()
			signInOnPage(t, popup, dev.UserPrincipalName, dev.Password)
			browse(t, browser, "wait for the SPA's tokens from the popup sign-in",
				chromedp.WaitVisible(`//*[@id="popup-result" and @aria-busy="false" and normalize-space()!=""]`),
				into(&text, chromedp.Text(chromedp.CSS(`#popup-result`))))
			var pop struct {
				Error, Username, ArmToken, VaultToken string
				VaultFromCache                        bool
				Accounts                              []int
			}
			if err := json.Unmarshal([]byte(text), &pop); err != nil || pop.Error != "" {
				t.Fatalf("the SPA says after loginPopup: %s", text)
			}
			if pop.Username != dev.UserPrincipalName || len(pop.Accounts) != 2 || pop.Accounts[0] != 0 || pop.Accounts[1] != 1 {
				t.Errorf("loginPopup's account %q, accounts before and after %v: want %s, [0 1]", pop.Username, pop.Accounts, dev.UserPrincipalName)
			}
			if c := jwtClaims(t, pop.ArmToken); c["oid"] != dev.ObjectID || c["appid"] != app.AppID || !strings.HasPrefix(c["aud"].(string), "https://management") {
				t.Errorf("loginPopup's token %v", c)
			}
			if c := jwtClaims(t, pop.VaultToken); c["oid"] != dev.ObjectID || c["appid"] != app.AppID || c["aud"] != "https://vault.azure.net" || pop.VaultFromCache {
				t.Errorf("acquireTokenSilent's token after loginPopup (from cache %v) %v", pop.VaultFromCache, c)
			}
			targets, err := chromedp.Targets(browser)
			if err != nil {
				t.Fatal(err)
			}
			for _, ti := range targets {
				if ti.TargetID == popupID {
					t.Errorf("MSAL.js left the popup open at %s", ti.URL)
				}
			}
			t.Logf("loginPopup step: %v", time.Since(popupStart).Round(time.Millisecond))

			// The same code redeemed by a program that is no browser: AADSTS9002327.
			ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
			defer cancel()
			ibc, err := azidentity.NewInteractiveBrowserCredential(&azidentity.InteractiveBrowserCredentialOptions{
				ClientOptions: azcore.ClientOptions{Cloud: cloud.Configuration{ActiveDirectoryAuthorityHost: m.Env["AZURE_AUTHORITY_HOST"]}},
				TenantID:      tenant, ClientID: app.AppID, RedirectURL: "http://localhost:" + freePort(t), DisableInstanceDiscovery: true})
			if err != nil {
				t.Fatal(err)
			}
			done := getTokenAsync(ctx, ibc, "https://vault.azure.net/.default")
			browse(t, browser, "pick the account for InteractiveBrowserCredential", chromedp.Navigate(nextURL(t, urls, "InteractiveBrowserCredential")),
				chromedp.Click("", byRole("button", "mint developer ("+dev.UserPrincipalName+")")))
			if r := <-done; r.err == nil || !strings.Contains(r.err.Error(), "AADSTS9002327") {
				t.Errorf("InteractiveBrowserCredential redeeming a SPA's code: %v, want AADSTS9002327", r.err)
			}
		})
	}
}
