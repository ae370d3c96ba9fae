// Package e2e drives a started mint with the real Azure SDK for Go clients. Every test starts
// its own `mint` process on a free 127.0.0.1 port, against SQLite and (when the test command
// provides one) PostgreSQL. All mint processes share one CA, which this process trusts through
// SSL_CERT_FILE, exactly as a user's program would.
package e2e

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/mint-id/mint/internal/server"
)

var (
	mintBin     string // the built mint binary
	agentBin    string // the built lean node agent, cmd/mint-agent
	miClient    string // the workload program the managed-identity tests run
	proxyClient string // the unmodified-program stand-in the Azure-name proxy tests run
	sharedDir   string // kek, ca.pem, ca-key.sealed, ca-bundle.pem shared by every instance
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	tmp, err := os.MkdirTemp("", "mint-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(tmp)
	unlock := lockBuilds()
	// One go build for the module's programs: one load of the package graph, links side by side.
	build := exec.Command("go", "build", "-o", tmp+string(filepath.Separator),
		"github.com/mint-id/mint/cmd/mint", "github.com/mint-id/mint/cmd/mint-agent",
		"github.com/mint-id/mint/test/e2e/miclient", "github.com/mint-id/mint/test/e2e/proxyclient",
		"github.com/mint-id/mint/examples/secret-reader")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build mint and the test programs:", err)
		return 1
	}
	mintBin = filepath.Join(tmp, "mint")
	agentBin = filepath.Join(tmp, "mint-agent")
	miClient = filepath.Join(tmp, "miclient")
	proxyClient = filepath.Join(tmp, "proxyclient")
	secretReader = filepath.Join(tmp, "secret-reader")
	// daprclient is its own module (Dapr's and Kubernetes' modules are not mint's requirements):
	// built from its directory.
	daprClient = buildModuleOrExit(tmp, "daprclient", "daprclient")
	unlock()
	sharedDir = filepath.Join(tmp, "shared")
	init := exec.Command(mintBin, "init", "--data-dir", sharedDir)
	if out, err := init.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "mint init: %v\n%s", err, out)
		return 1
	}
	// Before anything in this process loads the system roots: trust mint's CA the way users do.
	os.Setenv("SSL_CERT_FILE", filepath.Join(sharedDir, "ca-bundle.pem"))
	// Never let a credential chain reach the real IMDS address.
	os.Setenv("AZURE_TOKEN_CREDENTIALS", "EnvironmentCredential")
	return m.Run()
}

// lockBuilds makes the test processes of one run (scripts/go-test.sh, which gives them one
// MINT_E2E_SHARED_DIR) build mint and the test programs one at a time, so that the next links
// from the build cache the first filled rather than compiling every package again beside it.
// A build that fails ends the process, which releases the lock.
func lockBuilds() (unlock func()) {
	shared := os.Getenv("MINT_E2E_SHARED_DIR")
	if shared == "" {
		return func() {}
	}
	unlock, err := lockFile(filepath.Join(shared, "build.lock"))
	if err != nil {
		fmt.Fprintln(os.Stderr, "builds not shared:", err)
		return func() {}
	}
	return unlock
}

// storeKind is a store a test runs against.
type storeKind struct {
	name string
	url  func(t *testing.T) string // "" means the default SQLite file in the data dir
}

// postgresRequired says the test command promised PostgreSQL (./test.sh sets
// MINT_TEST_REQUIRE_POSTGRES=1; CI sets CI=true): a missing MINT_TEST_POSTGRES_URL is then a
// failure, never a skip, so a run that could not start PostgreSQL cannot report ok.
func postgresRequired() bool {
	return os.Getenv("CI") == "true" || os.Getenv("MINT_TEST_REQUIRE_POSTGRES") == "1"
}

// stores lists SQLite and, when MINT_TEST_POSTGRES_URL is set, PostgreSQL (a fresh database
// per call). When postgresRequired, PostgreSQL is required.
func stores(t *testing.T) []storeKind {
	kinds := []storeKind{{name: "sqlite", url: func(*testing.T) string { return "" }}}
	if os.Getenv("MINT_TEST_POSTGRES_URL") != "" {
		kinds = append(kinds, storeKind{name: "postgres", url: freshDatabase})
	} else if postgresRequired() {
		t.Fatal("MINT_TEST_POSTGRES_URL is not set; run the tests through ./test.sh, which starts PostgreSQL")
	}
	return kinds
}

// freshDatabase creates an empty PostgreSQL database for one test and drops it afterwards.
func freshDatabase(t *testing.T) string {
	t.Helper()
	admin := os.Getenv("MINT_TEST_POSTGRES_URL")
	name := fmt.Sprintf("mint_e2e_%d", rand.Int64())
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		t.Fatalf("connect to PostgreSQL: %v", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("create database: %v", err)
	}
	t.Cleanup(func() {
		c, err := pgx.Connect(ctx, admin)
		if err == nil {
			c.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
			c.Close(ctx)
		}
	})
	u, _ := url.Parse(admin)
	u.Path = "/" + name
	return u.String()
}

// mint is one started mint process.
type mint struct {
	t       *testing.T
	dataDir string
	store   string
	args    []string
	cmd     *exec.Cmd
	log     *lockedBuffer
	done    chan struct{}
	Env     map[string]string
	URL     string
}

type options struct {
	dataDir string
	store   string
	mode    string // "dev" (default) or "server"
	extra   []string
}

// newDataDir makes a data directory holding the shared KEK and CA.
func newDataDir(t *testing.T) string {
	dir := t.TempDir()
	for _, f := range []string{"kek", "ca.pem", "ca-key.sealed"} {
		data, err := os.ReadFile(filepath.Join(sharedDir, f))
		if err != nil {
			t.Fatal(err)
		}
		mode := os.FileMode(0o600)
		if f == "ca.pem" {
			mode = 0o644
		}
		if err := os.WriteFile(filepath.Join(dir, f), data, mode); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// startMint starts `mint dev` (or `mint server`) and waits until it is ready.
func startMint(t *testing.T, o options) *mint {
	t.Helper()
	if o.dataDir == "" {
		o.dataDir = newDataDir(t)
	}
	mode := o.mode
	if mode == "" {
		mode = "dev"
	}
	// Device-code clients wait the answer's interval before each poll: 1 s rather than Entra's 5
	// shortens each device-code sign-in of the tests by seconds, with the same requests.
	args := []string{mode, "--addr", "127.0.0.1:0", "--data-dir", o.dataDir, "--key-refresh", "200ms", "--device-code-interval", "1s"}
	if mode == "dev" { // never the fixed default ports
		args = append(args, "--agent-addr", "127.0.0.1:0", "--proxy-addr", "127.0.0.1:0")
	}
	if o.store != "" {
		args = append(args, "--store", o.store)
	}
	args = append(args, o.extra...)
	m := &mint{t: t, dataDir: o.dataDir, store: o.store, args: args}
	m.start()
	t.Cleanup(m.stop)
	return m
}

func (m *mint) start() {
	t := m.t
	t.Helper()
	os.Remove(filepath.Join(m.dataDir, "ready"))
	m.log = &lockedBuffer{}
	m.cmd = exec.Command(mintBin, m.args...)
	m.cmd.Stdout, m.cmd.Stderr = m.log, m.log
	m.cmd.Env = cleanEnv()
	if err := m.cmd.Start(); err != nil {
		t.Fatalf("start mint: %v", err)
	}
	m.done = make(chan struct{})
	go func() { m.cmd.Wait(); close(m.done) }()
	deadline := time.Now().Add(30 * time.Second)
	for {
		if data, err := os.ReadFile(filepath.Join(m.dataDir, "ready")); err == nil {
			m.URL = strings.TrimSpace(string(data))
			break
		}
		select {
		case <-m.done:
			t.Fatalf("mint exited before it was ready:\n%s", m.log.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("mint not ready after 30 s:\n%s", m.log.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if env, err := server.ParseEnvFile(filepath.Join(m.dataDir, "env")); err == nil {
		m.Env = env
	}
}

// cleanEnv is this process's environment without the variables that would change what mint does.
func cleanEnv() []string {
	var out []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "MINT_") || strings.HasPrefix(kv, "AZURE_") {
			continue
		}
		out = append(out, kv)
	}
	return out
}

// kill stops mint with SIGKILL, as a crash would.
func (m *mint) kill() {
	m.cmd.Process.Kill()
	<-m.done
}

// stop stops mint with SIGTERM and waits.
func (m *mint) stop() {
	select {
	case <-m.done:
		return
	default:
	}
	m.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-m.done:
	case <-time.After(10 * time.Second):
		m.cmd.Process.Kill()
		<-m.done
		m.t.Errorf("mint did not stop on SIGTERM within 10 s")
	}
	if m.t.Failed() {
		m.t.Logf("mint log:\n%s", m.log.String())
	}
}

// restart stops (or finds stopped) mint and starts it again on the same data dir and store.
func (m *mint) restart() {
	m.stop()
	m.start()
}

// cli runs a mint CLI command signed in with this instance's env file and returns stdout.
func (m *mint) cli(args ...string) (string, error) {
	cmd := exec.Command(mintBin, args...)
	cmd.Env = append(cleanEnv(), "MINT_DATA_DIR="+m.dataDir, "SSL_CERT_FILE="+os.Getenv("SSL_CERT_FILE"))
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if err != nil {
		return stdout.String(), fmt.Errorf("mint %s: %v: %s", strings.Join(args, " "), err, stderr.String())
	}
	return stdout.String(), nil
}

func (m *mint) mustCLI(args ...string) string {
	m.t.Helper()
	out, err := m.cli(args...)
	if err != nil {
		m.t.Fatal(err)
	}
	return out
}

// httpClient trusts mint's CA (through SSL_CERT_FILE, like the SDK clients).
func httpClient() *http.Client {
	pool, err := x509.SystemCertPool()
	if err != nil {
		panic(err)
	}
	return &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
}

func (m *mint) get(path string) (int, []byte) {
	m.t.Helper()
	resp, err := httpClient().Get(m.URL + path)
	if err != nil {
		m.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, body
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
