package e2e

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/cdproto/accessibility"
	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/dom"
	"github.com/chromedp/chromedp"
)

// A real Chromium (Debian's chromium, installed by ./test.sh) driven with chromedp stands for
// the person at the sign-in pages. It finds elements as a person does, by role and accessible
// name (the label of a text box, the text of a button), through the browser's accessibility
// tree; chromedp's queries wait until the element is there.

// needChromium returns chromium's path or fails: the check is part of the suite, never skipped.
func needChromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Fatalf("chromium not found: install it (Debian/Ubuntu: sudo apt-get install --no-install-recommends chromium; ./test.sh does this itself)")
	return ""
}

// trustMintCA gives a browser a home of its own whose NSS database (~/.pki/nssdb, where
// Chromium on Linux reads the certificate authorities a user added) trusts mint's CA, as a
// person trusts it on their machine: `certutil -A -t C,,` from Debian's libnss3-tools (./test.sh
// installs it). Chromium then verifies every certificate mint serves, and refuses one from any
// other CA (TestBrowserTrustsOnlyMintCA).
func trustMintCA(t *testing.T) chromedp.ExecAllocatorOption {
	t.Helper()
	certutil, err := exec.LookPath("certutil")
	if err != nil {
		t.Fatalf("certutil not found: install it (Debian/Ubuntu: sudo apt-get install --no-install-recommends libnss3-tools; ./test.sh does this itself)")
	}
	home := t.TempDir()
	db := "sql:" + filepath.Join(home, ".pki", "nssdb")
	if err := os.MkdirAll(filepath.Join(home, ".pki", "nssdb"), 0o700); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"-N", "-d", db, "--empty-password"},
		{"-A", "-d", db, "-t", "C,,", "-n", "mint", "-i", filepath.Join(sharedDir, "ca.pem")},
	} {
		if out, err := exec.Command(certutil, args...).CombinedOutput(); err != nil {
			t.Fatalf("certutil %v: %v\n%s", args, err, out)
		}
	}
	return chromedp.Env("HOME=" + home)
}

// newBrowser starts a headless Chromium with a fresh profile that trusts mint's CA
// (trustMintCA). proxy, when set, is mint's Azure-name proxy (for login.microsoftonline.com);
// loopback addresses never go through it.
func newBrowser(t *testing.T, proxy string) context.Context {
	t.Helper()
	opts := []chromedp.ExecAllocatorOption{
		trustMintCA(t),
		chromedp.ExecPath(needChromium(t)),
		chromedp.Headless, chromedp.NoSandbox, chromedp.NoFirstRun,
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(t.TempDir()),
	}
	if proxy != "" {
		opts = append(opts, chromedp.ProxyServer(proxy))
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	if err := chromedp.Do(ctx); err != nil { // starts the browser
		t.Fatalf("start chromium: %v", err)
	}
	return ctx
}

// byRole selects elements by ARIA role and accessible name.
func byRole(role, name string) chromedp.QueryOption {
	return chromedp.ByFunc(func(ctx context.Context, t *chromedp.Target, n *chromedp.Node) ([]cdp.NodeID, error) {
		res, err := cdp.Call(ctx, t, accessibility.QueryAXTree, accessibility.QueryAXTreeParams{NodeID: n.NodeID, AccessibleName: name, Role: role})
		if err != nil {
			return nil, err
		}
		var backend []cdp.BackendNodeID
		for _, x := range res.Nodes {
			if x.BackendDOMNodeID != 0 && !x.Ignored {
				backend = append(backend, x.BackendDOMNodeID)
			}
		}
		if len(backend) == 0 {
			return nil, nil
		}
		pushed, err := cdp.Call(ctx, t, dom.PushNodesByBackendIDsToFrontend, dom.PushNodesByBackendIDsToFrontendParams{BackendNodeIDs: backend})
		return pushed.NodeIDs, err
	})
}

// browse runs steps with a deadline, failing the test with what was being done.
func browse(t *testing.T, ctx context.Context, what string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		t.Fatalf("browser: %s: %v", what, err)
	}
}

// signInOnPage types the user's name and password into mint's sign-in page and submits it.
func signInOnPage(t *testing.T, ctx context.Context, user, password string) {
	t.Helper()
	browse(t, ctx, "sign in as "+user,
		chromedp.SendKeys("", user, byRole("textbox", "Sign-in name")),
		chromedp.SendKeys("", password, byRole("textbox", "Password")),
		chromedp.Click("", byRole("button", "Sign in")),
	)
}

// browserOpener makes a directory with an executable named name (a browser launcher such as
// xdg-open, or the script BROWSER names) that hands the URL it is given to the test: the
// program under test "opens a browser", and the test's Chromium goes there. The returned
// channel yields each URL.
func browserOpener(t *testing.T, name string) (dir string, urls <-chan string) {
	t.Helper()
	dir = t.TempDir()
	fifo := filepath.Join(dir, "urls")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	script := "#!/bin/sh\nprintf '%s\\n' \"$1\" > '" + fifo + "'\n"
	if err := os.WriteFile(filepath.Join(dir, name), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	ch := make(chan string, 4)
	go func() {
		for {
			f, err := os.Open(fifo) // blocks until a launcher writes
			if err != nil {
				return
			}
			sc := bufio.NewScanner(f)
			for sc.Scan() {
				ch <- sc.Text()
			}
			f.Close()
		}
	}()
	t.Cleanup(func() { // unblock the reader
		if f, err := os.OpenFile(fifo, os.O_WRONLY|syscall.O_NONBLOCK, 0); err == nil {
			f.Close()
		}
	})
	return dir, ch
}

// nextURL waits for the program under test to open a browser.
func nextURL(t *testing.T, urls <-chan string, what string) string {
	t.Helper()
	select {
	case u := <-urls:
		return u
	case <-time.After(60 * time.Second):
		t.Fatalf("%s opened no browser within 60 s", what)
	}
	return ""
}

// The test browser verifies certificates: it trusts mint's CA through its NSS database and
// nothing else a test serves. mint's own page loads; a server whose certificate comes from
// another CA (Go's httptest one) is refused with Chromium's certificate error.
func TestBrowserTrustsOnlyMintCA(t *testing.T) {
	m := startMint(t, options{})
	browser := newBrowser(t, "")
	var body string
	browse(t, browser, "open mint's discovery document",
		chromedp.Navigate(m.URL+"/common/v2.0/.well-known/openid-configuration"),
		into(&body, chromedp.Text(chromedp.CSS("body"))))
	if !strings.Contains(body, "authorization_endpoint") {
		t.Fatalf("mint's discovery document in Chromium: %q", body)
	}
	other := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "other CA") }))
	defer other.Close()
	ctx, cancel := context.WithTimeout(browser, 30*time.Second)
	defer cancel()
	err := chromedp.Do(ctx, chromedp.Navigate(other.URL))
	if err == nil || !strings.Contains(err.Error(), "ERR_CERT_AUTHORITY_INVALID") {
		t.Fatalf("a certificate from another CA: %v, want net::ERR_CERT_AUTHORITY_INVALID", err)
	}
}
