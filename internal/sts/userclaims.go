package sts

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"strings"
	"time"

	"github.com/mint-id/mint/internal/store"
)

// groupsOverage is Entra's limit on the groups claim of a JWT: above it the claim is replaced by
// a pointer to Graph (_claim_names / _claim_sources).
// https://learn.microsoft.com/entra/identity-platform/access-token-claims-reference#groups-overage-claim
const groupsOverage = 200

// UserClaimsInput is what a person's tokens are built from.
type UserClaimsInput struct {
	BaseURL  string // tokens' issuer host (access tokens: the STS's BaseURL)
	Tenant   store.Tenant
	User     store.User
	ClientID string // the app the person signed in to (appid / azp, and the ID token's aud)
	Resource store.ServicePrincipal
	Audience string   // the resource as requested: a v1 token's aud
	Scp      string   // delegated permissions, space-separated
	AMR      []string // how the person authenticated ("pwd")
	AuthTime time.Time
	// Groups are the person's transitive group ids; nil omits the claim.
	Groups   []string
	IssuedAt time.Time
	Lifetime time.Duration
	TokenID  string
	AIO      string
	// WIDs are the template ids of the person's directory roles (wids); nil omits the claim.
	WIDs []string
	// ClientAuth is how the client authenticated: "0" (or "") public, "1" secret, "2" certificate
	// (appidacr / azpacr).
	ClientAuth string
}

// UserAccessClaims builds a person's access token, in the version the resource takes: v1
// (ARM, Key Vault, Graph) with appid/appidacr, upn and unique_name; v2 with azp/azpacr
// and preferred_username. Pure.
func UserAccessClaims(in UserClaimsInput) Claims {
	c := make(Claims, 28)
	buildUserAccess(in, c)
	return c
}

// userAccessClaims is UserAccessClaims as a claimList, which the signer writes without a map:
// what a refresh-token redemption signs. The list comes from a pool; release returns it once
// signed.
func userAccessClaims(in UserClaimsInput) *claimList {
	c := claimLists.Get().(*claimList)
	buildUserAccess(in, c)
	return c
}

// buildUserAccess writes a person's access-token claims into c: the one definition of them,
// whether they end in a map (UserAccessClaims) or a claimList (the token path).
func buildUserAccess(in UserClaimsInput, c claimSink) {
	iat := in.IssuedAt.Unix()
	c.setInt("iat", iat)
	c.setInt("nbf", iat)
	c.setInt("exp", in.IssuedAt.Add(in.Lifetime).Unix())
	c.setString("aio", in.AIO)
	c.setString("idtyp", "user")
	c.setString("oid", in.User.ObjectID)
	c.setString("sub", pairwiseSubject(in.User.ObjectID, in.Resource.AppID))
	c.setString("tid", in.Tenant.ID)
	c.setString("uti", in.TokenID)
	c.setString("rh", refreshHint(in.Tenant.ID, in.Resource.AppID))
	c.setString("name", in.User.DisplayName)
	c.setString("scp", in.Scp)
	c.setList("amr", append([]string(nil), in.AMR...))
	if TokenVersion(in.Resource) == V2 {
		c.setString("aud", in.Resource.AppID)
		c.setString("iss", in.BaseURL+"/"+in.Tenant.ID+"/v2.0")
		c.setString("azp", in.ClientID)
		c.setString("azpacr", clientAuth(in.ClientAuth))
		c.setString("preferred_username", in.User.UserPrincipalName)
		c.setString("ver", "2.0")
	} else {
		c.setString("aud", in.Audience)
		c.setString("iss", in.BaseURL+"/"+in.Tenant.ID+"/")
		c.setString("acr", "1")
		c.setString("appid", in.ClientID)
		c.setString("appidacr", clientAuth(in.ClientAuth))
		c.setString("upn", in.User.UserPrincipalName)
		c.setString("unique_name", in.User.UserPrincipalName)
		c.setString("ver", "1.0")
	}
	if in.WIDs != nil {
		c.setList("wids", append([]string(nil), in.WIDs...))
	}
	if in.Groups != nil {
		addGroups(c, in.Groups, in.BaseURL, in.Tenant.ID, in.User.ObjectID)
	}
}

func clientAuth(acr string) string {
	if acr == "" {
		return "0"
	}
	return acr
}

// addGroups sets groups, or Entra's overage pointer when there are too many.
func addGroups(c claimSink, groups []string, baseURL, tenantID, userID string) {
	if len(groups) > groupsOverage {
		c.setValue("_claim_names", map[string]string{"groups": "src1"})
		c.setValue("_claim_sources", map[string]map[string]string{"src1": {"endpoint": "https://graph.windows.net/" + tenantID + "/users/" + userID + "/getMemberObjects"}})
		return
	}
	c.setList("groups", append([]string{}, groups...))
}

// IDTokenInput is what an ID token is built from.
type IDTokenInput struct {
	Issuer   string // v2: https://host/{tid}/v2.0; v1: https://host/{tid}/
	Version  Version
	Tenant   store.Tenant
	User     store.User
	ClientID string
	Nonce    string // copied verbatim; omitted when empty (msal-node refuses an unasked nonce)
	AMR      []string
	AuthTime time.Time
	IssuedAt time.Time
	Lifetime time.Duration
	TokenID  string
	AIO      string
}

// IDTokenClaims builds an ID token: string aud (the client id), numeric exp/iat/nbf, tid, oid,
// name, and preferred_username (v2) or upn and unique_name (v1). Pure.
func IDTokenClaims(in IDTokenInput) Claims {
	iat := in.IssuedAt.Unix()
	c := make(Claims, 20)
	c["aud"] = in.ClientID
	c["iss"] = in.Issuer
	c["iat"], c["nbf"], c["exp"] = iat, iat, in.IssuedAt.Add(in.Lifetime).Unix()
	c["aio"] = in.AIO
	c["name"] = in.User.DisplayName
	c["oid"] = in.User.ObjectID
	c["sub"] = pairwiseSubject(in.User.ObjectID, in.ClientID)
	c["tid"] = in.Tenant.ID
	c["uti"] = in.TokenID
	c["rh"] = refreshHint(in.Tenant.ID, in.ClientID)
	if in.Nonce != "" {
		c["nonce"] = in.Nonce
	}
	if in.Version == V2 {
		c["preferred_username"] = in.User.UserPrincipalName
		c["ver"] = "2.0"
	} else {
		c["upn"] = in.User.UserPrincipalName
		c["unique_name"] = in.User.UserPrincipalName
		c["amr"] = append([]string(nil), in.AMR...)
		c["auth_time"] = in.AuthTime.Unix()
		c["ver"] = "1.0"
	}
	return c
}

// pairwiseSubject is Entra's sub: stable for one user and one app, different across apps.
func pairwiseSubject(userID, appID string) string {
	h := sha256.Sum256([]byte(strings.ToLower(userID) + "|" + strings.ToLower(appID)))
	return base64.RawURLEncoding.EncodeToString(h[:])[:43]
}

// ClientInfo is the client_info of a token response: unpadded base64url of
// {"uid":"<user oid>","utid":"<home tenant id>"} (MSAL Go decodes it with RawURLEncoding).
func ClientInfo(userID, tenantID string) string {
	b, _ := json.Marshal(struct {
		UID  string `json:"uid"`
		UTID string `json:"utid"`
	}{userID, tenantID})
	return base64.RawURLEncoding.EncodeToString(b)
}

// delegatedScopes is the scp a first-party client gets on a resource: Entra pre-consents the
// Azure CLI and PowerShell to user_impersonation on Azure's resources and to the directory
// permissions az's "ad" commands use on Microsoft Graph.
func delegatedScopes(resource store.ServicePrincipal) string {
	if strings.EqualFold(resource.AppID, "00000003-0000-0000-c000-000000000000") {
		return "Application.ReadWrite.All AuditLog.Read.All Directory.AccessAsUser.All Group.ReadWrite.All User.ReadWrite.All"
	}
	return "user_impersonation"
}
