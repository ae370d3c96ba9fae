package server

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/mint-id/mint/internal/directory"
)

// newDevServer opens a server on dir as mint dev would (SQLite, loopback) and bootstraps it.
func newDevServer(t *testing.T, dir string) (*Server, directory.Installation) {
	t.Helper()
	s, err := New(context.Background(), Config{DataDir: dir, Addr: "127.0.0.1:0", CreateKEK: true})
	if err != nil {
		t.Fatal(err)
	}
	in, err := s.Bootstrap(context.Background())
	if err != nil {
		s.close()
		t.Fatal(err)
	}
	return s, in
}

func readDeveloper(t *testing.T, dir string) DeveloperCredentials {
	t.Helper()
	var d DeveloperCredentials
	data, err := os.ReadFile(filepath.Join(dir, DeveloperFile))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &d); err != nil {
		t.Fatal(err)
	}
	return d
}

// The developer's password file always holds a password that works: when the developer is
// made (one Argon2id hash, not two), on a restart that changed nothing (no Argon2id: the
// verified marker matches), after the password was reset in the directory, and after the file
// was edited.
func TestDeveloperPasswordAcrossRestarts(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	works := func(s *Server, d DeveloperCredentials) bool {
		t.Helper()
		u, err := s.Directory.User(ctx, d.ObjectID)
		if err != nil {
			t.Fatal(err)
		}
		ok, err := s.Directory.VerifyPassword(ctx, u, d.Password)
		return err == nil && ok
	}
	start := func() (*Server, DeveloperCredentials) {
		t.Helper()
		s, in := newDevServer(t, dir)
		if _, err := s.EnsureDeveloper(ctx, in); err != nil {
			s.close()
			t.Fatal(err)
		}
		return s, readDeveloper(t, dir)
	}

	s, first := start()
	if !works(s, first) {
		t.Fatal("the new developer's password does not work")
	}
	markerPath := filepath.Join(dir, developerVerifiedFile)
	marker, err := os.ReadFile(markerPath)
	if err != nil {
		t.Fatalf("no verified marker after creating the developer: %v", err)
	}
	before, _ := os.Stat(markerPath)
	s.close()

	s, again := start()
	if again != first {
		t.Fatalf("a restart changed the developer: %+v -> %+v", first, again)
	}
	// A verification would have written the marker again (a new file, renamed into place).
	if after, err := os.Stat(markerPath); err != nil || !os.SameFile(before, after) {
		t.Fatalf("a restart that changed nothing verified the password again (marker rewritten: %v)", err)
	}
	if m, _ := os.ReadFile(markerPath); string(m) != string(marker) {
		t.Fatal("the marker changed")
	}

	// Reset in the directory (a new hash, a new salt): the marker no longer matches, the held
	// password fails, a new one is set and written.
	other := directory.GeneratePassword()
	if _, err := s.Directory.UpdateUser(ctx, first.ObjectID, directory.UserUpdate{Password: &other}); err != nil {
		t.Fatal(err)
	}
	s.close()
	s, reset := start()
	if reset.Password == first.Password || reset.Password == other || !works(s, reset) {
		t.Fatalf("after a reset in the directory the file holds %q (first %q, reset to %q), works %v", reset.Password, first.Password, other, works(s, reset))
	}
	s.close()

	// The file edited by hand to a wrong password: verified, found wrong, replaced.
	edited := reset
	edited.Password = "not-the-password-1A!"
	data, _ := json.Marshal(edited)
	if err := os.WriteFile(filepath.Join(dir, DeveloperFile), data, 0o600); err != nil {
		t.Fatal(err)
	}
	s, fixed := start()
	defer s.close()
	if fixed.Password == edited.Password || !works(s, fixed) {
		t.Fatalf("an edited file was not repaired: %q works %v", fixed.Password, works(s, fixed))
	}
}
