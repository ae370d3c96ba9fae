package e2e

import (
	"bufio"
	"crypto/x509"
	"encoding/pem"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/mint-id/mint/internal/keys"
)

// Azurite, the Azure Storage emulator Azure developers run, from npm (the version locked in
// test/e2e/azurite/package-lock.json, installed with npm ci once per test binary). With
// `--oauth basic` over HTTPS it accepts bearer tokens after checking, as many validators do, that
// a v1 token's iss is Entra's (https://sts.windows.net/<tenant>/) and its audience is Storage's;
// it does not check signatures.

// azuriteInstall is test/e2e/azurite (the azurite package), installed once per test binary.
var azuriteInstall = &npmProject{name: "azurite", files: []string{"package.json", "package-lock.json"}}

// azuriteErr is what Azurite wrote on stderr (one Azurite per test binary at a time).
var azuriteErr lockedBuffer

var azuriteListeningRE = regexp.MustCompile(`Azurite Blob service successfully listens on (https://127\.0\.0\.1:\d+)`)

// loadCA is the CA of data directory dir (mint's, or a new one made there with the shared KEK:
// an emulator's own CA, which mint does not trust unless told).
func loadCA(t *testing.T, dir string) *keys.CA {
	t.Helper()
	kek, err := keys.LoadKEK(filepath.Join(sharedDir, "kek"), "")
	if err != nil {
		t.Fatal(err)
	}
	ca, err := keys.LoadOrCreateCA(dir, kek)
	if err != nil {
		t.Fatal(err)
	}
	return ca
}

// startAzurite starts Azurite's blob service on a free port, over HTTPS with a certificate that
// ca issued for 127.0.0.1, with --oauth basic, and returns its URL. Product-style URLs stay on
// (Azurite's default): a request whose Host is <account>.blob.core.windows.net is for that
// account, which is how mint's proxy forwards those names. --disableTelemetry: Azurite's
// telemetry otherwise probes 169.254.169.254, which guard.mjs (preloaded here too) does not
// allow.
func startAzurite(t *testing.T, ca *keys.CA, node, dir string) string {
	t.Helper()
	cert, err := ca.IssueServerCert(nil, []net.IP{net.IPv4(127, 0, 0, 1)}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(cert.PrivateKey)
	if err != nil {
		t.Fatal(err)
	}
	tmp := t.TempDir()
	certFile, keyFile := filepath.Join(tmp, "cert.pem"), filepath.Join(tmp, "key.pem")
	writeFile(t, certFile, string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Certificate[0]})))
	writeFile(t, keyFile, string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})))

	cmd := exec.Command(node, "--import", jsGuard(), filepath.Join(dir, "node_modules", "azurite", "dist", "src", "blob", "main.js"),
		"--blobHost", "127.0.0.1", "--blobPort", "0", "--oauth", "basic", "--cert", certFile, "--key", keyFile,
		"--inMemoryPersistence", "--skipApiVersionCheck", "--loose", "--disableTelemetry")
	cmd.Dir = tmp
	cmd.Env = cleanEnv()
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr := &azuriteErr
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if m := azuriteListeningRE.FindStringSubmatch(sc.Text()); m != nil {
				found <- m[1]
			}
		}
		close(found)
	}()
	select {
	case u, ok := <-found:
		if !ok {
			t.Fatalf("Azurite ended without listening: %s", stderr.String())
		}
		return u
	case <-time.After(90 * time.Second):
		t.Fatalf("Azurite did not listen within 90 s: %s", stderr.String())
	}
	return ""
}

// blobRun is what one run of a blob program (blob-writer, or blob.mjs) gave back.
type blobRun struct {
	content string
	claims  map[string]any
}

// buildBlobClient builds examples/blob-writer, the unmodified azblob program.
func buildBlobClient(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "blob-writer")
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/mint-id/mint/examples/blob-writer").CombinedOutput(); err != nil {
		t.Fatalf("build blob-writer: %v\n%s", err, out)
	}
	return bin
}

// runGoBlob runs blob-writer under `mint run --proxy --resource resource` with env, against
// accountURL, in container; clientID picks a user-assigned identity ("" the system-assigned one).
func runGoBlob(t *testing.T, env []string, blobClient, resource, accountURL, container, content, clientID string) blobRun {
	t.Helper()
	args := []string{"run", "--proxy", "--resource", resource, "--", blobClient, "-account-url", accountURL,
		"-container", container, "-blob", "hello.txt", "-content", content}
	if clientID != "" {
		args = append(args, "-client-id", clientID)
	}
	stdout, stderr, code := runProgram(t, env, mintBin, args...)
	if code != 0 {
		t.Fatalf("blob-writer exit %d: %s\nAzurite: %s", code, stderr, azuriteErr.String())
	}
	var out struct {
		Content string
		Claims  map[string]any
	}
	mustJSON(t, stdout, &out)
	return blobRun{out.Content, out.Claims}
}

// runJSBlob runs test/e2e/jsclient/blob.mjs (@azure/storage-blob with ManagedIdentityCredential)
// the same way, guard.mjs preloaded.
func runJSBlob(t *testing.T, env []string, node, dir, resource, accountURL, container, content, clientID string) blobRun {
	t.Helper()
	args := []string{"--account-url", accountURL, "--container", container, "--blob", "hello.txt", "--content", content}
	if clientID != "" {
		args = append(args, "--client-id", clientID)
	}
	full := append([]string{"run", "--proxy", "--resource", resource, "--", node, "--import", jsGuard(), filepath.Join(dir, "blob.mjs")}, args...)
	r := runClient(t, "node blob.mjs "+strings.Join(args, " "), "guard.mjs", 60*time.Second, env, mintBin, full)
	if r.code != 0 || r.last.Event != "blob" {
		t.Fatalf("blob.mjs: exit %d, %+v\nstderr: %s\nAzurite: %s", r.code, r.last, r.stderr, azuriteErr.String())
	}
	return blobRun{r.last.Value, r.last.Claims}
}

// wantBlob checks the content read back and that the token was mint's v1 Storage token for
// principal, with Entra's issuer (which Azurite checks).
func wantBlob(t *testing.T, got blobRun, tenant, content, principal string) {
	t.Helper()
	if got.content != content {
		t.Errorf("read back %q, want %q", got.content, content)
	}
	if got.claims["iss"] != "https://sts.windows.net/"+tenant+"/" || got.claims["aud"] != "https://storage.azure.com" || got.claims["oid"] != principal {
		t.Errorf("token claims %v: want mint's v1 Storage token for %s with Entra's issuer", got.claims, principal)
	}
}

// TestAzuriteAcceptsMintTokens: unmodified Storage programs with ManagedIdentityCredential, as a
// container app under `mint run --proxy` — the Go SDK's azblob (examples/blob-writer) and the
// JavaScript SDK's @azure/storage-blob (test/e2e/jsclient/blob.mjs) — create a container in
// Azurite, upload a blob and read it back with mint's managed-identity token; Azurite runs over
// HTTPS with a certificate from mint's CA (which SSL_CERT_FILE and NODE_EXTRA_CA_CERTS, as mint
// run sets them, trust).
func TestAzuriteAcceptsMintTokens(t *testing.T) {
	node, npm := needNode(t)
	installed := startNPMInstall(t, npm, azuriteInstall)
	jsInstalled := startJSClientInstall(t, npm)
	blobClient := buildBlobClient(t)
	m := startMint(t, options{})
	sc := seedScenario(t, m)
	account := startAzurite(t, loadCA(t, m.dataDir), node, installed()) + "/devstoreaccount1"
	runEnv := m.printedEnv(t, "MINT_DATA_DIR")
	tenant := m.Env["AZURE_TENANT_ID"]

	t.Run("Go azblob", func(t *testing.T) {
		wantBlob(t, runGoBlob(t, runEnv, blobClient, sc.appID, account, "mintgoua", "from web-id", sc.uaClientID), tenant, "from web-id", sc.uaPrincipal)
		wantBlob(t, runGoBlob(t, runEnv, blobClient, sc.appID, account, "mintgosys", "from the app", ""), tenant, "from the app", sc.systemPrincipal)
	})
	t.Run("JavaScript @azure/storage-blob", func(t *testing.T) {
		dir := jsInstalled()
		wantBlob(t, runJSBlob(t, runEnv, node, dir, sc.appID, account, "mintjsua", "js from web-id", sc.uaClientID), tenant, "js from web-id", sc.uaPrincipal)
		wantBlob(t, runJSBlob(t, runEnv, node, dir, sc.appID, account, "mintjssys", "js from the app", ""), tenant, "js from the app", sc.systemPrincipal)
	})
}

// TestProxyForwardsStorageToAzurite: programs with Storage's own URL hard-coded,
// https://devstoreaccount1.blob.core.windows.net, run unmodified under `mint run --proxy`: the
// proxy (mint dev's, and a production node's mint-agent) terminates TLS for that name with a
// certificate from mint's CA and forwards the request, Host and bearer token intact, to Azurite,
// whose certificate comes from a CA of its own (--forward-storage-ca-file). Storage names not
// forwarded are refused without dialing.
func TestProxyForwardsStorageToAzurite(t *testing.T) {
	node, npm := needNode(t)
	installed := startNPMInstall(t, npm, azuriteInstall)
	jsInstalled := startJSClientInstall(t, npm)
	blobClient := buildBlobClient(t)
	emulatorCADir := t.TempDir()
	azurite := startAzurite(t, loadCA(t, emulatorCADir), node, installed())
	forward := []string{"--forward-storage", azurite, "--forward-storage-ca-file", filepath.Join(emulatorCADir, "ca.pem")}
	const account = "https://devstoreaccount1.blob.core.windows.net"

	t.Run("mint dev", func(t *testing.T) {
		m := startMint(t, options{extra: forward})
		sc := seedScenario(t, m)
		runEnv := m.printedEnv(t, "MINT_DATA_DIR")
		tenant := m.Env["AZURE_TENANT_ID"]
		wantBlob(t, runGoBlob(t, runEnv, blobClient, sc.appID, account, "devgo", "go via the proxy", sc.uaClientID), tenant, "go via the proxy", sc.uaPrincipal)
		wantBlob(t, runJSBlob(t, runEnv, node, jsInstalled(), sc.appID, account, "devjs", "js via the proxy", ""), tenant, "js via the proxy", sc.systemPrincipal)

		for _, target := range []string{"devstoreaccount1.queue.core.windows.net:443", "devstoreaccount1.file.core.windows.net:443"} {
			status, body := connectThrough(t, m.Env["HTTPS_PROXY"], target)
			if status != http.StatusForbidden || !strings.Contains(body, "never forwards") {
				t.Errorf("CONNECT %s (not forwarded): %d %s", target, status, body)
			}
		}
	})
	t.Run("production node", func(t *testing.T) {
		for _, kind := range stores(t) {
			t.Run(kind.name, func(t *testing.T) {
				m := startServer(t, kind)
				sc := seedScenario(t, m)
				a := startLeanAgent(t, m, "/subscriptions/"+sc.sub, forward...)
				env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(), "MINT_DATA_DIR=" + a.dataDir}
				tenant := m.Env["AZURE_TENANT_ID"]
				wantBlob(t, runGoBlob(t, env, blobClient, sc.appID, account, "nodego", "go via the node", sc.uaClientID), tenant, "go via the node", sc.uaPrincipal)
				wantBlob(t, runJSBlob(t, env, node, jsInstalled(), sc.appID, account, "nodejs", "js via the node", ""), tenant, "js via the node", sc.systemPrincipal)
			})
		}
	})
}
