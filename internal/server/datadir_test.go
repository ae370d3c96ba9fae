package server

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestDataDirLock(t *testing.T) {
	dir := t.TempDir()
	first, err := lockDataDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	_, err = lockDataDir(dir)
	if err == nil || !strings.Contains(err.Error(), "is in use by mint (pid ") || !strings.Contains(err.Error(), "--data-dir") {
		t.Fatalf("second lock: %v, want a refusal naming the first process", err)
	}
	first.release()
	second, err := lockDataDir(dir)
	if err != nil {
		t.Fatalf("after release: %v", err)
	}
	second.release()
}

func TestStaleReadyRemoved(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "ready"), []byte("https://127.0.0.1:1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	removeStale(dir)
	if _, err := os.Stat(filepath.Join(dir, "ready")); !os.IsNotExist(err) {
		t.Errorf("ready left behind: %v", err)
	}
}

// The SQLite database and its -wal and -shm files are 0600; an existing file readable by others
// is refused, like the KEK.
func TestSQLiteFilesArePrivate(t *testing.T) {
	dir := t.TempDir()
	cfg := Config{DataDir: dir}
	st, err := OpenStore(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.ListTenants(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"mint.db", "mint.db-wal", "mint.db-shm"} {
		info, err := os.Stat(filepath.Join(dir, f))
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if perm := info.Mode().Perm(); perm != 0o600 {
			t.Errorf("%s mode %04o, want 0600", f, perm)
		}
	}
	st.Close()
	if err := os.Chmod(filepath.Join(dir, "mint.db"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenStore(context.Background(), cfg); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Errorf("0644 database opened: %v", err)
	}
}
