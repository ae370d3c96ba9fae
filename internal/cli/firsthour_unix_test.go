//go:build unix

package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// A plain `mint dev` keeps its state in a fresh temporary directory: it says so, and how to come
// back to it, since the next plain start begins with a new tenant and new secrets.
func TestDevSaysHowToKeepAFreshDataDir(t *testing.T) {
	if testing.Short() {
		t.Skip("starts mint dev")
	}
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	out := &lockedBuffer{}
	done := make(chan int, 1)
	go func() {
		done <- execute([]string{"dev", "--log-level", "error", "--addr", "127.0.0.1:0", "--agent-addr", "127.0.0.1:0", "--proxy-addr", "127.0.0.1:0"}, out, out)
	}()
	var dir string
	for deadline := time.Now().Add(60 * time.Second); dir == ""; time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("mint dev did not get ready:\n%s", out.String())
		}
		if m, _ := filepath.Glob(filepath.Join(tmp, "mint-dev-*", "ready")); len(m) == 1 {
			dir = filepath.Dir(m[0])
		}
	}
	syscall.Kill(os.Getpid(), syscall.SIGINT) // mint dev stops on SIGINT; it has registered for it before ready
	if code := <-done; code != 0 {
		t.Errorf("mint dev exited %d", code)
	}
	if want := "To come back to this state:  mint dev --data-dir " + dir; !strings.Contains(out.String(), want) {
		t.Errorf("mint dev printed:\n%s\nwant %q", out.String(), want)
	}
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
