package cli

import (
	"strings"

	"github.com/mint-id/mint/internal/cli/cpuprofile"
)

// startCPUProfile writes a whole-process CPU profile when MINT_CPUPROFILE names a directory:
// <dir>/<subcommand>-<pid>.pprof (cpuprofile.Start).
func startCPUProfile(args []string) (stop func()) {
	name := "mint"
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		name = args[0]
	}
	return cpuprofile.Start(name)
}
