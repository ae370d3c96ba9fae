package federation

import (
	"context"
	"crypto/ecdsa"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

const (
	defaultKeyTTL      = time.Hour
	minKeyTTL          = time.Minute
	maxKeyTTL          = 24 * time.Hour
	defaultRefetch     = 30 * time.Second
	defaultFetchWait   = 10 * time.Second
	maxDocumentBytes   = 1 << 20
	maxRedirects       = 3
	maxStaticKeys      = 50
	minRSAKeyBits      = 2048
	staleKeysTolerance = 24 * time.Hour // keys keep serving this long while the issuer is unreachable
)

// FetchError is a failure to get an issuer's keys: its discovery document or key set could not
// be fetched or read. The verifier answers it as AADSTS50166.
type FetchError struct {
	URL string
	Err error
}

func (e *FetchError) Error() string { return e.URL + ": " + e.Err.Error() }
func (e *FetchError) Unwrap() error { return e.Err }

// IssuerKeys is an issuer's signing keys as last fetched.
type IssuerKeys struct {
	Keys      []jose.JSONWebKey
	JWKSURI   string
	FetchedAt time.Time
}

// find returns the keys with kid; when there is none (or kid is empty), the keys without a kid,
// which may be any key.
func (k IssuerKeys) find(kid string) []jose.JSONWebKey {
	var named, anonymous []jose.JSONWebKey
	for _, key := range k.Keys {
		switch {
		case kid == "":
			named = append(named, key)
		case key.KeyID == kid:
			named = append(named, key)
		case key.KeyID == "":
			anonymous = append(anonymous, key)
		}
	}
	if len(named) > 0 {
		return named
	}
	return anonymous
}

// keyCache fetches issuers' keys through OIDC discovery and caches them per issuer: for the JWKS
// response's Cache-Control max-age (clamped to [1 min, 24 h]) or ttl, refetched early when an
// assertion names a kid the cache does not hold, but never more than once per refetch interval
// per issuer, whatever the reason, so a flood of bad assertions cannot make mint hammer an issuer.
type keyCache struct {
	client  *http.Client
	ttl     time.Duration
	refetch time.Duration
	clock   func() time.Time
	log     *slog.Logger

	mu      sync.Mutex
	issuers map[string]*issuerEntry
}

type issuerEntry struct {
	mu          sync.Mutex // held across a fetch: concurrent misses make one request
	keys        *IssuerKeys
	expires     time.Time
	lastAttempt time.Time
	lastErr     error
}

func newKeyCache(client *http.Client, ttl, refetch time.Duration, clock func() time.Time, log *slog.Logger) *keyCache {
	if client == nil {
		client = newFetchClient(nil)
	}
	if ttl <= 0 {
		ttl = defaultKeyTTL
	}
	if refetch <= 0 {
		refetch = defaultRefetch
	}
	return &keyCache{client: client, ttl: ttl, refetch: refetch, clock: clock, log: log, issuers: map[string]*issuerEntry{}}
}

// keys returns issuer's keys, fetching them when not cached, expired, or (rate-limited) when kid
// is not among them. When a refresh fails, keys fetched less than a day ago keep serving.
func (c *keyCache) keys(ctx context.Context, issuer, kid string) (IssuerKeys, error) {
	c.mu.Lock()
	e := c.issuers[issuer]
	if e == nil {
		e = &issuerEntry{}
		c.issuers[issuer] = e
	}
	c.mu.Unlock()

	e.mu.Lock()
	defer e.mu.Unlock()
	now := c.clock()
	stale := e.keys == nil || now.After(e.expires) || (kid != "" && len(e.keys.find(kid)) == 0)
	if !stale {
		return *e.keys, nil
	}
	if !e.lastAttempt.IsZero() && now.Sub(e.lastAttempt) < c.refetch {
		if e.keys != nil {
			return *e.keys, nil
		}
		return IssuerKeys{}, e.lastErr
	}
	e.lastAttempt = now
	// One caller's cancellation must not fail the fetch for the others waiting on it.
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), defaultFetchWait)
	defer cancel()
	keys, maxAge, err := fetchIssuerKeys(fctx, c.client, issuer)
	if err != nil {
		e.lastErr = err
		if e.keys != nil && now.Sub(e.keys.FetchedAt) < staleKeysTolerance {
			c.log.WarnContext(ctx, "federated issuer keys not refreshed; using the keys fetched earlier", "issuer", issuer,
				"fetched_at", e.keys.FetchedAt, "err", err)
			return *e.keys, nil
		}
		return IssuerKeys{}, err
	}
	keys.FetchedAt = now
	ttl := c.ttl
	if maxAge >= 0 {
		ttl = min(max(maxAge, minKeyTTL), maxKeyTTL)
	}
	e.keys, e.expires, e.lastErr = &keys, now.Add(ttl), nil
	c.log.InfoContext(ctx, "federated issuer keys fetched", "issuer", issuer, "jwks_uri", keys.JWKSURI, "keys", len(keys.Keys), "ttl", ttl)
	return keys, nil
}

// CheckIssuerURL says whether mint may fetch discovery documents and keys from u: https, or
// http to a loopback host (127.0.0.0/8, ::1, localhost) for tests and local issuers; no user
// information, query or fragment.
func CheckIssuerURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("'%s' is not a URL", clip(raw))
	}
	return checkFetchURL(u)
}

func checkFetchURL(u *url.URL) error {
	switch {
	case u.Host == "":
		return fmt.Errorf("'%s' is not an absolute URL", clip(u.String()))
	case u.User != nil:
		return fmt.Errorf("'%s' carries user information", clip(u.Redacted()))
	case u.RawQuery != "" || u.Fragment != "":
		return fmt.Errorf("'%s' has a query or fragment; an issuer URL has neither", clip(u.String()))
	case strings.EqualFold(u.Scheme, "https"):
		return nil
	case strings.EqualFold(u.Scheme, "http") && isLoopback(u.Hostname()):
		return nil
	case strings.EqualFold(u.Scheme, "http"):
		return fmt.Errorf("'%s' is http: mint fetches issuer keys over https only (plain http only from 127.0.0.1, ::1 or localhost)", clip(u.String()))
	}
	return fmt.Errorf("'%s' has scheme '%s': mint fetches issuer keys over https only", clip(u.String()), u.Scheme)
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// newFetchClient returns the HTTP client for discovery and key fetches: a timeout, proxies from
// the environment, and redirects only to the same host under the same URL rules.
func newFetchClient(transport http.RoundTripper) *http.Client {
	if transport == nil {
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.Proxy = http.ProxyFromEnvironment
		transport = t
	}
	return &http.Client{
		Timeout:   defaultFetchWait,
		Transport: transport,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) >= maxRedirects {
				return fmt.Errorf("more than %d redirects", maxRedirects)
			}
			if !strings.EqualFold(req.URL.Host, via[0].URL.Host) {
				return fmt.Errorf("redirect to another host (%s) refused", req.URL.Host)
			}
			if err := checkFetchURL(req.URL); err != nil {
				return fmt.Errorf("redirect refused: %w", err)
			}
			return nil
		},
	}
}

// discoveryDocument is what mint reads of an OpenID Provider's configuration.
type discoveryDocument struct {
	Issuer  string `json:"issuer"`
	JWKSURI string `json:"jwks_uri"`
}

// DiscoveryURL is where an issuer's OpenID configuration is: issuer + "/.well-known/openid-configuration".
func DiscoveryURL(issuer string) string {
	return strings.TrimRight(issuer, "/") + "/.well-known/openid-configuration"
}

// fetchIssuerKeys reads issuer's discovery document, then its JWKS. maxAge is the JWKS
// response's Cache-Control max-age, or -1.
func fetchIssuerKeys(ctx context.Context, client *http.Client, issuer string) (IssuerKeys, time.Duration, error) {
	discovery := DiscoveryURL(issuer)
	if err := CheckIssuerURL(issuer); err != nil {
		return IssuerKeys{}, -1, &FetchError{URL: discovery, Err: err}
	}
	var doc discoveryDocument
	if _, err := getJSON(ctx, client, discovery, &doc); err != nil {
		return IssuerKeys{}, -1, &FetchError{URL: discovery, Err: err}
	}
	if strings.TrimRight(doc.Issuer, "/") != strings.TrimRight(issuer, "/") {
		return IssuerKeys{}, -1, &FetchError{URL: discovery, Err: fmt.Errorf("the document's issuer is '%s', not '%s'", clip(doc.Issuer), clip(issuer))}
	}
	if doc.JWKSURI == "" {
		return IssuerKeys{}, -1, &FetchError{URL: discovery, Err: errors.New("the document has no jwks_uri")}
	}
	if err := CheckIssuerURL(doc.JWKSURI); err != nil {
		return IssuerKeys{}, -1, &FetchError{URL: discovery, Err: fmt.Errorf("jwks_uri: %w", err)}
	}
	var set jose.JSONWebKeySet
	maxAge, err := getJSON(ctx, client, doc.JWKSURI, &set)
	if err != nil {
		return IssuerKeys{}, -1, &FetchError{URL: doc.JWKSURI, Err: err}
	}
	keys := usableKeys(set.Keys)
	if len(keys) == 0 {
		return IssuerKeys{}, -1, &FetchError{URL: doc.JWKSURI, Err: errors.New("the key set holds no RSA (2048 bits or more) or EC public signing key")}
	}
	return IssuerKeys{Keys: keys, JWKSURI: doc.JWKSURI}, maxAge, nil
}

// getJSON GETs u and decodes a JSON answer of at most 1 MiB into v. It returns the response's
// Cache-Control max-age, or -1.
func getJSON(ctx context.Context, client *http.Client, u string, v any) (time.Duration, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return -1, err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return -1, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return -1, fmt.Errorf("HTTP %d", resp.StatusCode)
	}
	// No Content-Type check: issuers hosted on object storage often serve JSON as octet-stream.
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxDocumentBytes+1))
	if err != nil {
		return -1, err
	}
	if len(data) > maxDocumentBytes {
		return -1, fmt.Errorf("the document is larger than %d bytes", maxDocumentBytes)
	}
	if err := json.Unmarshal(data, v); err != nil {
		return -1, fmt.Errorf("not a valid JSON document: %v", err)
	}
	return cacheMaxAge(resp.Header.Get("Cache-Control")), nil
}

// cacheMaxAge returns Cache-Control's max-age (0 for no-store / no-cache), or -1 when absent.
func cacheMaxAge(h string) time.Duration {
	age := time.Duration(-1)
	for _, d := range strings.Split(h, ",") {
		name, val, _ := strings.Cut(strings.TrimSpace(d), "=")
		switch strings.ToLower(name) {
		case "no-store", "no-cache":
			return 0
		case "max-age":
			if n, err := strconv.ParseInt(strings.Trim(val, `"`), 10, 64); err == nil && n >= 0 {
				age = time.Duration(min(n, int64(maxKeyTTL/time.Second))) * time.Second
			}
		}
	}
	return age
}

// usableKeys keeps the public signing keys mint verifies with: RSA of 2048 bits or more and
// ECDSA; keys marked for encryption are dropped.
func usableKeys(keys []jose.JSONWebKey) []jose.JSONWebKey {
	var out []jose.JSONWebKey
	for _, k := range keys {
		if k.Use != "" && k.Use != "sig" {
			continue
		}
		switch pub := k.Key.(type) {
		case *rsa.PublicKey:
			if pub.N.BitLen() < minRSAKeyBits {
				continue
			}
		case *ecdsa.PublicKey:
		default:
			continue // private keys, symmetric keys, unknown types
		}
		out = append(out, k)
	}
	return out
}

// ParseStaticKeys reads the "mintJwks" property of a federated identity credential: a JSON Web
// Key Set of the issuer's public signing keys, for issuers mint cannot reach. Every key must be
// a public RSA (2048 bits or more) or EC key.
func ParseStaticKeys(raw json.RawMessage) (*jose.JSONWebKeySet, error) {
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(raw, &set); err != nil {
		return nil, fmt.Errorf("mintJwks is not a JSON Web Key Set: %v", err)
	}
	if len(set.Keys) == 0 {
		return nil, errors.New("mintJwks holds no key")
	}
	if len(set.Keys) > maxStaticKeys {
		return nil, fmt.Errorf("mintJwks holds %d keys; at most %d are allowed", len(set.Keys), maxStaticKeys)
	}
	if n := len(usableKeys(set.Keys)); n != len(set.Keys) {
		return nil, errors.New("every key in mintJwks must be a public RSA (2048 bits or more) or EC signing key")
	}
	return &set, nil
}
