package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestProfileOpenToOthersIsRefused(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "mint")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "profile.json")
	if err := os.WriteFile(path, []byte(`{"endpoint":"https://x"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("MINT_CONFIG_DIR", dir)
	if p, err := loadProfile(); err != nil || p == nil || p.Endpoint != "https://x" {
		t.Fatalf("a private profile: %+v, %v", p, err)
	}
	for _, c := range []struct {
		path      string
		mode      os.FileMode
		fix       string
		fileOrDir string
		restoreTo os.FileMode
	}{
		{path, 0o644, "chmod 600", "file", 0o600},
		{path, 0o604, "chmod 600", "file", 0o600},
		{path, 0o620, "chmod 600", "file", 0o600},
		{dir, 0o750, "chmod 700", "directory", 0o700},
		{dir, 0o701, "chmod 700", "directory", 0o700},
	} {
		os.Chmod(c.path, c.mode)
		_, err := loadProfile()
		if err == nil || !strings.Contains(err.Error(), c.fix) || !strings.Contains(err.Error(), c.fileOrDir+" "+c.path) {
			t.Errorf("%s mode %04o: %v", c.path, c.mode, err)
		}
		p := &profile{Endpoint: "https://y"}
		if c.fileOrDir == "directory" {
			if _, err := p.save(); err == nil {
				t.Errorf("saved a profile into a directory of mode %04o", c.mode)
			}
		}
		os.Chmod(c.path, c.restoreTo)
	}
	// No profile at all is not an error.
	os.Remove(path)
	if p, err := loadProfile(); p != nil || err != nil {
		t.Errorf("no profile: %+v, %v", p, err)
	}
}
