package cli

import (
	"fmt"
	"os"
	"path/filepath"
)

// checkProfilePerms refuses a profile that others could read or replace: the file and its
// directory must be owned by this user and give group and others nothing (the file 0600, the
// directory 0700 as mint login makes them). ssh refuses private keys the same way; the profile
// holds a credential as a key file does.
func checkProfilePerms(path string) error {
	if err := checkProfileDir(filepath.Dir(path)); err != nil {
		return err
	}
	return checkPrivate(path, "file", "chmod 600")
}

func checkProfileDir(dir string) error { return checkPrivate(dir, "directory", "chmod 700") }

func checkPrivate(path, what, fix string) error {
	info, err := os.Stat(path)
	if err != nil {
		return err
	}
	if perm := info.Mode().Perm(); perm&0o077 != 0 {
		return fmt.Errorf("refusing the mint login profile: %s %s has mode %04o, open to others; it holds a credential (%s %s, or mint logout and sign in again)",
			what, path, perm, fix, path)
	}
	if uid, ok := fileOwner(info); ok && uid != os.Getuid() {
		return fmt.Errorf("refusing the mint login profile: %s %s is owned by uid %d, not by you (uid %d); it holds a credential (mint logout and sign in again)",
			what, path, uid, os.Getuid())
	}
	return nil
}
