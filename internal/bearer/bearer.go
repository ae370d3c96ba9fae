// Package bearer validates the access tokens mint's STS issued, for mint's own resource
// endpoints (the Graph-shaped directory API, the management endpoint, the vault data plane).
// It checks signature, issuer, audience and lifetime; what the caller may do is decided above it.
package bearer

import (
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// KeySource gives a token-signing public key by kid (keys.Manager implements it).
type KeySource interface {
	PublicKey(kid string) (*rsa.PublicKey, bool)
}

// Claims are the parts of a mint token that resource endpoints use.
type Claims struct {
	Audience  string   `json:"aud"`
	Issuer    string   `json:"iss"`
	TenantID  string   `json:"tid"`
	ObjectID  string   `json:"oid"`
	Subject   string   `json:"sub"`
	AppID     string   `json:"appid"`
	AZP       string   `json:"azp"`
	IDType    string   `json:"idtyp"`
	Roles     []string `json:"roles"`
	Version   string   `json:"ver"`
	TokenID   string   `json:"uti"`
	Expiry    int64    `json:"exp"`
	NotBefore int64    `json:"nbf"`
	IssuedAt  int64    `json:"iat"`
	XmsMirid  string   `json:"xms_mirid"`
	XmsAzRid  string   `json:"xms_az_rid"`

	// Scope is a delegated token's scp: its delegated permissions, space-separated.
	Scope string `json:"scp"`
}

// HasScope reports whether a delegated token carries the permission in its scp claim.
func (c Claims) HasScope(scope string) bool {
	for _, s := range strings.Fields(c.Scope) {
		if strings.EqualFold(s, scope) {
			return true
		}
	}
	return false
}

// ClientID is the calling application's id, from appid (v1) or azp (v2).
func (c Claims) ClientID() string {
	if c.AppID != "" {
		return c.AppID
	}
	return c.AZP
}

// HasRole reports whether the token carries the app role value.
func (c Claims) HasRole(role string) bool {
	for _, r := range c.Roles {
		if strings.EqualFold(r, role) {
			return true
		}
	}
	return false
}

// Entra's issuers. mint's tokens carry them as Entra's do, because validators outside mint check
// them (Azurite, like many, requires a v1 token's iss to start with https://sts.windows.net/).
// The keys stay mint's own: a validator that trusts Microsoft's keys cannot be fooled, and mint's
// validators check mint's keys.
const (
	v1IssuerPrefix = "https://sts.windows.net/"
	v2IssuerPrefix = "https://login.microsoftonline.com/"
)

// V1Issuer is the iss of v1.0 tokens for the tenant: https://sts.windows.net/{tid}/.
func V1Issuer(tenantID string) string { return v1IssuerPrefix + tenantID + "/" }

// V2Issuer is the iss of v2.0 tokens for the tenant: https://login.microsoftonline.com/{tid}/v2.0.
func V2Issuer(tenantID string) string { return v2IssuerPrefix + tenantID + "/v2.0" }

// IsIssuer reports whether iss is one of the tenant's issuers: Entra's two, or (when base is not
// empty) mint's former BaseURL/{tid}/ and BaseURL/{tid}/v2.0, still accepted so that tokens an
// agent cached before an upgrade stay good until they expire.
func IsIssuer(iss, tenantID, base string) bool {
	if tenantID == "" {
		return false
	}
	if strings.EqualFold(iss, V1Issuer(tenantID)) || strings.EqualFold(iss, V2Issuer(tenantID)) {
		return true
	}
	if base = strings.TrimSuffix(base, "/"); base == "" {
		return false
	}
	return strings.EqualFold(iss, base+"/"+tenantID+"/") || strings.EqualFold(iss, base+"/"+tenantID+"/v2.0")
}

// Validator checks tokens for one resource.
type Validator struct {
	Keys KeySource
	// IssuerBase is the STS authority host (BaseURL). Accepted issuers are Entra's (V1Issuer,
	// V2Issuer) and, for tokens issued before mint used them, IssuerBase/{tid}/ and
	// IssuerBase/{tid}/v2.0.
	IssuerBase string
	// Audiences accepted, compared case-insensitively and without a trailing slash. For v2
	// tokens the resource's app id is the audience, so list it too.
	Audiences []string
	Clock     func() time.Time
	// Skew tolerated on nbf and exp.
	Skew time.Duration
	// CacheSize bounds how many verified tokens are remembered (default 10,000; negative: none).
	CacheSize int

	cache verifiedCache
}

// Error says why a token was refused, in words fit for a WWW-Authenticate error_description.
type Error struct {
	Code    string // "invalid_token"
	Message string
}

func (e *Error) Error() string { return e.Message }

var errMissing = &Error{Code: "invalid_token", Message: "No access token was presented."}

// FromRequest extracts the bearer token of an Authorization header.
func FromRequest(r *http.Request) (string, error) {
	h := r.Header.Get("Authorization")
	if h == "" {
		return "", errMissing
	}
	scheme, tok, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(tok) == "" {
		return "", &Error{Code: "invalid_token", Message: "The Authorization header must be 'Bearer <access token>'."}
	}
	return strings.TrimSpace(tok), nil
}

// IsMissing reports whether err means no token was presented at all.
func IsMissing(err error) bool { return errors.Is(err, errMissing) }

var algs = []jose.SignatureAlgorithm{jose.RS256}

// Validate verifies token and returns its claims. The signature check, the one costly step (an
// RSA-2048 verification is ~70 µs of a core), is remembered per token; lifetime, issuer and
// audience are checked on every call.
func (v *Validator) Validate(token string) (Claims, error) {
	var c Claims
	if len(token) > 16<<10 {
		return c, &Error{"invalid_token", "The access token is too large."}
	}
	if hit, ok := v.cache.get(token, v.Keys); ok {
		return hit, v.check(hit)
	}
	c, kid, err := v.verify(token)
	if err != nil {
		return c, err
	}
	if err := v.check(c); err != nil {
		return c, err
	}
	v.cache.put(token, kid, c, v.CacheSize)
	return c, nil
}

// verify checks the token's form and signature and decodes its claims.
func (v *Validator) verify(token string) (c Claims, kid string, err error) {
	tok, err := jwt.ParseSigned(token, algs)
	if err != nil {
		return c, "", &Error{"invalid_token", "The access token is malformed or not signed with RS256."}
	}
	if len(tok.Headers) != 1 {
		return c, "", &Error{"invalid_token", "The access token must have exactly one signature."}
	}
	kid = tok.Headers[0].KeyID
	key, ok := v.Keys.PublicKey(kid)
	if !ok {
		return c, "", &Error{"invalid_token", fmt.Sprintf("The access token's signing key %q is not one of this issuer's keys.", kid)}
	}
	var raw json.RawMessage
	if err := tok.Claims(key, &raw); err != nil {
		return c, "", &Error{"invalid_token", "The access token's signature is invalid."}
	}
	if err := json.Unmarshal(raw, &c); err != nil {
		return c, "", &Error{"invalid_token", "The access token's claims are malformed."}
	}
	return c, kid, nil
}

// check decides lifetime, issuer and audience of verified claims.
func (v *Validator) check(c Claims) error {
	now := time.Now()
	if v.Clock != nil {
		now = v.Clock()
	}
	skew := v.Skew
	if skew == 0 {
		skew = 5 * time.Minute
	}
	if c.Expiry == 0 || now.After(time.Unix(c.Expiry, 0).Add(skew)) {
		return &Error{"invalid_token", fmt.Sprintf("The access token expired at %s.", time.Unix(c.Expiry, 0).UTC().Format(time.RFC3339))}
	}
	if c.NotBefore != 0 && now.Add(skew).Before(time.Unix(c.NotBefore, 0)) {
		return &Error{"invalid_token", fmt.Sprintf("The access token is not valid before %s.", time.Unix(c.NotBefore, 0).UTC().Format(time.RFC3339))}
	}
	if !IsIssuer(c.Issuer, c.TenantID, v.IssuerBase) {
		return &Error{"invalid_token", fmt.Sprintf("The access token's issuer %q is not trusted here.", c.Issuer)}
	}
	aud := strings.TrimSuffix(c.Audience, "/")
	for _, a := range v.Audiences {
		if strings.EqualFold(aud, strings.TrimSuffix(a, "/")) {
			return nil
		}
	}
	return &Error{"invalid_token", fmt.Sprintf("The access token's audience %q is not valid for this resource.", c.Audience)}
}
