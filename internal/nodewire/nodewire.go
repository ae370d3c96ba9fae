// Package nodewire is the vocabulary a node agent and the mint server share on the wire: the
// broker grant (its grant type, form parameters and refusal codes) and the workload-token
// endpoint (its path and JSON shapes). Both sides import it, so the agent needs none of the
// server's packages (sts, federation, store, authz, rbac) to speak to it. It holds no logic.
package nodewire

const (
	// GrantManagedIdentity is mint's broker grant: a node agent, authenticated with its own
	// credential, asks for a token of a managed identity of a resource it hosts.
	GrantManagedIdentity = "urn:mint:params:oauth:grant-type:managed-identity"
	// AssertionTypeJWTBearer is the client_assertion_type of private_key_jwt and federated
	// assertions (RFC 7523), which the node signs in with.
	AssertionTypeJWTBearer = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

	// The broker grant's form parameters besides OAuth's own (grant_type, resource, client_*):
	// the resource the workload runs as, and at most one selector of its identity.
	ParamHostResourceID = "mi_host_resource_id"
	ParamClientID       = "mi_client_id"
	ParamObjectID       = "mi_object_id"
	ParamResourceID     = "mi_res_id"
)

// Codes of the broker grant's refusals, in the token error's error_codes. They are mint's own
// (Entra has no broker grant), in a range Entra does not use, so that a node agent can turn each
// into its dialect's error.
const (
	CodeIdentityNotFound     = 9900001 // the selected identity is not the resource's
	CodeMultipleIdentities   = 9900002 // several user-assigned identities, none selected
	CodeNodeNotAllowed       = 9900003 // the node holds no broker role over the resource
	CodeHostResourceNotFound = 9900004 // the resource the workload runs as does not exist
)

// WorkloadTokensPath is where the server's workload-token endpoint is mounted: a node (or any
// caller with the right role) asks there for a token mint issues to a workload as its own OIDC
// issuer, for federation.
const WorkloadTokensPath = "/mint/federation/workloadTokens"

// WorkloadTokenRequest asks for a workload token.
type WorkloadTokenRequest struct {
	ResourceID string `json:"resourceId"`
	Audience   string `json:"audience,omitempty"` // default api://AzureADTokenExchange
}

// WorkloadToken answers it.
type WorkloadToken struct {
	Token     string `json:"token"`
	Issuer    string `json:"issuer"`
	Subject   string `json:"subject"`
	Audience  string `json:"audience"`
	TenantID  string `json:"tenantId"`
	ExpiresOn int64  `json:"expiresOn"` // unix seconds
}

// RevocationsPath is the server's revocation feed for node agents: a long poll (GET, signed in
// as the node with its management token) that answers as soon as something after the agent's
// cursor is revoked, or after the wait with nothing.
const RevocationsPath = "/mint/nodes/revocations"

// The feed's query parameters: the agent's cursor (absent when it has none yet) and how long the
// server may hold the request (a Go duration; the server caps it).
const (
	ParamAfter = "after"
	ParamWait  = "wait"
)

// Revocations answers a poll of the feed. The agent drops every cached token that an entry
// names, then polls again with Cursor. Reset says the agent's cursor is unknown here (its
// first poll, or entries it missed were purged): it must drop everything it has cached, since
// anything may have been revoked.
type Revocations struct {
	Cursor      int64        `json:"cursor"`
	Reset       bool         `json:"reset,omitempty"`
	Revocations []Revocation `json:"revocations"`
}

// Revocation names what no longer stands: the tokens of workloads running as ResourceID (or of
// the user-assigned identity ResourceID), the tokens of the principal PrincipalID (an identity's
// oid), and when PrincipalID is the node's own, every token the node holds (it may have lost its
// broker role).
type Revocation struct {
	ResourceID  string `json:"resourceId,omitempty"`
	PrincipalID string `json:"principalId,omitempty"`
}
