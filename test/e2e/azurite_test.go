package e2e

import (
	"bufio"
	"bytes"
	"context"
	"crypto/x509"
	"encoding/pem"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mint-id/mint/internal/keys"
)

// Azurite, the Azure Storage emulator Azure developers run, from npm (the version locked in
// test/e2e/azurite/package-lock.json, installed with npm ci once per test binary). With
// `--oauth basic` over HTTPS it accepts bearer tokens after checking, as many validators do, that
// a v1 token's iss is Entra's (https://sts.windows.net/<tenant>/) and its audience is Storage's;
// it does not check signatures.

var azuriteInstall struct {
	once sync.Once
	done chan struct{}
	dir  string
	err  error
	out  bytes.Buffer
}

// startAzuriteInstall copies test/e2e/azurite next to the mint binary and runs `npm ci` there,
// once per test binary; the returned function waits for it and returns the directory.
func startAzuriteInstall(t *testing.T, npm string) func() string {
	t.Helper()
	azuriteInstall.once.Do(func() {
		azuriteInstall.done = make(chan struct{})
		azuriteInstall.dir = filepath.Join(filepath.Dir(mintBin), "azurite")
		go func() {
			defer close(azuriteInstall.done)
			azuriteInstall.err = npmCI(npm, "azurite", azuriteInstall.dir, []string{"package.json", "package-lock.json"}, &azuriteInstall.out)
		}()
	})
	t.Cleanup(func() { <-azuriteInstall.done })
	return func() string {
		t.Helper()
		<-azuriteInstall.done
		if azuriteInstall.err != nil {
			t.Fatalf("npm ci of test/e2e/azurite (it needs the npm registry): %v\n%s", azuriteInstall.err, azuriteInstall.out.String())
		}
		return azuriteInstall.dir
	}
}

// npmCI copies files of test/e2e/<src> into dir and runs npm ci there, with the user's own npm
// configuration and nothing this test process set for mint.
func npmCI(npm, src, dir string, files []string, out *bytes.Buffer) error {
	if err := os.Mkdir(dir, 0o755); err != nil {
		return err
	}
	for _, f := range files {
		data, err := os.ReadFile(filepath.Join(src, f))
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dir, f), data, 0o644); err != nil {
			return err
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, npm, "ci", "--no-audit", "--no-fund", "--ignore-scripts", "--loglevel", "error")
	cmd.Dir = dir
	for _, kv := range cleanEnv() {
		if !strings.HasPrefix(kv, "SSL_CERT_FILE=") && !strings.HasPrefix(kv, "NODE_EXTRA_CA_CERTS=") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, "npm_config_update_notifier=false")
	cmd.Stdout, cmd.Stderr = out, out
	return cmd.Run()
}

// azuriteErr is what Azurite wrote on stderr (one Azurite per test binary at a time).
var azuriteErr lockedBuffer

var azuriteListeningRE = regexp.MustCompile(`Azurite Blob service successfully listens on (https://127\.0\.0\.1:\d+)`)

// startAzurite starts Azurite's blob service on a free port, over HTTPS with a certificate that
// mint's CA issued for 127.0.0.1, with --oauth basic, and returns its URL. --disableTelemetry:
// Azurite's telemetry otherwise probes 169.254.169.254, which guard.mjs (preloaded here too)
// does not allow.
func startAzurite(t *testing.T, m *mint, node, dir string) string {
	t.Helper()
	kek, err := keys.LoadKEK(filepath.Join(m.dataDir, "kek"), "")
	if err != nil {
		t.Fatal(err)
	}
	ca, err := keys.LoadOrCreateCA(m.dataDir, kek)
	if err != nil {
		t.Fatal(err)
	}
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
		"--inMemoryPersistence", "--skipApiVersionCheck", "--disableProductStyleUrl", "--loose", "--disableTelemetry")
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

// TestAzuriteAcceptsMintTokens: an unmodified azblob program (test/e2e/blobclient) with
// ManagedIdentityCredential, as a container app under `mint run --proxy`, creates a container in
// Azurite, uploads a blob and reads it back with mint's managed-identity token; Azurite runs over
// HTTPS with a certificate from mint's CA (which SSL_CERT_FILE, as mint run sets it, trusts).
func TestAzuriteAcceptsMintTokens(t *testing.T) {
	node, npm := needNode(t)
	installed := startAzuriteInstall(t, npm)
	blobClient := filepath.Join(t.TempDir(), "blobclient")
	if out, err := exec.Command("go", "build", "-o", blobClient, "github.com/mint-id/mint/test/e2e/blobclient").CombinedOutput(); err != nil {
		t.Fatalf("build blobclient: %v\n%s", err, out)
	}
	m := startMint(t, options{})
	sc := seedScenario(t, m)
	account := startAzurite(t, m, node, installed()) + "/devstoreaccount1"
	runEnv := m.printedEnv(t, "MINT_DATA_DIR")

	for _, c := range []struct {
		name     string
		args     []string
		wantOID  string
		wantBlob string
	}{
		{"user-assigned", []string{"-client-id", sc.uaClientID}, sc.uaPrincipal, "from web-id"},
		{"system-assigned", nil, sc.systemPrincipal, "from the app"},
	} {
		t.Run(c.name, func(t *testing.T) {
			args := append([]string{"run", "--proxy", "--resource", sc.appID, "--", blobClient, "-account-url", account,
				"-container", "mint-" + strings.ReplaceAll(c.name, "-", ""), "-blob", "hello.txt", "-content", c.wantBlob}, c.args...)
			stdout, stderr, code := runProgram(t, runEnv, mintBin, args...)
			if code != 0 {
				t.Fatalf("blobclient exit %d: %s\nAzurite: %s", code, stderr, azuriteErr.String())
			}
			var out struct {
				Content string
				Claims  map[string]any
			}
			mustJSON(t, stdout, &out)
			if out.Content != c.wantBlob {
				t.Errorf("read back %q, want %q", out.Content, c.wantBlob)
			}
			if out.Claims["iss"] != "https://sts.windows.net/"+m.Env["AZURE_TENANT_ID"]+"/" || out.Claims["aud"] != "https://storage.azure.com" ||
				out.Claims["oid"] != c.wantOID {
				t.Errorf("token claims %v: want mint's v1 Storage token for %s with Entra's issuer", out.Claims, c.wantOID)
			}
		})
	}
}
