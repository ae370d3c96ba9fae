package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/mint-id/mint/internal/server"
)

// mint keys rotate never creates a store: without the server's SQLite file it refuses (it once
// rotated a fresh, empty SQLite store in the data directory of a server on PostgreSQL).
func TestKeysRotateRefusesWithoutAStore(t *testing.T) {
	dir := t.TempDir()
	cmd := newKeysCmd()
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	cmd.SetArgs([]string{"rotate", "--data-dir", dir})
	err := cmd.Execute()
	if err == nil || !strings.Contains(err.Error(), "no SQLite store at "+filepath.Join(dir, "mint.db")) {
		t.Fatalf("err %v", err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("left %d files in the data directory", len(entries))
	}
	// Its help lists only its own flags.
	cmd = newKeysCmd()
	cmd.SetOut(&out)
	cmd.SetArgs([]string{"rotate", "--help"})
	out.Reset()
	_ = cmd.Execute()
	for _, unused := range []string{"--addr", "--tls-cert-file", "--log-level", "--public-url", "--max-conns"} {
		if strings.Contains(out.String(), unused) {
			t.Errorf("help lists %s, which rotate does not use", unused)
		}
	}
}

// Rotating twice in one second rotates twice, and each run prints the key that now signs.
func TestKeysRotateTwiceInOneSecond(t *testing.T) {
	dir := t.TempDir()
	run := func(c *cobra.Command, args ...string) string {
		t.Helper()
		var out, errOut bytes.Buffer
		c.SetOut(&out)
		c.SetErr(&errOut) // warnings only: the key manager logs at warn level here
		c.SetArgs(args)
		if err := c.Execute(); err != nil {
			t.Fatalf("%v: %v\n%s%s", args, err, out.String(), errOut.String())
		}
		if strings.Contains(errOut.String(), "level=INFO") {
			t.Errorf("%v logged at info level:\n%s", args, errOut.String())
		}
		return out.String()
	}
	run(newInitCmd(), "--data-dir", dir)
	st, err := server.OpenStore(context.Background(), server.Config{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	st.Close()
	first := run(newKeysCmd(), "rotate", "--data-dir", dir)
	second := run(newKeysCmd(), "rotate", "--data-dir", dir)
	if !strings.HasPrefix(first, "rotated: ") || first == second {
		t.Errorf("two rotations printed %q and %q: want two different keys", first, second)
	}
}
