package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
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
