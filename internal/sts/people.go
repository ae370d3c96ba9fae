package sts

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"time"

	"github.com/mint-id/mint/internal/store"
)

// People is what the STS needs from the directory to sign people in (internal/directory
// implements it). Password checks are expensive on purpose (Argon2id) and capped in concurrency
// by the implementation.
type People interface {
	// UserByPrincipalName finds a user by sign-in name, case-insensitively; store.ErrNotFound if none.
	UserByPrincipalName(ctx context.Context, tenantID, upn string) (store.User, error)
	// User finds a user by object id; store.ErrNotFound if none.
	User(ctx context.Context, objectID string) (store.User, error)
	// UserForToken is User with only ObjectID, TenantID, UserPrincipalName, DisplayName,
	// AccountEnabled and TokensValidAfter set: what a code, device code or refresh token
	// redemption checks and writes into the tokens. Read from the store on every call (never a
	// cache), so that a reset, a disable or a delete counts at once on every replica.
	UserForToken(ctx context.Context, objectID string) (store.User, error)
	// VerifyPassword reports whether password is u's. When too many checks are already
	// waiting, it fails at once with an error that has a RetryAfter() time.Duration method
	// (DummyPasswordCheck too); the STS answers that as Entra's throttling (429, AADSTS50196).
	VerifyPassword(ctx context.Context, u store.User, password string) (bool, error)
	// DummyPasswordCheck costs what VerifyPassword costs, for sign-in names that match no
	// user, so that the answer's timing does not tell whether a user exists.
	DummyPasswordCheck(ctx context.Context, password string) error
	// TransitiveGroupIDs lists the object ids of every group principalID is a member of,
	// directly or through nested groups.
	TransitiveGroupIDs(ctx context.Context, principalID string) ([]string, error)
}

// DirectoryRoles is optionally implemented by People: the directory roles a person holds, for
// the wids claim. mint has one, the directory's administrator (mint dev's developer), which is
// Entra's Global Administrator.
type DirectoryRoles interface {
	IsDirectoryAdmin(ctx context.Context, u store.User) bool
}

// GlobalAdministratorTemplateID is the role template id of Entra's Global Administrator
// (https://learn.microsoft.com/entra/identity/role-based-access-control/permissions-reference).
const GlobalAdministratorTemplateID = "62e90394-69f5-4237-9190-012177145e10"

// wids lists the directory role template ids of u, nil when it holds none. The answer is kept
// for a second per user, so that a refresh-token redemption does not read the store for it each
// time; a role given or taken counts within that second.
func (s *Server) wids(ctx context.Context, u store.User) []string {
	r, ok := s.people.(DirectoryRoles)
	if !ok {
		return nil
	}
	now := time.Now()
	s.roles.mu.Lock()
	c, hit := s.roles.m[u.ObjectID]
	s.roles.mu.Unlock()
	if !hit || now.After(c.expiry) {
		c = cachedRoles{admin: r.IsDirectoryAdmin(ctx, u), expiry: now.Add(time.Second)}
		s.roles.mu.Lock()
		if s.roles.m == nil || len(s.roles.m) >= maxIDTokens {
			s.roles.m = make(map[string]cachedRoles)
		}
		s.roles.m[u.ObjectID] = c
		s.roles.mu.Unlock()
	}
	if c.admin {
		return []string{GlobalAdministratorTemplateID}
	}
	return nil
}

type roleCache struct {
	mu sync.Mutex
	m  map[string]cachedRoles
}

type cachedRoles struct {
	admin  bool
	expiry time.Time
}

// PublicClient is a first-party public client application that every tenant has, pre-consented,
// as in Entra: people sign in to it without a client secret.
type PublicClient struct {
	AppID       string
	DisplayName string
	// RedirectURIs are the registered reply URLs. An http://localhost or http://127.0.0.1 URI
	// matches any port (Entra ignores the port of loopback redirect URIs).
	RedirectURIs []string
}

// Entra's first-party public clients. The Azure CLI's app id is also the default client of the
// Azure Identity libraries' interactive credentials (azidentity, @azure/identity, azure-identity).
var PublicClients = []PublicClient{
	{AppID: "04b07795-8ddb-461a-bbee-02f9e1bf7b46", DisplayName: "Microsoft Azure CLI",
		RedirectURIs: []string{"http://localhost", "https://login.microsoftonline.com/common/oauth2/nativeclient"}},
	{AppID: "1950a258-227b-4e31-a9cf-717495945fc2", DisplayName: "Microsoft Azure PowerShell",
		RedirectURIs: []string{"http://localhost", "urn:ietf:wg:oauth:2.0:oob", "https://login.microsoftonline.com/common/oauth2/nativeclient"}},
	{AppID: "aebc6443-996d-45c2-90f0-388ff96faa56", DisplayName: "Visual Studio Code",
		RedirectURIs: []string{"http://localhost", "https://vscode.dev/redirect"}},
}

// publicClient finds a first-party public client by app id, case-insensitively.
func publicClient(appID string) (PublicClient, bool) {
	for _, c := range PublicClients {
		if strings.EqualFold(c.AppID, appID) {
			return c, true
		}
	}
	return PublicClient{}, false
}

// RedirectURIRegistered reports whether redirectURI matches one of registered the way Entra
// matches reply URLs: exactly (scheme and host case-insensitively), except that for
// http://localhost and http://127.0.0.1 the port is ignored; a path-less URI also matches "/".
func RedirectURIRegistered(redirectURI string, registered []string) bool {
	if redirectURI == "" || len(redirectURI) > 2048 {
		return false
	}
	for _, reg := range registered {
		if redirectMatches(redirectURI, reg) {
			return true
		}
	}
	return false
}

// Redirect URI platforms of an application (Graph's web, spa and publicClient).
const (
	platformWeb          = "web"
	platformSPA          = "spa"
	platformPublicClient = "publicClient"
)

// redirectPlatform says which of an application's platforms redirectURI is registered under
// ("" for none). Entra decides by it whether the code is redeemed by a public client (no
// credential: publicClient, spa) or a confidential one (web). When one loopback URI is
// registered under several platforms Entra picks one arbitrarily; mint prefers publicClient.
func redirectPlatform(redirectURI string, r store.RedirectURIs) string {
	switch {
	case RedirectURIRegistered(redirectURI, r.PublicClient):
		return platformPublicClient
	case RedirectURIRegistered(redirectURI, r.SPA):
		return platformSPA
	case RedirectURIRegistered(redirectURI, r.Web):
		return platformWeb
	}
	return ""
}

func redirectMatches(got, reg string) bool {
	if got == reg {
		return true
	}
	// A registered query string (single-tenant apps may have one) must be sent exactly.
	_, gq, _ := strings.Cut(got, "?")
	_, rq, _ := strings.Cut(reg, "?")
	if gq != rq {
		return false
	}
	gs, gh, gp, gpath, ok1 := splitURI(got)
	rs, rh, rp, rpath, ok2 := splitURI(reg)
	if !ok1 || !ok2 || !strings.EqualFold(gs, rs) || !strings.EqualFold(gh, rh) {
		return false
	}
	if gpath == "" {
		gpath = "/"
	}
	if rpath == "" {
		rpath = "/"
	}
	if gpath != rpath {
		return false
	}
	if strings.EqualFold(gs, "http") && (strings.EqualFold(gh, "localhost") || gh == "127.0.0.1") {
		return true // loopback: any port
	}
	return gp == rp
}

// splitURI splits scheme://host[:port]/path[?query] without url.Parse's leniency: no user
// info, no fragment (Entra refuses reply URLs with one), at most one '?'; the query is not
// returned (redirectMatches compares it apart).
func splitURI(u string) (scheme, host, port, path string, ok bool) {
	scheme, rest, found := strings.Cut(u, "://")
	if !found || scheme == "" || strings.ContainsAny(rest, "#@\\ \t\r\n") || strings.Count(rest, "?") > 1 {
		return "", "", "", "", false
	}
	rest, _, _ = strings.Cut(rest, "?")
	hostport := rest
	if i := strings.IndexByte(rest, '/'); i >= 0 {
		hostport, path = rest[:i], rest[i:]
	}
	host = hostport
	if i := strings.LastIndexByte(hostport, ':'); i >= 0 && !strings.Contains(hostport, "]") {
		host, port = hostport[:i], hostport[i+1:]
		for _, c := range port {
			if c < '0' || c > '9' {
				return "", "", "", "", false
			}
		}
	}
	if host == "" {
		return "", "", "", "", false
	}
	return scheme, host, port, path, true
}

// sealer seals the STS's own stateless artifacts (refresh tokens, authorization codes, the
// browser session cookie, the sign-in pages' context) with AES-256-GCM. Each kind has its own
// purpose, bound as additional data, so one kind can never be replayed as another.
type sealer struct{ aead cipher.AEAD }

func newSealer(key []byte) *sealer {
	if len(key) != 32 {
		key = make([]byte, 32)
		_, _ = rand.Read(key)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		panic("sts: " + err.Error()) // a 32-byte key always makes a cipher
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		panic("sts: " + err.Error())
	}
	return &sealer{aead: aead}
}

const sealVersion = 1

// seal returns base64url(version | nonce | AES-GCM(json(v))).
func (s *sealer) seal(purpose string, v any) (string, error) {
	plain, err := json.Marshal(v)
	if err != nil {
		return "", err
	}
	return s.sealBytes(purpose, plain), nil
}

// sealBytes returns base64url(version | nonce | AES-GCM(plain)).
func (s *sealer) sealBytes(purpose string, plain []byte) string {
	out := make([]byte, 1+s.aead.NonceSize(), 1+s.aead.NonceSize()+len(plain)+s.aead.Overhead())
	out[0] = sealVersion
	_, _ = rand.Read(out[1:])
	out = s.aead.Seal(out, out[1:1+s.aead.NonceSize()], plain, []byte(purpose))
	return base64.RawURLEncoding.EncodeToString(out)
}

var errUnsealed = errors.New("not a valid sealed value")

// open reverses seal; any tampering, truncation or other purpose gives errUnsealed.
func (s *sealer) open(purpose, sealed string, v any) error {
	plain, err := s.openBytes(purpose, sealed)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(plain, v); err != nil {
		return errUnsealed
	}
	return nil
}

// openBytes reverses sealBytes; any tampering, truncation or other purpose gives errUnsealed.
func (s *sealer) openBytes(purpose, sealed string) ([]byte, error) {
	if len(sealed) > 16<<10 {
		return nil, errUnsealed
	}
	// One spelling per value, as sealBytes writes it: no padding, no CR or LF (the decoder
	// skips them even when strict), no other trailing bits.
	raw, err := base64.RawURLEncoding.Strict().DecodeString(sealed)
	if err != nil || strings.ContainsAny(sealed, "\r\n") || len(raw) < 1+s.aead.NonceSize()+s.aead.Overhead() || raw[0] != sealVersion {
		return nil, errUnsealed
	}
	ns := s.aead.NonceSize()
	// Opened in place: the plaintext takes the ciphertext's bytes (one allocation in all).
	plain, err := s.aead.Open(raw[1+ns:1+ns], raw[1:1+ns], raw[1+ns:], []byte(purpose))
	if err != nil {
		return nil, errUnsealed
	}
	return plain, nil
}

// Sealed purposes. Never rename one: tokens and cookies already handed out carry them.
const (
	purposeRefreshToken = "mint-sts refresh token v1"
	purposeCode         = "mint-sts authorization code v1"
	purposeSession      = "mint-sts browser session v1"
	purposeLoginContext = "mint-sts sign-in page context v1"
)

// userUsable says why a user may not sign in or keep a session, or "" when it may: disabled
// (AADSTS50057), or a session/refresh token older than TokensValidAfter (AADSTS50173).
func userUsable(u store.User, authTime time.Time) *Error {
	if !u.AccountEnabled {
		return errUserDisabled()
	}
	if !u.TokensValidAfter.IsZero() && authTime.Before(u.TokensValidAfter.Truncate(time.Second)) {
		return errGrantRevoked()
	}
	return nil
}
