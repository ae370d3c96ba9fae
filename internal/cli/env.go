package cli

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/mint-id/mint/internal/server"
)

func newEnvCmd() *cobra.Command {
	var dataDir, shell string
	cmd := &cobra.Command{
		Use:   "env [--shell bash|fish|powershell]",
		Short: "Print the environment of a mint dev or a mint server, for a shell to load",
		Long: `Print the environment in <data-dir>/env: what a running 'mint dev' printed at start (the
credentials and endpoints, the CA trust variables, and HTTPS_PROXY / HTTP_PROXY / NO_PROXY for the
Azure-name proxy), or what 'mint server --print-admin-secret' wrote for a server (MINT_ENDPOINT,
the CA, the tenant and the admin's credential). Load it with:

  bash, zsh:   eval "$(mint env --data-dir DIR)"
  fish:        mint env --data-dir DIR --shell fish | source
  PowerShell:  mint env --data-dir DIR --shell powershell | Invoke-Expression`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := envDefaults(cmd.Flags()); err != nil {
				return err
			}
			if dataDir == "" {
				return errors.New("which mint? Pass --data-dir (or set MINT_DATA_DIR) to the directory mint dev or mint server runs on")
			}
			vars, err := server.ReadEnvFile(filepath.Join(dataDir, "env"))
			if errors.Is(err, fs.ErrNotExist) {
				return fmt.Errorf("no environment in %s (%s is missing): start 'mint dev --data-dir %s', or have a server write one with 'mint server --data-dir %s --print-admin-secret'",
					dataDir, filepath.Join(dataDir, "env"), dataDir, dataDir)
			}
			if err != nil {
				return err
			}
			if _, err := os.Stat(filepath.Join(dataDir, "ready")); err != nil {
				fmt.Fprintf(cmd.ErrOrStderr(), "warning: no mint is running on %s (no ready marker); this environment is the last one it wrote\n", dataDir)
			}
			text, err := formatEnv(shell, vars)
			if err != nil {
				return err
			}
			_, err = fmt.Fprint(cmd.OutOrStdout(), text)
			return err
		},
	}
	cmd.Flags().StringVar(&dataDir, "data-dir", "", "data directory of the mint dev or mint server (default $MINT_DATA_DIR)")
	cmd.Flags().StringVar(&shell, "shell", "bash", "syntax: bash (also sh, zsh), fish or powershell")
	return cmd
}

// formatEnv writes vars in a shell's syntax.
func formatEnv(shell string, vars []server.EnvVar) (string, error) {
	var line func(server.EnvVar) string
	switch strings.ToLower(shell) {
	case "bash", "sh", "zsh", "posix":
		line = func(e server.EnvVar) string { return "export " + e.Name + "=" + server.ShellQuote(e.Value) + "\n" }
	case "fish":
		line = func(e server.EnvVar) string { return "set -gx " + e.Name + " " + fishQuote(e.Value) + ";\n" }
	case "powershell", "pwsh":
		line = func(e server.EnvVar) string { return "$env:" + e.Name + " = " + powershellQuote(e.Value) + "\n" }
	default:
		return "", fmt.Errorf("--shell %q: use bash, fish or powershell", shell)
	}
	var b strings.Builder
	for _, e := range vars {
		b.WriteString(line(e))
	}
	return b.String(), nil
}

// fishQuote: inside fish's single quotes only \\ and \' are escapes.
func fishQuote(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + "'"
}

// powershellQuote: inside PowerShell single quotes, a doubled quote is the only escape.
func powershellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", "''") + "'"
}

// proxyVariables are what `mint run --proxy` takes from mint dev's environment for the child.
var proxyVariables = []string{"HTTPS_PROXY", "HTTP_PROXY", "NO_PROXY", "SSL_CERT_FILE", "NODE_EXTRA_CA_CERTS", "REQUESTS_CA_BUNDLE"}

// proxyEnv is the child environment `mint run --proxy` adds: the Azure-name proxy (upper and
// lower case, since some clients read only one) and CA trust, from mint dev's env file.
func proxyEnv(envFile string) ([]string, error) {
	vars, err := server.ReadEnvFile(envFile)
	if err != nil {
		return nil, fmt.Errorf("--proxy reads the agent's environment (mint dev's or mint agent's <data-dir>/env; pass --socket <data-dir>/agent.sock or set MINT_DATA_DIR): %w", err)
	}
	got := map[string]string{}
	for _, e := range vars {
		got[e.Name] = e.Value
	}
	if got["HTTPS_PROXY"] == "" {
		return nil, fmt.Errorf("--proxy: %s has no HTTPS_PROXY: is mint dev or mint agent running with its proxy (not --proxy-addr '')?", envFile)
	}
	var out []string
	for _, name := range proxyVariables {
		if v, ok := got[name]; ok {
			out = append(out, name+"="+v)
			if strings.HasSuffix(name, "_PROXY") {
				out = append(out, strings.ToLower(name)+"="+v)
			}
		}
	}
	return out, nil
}
