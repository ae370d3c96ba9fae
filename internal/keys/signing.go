package keys

import (
	"cmp"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math/big"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mint-id/mint/internal/store"
)

const (
	signingKeyBits       = 2048
	signingCommonName    = "mint token signing"
	signingCertMinLife   = 365 * 24 * time.Hour
	retentionMargin      = 5 * time.Minute
	defaultRotation      = 7 * 24 * time.Hour
	defaultTokenLifetime = 25 * time.Hour
	defaultRefresh       = 10 * time.Second
)

// ErrNoSigningKey is returned by Sign before the first successful Ensure or Refresh.
var ErrNoSigningKey = errors.New("no token-signing key loaded")

// ManagerOptions tune a Manager. Zero values mean the defaults.
type ManagerOptions struct {
	// RotationPeriod is how long a key signs before the next one takes over, and how far ahead
	// the next key is published. Default 7 days.
	RotationPeriod time.Duration
	// MaxTokenLifetime is the longest lifetime of any token signed with these keys; a key is
	// kept this long (plus 5 minutes) after it stops signing. Default 25 h (MI tokens live
	// 24 h 5 min).
	MaxTokenLifetime time.Duration
	// RefreshInterval is how often Run reloads the keys and enforces the rotation rules.
	// Default 10 s.
	RefreshInterval time.Duration
	// Issuer, when set, is published as the "issuer" of every key in JWKS().
	Issuer string
	// Clock returns the current time. Default time.Now.
	Clock  func() time.Time
	Logger *slog.Logger
}

// Manager keeps the token-signing keys: it creates, rotates and retires them in the store, and
// signs with the current one. Several replicas may share one store; each converges on the
// store's keys within RefreshInterval.
//
// The rules, all decided by the times in the store:
//   - every key in the store is published in JWKS (from its CreatedAt);
//   - the key signing at time t is the one with the greatest ActivateAt <= t;
//   - a next key (ActivateAt in the future) always exists, so a key is published for a whole
//     rotation period before it signs;
//   - a key is deleted once its successor has signed for MaxTokenLifetime + 5 min, when every
//     token it signed has expired.
//
// Sign, JWKS and PublicKeys read an immutable snapshot and never wait for I/O; Ensure, Rotate
// and Refresh replace it.
type Manager struct {
	st   store.SigningKeys
	kek  *KEK
	opts ManagerOptions
	log  *slog.Logger

	snap atomic.Pointer[snapshot]

	mu     sync.Mutex            // serialises Ensure, Rotate and Refresh
	parsed map[string]*parsedKey // by kid; unsealing and parsing are done once per key

	missReload atomic.Int64 // when (unix ns) an unknown kid last made PublicKey reload the store
}

// parsedKey is what never changes about a stored key.
type parsedKey struct {
	kid       string
	priv      *rsa.PrivateKey
	sigLen    int    // signature length in bytes
	headerKID []byte // base64url JWS header with kid only, followed by '.'
	headerX5T []byte // the same with x5t
	jwk       jwk
}

type activeKey struct {
	*parsedKey
	activateAt time.Time
}

// snapshot is immutable once installed.
type snapshot struct {
	keys   []activeKey // ordered by activateAt, then kid; all published
	jwks   []byte
	public map[string]*rsa.PublicKey
}

// jwk is one entry of the JWKS document, in Entra's field order.
type jwk struct {
	Kty    string   `json:"kty"`
	Use    string   `json:"use"`
	Kid    string   `json:"kid"`
	X5t    string   `json:"x5t"`
	N      string   `json:"n"`
	E      string   `json:"e"`
	X5c    []string `json:"x5c"`
	Issuer string   `json:"issuer,omitempty"`
}

type jwkSet struct {
	Keys []jwk `json:"keys"`
}

// NewManager returns a Manager with nothing loaded: call Ensure (or Refresh) before Sign.
func NewManager(st store.SigningKeys, kek *KEK, opts ManagerOptions) *Manager {
	if opts.RotationPeriod <= 0 {
		opts.RotationPeriod = defaultRotation
	}
	if opts.MaxTokenLifetime <= 0 {
		opts.MaxTokenLifetime = defaultTokenLifetime
	}
	if opts.RefreshInterval <= 0 {
		opts.RefreshInterval = defaultRefresh
	}
	if opts.Clock == nil {
		opts.Clock = time.Now
	}
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	return &Manager{
		st:     st,
		kek:    kek,
		opts:   opts,
		log:    log.With("component", "keys"),
		parsed: map[string]*parsedKey{},
	}
}

// now is the time written to the store: UTC and whole seconds, which every store keeps exactly.
// Truncating down keeps ActivateAt = now in the past.
func (m *Manager) now() time.Time {
	return m.opts.Clock().UTC().Truncate(time.Second)
}

// Refresh reloads the keys from the store, picking up what other replicas or `mint keys rotate`
// did. It writes nothing.
func (m *Manager) Refresh(ctx context.Context) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	recs, err := m.list(ctx)
	if err != nil {
		return err
	}
	return m.install(recs)
}

// Ensure reloads the keys and enforces the rules: a current and a next key exist, and keys past
// retention are deleted. Replicas may run it concurrently; at worst two next keys are created,
// and both are published.
func (m *Manager) Ensure(ctx context.Context) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	recs, err := m.list(ctx)
	if err != nil {
		return err
	}
	changed, err := m.ensure(ctx, recs)
	if err != nil {
		return err
	}
	if changed {
		if recs, err = m.list(ctx); err != nil {
			return err
		}
	}
	return m.install(recs)
}

// CreateFirst gives a store without signing keys its first ones, as the first Ensure would (a
// key that signs now and the next one), and reports whether it created them; a store that has
// keys is left as it is (no rotation, no retirement: that is the servers' work, with their
// lifetimes). mint init calls it, so that replicas started together on a new store find the
// same keys instead of each creating a first key of its own. It loads the keys either way.
func (m *Manager) CreateFirst(ctx context.Context) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	recs, err := m.list(ctx)
	if err != nil {
		return false, err
	}
	created := false
	if len(recs) == 0 {
		if created, err = m.ensure(ctx, recs); err != nil {
			return created, err
		}
		if recs, err = m.list(ctx); err != nil {
			return created, err
		}
	}
	return created, m.install(recs)
}

// Rotate makes the earliest next key (published a while ago) sign from now on, and publishes a
// new next key a RotationPeriod ahead. Tokens signed by the previous key stay verifiable until
// they expire. Times are whole seconds: if the current key activated this very second, the
// next one takes over at the next second. Other replicas switch when they next load the store
// (within RefreshInterval); until then they sign with the previous key, which is still
// published.
func (m *Manager) Rotate(ctx context.Context) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	recs, err := m.list(ctx)
	if err != nil {
		return err
	}
	changed, err := m.ensure(ctx, recs)
	if err != nil {
		return err
	}
	if changed {
		if recs, err = m.list(ctx); err != nil {
			return err
		}
	}
	now := m.now()
	current, next := currentAt(recs, now), -1
	for i := range recs {
		if recs[i].ActivateAt.After(now) {
			next = i
			break
		}
	}
	if current < 0 || next < 0 {
		return errors.New("rotate signing key: no current or next key after ensure")
	}
	activateAt := now
	// On an equal ActivateAt the order falls to the kid; make sure the new key wins.
	if !activateAt.After(recs[current].ActivateAt) {
		activateAt = recs[current].ActivateAt.Add(time.Second)
	}
	if age := now.Sub(recs[next].CreatedAt); age < m.opts.RefreshInterval*2 {
		m.log.Warn("activating a signing key that was published only moments ago; verifiers that cached the JWKS will refetch it",
			"kid", recs[next].KID, "published", recs[next].CreatedAt)
	}
	if err := m.st.SetSigningKeyActivation(ctx, recs[next].KID, activateAt); err != nil {
		return fmt.Errorf("rotate signing key: activate %s: %w", recs[next].KID, err)
	}
	m.log.Info("signing key rotated", "kid", recs[next].KID, "previous", recs[current].KID)
	if err := m.create(ctx, now, now.Add(m.opts.RotationPeriod)); err != nil {
		return fmt.Errorf("rotate signing key: %w", err)
	}
	if recs, err = m.list(ctx); err != nil {
		return err
	}
	return m.install(recs)
}

// Run calls Ensure every RefreshInterval until ctx is done, logging failures. Ensure reloads
// the store first, so Run also picks up rotations made elsewhere. Call Ensure once before Run,
// so that a server does not start without keys.
func (m *Manager) Run(ctx context.Context) {
	t := time.NewTicker(m.opts.RefreshInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if err := m.Ensure(ctx); err != nil && ctx.Err() == nil {
			m.log.Error("signing keys: refresh failed; signing with the keys loaded before", "err", err)
		}
	}
}

// list returns the stored keys ordered by ActivateAt, then kid: the order every replica agrees
// on, ties included.
func (m *Manager) list(ctx context.Context) ([]store.SigningKey, error) {
	recs, err := m.st.ListSigningKeys(ctx)
	if err != nil {
		return nil, fmt.Errorf("list signing keys: %w", err)
	}
	slices.SortFunc(recs, func(a, b store.SigningKey) int {
		if c := a.ActivateAt.Compare(b.ActivateAt); c != 0 {
			return c
		}
		return cmp.Compare(a.KID, b.KID)
	})
	return recs, nil
}

// currentAt returns the index of the key signing at t in sorted recs, or -1.
func currentAt(recs []store.SigningKey, t time.Time) int {
	for i := len(recs) - 1; i >= 0; i-- {
		if !recs[i].ActivateAt.After(t) {
			return i
		}
	}
	return -1
}

// ensure makes the store follow the rules and reports whether it wrote anything.
func (m *Manager) ensure(ctx context.Context, recs []store.SigningKey) (bool, error) {
	now := m.now()
	if len(recs) == 0 {
		// First start: nothing was published before, so the first key signs at once. The next
		// key's RSA generation (tens to hundreds of ms) runs beside the first's.
		type generated struct {
			priv *rsa.PrivateKey
			err  error
		}
		next := make(chan generated, 1)
		go func() {
			priv, err := rsa.GenerateKey(rand.Reader, signingKeyBits)
			next <- generated{priv, err}
		}()
		if err := m.create(ctx, now, now); err != nil {
			<-next
			return false, err
		}
		g := <-next
		if g.err != nil {
			return true, fmt.Errorf("generate signing key: %w", g.err)
		}
		if err := m.store(ctx, g.priv, now, now.Add(m.opts.RotationPeriod)); err != nil {
			return true, err
		}
		return true, nil
	}
	changed := false
	current := currentAt(recs, now)
	if current < 0 {
		// Only future keys (the current one was deleted, or this clock is behind the one that
		// created them). The earliest is published already; let it sign now.
		if err := m.st.SetSigningKeyActivation(ctx, recs[0].KID, now); err != nil {
			return false, fmt.Errorf("activate signing key %s: %w", recs[0].KID, err)
		}
		m.log.Warn("no signing key was active; activated the earliest published key", "kid", recs[0].KID)
		recs[0].ActivateAt = now
		current, changed = 0, true
	}
	if current == len(recs)-1 {
		activateAt := recs[current].ActivateAt.Add(m.opts.RotationPeriod)
		if !activateAt.After(now) {
			activateAt = now.Add(m.opts.RotationPeriod)
		}
		if err := m.create(ctx, now, activateAt); err != nil {
			return changed, err
		}
		changed = true
	}
	// Key i signed until key i+1 activated; its tokens have expired MaxTokenLifetime later.
	for i := 0; i < current; i++ {
		retireAt := recs[i+1].ActivateAt.Add(m.opts.MaxTokenLifetime + retentionMargin)
		if !now.After(retireAt) {
			continue
		}
		err := m.st.DeleteSigningKey(ctx, recs[i].KID)
		if err != nil && !errors.Is(err, store.ErrNotFound) { // another replica was first
			return changed, fmt.Errorf("delete expired signing key %s: %w", recs[i].KID, err)
		}
		m.log.Info("signing key deleted after retention", "kid", recs[i].KID)
		changed = true
	}
	return changed, nil
}

// create generates, seals and stores a new key.
func (m *Manager) create(ctx context.Context, now, activateAt time.Time) error {
	priv, err := rsa.GenerateKey(rand.Reader, signingKeyBits)
	if err != nil {
		return fmt.Errorf("generate signing key: %w", err)
	}
	return m.store(ctx, priv, now, activateAt)
}

// store seals and stores a generated key.
func (m *Manager) store(ctx context.Context, priv *rsa.PrivateKey, now, activateAt time.Time) error {
	serial, err := randomSerial()
	if err != nil {
		return err
	}
	// The certificate must outlive every token the key signs: published now, signing from
	// activateAt for about a rotation period, verifiable MaxTokenLifetime after. A year at
	// least, so that a server stopped for a while does not come back with expired certificates.
	life := max(signingCertMinLife, activateAt.Sub(now)+2*m.opts.RotationPeriod+m.opts.MaxTokenLifetime)
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: signingCommonName},
		NotBefore:             now.Add(-clockSkew),
		NotAfter:              now.Add(life),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &priv.PublicKey, priv)
	if err != nil {
		return fmt.Errorf("create signing certificate: %w", err)
	}
	kid := thumbprint(der)
	pkcs8, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return fmt.Errorf("marshal signing key: %w", err)
	}
	sealed, err := m.kek.Seal(pkcs8, []byte(kid))
	if err != nil {
		return fmt.Errorf("seal signing key: %w", err)
	}
	rec := store.SigningKey{KID: kid, CreatedAt: now, ActivateAt: activateAt, SealedKey: sealed, Certificate: der}
	if err := m.st.CreateSigningKey(ctx, rec); err != nil {
		return fmt.Errorf("store signing key %s: %w", kid, err)
	}
	m.log.Info("signing key created", "kid", kid, "activateAt", activateAt)
	return nil
}

// thumbprint is Entra's kid and x5t: base64url of the SHA-1 of the certificate.
func thumbprint(certDER []byte) string {
	sum := sha1.Sum(certDER)
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// install builds and publishes the snapshot for recs (sorted). Keys are unsealed and parsed the
// first time they are seen. On error the previous snapshot stays.
func (m *Manager) install(recs []store.SigningKey) error {
	if len(recs) == 0 {
		return errors.New("no signing keys in the store")
	}
	next := &snapshot{
		keys:   make([]activeKey, 0, len(recs)),
		public: make(map[string]*rsa.PublicKey, len(recs)),
	}
	seen := make(map[string]*parsedKey, len(recs))
	set := jwkSet{Keys: make([]jwk, 0, len(recs))}
	for _, rec := range recs {
		pk := m.parsed[rec.KID]
		if pk == nil {
			var err error
			if pk, err = m.parse(rec); err != nil {
				return err
			}
		}
		seen[rec.KID] = pk
		next.keys = append(next.keys, activeKey{parsedKey: pk, activateAt: rec.ActivateAt})
		next.public[rec.KID] = &pk.priv.PublicKey
		k := pk.jwk
		k.Issuer = m.opts.Issuer
		set.Keys = append(set.Keys, k)
	}
	doc, err := json.Marshal(set)
	if err != nil {
		return fmt.Errorf("marshal JWKS: %w", err)
	}
	next.jwks = doc
	m.parsed = seen // forget deleted keys
	m.snap.Store(next)
	return nil
}

// parse unseals and checks one stored key: the kid is the certificate's thumbprint and the
// private key belongs to the certificate.
func (m *Manager) parse(rec store.SigningKey) (*parsedKey, error) {
	cert, err := x509.ParseCertificate(rec.Certificate)
	if err != nil {
		return nil, fmt.Errorf("signing key %s: certificate: %w", rec.KID, err)
	}
	if kid := thumbprint(rec.Certificate); kid != rec.KID {
		return nil, fmt.Errorf("signing key %s: certificate thumbprint is %s", rec.KID, kid)
	}
	der, err := m.kek.Open(rec.SealedKey, []byte(rec.KID))
	if err != nil {
		return nil, fmt.Errorf("signing key %s: %w", rec.KID, err)
	}
	parsed, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, fmt.Errorf("signing key %s: %w", rec.KID, err)
	}
	priv, ok := parsed.(*rsa.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("signing key %s: %T, want RSA", rec.KID, parsed)
	}
	if !priv.PublicKey.Equal(cert.PublicKey) {
		return nil, fmt.Errorf("signing key %s: private key does not match its certificate", rec.KID)
	}
	header := func(withX5T bool) []byte {
		// Entra's order: {"typ":"JWT","alg":"RS256","x5t":...,"kid":...}; x5t only in v1 tokens.
		h := `{"typ":"JWT","alg":"RS256",`
		if withX5T {
			h += `"x5t":"` + rec.KID + `",`
		}
		h += `"kid":"` + rec.KID + `"}`
		out := base64.RawURLEncoding.AppendEncode(nil, []byte(h))
		return append(out, '.')
	}
	return &parsedKey{
		kid:       rec.KID,
		priv:      priv,
		sigLen:    priv.Size(),
		headerKID: header(false),
		headerX5T: header(true),
		jwk: jwk{
			Kty: "RSA",
			Use: "sig",
			Kid: rec.KID,
			X5t: rec.KID,
			N:   base64.RawURLEncoding.EncodeToString(priv.N.Bytes()),
			E:   base64.RawURLEncoding.EncodeToString(big.NewInt(int64(priv.E)).Bytes()),
			X5c: []string{base64.StdEncoding.EncodeToString(rec.Certificate)},
		},
	}, nil
}

// signingKey returns the key signing at t: the greatest ActivateAt <= t. If this clock is
// behind every key's ActivateAt (skew between replicas), the earliest key signs; it is
// published.
func (s *snapshot) signingKey(t time.Time) *parsedKey {
	for i := len(s.keys) - 1; i >= 0; i-- {
		if !s.keys[i].activateAt.After(t) {
			return s.keys[i].parsedKey
		}
	}
	return s.keys[0].parsedKey
}

// Sign returns claims, marshalled as JSON, as a compact JWS signed RS256 by the current key.
// The header is {"typ":"JWT","alg":"RS256","kid":...}, with "x5t" (equal to kid) as well when
// withX5T is set, as in Entra v1 tokens. Sign is safe for concurrent use and does no I/O.
func (m *Manager) Sign(claims any, withX5T bool) (string, error) {
	s := m.snap.Load()
	if s == nil {
		return "", ErrNoSigningKey
	}
	k := s.signingKey(m.opts.Clock())
	input, err := k.signingInput(claims, withX5T)
	if err != nil {
		return "", err
	}
	digest := sha256.Sum256(input)
	// PKCS #1 v1.5 signing is deterministic; the reader is ignored.
	sig, err := rsa.SignPKCS1v15(nil, k.priv, crypto.SHA256, digest[:])
	if err != nil {
		return "", fmt.Errorf("sign token: %w", err)
	}
	return appendSignature(input, sig), nil
}

// jsonAppender is claims that write their own JSON, as json.Marshal would, without reflection
// (the STS's claim sets do).
type jsonAppender interface {
	AppendJSON(b []byte) ([]byte, error)
}

// signingInput returns the JWS signing input, base64url(header) "." base64url(claims), in a
// buffer with room for the signature.
func (k *parsedKey) signingInput(claims any, withX5T bool) ([]byte, error) {
	var payload []byte
	var err error
	if a, ok := claims.(jsonAppender); ok {
		payload, err = a.AppendJSON(make([]byte, 0, 1024))
	} else {
		payload, err = json.Marshal(claims)
	}
	if err != nil {
		return nil, fmt.Errorf("sign token: marshal claims: %w", err)
	}
	header := k.headerKID
	if withX5T {
		header = k.headerX5T
	}
	enc := base64.RawURLEncoding
	size := len(header) + enc.EncodedLen(len(payload)) + 1 + enc.EncodedLen(k.sigLen)
	buf := make([]byte, 0, size)
	buf = append(buf, header...)
	return enc.AppendEncode(buf, payload), nil
}

// appendSignature completes the compact JWS.
func appendSignature(input, sig []byte) string {
	input = append(input, '.')
	return string(base64.RawURLEncoding.AppendEncode(input, sig))
}

// SigningKeyID returns the kid Sign would use now, or "" before keys are loaded.
func (m *Manager) SigningKeyID() string {
	s := m.snap.Load()
	if s == nil {
		return ""
	}
	return s.signingKey(m.opts.Clock()).kid
}

// JWKS returns the JSON Web Key Set of every published key, current and next, with the
// Issuer option as "issuer". It is computed when keys change; the caller must not modify it.
// It is nil before keys are loaded.
func (m *Manager) JWKS() []byte {
	s := m.snap.Load()
	if s == nil {
		return nil
	}
	return s.jwks
}

// JWKSWithIssuer returns the JWKS with issuer as the "issuer" of every key, for endpoints that
// serve one tenant (Entra writes the tenant's v2.0 issuer there). It is built on each call.
func (m *Manager) JWKSWithIssuer(issuer string) []byte {
	s := m.snap.Load()
	if s == nil {
		return nil
	}
	set := jwkSet{Keys: make([]jwk, len(s.keys))}
	for i, k := range s.keys {
		set.Keys[i] = k.jwk
		set.Keys[i].Issuer = issuer
	}
	doc, err := json.Marshal(set)
	if err != nil {
		// Strings and string slices always marshal.
		panic("keys: marshal JWKS: " + err.Error())
	}
	return doc
}

// PublicKeys returns the public key of every published key, by kid, for verifying tokens mint
// signed. The map is the caller's.
func (m *Manager) PublicKeys() map[string]*rsa.PublicKey {
	s := m.snap.Load()
	if s == nil {
		return map[string]*rsa.PublicKey{}
	}
	return maps.Clone(s.public)
}

// PublicKey returns the published key with this kid, without copying the set: the lookup for
// verifying each request.
//
// A kid it does not know makes it reload the store first, at most once a second: another
// replica may have published a key since the last RefreshInterval (two replicas starting
// together on a new store each create a first key, and each signs with its own before it has
// seen the other's), and a verifier that meets a kid it has not seen refetches the key set, as
// OpenID Connect relying parties do. Unknown kids cannot make it read the store more often.
func (m *Manager) PublicKey(kid string) (*rsa.PublicKey, bool) {
	if k, ok := m.publicKey(kid); ok {
		return k, true
	}
	now, last := time.Now().UnixNano(), m.missReload.Load()
	if now-last < int64(time.Second) || !m.missReload.CompareAndSwap(last, now) {
		return nil, false
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := m.Refresh(ctx); err != nil {
		m.log.Warn("signing keys: reloading for an unknown kid failed", "kid", kid, "err", err)
		return nil, false
	}
	return m.publicKey(kid)
}

func (m *Manager) publicKey(kid string) (*rsa.PublicKey, bool) {
	s := m.snap.Load()
	if s == nil {
		return nil, false
	}
	k, ok := s.public[kid]
	return k, ok
}
