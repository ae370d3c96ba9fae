package sts

import (
	"crypto/sha1"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strings"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/mint-id/mint/internal/store"
)

// AssertionAlgorithms are the signature algorithms accepted on client assertions, as Entra's.
var AssertionAlgorithms = []jose.SignatureAlgorithm{jose.RS256, jose.RS384, jose.RS512, jose.PS256, jose.PS384, jose.PS512}

// FederatedAlgorithms are the algorithms accepted on federated assertions (tokens of an external
// issuer): AssertionAlgorithms plus ECDSA, which Kubernetes and other OIDC issuers may use.
var FederatedAlgorithms = append(append([]jose.SignatureAlgorithm(nil), AssertionAlgorithms...), jose.ES256, jose.ES384, jose.ES512)

const (
	// assertionSkew is the clock skew tolerated on a client assertion's nbf.
	assertionSkew = 5 * time.Minute
	// maxAssertionLifetime bounds how far in the future a certificate assertion may expire, which
	// also bounds how long its jti is remembered.
	maxAssertionLifetime = 24 * time.Hour
	maxAssertionBytes    = 32 << 10
)

// Assertion is a parsed client assertion (a compact JWS). Its claims are not verified until
// VerifyClientAssertion (or a FederatedVerifier) has checked the signature.
type Assertion struct {
	Algorithm string
	KeyID     string
	X5T       string // header x5t (SHA-1 thumbprint), as sent
	X5TS256   string // header x5t#S256 (SHA-256 thumbprint), as sent
	Issuer    string
	Subject   string
	Audience  []string
	ID        string    // jti
	Expiry    time.Time // zero when absent
	NotBefore time.Time // zero when absent
	IssuedAt  time.Time // zero when absent

	jws *jose.JSONWebSignature
}

// VerifySignature checks the assertion's signature with key (an *rsa.PublicKey, a
// jose.JSONWebKey ...).
func (a *Assertion) VerifySignature(key any) error {
	_, err := a.jws.Verify(key)
	return err
}

// Payload returns the assertion's claims JSON without verifying the signature, for verifiers
// that need claims beyond the registered ones.
func (a *Assertion) Payload() []byte { return a.jws.UnsafePayloadWithoutVerification() }

// IsFederated reports whether the assertion was issued by someone other than the client: its
// issuer is a URL (every federated identity credential's issuer is) and not the client id.
// Certificate assertions carry the client id as iss.
func (a *Assertion) IsFederated(clientID string) bool {
	return !strings.EqualFold(a.Issuer, clientID) && strings.Contains(a.Issuer, "://")
}

type assertionHeader struct {
	Alg string `json:"alg"`
}

type assertionClaims struct {
	Issuer    string           `json:"iss"`
	Subject   string           `json:"sub"`
	Audience  jwt.Audience     `json:"aud"`
	Expiry    *jwt.NumericDate `json:"exp"`
	NotBefore *jwt.NumericDate `json:"nbf"`
	IssuedAt  *jwt.NumericDate `json:"iat"`
	ID        string           `json:"jti"`
}

func errJWTMalformed(detail string) *Error {
	return NewError(http.StatusBadRequest, "invalid_request", codeJWTMalformed,
		"JWT token is invalid or malformed. %s", detail)
}

// ParseAssertion parses a client assertion: a compact JWS whose alg is one of
// AssertionAlgorithms, with a JSON claims payload. It does not verify anything else.
func ParseAssertion(raw string) (*Assertion, *Error) {
	raw = strings.TrimSpace(raw)
	if len(raw) > maxAssertionBytes {
		return nil, errJWTMalformed("The client assertion is larger than 32 KiB.")
	}
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		return nil, errJWTMalformed("A client assertion is a signed JWT in compact form: three base64url parts separated by '.'.")
	}
	hdr, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[0], "="))
	if err != nil {
		return nil, errJWTMalformed("The assertion's header is not base64url.")
	}
	var h assertionHeader
	if err := json.Unmarshal(hdr, &h); err != nil {
		return nil, errJWTMalformed("The assertion's header is not a JSON object with a string 'alg'.")
	}
	if !supportedAlgorithm(h.Alg) {
		return nil, errUnsupportedAlgorithm(h.Alg)
	}
	jws, err := jose.ParseSignedCompact(raw, FederatedAlgorithms)
	if err != nil || len(jws.Signatures) != 1 {
		return nil, errJWTMalformed("The assertion could not be parsed as a JWS.")
	}
	var c assertionClaims
	if err := json.Unmarshal(jws.UnsafePayloadWithoutVerification(), &c); err != nil {
		return nil, errJWTMalformed("The assertion's payload is not a JSON object of JWT claims (iss, sub and jti strings; aud a string or array; exp, nbf and iat numbers).")
	}
	sh := jws.Signatures[0].Header
	a := &Assertion{
		Algorithm: sh.Algorithm,
		KeyID:     sh.KeyID,
		X5T:       headerString(sh, "x5t"),
		X5TS256:   headerString(sh, "x5t#S256"),
		Issuer:    c.Issuer,
		Subject:   c.Subject,
		Audience:  c.Audience,
		ID:        c.ID,
		Expiry:    numericTime(c.Expiry),
		NotBefore: numericTime(c.NotBefore),
		IssuedAt:  numericTime(c.IssuedAt),
		jws:       jws,
	}
	return a, nil
}

func errUnsupportedAlgorithm(alg string) *Error {
	return NewError(http.StatusBadRequest, "invalid_request", codeUnsupportedAlg,
		"Invalid JWT token. '%s' is not a supported signature algorithm. Supported signing algorithms are: '%s'",
		truncate(alg, 40), supportedAlgorithmsMessage)
}

// supportedAlgorithm reports whether ParseAssertion takes alg (one of FederatedAlgorithms);
// certificateAlgorithm whether a certificate assertion may use it (one of AssertionAlgorithms).
func supportedAlgorithm(alg string) bool { return algorithmIn(alg, FederatedAlgorithms) }

func certificateAlgorithm(alg string) bool { return algorithmIn(alg, AssertionAlgorithms) }

func algorithmIn(alg string, algs []jose.SignatureAlgorithm) bool {
	for _, a := range algs {
		if string(a) == alg {
			return true
		}
	}
	return false
}

func headerString(h jose.Header, key jose.HeaderKey) string {
	s, _ := h.ExtraHeaders[key].(string)
	return s
}

func numericTime(n *jwt.NumericDate) time.Time {
	if n == nil {
		return time.Time{}
	}
	return n.Time()
}

// AssertionCheck is what a certificate assertion is verified against.
type AssertionCheck struct {
	ClientID     string             // the client_id parameter; iss and sub must equal it
	Certificates []store.Credential // the client's certificates valid now
	// AudienceOK reports whether an aud value names this tenant's token endpoint.
	AudienceOK func(aud string) bool
	Now        time.Time
}

// VerifyClientAssertion checks a certificate-signed client assertion (private_key_jwt): iss and
// sub are the client, the signing certificate is one of the client's (found by x5t#S256 or x5t,
// else by trying each), the signature verifies, aud is this tenant's token endpoint, and the
// time claims and jti are present and current. Replay (jti reuse) is checked by the caller,
// after this passes, so that a bad assertion does not use up its jti.
func VerifyClientAssertion(a *Assertion, chk AssertionCheck) *Error {
	if !strings.EqualFold(a.Issuer, chk.ClientID) || !strings.EqualFold(a.Subject, chk.ClientID) {
		return NewError(http.StatusUnauthorized, "invalid_client", codeAssertionClientID,
			"Client assertion application identifier doesn't match 'client_id' parameter. The assertion's 'iss' ('%s') and 'sub' ('%s') "+
				"must both be the client id '%s'.", truncate(a.Issuer, 200), truncate(a.Subject, 200), chk.ClientID)
	}
	if e := verifyAssertionKey(a, chk); e != nil {
		return e
	}
	audOK := false
	for _, aud := range a.Audience {
		if chk.AudienceOK(aud) {
			audOK = true
			break
		}
	}
	if !audOK {
		return NewError(http.StatusUnauthorized, "invalid_client", codeAssertionAudience,
			"Client assertion audience claim does not match Realm issuer. The assertion's 'aud' ('%s') must be the token endpoint "+
				"the assertion is sent to.", truncate(strings.Join(a.Audience, "', '"), 300))
	}
	if a.Expiry.IsZero() {
		return errJWTMalformed("The client assertion has no 'exp' claim.")
	}
	if a.ID == "" {
		return errJWTMalformed("The client assertion has no 'jti' claim; every assertion needs a unique one.")
	}
	validFrom := a.NotBefore
	if validFrom.IsZero() {
		validFrom = a.IssuedAt
	}
	switch {
	case !a.Expiry.After(chk.Now),
		!a.NotBefore.IsZero() && a.NotBefore.After(chk.Now.Add(assertionSkew)):
		return NewError(http.StatusUnauthorized, "invalid_client", codeAssertionTime,
			"Client assertion is not within its valid time range. Current time: %s, assertion valid from %s, expiry time of assertion %s. "+
				"Make a new assertion for each token request, and check the client's clock.",
			assertionTime(chk.Now), assertionTime(validFrom), assertionTime(a.Expiry))
	case a.Expiry.After(chk.Now.Add(maxAssertionLifetime + assertionSkew)):
		return NewError(http.StatusUnauthorized, "invalid_client", codeAssertionTime,
			"Client assertion is not within its valid time range. Current time: %s, expiry time of assertion %s. "+
				"A client assertion may be valid for at most 1 day; make a short-lived one for each token request.",
			assertionTime(chk.Now), assertionTime(a.Expiry))
	}
	return nil
}

func assertionTime(t time.Time) string {
	if t.IsZero() {
		return "(not given)"
	}
	return t.UTC().Format("2006-01-02T15:04:05.0000000Z")
}

// verifyAssertionKey finds the certificate the assertion names and checks the signature with it;
// with no thumbprint header every certificate is tried.
func verifyAssertionKey(a *Assertion, chk AssertionCheck) *Error {
	failed := NewError(http.StatusUnauthorized, "invalid_client", codeAssertionSignature,
		"Client assertion failed signature validation.")
	var want []byte
	var sum func(der []byte) []byte
	thumb := ""
	switch {
	case a.X5TS256 != "":
		want, thumb = decodeThumbprint(a.X5TS256, sha256.Size), a.X5TS256
		sum = func(der []byte) []byte { s := sha256.Sum256(der); return s[:] }
	case a.X5T != "":
		want, thumb = decodeThumbprint(a.X5T, sha1.Size), a.X5T
		sum = func(der []byte) []byte { s := sha1.Sum(der); return s[:] }
	}
	if thumb != "" {
		for _, c := range chk.Certificates {
			if want == nil || subtle.ConstantTimeCompare(sum(c.Certificate), want) != 1 {
				continue
			}
			cert, err := x509.ParseCertificate(c.Certificate)
			if err != nil || a.VerifySignature(cert.PublicKey) != nil {
				return failed
			}
			return nil
		}
		return NewError(http.StatusUnauthorized, "invalid_client", codeAssertionSignature,
			"Client assertion failed signature validation. The key was not found. [Thumbprint of key used by client: '%s'. "+
				"No certificate with this thumbprint is registered and valid now on app '%s'.]", truncate(thumb, 100), chk.ClientID)
	}
	if len(chk.Certificates) == 0 {
		return NewError(http.StatusUnauthorized, "invalid_client", codeAssertionSignature,
			"Client assertion failed signature validation. The key was not found. App '%s' has no certificate credential valid now.", chk.ClientID)
	}
	for _, c := range chk.Certificates {
		cert, err := x509.ParseCertificate(c.Certificate)
		if err == nil && a.VerifySignature(cert.PublicKey) == nil {
			return nil
		}
	}
	return failed
}

// decodeThumbprint decodes a certificate thumbprint header of n bytes sent in any of the
// encodings clients use: standard base64 with padding (MSAL Go's x5t#S256), base64url without
// (MSAL JS, RFC 7515), or hex. It returns nil when none fits.
func decodeThumbprint(s string, n int) []byte {
	if len(s) == 2*n {
		if b, err := hex.DecodeString(s); err == nil {
			return b
		}
	}
	norm := strings.TrimRight(strings.NewReplacer("-", "+", "_", "/").Replace(s), "=")
	b, err := base64.RawStdEncoding.DecodeString(norm)
	if err != nil || len(b) != n {
		return nil
	}
	return b
}

// assertionAudienceOK reports whether aud names this tenant's token endpoint (v1 or v2), or its
// authority, on BaseURL's host or one of Entra's host names, by tenant id or by the segment the
// request used; case-insensitive, one trailing slash tolerated.
func (s *Server) assertionAudienceOK(tenantID, seg, aud string) bool {
	scheme, rest, ok := strings.Cut(aud, "://")
	if !ok {
		return false
	}
	host, path, _ := strings.Cut(rest, "/")
	if i := strings.IndexAny(path, "?#"); i >= 0 {
		path = path[:i]
	}
	switch {
	case strings.EqualFold(host, s.host) && strings.EqualFold(scheme, s.scheme):
	case strings.EqualFold(scheme, "https") && isAuthorityAlias(host):
	default:
		return false
	}
	path = strings.TrimSuffix(path, "/")
	t, sub, _ := strings.Cut(path, "/")
	if !strings.EqualFold(t, tenantID) && !strings.EqualFold(t, seg) {
		return false
	}
	switch {
	case sub == "", strings.EqualFold(sub, "oauth2/v2.0/token"), strings.EqualFold(sub, "oauth2/token"), strings.EqualFold(sub, "v2.0"):
		return true
	}
	return false
}

func isAuthorityAlias(host string) bool {
	for _, a := range AuthorityAliases {
		if strings.EqualFold(host, a) {
			return true
		}
	}
	return false
}
