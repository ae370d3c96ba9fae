package cli

import (
	"bytes"
	"fmt"
	"net"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// runMint runs one mint command line in-process, as the binary would.
func runMint(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = execute(args, &out, &errOut)
	return out.String(), errOut.String(), code
}

// The messages a new user meets in the first hour say what to do, in az's words where az has
// them, and never only a Go error.
func TestFirstHourMessagesSayWhatToDo(t *testing.T) {
	dead := t.TempDir()
	for _, tc := range []struct {
		args []string
		code int
		want []string
	}{
		// cobra said: required flag(s) "resource-group" not set
		{[]string{"identity", "create", "-n", "x"}, 2, []string{"error: the following arguments are required: --resource-group/-g\n", "mint identity create --help"}},
		{[]string{"ad", "user", "create"}, 2, []string{"the following arguments are required: --display-name, --password, --user-principal-name"}},
		// cobra said: requires at least 1 arg(s), only received 0
		{[]string{"run", "--resource", "/subscriptions/s/resourceGroups/g/providers/Microsoft.App/containerApps/web"}, 2, []string{"name the program to run", "-- ./app"}},
		// it said: connect to the mint agent at …: dial unix …: connect: no such file or directory
		{[]string{"run", "--socket", filepath.Join(dead, "agent.sock"), "--resource", "/x", "--", "true"}, 1, []string{"no mint agent answers at " + filepath.Join(dead, "agent.sock"), "start mint dev", "--socket"}},
		// cobra and pflag said: unknown command "extra" for "mint identity list", unknown flag:
		// --only-show-errors, flag needs an argument: 'g' in -g (exit 1)
		{[]string{"identity", "list", "extra"}, 2, []string{"error: unrecognized arguments: extra\n", "mint identity list --help"}},
		{[]string{"identity", "list", "--only-show-errors"}, 2, []string{"error: unrecognized arguments: --only-show-errors\n"}},
		{[]string{"identity", "list", "-x"}, 2, []string{"error: unrecognized arguments: -x\n"}},
		{[]string{"identity", "list", "-g"}, 2, []string{"error: argument --resource-group/-g: expected one argument\n"}},
		{[]string{"identity", "show", "--ids"}, 2, []string{"error: argument --ids: expected one argument\n"}},
		// mint --version was "'mint' needs a subcommand before its arguments"
		{[]string{"--version"}, 0, nil},
		{[]string{"version"}, 0, nil},
	} {
		stdout, stderr, code := runMint(t, tc.args...)
		if code != tc.code {
			t.Errorf("mint %s: exit %d, want %d (%s)", strings.Join(tc.args, " "), code, tc.code, stderr)
		}
		for _, w := range tc.want {
			if !strings.Contains(stderr, w) {
				t.Errorf("mint %s:\n%s\nwant %q", strings.Join(tc.args, " "), stderr, w)
			}
		}
		if tc.args[len(tc.args)-1] == "version" || tc.args[0] == "--version" {
			if !strings.HasPrefix(stdout, "mint ") || !strings.Contains(stdout, "go1.") {
				t.Errorf("mint %s printed %q", tc.args[0], stdout)
			}
		}
	}
	// Not signed in: the way to the environment of a running mint dev is named.
	home := t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv("MINT_CONFIG_DIR", home)
	for _, name := range []string{"MINT_ENDPOINT", "MINT_CA_FILE", "AZURE_TENANT_ID", "AZURE_CLIENT_ID", "AZURE_CLIENT_SECRET", "AZURE_CLIENT_CERTIFICATE_PATH"} {
		t.Setenv(name, "")
	}
	t.Setenv("MINT_DATA_DIR", "")
	if _, stderr, code := runMint(t, "group", "list"); code != 1 || !strings.Contains(stderr, "not signed in") || !strings.Contains(stderr, "export MINT_DATA_DIR=") || !strings.Contains(stderr, "mint login") {
		t.Errorf("not signed in: exit %d: %s", code, stderr)
	}
	// MINT_DATA_DIR of no mint dev: it said "read env file: open …/env: no such file or directory"
	t.Setenv("MINT_DATA_DIR", dead)
	if _, stderr, code := runMint(t, "group", "list"); code != 1 || !strings.Contains(stderr, "no mint dev has run with --data-dir "+dead) || !strings.Contains(stderr, "mint dev --data-dir "+dead) {
		t.Errorf("a data directory without an environment: exit %d: %s", code, stderr)
	}
	if err := explainRun("s", "nosuch-program", fmt.Errorf("mint run: %w", &exec.Error{Name: "nosuch-program", Err: exec.ErrNotFound})); err == nil || !strings.Contains(err.Error(), `cannot find the program "nosuch-program" on PATH`) {
		t.Errorf("a missing program: %v", err)
	}
}

// A port in use names its flag and the way out, for each listener of mint dev.
func TestDevNamesTheAddressInUse(t *testing.T) {
	if testing.Short() {
		t.Skip("starts mint dev's store")
	}
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	addr := busy.Addr().String()
	for _, flag := range []string{"addr", "agent-addr", "proxy-addr"} {
		args := []string{"dev", "--data-dir", t.TempDir(), "--log-level", "error", "--addr", "127.0.0.1:0", "--agent-addr", "127.0.0.1:0", "--proxy-addr", "127.0.0.1:0"}
		for i, a := range args {
			if a == "--"+flag {
				args[i+1] = addr
			}
		}
		_, stderr, code := runMint(t, args...)
		want := addr + " (--" + flag + ") is already in use by another program"
		if code != 1 || !strings.Contains(stderr, want) || !strings.Contains(stderr, "--"+flag+" 127.0.0.1:0 picks a free port") {
			t.Errorf("--%s busy: exit %d\n%s\nwant %q", flag, code, stderr, want)
		}
	}
}

// Every example in --help names a command that exists, with flags it has and the ones it
// requires; the commands of the README's quickstart and of a first hour all have examples.
func TestHelpExamplesParse(t *testing.T) {
	root := newRoot(nil)
	for path := range examples {
		cmd, _, err := root.Find(strings.Fields(path)[1:])
		if err != nil || cmd.CommandPath() != path {
			t.Errorf("examples has %q, which is not a command", path)
		}
	}
	for _, path := range []string{"mint dev", "mint env", "mint run", "mint login", "mint group create", "mint identity create",
		"mint identity show", "mint resource create", "mint resource identity assign", "mint keyvault create",
		"mint keyvault secret set", "mint keyvault secret show", "mint role assignment create", "mint role assignment delete",
		"mint role check", "mint signin-log list", "mint activity-log list", "mint server", "mint init", "mint agent",
		"mint node join-token create", "mint ad user create", "mint ad group member add"} {
		if ex := examples[path]; ex == "" {
			t.Errorf("%s --help has no examples", path)
		}
	}
	for path, ex := range examples {
		for _, line := range strings.Split(ex, "\n") {
			for _, call := range mintCalls(line) {
				words, err := shellWords(call)
				if err != nil {
					t.Errorf("%s: %q: %v", path, call, err)
					continue
				}
				root := newRoot(words[1:])
				cmd, rest, err := root.Find(azArgs(root, words[1:]))
				if err != nil || !cmd.Runnable() || cmd.HasSubCommands() {
					t.Errorf("%s: %q names no command (%v)", path, call, err)
					continue
				}
				if err := cmd.ParseFlags(rest); err != nil {
					t.Errorf("%s: %q: %v", path, call, err)
					continue
				}
				if err := cmd.ValidateRequiredFlags(); err != nil {
					t.Errorf("%s: %q: %v", path, call, err)
				}
				if err := cmd.ValidateArgs(cmd.Flags().Args()); err != nil {
					t.Errorf("%s: %q: %v", path, call, err)
				}
			}
		}
	}
	// And --help shows them.
	stdout, _, _ := runMint(t, "identity", "create", "--help")
	if !strings.Contains(stdout, "Examples:\n  mint identity create -g app -n web-id\n") {
		t.Errorf("mint identity create --help:\n%s", stdout)
	}
}

// mintCalls finds the mint command lines in one line of shell: the line itself, a stage of a
// pipe, or a $(...) substitution.
func mintCalls(line string) []string {
	line = strings.TrimSpace(line)
	if strings.HasPrefix(line, "#") {
		return nil
	}
	var calls []string
	for rest := line; ; {
		i := strings.Index(rest, "$(mint ")
		if i < 0 {
			break
		}
		end := strings.Index(rest[i:], ")")
		calls = append(calls, rest[i+2:i+end])
		line = strings.Replace(line, rest[i:i+end+1], "X", 1)
		rest = rest[i+end+1:]
	}
	for _, stage := range strings.Split(line, " | ") {
		if stage = strings.TrimSpace(stage); strings.HasPrefix(stage, "mint ") {
			calls = append(calls, stage)
		}
	}
	return calls
}

// shellWords splits a command line as sh does for the quoting examples use: '...' and "...".
func shellWords(s string) ([]string, error) {
	var words []string
	var word strings.Builder
	inWord := false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\'' || c == '"':
			end := strings.IndexByte(s[i+1:], c)
			if end < 0 {
				return nil, fmt.Errorf("unclosed %c", c)
			}
			word.WriteString(s[i+1 : i+1+end])
			i += end + 1
			inWord = true
		case c == ' ' || c == '\t':
			if inWord {
				words = append(words, word.String())
				word.Reset()
				inWord = false
			}
		default:
			word.WriteByte(c)
			inWord = true
		}
	}
	if inWord {
		words = append(words, word.String())
	}
	return words, nil
}

// az's flag habits: a boolean's value as the next word, a list's values as the following words.
func TestAzFlagSpellings(t *testing.T) {
	root := newRoot(nil)
	for _, tc := range []struct{ in, want string }{
		// "unknown command \"false\" for \"mint ad user update\"" before
		{"ad user update --id ada --account-enabled false", "ad user update --id ada --account-enabled=false"},
		{"ad user update --id ada --account-enabled True -o none", "ad user update --id ada --account-enabled=true -o none"},
		{"ad user update --id ada --account-enabled --display-name x", "ad user update --id ada --account-enabled --display-name x"},
		// pflag took only [system], then "unknown command \"web-id\""
		{"resource create --type T -g app -n web --assign-identity [system] web-id -o table",
			"resource create --type T -g app -n web --assign-identity [system] --assign-identity web-id -o table"},
		{"group create -n app --tags env=dev team=web", "group create -n app --tags env=dev --tags team=web"},
		{"group create -n app --tags=env=dev team=web", "group create -n app --tags=env=dev --tags team=web"},
		// mint run's program keeps its words
		{"run --resource /x -- app --account-enabled false", "run --resource /x -- app --account-enabled false"},
		{"identity list -- --tags a b", "identity list -- --tags a b"},
	} {
		if got := strings.Join(azArgs(root, strings.Fields(tc.in)), " "); got != tc.want {
			t.Errorf("%s\n got %s\nwant %s", tc.in, got, tc.want)
		}
	}
}

func FuzzAzArgs(f *testing.F) {
	for _, s := range []string{"group create -n a --tags x y", "ad user update --account-enabled false", "run -- a b", "--tags", "x --tags= -- --y"} {
		f.Add(s)
	}
	root := newRoot(nil)
	f.Fuzz(func(t *testing.T, line string) {
		args := strings.Fields(line)
		once := azArgs(root, args) // never panics
		if twice := azArgs(root, once); !slices.Equal(once, twice) {
			t.Errorf("%q: rewritten %q, then again %q", args, once, twice)
		}
	})
}
