package e2e

import (
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// freeAddr is a 127.0.0.1 address nothing listens on right now.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// TestOperationsWalkthrough runs docs/operations.md's walkthrough as written: the shell blocks
// between <!-- walkthrough --> and <!-- /walkthrough -->, as one bash script, with mint and
// secret-reader on PATH. It sets only what the walkthrough asks the reader to choose: the
// database (MINT_STORE), the replicas' ports, and free ports for the agent.
func TestOperationsWalkthrough(t *testing.T) {
	if os.Getenv("MINT_TEST_POSTGRES_URL") == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("MINT_TEST_POSTGRES_URL is not set")
		}
		t.Skip("needs PostgreSQL: run through ./test.sh or scripts/with-postgres.sh")
	}
	if _, err := exec.LookPath("jq"); err != nil {
		t.Fatal("the walkthrough uses jq; install it (apt-get install jq)")
	}
	root := sourceRoot(t)
	doc, err := os.ReadFile(filepath.Join(root, "docs", "operations.md"))
	if err != nil {
		t.Fatal(err)
	}
	script, expected := markedScript(t, string(doc), "walkthrough")

	home := t.TempDir()
	bin := t.TempDir()
	for name, target := range map[string]string{"mint": mintBin, "secret-reader": secretReader} {
		if err := os.Symlink(target, filepath.Join(bin, name)); err != nil {
			t.Fatal(err)
		}
	}
	var env []string
	for _, kv := range cleanEnv() {
		name, _, _ := strings.Cut(kv, "=")
		switch strings.ToUpper(name) {
		case "HOME", "PATH", "SSL_CERT_FILE", "HTTPS_PROXY", "HTTP_PROXY", "NO_PROXY":
			continue
		}
		env = append(env, kv)
	}
	env = append(env, "HOME="+home, "PATH="+bin+string(os.PathListSeparator)+os.Getenv("PATH"),
		"MINT_STORE="+freshDatabase(t), "REPLICA_1="+freeAddr(t), "REPLICA_2="+freeAddr(t),
		"MINT_ADDR=127.0.0.1:0", "MINT_PROXY_ADDR=127.0.0.1:0")

	scriptFile := filepath.Join(t.TempDir(), "walkthrough.sh")
	if err := os.WriteFile(scriptFile, []byte(script), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", "-euo", "pipefail", scriptFile)
	cmd.Dir, cmd.Env = root, env
	var out lockedBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	runErr := cmd.Run()
	if cmd.Process != nil {
		pgid := cmd.Process.Pid
		syscall.Kill(-pgid, syscall.SIGTERM)
		for deadline := time.Now().Add(15 * time.Second); syscall.Kill(-pgid, 0) == nil; time.Sleep(50 * time.Millisecond) {
			if time.Now().After(deadline) {
				syscall.Kill(-pgid, syscall.SIGKILL)
				break
			}
		}
	}
	output := out.String()
	if runErr != nil {
		t.Fatalf("the walkthrough failed: %v\n%s", runErr, output)
	}
	if missing := matchInOrder(expected, output); missing != "" {
		t.Fatalf("the walkthrough did not print (in order)\n  %s\noutput:\n%s", missing, output)
	}
	n := strings.Count(output, "correct horse battery staple\n")
	if n != 3 {
		t.Errorf("the secret was read %d times, want 3 (at first, after the rotation, with a replica stopped):\n%s", n, output)
	}
	if data, err := os.ReadFile(filepath.Join(home, "mint-ops", "admin.out")); err != nil || !strings.Contains(string(data), "MINT_ENDPOINT=") {
		t.Errorf("--print-admin-secret printed no environment: %v %s", err, data)
	}
}
