// Package proxy is mint's Azure-name proxy: an HTTP proxy (HTTPS_PROXY / HTTP_PROXY) for
// programs that hard-code Azure's host names. It answers CONNECT to login.microsoftonline.com,
// management.azure.com, <vault>.vault.azure.net and a few aliases by terminating TLS itself, with
// a certificate from mint's CA for exactly the requested name, and serving the decrypted requests
// with mint's own handler in-process, Host set to the Azure name. It answers absolute-form
// http://169.254.169.254 requests with the node agent's IMDS handler.
//
// It is not a forward proxy: the only connections it opens are to the Storage emulators it is
// configured to forward <account>.blob.core.windows.net (and queue, table) to (Config.Storage).
// Every other target is refused with 403 before any tunnel exists, with a message naming the host.
package proxy

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/mint-id/mint/internal/connlimit"
)

// DefaultAddr is where `mint dev` listens unless told otherwise.
const DefaultAddr = "127.0.0.1:8445"

// Config configures a Proxy.
type Config struct {
	// Addr is the listen address; default DefaultAddr. Port 0 picks a free port. It must be a
	// loopback address unless AllowRemote is set.
	Addr        string
	AllowRemote bool
	// CA issues the per-name certificates (required).
	CA CertIssuer
	// Handler serves the requests decrypted from tunnels: mint's STS, management endpoint,
	// Graph and vault data plane, routed by path and Host (required).
	Handler http.Handler
	// IMDS serves absolute-form http://169.254.169.254 requests: the node agent's handler. Nil
	// answers them 403 "unreachable" (credential chains move on).
	IMDS http.Handler
	// Names are the exact host names served over CONNECT; nil means DefaultNames.
	Names []string
	// Vaults are the vault host names served over CONNECT; nil means DefaultVaults
	// (<vault>.vault.azure.net on 443).
	Vaults []VaultHosts
	// Storage forwards Azure Storage names (<account>.blob.core.windows.net, …) to a local
	// emulator, the only connections the proxy ever opens; StorageTLS is how it trusts the
	// emulator (nil: system roots). Storage names not listed are refused like any other.
	Storage    []StorageForward
	StorageTLS *tls.Config
	// Passthrough, when set, opens a connection to the server that answers Azure's names with
	// its own TLS: tunnels to every name except the Storage ones are then passed through to it,
	// not terminated here (passthrough.go). Nil: every tunnel is terminated.
	Passthrough PassthroughDialer

	// MaxConns bounds client connections (tunnels included); default 1024.
	MaxConns int
	// MaxTunnels bounds concurrently open tunnels; more CONNECTs get 503. Default 256.
	MaxTunnels int
	// MaxBodyBytes bounds one request body; default 4 MiB.
	MaxBodyBytes int64
	// MaxHeaderBytes bounds one request's header; default 64 KiB.
	MaxHeaderBytes int
	// HeaderTimeout bounds reading a request's header and a tunnel's TLS handshake; default 10 s.
	HeaderTimeout time.Duration
	// ReadTimeout bounds reading a whole request, body included; default 30 s.
	ReadTimeout time.Duration
	// IdleTimeout closes a connection (or tunnel) idle between requests; default 2 min.
	IdleTimeout time.Duration
	// PinnedIdle is how long a tunnel with a connection of its own to the server (a Pinner's)
	// keeps that connection while it waits for a request; default 30 s (Pinner).
	PinnedIdle time.Duration
	// CertTTL is the validity of a per-name certificate; default 24 h.
	CertTTL time.Duration
	// MaxCachedCerts bounds the certificate cache; default 1024.
	MaxCachedCerts int

	Logger *slog.Logger
	Clock  func() time.Time
}

// Proxy is a bound Azure-name proxy. Create it with New, run it with Serve.
type Proxy struct {
	names   *Names
	handler http.Handler
	storage map[string]http.Handler // by Storage service
	imds    http.Handler
	certs   *certCache
	log     *slog.Logger
	maxBody int64

	// passthrough dials the server for the tunnels passed through (passthrough.go); nil: none.
	passthrough PassthroughDialer
	splices     spliceSet

	// The tunnels' request loop (loop.go), used when the handler is a Forwarder.
	forwarder     Forwarder
	errorLog      *log.Logger // net/http's own messages, at debug level
	maxHeader     int
	headerTimeout time.Duration
	idleTimeout   time.Duration
	pinnedIdle    time.Duration
	readTimeout   time.Duration // a whole request in a tunnel, body included
	loops         loops

	ln      net.Listener
	outer   *http.Server // plain HTTP: CONNECT and absolute-form requests
	inner   *http.Server // the requests decrypted from tunnels
	tunnels *tunnelListener
	slots   chan struct{} // one per open tunnel
	tls     *tls.Config   // of every tunnel (newTLSConfig)

	serveOnce sync.Once
}

// New validates cfg and binds the listener, so the address is known (and a conflict reported)
// before Serve.
func New(cfg Config) (*Proxy, error) {
	if cfg.CA == nil || cfg.Handler == nil {
		return nil, errors.New("proxy: a CA and a handler are required")
	}
	if cfg.Addr == "" {
		cfg.Addr = DefaultAddr
	}
	if cfg.Names == nil {
		cfg.Names = DefaultNames
	}
	if cfg.Vaults == nil {
		cfg.Vaults = DefaultVaults
	}
	cfg.MaxConns = orDefault(cfg.MaxConns, 1024)
	cfg.MaxTunnels = orDefault(cfg.MaxTunnels, 256)
	cfg.MaxBodyBytes = orDefault(cfg.MaxBodyBytes, 4<<20)
	cfg.MaxHeaderBytes = orDefault(cfg.MaxHeaderBytes, 64<<10)
	cfg.HeaderTimeout = orDefault(cfg.HeaderTimeout, 10*time.Second)
	cfg.IdleTimeout = orDefault(cfg.IdleTimeout, 2*time.Minute)
	cfg.PinnedIdle = orDefault(cfg.PinnedIdle, 30*time.Second)
	cfg.CertTTL = orDefault(cfg.CertTTL, 24*time.Hour)
	cfg.MaxCachedCerts = orDefault(cfg.MaxCachedCerts, 1024)
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	if !cfg.AllowRemote {
		if err := requireLoopback(cfg.Addr); err != nil {
			return nil, err
		}
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("proxy: listen on %s: %w", cfg.Addr, err)
	}
	names := NewNames(cfg.Names, cfg.Vaults)
	for _, f := range cfg.Storage {
		if _, ok := StorageServices[f.Service]; !ok || f.Target == nil {
			ln.Close()
			return nil, fmt.Errorf("proxy: bad storage forward %+v", f)
		}
		if names.storage == nil {
			names.storage = map[string]bool{}
		}
		names.storage[f.Service] = true
	}
	p := &Proxy{
		names:   names,
		handler: cfg.Handler,
		storage: newStorageForwarders(cfg.Storage, cfg.StorageTLS, cfg.Logger),
		imds:    cfg.IMDS,
		certs:   newCertCache(cfg.CA, cfg.CertTTL, cfg.MaxCachedCerts, cfg.Clock),
		log:     cfg.Logger,
		maxBody: cfg.MaxBodyBytes,
		// Storage names stay terminated here: the server knows nothing of the emulators.
		passthrough: cfg.Passthrough,
		// Over MaxConns a connection is closed at once (a listener that waited for a free slot let
		// slow clients time out everyone else's CONNECT). Loopback clients share one address.
		ln:      connlimit.Wrap(ln, connlimit.Limits{Total: cfg.MaxConns, PerClient: cfg.MaxConns}, cfg.Logger),
		tunnels: newTunnelListener(ln.Addr()),
		slots:   make(chan struct{}, cfg.MaxTunnels),

		maxHeader:     cfg.MaxHeaderBytes,
		headerTimeout: cfg.HeaderTimeout,
		idleTimeout:   cfg.IdleTimeout,
		pinnedIdle:    cfg.PinnedIdle,
		readTimeout:   tunnelReadTimeout,
		loops:         loops{all: map[*tunnelLoop]struct{}{}},
	}
	// mint dev's handler serves in-process and keeps the inner server; only a Forwarder (the
	// node agent's) has answers the loop can copy back as they come.
	p.forwarder, _ = cfg.Handler.(Forwarder)
	p.tls = p.newTLSConfig()
	errorLog := slog.NewLogLogger(p.log.Handler(), slog.LevelDebug)
	p.errorLog = errorLog
	p.outer = &http.Server{
		Handler:           p,
		ReadHeaderTimeout: cfg.HeaderTimeout,
		IdleTimeout:       cfg.IdleTimeout,
		MaxHeaderBytes:    cfg.MaxHeaderBytes,
		ErrorLog:          errorLog,
	}
	connlimit.Apply(p.outer, cfg.ReadTimeout) // a CONNECT clears the deadline once hijacked
	p.inner = &http.Server{
		Handler:           http.HandlerFunc(p.serveTunneled),
		ReadHeaderTimeout: cfg.HeaderTimeout,
		ReadTimeout:       tunnelReadTimeout,
		IdleTimeout:       cfg.IdleTimeout,
		MaxHeaderBytes:    cfg.MaxHeaderBytes,
		ErrorLog:          errorLog,
		ConnContext:       tunnelContext,
	}
	return p, nil
}

func orDefault[T int | int64 | time.Duration](v, def T) T {
	if v <= 0 {
		return def
	}
	return v
}

func requireLoopback(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("proxy: listen address %q: %w", addr, err)
	}
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return nil
	}
	return fmt.Errorf("proxy: listen address %q is not loopback: the Azure-name proxy serves this machine's programs only", addr)
}

// Addr is the bound listen address.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// URL is the proxy's URL, the value of HTTPS_PROXY and HTTP_PROXY.
func (p *Proxy) URL() string { return "http://" + p.Addr() }

// Serve serves until ctx is done, then shuts down (tunnels get a few seconds to finish). It may
// be called once.
func (p *Proxy) Serve(ctx context.Context) error {
	err := errors.New("proxy: Serve called twice")
	p.serveOnce.Do(func() { err = p.serve(ctx) })
	return err
}

func (p *Proxy) serve(ctx context.Context) error {
	errc := make(chan error, 2)
	go func() { errc <- p.outer.Serve(p.ln) }()
	go func() { errc <- p.inner.Serve(p.tunnels) }()
	var err error
	select {
	case err = <-errc:
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	p.outer.Shutdown(shutdown)
	p.tunnels.Close()
	p.splices.closeAll()
	p.closeLoops(shutdown)
	if p.inner.Shutdown(shutdown) != nil {
		p.inner.Close()
	}
	if errors.Is(err, http.ErrServerClosed) || errors.Is(err, net.ErrClosed) {
		err = nil
	}
	return err
}

// ServeHTTP answers the proxy's own listener: CONNECT to a served name opens a tunnel,
// absolute-form http://169.254.169.254 goes to IMDS, everything else is refused.
func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.Method == http.MethodConnect:
		p.serveConnect(w, r)
	case r.URL.Host != "" && strings.EqualFold(r.URL.Scheme, "http") && IsIMDS(r.URL.Host):
		p.serveIMDS(w, r)
	case r.URL.Host != "":
		host := hostOnly(r.URL.Host)
		hint := ""
		if p.names.Serves(host) {
			hint = " " + host + " is served over https only (through CONNECT)."
		}
		p.refuse(w, r, &Refusal{http.StatusForbidden, fmt.Sprintf("mint proxy: refusing %s %s://%s: mint's Azure-name proxy answers only for https://%s "+
			"and http://%s (managed identity); it never forwards traffic anywhere.%s To reach %s directly, add it to NO_PROXY.",
			r.Method, strings.ToLower(r.URL.Scheme), r.URL.Host, strings.ReplaceAll(p.names.Describe(), ", ", ", https://"), IMDSHost, hint, host)})
	default:
		p.refuse(w, r, &Refusal{http.StatusBadRequest, "mint proxy: this is mint's Azure-name proxy, not a web server: " +
			"use its URL as HTTPS_PROXY and HTTP_PROXY (with NO_PROXY=127.0.0.1,localhost)."})
	}
}

func (p *Proxy) serveIMDS(w http.ResponseWriter, r *http.Request) {
	if p.imds == nil {
		// "unreachable" in a 403 makes credential chains treat IMDS as absent and move on.
		p.refuse(w, r, &Refusal{http.StatusForbidden, "mint proxy: IMDS is unreachable: no node agent serves managed identity behind this proxy."})
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, p.maxBody)
	p.imds.ServeHTTP(w, r)
}

func (p *Proxy) refuse(w http.ResponseWriter, r *http.Request, ref *Refusal) {
	p.log.Info("proxy request refused", "method", r.Method, "target", truncate(r.RequestURI, 200), "status", ref.Status)
	h := w.Header()
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff")
	// RFC 9209: say which proxy answered, and why.
	h.Set("Proxy-Status", "mint; error="+proxyStatusError(ref.Status))
	if r.Method == http.MethodConnect {
		h.Set("Connection", "close")
	}
	w.WriteHeader(ref.Status)
	io.WriteString(w, ref.Message+"\n")
}

func proxyStatusError(status int) string {
	switch status {
	case http.StatusBadRequest:
		return "http_request_error"
	case http.StatusForbidden:
		return "http_request_denied"
	case http.StatusServiceUnavailable:
		return "connection_limit_reached"
	}
	return "proxy_internal_response"
}

// serveConnect checks the target, takes a tunnel slot, answers 200 and serves the connection,
// wrapped in a TLS server for exactly that name: with the tunnel's request loop on this
// goroutine when the handler is a Forwarder (loop.go), else by handing it to the inner server.
func (p *Proxy) serveConnect(w http.ResponseWriter, r *http.Request) {
	host, port, ref := p.names.Connect(r.RequestURI)
	if ref != nil {
		p.refuse(w, r, ref)
		return
	}
	select {
	case p.slots <- struct{}{}:
	default:
		w.Header().Set("Retry-After", "1")
		p.refuse(w, r, &Refusal{http.StatusServiceUnavailable, fmt.Sprintf("mint proxy: too many open tunnels (%d); try again.", cap(p.slots))})
		return
	}
	release := sync.OnceFunc(func() { <-p.slots })
	hj, ok := w.(http.Hijacker)
	if !ok {
		release()
		p.refuse(w, r, &Refusal{http.StatusHTTPVersionNotSupported, "mint proxy: CONNECT needs HTTP/1.1."})
		return
	}
	var upstream net.Conn
	if p.passthrough != nil && p.storage[storageService(host)] == nil {
		if upstream, ok = p.dialPassthrough(w, r); !ok {
			release()
			return
		}
	}
	conn, brw, err := hj.Hijack()
	if err != nil {
		release()
		if upstream != nil {
			upstream.Close()
		}
		p.log.Debug("proxy hijack failed", "err", err)
		return
	}
	conn.SetDeadline(time.Time{})
	conn.SetWriteDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(conn, "HTTP/1.1 200 Connection established\r\n\r\n"); err != nil {
		conn.Close()
		release()
		if upstream != nil {
			upstream.Close()
		}
		return
	}
	conn.SetWriteDeadline(time.Time{})
	tc := &tunnelConn{pendingConn: pendingConn{Conn: conn}, target: tunnelTarget{host, port}, release: release}
	if n := brw.Reader.Buffered(); n > 0 {
		// The client sent its ClientHello without waiting for our 200.
		buffered, _ := brw.Reader.Peek(n)
		tc.pending = append([]byte(nil), buffered...)
	}
	if upstream != nil {
		p.servePassthrough(tc, upstream)
		return
	}
	p.log.Debug("proxy tunnel opened", "host", host, "remote", r.RemoteAddr)
	if p.forwarder != nil && p.storage[storageService(host)] == nil {
		p.serveTunnel(tc)
		return
	}
	p.tunnels.push(tls.Server(tc, p.tls))
}

// newTLSConfig is the one TLS configuration of every tunnel: it presents the certificate for
// exactly the tunnel's host, and only to a client that asks for that host (or sends no server
// name). One configuration rather than one per tunnel, so that its session tickets (keys
// rotated by crypto/tls) let a client that opens a new tunnel resume instead of doing a full
// handshake.
func (p *Proxy) newTLSConfig() *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		NextProtos: []string{"h2", "http/1.1"},
		GetCertificate: func(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
			tc, ok := hello.Conn.(*tunnelConn)
			if !ok {
				return nil, errors.New("mint proxy: TLS outside a tunnel")
			}
			host := tc.target.host
			if hello.ServerName != "" && normalizeHost(hello.ServerName) != host {
				return nil, fmt.Errorf("mint proxy: TLS server name %q does not match the CONNECT host %s", truncate(hello.ServerName, 100), host)
			}
			return p.certs.get(host)
		},
	}
}

// serveTunneled serves one request decrypted from a tunnel with mint's handler, as if it had
// reached the Azure name directly.
func (p *Proxy) serveTunneled(w http.ResponseWriter, r *http.Request) {
	info, ok := r.Context().Value(tunnelTargetKey{}).(tunnelInfo)
	if !ok {
		http.Error(w, "mint proxy: request outside a tunnel", http.StatusInternalServerError)
		return
	}
	t := info.target
	if r.TLS == nil {
		r.TLS = info.tls // a tunnel the loop handed over after its handshake
	}
	if !hostHeaderMatches(r.Host, t) {
		http.Error(w, misdirected(t, r.Host), http.StatusMisdirectedRequest)
		return
	}
	r.Host = t.hostHeader()
	r.URL.Scheme, r.URL.Host = "", "" // an absolute-form request line inside the tunnel
	if fwd := p.storage[storageService(t.host)]; fwd != nil {
		// Blobs are streamed to the emulator, which applies Storage's own size limits.
		fwd.ServeHTTP(w, r)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, p.maxBody)
	p.handler.ServeHTTP(w, r)
}

// tunnelTarget is what a tunnel was opened to.
type tunnelTarget struct{ host, port string }

// hostHeader is the Host a client sends for the target: the name alone on 443, as Azure's
// clients do, else name:port (the vault's challenge names the port it was reached on).
func (t tunnelTarget) hostHeader() string {
	if t.port == "443" {
		return t.host
	}
	return net.JoinHostPort(t.host, t.port)
}

// hostHeaderMatches accepts the tunnel's host, with its port or none (and an empty Host, which
// HTTP/1.0 allows).
func hostHeaderMatches(hdr string, t tunnelTarget) bool {
	if hdr == "" {
		return true
	}
	if hdr == t.host && t.port == "443" {
		return true // what clients send (and no SplitHostPort error to allocate)
	}
	if h, port, err := net.SplitHostPort(hdr); err == nil {
		return port == t.port && normalizeHost(h) == t.host
	}
	return normalizeHost(hdr) == t.host
}
