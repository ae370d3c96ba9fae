// Package agentcmd is the node agent's command line, shared by `mint agent` and the lean
// cmd/mint-agent so that the flags are defined once. It imports only the agent side
// (internal/nodeagent), never the server's packages, and not cobra: the lean binary parses its
// flags with pflag alone (cobra brings text/template, whose reflection keeps every exported
// method of every linked type in the binary); internal/cli wraps Define and Run in mint's
// cobra tree.
package agentcmd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"syscall"

	"github.com/spf13/pflag"

	"github.com/mint-id/mint/internal/agent"
	"github.com/mint-id/mint/internal/cli/cpuprofile"
	"github.com/mint-id/mint/internal/cli/flagenv"
	"github.com/mint-id/mint/internal/nodeagent"
	"github.com/mint-id/mint/internal/proxy"
)

// Short and Long describe the agent, in `mint agent --help` and `mint-agent --help`.
const (
	Short = "Run a node agent: the managed-identity endpoints and the Azure-name proxy for this host's workloads"
	Long  = `Run a node agent. On first start it joins the mint server with a one-time join token
(mint node join-token create) and keeps its own key in --data-dir; afterwards it signs in as its
node principal. It serves the managed-identity endpoints (App Service, Azure ML, Cloud Shell, Arc,
IMDS through HTTP_PROXY, optionally Service Fabric) on loopback, takes 'mint run' registrations on
a root-only Unix socket, and keeps serving cached tokens while the server is unreachable.

It also serves the Azure-name proxy on --proxy-addr (loopback), as mint dev does: programs that
use https://<vault>.vault.azure.net, login.microsoftonline.com (and its aliases),
management.azure.com or graph.microsoft.com reach the server through it ('mint run --proxy'), and
with --forward-storage https://<account>.blob.core.windows.net reaches a local Storage emulator
(Azurite). By default the workload's TLS for the server's names is passed through to the server,
which presents the installation's certificate for the name (--proxy-tls); the agent terminates
TLS itself for Storage names and under --proxy-tls terminate, with a key it keeps that the server
certifies; the CA's key never leaves the server. The proxy's environment is in <data-dir>/env.`
)

// Command is the agent's configuration as its flags fill it.
type Command struct {
	cfg      nodeagent.Config
	logLevel string
}

// Define defines the agent's flags on fs (the only place they are defined).
func Define(fs *pflag.FlagSet) *Command {
	c := &Command{}
	fs.StringVar(&c.cfg.Server, "server", "", "mint server base URL (first start)")
	fs.StringVar(&c.cfg.JoinToken, "join-token", "", "one-time join token (first start)")
	fs.StringSliceVar(&c.cfg.ServerAddrs, "server-addr", nil, "host:port of a server replica behind the server's name, tried in order (repeatable; fail-over without a load balancer)")
	fs.StringVar(&c.cfg.Name, "name", "", "node name (default: the join token's)")
	fs.StringVar(&c.cfg.DataDir, "data-dir", "", "directory for the node's key and identity")
	fs.StringVar(&c.cfg.Addr, "addr", agent.DefaultListenAddr, "loopback address of the managed-identity endpoints")
	fs.StringVar(&c.cfg.ServiceFabricAddr, "service-fabric-addr", "", "loopback address of the https Service Fabric endpoint (off when empty)")
	fs.StringVar(&c.cfg.SocketPath, "socket", "", "Unix socket for mint run registrations (default <data-dir>/agent.sock)")
	fs.StringVar(&c.cfg.CAFile, "ca-file", "", "PEM file of the server's CA, e.g. <server data-dir>/ca.pem (default: system roots and SSL_CERT_FILE)")
	fs.StringVar(&c.cfg.ProxyAddr, "proxy-addr", nodeagent.DefaultProxyAddr, "loopback address of the Azure-name proxy (HTTPS_PROXY / HTTP_PROXY); empty disables it")
	fs.StringSliceVar(&c.cfg.ForwardStorage, "forward-storage", nil, proxy.ForwardStorageUsage)
	fs.StringVar(&c.cfg.ForwardStorageCAFile, "forward-storage-ca-file", "", proxy.ForwardStorageCAUsage)
	fs.StringVar(&c.cfg.ProxyTLS, "proxy-tls", nodeagent.ProxyTLSAuto, nodeagent.ProxyTLSUsage)
	fs.Float64Var(&c.cfg.RateLimit.PerSecond, "rate-limit", agent.DefaultRatePerSecond, "token requests per second each workload may make (IMDS allows 20)")
	fs.IntVar(&c.cfg.RateLimit.Burst, "rate-burst", agent.DefaultRateBurst, "burst above --rate-limit")
	fs.StringVar(&c.cfg.MetricsAddr, "metrics-addr", "", "address of a Prometheus /metrics listener (off when empty)")
	fs.StringVar(&c.cfg.BindHost, "bind-host", "", "give every local process this VM-like resource's identities (IMDS, Azure's VM model)")
	fs.StringVar(&c.logLevel, "log-level", "info", "debug, info, warn or error")
	return c
}

// Run applies the MINT_<FLAG> fallbacks to fs's unset flags and runs the agent until ctx ends or
// SIGINT/SIGTERM arrives.
func (c *Command) Run(ctx context.Context, fs *pflag.FlagSet, stdout, stderr io.Writer) error {
	if err := flagenv.Apply(fs); err != nil {
		return err
	}
	if os.Getenv("GOGC") == "" {
		// The agent is a small resident daemon on every host: trade a little GC CPU (its
		// cached path allocates almost nothing) for a smaller footprint (the agent-RSS figure,
		// 15 MiB with 1,000 cached tokens, has half a MiB to spare). The node proxy allocates
		// ~30 objects per forwarded request, nearly all of them net/http's header parsing, yet
		// a larger heap did not make it cheaper: the agent's CPU per proxied vault GET was the
		// same at GOGC=100 and 200 within the run-to-run scatter, and worse with GC off (fresh
		// pages instead of a heap that stays in cache), so a memory limit with a higher GOGC
		// would buy nothing here (docs/benchmarks.md, the node proxy).
		debug.SetGCPercent(50)
	}
	if os.Getenv("GOMAXPROCS") == "" {
		// One P: the agent's work is short requests, each a few tens of µs of CPU between two
		// network waits. With a P per core, every request woken from the network poller
		// wakes a second thread that spins looking for work and sleeps again (futex and
		// findRunnable were ~15 % of the proxy's profile); with one P the woken goroutine
		// simply runs next. Measured on the 2-core bench machine: the agent's CPU per
		// proxied vault GET ~10-20 % lower, the cached-token figure unchanged. One core of
		// Go code still forwards ~10,000 vault GETs/s, far above the per-vault rate Key Vault
		// itself allows, and a goroutine blocked in a syscall hands the P on as usual.
		// GOMAXPROCS in the environment overrides it.
		runtime.GOMAXPROCS(1)
	}
	var level slog.Level
	_ = level.UnmarshalText([]byte(c.logLevel))
	cfg := c.cfg
	cfg.Logger = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	cfg.Out = stdout
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	return nodeagent.Run(ctx, cfg)
}

// Execute runs the lean mint-agent binary with args and returns its exit status.
func Execute(args []string) int {
	fs := pflag.NewFlagSet("mint-agent", pflag.ContinueOnError)
	c := Define(fs)
	help := fs.BoolP("help", "h", false, "help for mint-agent")
	fs.SetOutput(io.Discard) // errors are printed once, below
	usage := func(w io.Writer) {
		fmt.Fprintf(w, "%s\n\nUsage:\n  mint-agent [flags]\n\nFlags:\n%s", Long, fs.FlagUsages())
	}
	err := fs.Parse(args)
	switch {
	case errors.Is(err, pflag.ErrHelp) || (err == nil && *help):
		usage(os.Stdout)
		return 0
	case err != nil:
		fmt.Fprintln(os.Stderr, "error:", err)
		return 1
	case fs.NArg() > 0:
		fmt.Fprintf(os.Stderr, "error: unknown command %q for \"mint-agent\" (mint-agent takes flags only)\n", fs.Arg(0))
		return 1
	}
	// As mint does (MINT_CPUPROFILE=<dir>): <dir>/mint-agent-<pid>.pprof, so that `mint bench`
	// profiles the lean agent beside the processes it starts.
	defer cpuprofile.Start("mint-agent")()
	if err := c.Run(context.Background(), fs, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		return 1
	}
	return 0
}
