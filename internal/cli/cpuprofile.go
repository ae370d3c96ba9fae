package cli

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime/pprof"
	"strings"
)

// startCPUProfile writes a whole-process CPU profile when MINT_CPUPROFILE names a directory:
// <dir>/<subcommand>-<pid>.pprof, from start to a clean exit (Ctrl-C or SIGTERM for the
// long-running commands). A directory rather than a file because `mint bench` and `mint run`
// start further mint processes, which inherit the variable; each writes its own profile. The
// findings in docs/benchmarks.md were taken this way (go tool pprof -top mint <file>).
func startCPUProfile(args []string) (stop func()) {
	dir := os.Getenv("MINT_CPUPROFILE")
	if dir == "" {
		return func() {}
	}
	name := "mint"
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		name = args[0]
	}
	f, err := os.Create(filepath.Join(dir, fmt.Sprintf("%s-%d.pprof", name, os.Getpid())))
	if err != nil {
		fmt.Fprintln(os.Stderr, "mint: MINT_CPUPROFILE:", err)
		return func() {}
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		fmt.Fprintln(os.Stderr, "mint: MINT_CPUPROFILE:", err)
		f.Close()
		return func() {}
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}
}
