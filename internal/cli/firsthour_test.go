package cli

import (
	"bytes"
	"fmt"
	"net"
	"os/exec"
	"path/filepath"
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
