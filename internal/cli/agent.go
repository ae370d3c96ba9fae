package cli

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/mint-id/mint/internal/agent"
	"github.com/mint-id/mint/internal/agent/node"
	"github.com/mint-id/mint/internal/metrics"
)

func newAgentCmd() *cobra.Command {
	var server, joinToken, dataDir, addr, socket, caFile, name, sfAddr string
	var bindHost, metricsAddr string
	var rate agent.RateLimit
	cmd := &cobra.Command{
		Use:   "agent",
		Short: "Run a node agent: the managed-identity endpoints for this host's workloads",
		Long: `Run a node agent. On first start it joins the mint server with a one-time join token
(mint node join-token create) and keeps its own key in --data-dir; afterwards it signs in as its
node principal. It serves the managed-identity endpoints (App Service, Azure ML, Cloud Shell, Arc,
IMDS through HTTP_PROXY, optionally Service Fabric) on loopback, takes 'mint run' registrations on
a root-only Unix socket, and keeps serving cached tokens while the server is unreachable.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := envDefaults(cmd.Flags()); err != nil {
				return err
			}
			if dataDir == "" {
				return errors.New("--data-dir is required (the agent keeps its key there)")
			}
			if os.Getenv("GOGC") == "" {
				// The agent is a small resident daemon on every host: trade a little GC CPU (its
				// cached path allocates almost nothing) for a smaller footprint.
				debug.SetGCPercent(50)
			}
			hc, err := httpClientTrusting(caFile)
			if err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			id, err := node.Load(dataDir)
			if errors.Is(err, fs.ErrNotExist) {
				if server == "" || joinToken == "" {
					return errors.New("this agent has not joined yet: give --server and --join-token (mint node join-token create --scope <scope>)")
				}
				if id, err = node.Join(ctx, hc, server, joinToken, name); err != nil {
					return err
				}
				if err := id.Save(dataDir); err != nil {
					return err
				}
				fmt.Fprintf(cmd.ErrOrStderr(), "joined %s as node %s (client id %s)\n", server, id.Name, id.ClientID)
			} else if err != nil {
				return err
			}
			if socket == "" {
				socket = filepath.Join(dataDir, "agent.sock")
			}
			os.Remove(socket)
			m := metrics.New()
			cfg := agent.Config{Upstream: node.NewUpstream(id, hc), ListenAddr: addr, SocketPath: socket,
				ServiceFabricAddr: sfAddr, Metrics: m.Agent(), RateLimit: rate}
			if sfAddr != "" {
				// Kept in the data directory (the key 0600, as the node's own key) so that the
				// thumbprint clients pin and the certificate Node trusts survive a restart.
				cert, err := agent.LoadOrCreateServiceFabricCertificate(filepath.Join(dataDir, "service-fabric.crt"), filepath.Join(dataDir, "service-fabric.key"), time.Now())
				if err != nil {
					return err
				}
				cfg.ServiceFabricCertificate = &cert
			}
			a, err := agent.New(cfg)
			if err != nil {
				return err
			}
			if metricsAddr != "" {
				ms := &http.Server{Addr: metricsAddr, Handler: m.Handler(), ReadHeaderTimeout: 10 * time.Second}
				go func() {
					if err := ms.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
						fmt.Fprintln(cmd.ErrOrStderr(), "metrics listener:", err)
					}
				}()
				defer ms.Close()
			}
			if bindHost != "" {
				if err := a.BindHost(bindHost); err != nil {
					return err
				}
			}
			ep := a.Endpoints()
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "agent serving managed-identity endpoints for node %s\n", id.ClientID)
			fmt.Fprintf(out, "  mint run socket:  %s\n  App Service:      IDENTITY_ENDPOINT=%s\n  IMDS:             HTTP_PROXY=%s\n", socket, ep.IdentityEndpoint, ep.IMDSProxy)
			if ep.ServiceFabricEndpoint != "" {
				fmt.Fprintf(out, "  Service Fabric:   IDENTITY_ENDPOINT=%s IDENTITY_SERVER_THUMBPRINT=%s\n", ep.ServiceFabricEndpoint, ep.ServiceFabricThumbprint)
			}
			return a.Serve(ctx)
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&server, "server", "", "mint server base URL (first start)")
	fs.StringVar(&joinToken, "join-token", "", "one-time join token (first start)")
	fs.StringVar(&name, "name", "", "node name (default: the join token's)")
	fs.StringVar(&dataDir, "data-dir", "", "directory for the node's key and identity")
	fs.StringVar(&addr, "addr", agent.DefaultListenAddr, "loopback address of the managed-identity endpoints")
	fs.StringVar(&sfAddr, "service-fabric-addr", "", "loopback address of the https Service Fabric endpoint (off when empty)")
	fs.StringVar(&socket, "socket", "", "Unix socket for mint run registrations (default <data-dir>/agent.sock)")
	fs.StringVar(&caFile, "ca-file", "", "PEM file of the server's CA (default: system roots and SSL_CERT_FILE)")
	fs.Float64Var(&rate.PerSecond, "rate-limit", agent.DefaultRatePerSecond, "token requests per second each workload may make (IMDS allows 20)")
	fs.IntVar(&rate.Burst, "rate-burst", agent.DefaultRateBurst, "burst above --rate-limit")
	fs.StringVar(&metricsAddr, "metrics-addr", "", "address of a Prometheus /metrics listener (off when empty)")
	fs.StringVar(&bindHost, "bind-host", "", "give every local process this VM-like resource's identities (IMDS, Azure's VM model)")
	return cmd
}

func httpClientTrusting(caFile string) (*http.Client, error) {
	pool, err := x509.SystemCertPool()
	if err != nil || pool == nil {
		pool = x509.NewCertPool()
	}
	if caFile != "" {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return nil, err
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("%s holds no PEM certificate", caFile)
		}
	}
	return &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, Proxy: http.ProxyFromEnvironment}}, nil
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
		Args: cobra.MinimumNArgs(1),
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
				dir := os.Getenv("MINT_DATA_DIR")
				if dir == "" {
					dir = filepath.Dir(socket) // mint dev's socket is <data-dir>/agent.sock
				}
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
				return err
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
	cmd.Flags().BoolVar(&useProxy, "proxy", false, "also give the program mint dev's Azure-name proxy (HTTPS_PROXY, HTTP_PROXY, NO_PROXY) and CA trust, so Azure's own host names reach mint")
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
