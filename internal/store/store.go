// Package store defines mint's persistent state: one small interface per aggregate, the records
// they hold, and the sentinel errors every implementation returns. The SQLite (sqlite/) and
// PostgreSQL (postgres/) implementations share one SQL layer (internal/sqlstore/, each query
// written once, with a small dialect for what differs) and must both pass the conformance suite
// in storetest/.
//
// The package holds no SQL and no business rules: generating ids, hashing secrets and deciding
// who may do what belong to the packages above it (directory, keys, sts, rbac).
package store

import (
	"context"
	"errors"
	"time"
)

var (
	// ErrNotFound is returned when the record asked for does not exist.
	ErrNotFound = errors.New("not found")
	// ErrConflict is returned when a create would duplicate a unique key (id, appId, identifier
	// URI, jti ...).
	ErrConflict = errors.New("conflict")
	// ErrLimitReached is returned when a create would exceed a per-owner limit (20 federated
	// identity credentials per application).
	ErrLimitReached = errors.New("limit reached")
	// ErrUnavailable is wrapped by the errors of a database that cannot serve now but may later:
	// a full disk, a lock not granted in time, a lost or refused connection, an administrator's
	// shutdown, a standby that refuses writes. The APIs answer it 503 with Retry-After
	// (UnavailableRetryAfter) in their own error shape, never 500: the request may be retried.
	ErrUnavailable = errors.New("store unavailable")
)

// UnavailableRetryAfter is the wait, in whole seconds for a Retry-After header, the APIs suggest
// when the store is unavailable: short enough that the Azure SDKs' retries (3 or more, up to a
// minute apart) ride out a database restart.
const UnavailableRetryAfter = "5"

// Store is everything mint keeps. Implementations are safe for concurrent use, and every method
// that returns without error has made its write durable.
type Store interface {
	Tenants
	Subscriptions
	Principals
	Credentials
	FederatedCredentials
	AppRoleAssignments
	SigningKeys
	SignIns
	Assertions
	Settings
	ControlPlane
	Vaults
	Users
	Groups
	DeviceCodes
	PortalSessions
	Revocations
	Owners
	Close() error
}

// Tenant is an Entra-like directory.
type Tenant struct {
	ID            string // GUID, lower case
	DisplayName   string
	DefaultDomain string // e.g. "mint.localhost"; tenants may be addressed by it
	CreatedAt     time.Time
}

type Tenants interface {
	CreateTenant(ctx context.Context, t Tenant) error
	// GetTenant finds a tenant by id or by default domain, case-insensitively.
	GetTenant(ctx context.Context, idOrDomain string) (Tenant, error)
	ListTenants(ctx context.Context) ([]Tenant, error)
}

type Subscription struct {
	ID          string // GUID, lower case
	TenantID    string
	DisplayName string
	State       string // "Enabled"
	CreatedAt   time.Time
}

type Subscriptions interface {
	CreateSubscription(ctx context.Context, s Subscription) error
	GetSubscription(ctx context.Context, id string) (Subscription, error)
	ListSubscriptions(ctx context.Context, tenantID string) ([]Subscription, error)
}

// PrincipalKind is Entra's servicePrincipalType.
type PrincipalKind string

const (
	KindApplication     PrincipalKind = "Application"
	KindManagedIdentity PrincipalKind = "ManagedIdentity"
)

// AppRole is a role a resource application defines (appRoles in the app manifest); granted roles
// appear in the `roles` claim of tokens issued for that resource.
type AppRole struct {
	ID          string `json:"id"`
	Value       string `json:"value"`
	DisplayName string `json:"displayName,omitempty"`
}

// ServicePrincipal is an application's or a managed identity's principal. mint does not split
// Entra's application object from its service principal: one record carries both ids.
type ServicePrincipal struct {
	ObjectID    string // principalId, the token's oid/sub
	AppID       string // clientId, the token's appid/azp
	TenantID    string
	Kind        PrincipalKind
	DisplayName string
	// IdentifierURIs are the app ID URIs under which the principal is a token audience
	// ("https://vault.azure.net"). Unique across the tenant, compared case-insensitively.
	IdentifierURIs []string
	// AccessTokenVersion is the version of tokens issued *for* this resource (1 or 2), as
	// api.requestedAccessTokenVersion in the manifest. Zero means 1.
	AccessTokenVersion int
	AppRoles           []AppRole
	// AlternativeNames: for a managed identity, the ARM id it stands for (xms_mirid).
	AlternativeNames []string
	// Builtin marks the pre-registered well-known resources; they cannot be deleted.
	Builtin bool
	// RedirectURIs are an application's reply URLs by platform, as Graph's application has
	// them (web, spa, publicClient), with isFallbackPublicClient.
	RedirectURIs RedirectURIs
	CreatedAt    time.Time
}

// RedirectURIs are the reply URLs of an application, by platform: web (a confidential client
// redeems the code with its credential), spa (redeemed cross-origin, no credential) and
// publicClient (mobile and desktop apps, no credential). FallbackPublicClient makes flows that
// name no redirect URI (device code, password) treat the app as a public client.
type RedirectURIs struct {
	Web                  []string `json:"web,omitempty"`
	SPA                  []string `json:"spa,omitempty"`
	PublicClient         []string `json:"publicClient,omitempty"`
	FallbackPublicClient bool     `json:"fallbackPublicClient,omitempty"`
	// SignInAudience is Graph's signInAudience, which the redirect URI rules depend on; ""
	// means AzureADMyOrg (single tenant), the default.
	SignInAudience string `json:"signInAudience,omitempty"`
}

type Principals interface {
	// CreatePrincipal stores the principal and its initial credentials in one transaction.
	// ErrConflict if the object id, app id or an identifier URI is taken.
	CreatePrincipal(ctx context.Context, sp ServicePrincipal, creds []Credential) error
	GetPrincipal(ctx context.Context, objectID string) (ServicePrincipal, error)
	GetPrincipalByAppID(ctx context.Context, tenantID, appID string) (ServicePrincipal, error)
	// GetPrincipalByIdentifierURI matches an identifier URI case-insensitively.
	GetPrincipalByIdentifierURI(ctx context.Context, tenantID, uri string) (ServicePrincipal, error)
	// ListPrincipals lists the tenant's principals ordered by creation; kind "" means all.
	ListPrincipals(ctx context.Context, tenantID string, kind PrincipalKind) ([]ServicePrincipal, error)
	// ListPrincipalsPage lists the principals f selects, in ListPrincipals' order, from indexes:
	// one page of a Graph list without reading the tenant's other principals.
	ListPrincipalsPage(ctx context.Context, f PrincipalFilter) ([]ServicePrincipal, error)
	// UpdatePrincipal replaces display name, identifier URIs, app roles, token version,
	// alternative names and redirect URIs.
	UpdatePrincipal(ctx context.Context, sp ServicePrincipal) error
	// DeletePrincipal removes the principal, its credentials and its app role assignments.
	DeletePrincipal(ctx context.Context, objectID string) error
}

type CredentialType string

const (
	CredentialPassword    CredentialType = "Password"           // client secret
	CredentialCertificate CredentialType = "AsymmetricX509Cert" // public certificate
)

// Credential is an application credential. A password is kept only as a hash; a certificate only
// as its public DER.
type Credential struct {
	KeyID       string // GUID
	PrincipalID string // owning principal's object id
	Type        CredentialType
	DisplayName string
	Hint        string // first characters of a secret, as Graph's passwordCredential.hint
	SecretHash  []byte // salted hash of a secret; format owned by the directory package
	Certificate []byte // DER of a certificate
	Thumbprint  string // upper-case hex SHA-1 of Certificate
	StartsAt    time.Time
	ExpiresAt   time.Time
}

type Credentials interface {
	AddCredential(ctx context.Context, c Credential) error
	// ListCredentials returns a principal's credentials, oldest first.
	ListCredentials(ctx context.Context, principalID string) ([]Credential, error)
	DeleteCredential(ctx context.Context, principalID, keyID string) error
}

// FederatedCredential is an application's federated identity credential (Graph's
// federatedIdentityCredential): the application trusts tokens that Issuer issues about Subject
// for one of Audiences. A user-assigned identity's credentials are ARM child resources instead.
type FederatedCredential struct {
	ID          string // GUID
	PrincipalID string // the application's object id
	Name        string // unique per application, compared case-insensitively; never changes
	Issuer      string
	Subject     string // issuer and subject are unique per application, compared exactly
	// ClaimsMatchingExpression replaces Subject (then "") on a flexible credential; issuer and
	// expression are unique per application.
	ClaimsMatchingExpression string
	Audiences                []string
	Description              string
	CreatedAt                time.Time
}

type FederatedCredentials interface {
	// AddFederatedCredential stores c: ErrLimitReached if the application already has limit
	// credentials, ErrConflict if one has the same name or the same issuer and subject,
	// ErrNotFound if the principal does not exist. The limit holds across server replicas.
	AddFederatedCredential(ctx context.Context, c FederatedCredential, limit int) error
	// ListFederatedCredentials returns an application's credentials, oldest first.
	ListFederatedCredentials(ctx context.Context, principalID string) ([]FederatedCredential, error)
	// UpdateFederatedCredential replaces issuer, subject, expression, audiences and description of the
	// credential (PrincipalID, ID). ErrNotFound, or ErrConflict on a duplicate issuer and subject.
	UpdateFederatedCredential(ctx context.Context, c FederatedCredential) error
	DeleteFederatedCredential(ctx context.Context, principalID, id string) error
}

// AppRoleAssignment grants a principal one app role of a resource principal.
type AppRoleAssignment struct {
	ID          string
	PrincipalID string // who holds the role
	ResourceID  string // object id of the resource principal defining the role
	AppRoleID   string
	CreatedAt   time.Time
}

type AppRoleAssignments interface {
	CreateAppRoleAssignment(ctx context.Context, a AppRoleAssignment) error
	// ListAppRoleAssignments lists what principalID holds; resourceID "" means on every resource.
	ListAppRoleAssignments(ctx context.Context, principalID, resourceID string) ([]AppRoleAssignment, error)
	DeleteAppRoleAssignment(ctx context.Context, id string) error
}

// SigningKey is a token-signing key. It is published in JWKS from CreatedAt, signs from
// ActivateAt until a newer key activates, and is kept until every token it signed has expired.
type SigningKey struct {
	KID         string
	CreatedAt   time.Time
	ActivateAt  time.Time
	SealedKey   []byte // PKCS#8 private key sealed under the key-encryption key
	Certificate []byte // DER of the self-signed certificate published as x5c
}

type SigningKeys interface {
	CreateSigningKey(ctx context.Context, k SigningKey) error
	// ListSigningKeys returns every key, ordered by ActivateAt ascending.
	ListSigningKeys(ctx context.Context) ([]SigningKey, error)
	SetSigningKeyActivation(ctx context.Context, kid string, activateAt time.Time) error
	DeleteSigningKey(ctx context.Context, kid string) error
}

// SignIn is one sign-in log entry: a token issued or refused. It never holds a secret or a token.
type SignIn struct {
	ID            string
	Time          time.Time
	TenantID      string
	PrincipalID   string // object id, when the client was identified
	AppID         string // client id as presented
	Resource      string // audience asked for
	Grant         string // client_credentials, client_assertion, federated, managed_identity ...
	Result        string // "success" or "failure"
	ErrorCode     string // AADSTS code of a refusal
	Reason        string // why, in words a user can act on
	CorrelationID string
	TokenID       string // uti of an issued token
	// ResourceID is the ARM id of the resource a managed-identity token was issued for (xms_az_rid).
	ResourceID string
}

// SignInFilter narrows ListSignIns. Zero fields do not filter. Limit 0 means 100.
type SignInFilter struct {
	TenantID    string
	PrincipalID string
	AppID       string
	Since       time.Time
	Until       time.Time
	Limit       int
}

type SignIns interface {
	// RecordSignIns appends entries in one transaction (the sign-in log is written in batches).
	RecordSignIns(ctx context.Context, entries []SignIn) error
	// ListSignIns returns entries newest first.
	ListSignIns(ctx context.Context, f SignInFilter) ([]SignIn, error)
	// PurgeSignIns deletes at most limit entries older than before (oldest first) and says how
	// many it deleted: a retention purge calls it until it deletes fewer than limit, so that no
	// single statement holds a long lock. Concurrent purges are harmless.
	PurgeSignIns(ctx context.Context, before time.Time, limit int) (int, error)
}

// Assertions remembers client-assertion ids (jti) so that an assertion is used once.
type Assertions interface {
	// UseAssertion records key until expiresAt; ErrConflict if it is already recorded and not
	// yet expired. Expired records may be removed at any time.
	UseAssertion(ctx context.Context, key string, expiresAt time.Time) error
}

// Settings is a small key/value table for installation-wide facts (default tenant, bootstrap
// state). Not for secrets.
type Settings interface {
	GetSetting(ctx context.Context, key string) (string, error)
	PutSetting(ctx context.Context, key, value string) error
}
