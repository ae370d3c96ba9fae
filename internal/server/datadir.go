package server

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"
)

// The data directory is one process's: `mint dev` and `mint server` on SQLite hold an exclusive
// lock on <data-dir>/lock for their lifetime (released by the kernel if the process dies), so a
// second one refuses to start instead of rewriting env and, on exit, deleting the first one's
// ready file and socket. The lock file names the holder.

// dataDirLock is a held lock; release gives it up.
type dataDirLock struct{ f *os.File }

// lockDataDir takes the data directory's lock, or says which process holds it.
func lockDataDir(dir string) (*dataDirLock, error) {
	path := filepath.Join(dir, "lock")
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	if err := tryLock(f); err != nil {
		holder, _ := os.ReadFile(path)
		f.Close()
		if errors.Is(err, errLocked) {
			who := strings.TrimSpace(string(holder))
			if who == "" {
				who = "another mint process"
			}
			return nil, fmt.Errorf("data directory %s is in use by %s; stop it, or give this one another --data-dir", dir, who)
		}
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	_ = f.Truncate(0)
	_, _ = f.WriteAt([]byte(fmt.Sprintf("mint (pid %d, started %s)\n", os.Getpid(), time.Now().UTC().Format(time.RFC3339))), 0)
	return &dataDirLock{f: f}, nil
}

func (l *dataDirLock) release() {
	if l != nil && l.f != nil {
		_ = l.f.Truncate(0)
		_ = l.f.Close() // closing the descriptor releases the lock
		l.f = nil
	}
}

// removeStale removes the ready marker a process that died without cleaning up (kill -9) left
// behind, which scripts wait for. The caller holds the lock, so it is nobody else's. The env file
// stays: it holds the only clear copy of the admin secret, which mint dev reuses, and mint dev
// rewrites it (atomically) before marking ready.
func removeStale(dir string) {
	_ = os.Remove(filepath.Join(dir, "ready"))
}

// prepareSQLiteFiles makes sure the database and its -wal and -shm files are private like the
// KEK: an existing file readable by group or others is refused (with the chmod that fixes it),
// and a new database file is created 0600 before SQLite opens it, which makes SQLite create its
// -wal and -shm files with the same mode.
func prepareSQLiteFiles(path string) error {
	files := []string{path, path + "-wal", path + "-shm"}
	for _, f := range files {
		info, err := os.Stat(f)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return fmt.Errorf("database file %s: %w", f, err)
		}
		if runtime.GOOS == "windows" {
			continue
		}
		if perm := info.Mode().Perm(); perm&0o077 != 0 {
			return fmt.Errorf("database file %s is readable by group or others (mode %04o); run: chmod 600 %s", f, perm, strings.Join(files, " "))
		}
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("create %s: %w", filepath.Dir(path), err)
	}
	fh, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("create database file %s: %w", path, err)
	}
	return fh.Close()
}
