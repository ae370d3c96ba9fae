// Package vault is mint's Key Vault data plane: the secrets REST API that the real, unmodified
// Key Vault clients (Go azsecrets, JS @azure/keyvault-secrets, az) speak, served for every vault
// at its own host name, https://<vault>.<vault DNS suffix>[:port], with identifiers at the root
// of the URL (https://learn.microsoft.com/azure/key-vault/general/about-keys-secrets-certificates).
//
// A request goes through: the vault named by the Host; challenge authentication
// (https://learn.microsoft.com/azure/key-vault/general/authentication-requests-and-responses: no token or a refused token is a 401 with WWW-Authenticate naming mint's authority and
// the vault audience, and nothing is done); token revocation beyond Azure's (the principal must
// still exist, a managed identity must still be attached to the resource the token was issued
// for); the api-version; the route; authorization by RBAC data actions at the secret's scope or,
// when the vault has RBAC off, by its access policies; then the operation. Values are encrypted
// per vault (crypto.go) and backups are blobs only this installation can read (backup.go).
//
// It is not the control plane: vaults are created, changed and deleted through the management
// endpoint (internal/arm, Microsoft.KeyVault/vaults), which stores their properties.
package vault

import (
	"context"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/mint-id/mint/internal/authz"
	"github.com/mint-id/mint/internal/bearer"
	"github.com/mint-id/mint/internal/directory"
	"github.com/mint-id/mint/internal/keys"
	"github.com/mint-id/mint/internal/store"
)

// DefaultDNSSuffix is the vault DNS suffix of a default installation: vaults are served at
// https://<vault>.vault.localhost:<port>.
const DefaultDNSSuffix = "vault.localhost"

// AzureDNSSuffix is Key Vault's own suffix, served when the Azure-name proxy sends *.vault.azure.net
// to mint and the suffix is configured.
const AzureDNSSuffix = "vault.azure.net"

const (
	headerRequestID      = "x-ms-request-id"
	headerRegion         = "x-ms-keyvault-region"
	serviceVersion       = "1.9.0.0 (mint)"
	defaultPurgeInterval = time.Minute
)

var (
	serviceVersionHeader = []string{serviceVersion}
	noCacheHeader        = []string{"no-cache"}
	hstsHeader           = []string{"max-age=31536000;includeSubDomains"}
	nosniffHeader        = []string{"nosniff"}
)

// Config configures the data plane.
type Config struct {
	// BaseURL is mint's public base URL: the authority named in the challenge and the base of
	// the token issuers accepted.
	BaseURL string
	// DNSSuffixes are the vault DNS suffixes served (default: DefaultDNSSuffix). A request whose
	// Host is <vault>.<suffix>[:port] is the vault's.
	DNSSuffixes []string
	Logger      *slog.Logger
	Clock       func() time.Time
	// CacheTTL is how long token verdicts, role assignments and vault records are reused; at
	// most (and by default) MaxCacheTTL. Negative disables the caches (tests).
	CacheTTL time.Duration
	// PurgeInterval is how often RunPurger removes deleted secrets past their purge date
	// (default one minute).
	PurgeInterval time.Duration
}

// Store is what the data plane reads and writes.
type Store interface {
	store.Vaults
	GetPrincipal(ctx context.Context, objectID string) (store.ServicePrincipal, error)
	GetResource(ctx context.Context, id string) (store.Resource, error)
	GetUser(ctx context.Context, objectID string) (store.User, error)
	authz.Store
}

// Server serves every vault's data plane. It is safe for concurrent use.
type Server struct {
	cfg       Config
	st        Store
	kek       *keys.KEK
	log       *slog.Logger
	validator *bearer.Validator
	backupKey cipher.AEAD
	suffixes  []string // lower case

	tokens *ttlCache[*verdict]
	roles  *ttlCache[*principalAccess]
	vaults *ttlCache[*vaultEntry]
	// secrets keeps sealed secret versions for GETs (secretcache.go).
	secrets *secretCache
}

// New builds the data plane. signingKeys verifies tokens (keys.Manager).
func New(cfg Config, st Store, kek *keys.KEK, signingKeys bearer.KeySource) *Server {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	if cfg.CacheTTL == 0 || cfg.CacheTTL > MaxCacheTTL {
		cfg.CacheTTL = MaxCacheTTL
	}
	if cfg.PurgeInterval <= 0 {
		cfg.PurgeInterval = defaultPurgeInterval
	}
	cfg.BaseURL = strings.TrimSuffix(cfg.BaseURL, "/")
	s := &Server{cfg: cfg, st: st, kek: kek, log: cfg.Logger}
	s.suffixes = NormalizeSuffixes(cfg.DNSSuffixes)
	backupKey, err := newGCM(kek.DeriveKey(backupKeyPurpose))
	if err != nil {
		panic("vault: backup key: " + err.Error()) // a 32-byte key always makes a cipher
	}
	s.backupKey = backupKey
	// The audiences are those the directory maps to Key Vault (the server derives both from the
	// same suffixes and public port).
	s.validator = &bearer.Validator{Keys: signingKeys, IssuerBase: cfg.BaseURL, Clock: cfg.Clock,
		Audiences: Audiences(s.suffixes, PortOf(cfg.BaseURL))}
	s.tokens = newTTLCache[*verdict](cfg.Clock)
	s.roles = newTTLCache[*principalAccess](cfg.Clock)
	s.vaults = newTTLCache[*vaultEntry](cfg.Clock)
	s.secrets = newSecretCache(cfg.Clock, cfg.CacheTTL)
	return s
}

// NormalizeSuffixes lower-cases suffixes, drops blanks, dots at the ends and repeats, and gives
// the default when none is left.
func NormalizeSuffixes(in []string) []string {
	var out []string
	seen := map[string]bool{}
	for _, s := range in {
		s = strings.Trim(strings.ToLower(strings.TrimSpace(s)), ".")
		if s == "" || seen[s] {
			continue
		}
		seen[s] = true
		out = append(out, s)
	}
	if len(out) == 0 {
		out = []string{DefaultDNSSuffix}
	}
	return out
}

// Audiences are the token audiences of the vaults at suffixes when mint's public port is port
// ("" or "443" for none): Key Vault's own, https://<suffix> and https://<suffix>:<port> for each
// suffix (the Go client asks for the challenge's resource, which carries the port the vault was
// reached on), and the Key Vault application id.
func Audiences(suffixes []string, port string) []string {
	out := []string{"https://" + AzureDNSSuffix, directory.KeyVaultAppID}
	for _, s := range NormalizeSuffixes(suffixes) {
		out = append(out, "https://"+s, "https://"+s+":443")
		if port != "" && port != "443" {
			out = append(out, "https://"+s+":"+port)
		}
	}
	return out
}

// PortOf is the explicit port of a URL ("" when it has none).
func PortOf(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		return ""
	}
	return u.Port()
}

// URI is a vault's vaultUri: https://<name>.<suffix>[:port]/.
func URI(name, suffix, port string) string {
	host := strings.ToLower(name) + "." + suffix
	if port != "" && port != "443" {
		host += ":" + port
	}
	return "https://" + host + "/"
}

// Match reports whether host (a request's Host, port allowed) names a vault: <vault>.<suffix>
// with a single label before one of the served suffixes. It returns the vault's name and the
// suffix.
func (s *Server) Match(host string) (name, suffix string, ok bool) {
	h := host
	if hh, _, err := net.SplitHostPort(host); err == nil {
		h = hh
	}
	h = strings.TrimSuffix(strings.ToLower(h), ".")
	for _, sfx := range s.suffixes {
		if len(h) > len(sfx)+1 && strings.HasSuffix(h, sfx) && h[len(h)-len(sfx)-1] == '.' {
			label := h[:len(h)-len(sfx)-1]
			if !strings.Contains(label, ".") {
				return label, sfx, true
			}
		}
	}
	return "", "", false
}

// request is one data-plane request as it goes through the pipeline.
type request struct {
	w          http.ResponseWriter
	r          *http.Request
	ctx        context.Context
	requestID  string
	vault      *vaultEntry
	host       string // the Host as sent: identifiers are built from it
	suffix     string
	caller     *verdict
	apiVersion string
	route      route
}

// ServeHTTP answers one data-plane request.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	q := &request{w: w, r: r, ctx: r.Context(), requestID: newRequestID(), host: r.Host}
	h := w.Header()
	// Canonical keys set directly: this runs on every request.
	h["X-Ms-Request-Id"] = []string{q.requestID}
	h["X-Ms-Keyvault-Service-Version"] = serviceVersionHeader
	h["Cache-Control"] = noCacheHeader
	h["Strict-Transport-Security"] = hstsHeader
	h["X-Content-Type-Options"] = nosniffHeader

	name, suffix, ok := s.Match(r.Host)
	if !ok {
		writeError(w, notServed(r.URL.Path))
		return
	}
	q.suffix = suffix
	if !validVaultName(name) {
		writeError(w, vaultNotFound(name))
		return
	}
	v, err := s.vault(q.ctx, name)
	if errors.Is(err, store.ErrNotFound) {
		writeError(w, vaultNotFound(name))
		return
	}
	if err != nil {
		s.fail(q, err)
		return
	}
	q.vault = v
	if v.regionHeader != nil {
		h["X-Ms-Keyvault-Region"] = v.regionHeader
	} else {
		h.Set(headerRegion, v.location)
	}

	if e := s.authenticate(q); e != nil {
		s.challenge(q, e)
		return
	}
	var query url.Values // nil when the query is api-version alone: every lookup finds nothing else
	var v2 string
	var e *Error
	if only, ok := queryOfAPIVersionOnly(r.URL.RawQuery); ok {
		v2, e = checkAPIVersionValue(only)
	} else {
		query = r.URL.Query()
		v2, e = checkAPIVersion(query)
	}
	if e != nil {
		writeError(w, e)
		return
	}
	q.apiVersion = v2
	rt, e := parseRoute(r.Method, r.URL.Path)
	if e != nil {
		writeError(w, e)
		return
	}
	q.route = rt
	s.serveOperation(q, query)
}

// requestIDRandom hands out the random bytes of request ids from a buffer filled 64 ids at a
// time: crypto/rand per request was a visible share of a GET's CPU. The ids stay random version
// 4 UUIDs from the system's generator.
var requestIDRandom = &bufferedRandom{}

type bufferedRandom struct {
	mu  sync.Mutex
	buf [64 * 16]byte
	n   int // bytes of buf not handed out yet (at its end)
}

func (b *bufferedRandom) Read(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.n < len(p) {
		if len(p) > len(b.buf) {
			return rand.Read(p)
		}
		_, _ = rand.Read(b.buf[:]) // crypto/rand.Read never fails on supported platforms
		b.n = len(b.buf)
	}
	off := len(b.buf) - b.n
	copy(p, b.buf[off:off+len(p)])
	clear(b.buf[off : off+len(p)])
	b.n -= len(p)
	return len(p), nil
}

// newRequestID is uuid.NewRandom's version 4 UUID (RFC 9562 section 5.4: version and variant
// bits set as it sets them) over the buffered bytes; read through the concrete reader, the UUID
// stays on the stack.
func newRequestID() string {
	var id uuid.UUID
	_, _ = requestIDRandom.Read(id[:])
	id[6] = (id[6] & 0x0f) | 0x40
	id[8] = (id[8] & 0x3f) | 0x80
	return id.String()
}

// fail answers a failure of mint itself: logged with the request id, never shown.
func (s *Server) fail(q *request, err error) {
	if q.ctx.Err() != nil {
		return // the client has gone
	}
	s.log.Error("vault request failed", "method", q.r.Method, "host", q.host, "path", q.r.URL.Path, "request_id", q.requestID, "err", err)
	if errors.Is(err, authz.ErrUnavailable) || errors.Is(err, store.ErrUnavailable) {
		writeError(q.w, unavailable(q.requestID))
		return
	}
	writeError(q.w, internalError(q.requestID))
}

// validVaultName is armid.ValidateKeyVaultName's rule, checked before any store read.
func validVaultName(name string) bool {
	if len(name) < 3 || len(name) > 24 || strings.Contains(name, "--") {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		letter := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
		digit := c >= '0' && c <= '9'
		switch {
		case i == 0 && !letter:
			return false
		case i == len(name)-1 && !letter && !digit:
			return false
		case !letter && !digit && c != '-':
			return false
		}
	}
	return true
}
