package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/mint-id/mint/internal/proxy"
	"github.com/mint-id/mint/internal/server"
)

type serveFlags struct {
	cfg      server.Config
	logLevel string
	logJSON  bool
}

func (f *serveFlags) register(fs *pflag.FlagSet, defaultAddr string) {
	fs.StringVar(&f.cfg.DataDir, "data-dir", "", "directory for the CA, the key-encryption key and the SQLite store")
	fs.StringVar(&f.cfg.Store, "store", "", "store: sqlite:<path> (default <data-dir>/mint.db) or postgres://user@host:port/db")
	fs.StringVar(&f.cfg.Addr, "addr", defaultAddr, "TLS listen address (port 0 picks a free port)")
	fs.StringVar(&f.cfg.PublicURL, "public-url", "", "base URL clients use (default https://<addr>)")
	fs.StringVar(&f.cfg.KEKFile, "kek-file", "", "key-encryption key file, base64 of 32 bytes, mode 0600 (default <data-dir>/kek)")
	fs.StringVar(&f.cfg.KEK, "kek", "", "key-encryption key, base64 of 32 bytes (prefer --kek-file)")
	fs.StringSliceVar(&f.cfg.TLSNames, "tls-name", nil, "extra DNS name for the serving certificate (repeatable)")
	fs.StringVar(&f.cfg.TLSCertFile, "tls-cert-file", "", "PEM certificate (chain) to serve instead of one issued by mint's CA")
	fs.StringVar(&f.cfg.TLSKeyFile, "tls-key-file", "", "PEM private key of --tls-cert-file")
	fs.StringSliceVar(&f.cfg.VaultDNSSuffixes, "vault-dns-suffix", []string{"vault.localhost"}, "DNS suffix vaults are served under, https://<vault>.<suffix>:<port> (repeatable; the first is in vaultUri)")
	durationFlag(fs, &f.cfg.AppTokenLifetime, "app-token-lifetime", time.Hour, "lifetime of application tokens (at least 5m)")
	durationFlag(fs, &f.cfg.MITokenLifetime, "mi-token-lifetime", 24*time.Hour, "lifetime of managed-identity tokens (at least 5m)")
	durationFlag(fs, &f.cfg.KeyRotationPeriod, "key-rotation-period", 7*24*time.Hour, "how long a signing key signs before the next one takes over")
	durationFlag(fs, &f.cfg.KeyRefresh, "key-refresh", 10*time.Second, "how often signing keys are reloaded from the store (replicas rotate them)")
	durationFlag(fs, &f.cfg.DeviceCodeInterval, "device-code-interval", 5*time.Second, "how long device-code sign-in clients are told to wait between polls (Entra: 5s; whole seconds, at least 1s)")
	fs.IntVar(&f.cfg.MaxConns, "max-conns", 0, "most client connections open at once; more are closed at accept (default 8192, or 3/4 of the open-file limit)")
	fs.IntVar(&f.cfg.MaxConnsPerClient, "max-conns-per-client", 0, "most connections open at once from one IP address (default max-conns/8)")
	durationFlag(fs, &f.cfg.ReadTimeout, "read-timeout", 30*time.Second, "deadline for reading a whole request, body included")
	durationFlag(fs, &f.cfg.SignInRetention, "signin-retention", 30*24*time.Hour, "how long sign-in log entries are kept (Entra: 30 days); -1s keeps them forever")
	durationFlag(fs, &f.cfg.ActivityRetention, "activity-retention", 90*24*time.Hour, "how long activity-log events are kept (Azure: 90 days); -1s keeps them forever")
	fs.StringVar(&f.logLevel, "log-level", "info", "debug, info, warn or error")
	fs.BoolVar(&f.logJSON, "log-json", false, "write logs as JSON")
}

func (f *serveFlags) logger(w io.Writer) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(f.logLevel))
	opts := &slog.HandlerOptions{Level: level}
	if f.logJSON {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

func newDevCmd() *cobra.Command {
	var f serveFlags
	cmd := &cobra.Command{
		Use:   "dev",
		Short: "Run all of mint in one process with zero configuration",
		Long: `Run all of mint in one process: a generated CA, a default tenant and subscription, an admin
application, the token service and the directory API, on 127.0.0.1 over TLS. The environment a
client needs is printed and written to <data-dir>/env; <data-dir>/ready appears once requests are
served. Reusing a --data-dir keeps all state.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := envDefaults(cmd.Flags()); err != nil {
				return err
			}
			temporary := f.cfg.DataDir == ""
			if temporary {
				dir, err := os.MkdirTemp("", "mint-dev-")
				if err != nil {
					return err
				}
				f.cfg.DataDir = dir
			}
			f.cfg.CreateKEK = true
			f.cfg.Logger = f.logger(cmd.ErrOrStderr())
			return explainListen(cmd, f.cfg, serve(cmd, f.cfg, func(ctx context.Context, s *server.Server) error {
				env, err := s.DevEnvironment(ctx)
				if err != nil {
					return err
				}
				path, err := s.WriteEnvFile(env)
				if err != nil {
					return err
				}
				out := cmd.OutOrStdout()
				fmt.Fprintf(out, "mint dev is serving %s (data in %s)\n\n", s.BaseURL, f.cfg.DataDir)
				if temporary {
					// Without this, a restart silently starts over: new tenant, new secrets.
					fmt.Fprintf(out, "# The data directory is a fresh temporary one: a plain 'mint dev' starts over each time (new tenant, new secrets).\n"+
						"# To come back to this state:  mint dev --data-dir %s   (or keep it where you choose: --data-dir ~/.mint)\n\n", f.cfg.DataDir)
				}
				fmt.Fprintf(out, "# The environment a client needs (also in %s):\n", path)
				for _, e := range env {
					fmt.Fprintf(out, "export %s=%s\n", e.Name, e.Value)
				}
				fmt.Fprintf(out, "\n# Load it in another shell with:  . %s\n", path)
				fmt.Fprintf(out, "\n# Your own sign-in (a user, Owner of the subscription): name and password in %s\n",
					filepath.Join(f.cfg.DataDir, server.DeveloperFile))
				fmt.Fprintf(out, "\n%s\n", s.VaultHostsHint())
				fmt.Fprintf(out, "\n# The portal (sign in as a person of the directory): %s/portal/\n", s.BaseURL)
				return nil
			}))
		},
	}
	f.register(cmd.Flags(), "127.0.0.1:8443")
	cmd.Flags().StringVar(&f.cfg.AgentAddr, "agent-addr", "127.0.0.1:8444", "loopback address of the in-process node agent's managed-identity endpoints")
	cmd.Flags().StringVar(&f.cfg.ProxyAddr, "proxy-addr", proxy.DefaultAddr, "loopback address of the Azure-name proxy (HTTPS_PROXY / HTTP_PROXY); empty disables it")
	cmd.Flags().StringSliceVar(&f.cfg.ForwardStorage, "forward-storage", nil, proxy.ForwardStorageUsage)
	cmd.Flags().StringVar(&f.cfg.ForwardStorageCAFile, "forward-storage-ca-file", "", proxy.ForwardStorageCAUsage)
	cmd.Flags().StringVar(&f.cfg.BindHost, "bind-host", "", "give every local process this VM-like resource's identities through IMDS (the in-process agent's host binding)")
	cmd.Flags().StringVar(&f.cfg.ServiceFabricAddr, "service-fabric-addr", "127.0.0.1:0", "loopback address of the in-process agent's https Service Fabric endpoint (mint run --dialect servicefabric); empty disables it")
	return cmd
}

func newServerCmd() *cobra.Command {
	var f serveFlags
	var printSecret bool
	cmd := &cobra.Command{
		Use:   "server",
		Short: "Run a mint server (production form: explicit configuration)",
		Long: `Run a mint server. Several servers may share one PostgreSQL store (--store postgres://...)
and one key-encryption key; each needs a --data-dir holding the CA. The default tenant,
subscription and admin application are created on first start; the admin's client secret is
printed only with --print-admin-secret (each use adds a new secret), together with the rest of
the environment a client needs (MINT_ENDPOINT, the CA, the tenant), which is also written to
<data-dir>/env (mode 0600: it holds the secret) for 'mint env', 'mint login' and the CLI.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := envDefaults(cmd.Flags()); err != nil {
				return err
			}
			if f.cfg.DataDir == "" {
				return fmt.Errorf("--data-dir (or MINT_DATA_DIR) is required")
			}
			f.cfg.Logger = f.logger(cmd.ErrOrStderr())
			return explainListen(cmd, f.cfg, serve(cmd, f.cfg, func(ctx context.Context, s *server.Server) error {
				if !printSecret {
					_, err := s.Bootstrap(ctx)
					return err
				}
				env, err := s.AdminEnvironment(ctx)
				if err != nil {
					return err
				}
				path, err := s.WriteEnvFile(env)
				if err != nil {
					return err
				}
				out := cmd.OutOrStdout()
				fmt.Fprintf(out, "# The environment a client of this server needs (also in %s, mode 0600):\n", path)
				for _, e := range env {
					fmt.Fprintf(out, "export %s=%s\n", e.Name, e.Value)
				}
				return nil
			}))
		},
	}
	f.register(cmd.Flags(), "127.0.0.1:8443")
	cmd.Flags().BoolVar(&printSecret, "print-admin-secret", false, "add a client secret to the admin application; print it with the client environment and write that to <data-dir>/env (0600)")
	return cmd
}

// serve runs a server until SIGINT/SIGTERM; start runs once it is bound, before ready is marked.
func serve(cmd *cobra.Command, cfg server.Config, start func(context.Context, *server.Server) error) error {
	ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	began := time.Now()
	s, err := server.New(ctx, cfg)
	if err != nil {
		return err
	}
	s.ClearReady()
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx) }()
	if err := start(ctx, s); err != nil {
		stop()
		<-done
		return err
	}
	if err := s.MarkReady(); err != nil {
		stop()
		<-done
		return err
	}
	cfg.Logger.Info("mint is ready", "url", s.BaseURL, "store", storeKind(cfg.Store), "startup", time.Since(began).Round(time.Millisecond).String())
	err = <-done // Serve removed ready before releasing the data directory
	if err != nil && ctx.Err() == nil {
		return err
	}
	cfg.Logger.Info("mint stopped")
	return nil
}

func storeKind(s string) string {
	if strings.HasPrefix(s, "postgres") {
		return "postgres"
	}
	return "sqlite"
}

// explainListen names the flag of an address already in use and the way out (port 0), instead
// of the bare "bind: address already in use"; other errors pass unchanged.
func explainListen(cmd *cobra.Command, cfg server.Config, err error) error {
	if !errors.Is(err, syscall.EADDRINUSE) {
		return err
	}
	var opErr *net.OpError
	addr := cfg.Addr
	if errors.As(err, &opErr) && opErr.Addr != nil {
		addr = opErr.Addr.String()
	}
	flag := ""
	for _, name := range []string{"addr", "agent-addr", "proxy-addr", "service-fabric-addr"} {
		if f := cmd.Flags().Lookup(name); f != nil && f.Value.String() == addr {
			flag = name
			break
		}
	}
	if flag == "" {
		return fmt.Errorf("%s is already in use by another program (perhaps another mint): stop it, or give this one other addresses (--addr and, for mint dev, --agent-addr and --proxy-addr; port 0 picks a free one)", addr)
	}
	return fmt.Errorf("%s (--%s) is already in use by another program (perhaps another mint): stop it, or give this one another address: --%s 127.0.0.1:0 picks a free port (or MINT_%s)",
		addr, flag, flag, strings.ToUpper(strings.ReplaceAll(flag, "-", "_")))
}
