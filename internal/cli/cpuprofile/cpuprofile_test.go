package cpuprofile

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// With MINT_CPUPROFILE naming a directory, Start writes <dir>/<name>-<pid>.pprof when stopped.
func TestStartWritesAProfileNamedForTheProcess(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("MINT_CPUPROFILE", dir)
	Start("mint-agent")()
	path := filepath.Join(dir, fmt.Sprintf("mint-agent-%d.pprof", os.Getpid()))
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Size() == 0 {
		t.Errorf("%s is empty", path)
	}

}
