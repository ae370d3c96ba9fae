// Package server assembles one mint process: it opens the store, loads the key-encryption key
// and the CA, runs the signing-key manager, and serves the STS, the Graph-shaped directory API
// (and, as they arrive, the management endpoint and the vault data plane) over TLS. `mint dev`
// and `mint server` both run it; dev adds the zero-configuration bootstrap and the env file.
package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/mint-id/mint/internal/arm"
	"github.com/mint-id/mint/internal/audit"
	"github.com/mint-id/mint/internal/bearer"
	"github.com/mint-id/mint/internal/connlimit"
	"github.com/mint-id/mint/internal/directory"
	"github.com/mint-id/mint/internal/federation"
	"github.com/mint-id/mint/internal/graph"
	"github.com/mint-id/mint/internal/keys"
	"github.com/mint-id/mint/internal/metrics"
	"github.com/mint-id/mint/internal/metrics/storemetrics"
	"github.com/mint-id/mint/internal/nodes"
	"github.com/mint-id/mint/internal/nodewire"
	"github.com/mint-id/mint/internal/portal"
	"github.com/mint-id/mint/internal/store"
	"github.com/mint-id/mint/internal/store/postgres"
	"github.com/mint-id/mint/internal/store/sqlite"
	"github.com/mint-id/mint/internal/sts"
	"github.com/mint-id/mint/internal/vault"
)

// Config is everything a mint process needs; flags and MINT_* variables fill it.
type Config struct {
	// DataDir holds the CA, the key-encryption key file (unless KEKFile says otherwise) and, for
	// the default store, the SQLite database.
	DataDir string
	// Store is "" or "sqlite:<path>" for SQLite (default <DataDir>/mint.db), or a postgres:// URL.
	Store string
	// Addr is the TLS listen address, e.g. 127.0.0.1:8443; port 0 picks a free one.
	Addr string
	// PublicURL is the base URL clients use (the authority host and the management endpoint).
	// Default: https://<Addr as bound>.
	PublicURL string
	// KEKFile and KEK (base64) give the key-encryption key; KEK wins. Default file <DataDir>/kek.
	KEKFile string
	KEK     string
	// CreateKEK generates the KEK file when it is missing (mint dev); a server refuses to start.
	CreateKEK bool
	// MaxConns and MaxConnsPerClient bound the TLS listener's open connections, in total and
	// from one IP address (0: connlimit's defaults); the excess is closed at accept.
	MaxConns, MaxConnsPerClient int
	// ReadTimeout bounds reading a whole request, body included (0: 30 s).
	ReadTimeout time.Duration
	// AgentAddr is where `mint dev`'s in-process node agent serves the managed-identity
	// endpoints (loopback only; port 0 picks a free one).
	AgentAddr string
	// ServiceFabricAddr is where `mint dev`'s in-process agent serves the https Service Fabric
	// dialect (loopback; port 0 picks a free one; empty: none).
	ServiceFabricAddr string
	// ProxyAddr is where `mint dev` serves the Azure-name proxy (loopback; empty: no proxy).
	ProxyAddr string
	// ForwardStorage are --forward-storage values: Azure Storage names the proxy forwards to a
	// local emulator ("https://host:port" for blob, or "<service>=https://host:port");
	// ForwardStorageCAFile is the PEM the emulator's certificate is checked against.
	ForwardStorage       []string
	ForwardStorageCAFile string
	// BindHost, if set, binds `mint dev`'s in-process agent to this VM-like resource, so IMDS
	// (directly or through the proxy) answers with its identities.
	BindHost string
	// TLSCertFile and TLSKeyFile, when set, are the serving certificate (PEM chain and key) to use
	// instead of one issued by mint's CA, e.g. one from the organisation's PKI.
	TLSCertFile, TLSKeyFile string
	// TLSNames are extra DNS names for the serving certificate.
	TLSNames []string
	// VaultDNSSuffixes are the DNS suffixes vaults are served under, https://<vault>.<suffix>
	// (several may be active; the first is in every vaultUri). Default: vault.localhost.
	VaultDNSSuffixes []string

	AppTokenLifetime  time.Duration
	MITokenLifetime   time.Duration
	KeyRotationPeriod time.Duration
	KeyRefresh        time.Duration
	// DeviceCodeInterval is how long device-code clients wait between polls (zero: Entra's 5 s).
	DeviceCodeInterval time.Duration

	// SignInRetention and ActivityRetention are how long the logs are kept (zero: the defaults,
	// Entra's 30 and 90 days; negative: forever). A purge runs at start and every hour.
	SignInRetention, ActivityRetention time.Duration

	Logger *slog.Logger
}

// Server is a running mint process.
type Server struct {
	cfg       Config
	log       *slog.Logger
	Store     store.Store
	Directory *directory.Directory
	Keys      *keys.Manager
	CA        *keys.CA
	KEK       *keys.KEK
	SignIns   *audit.SignInLog
	Metrics   *metrics.Metrics
	Nodes     *nodes.Registry
	// Revocations is this server's view of the store's revocation feed, served to node agents.
	Revocations *nodes.Feed
	Vault       *vault.Server
	Portal      *portal.Portal

	devAgent http.Handler // `mint dev`'s in-process agent, the proxy's IMDS

	listener net.Listener
	lock     *dataDirLock // SQLite: the data directory's lock, held until close
	http     *http.Server
	// BaseURL is the public base URL, without a trailing slash.
	BaseURL string
}

func isSQLite(store string) bool { return store == "" || strings.HasPrefix(store, "sqlite:") }

// OpenStore opens the store a Config names.
func OpenStore(ctx context.Context, cfg Config) (store.Store, error) {
	switch {
	case strings.HasPrefix(cfg.Store, "postgres://"), strings.HasPrefix(cfg.Store, "postgresql://"):
		return postgres.Open(ctx, cfg.Store)
	case cfg.Store == "" || strings.HasPrefix(cfg.Store, "sqlite:"):
		path := strings.TrimPrefix(cfg.Store, "sqlite:")
		path = strings.TrimPrefix(path, "//")
		if path == "" {
			path = filepath.Join(cfg.DataDir, "mint.db")
		}
		if err := prepareSQLiteFiles(path); err != nil {
			return nil, err
		}
		return sqlite.Open(ctx, path)
	default:
		return nil, fmt.Errorf("unknown store %q: use sqlite:<path> or postgres://user@host:port/db", redactURL(cfg.Store))
	}
}

// LoadKEK loads (or, when cfg.CreateKEK, creates) the key-encryption key.
func LoadKEK(cfg Config) (*keys.KEK, error) {
	file := cfg.KEKFile
	if file == "" {
		file = filepath.Join(cfg.DataDir, "kek")
	}
	if cfg.KEK == "" && cfg.CreateKEK {
		if _, err := os.Stat(file); errors.Is(err, os.ErrNotExist) {
			if _, err := keys.GenerateKEKFile(file); err != nil {
				return nil, err
			}
		}
	}
	return keys.LoadKEK(file, cfg.KEK)
}

// New opens everything and binds the listener; Serve starts answering.
func New(ctx context.Context, cfg Config) (*Server, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.DataDir == "" {
		return nil, errors.New("a data directory is required")
	}
	cfg.VaultDNSSuffixes = withAzureVaultSuffix(cfg) // proxies send *.vault.azure.net here
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("create data directory: %w", err)
	}
	s := &Server{cfg: cfg, log: cfg.Logger}
	if isSQLite(cfg.Store) {
		lock, err := lockDataDir(cfg.DataDir)
		if err != nil {
			return nil, err
		}
		s.lock = lock
	}
	ok := false
	defer func() {
		if !ok {
			s.lock.release()
		}
	}()
	removeStale(cfg.DataDir) // ours now: the lock is held (or the store is shared PostgreSQL)
	var err error
	if s.KEK, err = LoadKEK(cfg); err != nil {
		return nil, err
	}
	if s.CA, err = keys.LoadOrCreateCA(cfg.DataDir, s.KEK); err != nil {
		return nil, err
	}
	if s.Store, err = OpenStore(ctx, cfg); err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	s.Metrics = metrics.New()
	s.Store = storemetrics.Store(s.Metrics, s.Store)
	// The token endpoint's client, resource and credential lookups are cached for at most
	// 0.5 s; every write through this server that can change them clears the cache, so every
	// part of the server must use this store.
	lookups := directory.NewLookupCache(directory.MaxLookupCacheTTL, nil)
	s.Store = lookups.Watch(s.Store)
	defer func() {
		if !ok {
			s.Store.Close()
		}
	}()
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", cfg.Addr, err)
	}
	s.listener = connlimit.Wrap(ln, connlimit.Limits{Total: cfg.MaxConns, PerClient: cfg.MaxConnsPerClient}, s.log)
	s.BaseURL = strings.TrimSuffix(cfg.PublicURL, "/")
	if s.BaseURL == "" {
		s.BaseURL = "https://" + s.listener.Addr().String()
	}
	s.Keys = keys.NewManager(s.Store, s.KEK, keys.ManagerOptions{
		RotationPeriod:   cfg.KeyRotationPeriod,
		MaxTokenLifetime: maxDuration(cfg.MITokenLifetime, cfg.AppTokenLifetime, 25*time.Hour),
		RefreshInterval:  cfg.KeyRefresh,
		Logger:           s.log,
	})
	if err := s.Keys.Ensure(ctx); err != nil {
		s.listener.Close()
		return nil, fmt.Errorf("signing keys: %w", err)
	}
	s.Directory = directory.New(s.Store, directory.Options{ManagementAudiences: []string{s.BaseURL}, VaultAudiences: s.vaultAudiences()})
	s.SignIns = audit.NewSignInLog(s.Store, s.log)
	s.Metrics.Registry().MustRegister(
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "mint_signin_log_dropped_total",
			Help: "Sign-in log entries dropped because the queue was full while the store did not take writes."},
			func() float64 { return float64(s.SignIns.Dropped()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "mint_signin_anonymous_refusals_total",
			Help: "Refused token requests no principal could be named for (unknown tenant or client, malformed): counted, not stored."},
			func() float64 { return float64(s.SignIns.AnonymousRefusals()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "mint_signin_log_pending",
			Help: "Sign-in log entries waiting to be written."},
			func() float64 { return float64(s.SignIns.Pending()) }))

	tokenService := sts.New(sts.Config{
		BaseURL:                      s.BaseURL,
		AppTokenLifetime:             cfg.AppTokenLifetime,
		ManagedIdentityTokenLifetime: cfg.MITokenLifetime,
		Logger:                       s.log,
		Broker:                       nodes.NewBroker(s.Store),
		Federated:                    federation.New(s.Store, federation.Options{BaseURL: s.BaseURL, LocalKeys: s.Keys.JWKS, Logger: s.log}),
		People:                       s.Directory,
		// Every server of the installation shares the KEK, so refresh tokens, codes and browser
		// sessions sealed by one are good at all of them.
		SealKey:            s.KEK.DeriveKey("sts-user-sessions"),
		DeviceCodes:        s.Store, // the client may poll one server while the person approves at another
		DeviceCodeInterval: cfg.DeviceCodeInterval,
		// The portal's application has one reply URL, its sign-in callback.
		RedirectURIs: func(_ context.Context, tenantID, appID string) []string {
			if s.Portal != nil && s.Portal.Registered(tenantID, appID) {
				return []string{portal.RedirectURI(s.BaseURL)}
			}
			return nil
		},
	}, s.Directory.Cached(lookups), s.Keys, storemetrics.CountSignIns(s.Metrics, s.SignIns), s.Store)
	graphAPI := graph.New(s.Directory, s.Store, s.Keys, s.BaseURL, s.log)

	mux := http.NewServeMux()
	mux.Handle("/v1.0/", s.Metrics.Instrument("graph", graphAPI))
	armAPI := s.Metrics.Instrument("arm", s.withKeyVault(arm.New(arm.Config{BaseURL: s.BaseURL, Logger: s.log}, s.Store, s.Directory, s.Keys)))
	s.Vault = s.newVault()
	mux.Handle("/subscriptions", armAPI)
	mux.Handle("/subscriptions/", armAPI)
	mux.Handle("/providers/", armAPI)
	mux.Handle("/tenants", armAPI) // az login as a person lists its tenants first
	s.Nodes = nodes.NewRegistry(s.Store, s.Directory)
	s.Revocations = nodes.NewFeed(s.Store, 0, s.log)
	s.Metrics.RevocationFeed(func() metrics.RevocationFeedStats {
		st := s.Revocations.Stats()
		return metrics.RevocationFeedStats{Cursor: st.Cursor, Seen: st.Seen, Polls: st.Polls, Errors: st.Errors}
	})
	mux.Handle("/mint/nodes/", s.Metrics.Instrument("nodes", nodes.NewHandler(s.Nodes,
		&bearer.Validator{Keys: s.Keys, IssuerBase: s.BaseURL, Audiences: arm.ManagementAudiences(s.BaseURL)}, s.log).WithProxyCertificates(s.CA).
		WithRevocations(s.Revocations)))
	mux.Handle(nodewire.WorkloadTokensPath, federation.NewHandler(federation.HandlerConfig{Store: s.Store, Signer: s.Keys, BaseURL: s.BaseURL, SignIns: s.SignIns, Logger: s.log,
		Tokens: &bearer.Validator{Keys: s.Keys, IssuerBase: s.BaseURL, Audiences: arm.ManagementAudiences(s.BaseURL)}}))
	mux.Handle("GET /metadata/endpoints", s.Metrics.Instrument("arm", arm.CloudMetadata(arm.CloudMetadataConfig{BaseURL: s.BaseURL, KeyVaultSuffix: s.vaultSuffixes()[0]})))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok\n")) })
	mux.HandleFunc("GET /readyz", s.readyz)
	mux.Handle("GET /metrics", s.Metrics.Handler())
	mux.Handle("/", s.Metrics.Instrument("sts", tokenService.Handler()))
	// The portal calls mint's own handler in-process (the same one clients reach over TLS), with
	// the signed-in person's token; it has no other way in.
	if s.Portal, err = portal.New(portal.Config{BaseURL: s.BaseURL, Logger: s.log, Sessions: s.Store, Sealer: s.KEK, ManagedIdentityTokenLifetime: cfg.MITokenLifetime,
		API: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { s.http.Handler.ServeHTTP(w, r) })}); err != nil {
		s.listener.Close()
		return nil, err
	}
	mux.Handle("/portal/", s.Metrics.Instrument("portal", s.Portal))

	leaf, err := s.serverCert()
	if err != nil {
		s.listener.Close()
		return nil, err
	}
	azureNames := newAzureNameCerts(s.CA)
	s.http = &http.Server{
		Handler:   withAzureNameHosts(azureNames, servePathsAsIs(s.withVaults(mux))),
		TLSConfig: serverTLSConfig(leaf, azureNames),
		ErrorLog:  slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
	}
	connlimit.Apply(s.http, cfg.ReadTimeout)
	ok = true
	return s, nil
}

// Bootstrap creates the default tenant, subscription and admin application when missing, and
// makes the admin application Owner of the default subscription.
func (s *Server) Bootstrap(ctx context.Context) (directory.Installation, error) {
	in, err := s.Directory.Bootstrap(ctx)
	if err != nil {
		return in, err
	}
	if err := arm.EnsureOwner(ctx, s.Store, in.Admin.ObjectID, in.Subscription.ID); err != nil {
		return in, err
	}
	clientID, secret, err := portal.Register(ctx, s.Directory, s.Store, s.KEK, in.Tenant.ID)
	if err != nil {
		return in, err
	}
	s.Portal.SetClient(in.Tenant.ID, clientID, secret)
	return in, nil
}

func (s *Server) serverCert() (tls.Certificate, error) {
	if s.cfg.TLSCertFile != "" || s.cfg.TLSKeyFile != "" {
		cert, err := tls.LoadX509KeyPair(s.cfg.TLSCertFile, s.cfg.TLSKeyFile)
		if err != nil {
			return tls.Certificate{}, fmt.Errorf("serving certificate (--tls-cert-file, --tls-key-file): %w", err)
		}
		return cert, nil
	}
	names := []string{"localhost", "*.vault.localhost"}
	ips := []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback}
	if u, err := url.Parse(s.BaseURL); err == nil {
		if ip := net.ParseIP(u.Hostname()); ip != nil {
			ips = append(ips, ip)
		} else if u.Hostname() != "" {
			names = append(names, u.Hostname())
		}
	}
	names = append(append(names, s.cfg.TLSNames...), s.vaultCertNames()...)
	cert, err := s.CA.IssueServerCert(names, ips, 90*24*time.Hour)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("issue serving certificate: %w", err)
	}
	return cert, nil
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if _, err := s.Store.ListTenants(ctx); err != nil {
		http.Error(w, "store unavailable", http.StatusServiceUnavailable)
		return
	}
	w.Write([]byte("ok\n"))
}

// Addr is the bound listen address.
func (s *Server) Addr() string { return s.listener.Addr().String() }

// Serve answers requests until ctx ends, then shuts down gracefully.
func (s *Server) Serve(ctx context.Context) error {
	keyCtx, stopKeys := context.WithCancel(ctx)
	defer stopKeys()
	go s.Keys.Run(keyCtx)
	go s.Vault.RunPurger(keyCtx)
	go audit.RunPurge(keyCtx, s.Store, s.retention(), time.Hour, nil, s.log)
	go s.Revocations.Run(keyCtx)

	errc := make(chan error, 1)
	go func() { errc <- s.http.ServeTLS(s.listener, "", "") }()
	select {
	case err := <-errc:
		s.close()
		return err
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := s.http.Shutdown(shutdown)
	s.close()
	return err
}

func (s *Server) close() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.SignIns.Close(ctx); err != nil {
		s.log.Warn("sign-in log not fully written at shutdown", "err", err)
	}
	s.Store.Close()
	s.ClearReady()
	s.lock.release()
}

// retention is the configured log retention, defaults applied.
func (s *Server) retention() audit.Retention {
	r := audit.DefaultRetention
	if s.cfg.SignInRetention != 0 {
		r.SignIns = max(s.cfg.SignInRetention, 0)
	}
	if s.cfg.ActivityRetention != 0 {
		r.Activity = max(s.cfg.ActivityRetention, 0)
	}
	return r
}

func maxDuration(ds ...time.Duration) time.Duration {
	var m time.Duration
	for _, d := range ds {
		m = max(m, d)
	}
	return m
}

// redactURL hides a password in a store URL before it reaches a message.
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "<unparseable>"
	}
	return u.Redacted()
}

// Handler is the process's whole HTTP handler (what the TLS listener serves), for in-process
// callers such as tests.
func (s *Server) Handler() http.Handler { return s.http.Handler }
