// Command mint runs managed identities you can run yourself: `mint dev` for a laptop or CI,
// `mint server` for production, and az-shaped verbs that manage them.
package main

import (
	"os"

	"github.com/mint-id/mint/internal/cli"
)

func main() {
	os.Exit(cli.Execute(os.Args[1:]))
}
