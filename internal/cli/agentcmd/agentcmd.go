// Package agentcmd is the node agent's command line, shared by `mint agent` and the lean
// cmd/mint-agent so that the flags are defined once. It imports only the agent side
// (internal/nodeagent), never the server's packages.
package agentcmd

import (
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	"github.com/mint-id/mint/internal/agent"
	"github.com/mint-id/mint/internal/cli/flagenv"
	"github.com/mint-id/mint/internal/nodeagent"
	"github.com/mint-id/mint/internal/proxy"
	"github.com/spf13/cobra"
)

// New is the agent's command, named use: `mint agent` and the lean mint-agent's root. Its flags
// are defined here only, so both binaries take the same ones.
func New(use string) *cobra.Command {
	var cfg nodeagent.Config
	var logLevel string
	cmd := &cobra.Command{
		Use:   use,
		Short: "Run a node agent: the managed-identity endpoints and the Azure-name proxy for this host's workloads",
		Long: `Run a node agent. On first start it joins the mint server with a one-time join token
(mint node join-token create) and keeps its own key in --data-dir; afterwards it signs in as its
node principal. It serves the managed-identity endpoints (App Service, Azure ML, Cloud Shell, Arc,
IMDS through HTTP_PROXY, optionally Service Fabric) on loopback, takes 'mint run' registrations on
a root-only Unix socket, and keeps serving cached tokens while the server is unreachable.

It also serves the Azure-name proxy on --proxy-addr (loopback), as mint dev does: programs that
use https://<vault>.vault.azure.net, login.microsoftonline.com (and its aliases),
management.azure.com or graph.microsoft.com reach the server through it ('mint run --proxy'), and
with --forward-storage https://<account>.blob.core.windows.net reaches a local Storage emulator
(Azurite). The server certifies a key the agent keeps for those names; the CA's key never leaves
the server. The proxy's environment is in <data-dir>/env.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := flagenv.Apply(cmd.Flags()); err != nil {
				return err
			}
			if os.Getenv("GOGC") == "" {
				// The agent is a small resident daemon on every host: trade a little GC CPU (its
				// cached path allocates almost nothing) for a smaller footprint.
				debug.SetGCPercent(50)
			}
			var level slog.Level
			_ = level.UnmarshalText([]byte(logLevel))
			cfg.Logger = slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), &slog.HandlerOptions{Level: level}))
			cfg.Out = cmd.OutOrStdout()
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return nodeagent.Run(ctx, cfg)
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&cfg.Server, "server", "", "mint server base URL (first start)")
	fs.StringVar(&cfg.JoinToken, "join-token", "", "one-time join token (first start)")
	fs.StringSliceVar(&cfg.ServerAddrs, "server-addr", nil, "host:port of a server replica behind the server's name, tried in order (repeatable; fail-over without a load balancer)")
	fs.StringVar(&cfg.Name, "name", "", "node name (default: the join token's)")
	fs.StringVar(&cfg.DataDir, "data-dir", "", "directory for the node's key and identity")
	fs.StringVar(&cfg.Addr, "addr", agent.DefaultListenAddr, "loopback address of the managed-identity endpoints")
	fs.StringVar(&cfg.ServiceFabricAddr, "service-fabric-addr", "", "loopback address of the https Service Fabric endpoint (off when empty)")
	fs.StringVar(&cfg.SocketPath, "socket", "", "Unix socket for mint run registrations (default <data-dir>/agent.sock)")
	fs.StringVar(&cfg.CAFile, "ca-file", "", "PEM file of the server's CA, e.g. <server data-dir>/ca.pem (default: system roots and SSL_CERT_FILE)")
	fs.StringVar(&cfg.ProxyAddr, "proxy-addr", nodeagent.DefaultProxyAddr, "loopback address of the Azure-name proxy (HTTPS_PROXY / HTTP_PROXY); empty disables it")
	fs.StringSliceVar(&cfg.ForwardStorage, "forward-storage", nil, proxy.ForwardStorageUsage)
	fs.StringVar(&cfg.ForwardStorageCAFile, "forward-storage-ca-file", "", proxy.ForwardStorageCAUsage)
	fs.Float64Var(&cfg.RateLimit.PerSecond, "rate-limit", agent.DefaultRatePerSecond, "token requests per second each workload may make (IMDS allows 20)")
	fs.IntVar(&cfg.RateLimit.Burst, "rate-burst", agent.DefaultRateBurst, "burst above --rate-limit")
	fs.StringVar(&cfg.MetricsAddr, "metrics-addr", "", "address of a Prometheus /metrics listener (off when empty)")
	fs.StringVar(&cfg.BindHost, "bind-host", "", "give every local process this VM-like resource's identities (IMDS, Azure's VM model)")
	fs.StringVar(&logLevel, "log-level", "info", "debug, info, warn or error")
	return cmd
}

// Execute runs the lean mint-agent binary with args and returns its exit status.
func Execute(args []string) int {
	cmd := New("mint-agent")
	cmd.SetArgs(args)
	cmd.SilenceUsage = true
	if err := cmd.Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		return 1
	}
	return 0
}
