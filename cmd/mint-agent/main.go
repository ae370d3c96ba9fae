// Command mint-agent is the lean node agent: `mint agent`'s flags and behaviour without the
// server, the store drivers or the control plane, for the hosts whose workloads it serves.
package main

import (
	"os"

	"github.com/mint-id/mint/internal/cli/agentcmd"
)

func main() {
	os.Exit(agentcmd.Execute(os.Args[1:]))
}
