package sts

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"time"

	"github.com/google/uuid"

	"github.com/mint-id/mint/internal/bearer"
	"github.com/mint-id/mint/internal/store"
)

// CredentialKind is how the client proved who it is. It sets appidacr/azpacr and the sign-in
// log's grant.
type CredentialKind int

const (
	CredentialSecret          CredentialKind = iota + 1 // client secret: acr "1"
	CredentialCertificate                               // certificate-signed client assertion: acr "2"
	CredentialFederated                                 // federated assertion (workload identity): acr "2"
	CredentialManagedIdentity                           // managed identity, issued by the platform: acr "2"
)

// ACR is the appidacr / azpacr claim: "1" for a secret, "2" for a certificate or assertion.
func (k CredentialKind) ACR() string {
	if k == CredentialSecret {
		return "1"
	}
	return "2"
}

// Grant is the sign-in log's name for the credential.
func (k CredentialKind) Grant() string {
	switch k {
	case CredentialSecret:
		return "client_secret"
	case CredentialCertificate:
		return "client_certificate"
	case CredentialFederated:
		return "federated"
	case CredentialManagedIdentity:
		return "managed_identity"
	}
	return ""
}

// ManagedIdentityClaims are the claims that mark a managed identity's token.
type ManagedIdentityClaims struct {
	// MIResourceID is xms_mirid: the user-assigned identity's ARM id, or for a system-assigned
	// identity the ARM id of its resource.
	MIResourceID string
	// AzResourceID is xms_az_rid: the compute resource using a user-assigned identity; empty
	// (omitted) for a system-assigned one.
	AzResourceID string
}

// ClaimsInput is everything a token's claims are built from.
type ClaimsInput struct {
	BaseURL  string // authority host without trailing slash
	Tenant   store.Tenant
	Client   store.ServicePrincipal // who the token is for (oid, sub, appid/azp)
	Resource store.ServicePrincipal // the audience principal; its AccessTokenVersion picks v1 or v2
	// Audience is the resource exactly as requested: a v1 token's aud, trailing slash and case
	// preserved. v2 tokens use Resource.AppID instead.
	Audience       string
	CredentialKind CredentialKind
	Roles          []string // app roles Client holds on Resource; omitted when empty
	IssuedAt       time.Time
	Lifetime       time.Duration
	// TokenID (uti) and AIO (aio) are opaque per-token values; NewTokenIdentifiers makes them.
	TokenID         string
	AIO             string
	ManagedIdentity *ManagedIdentityClaims // nil for application tokens
}

// Claims is a token's claim set, ready for Signer.Sign.
type Claims map[string]any

// TokenVersion is the version of tokens issued for resource: 2 only if the resource asked for v2
// tokens (accessTokenAcceptedVersion 2), whatever endpoint the client used.
func TokenVersion(resource store.ServicePrincipal) Version {
	if resource.AccessTokenVersion == 2 {
		return V2
	}
	return V1
}

// ClaimsFor builds the claims of an access token, in Entra's shape for the token version the
// resource takes. It is a pure function of its input.
func ClaimsFor(in ClaimsInput) Claims {
	iat := in.IssuedAt.Unix()
	exp := in.IssuedAt.Add(in.Lifetime).Unix()
	c := make(Claims, 24)
	c["iat"] = iat
	c["nbf"] = iat
	c["exp"] = exp
	c["aio"] = in.AIO
	c["idtyp"] = "app"
	c["oid"] = in.Client.ObjectID
	c["sub"] = in.Client.ObjectID
	c["rh"] = refreshHint(in.Tenant.ID, in.Resource.AppID)
	c["tid"] = in.Tenant.ID
	c["uti"] = in.TokenID
	if TokenVersion(in.Resource) == V2 {
		c["aud"] = in.Resource.AppID
		c["iss"] = bearer.V2Issuer(in.Tenant.ID)
		c["azp"] = in.Client.AppID
		c["azpacr"] = in.CredentialKind.ACR()
		c["ver"] = "2.0"
	} else {
		iss := bearer.V1Issuer(in.Tenant.ID)
		c["aud"] = in.Audience
		c["iss"] = iss
		c["idp"] = iss
		c["appid"] = in.Client.AppID
		c["appidacr"] = in.CredentialKind.ACR()
		c["ver"] = "1.0"
	}
	if len(in.Roles) > 0 {
		c["roles"] = append([]string(nil), in.Roles...)
	}
	if !in.Tenant.CreatedAt.IsZero() {
		c["xms_tcdt"] = in.Tenant.CreatedAt.Unix()
	}
	if mi := in.ManagedIdentity; mi != nil {
		if mi.MIResourceID != "" {
			c["xms_mirid"] = mi.MIResourceID
		}
		if mi.AzResourceID != "" {
			c["xms_az_rid"] = mi.AzResourceID
		}
	}
	return c
}

// NewTokenIdentifiers returns a fresh uti (16 random bytes, base64url, like Entra's) and aio
// (opaque, base64) from one read of the system's random source.
func NewTokenIdentifiers() (uti, aio string) {
	var b [40]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on supported platforms
	return base64.RawURLEncoding.EncodeToString(b[:16]), base64.StdEncoding.EncodeToString(b[16:])
}

// refreshHint builds rh the way Entra lays it out: "0." + base64url(3 bytes, tenant id and
// resource app id as little-endian GUIDs, 3 bytes) + ".". Opaque to every client; deterministic.
func refreshHint(tenantID, resourceAppID string) string {
	var b [38]byte
	b[1] = 0x51
	putGUID(b[3:19], tenantID)
	putGUID(b[19:35], resourceAppID)
	b[35] = 0xd0
	return "0." + base64.RawURLEncoding.EncodeToString(b[:]) + "."
}

// putGUID writes id as a .NET (mixed-endian) GUID, or a hash of it when it is not a GUID.
func putGUID(dst []byte, id string) {
	u, err := uuid.Parse(id)
	if err != nil {
		h := sha256.Sum256([]byte(id))
		copy(dst, h[:16])
		return
	}
	dst[0], dst[1], dst[2], dst[3] = u[3], u[2], u[1], u[0]
	dst[4], dst[5] = u[5], u[4]
	dst[6], dst[7] = u[7], u[6]
	copy(dst[8:16], u[8:16])
}
