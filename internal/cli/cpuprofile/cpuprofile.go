// Package cpuprofile writes a whole-process CPU profile when MINT_CPUPROFILE names a directory.
// It is shared by mint and the lean mint-agent (which links neither cobra nor internal/cli), so
// that `mint bench` profiles every process it starts, the agent included.
package cpuprofile

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime/pprof"
)

// Start writes <dir>/<name>-<pid>.pprof from now until stop is called (a clean exit: Ctrl-C or
// SIGTERM for the long-running commands). A directory rather than a file because `mint bench`
// and `mint run` start further processes, which inherit the variable; each writes its own
// profile. The findings in docs/benchmarks.md were taken this way (go tool pprof -top <binary>
// <file>). Without MINT_CPUPROFILE it does nothing.
func Start(name string) (stop func()) {
	dir := os.Getenv("MINT_CPUPROFILE")
	if dir == "" {
		return func() {}
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
