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

	"github.com/mint-id/mint/internal/cli/flagenv"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// Execute runs the command line and returns the process exit code.
func Execute(args []string) int {
	defer startCPUProfile(args)()
	root := newRoot(args)
	root.SetArgs(args)
	if err := root.Execute(); err != nil {
		var ex *exitError
		if errors.As(err, &ex) {
			return ex.code
		}
		var usage *usageError
		if errors.As(err, &usage) {
			fmt.Fprintln(os.Stderr, "error:", err)
			return 2 // az's exit status for a command line it cannot parse
		}
		fmt.Fprintln(os.Stderr, "error:", err)
		return 1
	}
	return 0
}

type exitError struct{ code int }

// usageError is a command line mint cannot run (an unknown command, format or malformed query):
// exit status 2, as az.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usageErrorf(format string, args ...any) error { return &usageError{fmt.Sprintf(format, args...)} }

func (e *exitError) Error() string { return fmt.Sprintf("exit status %d", e.code) }

// newRoot builds the command tree for args. `mint run` (and the bench's workload, `mint
// bench-token`) stand between a program's start and its first token: for them only their own
// command is built, not the tree of every command's flags (over half of `mint run`'s CPU in
// its profile). Both are leaves without subcommands, so they parse and print help alike.
func newRoot(args []string) *cobra.Command {
	root := &cobra.Command{
		Use:           "mint",
		Short:         "Managed identities you can run yourself",
		Long:          "mint gives any machine Azure's managed-identity system: an Entra-compatible token service, an ARM-shaped control plane and the managed-identity endpoints, spoken on Azure's wire protocols.",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	if len(args) > 0 {
		switch args[0] {
		case "run":
			root.AddCommand(newRunCmd())
			return root
		case "bench-token":
			root.AddCommand(newBenchTokenCmd())
			return root
		}
	}
	root.AddCommand(newDevCmd(), newServerCmd(), newInitCmd(), newKeysCmd(), newADCmd(), newSignInLogCmd(), newBenchCmd(), newAgentCmd(), newRunCmd(), newNodeCmd())
	root.AddCommand(newEnvCmd(), newLoginCmd(), newLogoutCmd())
	root.AddCommand(newRoleCmd(), newActivityLogCmd())
	root.AddCommand(newGroupCmd(), newIdentityCmd(), newResourceCmd())
	root.AddCommand(newKeyVaultCmd())
	root.AddCommand(newBenchTokenCmd())
	suggestAtEveryLevel(root)
	return root
}

// suggestAtEveryLevel makes every command group (a command with subcommands and nothing to run
// itself) answer an unknown subcommand as az does, at any depth: "'craete' is misspelled or not
// recognized by the system. Did you mean 'create' ?", exit status 2. Without this, cobra
// suggests only at the top level, parses the group's flags first ("unknown shorthand flag") and
// exits 0 after printing the group's help.
func suggestAtEveryLevel(cmd *cobra.Command) {
	for _, sub := range cmd.Commands() {
		suggestAtEveryLevel(sub)
	}
	if !cmd.HasSubCommands() || cmd.Runnable() {
		return
	}
	cmd.DisableFlagParsing = true // the flags belong to the subcommand the user meant
	cmd.SuggestionsMinimumDistance = 2
	cmd.Args = cobra.ArbitraryArgs
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
			return cmd.Help()
		}
		typed := args[0]
		msg := fmt.Sprintf("'%s' is misspelled or not recognized by the system.", typed)
		if strings.HasPrefix(typed, "-") {
			msg = fmt.Sprintf("'%s' needs a subcommand before its arguments.", cmd.CommandPath())
		} else if s := cmd.SuggestionsFor(typed); len(s) > 0 {
			msg += fmt.Sprintf("\nDid you mean '%s' ?", s[0])
		}
		return usageErrorf("%s\nSee '%s --help' for its commands.", msg, cmd.CommandPath())
	}
}

// envDefaults fills unset flags from MINT_<FLAG> variables (dashes become underscores), so every
// flag has an environment fallback.
func envDefaults(fs *pflag.FlagSet) error { return flagenv.Apply(fs) }

func durationFlag(fs *pflag.FlagSet, p *time.Duration, name string, def time.Duration, usage string) {
	fs.DurationVar(p, name, def, usage)
}
