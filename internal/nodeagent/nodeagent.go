// Package nodeagent assembles the node agent (mint agent, and the lean cmd/mint-agent): the
// managed-identity endpoints, the mint run socket, the Azure-name proxy and metrics, joined to a
// mint server. It imports only the agent side (internal/agent/..., proxy, metrics, nodewire and
// leaves), never the store, the STS, ARM or the rest of the server: test/arch keeps it so, since
// every node runs it and its footprint is the goal.
package nodeagent

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/mint-id/mint/internal/agent"
	"github.com/mint-id/mint/internal/agent/node"
	"github.com/mint-id/mint/internal/agent/promtext"
	"github.com/mint-id/mint/internal/cabundle"
	"github.com/mint-id/mint/internal/envfile"
	"github.com/mint-id/mint/internal/proxy"
)

// DefaultProxyAddr is where `mint agent` serves the Azure-name proxy unless told otherwise
// (not mint dev's port, so both can run on one machine).
const DefaultProxyAddr = "127.0.0.1:42357"

// Config is everything `mint agent` needs; flags and MINT_* variables fill it.
type Config struct {
	// Server and JoinToken join the node on first start; Name overrides the join token's name.
	Server, JoinToken, Name string
	// ServerAddrs, if set, are the host:port addresses of the server replicas behind the
	// server's name, dialled in order until one answers: the agent's own fail-over where no load
	// balancer stands in front of the replicas. TLS still checks the server's name.
	ServerAddrs []string
	// DataDir keeps the node's key and identity, the socket, the CA bundle and the env file.
	DataDir string
	// CAFile is the PEM of the server's CA (default: system roots and SSL_CERT_FILE).
	CAFile string
	// Addr is the loopback address of the managed-identity endpoints.
	Addr string
	// SocketPath is where `mint run` registers (default <DataDir>/agent.sock).
	SocketPath string
	// ServiceFabricAddr, if set, serves the https Service Fabric dialect there.
	ServiceFabricAddr string
	// ProxyAddr is the loopback address of the node's Azure-name proxy; empty: no proxy.
	ProxyAddr string
	// ForwardStorage and ForwardStorageCAFile: Azure Storage names the proxy forwards to a local
	// emulator, and the CA its certificate is checked against (proxy.ParseStorageForwards).
	ForwardStorage       []string
	ForwardStorageCAFile string
	RateLimit            agent.RateLimit
	MetricsAddr          string
	// BindHost gives every local process this VM-like resource's identities.
	BindHost string
	// ProxyTLS is how the proxy serves the names the server answers: ProxyTLSPassthrough,
	// ProxyTLSTerminate, or "" / ProxyTLSAuto (passthrough when the server is reached directly).
	ProxyTLS string

	Logger *slog.Logger
	// Out receives the endpoints, as a person reads them at start.
	Out io.Writer
}

// releaseMemoryAfter: once the node's token calls have been quiet this long, the agent returns
// the memory a burst of them freed (agent.Config.ReleaseMemoryAfter). A quarter of a second is
// well beyond the gaps between the calls of a burst (a node starting its workloads: each call
// takes milliseconds), and short beside the hours its cached tokens are then served.
const releaseMemoryAfter = 250 * time.Millisecond

// Run runs a node agent until ctx ends: it joins (first start) or loads the node, serves
// the managed-identity endpoints and the `mint run` socket, and, unless ProxyAddr is empty, the
// Azure-name proxy: the workloads' TLS for the names the server answers passed through to it
// (ProxyTLS, passthrough.go), or terminated with a certificate the server's CA issued for a key
// this node keeps and the decrypted requests forwarded over HTTPS to the server, Host intact;
// either way the same handler as behind mint dev's proxy answers them. The environment `mint run
// --proxy` gives a program is written to <DataDir>/env, as mint dev writes its own.
func Run(ctx context.Context, cfg Config) error {
	if cfg.DataDir == "" {
		return errors.New("--data-dir is required (the agent keeps its key there)")
	}
	switch cfg.ProxyTLS {
	case "", ProxyTLSAuto, ProxyTLSPassthrough, ProxyTLSTerminate:
	default:
		return fmt.Errorf("--proxy-tls %q: want auto, passthrough or terminate", cfg.ProxyTLS)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Out == nil {
		cfg.Out = io.Discard
	}
	id, err := node.Load(cfg.DataDir)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	serverURL := cfg.Server
	if id != nil {
		serverURL = id.ServerURL
	}
	hc, err := httpClientTrusting(cfg.CAFile, serverURL, cfg.ServerAddrs)
	if err != nil {
		return err
	}
	if id == nil {
		if cfg.Server == "" || cfg.JoinToken == "" {
			return errors.New("this agent has not joined yet: give --server and --join-token (mint node join-token create --scope <scope>)")
		}
		if id, err = node.Join(ctx, hc, cfg.Server, cfg.JoinToken, cfg.Name); err != nil {
			return err
		}
		if err := id.Save(cfg.DataDir); err != nil {
			return err
		}
		fmt.Fprintf(cfg.Out, "joined %s as node %s (client id %s)\n", cfg.Server, id.Name, id.ClientID)
	}
	socket := cfg.SocketPath
	if socket == "" {
		socket = filepath.Join(cfg.DataDir, "agent.sock")
	}
	os.Remove(socket)
	m := promtext.New()
	up := node.NewUpstream(id, hc)
	acfg := agent.Config{Upstream: up, ListenAddr: cfg.Addr, SocketPath: socket,
		ServiceFabricAddr: cfg.ServiceFabricAddr, Metrics: m, RateLimit: cfg.RateLimit, Logger: cfg.Logger,
		ReleaseMemoryAfter: releaseMemoryAfter}
	if cfg.ServiceFabricAddr != "" {
		// Kept in the data directory (the key 0600, as the node's own key) so that the
		// thumbprint clients pin and the certificate Node trusts survive a restart.
		cert, err := agent.LoadOrCreateServiceFabricCertificate(filepath.Join(cfg.DataDir, "service-fabric.crt"), filepath.Join(cfg.DataDir, "service-fabric.key"), time.Now())
		if err != nil {
			return err
		}
		acfg.ServiceFabricCertificate = &cert
	}
	a, err := agent.New(acfg)
	if err != nil {
		return err
	}
	if cfg.MetricsAddr != "" {
		ms := &http.Server{Addr: cfg.MetricsAddr, Handler: m.Handler(), ReadHeaderTimeout: 10 * time.Second}
		go func() {
			if err := ms.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
				cfg.Logger.Error("metrics listener stopped", "err", err)
			}
		}()
		defer ms.Close()
	}
	if cfg.BindHost != "" {
		if err := a.BindHost(cfg.BindHost); err != nil {
			a.Close()
			return err
		}
	}
	// The server pushes revocations: the cached tokens of a detached or deleted identity, a
	// deleted resource, or of every workload when this node loses its broker role, are dropped.
	// The agent takes its cursor before it serves, so that nothing it caches predates it.
	followCtx, stopFollowing := context.WithCancel(ctx)
	defer stopFollowing()
	synced := make(chan struct{})
	go up.FollowRevocations(followCtx, a, cfg.Logger.With("component", "revocations"), func() { close(synced) })
	select {
	case <-synced:
	case <-time.After(5 * time.Second): // the server is slow or away: serve anyway (nothing is cached yet)
	case <-ctx.Done():
	}
	ep := a.Endpoints()
	env := []envfile.Var{{Name: "MINT_AGENT_SOCKET", Value: socket}, {Name: "MINT_AGENT_ENDPOINT", Value: ep.IMDSProxy}}
	proxyURL := ""
	if cfg.ProxyAddr != "" {
		vars, url, err := startNodeProxy(ctx, cfg, id, up, hc, a.Handler(), m)
		if err != nil {
			a.Close()
			return err
		}
		env, proxyURL = append(env, vars...), url
	}
	path := filepath.Join(cfg.DataDir, "env")
	if err := envfile.Write(path, env); err != nil {
		a.Close()
		return err
	}
	fmt.Fprintf(cfg.Out, "agent serving managed-identity endpoints for node %s\n", id.ClientID)
	fmt.Fprintf(cfg.Out, "  mint run socket:  %s\n  App Service:      IDENTITY_ENDPOINT=%s\n  IMDS:             HTTP_PROXY=%s\n", socket, ep.IdentityEndpoint, ep.IMDSProxy)
	if ep.ServiceFabricEndpoint != "" {
		fmt.Fprintf(cfg.Out, "  Service Fabric:   IDENTITY_ENDPOINT=%s IDENTITY_SERVER_THUMBPRINT=%s\n", ep.ServiceFabricEndpoint, ep.ServiceFabricThumbprint)
	}
	if proxyURL != "" {
		fmt.Fprintf(cfg.Out, "  Azure names:      HTTPS_PROXY=%s (mint run --proxy; environment in %s)\n", proxyURL, path)
	}
	return a.Serve(ctx)
}

// startNodeProxy gets the node's proxy certificate, writes the CA bundle workloads trust it with,
// and starts the proxy; it returns the environment that routes a program's Azure traffic through
// it.
func startNodeProxy(ctx context.Context, cfg Config, id *node.Identity, up *node.Upstream, hc *http.Client, imds http.Handler, m *promtext.Agent) ([]envfile.Var, string, error) {
	server, err := url.Parse(id.ServerURL)
	if err != nil || server.Host == "" {
		return nil, "", fmt.Errorf("node identity: server URL %q: %v", id.ServerURL, err)
	}
	storage, err := proxy.ParseStorageForwards(cfg.ForwardStorage)
	if err != nil {
		return nil, "", err
	}
	storageTLS, err := proxy.StorageTLS(cfg.ForwardStorageCAFile)
	if err != nil {
		return nil, "", err
	}
	certs := node.NewProxyCertificates(up, cfg.Logger.With("component", "proxy"))
	first, cancel := context.WithTimeout(ctx, 30*time.Second)
	err = certs.Renew(first)
	cancel()
	if err != nil {
		return nil, "", fmt.Errorf("the Azure-name proxy needs a certificate from %s: %w (start with --proxy-addr '' to run without the proxy)", id.ServerURL, err)
	}
	go certs.Run(ctx)
	bundle := filepath.Join(cfg.DataDir, "ca-bundle.pem")
	var extra []string
	if cfg.CAFile != "" {
		extra = append(extra, cfg.CAFile) // the server's own CA, when it is not the installation's
	}
	if err := cabundle.Write(bundle, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: certs.CA().Raw}), extra...); err != nil {
		return nil, "", err
	}
	forward, err := newForwarder(server, hc.Transport, m.ProxyUpstreamConnection, cfg.Logger)
	if err != nil {
		return nil, "", err
	}
	passthrough, err := passthroughDialer(cfg.ProxyTLS, forward, cfg.Logger)
	if err != nil {
		return nil, "", err
	}
	p, err := proxy.New(proxy.Config{Addr: cfg.ProxyAddr, CA: certs, Handler: forward, IMDS: imds,
		Storage: storage, StorageTLS: storageTLS, Passthrough: passthrough, Logger: cfg.Logger.With("component", "proxy")})
	if err != nil {
		return nil, "", err
	}
	go func() {
		if err := p.Serve(ctx); err != nil {
			cfg.Logger.Error("Azure-name proxy stopped", "err", err)
		}
	}()
	env := append(proxy.Environment(p.URL(), id.ServerURL),
		envfile.Var{Name: "SSL_CERT_FILE", Value: bundle}, envfile.Var{Name: "NODE_EXTRA_CA_CERTS", Value: bundle}, envfile.Var{Name: "REQUESTS_CA_BUNDLE", Value: bundle})
	return env, p.URL(), nil
}

// httpClientTrusting is the agent's client of the server: system roots (and SSL_CERT_FILE),
// plus caFile when given; connections to serverURL's host go to addrs in order when given.
func httpClientTrusting(caFile, serverURL string, addrs []string) (*http.Client, error) {
	var serverHost string
	if u, err := url.Parse(serverURL); err == nil {
		serverHost = u.Hostname()
	}
	tlsConfig, err := serverTLS(caFile, serverHost)
	if err != nil {
		return nil, err
	}
	tr := &http.Transport{TLSClientConfig: tlsConfig, Proxy: http.ProxyFromEnvironment, MaxIdleConnsPerHost: 16}
	if len(addrs) > 0 {
		u, err := url.Parse(serverURL)
		if err != nil || u.Host == "" {
			return nil, fmt.Errorf("--server-addr needs the server's URL (--server, or a joined node): %q", serverURL)
		}
		tr.DialContext = failoverDialer(canonicalHostPort(u), addrs)
	}
	return &http.Client{Timeout: 30 * time.Second, Transport: tr}, nil
}

// serverTLS trusts, for the server's certificate, the system roots (and SSL_CERT_FILE) plus
// caFile when given. With caFile, the chain is checked against it first and the system roots are
// loaded only if that fails (a server behind a publicly certified front): loaded at start, the
// system's ~140 roots were ~0.3 MB of the agent's heap for its lifetime, to check a chain that
// the installation's CA alone signs. Without caFile, RootCAs is nil: crypto/tls loads the system
// roots at the first handshake.
func serverTLS(caFile, serverHost string) (*tls.Config, error) {
	if caFile == "" {
		return &tls.Config{}, nil
	}
	pem, err := os.ReadFile(caFile)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("%s holds no PEM certificate", caFile)
	}
	return &tls.Config{
		// crypto/tls would check the chain against RootCAs alone and fail the handshake before
		// VerifyConnection runs: the check is VerifyConnection's, as crypto/tls's own (the chain
		// to a root, for ServerName, for server authentication), on every connection, resumed
		// ones included.
		InsecureSkipVerify: true,
		VerifyConnection: func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 {
				return errors.New("tls: the server sent no certificate")
			}
			// crypto/tls leaves ServerName empty for an IP address (no SNI), and an empty DNSName
			// would skip the name check: the server's own host is checked then, as crypto/tls
			// checks an IP against the certificate's IP addresses.
			name := cs.ServerName
			if name == "" {
				name = serverHost
			}
			if name == "" {
				return errors.New("tls: no server name to check the server's certificate against")
			}
			opts := x509.VerifyOptions{DNSName: name, Roots: pool, Intermediates: x509.NewCertPool()}
			for _, c := range cs.PeerCertificates[1:] {
				opts.Intermediates.AddCert(c)
			}
			_, err := cs.PeerCertificates[0].Verify(opts)
			if err == nil {
				return nil
			}
			if system, serr := x509.SystemCertPool(); serr == nil && system != nil {
				opts.Roots = system
				if _, serr := cs.PeerCertificates[0].Verify(opts); serr == nil {
					return nil
				}
			}
			return &tls.CertificateVerificationError{UnverifiedCertificates: cs.PeerCertificates, Err: err}
		},
	}, nil
}

// failoverDialer dials connections to target (the server's host:port) at addrs, in order, until
// one answers; any other address is dialled as is.
func failoverDialer(target string, addrs []string) func(ctx context.Context, network, addr string) (net.Conn, error) {
	var d net.Dialer
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		if addr != target {
			return d.DialContext(ctx, network, addr)
		}
		var errs []error
		for _, a := range addrs {
			one, cancel := context.WithTimeout(ctx, 3*time.Second)
			c, err := d.DialContext(one, network, a)
			cancel()
			if err == nil {
				return c, nil
			}
			errs = append(errs, err)
		}
		return nil, fmt.Errorf("no server replica answers (%s): %w", strings.Join(addrs, ", "), errors.Join(errs...))
	}
}

// canonicalHostPort is u's host:port, with the scheme's default port when it names none.
func canonicalHostPort(u *url.URL) string {
	if u.Port() != "" {
		return u.Host
	}
	if u.Scheme == "http" {
		return net.JoinHostPort(u.Hostname(), "80")
	}
	return net.JoinHostPort(u.Hostname(), "443")
}
