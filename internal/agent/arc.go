package agent

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// ArcTokenDir is where Azure Arc clients expect challenge key files on Linux: MSAL Go and
// msal-node refuse a realm outside it. The agent uses it by default when running as root.
const ArcTokenDir = "/var/opt/azcmagent/tokens"

const (
	arcChallengeTTL = time.Minute
	arcMaxPending   = 1024
)

// arcKeys implements Arc's proof that the caller is a permitted local user: a 401 names a fresh
// key file that only root and the permitted user can read (mode 0600 in a 0700 directory); the
// client reads it and repeats the request with "Authorization: Basic <contents>". Each key is
// accepted once.
type arcKeys struct {
	dir string
	uid int // owner of the directory and files; -1: the agent's own user

	mu      sync.Mutex
	pending map[string]arcKey // contents → key
}

type arcKey struct {
	path    string
	expires time.Time
}

// defaultArcKeyDir is Arc's directory for root, else a per-user directory under the temp dir
// (clients other than Python only accept Arc's directory, so non-root agents serve Python only).
func defaultArcKeyDir() string {
	if os.Geteuid() == 0 {
		return ArcTokenDir
	}
	return filepath.Join(os.TempDir(), "mint-arc-"+strconv.Itoa(os.Geteuid()))
}

func newArcKeys(dir string, uid int) (*arcKeys, error) {
	if dir == "" {
		dir = defaultArcKeyDir()
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("arc key directory: %w", err)
	}
	fi, err := os.Lstat(dir)
	if err != nil {
		return nil, fmt.Errorf("arc key directory: %w", err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("arc key directory %s is not a directory", dir)
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		owner := os.Geteuid()
		if int(st.Uid) != owner && (uid < 0 || int(st.Uid) != uid) {
			return nil, fmt.Errorf("arc key directory %s is owned by uid %d, not by the agent's user", dir, st.Uid)
		}
	}
	if uid >= 0 {
		if err := os.Chown(dir, uid, -1); err != nil {
			return nil, fmt.Errorf("arc key directory: %w", err)
		}
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		return nil, fmt.Errorf("arc key directory: %w", err)
	}
	return &arcKeys{dir: dir, uid: uid, pending: map[string]arcKey{}}, nil
}

var errArcBusy = errors.New("too many outstanding Azure Arc challenges")

// issue writes a new key file and returns its path for the realm.
func (k *arcKeys) issue(now time.Time) (string, error) {
	var name, secret [24]byte
	if _, err := rand.Read(name[:]); err != nil {
		return "", err
	}
	if _, err := rand.Read(secret[:]); err != nil {
		return "", err
	}
	contents := base64.RawURLEncoding.EncodeToString(secret[:])
	path := filepath.Join(k.dir, hex.EncodeToString(name[:])+".key")

	k.mu.Lock()
	k.sweepLocked(now)
	if len(k.pending) >= arcMaxPending {
		k.mu.Unlock()
		return "", errArcBusy
	}
	k.pending[contents] = arcKey{path: path, expires: now.Add(arcChallengeTTL)}
	k.mu.Unlock()

	if err := k.write(path, contents); err != nil {
		k.mu.Lock()
		delete(k.pending, contents)
		k.mu.Unlock()
		return "", err
	}
	return path, nil
}

func (k *arcKeys) write(path, contents string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("write arc key: %w", err)
	}
	if k.uid >= 0 {
		if err := f.Chown(k.uid, -1); err != nil {
			f.Close()
			os.Remove(path)
			return fmt.Errorf("write arc key: %w", err)
		}
	}
	if _, err := f.WriteString(contents); err != nil {
		f.Close()
		os.Remove(path)
		return fmt.Errorf("write arc key: %w", err)
	}
	return f.Close()
}

// redeem accepts a key once and removes its file.
func (k *arcKeys) redeem(contents string, now time.Time) bool {
	k.mu.Lock()
	key, ok := k.pending[contents]
	if ok {
		delete(k.pending, contents)
	}
	k.mu.Unlock()
	if !ok {
		return false
	}
	os.Remove(key.path)
	return now.Before(key.expires)
}

func (k *arcKeys) sweep(now time.Time) {
	k.mu.Lock()
	k.sweepLocked(now)
	k.mu.Unlock()
}

func (k *arcKeys) sweepLocked(now time.Time) {
	for c, key := range k.pending {
		if !now.Before(key.expires) {
			os.Remove(key.path)
			delete(k.pending, c)
		}
	}
}

// close removes every outstanding key file.
func (k *arcKeys) close() {
	k.mu.Lock()
	defer k.mu.Unlock()
	for c, key := range k.pending {
		os.Remove(key.path)
		delete(k.pending, c)
	}
}
