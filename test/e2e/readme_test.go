package e2e

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The README's quickstart is run as written: its ```sh blocks, between <!-- quickstart --> and
// <!-- /quickstart -->, become one bash script (set -euo pipefail) run from the repository root,
// and every "#> " line in them must match a line of what the script printed, in order.

// sourceRoot is the module root (tests run in test/e2e).
func sourceRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("no go.mod at %s: %v", root, err)
	}
	return root
}

var shBlockRE = regexp.MustCompile("(?s)```sh\n(.*?)```")

// quickstartScript returns the quickstart's shell blocks joined, and its "#> " lines.
func quickstartScript(t *testing.T, readme string) (string, []string) {
	t.Helper()
	return markedScript(t, readme, "quickstart")
}

// markedScript returns the shell blocks of a document's <!-- name --> ... <!-- /name -->
// section joined, and their "#> " lines.
func markedScript(t *testing.T, doc, name string) (string, []string) {
	t.Helper()
	_, section, ok := strings.Cut(doc, "<!-- "+name+" -->")
	if ok {
		section, _, ok = strings.Cut(section, "<!-- /"+name+" -->")
	}
	if !ok {
		t.Fatalf("no <!-- %s --> ... <!-- /%s --> section", name, name)
	}
	var script strings.Builder
	var expected []string
	for _, m := range shBlockRE.FindAllStringSubmatch(section, -1) {
		script.WriteString(m[1])
		script.WriteString("\n")
		for _, line := range strings.Split(m[1], "\n") {
			if rest, ok := strings.CutPrefix(line, "#> "); ok {
				expected = append(expected, rest)
			}
		}
	}
	if script.Len() == 0 || len(expected) == 0 {
		t.Fatalf("the %s has no ```sh blocks or no #> lines", name)
	}
	return script.String(), expected
}

var (
	placeholderRE = regexp.MustCompile(`<[^<>]+>`)
	spacesRE      = regexp.MustCompile(`\s+`)
)

func normalizeSpace(s string) string { return strings.TrimSpace(spacesRE.ReplaceAllString(s, " ")) }

// expectedLineRE turns a documented output line into a pattern: runs of white space compare
// equal, and each <placeholder> stands for any text.
func expectedLineRE(line string) *regexp.Regexp {
	line = normalizeSpace(line)
	var b strings.Builder
	last := 0
	for _, loc := range placeholderRE.FindAllStringIndex(line, -1) {
		b.WriteString(regexp.QuoteMeta(line[last:loc[0]]))
		b.WriteString(".+?")
		last = loc[1]
	}
	b.WriteString(regexp.QuoteMeta(line[last:]))
	return regexp.MustCompile(b.String())
}

// matchInOrder reports the first expected line that matches no line of output after the line
// the previous one matched; "" when all match. A line that is exactly "..." matches nothing and
// only marks elided output.
func matchInOrder(expected []string, output string) string {
	lines := strings.Split(output, "\n")
	for i := range lines {
		lines[i] = normalizeSpace(lines[i])
	}
	at := 0
	for _, e := range expected {
		if strings.TrimSpace(e) == "..." {
			continue
		}
		re := expectedLineRE(e)
		found := false
		for ; at < len(lines); at++ {
			if re.MatchString(lines[at]) {
				found = true
				at++
				break
			}
		}
		if !found {
			return e
		}
	}
	return ""
}

// goEnvSetting reads one `go env` setting of this process's toolchain.
func goEnvSetting(t *testing.T, name string) string {
	t.Helper()
	out, err := exec.Command("go", "env", name).Output()
	if err != nil {
		t.Fatalf("go env %s: %v", name, err)
	}
	return strings.TrimSpace(string(out))
}

func TestReadmeQuickstart(t *testing.T) {
	// The checker itself first: a checker that matched anything would prove nothing.
	t.Run("matcher", func(t *testing.T) {
		out := "a\nName    Id\nweb  1234-5678\nRESPONSE 403: 403 Forbidden\nexit status 1\n"
		for _, tc := range []struct {
			expected []string
			missing  string
		}{
			{[]string{"Name Id", "web <id>", "exit status 1"}, ""},
			{[]string{"web <id>", "...", "RESPONSE 403"}, ""},
			{[]string{"exit status 1", "RESPONSE 403"}, "RESPONSE 403"}, // order matters
			{[]string{"web 9999"}, "web 9999"},
		} {
			if got := matchInOrder(tc.expected, out); got != tc.missing {
				t.Errorf("matchInOrder(%q) = %q, want %q", tc.expected, got, tc.missing)
			}
		}
		if strings.Contains(expectedLineRE("a.b <x>").String(), "a.b") {
			t.Errorf("regexp metacharacters are not quoted: %s", expectedLineRE("a.b <x>"))
		}
	})
	if _, err := exec.LookPath("jq"); err != nil {
		t.Fatal("the README quickstart uses jq; install it (apt-get install jq)")
	}
	needAz(t) // your own credentials: az login as mint dev's developer
	root := sourceRoot(t)
	readme, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	script, expected := quickstartScript(t, string(readme))

	env := readmeEnv(t)

	output, runErr, stuck := runDocScript(t, "quickstart.sh", script, root, env, 5*time.Minute)
	if stuck {
		t.Errorf("mint dev did not stop within 15 s of SIGTERM")
	}
	if runErr != nil {
		t.Fatalf("the quickstart failed: %v\n%s", runErr, output)
	}
	if missing := matchInOrder(expected, output); missing != "" {
		t.Fatalf("the quickstart did not print (in order)\n  %s\noutput:\n%s", missing, output)
	}
	// The story's markers, whatever the #> lines say.
	for _, want := range []string{"correct horse battery staple", "dev@mint.localhost", "ForbiddenByRbac", `\"Key Vault Secrets User\"`,
		"managed_identity", "Microsoft.Authorization/roleAssignments/delete", "exit status 1"} {
		if !strings.Contains(output, want) {
			t.Errorf("the quickstart's output lacks %q", want)
		}
	}
	n := 0
	for _, line := range strings.Split(output, "\n") {
		if line == "correct horse battery staple" {
			n++
		}
	}
	if n != 3 {
		t.Errorf("the secret was read %d times, want 3 (DefaultAzureCredential and ManagedIdentityCredential as the app, DefaultAzureCredential as the developer)", n)
	}
	if t.Failed() {
		t.Logf("output:\n%s", output)
	}
}

// runDocScript runs a doc's shell blocks (script, written to a file named name) with
// `bash -euo pipefail` in root with exactly env, bounded by timeout, and returns what it printed
// (stdout and stderr together) and how it ended. It runs in its own process group, so that what
// the script left running (a mint dev it stops with `kill %1` without waiting) is stopped with
// it: SIGTERM, then SIGKILL after 15 s (stuck), so that nothing writes into the temporary HOME
// while it is removed.
func runDocScript(t *testing.T, name, script, root string, env []string, timeout time.Duration) (output string, runErr error, stuck bool) {
	t.Helper()
	scriptFile := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(scriptFile, []byte(script), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", "-euo", "pipefail", scriptFile)
	cmd.Dir, cmd.Env = root, env
	var out lockedBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	// A script that ends (or fails under -e) while its background processes still hold the output
	// pipe would keep Run waiting for the pipe forever, the timeout notwithstanding (it stops only
	// a running script): stop waiting 5 s after the script's own end, then stop the group below.
	cmd.WaitDelay = 5 * time.Second
	runErr = cmd.Run()
	if errors.Is(runErr, exec.ErrWaitDelay) {
		runErr = nil // the script itself succeeded; only what it left running still held the pipe
	}
	if cmd.Process != nil {
		pgid := cmd.Process.Pid
		syscall.Kill(-pgid, syscall.SIGTERM)
		for deadline := time.Now().Add(15 * time.Second); syscall.Kill(-pgid, 0) == nil; time.Sleep(50 * time.Millisecond) {
			if time.Now().After(deadline) {
				syscall.Kill(-pgid, syscall.SIGKILL)
				stuck = true
				break
			}
		}
	}
	return out.String(), runErr, stuck
}

// readmeEnv is the environment the README's sections run in: a fresh user (an empty HOME, so
// ~/.mint is new; GOBIN on PATH for `go install`), with this process's Go caches and settings and
// npm's cache, so that nothing is downloaded or rebuilt needlessly, and free ports for mint
// instead of 8443-8445.
func readmeEnv(t *testing.T) []string {
	t.Helper()
	home := t.TempDir()
	bin := filepath.Join(home, "go-bin")
	var env []string
	for _, kv := range cleanEnv() {
		name, _, _ := strings.Cut(kv, "=")
		switch strings.ToUpper(name) {
		case "HOME", "PATH", "GOBIN", "SSL_CERT_FILE", "HTTPS_PROXY", "HTTP_PROXY", "NO_PROXY":
			continue
		}
		env = append(env, kv)
	}
	env = append(env, "HOME="+home, "GOBIN="+bin, "PATH="+bin+string(os.PathListSeparator)+os.Getenv("PATH"))
	for _, name := range []string{"GOCACHE", "GOMODCACHE", "GOPATH", "GOENV"} {
		env = append(env, name+"="+goEnvSetting(t, name))
	}
	// The one thing the README does not say: free ports instead of 8443-8445.
	env = append(env, "MINT_ADDR=127.0.0.1:0", "MINT_AGENT_ADDR=127.0.0.1:0", "MINT_PROXY_ADDR=127.0.0.1:0")

	if out, err := exec.Command("npm", "config", "get", "cache").Output(); err == nil && strings.TrimSpace(string(out)) != "" {
		env = append(env, "npm_config_cache="+strings.TrimSpace(string(out)), "npm_config_update_notifier=false")
	}
	return env
}

// TestReadmeStorage runs the README's "same story with Storage" as written: Azurite from npm
// (locked) over HTTPS, mint dev forwarding https://devstoreaccount1.blob.core.windows.net to it,
// and the unmodified examples/blob-writer writing and reading a blob there under mint run.
func TestReadmeStorage(t *testing.T) {
	needNode(t)
	for _, tool := range []string{"jq", "openssl"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("the README's Storage section uses %s; install it", tool)
		}
	}
	root := sourceRoot(t)
	readme, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	script, expected := markedScript(t, string(readme), "storage")
	output, runErr, stuck := runDocScript(t, "storage.sh", script, root, readmeEnv(t), 8*time.Minute)
	if stuck {
		t.Errorf("mint dev or Azurite did not stop within 15 s of SIGTERM")
	}
	if runErr != nil {
		t.Fatalf("the Storage section failed: %v\n%s", runErr, output)
	}
	if missing := matchInOrder(expected, output); missing != "" {
		t.Fatalf("the Storage section did not print (in order)\n  %s\noutput:\n%s", missing, output)
	}
	if !strings.Contains(output, "\nhello, Storage\n") || !strings.Contains(output, "https://sts.windows.net/") {
		t.Errorf("the blob was not read back with mint's token:\n%s", output)
	}
}
