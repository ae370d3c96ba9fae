// Package federation is mint's workload identity federation: the STS's FederatedVerifier, which
// lets a workload exchange a token from an external OIDC issuer (Kubernetes, GitHub Actions, a
// CI system, another mint) for a token of a user-assigned managed identity whose federated
// identity credential trusts that issuer, subject and audience; and the workload-token endpoint
// that makes mint itself such an issuer for `mint run --federated-token-file`.
//
// Trust decisions, in one place:
//   - Matching is Entra's: issuer and subject byte for byte (case-sensitive, no trimming, no
//     trailing-slash tolerance), the credential's one audience among the assertion's aud values.
//     A refusal is AADSTS70021 with Entra's sentence, then mint's own: the closest credential and
//     which of issuer, subject and audience differs, and what it expects.
//   - A flexible credential (Entra's preview claimsMatchingExpression) replaces the subject with
//     an expression over the assertion's claims (expression.go: eq, matches with * and ?, and);
//     issuer and audience still match exactly. Entra allows them for a few issuers only; mint for
//     any.
//   - Credentials are matched before any key is fetched, so mint only ever contacts issuers that
//     someone allowed to write federated identity credentials has configured.
//   - Keys come from the issuer's OIDC discovery document (issuer +
//     "/.well-known/openid-configuration" → jwks_uri), cached per issuer for the JWKS response's
//     Cache-Control max-age (clamped to [1 min, 24 h]) or an hour, refetched when an assertion
//     names an unknown kid but at most once per 30 s per issuer; keys fetched less than a day ago
//     keep serving while the issuer is unreachable. Fetches are https only (plain http only to
//     127.0.0.1, ::1 or localhost, for tests and local issuers), time out after 10 s, read at
//     most 1 MiB, and follow at most 3 redirects, all to the same host.
//   - For an issuer mint cannot reach (air-gapped), a credential may carry the keys itself: the
//     property "mintJwks" (a JSON Web Key Set of public keys) replaces discovery for that
//     credential.
//   - mint's own STS issuer (Entra's https://login.microsoftonline.com/{tenant}/v2.0 or
//     https://sts.windows.net/{tenant}/, and mint's former BaseURL/{tenant}/v2.0 and
//     BaseURL/{tenant}/) is verified with mint's own signing keys, without HTTP: never with
//     Microsoft's keys, so a token Microsoft issued does not pass here.
//   - exp is required; exp and nbf are checked with 5 minutes of clock skew; an assertion may
//     not be valid for more than 24 hours from now (Kubernetes' longest service-account token).
//     Signature algorithms: RS256/384/512, PS256/384/512, ES256/384/512; RSA keys of at least
//     2048 bits.
//   - jti replay is not checked: Entra does not enforce it for federated assertions, and a
//     projected service-account token is legitimately presented many times during its life.
//   - An application's credentials are Graph's /applications/{id}/federatedIdentityCredentials
//     (store.FederatedCredentials); a user-assigned identity's are ARM child resources. The
//     rules they follow (rules.go) are the same; mintJwks exists on identities' credentials only.
//
// It is not the STS (it only decides whether an assertion authenticates a client) and not the
// control plane (internal/arm writes the credentials; this package reads them from the store).
package federation

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/mint-id/mint/internal/armid"
	"github.com/mint-id/mint/internal/bearer"
	"github.com/mint-id/mint/internal/managedidentity"
	"github.com/mint-id/mint/internal/store"
	"github.com/mint-id/mint/internal/sts"
)

const (
	// CredentialType is the ARM type of a user-assigned identity's federated identity credentials
	// (child resources).
	CredentialType = managedidentity.UserAssignedType + "/federatedIdentityCredentials"
	// DefaultAudience is the audience Entra expects in federated assertions.
	DefaultAudience = "api://AzureADTokenExchange"

	clockSkew            = 5 * time.Minute
	maxAssertionLifetime = 24 * time.Hour

	codeNoFederatedRecord = 70021
	codeExternalOIDC      = 50166
	codeSignature         = 700027
	codeTime              = 700024
)

// Store is what the verifier reads: identities, applications and their federated credentials.
type Store interface {
	GetResource(ctx context.Context, id string) (store.Resource, error)
	ListResources(ctx context.Context, f store.ResourceFilter) ([]store.Resource, error)
	ListFederatedCredentials(ctx context.Context, principalID string) ([]store.FederatedCredential, error)
}

// Options configure a Verifier. Zero values get the defaults documented on each field.
type Options struct {
	// BaseURL is mint's authority host; assertions whose issuer is mint's own STS
	// (BaseURL/{tenant}/v2.0 or BaseURL/{tenant}/) are verified with LocalKeys.
	BaseURL string
	// LocalKeys returns mint's JWKS document; nil disables the local shortcut.
	LocalKeys func() []byte
	// HTTPClient fetches discovery documents and key sets. Default: 10 s timeout, proxies from
	// the environment, same-host redirects only. A custom client should keep those rules.
	HTTPClient *http.Client
	// KeyTTL is how long fetched keys are used when the JWKS response has no max-age; default 1h.
	KeyTTL time.Duration
	// RefetchInterval is the least time between two fetches for one issuer; default 30 s.
	RefetchInterval time.Duration
	// Clock drives the key cache; default time.Now. (Assertion times use the request's Now.)
	Clock  func() time.Time
	Logger *slog.Logger
}

// Verifier implements sts.FederatedVerifier over the store's federated identity credentials.
type Verifier struct {
	st        Store
	baseURL   string
	localKeys func() []byte
	cache     *keyCache
	log       *slog.Logger
}

var _ sts.FederatedVerifier = (*Verifier)(nil)

// New returns a Verifier.
func New(st Store, opts Options) *Verifier {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Clock == nil {
		opts.Clock = time.Now
	}
	return &Verifier{
		st:        st,
		baseURL:   strings.TrimRight(opts.BaseURL, "/"),
		localKeys: opts.LocalKeys,
		cache:     newKeyCache(opts.HTTPClient, opts.KeyTTL, opts.RefetchInterval, opts.Clock, opts.Logger),
		log:       opts.Logger,
	}
}

// VerifyFederated matches the assertion against the client's federated identity credentials,
// then checks its time claims and its signature with the issuer's keys. Refusals are *sts.Error.
func (v *Verifier) VerifyFederated(ctx context.Context, req sts.FederatedRequest) error {
	a := req.Assertion
	p := Presented{Issuer: a.Issuer, Subject: a.Subject, Audience: a.Audience}
	var (
		owner, hint string
		creds       []Credential
		why         string
		err         error
	)
	if req.Client.Kind == store.KindApplication {
		owner, hint = fmt.Sprintf("application '%s'", req.Client.AppID), appHint(req.Client.AppID, p)
		creds, err = v.applicationCredentials(ctx, req.Client)
	} else {
		var identityID string
		identityID, creds, why, err = v.credentials(ctx, req.Client)
		owner, hint = fmt.Sprintf("user-assigned identity '%s' (client id %s)", identityID, req.Client.AppID), addHint(identityID, p)
	}
	if err != nil {
		return err
	}
	for _, c := range creds {
		if c.ClaimsMatchingExpression != "" {
			// A flexible credential reads every claim. The signature is checked after matching (so
			// that only issuers someone configured are ever contacted); a forged assertion that
			// matches is refused then.
			_ = json.Unmarshal(a.Payload(), &p.Claims)
			break
		}
	}
	cred, closest := Match(creds, p)
	if cred == nil {
		if why == "" {
			if closest == "" {
				why = owner + " has no federated identity credentials."
			} else {
				why = "Credentials of " + owner + ": " + closest
			}
			why += " " + hint
		}
		return noMatch(p, why)
	}
	if e := checkTimes(a, req.Now); e != nil {
		return e
	}
	return v.verifySignature(ctx, req, cred)
}

// applicationCredentials returns an application's federated identity credentials.
func (v *Verifier) applicationCredentials(ctx context.Context, app store.ServicePrincipal) ([]Credential, error) {
	recs, err := v.st.ListFederatedCredentials(ctx, app.ObjectID)
	if err != nil {
		return nil, fmt.Errorf("federated credentials of application %s: %w", app.AppID, err)
	}
	creds := make([]Credential, 0, len(recs))
	for _, r := range recs {
		creds = append(creds, Credential{Name: r.Name, ID: r.ID, Issuer: r.Issuer, Subject: r.Subject, Audiences: r.Audiences,
			ClaimsMatchingExpression: r.ClaimsMatchingExpression})
	}
	return creds, nil
}

// credentials returns a managed identity's federated identity credentials and the ARM id of the
// user-assigned identity holding them, or (for identities that cannot have any) why not.
func (v *Verifier) credentials(ctx context.Context, client store.ServicePrincipal) (identityID string, creds []Credential, why string, err error) {
	armID := ""
	for _, n := range client.AlternativeNames {
		if strings.HasPrefix(n, "/") {
			armID = n
			break
		}
	}
	identity, err := v.st.GetResource(ctx, armID)
	switch {
	case armID == "" || errors.Is(err, store.ErrNotFound):
		return "", nil, fmt.Sprintf("Managed identity '%s' has no user-assigned identity resource (it may have been deleted).", client.AppID), nil
	case err != nil:
		return "", nil, "", fmt.Errorf("identity of %s: %w", client.AppID, err)
	case !managedidentity.IsUserAssigned(identity.Type):
		return "", nil, fmt.Sprintf("'%s' is the system-assigned identity of '%s': federated identity credentials can be added only to "+
			"user-assigned identities. Create one (mint identity create), add the credential to it and use its client id.", client.AppID, identity.ID), nil
	case identity.PrincipalID != "" && managedidentity.Refusal(client.ObjectID, identity, store.Resource{}) != "":
		return "", nil, fmt.Sprintf("Managed identity '%s' no longer stands for '%s' (it was deleted and re-created).", client.AppID, identity.ID), nil
	}
	recs, err := v.st.ListResources(ctx, store.ResourceFilter{ParentID: identity.ID, Type: CredentialType})
	if err != nil {
		return "", nil, "", fmt.Errorf("federated credentials of %s: %w", identity.ID, err)
	}
	creds = make([]Credential, 0, len(recs))
	for _, r := range recs {
		c, err := credentialFromResource(r)
		if err != nil {
			v.log.WarnContext(ctx, "federated identity credential unreadable; skipped", "id", r.ID, "err", err)
			continue
		}
		creds = append(creds, c)
	}
	return identity.ID, creds, "", nil
}

// credentialProperties is the stored shape of a federated identity credential.
type credentialProperties struct {
	Issuer                   string                  `json:"issuer"`
	Subject                  string                  `json:"subject"`
	Audiences                []string                `json:"audiences"`
	ClaimsMatchingExpression *struct{ Value string } `json:"claimsMatchingExpression"`
	MintJWKS                 json.RawMessage         `json:"mintJwks"`
}

func credentialFromResource(r store.Resource) (Credential, error) {
	var p credentialProperties
	if err := json.Unmarshal(r.Properties, &p); err != nil {
		return Credential{}, err
	}
	c := Credential{Name: r.Name, ID: r.ID, Issuer: p.Issuer, Subject: p.Subject, Audiences: p.Audiences}
	if p.ClaimsMatchingExpression != nil {
		c.ClaimsMatchingExpression = p.ClaimsMatchingExpression.Value
	}
	if len(p.MintJWKS) > 0 && string(p.MintJWKS) != "null" {
		keys, err := ParseStaticKeys(p.MintJWKS)
		if err != nil {
			return Credential{}, err
		}
		c.StaticKeys = keys
	}
	return c, nil
}

// addHint says how to make the assertion match.
func addHint(identityID string, p Presented) string {
	aud := DefaultAudience
	if len(p.Audience) == 1 {
		aud = p.Audience[0]
	}
	group, name := "<group>", "<identity>"
	if id, err := armid.Parse(identityID); err == nil {
		group, name = id.ResourceGroup, id.Name()
	}
	return fmt.Sprintf("To trust this assertion, add a federated identity credential with this exact issuer, subject and audience: "+
		"mint identity federated-credential create -g %s --identity-name %s -n <name> --issuer '%s' --subject '%s' --audiences '%s'.",
		group, name, clip(p.Issuer), clip(p.Subject), clip(aud))
}

// appHint says how to make the assertion match an application's credentials.
func appHint(appID string, p Presented) string {
	aud := DefaultAudience
	if len(p.Audience) == 1 {
		aud = p.Audience[0]
	}
	return fmt.Sprintf("To trust this assertion, add a federated identity credential with this exact issuer, subject and audience: "+
		"mint ad app federated-credential create --id %s -n <name> --issuer '%s' --subject '%s' --audiences '%s'.",
		appID, clip(p.Issuer), clip(p.Subject), clip(aud))
}

// noMatch is AADSTS70021: Entra's sentence, then mint's explanation.
func noMatch(p Presented, why string) *sts.Error {
	return sts.NewError(http.StatusBadRequest, "invalid_request", codeNoFederatedRecord,
		"No matching federated identity record found for presented assertion. Assertion Issuer: '%s'. Assertion Subject: '%s'. Assertion Audience: '%s'. %s",
		clip(p.Issuer), clip(p.Subject), clip(strings.Join(p.Audience, ",")), why)
}

func assertionTime(t time.Time) string {
	if t.IsZero() {
		return "(not given)"
	}
	return t.UTC().Format(time.RFC3339)
}

// checkTimes checks exp (required) and nbf with clock skew, and bounds the assertion's life.
func checkTimes(a *sts.Assertion, now time.Time) *sts.Error {
	refuse := func(detail string) *sts.Error {
		return sts.NewError(http.StatusUnauthorized, "invalid_client", codeTime,
			"Client assertion is not within its valid time range. Current time: %s, assertion valid from %s, expiry time of assertion %s. %s",
			assertionTime(now), assertionTime(a.NotBefore), assertionTime(a.Expiry), detail)
	}
	switch {
	case a.Expiry.IsZero():
		return refuse("The assertion has no 'exp' claim; a federated assertion must expire.")
	case !a.Expiry.After(now.Add(-clockSkew)):
		return refuse("The assertion has expired: the workload must read a fresh token from its issuer (a projected token file is rewritten before it expires).")
	case !a.NotBefore.IsZero() && a.NotBefore.After(now.Add(clockSkew)):
		return refuse("The assertion is not valid yet: check the clocks of the issuer and of mint.")
	case a.Expiry.After(now.Add(maxAssertionLifetime + clockSkew)):
		return refuse("A federated assertion may be valid for at most 24 hours; make the issuer issue shorter-lived tokens.")
	}
	return nil
}

// verifySignature checks the assertion's signature with the keys of the credential's issuer.
func (v *Verifier) verifySignature(ctx context.Context, req sts.FederatedRequest, cred *Credential) error {
	a := req.Assertion
	var keys IssuerKeys
	source := ""
	switch {
	case cred.StaticKeys != nil:
		keys, source = IssuerKeys{Keys: cred.StaticKeys.Keys}, fmt.Sprintf("the keys given on credential '%s' (mintJwks)", cred.Name)
	case v.isLocalIssuer(a.Issuer, req.Tenant.ID):
		var set jose.JSONWebKeySet
		if err := json.Unmarshal(v.localKeys(), &set); err != nil {
			return fmt.Errorf("mint's own key set: %w", err)
		}
		keys, source = IssuerKeys{Keys: set.Keys}, "mint's own signing keys"
	default:
		var err error
		keys, err = v.cache.keys(ctx, a.Issuer, a.KeyID)
		if err != nil {
			var fe *FetchError
			if errors.As(err, &fe) {
				return sts.NewError(http.StatusBadRequest, "invalid_request", codeExternalOIDC,
					"Request to External OIDC endpoint failed. mint could not get the signing keys of issuer '%s': %s. "+
						"The issuer must serve its OpenID configuration at %s with a jwks_uri, over https (plain http only on 127.0.0.1 or localhost); "+
						"for an issuer mint cannot reach, put its keys on the credential as the property 'mintJwks'.",
					clip(a.Issuer), clip(fe.Error()), clip(DiscoveryURL(a.Issuer)))
			}
			return err
		}
		source = fmt.Sprintf("the key set at %s (fetched %s)", keys.JWKSURI, keys.FetchedAt.UTC().Format(time.RFC3339))
	}
	candidates := keys.find(a.KeyID)
	if len(candidates) == 0 {
		return sts.NewError(http.StatusUnauthorized, "invalid_client", codeSignature,
			"Client assertion failed signature validation. The key was not found: the assertion's kid '%s' is not in %s. "+
				"If the issuer rotated its keys, mint refetches them at most every 30 seconds.", clip(a.KeyID), source)
	}
	for _, k := range candidates {
		if k.Algorithm != "" && k.Algorithm != a.Algorithm {
			continue
		}
		if a.VerifySignature(k.Key) == nil {
			return nil
		}
	}
	return sts.NewError(http.StatusUnauthorized, "invalid_client", codeSignature,
		"Client assertion failed signature validation. The assertion (alg %s, kid '%s') does not verify with %s.", a.Algorithm, clip(a.KeyID), source)
}

// isLocalIssuer reports whether iss is mint's own STS issuer for the tenant: Entra's issuers
// (which mint's tokens carry; mint's keys, never Microsoft's, verify them) or mint's former
// BaseURL-based ones.
func (v *Verifier) isLocalIssuer(iss, tenantID string) bool {
	if v.localKeys == nil || tenantID == "" {
		return false
	}
	if iss == bearer.V2Issuer(tenantID) || iss == bearer.V1Issuer(tenantID) {
		return true
	}
	base := v.baseURL + "/" + tenantID
	return v.baseURL != "" && (iss == base+"/v2.0" || iss == base+"/")
}
