// Package sts is mint's security token service: the "login" endpoint that Azure SDK clients treat
// as Entra ID (login.microsoftonline.com). It serves OIDC discovery (v1 and v2 documents), the
// JWKS, instance discovery, and the v1 and v2 token endpoints for the client credentials grant
// (client secret, HTTP Basic, certificate-signed client assertion), and it builds and signs
// Entra-shaped access tokens.
//
// The package is HTTP handlers around pure cores: ParseTokenRequest and ParseAssertion read
// requests, VerifyClientAssertion checks a certificate assertion, ClaimsFor builds a token's
// claims. Issue is the entry point for issuers that do not come through the token endpoint
// (managed identities, the node agents' broker grant).
//
// It is not the directory (Directory, implemented by internal/directory, holds tenants,
// principals and credentials), not the key manager (Signer, internal/keys) and not the sign-in
// log's storage (SignInRecorder, internal/audit); it only uses them through the interfaces below.
package sts

import (
	"cmp"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/mint-id/mint/internal/bearer"
	"github.com/mint-id/mint/internal/store"
)

// Directory is what the STS needs from the directory.
type Directory interface {
	// Tenant resolves a tenant path segment: a GUID or the tenant's default domain, case-insensitively; store.ErrNotFound if unknown.
	Tenant(ctx context.Context, ref string) (store.Tenant, error)
	// Client finds the principal whose appId is clientID in the tenant (case-insensitive); store.ErrNotFound if none.
	Client(ctx context.Context, tenantID, clientID string) (store.ServicePrincipal, error)
	// Resource finds the resource principal for an audience: one of its identifier URIs (compared case-insensitively, with or without one trailing "/") or its appId; store.ErrNotFound if none.
	Resource(ctx context.Context, tenantID, audience string) (store.ServicePrincipal, error)
	// VerifySecret reports whether secret matches one of the principal's password credentials valid now.
	// When the secret matches only credentials that have expired it may return (false,
	// ErrSecretExpired), which the STS turns into AADSTS7000222 instead of AADSTS7000215.
	VerifySecret(ctx context.Context, principalID, secret string) (bool, error)
	// Certificates returns the principal's certificate credentials valid now.
	Certificates(ctx context.Context, principalID string) ([]store.Credential, error)
	// AppRoles returns the values of the app roles principalID holds on resource.
	AppRoles(ctx context.Context, principalID string, resource store.ServicePrincipal) ([]string, error)
}

// SecretExpiryChecker may be implemented by a Directory as the other way to tell AADSTS7000222
// from AADSTS7000215: after VerifySecret refused a secret, SecretExpired reports whether it
// matches one of the principal's password credentials that has expired.
type SecretExpiryChecker interface {
	SecretExpired(ctx context.Context, principalID, secret string) (bool, error)
}

// ErrSecretExpired may be returned by Directory.VerifySecret when the secret matches a password
// credential of the principal that is no longer valid.
var ErrSecretExpired = errors.New("client secret expired")

// Signer signs tokens with the current signing key and publishes the key set.
type Signer interface {
	// Sign returns a compact RS256 JWS of claims with a kid header, and x5t too when withX5T.
	Sign(claims any, withX5T bool) (string, error)
	JWKS() []byte // the JSON Web Key Set document
}

// SignInRecorder takes sign-in log entries. Record must not block; entries are batched elsewhere.
type SignInRecorder interface{ Record(store.SignIn) }

// FederatedVerifier checks a client assertion that was not issued by the client itself
// (workload identity federation: a Kubernetes, GitHub or other OIDC issuer's token). It verifies
// the assertion's signature with its issuer's keys and matches issuer, subject and audience
// against the client's federated identity credentials. A refusal should be an *Error (for
// example AADSTS70021 or AADSTS700211); any other error is answered as a server error.
type FederatedVerifier interface {
	VerifyFederated(ctx context.Context, req FederatedRequest) error
}

// FederatedRequest is what a FederatedVerifier decides on.
type FederatedRequest struct {
	Tenant    store.Tenant
	Client    store.ServicePrincipal
	Assertion *Assertion // parsed, signature not yet verified
	Now       time.Time
}

// Broker decides the node agents' broker grant (nodewire.GrantManagedIdentity): whether node, an
// authenticated client, may act for the resource hostResourceID, and which of that resource's
// managed identities the selector names. A refusal is an *Error (BrokerError builds one).
type Broker interface {
	ManagedIdentity(ctx context.Context, tenant store.Tenant, node store.ServicePrincipal, hostResourceID string, sel IdentitySelector) (BrokerDecision, error)
}

// BrokerDecision is the managed identity a broker grant issues a token for.
type BrokerDecision struct {
	Identity store.ServicePrincipal
	Claims   ManagedIdentityClaims
}

// Config configures a Server. Zero values get the defaults documented on each field.
type Config struct {
	// BaseURL is the authority host, e.g. "https://127.0.0.1:8443", without a trailing slash
	// (one is trimmed). Issuers, discovery documents and error_uri are built from it.
	BaseURL string
	// AppTokenLifetime is the lifetime of client-credentials tokens: default 1h, clamped to
	// [5m, 24h]. Clients never cache a token with less than 5 minutes of life, so shorter
	// tokens would make every call a token request.
	AppTokenLifetime time.Duration
	// ManagedIdentityTokenLifetime is the lifetime of managed-identity tokens issued through
	// Issue: default 24h, clamped to [5m, 48h].
	ManagedIdentityTokenLifetime time.Duration
	// Clock returns the current time; default time.Now.
	Clock func() time.Time
	// Logger receives structured logs (never secrets or tokens); default discards.
	Logger *slog.Logger
	// MaxBodyBytes caps a token request body; default 64 KiB.
	MaxBodyBytes int64
	// Federated verifies federated client assertions; nil refuses them with AADSTS70021.
	Federated FederatedVerifier
	// Broker decides the node agents' broker grant; nil refuses the grant.
	Broker Broker
	// People signs people in (password, authorization code, device code, refresh token); nil
	// refuses every user grant and the sign-in pages.
	People People
	// SealKey (32 bytes) seals refresh tokens, authorization codes and the browser session
	// cookie. Every server of one installation must have the same key; nil makes a random one,
	// so those do not survive a restart.
	SealKey []byte
	// UserTokenLifetime is the lifetime of people's access and ID tokens: default 75 min (Entra
	// issues 60-90 min), clamped to [5m, 24h].
	UserTokenLifetime time.Duration
	// DeviceCodes keeps device-code sign-ins where every server sees them; nil keeps them in
	// this process's memory.
	DeviceCodes store.DeviceCodes
	// DeviceCodeInterval is the polling interval a device-code answer gives clients: default
	// Entra's 5 s, in whole seconds, at least 1 s. Clients wait that long before each poll, so a
	// shorter one shortens every device-code sign-in (tests set 1 s).
	DeviceCodeInterval time.Duration
	// RedirectURIs gives the registered reply URLs of an application of the directory (mint's
	// portal registers its own); nil, or no URIs, leaves the browser flow to the first-party
	// public clients.
	RedirectURIs func(ctx context.Context, tenantID, appID string) []string
}

const (
	defaultAppTokenLifetime = time.Hour
	defaultMITokenLifetime  = 24 * time.Hour
	minTokenLifetime        = 5 * time.Minute
	maxAppTokenLifetime     = 24 * time.Hour
	maxMITokenLifetime      = 48 * time.Hour
	defaultMaxBodyBytes     = 64 << 10
)

// AuthorityAliases are the Entra host names mint answers for (through the Azure-name proxy).
// Instance discovery lists them as aliases of BaseURL's host, and client assertions addressed to
// a token endpoint on them are accepted.
var AuthorityAliases = []string{"login.microsoftonline.com", "login.windows.net", "login.microsoft.com", "sts.windows.net"}

// Server serves the STS endpoints. Create it with New.
type Server struct {
	baseURL     string
	scheme      string // of baseURL
	host        string // host[:port] of baseURL
	dir         Directory
	signer      Signer
	signins     SignInRecorder
	assertions  store.Assertions
	federated   FederatedVerifier
	broker      Broker
	miCache     *miTokenCache
	log         *slog.Logger
	clock       func() time.Time
	appLifetime time.Duration
	miLifetime  time.Duration
	maxBody     int64

	people       People
	redirectURIs func(ctx context.Context, tenantID, appID string) []string
	seal         *sealer
	lock         *lockout
	devices      store.DeviceCodes
	userLifetime time.Duration
	// deviceInterval is the device-code answers' interval, in seconds.
	deviceInterval int
	csrfKey        []byte
	idTokens       idTokenCache
	roles          roleCache
}

// New returns a Server. signins and assertions may be nil (no sign-in log; certificate
// assertions then cannot be checked for replay and are refused).
func New(cfg Config, dir Directory, signer Signer, signins SignInRecorder, assertions store.Assertions) *Server {
	s := &Server{
		baseURL:     strings.TrimRight(cfg.BaseURL, "/"),
		dir:         dir,
		signer:      signer,
		signins:     signins,
		assertions:  assertions,
		federated:   cfg.Federated,
		broker:      cfg.Broker,
		miCache:     &miTokenCache{},
		log:         cfg.Logger,
		clock:       cfg.Clock,
		appLifetime: clampDuration(cfg.AppTokenLifetime, defaultAppTokenLifetime, minTokenLifetime, maxAppTokenLifetime),
		miLifetime:  clampDuration(cfg.ManagedIdentityTokenLifetime, defaultMITokenLifetime, minTokenLifetime, maxMITokenLifetime),
		maxBody:     cfg.MaxBodyBytes,

		people:         cfg.People,
		redirectURIs:   cfg.RedirectURIs,
		seal:           newSealer(cfg.SealKey),
		lock:           newLockout(),
		devices:        cfg.DeviceCodes,
		userLifetime:   clampDuration(cfg.UserTokenLifetime, 75*time.Minute, minTokenLifetime, maxAppTokenLifetime),
		deviceInterval: max(1, int(cmp.Or(cfg.DeviceCodeInterval, deviceCodeInterval*time.Second).Round(time.Second)/time.Second)),
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.devices == nil {
		s.devices = newMemDeviceCodes()
	}
	if len(cfg.SealKey) == 32 { // every server of the installation checks the others' CSRF tokens
		m := hmac.New(sha256.New, cfg.SealKey)
		m.Write([]byte("mint-sts csrf v1"))
		s.csrfKey = m.Sum(nil)
	} else {
		s.csrfKey = make([]byte, 32)
		_, _ = rand.Read(s.csrfKey)
	}
	if s.clock == nil {
		s.clock = time.Now
	}
	if s.maxBody <= 0 {
		s.maxBody = defaultMaxBodyBytes
	}
	// Say so when a lifetime was raised or lowered into its range, rather than silently.
	if d := cfg.AppTokenLifetime; d != 0 && d != s.appLifetime {
		s.log.Warn("application token lifetime adjusted to the allowed range", "requested", d.String(), "used", s.appLifetime.String(),
			"min", minTokenLifetime.String(), "max", maxAppTokenLifetime.String())
	}
	if d := cfg.ManagedIdentityTokenLifetime; d != 0 && d != s.miLifetime {
		s.log.Warn("managed-identity token lifetime adjusted to the allowed range", "requested", d.String(), "used", s.miLifetime.String(),
			"min", minTokenLifetime.String(), "max", maxMITokenLifetime.String())
	}
	if u, err := url.Parse(s.baseURL); err == nil && u.Host != "" {
		s.scheme, s.host = strings.ToLower(u.Scheme), u.Host
	} else {
		s.scheme, s.host = "https", strings.TrimPrefix(strings.TrimPrefix(s.baseURL, "https://"), "http://")
	}
	return s
}

func clampDuration(d, def, lo, hi time.Duration) time.Duration {
	switch {
	case d == 0:
		return def
	case d < lo:
		return lo
	case d > hi:
		return hi
	}
	return d
}

// BaseURL returns the authority host the server was configured with, without a trailing slash.
func (s *Server) BaseURL() string { return s.baseURL }

// Issuer returns the iss claim of tokens of version v for the tenant: Entra's,
// https://sts.windows.net/{tid}/ for v1 and https://login.microsoftonline.com/{tid}/v2.0 for v2.
func (s *Server) Issuer(tenantID string, v Version) string {
	if v == V2 {
		return bearer.V2Issuer(tenantID)
	}
	return bearer.V1Issuer(tenantID)
}

// Handler returns the http.Handler for every STS route; mount it at the root of the login host.
func (s *Server) Handler() http.Handler { return s }

// Register mounts the STS on mux at "/".
func (s *Server) Register(mux *http.ServeMux) { mux.Handle("/", s) }

type route int

const (
	routeTokenV2 route = iota + 1
	routeTokenV1
	routeOpenIDV2
	routeOpenIDV1
	routeKeysV2
	routeKeysV1
	routeInstance
	routeDeviceCodeV2
	routeDeviceCodeV1
	routeAuthorizeV2
	routeAuthorizeV1
	routeLogoutV2
	routeLogoutV1
	routeLogin
)

// routes are matched case-insensitively against the path after the tenant segment.
var routes = [...]struct {
	suffix string
	route  route
}{
	{"/oauth2/v2.0/token", routeTokenV2},
	{"/oauth2/token", routeTokenV1},
	{"/v2.0/.well-known/openid-configuration", routeOpenIDV2},
	{"/.well-known/openid-configuration", routeOpenIDV1},
	{"/discovery/v2.0/keys", routeKeysV2},
	{"/discovery/keys", routeKeysV1},
	{"/discovery/instance", routeInstance},
	{"/oauth2/v2.0/devicecode", routeDeviceCodeV2},
	{"/oauth2/devicecode", routeDeviceCodeV1},
	{"/oauth2/v2.0/authorize", routeAuthorizeV2},
	{"/oauth2/authorize", routeAuthorizeV1},
	{"/oauth2/v2.0/logout", routeLogoutV2},
	{"/oauth2/logout", routeLogoutV1},
	{"/login", routeLogin},
}

// ServeHTTP routes by hand: no regexps, no ServeMux redirects, tenant segment and path matched
// case-insensitively, one trailing slash tolerated, query strings ignored.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p := r.URL.Path
	if len(p) > 1 && p[len(p)-1] == '/' {
		p = p[:len(p)-1]
	}
	var seg, rest string
	if len(p) > 1 && p[0] == '/' {
		if i := strings.IndexByte(p[1:], '/'); i > 0 {
			seg, rest = p[1:i+1], p[i+1:]
		}
	}
	switch {
	case strings.EqualFold(p, deviceLoginPath):
		s.serveDeviceLogin(w, r)
		return
	case strings.HasPrefix(p, assetPrefix):
		s.serveAsset(w, r, p[len(assetPrefix):])
		return
	case strings.EqualFold(p, errorPath):
		s.serveErrorCode(w, r)
		return
	}
	if len(rest) > len(userRealmPrefix) && strings.EqualFold(rest[:len(userRealmPrefix)], userRealmPrefix) {
		s.serveUserRealm(w, r, rest[len(userRealmPrefix):])
		return
	}
	var rt route
	if seg != "" {
		for _, c := range routes {
			if strings.EqualFold(rest, c.suffix) {
				rt = c.route
				break
			}
		}
	}
	switch rt {
	case routeTokenV2:
		if r.Method == http.MethodOptions && s.servePreflight(w, r) {
			return
		}
		s.serveToken(w, r, seg, V2)
	case routeTokenV1:
		if r.Method == http.MethodOptions && s.servePreflight(w, r) {
			return
		}
		s.serveToken(w, r, seg, V1)
	case routeOpenIDV2:
		s.serveOpenID(w, r, seg, V2)
	case routeOpenIDV1:
		s.serveOpenID(w, r, seg, V1)
	case routeKeysV2, routeKeysV1:
		s.serveKeys(w, r, seg)
	case routeInstance:
		s.serveInstanceDiscovery(w, r)
	case routeDeviceCodeV2:
		s.serveDeviceCode(w, r, seg, V2)
	case routeDeviceCodeV1:
		s.serveDeviceCode(w, r, seg, V1)
	case routeAuthorizeV2:
		s.serveAuthorize(w, r, seg, V2)
	case routeAuthorizeV1:
		s.serveAuthorize(w, r, seg, V1)
	case routeLogoutV2, routeLogoutV1:
		s.serveLogout(w, r, seg)
	case routeLogin:
		s.serveLogin(w, r, seg)
	default:
		s.serveNotFound(w, r)
	}
}

func (s *Server) serveNotFound(w http.ResponseWriter, r *http.Request) {
	e := &Error{Status: http.StatusNotFound, Err: "not_found", Description: "The path '" + r.URL.Path +
		"' is not an endpoint of this token service. Endpoints: /{tenant}/oauth2/v2.0/token, /{tenant}/oauth2/token, " +
		"/{tenant}/v2.0/.well-known/openid-configuration, /{tenant}/.well-known/openid-configuration, " +
		"/{tenant}/discovery/v2.0/keys, /{tenant}/discovery/keys, /common/discovery/instance, /{tenant}/oauth2/v2.0/authorize, " +
		"/{tenant}/oauth2/v2.0/devicecode, /{tenant}/oauth2/v2.0/logout, /common/userrealm/{user}, /devicelogin, /error?code={AADSTS number}."}
	s.writeError(w, e, newUUID(), correlationFromHeader(r), s.clock())
}

// tenantSegmentKind classifies a tenant path segment without I/O.
type tenantSegmentKind int

const (
	segmentInvalid     tenantSegmentKind = iota
	segmentMultiTenant                   // common, organizations
	segmentTenant                        // a GUID or a domain, to be resolved by the directory
)

func classifySegment(seg string) tenantSegmentKind {
	if len(seg) == 0 || len(seg) > 256 {
		return segmentInvalid
	}
	for i := 0; i < len(seg); i++ {
		c := seg[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '-') {
			return segmentInvalid
		}
	}
	if strings.EqualFold(seg, "common") || strings.EqualFold(seg, "organizations") {
		return segmentMultiTenant
	}
	return segmentTenant
}

// resolveTenant looks a tenant segment up. Unknown GUIDs and domains are AADSTS90002; a name that
// is neither a GUID nor looks like a domain is AADSTS900023, as in Entra.
func (s *Server) resolveTenant(ctx context.Context, seg string) (store.Tenant, *Error) {
	t, err := s.dir.Tenant(ctx, seg)
	if err == nil {
		return t, nil
	}
	if !errors.Is(err, store.ErrNotFound) {
		s.log.ErrorContext(ctx, "tenant lookup failed", "tenant", seg, "err", err)
		return store.Tenant{}, errServer(err)
	}
	if !isGUID(seg) && strings.IndexByte(seg, '.') < 0 {
		return store.Tenant{}, errTenantInvalid(seg)
	}
	return store.Tenant{}, errTenantNotFound(seg)
}

// isGUID reports whether s has the 8-4-4-4-12 hex form.
func isGUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < 36; i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
				return false
			}
		}
	}
	return true
}
