// Package cli is mint's command line: `mint dev` and `mint server` start the service, the other
// verbs are shaped like az's and are clients of mint's HTTP endpoints (the Graph-shaped
// directory API, and the management endpoint), authenticated with the real azidentity client.
package cli

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// Execute runs the command line and returns the process exit code.
func Execute(args []string) int {
	root := newRoot()
	root.SetArgs(args)
	if err := root.Execute(); err != nil {
		var ex *exitError
		if errors.As(err, &ex) {
			return ex.code
		}
		fmt.Fprintln(os.Stderr, "error:", err)
		return 1
	}
	return 0
}

type exitError struct{ code int }

func (e *exitError) Error() string { return fmt.Sprintf("exit status %d", e.code) }

func newRoot() *cobra.Command {
	root := &cobra.Command{
		Use:           "mint",
		Short:         "Managed identities you can run yourself",
		Long:          "mint gives any machine Azure's managed-identity system: an Entra-compatible token service, an ARM-shaped control plane and the managed-identity endpoints, spoken on Azure's wire protocols.",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(newDevCmd(), newServerCmd(), newInitCmd(), newKeysCmd(), newADCmd(), newSignInLogCmd(), newBenchCmd(), newAgentCmd(), newRunCmd(), newNodeCmd())
	root.AddCommand(newEnvCmd())
	root.AddCommand(newRoleCmd(), newActivityLogCmd())
	root.AddCommand(newGroupCmd(), newIdentityCmd(), newResourceCmd())
	root.AddCommand(newKeyVaultCmd())
	root.AddCommand(newBenchTokenCmd())
	return root
}

// envDefaults fills unset flags from MINT_<FLAG> variables (dashes become underscores), so every
// flag has an environment fallback.
func envDefaults(fs *pflag.FlagSet) error {
	var err error
	fs.VisitAll(func(f *pflag.Flag) {
		if f.Changed || err != nil {
			return
		}
		name := "MINT_" + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
		if v, ok := os.LookupEnv(name); ok {
			if e := fs.Set(f.Name, v); e != nil {
				err = fmt.Errorf("%s=%q: %w", name, v, e)
			}
		}
	})
	return err
}

func durationFlag(fs *pflag.FlagSet, p *time.Duration, name string, def time.Duration, usage string) {
	fs.DurationVar(p, name, def, usage)
}
