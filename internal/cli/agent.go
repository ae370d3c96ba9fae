package cli

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/mint-id/mint/internal/agent"
	"github.com/mint-id/mint/internal/cli/agentcmd"
)

// newAgentCmd is `mint agent`: the lean mint-agent's flags and behaviour (internal/cli/agentcmd)
// in mint's command tree.
func newAgentCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "agent", Short: agentcmd.Short, Long: agentcmd.Long, Args: cobra.NoArgs}
	c := agentcmd.Define(cmd.Flags())
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		return c.Run(cmd.Context(), cmd.Flags(), cmd.OutOrStdout(), cmd.ErrOrStderr())
	}
	return cmd
}

func newRunCmd() *cobra.Command {
	var resource, socket, dialectName string
	var noMSI, serviceFabric, useProxy bool
	var fed federatedTokenFlags
	cmd := &cobra.Command{
		Use:   "run --resource <resource id> [--] command [args...]",
		Short: "Run a program as a resource: it gets that resource's managed identities",
		Long: `Register the program with the local node agent as the given resource and start it with
IDENTITY_ENDPOINT / IDENTITY_HEADER (App Service / Container Apps dialect) and MSI_ENDPOINT /
MSI_SECRET, holding a per-run secret that is revoked when it exits; a web app (Microsoft.Web/sites)
also gets App Service's WEBSITE_SITE_NAME / APPSETTING_WEBSITE_SITE_NAME. Signals are forwarded and the
program's exit code is returned. With --federated-token-file the program also gets a federated
token about the resource (issuer https://login.microsoftonline.com/<tenant>/v2.0, as Entra's; subject mint:resource:<resource id>)
for WorkloadIdentityCredential, refreshed while it runs.`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return usageErrorf("name the program to run after the flags: mint run --resource <resource id> -- ./app [its arguments]")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := envDefaults(cmd.Flags()); err != nil {
				return err
			}
			if resource == "" {
				return errors.New("--resource is required: the ARM id of the container app, web app or VM the program runs as")
			}
			dialect, err := agent.ParseRunDialect(dialectName)
			if err != nil {
				return fmt.Errorf("--dialect: %w", err)
			}
			if serviceFabric {
				if dialectName != "" && dialect != agent.RunServiceFabric {
					return errors.New("--service-fabric is --dialect servicefabric: give one of them")
				}
				dialect = agent.RunServiceFabric
			}
			if socket == "" {
				socket = os.Getenv("MINT_AGENT_SOCKET")
			}
			if socket == "" && os.Getenv("MINT_DATA_DIR") != "" {
				socket = filepath.Join(os.Getenv("MINT_DATA_DIR"), "agent.sock")
			}
			if socket == "" {
				return errors.New("no agent socket: pass --socket, or load the environment mint dev printed (MINT_AGENT_SOCKET)")
			}
			var proxyVars []string
			if useProxy {
				// The agent's own environment: mint dev's and mint agent's socket is <data-dir>/agent.sock.
				dir := filepath.Dir(socket)
				var err error
				if proxyVars, err = proxyEnv(filepath.Join(dir, "env")); err != nil {
					return err
				}
			}
			ctx := context.WithoutCancel(cmd.Context()) // signals go to the child, not to us
			federated, err := fed.options()
			if err != nil {
				return err
			}
			code, err := agent.Run(ctx, agent.RunOptions{SocketPath: socket, ResourceID: resource, Command: args, Set: proxyVars,
				DisableMSI: noMSI, Dialect: dialect, FederatedToken: federated,
				Stdin: os.Stdin, Stdout: cmd.OutOrStdout(), Stderr: cmd.ErrOrStderr()})
			if err != nil {
				return explainRun(socket, args[0], err)
			}
			if code != 0 {
				return &exitError{code: code}
			}
			return nil
		},
	}
	cmd.Flags().SetInterspersed(false)
	cmd.Flags().StringVar(&resource, "resource", "", "ARM id of the resource the program runs as")
	cmd.Flags().StringVar(&socket, "socket", "", "the agent's Unix socket (default $MINT_AGENT_SOCKET or $MINT_DATA_DIR/agent.sock)")
	cmd.Flags().BoolVar(&noMSI, "no-msi", false, "do not set MSI_ENDPOINT / MSI_SECRET")
	cmd.Flags().BoolVar(&serviceFabric, "service-fabric", false, "same as --dialect servicefabric")
	cmd.Flags().StringVar(&dialectName, "dialect", "", "the managed-identity endpoint the program sees, as on that Azure host: appservice (default; also Functions, Container Apps), azureml, cloudshell, arc, imds (a VM, through HTTP_PROXY), servicefabric")
	cmd.Flags().BoolVar(&useProxy, "proxy", false, "also give the program the agent's Azure-name proxy (mint dev's or mint agent's: HTTPS_PROXY, HTTP_PROXY, NO_PROXY) and CA trust, so Azure's own host names reach mint")
	fed.register(cmd.Flags())
	return cmd
}

func newNodeCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "node", Short: "Manage node agents"}
	jt := &cobra.Command{Use: "join-token", Short: "Join tokens that let a host's agent join"}
	var scope, name, ttl string
	create := clientCommand("create", "Create a one-time join token; the node will hold the broker role at --scope", func(cmd *cobra.Command) {
		cmd.Flags().StringVar(&scope, "scope", "", "scope the node may host resources in: a subscription, group or resource id (required)")
		cmd.Flags().StringVar(&name, "name", "", "node name")
		cmd.Flags().StringVar(&ttl, "ttl", "1h", "how long the token may be used")
		cmd.MarkFlagRequired("scope")
	}, func(ctx context.Context, cmd *cobra.Command, c *apiClient, f *clientFlags) error {
		var out map[string]any
		if err := c.do(ctx, managementScope, "POST", "/mint/nodes/joinTokens", map[string]string{"scope": scope, "name": name, "ttl": ttl}, &out); err != nil {
			return err
		}
		return printOut(cmd.OutOrStdout(), f.output, out, []column{{"JoinToken", "joinToken"}, {"Scope", "scope"}, {"ExpiresOn", "expiresOn"}})
	})
	jt.AddCommand(create)
	cmd.AddCommand(jt)
	return cmd
}

// explainRun words mint run's two common failures as what to do: no agent at the socket (mint
// dev stopped, or another data directory), and a program that is not on PATH.
func explainRun(socket, program string, err error) error {
	var opErr *net.OpError
	if errors.As(err, &opErr) && opErr.Op == "dial" && opErr.Net == "unix" {
		why := "nothing listens on it"
		if errors.Is(err, fs.ErrNotExist) {
			why = "there is no such socket"
		}
		return fmt.Errorf("no mint agent answers at %s (%s): start mint dev (or mint agent on this host), "+
			"or point mint run at a running one with --socket, MINT_AGENT_SOCKET or MINT_DATA_DIR (mint dev's environment sets them)", socket, why)
	}
	if errors.Is(err, exec.ErrNotFound) {
		return fmt.Errorf("mint run: cannot find the program %q on PATH: give its path (./%s) or install it", program, filepath.Base(program))
	}
	return err
}
