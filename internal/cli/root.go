// Package cli is mint's command line: `mint dev` and `mint server` start the service, the other
// verbs are shaped like az's and are clients of mint's HTTP endpoints (the Graph-shaped
// directory API, and the management endpoint), authenticated with the real azidentity client.
package cli

import (
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"runtime/debug"
	"strings"
	"time"

	"github.com/mint-id/mint/internal/cli/flagenv"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// Execute runs the command line and returns the process exit code.
func Execute(args []string) int {
	defer startCPUProfile(args)()
	return execute(args, os.Stdout, os.Stderr)
}

// execute runs one command line with its output on stdout and stderr (tests run it in-process).
func execute(args []string, stdout, stderr io.Writer) int {
	root := newRoot(args)
	root.SetArgs(azArgs(root, args))
	root.SetOut(stdout)
	root.SetErr(stderr)
	cmd, err := root.ExecuteC()
	if err == nil {
		return 0
	}
	var ex *exitError
	if errors.As(err, &ex) {
		return ex.code
	}
	if usage := requiredFlagsError(cmd, err); usage != nil {
		err = usage
	} else if usage := parseError(cmd, err); usage != nil {
		err = usage
	}
	fmt.Fprintln(stderr, "error:", err)
	var usage *usageError
	if errors.As(err, &usage) {
		return 2 // az's exit status for a command line it cannot parse
	}
	return 1
}

// azArgs rewrites az's spellings of flag values into pflag's, so that az habits work:
//   - a boolean flag takes true or false as the next word (`--account-enabled false`), where
//     pflag would read that word as an argument ("unknown command \"false\"");
//   - a list flag takes every following word up to the next flag (`--assign-identity [system]
//     web-id`, `--tags env=dev team=web`), where pflag takes one.
//
// Only mint run takes arguments (its program's command line, left alone); every other command
// refuses them, so no argument is taken for a value by mistake.
func azArgs(root *cobra.Command, args []string) []string {
	cmd, _, err := root.Find(args)
	if err != nil || cmd.Name() == "run" {
		return args
	}
	out := make([]string, 0, len(args))
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			return append(out, args[i:]...)
		}
		name, ok := strings.CutPrefix(a, "--")
		if !ok {
			out = append(out, a)
			continue
		}
		name, _, hasValue := strings.Cut(name, "=")
		f := cmd.Flag(name)
		switch {
		case f == nil:
			out = append(out, a)
		case f.Value.Type() == "bool":
			if v := ""; !hasValue && i+1 < len(args) {
				if v = strings.ToLower(args[i+1]); v == "true" || v == "false" {
					out = append(out, a+"="+v)
					i++
					continue
				}
			}
			out = append(out, a)
		case strings.HasSuffix(f.Value.Type(), "Slice") || strings.HasSuffix(f.Value.Type(), "Array"):
			out = append(out, a)
			if !hasValue && i+1 < len(args) {
				out = append(out, args[i+1])
				i++
			}
			for i+1 < len(args) && !strings.HasPrefix(args[i+1], "-") {
				out = append(out, "--"+name, args[i+1])
				i++
			}
		default:
			out = append(out, a)
		}
	}
	return out
}

var (
	unknownCommandRE = regexp.MustCompile(`^unknown command "(.*)" for "[^"]*"$`)
	unknownFlagRE    = regexp.MustCompile(`^unknown (?:shorthand )?flag: (?:'(.)' in )?(-\S+)$`)
	needsArgumentRE  = regexp.MustCompile(`^flag needs an argument: (?:'(.)' in -.|--(\S+))$`)
)

// parseError words cobra's and pflag's refusals of a command line as az's, exit status 2:
// "unrecognized arguments: x" for a word or flag the command does not take, "argument
// --resource-group/-g: expected one argument" for a flag without its value; nil for others.
func parseError(cmd *cobra.Command, err error) error {
	if cmd == nil {
		return nil
	}
	msg := err.Error()
	hint := fmt.Sprintf("See '%s --help'.", cmd.CommandPath())
	if m := unknownCommandRE.FindStringSubmatch(msg); m != nil && !cmd.HasSubCommands() {
		return usageErrorf("unrecognized arguments: %s\n%s", m[1], hint)
	}
	if m := unknownFlagRE.FindStringSubmatch(msg); m != nil {
		return usageErrorf("unrecognized arguments: %s\n%s", m[2], hint)
	}
	if m := needsArgumentRE.FindStringSubmatch(msg); m != nil {
		var f *pflag.Flag
		if m[1] != "" {
			f = cmd.Flags().ShorthandLookup(m[1])
		} else {
			f = cmd.Flags().Lookup(m[2])
		}
		if f != nil {
			spelled := "--" + f.Name
			if f.Shorthand != "" {
				spelled += "/-" + f.Shorthand
			}
			return usageErrorf("argument %s: expected one argument\n%s", spelled, hint)
		}
	}
	return nil
}

// requiredFlagsError words cobra's `required flag(s) "resource-group", "name" not set` as az
// does, with each flag's short form, and points at the command's examples; nil for other errors.
func requiredFlagsError(cmd *cobra.Command, err error) error {
	const prefix = "required flag(s) "
	msg := err.Error()
	if cmd == nil || !strings.HasPrefix(msg, prefix) || !strings.HasSuffix(msg, " not set") {
		return nil
	}
	var names []string
	for _, quoted := range strings.Split(strings.TrimSuffix(strings.TrimPrefix(msg, prefix), " not set"), ", ") {
		name := strings.Trim(quoted, `"`)
		spelled := "--" + name
		if f := cmd.Flags().Lookup(name); f != nil && f.Shorthand != "" {
			spelled += "/-" + f.Shorthand
		}
		names = append(names, spelled)
	}
	hint := fmt.Sprintf("See '%s --help'", cmd.CommandPath())
	if cmd.HasExample() {
		hint += " for examples"
	}
	return usageErrorf("the following arguments are required: %s\n%s.", strings.Join(names, ", "), hint)
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
		Version:       version(),
	}
	if len(args) > 0 {
		switch args[0] {
		case "run":
			root.AddCommand(newRunCmd())
			addExamples(root)
			return root
		case "bench-token":
			root.AddCommand(newBenchTokenCmd())
			return root
		}
	}
	root.AddCommand(newDevCmd(), newServerCmd(), newInitCmd(), newKeysCmd(), newADCmd(), newSignInLogCmd(), newBenchCmd(), newAgentCmd(), newRunCmd(), newNodeCmd())
	root.AddCommand(newEnvCmd(), newLoginCmd(), newLogoutCmd(), newAccountCmd())
	root.AddCommand(newRoleCmd(), newActivityLogCmd())
	root.AddCommand(newGroupCmd(), newIdentityCmd(), newResourceCmd())
	root.AddCommand(newKeyVaultCmd())
	root.AddCommand(newBenchTokenCmd())
	root.AddCommand(&cobra.Command{Use: "version", Short: "Print mint's version (also mint --version)", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return printVersion(cmd.Root()) }})
	suggestAtEveryLevel(root)
	addExamples(root)
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
		if !cmd.HasParent() && (args[0] == "--version" || args[0] == "-v") {
			return printVersion(cmd)
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

func printVersion(root *cobra.Command) error {
	_, err := fmt.Fprintf(root.OutOrStdout(), "mint %s\n", root.Version)
	return err
}

// version is what `mint --version` prints: the module version `go install` recorded, or for a
// build from a checkout the commit it was built from (and "dirty" if it had changes).
func version() string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "(unknown version)"
	}
	v := info.Main.Version
	var rev, dirty string
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				dirty = ", with uncommitted changes"
			}
		}
	}
	if v == "" || v == "(devel)" {
		v = "(development build)"
	}
	if rev != "" && !strings.Contains(v, rev[:min(12, len(rev))]) {
		v += fmt.Sprintf(" (commit %s%s)", rev[:min(12, len(rev))], dirty)
	}
	return v + ", " + info.GoVersion
}
