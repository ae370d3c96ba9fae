// Package agent is mint's node agent: it runs on each host and serves Azure's managed-identity
// endpoints to local workloads, so that unmodified Azure SDK clients get tokens from it as they
// would inside Azure.
//
// Workloads are bound to resources in two ways. `mint run --resource <id> -- cmd` registers its
// process over a root/owner-only Unix socket (Run is the client, the agent the server) and gets
// a per-run secret that the child receives as IDENTITY_HEADER (App Service / Container Apps
// dialect) and MSI_SECRET (Azure ML / legacy 2017-09-01 dialect); the secret is revoked when the
// process exits. A VM-like resource can instead be bound to the whole host (BindHost): every
// local process then gets its identities through the IMDS, Cloud Shell and Azure Arc dialects,
// which is Azure's model for a VM.
//
// Tokens come from Upstream (the mint server's broker grant, which checks that this node may act
// for the resource and that the identity is attached to it) and are cached per (resource,
// identity, audience): one upstream call per key however many concurrent misses, refreshed in
// the background at half-life with jitter, and served while the server is unreachable until
// they expire. A cached token is answered from a pre-rendered body without allocating JSON.
// Each workload has its own token-bucket rate limit.
//
// The request parsing and response shapes of each dialect are in the pure package dialect. The
// agent is not the server side of the broker grant (internal/sts) and holds no node credential
// itself: the Upstream implementation does.
package agent

import (
	"cmp"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"runtime/debug"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mint-id/mint/internal/agent/dialect"
	"github.com/mint-id/mint/internal/connlimit"
)

// DefaultListenAddr is where the agent serves the http dialects unless told otherwise.
const DefaultListenAddr = "127.0.0.1:42356"

// agentMaxConns bounds each of the agent's listeners (connlimit closes the excess at accept).
const agentMaxConns = 2048

// Config configures an Agent.
type Config struct {
	// Upstream issues tokens (required).
	Upstream Upstream
	// ListenAddr is the loopback address of the http dialects (IMDS, App Service, Azure ML,
	// Cloud Shell, Arc); default DefaultListenAddr. Port 0 picks a free port.
	ListenAddr string
	// ServiceFabricAddr, if set, is a loopback address for the https Service Fabric dialect.
	ServiceFabricAddr string
	// ServiceFabricCertificate is that listener's certificate; default a self-signed one. Clients
	// pin its SHA-1 thumbprint (Endpoints().ServiceFabricThumbprint).
	ServiceFabricCertificate *tls.Certificate
	// ArcAddr, if set, is an extra loopback listener serving Azure Arc at Arc's own path
	// (/metadata/identity/oauth2/token), e.g. 127.0.0.1:40342 for clients that find Arc by
	// /opt/azcmagent/bin/himds. Arc is always also served on ListenAddr at /arc/token.
	ArcAddr string
	// SocketPath, if set, is the Unix socket where `mint run` registers workloads. It is created
	// with mode 0600; only root, the agent's user and SocketUIDs may use it.
	SocketPath string
	SocketUIDs []int
	// ArcKeyDir holds Azure Arc challenge key files (mode 0600 in a 0700 directory); default
	// /var/opt/azcmagent/tokens as root (the only directory Go and JS Arc clients accept),
	// else a per-user directory under the temp dir. It is created on first use.
	ArcKeyDir string
	// ArcKeyUID, if non-zero, owns the key directory and files: the local user permitted to use
	// the host's identity through Arc (the agent must run as root to hand them over).
	ArcKeyUID int
	// RateLimit applies to each workload (each `mint run`, and the host binding) separately.
	RateLimit RateLimit
	Cache     CacheConfig
	// UpstreamTimeout bounds one upstream call; default 15 s.
	UpstreamTimeout time.Duration
	// PIDPollInterval is how often registered processes are checked for exit; default 1 s.
	PIDPollInterval time.Duration
	Logger          *slog.Logger
	Clock           func() time.Time
	Metrics         Metrics

	// ReleaseMemoryAfter, if set, returns the heap freed by a burst of upstream calls to the OS
	// once no call has finished for this long (release.go); 0 leaves it to the Go runtime. A
	// resident daemon (mint agent) sets it; a process embedding the agent need not.
	ReleaseMemoryAfter time.Duration
}

// Metrics receives optional measurements; the agent never blocks on them.
type Metrics interface {
	// Served is called once per answered token request, with the dialect's name (dialect.Kind.String).
	Served(dialect string, status int, fromCache bool)
	// UpstreamCall is called after each call to Upstream.
	UpstreamCall(d time.Duration, err error)
}

// Endpoints are the URLs and values a workload's environment needs.
type Endpoints struct {
	// IdentityEndpoint is IDENTITY_ENDPOINT for the App Service dialect (with IDENTITY_HEADER).
	IdentityEndpoint string
	// MSIEndpoint is MSI_ENDPOINT for the Azure ML / legacy dialect (with MSI_SECRET); the same
	// URL, as in App Service.
	MSIEndpoint string
	// IMDSProxy is the HTTP_PROXY that routes http://169.254.169.254 (IMDS) to the agent; it is
	// also AZURE_POD_IDENTITY_AUTHORITY_HOST for JS and Python.
	IMDSProxy string
	// CloudShellEndpoint is MSI_ENDPOINT (alone) for the Cloud Shell dialect.
	CloudShellEndpoint string
	// ArcIdentityEndpoint and ArcIMDSEndpoint are IDENTITY_ENDPOINT and IMDS_ENDPOINT for Arc
	// (on the Arc listener at Arc's own path when Config.ArcAddr is set).
	ArcIdentityEndpoint string
	ArcIMDSEndpoint     string
	// ServiceFabricEndpoint and ServiceFabricThumbprint are IDENTITY_ENDPOINT and
	// IDENTITY_SERVER_THUMBPRINT for the Service Fabric dialect (empty if not enabled).
	ServiceFabricEndpoint   string
	ServiceFabricThumbprint string
}

// Agent serves the managed-identity endpoints of one host.
type Agent struct {
	up        Upstream
	log       *slog.Logger
	clock     func() time.Time
	metrics   Metrics
	negTTL    time.Duration
	upTimeout time.Duration
	pidPoll   time.Duration
	sockUIDs  []int
	rel       *releaser // nil: memory is left to the runtime

	reg   *registry
	cache *cache

	arcDir     string
	arcUID     int
	arcOnce    sync.Once
	arcKeyring *arcKeys
	arcErr     error

	ln, sfLn, arcLn net.Listener
	sockLn          *net.UnixListener
	sockPath        string
	selfHost        string // host:port of ln, for absolute-form requests naming the agent itself
	endpoints       Endpoints

	baseCtx context.Context // upstream calls; canceled on shutdown
	cancel  context.CancelFunc
	callMu  sync.Mutex // guards closed against calls.Add
	closed  bool
	calls   sync.WaitGroup
	// waiting counts the requests waiting for an upstream call now (the singleflight's
	// followers and leaders), so a test can tell every request has joined the call.
	waiting atomic.Int64

	connSeq   atomic.Uint64
	connMu    sync.Mutex
	conns     map[net.Conn]struct{}
	served    atomic.Bool
	closeOnce sync.Once
}

// New validates cfg and binds the agent's listeners, so that Endpoints is known (and a port
// conflict reported) before Serve.
func New(cfg Config) (*Agent, error) {
	if cfg.Upstream == nil {
		return nil, errors.New("agent: an Upstream is required")
	}
	a := &Agent{
		up:        cfg.Upstream,
		log:       cfg.Logger,
		clock:     cfg.Clock,
		metrics:   cfg.Metrics,
		negTTL:    cfg.Cache.NegativeTTL,
		upTimeout: cfg.UpstreamTimeout,
		pidPoll:   cfg.PIDPollInterval,
		sockUIDs:  cfg.SocketUIDs,
		reg:       newRegistry(cfg.RateLimit),
		cache:     newCache(cfg.Cache.MaxEntries),
		arcDir:    cfg.ArcKeyDir,
		arcUID:    -1,
		conns:     map[net.Conn]struct{}{},
	}
	if a.log == nil {
		a.log = slog.New(slog.DiscardHandler)
	}
	if a.clock == nil {
		a.clock = time.Now
	}
	if a.negTTL == 0 {
		a.negTTL = defaultNegativeTTL
	}
	if a.upTimeout <= 0 {
		a.upTimeout = 15 * time.Second
	}
	if a.pidPoll <= 0 {
		a.pidPoll = time.Second
	}
	if cfg.ArcKeyUID != 0 {
		a.arcUID = cfg.ArcKeyUID
	}
	if cfg.ReleaseMemoryAfter > 0 {
		a.rel = newReleaser(cfg.ReleaseMemoryAfter, func() {
			began := time.Now()
			debug.FreeOSMemory()
			a.log.Debug("memory freed by upstream calls returned to the OS", "took", time.Since(began))
		})
	}
	a.baseCtx, a.cancel = context.WithCancel(context.Background())

	addr := cfg.ListenAddr
	if addr == "" {
		addr = DefaultListenAddr
	}
	var err error
	if a.ln, err = listenLoopback(addr); err != nil {
		return nil, err
	}
	a.selfHost = a.ln.Addr().String()
	base := "http://" + a.selfHost
	a.endpoints = Endpoints{
		IdentityEndpoint:    base + dialect.AppServicePath,
		MSIEndpoint:         base + dialect.AppServicePath,
		IMDSProxy:           base,
		CloudShellEndpoint:  base + dialect.CloudShellPath,
		ArcIdentityEndpoint: base + dialect.ArcPath,
		ArcIMDSEndpoint:     base,
	}
	if cfg.ServiceFabricAddr != "" {
		cert := cfg.ServiceFabricCertificate
		if cert == nil {
			c, err := selfSignedServiceFabricCert(a.clock())
			if err != nil {
				a.closeListeners()
				return nil, err
			}
			cert = &c
		}
		if len(cert.Certificate) == 0 {
			a.closeListeners()
			return nil, errors.New("agent: the Service Fabric certificate is empty")
		}
		l, err := listenLoopback(cfg.ServiceFabricAddr)
		if err != nil {
			a.closeListeners()
			return nil, err
		}
		a.sfLn = tls.NewListener(l, &tls.Config{Certificates: []tls.Certificate{*cert}, MinVersion: tls.VersionTLS12})
		a.endpoints.ServiceFabricEndpoint = "https://" + l.Addr().String() + dialect.IMDSPath
		a.endpoints.ServiceFabricThumbprint = Thumbprint(cert.Certificate[0])
	}
	if cfg.ArcAddr != "" {
		if a.arcLn, err = listenLoopback(cfg.ArcAddr); err != nil {
			a.closeListeners()
			return nil, err
		}
		a.endpoints.ArcIdentityEndpoint = "http://" + a.arcLn.Addr().String() + dialect.IMDSPath
		a.endpoints.ArcIMDSEndpoint = "http://" + a.arcLn.Addr().String()
	}
	if cfg.SocketPath != "" {
		if a.sockLn, err = listenSocket(cfg.SocketPath); err != nil {
			a.closeListeners()
			return nil, err
		}
		a.sockPath = cfg.SocketPath
	}
	return a, nil
}

// listenLoopback refuses anything but a loopback address: the IMDS host binding hands the
// host's identities to whoever can connect.
func listenLoopback(addr string) (net.Listener, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("agent: listen address %q: %w", addr, err)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return nil, fmt.Errorf("agent: listen address %q is not a loopback address; the managed-identity endpoints must only be reachable from this host", addr)
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("agent: %w", err)
	}
	return l, nil
}

// Endpoints returns the URLs and values that workloads' environments need.
func (a *Agent) Endpoints() Endpoints { return a.endpoints }

// BindHost binds resourceID (a VM-like resource) to the whole host: any local process gets that
// resource's identities through the IMDS, Cloud Shell and Arc dialects, as on an Azure VM.
func (a *Agent) BindHost(resourceID string) error {
	if err := a.reg.bindHost(resourceID, a.clock()); err != nil {
		return err
	}
	a.log.Info("host bound to resource", "resourceId", resourceID)
	return nil
}

// UnbindHost removes the host binding; IMDS then answers "Identity not found".
func (a *Agent) UnbindHost() { a.reg.host.Store(nil) }

// Registration is a registered workload.
type Registration struct {
	Secret     string
	ResourceID string
	PID        int
	Endpoints  Endpoints
}

// Register registers a workload running as resourceID; its secret is revoked by Unregister or
// when process pid exits (pid 0: never, until Unregister).
func (a *Agent) Register(resourceID string, pid int) (Registration, error) {
	return a.register(resourceID, pid, 0)
}

func (a *Agent) register(resourceID string, pid int, conn uint64) (Registration, error) {
	w, err := a.reg.add(resourceID, pid, conn, a.clock())
	if err != nil {
		return Registration{}, err
	}
	a.log.Info("workload registered", "resourceId", resourceID, "pid", pid)
	return Registration{Secret: w.secret, ResourceID: resourceID, PID: pid, Endpoints: a.endpoints}, nil
}

// Unregister revokes a workload's secret at once.
func (a *Agent) Unregister(secret string) error {
	return a.reg.revoke(secret)
}

// Handler returns the handler of the http dialects' listener (ListenAddr).
func (a *Agent) Handler() http.Handler { return http.HandlerFunc(a.serveMain) }

// ServiceFabricHandler returns the handler of the Service Fabric listener (any path).
func (a *Agent) ServiceFabricHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { a.serveSecret(w, r, dialect.ServiceFabric) })
}

// Serve serves until ctx is done, then shuts down gracefully. It may be called once.
func (a *Agent) Serve(ctx context.Context) error {
	if !a.served.CompareAndSwap(false, true) {
		return errors.New("agent: Serve called twice")
	}
	defer a.Close()
	errc := make(chan error, 4)
	var servers []*http.Server
	start := func(l net.Listener, h http.Handler) {
		srv := &http.Server{
			Handler:  h,
			ErrorLog: slog.NewLogLogger(a.log.Handler(), slog.LevelDebug),
		}
		connlimit.Apply(srv, 0) // bodies too have a deadline; HTTP/2 bounded
		// Only loopback clients reach the agent, all from one address: one total bound.
		l = connlimit.Wrap(l, connlimit.Limits{Total: agentMaxConns, PerClient: agentMaxConns}, a.log)
		servers = append(servers, srv)
		go func() {
			if err := srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) && !errors.Is(err, net.ErrClosed) {
				errc <- err
			}
		}()
	}
	start(a.ln, a.Handler())
	if a.sfLn != nil {
		start(a.sfLn, a.ServiceFabricHandler())
	}
	if a.arcLn != nil {
		start(a.arcLn, http.HandlerFunc(a.serveArcListener))
	}
	var bg sync.WaitGroup
	if a.sockLn != nil {
		bg.Add(1)
		go func() { defer bg.Done(); a.serveSocket() }()
	}
	bg.Add(1)
	go func() { defer bg.Done(); a.housekeeping(ctx) }()
	a.log.Info("agent serving", "addr", a.ln.Addr().String(), "socket", a.sockPath)

	var err error
	select {
	case <-ctx.Done():
	case <-a.baseCtx.Done(): // Close
	case err = <-errc:
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, srv := range servers {
		_ = srv.Shutdown(shutdownCtx)
	}
	a.Close()
	bg.Wait()
	return err
}

// Close stops the listeners, cancels upstream calls and removes the socket and Arc key files.
func (a *Agent) Close() error {
	a.closeOnce.Do(func() {
		a.closeListeners()
		a.cancel()
		a.callMu.Lock()
		a.closed = true
		a.callMu.Unlock()
		a.calls.Wait()
		if a.rel != nil {
			a.rel.stop()
		}
		if a.arcKeyring != nil {
			a.arcKeyring.close()
		}
		if a.sockPath != "" {
			os.Remove(a.sockPath)
		}
	})
	return nil
}

func (a *Agent) closeListeners() {
	for _, l := range []net.Listener{a.ln, a.sfLn, a.arcLn} {
		if l != nil {
			l.Close()
		}
	}
	if a.sockLn != nil {
		a.sockLn.Close()
	}
	a.connMu.Lock()
	for c := range a.conns {
		c.Close()
	}
	a.connMu.Unlock()
}

// housekeeping revokes workloads whose process exited, sweeps the cache (dropping expired
// entries, refreshing ahead the ones in use) and expires Arc challenges.
func (a *Agent) housekeeping(ctx context.Context) {
	pids := time.NewTicker(a.pidPoll)
	defer pids.Stop()
	sweep := time.NewTicker(15 * time.Second)
	defer sweep.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-a.baseCtx.Done():
			return
		case <-pids.C:
			a.reapExited()
		case <-sweep.C:
			now := a.clock()
			for _, e := range a.cache.sweep(now) {
				a.startCall(e)
			}
			if a.arcKeyring != nil {
				a.arcKeyring.sweep(now)
			}
		}
	}
}

func (a *Agent) reapExited() {
	// Many workloads may be one process (one program registering several): each pid is read
	// once a pass.
	ws := a.reg.watched()
	slices.SortFunc(ws, func(x, y *workload) int { return cmp.Compare(x.pid, y.pid) })
	dead := map[*workload]bool{}
	pid, start, alive := 0, uint64(0), false
	for _, w := range ws {
		if w.pid != pid {
			pid = w.pid
			start, alive = processStart(pid)
		}
		if !alive || start != w.pidStart {
			dead[w] = true
		}
	}
	if len(dead) == 0 {
		return
	}
	for _, w := range a.reg.remove(func(w *workload) bool { return dead[w] }) {
		a.log.Info("workload exited; secret revoked", "resourceId", w.resourceID, "pid", w.pid)
	}
}

// arcKeys creates the Arc key directory on first use.
func (a *Agent) arcKeys() (*arcKeys, error) {
	a.arcOnce.Do(func() {
		a.arcKeyring, a.arcErr = newArcKeys(a.arcDir, a.arcUID)
		if a.arcErr != nil {
			a.log.Error("azure arc unavailable", "err", a.arcErr)
		}
	})
	return a.arcKeyring, a.arcErr
}

// socketPeerAllowed reports whether a socket peer may register workloads.
func (a *Agent) socketPeerAllowed(uid int) bool {
	if uid == 0 || uid == os.Geteuid() {
		return true
	}
	for _, u := range a.sockUIDs {
		if u == uid {
			return true
		}
	}
	return false
}
