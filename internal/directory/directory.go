// Package directory is mint's Entra ID: tenants, subscriptions, service principals of
// applications and managed identities, their credentials and app role grants. It owns the rules
// (ids are generated here, secrets are hashed here, first-party resources are registered here);
// the store only keeps records, and the STS and the Graph-shaped API call into this package.
package directory

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/mint-id/mint/internal/store"
)

// Options tune a Directory. The zero value is usable.
type Options struct {
	// ManagementAudiences are extra audiences (mint's own management base URL, say) that name the
	// Azure Resource Manager resource, so a token for "https://127.0.0.1:8443/" is an ARM token.
	ManagementAudiences []string
	// VaultAudiences are extra audiences that name the Azure Key Vault resource: the vault
	// audiences of mint's vault DNS suffixes ("https://vault.localhost:8443"), so tokens for the
	// resource a vault's challenge names are Key Vault tokens.
	VaultAudiences []string
	// SecretLifetime is how long a new client secret is valid; default two years, as the portal.
	SecretLifetime time.Duration
	Clock          func() time.Time
}

// Directory is safe for concurrent use. It keeps no state of its own, so replicas sharing a store
// agree at once: every answer comes from the store, except tenants, which are never changed or
// deleted once created and are remembered after the first lookup (every token request resolves
// one, and a store read cost the token path 5% of its CPU).
type Directory struct {
	st      store.Store
	opts    Options
	tenants sync.Map // lower-cased id or default domain → store.Tenant

	pwOnce sync.Once
	pw     *passwordHasher
}

// hasher is made on first use: it computes a dummy hash, which costs one Argon2 run.
func (d *Directory) hasher() *passwordHasher {
	d.pwOnce.Do(func() { d.pw = newPasswordHasher() })
	return d.pw
}

func New(st store.Store, opts Options) *Directory {
	if opts.SecretLifetime == 0 {
		opts.SecretLifetime = 2 * 365 * 24 * time.Hour
	}
	if opts.Clock == nil {
		opts.Clock = time.Now
	}
	for i, a := range opts.ManagementAudiences {
		opts.ManagementAudiences[i] = trimSlash(a)
	}
	for i, a := range opts.VaultAudiences {
		opts.VaultAudiences[i] = trimSlash(a)
	}
	return &Directory{st: st, opts: opts}
}

func (d *Directory) now() time.Time { return d.opts.Clock().UTC() }

// Tenant resolves a tenant by id or default domain.
func (d *Directory) Tenant(ctx context.Context, ref string) (store.Tenant, error) {
	key := strings.ToLower(ref)
	if t, ok := d.tenants.Load(key); ok {
		return t.(store.Tenant), nil
	}
	t, err := d.st.GetTenant(ctx, ref)
	if err == nil {
		d.tenants.Store(key, t)
	}
	return t, err
}

// Client finds the principal whose appId is clientID.
func (d *Directory) Client(ctx context.Context, tenantID, clientID string) (store.ServicePrincipal, error) {
	return d.st.GetPrincipalByAppID(ctx, tenantID, clientID)
}

// Resource finds the resource principal an audience names: an identifier URI (with or without
// one trailing slash), one of the management audiences, or an app id.
func (d *Directory) Resource(ctx context.Context, tenantID, audience string) (store.ServicePrincipal, error) {
	aud := trimSlash(audience)
	if aud == "" {
		return store.ServicePrincipal{}, store.ErrNotFound
	}
	for _, m := range d.opts.ManagementAudiences {
		if strings.EqualFold(aud, m) {
			return d.st.GetPrincipalByAppID(ctx, tenantID, ResourceManagerAppID)
		}
	}
	for _, v := range d.opts.VaultAudiences {
		if strings.EqualFold(aud, v) {
			return d.st.GetPrincipalByAppID(ctx, tenantID, KeyVaultAppID)
		}
	}
	if _, err := uuid.Parse(aud); err == nil {
		return d.st.GetPrincipalByAppID(ctx, tenantID, aud)
	}
	// Identifier URIs are stored as registered; try the audience as given and with the other
	// trailing-slash spelling.
	sp, err := d.st.GetPrincipalByIdentifierURI(ctx, tenantID, aud)
	if errors.Is(err, store.ErrNotFound) {
		sp, err = d.st.GetPrincipalByIdentifierURI(ctx, tenantID, aud+"/")
	}
	return sp, err
}

// VerifySecret reports whether secret matches a password credential of the principal that is
// valid now.
func (d *Directory) VerifySecret(ctx context.Context, principalID, secret string) (bool, error) {
	creds, err := d.st.ListCredentials(ctx, principalID)
	if err != nil {
		return false, err
	}
	return verifySecret(creds, secret, d.now()), nil
}

func verifySecret(creds []store.Credential, secret string, now time.Time) bool {
	for _, c := range creds {
		if c.Type != store.CredentialPassword || !validAt(c, now) {
			continue
		}
		if verifySecretHash(c.SecretHash, secret) {
			return true
		}
	}
	return false
}

// SecretExpired tells why a secret was refused: it matches nothing, or it matches an expired
// credential (Entra says so with its own error code).
func (d *Directory) SecretExpired(ctx context.Context, principalID, secret string) (bool, error) {
	creds, err := d.st.ListCredentials(ctx, principalID)
	if err != nil {
		return false, err
	}
	return secretExpired(creds, secret, d.now()), nil
}

func secretExpired(creds []store.Credential, secret string, now time.Time) bool {
	for _, c := range creds {
		if c.Type == store.CredentialPassword && verifySecretHash(c.SecretHash, secret) {
			return !validAt(c, now)
		}
	}
	return false
}

// Certificates returns the principal's certificate credentials valid now.
func (d *Directory) Certificates(ctx context.Context, principalID string) ([]store.Credential, error) {
	creds, err := d.st.ListCredentials(ctx, principalID)
	if err != nil {
		return nil, err
	}
	return validCertificates(creds, d.now()), nil
}

func validCertificates(creds []store.Credential, now time.Time) []store.Credential {
	var out []store.Credential
	for _, c := range creds {
		if c.Type == store.CredentialCertificate && validAt(c, now) {
			out = append(out, c)
		}
	}
	return out
}

// AppRoles returns the values of the app roles principalID holds on resource.
func (d *Directory) AppRoles(ctx context.Context, principalID string, resource store.ServicePrincipal) ([]string, error) {
	if len(resource.AppRoles) == 0 {
		return nil, nil
	}
	grants, err := d.st.ListAppRoleAssignments(ctx, principalID, resource.ObjectID)
	if err != nil {
		return nil, err
	}
	var roles []string
	for _, g := range grants {
		for _, r := range resource.AppRoles {
			if strings.EqualFold(r.ID, g.AppRoleID) {
				roles = append(roles, r.Value)
			}
		}
	}
	return roles, nil
}

// ApplicationSpec describes a new application registration.
type ApplicationSpec struct {
	DisplayName        string
	IdentifierURIs     []string
	AccessTokenVersion int
	AppRoles           []store.AppRole
	RedirectURIs       store.RedirectURIs
	// OwnerUserID, when set, is the signed-in member registering the application, who becomes
	// its owner, as in Entra.
	OwnerUserID string
}

// CreateApplication registers an application and its service principal with fresh ids.
func (d *Directory) CreateApplication(ctx context.Context, tenantID string, spec ApplicationSpec) (store.ServicePrincipal, error) {
	if err := CheckDisplayName(spec.DisplayName); err != nil {
		return store.ServicePrincipal{}, err
	}
	if spec.AccessTokenVersion != 0 && spec.AccessTokenVersion != 1 && spec.AccessTokenVersion != 2 {
		return store.ServicePrincipal{}, &InputError{fmt.Sprintf("requestedAccessTokenVersion must be 1 or 2, not %d", spec.AccessTokenVersion)}
	}
	if err := d.CheckIdentifierURIs(ctx, tenantID, "", spec.IdentifierURIs); err != nil {
		return store.ServicePrincipal{}, err
	}
	if err := CheckRedirectURIs(spec.RedirectURIs); err != nil {
		return store.ServicePrincipal{}, err
	}
	if err := CheckAppRoles(spec.AppRoles); err != nil {
		return store.ServicePrincipal{}, err
	}
	for i := range spec.AppRoles {
		if spec.AppRoles[i].ID == "" {
			spec.AppRoles[i].ID = uuid.NewString()
		}
	}
	sp := store.ServicePrincipal{
		ObjectID:           uuid.NewString(),
		AppID:              uuid.NewString(),
		TenantID:           tenantID,
		Kind:               store.KindApplication,
		DisplayName:        spec.DisplayName,
		IdentifierURIs:     spec.IdentifierURIs,
		AccessTokenVersion: spec.AccessTokenVersion,
		AppRoles:           spec.AppRoles,
		RedirectURIs:       spec.RedirectURIs,
		CreatedAt:          d.now(),
	}
	if err := d.st.CreatePrincipal(ctx, sp, nil); err != nil {
		if errors.Is(err, store.ErrConflict) {
			return store.ServicePrincipal{}, &InputError{"an identifier URI of this application is already used by another application in the tenant"}
		}
		return store.ServicePrincipal{}, fmt.Errorf("create application %q: %w", spec.DisplayName, err)
	}
	if spec.OwnerUserID != "" {
		err := d.st.AddOwner(ctx, store.PrincipalOwner{PrincipalID: sp.ObjectID, OwnerID: spec.OwnerUserID, OwnerType: store.MemberUser, CreatedAt: sp.CreatedAt})
		if err != nil {
			// Not acknowledged: take the application back rather than leave it without its owner.
			if derr := d.st.DeletePrincipal(context.WithoutCancel(ctx), sp.ObjectID); derr != nil {
				err = errors.Join(err, derr)
			}
			return store.ServicePrincipal{}, fmt.Errorf("make %s the owner of application %q: %w", spec.OwnerUserID, spec.DisplayName, err)
		}
	}
	return sp, nil
}

// CreateManagedIdentity creates the service principal of a managed identity that stands for the
// ARM resource resourceID (a user-assigned identity, or the resource of a system-assigned one).
func (d *Directory) CreateManagedIdentity(ctx context.Context, tenantID, displayName, resourceID string) (store.ServicePrincipal, error) {
	sp := store.ServicePrincipal{
		ObjectID:         uuid.NewString(),
		AppID:            uuid.NewString(),
		TenantID:         tenantID,
		Kind:             store.KindManagedIdentity,
		DisplayName:      displayName,
		AlternativeNames: []string{resourceID},
		CreatedAt:        d.now(),
	}
	if err := d.st.CreatePrincipal(ctx, sp, nil); err != nil {
		return store.ServicePrincipal{}, fmt.Errorf("create managed identity %s: %w", resourceID, err)
	}
	return sp, nil
}

// NewManagedIdentityPrincipal returns, without storing it, the service principal of a managed
// identity that stands for the ARM resource resourceID: fresh object and app ids, kind
// ManagedIdentity. The control plane writes it in the same transaction as the resource that owns
// it (store.Resources.PutResource), so that neither can exist without the other.
func NewManagedIdentityPrincipal(tenantID, displayName, resourceID string) store.ServicePrincipal {
	return store.ServicePrincipal{
		ObjectID:         uuid.NewString(),
		AppID:            uuid.NewString(),
		TenantID:         tenantID,
		Kind:             store.KindManagedIdentity,
		DisplayName:      displayName,
		AlternativeNames: []string{resourceID},
		CreatedAt:        time.Now().UTC(),
	}
}

// PasswordCredential is a new client secret. SecretText is shown once and never stored.
type PasswordCredential struct {
	store.Credential
	SecretText string
}

// AddPassword adds a client secret to an application. lifetime 0 means the default.
func (d *Directory) AddPassword(ctx context.Context, principalID, displayName string, lifetime time.Duration) (PasswordCredential, error) {
	sp, err := d.st.GetPrincipal(ctx, principalID)
	if err != nil {
		return PasswordCredential{}, err
	}
	if sp.Kind != store.KindApplication || sp.Builtin {
		return PasswordCredential{}, &InputError{"client secrets can only be added to applications you registered"}
	}
	if lifetime <= 0 {
		lifetime = d.opts.SecretLifetime
	}
	secret := newSecret()
	now := d.now()
	c := store.Credential{
		KeyID:       uuid.NewString(),
		PrincipalID: principalID,
		Type:        store.CredentialPassword,
		DisplayName: displayName,
		Hint:        secret[:3],
		SecretHash:  hashSecret(secret),
		StartsAt:    now,
		ExpiresAt:   now.Add(lifetime),
	}
	if err := d.st.AddCredential(ctx, c); err != nil {
		return PasswordCredential{}, fmt.Errorf("add password to %s: %w", principalID, err)
	}
	return PasswordCredential{Credential: c, SecretText: secret}, nil
}

// AddCertificate registers the public certificate (DER) of an application credential.
func (d *Directory) AddCertificate(ctx context.Context, principalID, displayName string, der []byte) (store.Credential, error) {
	sp, err := d.st.GetPrincipal(ctx, principalID)
	if err != nil {
		return store.Credential{}, err
	}
	if sp.Kind != store.KindApplication || sp.Builtin {
		return store.Credential{}, &InputError{"certificates can only be added to applications you registered"}
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return store.Credential{}, &InputError{"the key credential is not a valid X.509 certificate: " + err.Error()}
	}
	sum := sha1.Sum(der)
	if displayName == "" {
		displayName = cert.Subject.String()
	}
	c := store.Credential{
		KeyID:       uuid.NewString(),
		PrincipalID: principalID,
		Type:        store.CredentialCertificate,
		DisplayName: displayName,
		Certificate: der,
		Thumbprint:  strings.ToUpper(hex.EncodeToString(sum[:])),
		StartsAt:    cert.NotBefore.UTC(),
		ExpiresAt:   cert.NotAfter.UTC(),
	}
	if err := d.st.AddCredential(ctx, c); err != nil {
		return store.Credential{}, fmt.Errorf("add certificate to %s: %w", principalID, err)
	}
	return c, nil
}

// RemoveCredential deletes one credential of an application.
func (d *Directory) RemoveCredential(ctx context.Context, principalID, keyID string) error {
	return d.st.DeleteCredential(ctx, principalID, keyID)
}

// ResetPasswords replaces every client secret of an application with one new secret, as
// `az ad app credential reset` does without --append.
func (d *Directory) ResetPasswords(ctx context.Context, principalID, displayName string, lifetime time.Duration) (PasswordCredential, error) {
	creds, err := d.st.ListCredentials(ctx, principalID)
	if err != nil {
		return PasswordCredential{}, err
	}
	pc, err := d.AddPassword(ctx, principalID, displayName, lifetime)
	if err != nil {
		return PasswordCredential{}, err
	}
	for _, c := range creds {
		if c.Type == store.CredentialPassword {
			if err := d.st.DeleteCredential(ctx, principalID, c.KeyID); err != nil && !errors.Is(err, store.ErrNotFound) {
				return PasswordCredential{}, fmt.Errorf("remove old secret %s: %w", c.KeyID, err)
			}
		}
	}
	return pc, nil
}

// GrantAppRole gives principalID the app role named roleValue (or with that id) on resource.
func (d *Directory) GrantAppRole(ctx context.Context, principalID string, resource store.ServicePrincipal, role string) (store.AppRoleAssignment, error) {
	for _, r := range resource.AppRoles {
		if strings.EqualFold(r.Value, role) || strings.EqualFold(r.ID, role) {
			a := store.AppRoleAssignment{ID: uuid.NewString(), PrincipalID: principalID, ResourceID: resource.ObjectID, AppRoleID: r.ID, CreatedAt: d.now()}
			if err := d.st.CreateAppRoleAssignment(ctx, a); err != nil {
				return store.AppRoleAssignment{}, fmt.Errorf("grant %s on %s: %w", r.Value, resource.DisplayName, err)
			}
			return a, nil
		}
	}
	return store.AppRoleAssignment{}, &InputError{fmt.Sprintf("resource %s (%s) defines no app role %q", resource.DisplayName, resource.AppID, role)}
}

// DeletePrincipal removes an application or managed identity principal. First-party resources
// cannot be deleted.
func (d *Directory) DeletePrincipal(ctx context.Context, objectID string) error {
	sp, err := d.st.GetPrincipal(ctx, objectID)
	if err != nil {
		return err
	}
	if sp.Builtin {
		return &InputError{fmt.Sprintf("%s is a first-party resource and cannot be deleted", sp.DisplayName)}
	}
	return d.st.DeletePrincipal(ctx, objectID)
}

// InputError is a refusal caused by the caller's input; endpoints turn it into their 400 shape.
type InputError struct{ Message string }

func (e *InputError) Error() string { return e.Message }

func validAt(c store.Credential, t time.Time) bool {
	return !t.Before(c.StartsAt.Add(-5*time.Minute)) && t.Before(c.ExpiresAt)
}

// App role limits: Graph documents the value's (https://learn.microsoft.com/graph/api/resources/approle:
// at most 120 characters of 0-9, A-Z, a-z and the punctuation below, no space, not starting with
// '.'); it documents none for displayName, which mint bounds as other display names (256).
const (
	maxAppRoleValueLength = 120
	appRoleValuePunct     = ":!#$%&'()*+,-./;<=>?@[]^_`{|}~"
	maxAppRoles           = 1200 // an application manifest's practical bound; mint's own
)

// CheckAppRoles refuses app roles Graph would: a value missing, too long or with a character
// outside its set, a display name longer than a display name may be, an id that is not a GUID,
// and two roles with one value or one id.
func CheckAppRoles(roles []store.AppRole) error {
	if len(roles) > maxAppRoles {
		return &InputError{fmt.Sprintf("an application may define at most %d app roles, not %d", maxAppRoles, len(roles))}
	}
	values, ids := map[string]bool{}, map[string]bool{}
	for _, r := range roles {
		if err := checkAppRoleValue(r.Value); err != nil {
			return err
		}
		if n := utf8.RuneCountInString(r.DisplayName); n > MaxDisplayNameLength {
			return &InputError{fmt.Sprintf("the displayName of app role '%s' is %d characters long; the limit is %d.", r.Value, n, MaxDisplayNameLength)}
		}
		if r.ID != "" {
			if _, err := uuid.Parse(r.ID); err != nil || len(r.ID) != 36 {
				return &InputError{fmt.Sprintf("the id of app role '%s' must be a GUID.", r.Value)}
			}
			if ids[strings.ToLower(r.ID)] {
				return &InputError{fmt.Sprintf("two app roles have the id %s.", r.ID)}
			}
			ids[strings.ToLower(r.ID)] = true
		}
		if values[r.Value] {
			return &InputError{fmt.Sprintf("two app roles have the value '%s'.", r.Value)}
		}
		values[r.Value] = true
	}
	return nil
}

func checkAppRoleValue(v string) error {
	switch {
	case v == "":
		return &InputError{"every app role needs a value"}
	case len(v) > maxAppRoleValueLength:
		return &InputError{fmt.Sprintf("an app role value is at most %d characters; '%s...' has %d.", maxAppRoleValueLength, strings.ToValidUTF8(v[:40], "?"), len(v))}
	case v[0] == '.':
		return &InputError{fmt.Sprintf("the app role value '%s' may not start with '.'.", v)}
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || strings.IndexByte(appRoleValuePunct, c) >= 0) {
			return &InputError{fmt.Sprintf("the app role value '%s' has a character Graph does not allow (letters, digits and %s only; no spaces).",
				strings.ToValidUTF8(v, "?"), appRoleValuePunct)}
		}
	}
	return nil
}

// MaxDisplayNameLength is Graph's limit on an application's or service principal's displayName
// (256 characters).
const MaxDisplayNameLength = 256

// CheckDisplayName refuses an empty display name and one longer than Graph allows.
func CheckDisplayName(name string) error {
	if strings.TrimSpace(name) == "" {
		return &InputError{"displayName is required"}
	}
	if n := utf8.RuneCountInString(name); n > MaxDisplayNameLength {
		return &InputError{fmt.Sprintf("displayName is %d characters long; the limit is %d.", n, MaxDisplayNameLength)}
	}
	return nil
}

// reservedIdentifierURIs are the identifier URIs Entra keeps for itself: the audiences of
// workload identity federation's token exchange (public cloud, US Government, China). An
// application holding one would answer to every workload token with the default audience.
var reservedIdentifierURIs = []string{"api://AzureADTokenExchange", "api://AzureADTokenExchangeUSGov", "api://AzureADTokenExchangeChina"}

// NormalizeIdentifierURI is the form identifier URIs are compared in, as Entra compares them:
// case-insensitively and without a trailing slash.
func NormalizeIdentifierURI(u string) string { return strings.ToLower(strings.TrimRight(u, "/")) }

// CheckIdentifierURIs validates the identifier URIs an application (objectID; "" for a new one)
// is to have: well-formed, not reserved, not repeated, and not another principal's in the tenant
// (compared with NormalizeIdentifierURI), each refusal an *InputError with Graph's message.
// "api://dup" and "API://DUP/" are the same URI.
func (d *Directory) CheckIdentifierURIs(ctx context.Context, tenantID, objectID string, uris []string) error {
	seen := map[string]bool{}
	for _, u := range uris {
		if err := validIdentifierURI(u); err != nil {
			return err
		}
		n := NormalizeIdentifierURI(u)
		for _, r := range reservedIdentifierURIs {
			if n == strings.ToLower(r) {
				return &InputError{fmt.Sprintf("The identifier URI '%s' is reserved: Microsoft Entra ID uses it as the audience of workload identity federation's token exchange.", u)}
			}
		}
		if seen[n] {
			return &InputError{identifierURIConflict}
		}
		seen[n] = true
		for _, candidate := range []string{strings.TrimRight(u, "/"), strings.TrimRight(u, "/") + "/"} {
			sp, err := d.st.GetPrincipalByIdentifierURI(ctx, tenantID, candidate)
			switch {
			case errors.Is(err, store.ErrNotFound):
			case err != nil:
				return fmt.Errorf("check identifier URI %q: %w", u, err)
			case sp.ObjectID != objectID:
				return &InputError{identifierURIConflict}
			}
		}
	}
	return nil
}

// identifierURIConflict is Graph's message for an identifier URI already in use.
const identifierURIConflict = "Another object with the same value for property identifierUris already exists."

func validIdentifierURI(u string) error {
	if len(u) == 0 || len(u) > 255 {
		return &InputError{fmt.Sprintf("identifier URI %q must be 1 to 255 characters", u)}
	}
	if !strings.Contains(u, "://") && !strings.HasPrefix(u, "api:") && !strings.HasPrefix(u, "urn:") {
		return &InputError{fmt.Sprintf("identifier URI %q must be an absolute URI such as api://<appId> or https://contoso.example/api", u)}
	}
	return nil
}

func trimSlash(s string) string { return strings.TrimSuffix(strings.TrimSpace(s), "/") }

// Client secrets look like Entra's: 40 characters, with the "Q~" marker at positions 4–5.
const secretAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-.~"

func newSecret() string {
	b := make([]byte, 40)
	r := make([]byte, 40)
	if _, err := rand.Read(r); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	for i := range b {
		b[i] = secretAlphabet[int(r[i])%len(secretAlphabet)]
	}
	b[3], b[4] = 'Q', '~'
	return string(b)
}

// Secrets are 38+ random characters, so a salted SHA-256 is as strong as a slow KDF here and
// keeps the token path fast. Format: "s256$" + hex(salt) + "$" + hex(HMAC-SHA256(salt, secret)).
const hashPrefix = "s256$"

func hashSecret(secret string) []byte {
	salt := make([]byte, 16)
	if _, err := rand.Read(salt); err != nil {
		panic(err)
	}
	return []byte(hashPrefix + hex.EncodeToString(salt) + "$" + hex.EncodeToString(mac(salt, secret)))
}

func verifySecretHash(stored []byte, secret string) bool {
	s, ok := strings.CutPrefix(string(stored), hashPrefix)
	if !ok {
		return false
	}
	saltHex, sumHex, ok := strings.Cut(s, "$")
	if !ok {
		return false
	}
	salt, err1 := hex.DecodeString(saltHex)
	sum, err2 := hex.DecodeString(sumHex)
	if err1 != nil || err2 != nil {
		return false
	}
	return hmac.Equal(sum, mac(salt, secret))
}

func mac(salt []byte, secret string) []byte {
	h := hmac.New(sha256.New, salt)
	h.Write([]byte(secret))
	return h.Sum(nil)
}
