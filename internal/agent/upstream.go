package agent

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/mint-id/mint/internal/agent/dialect"
)

// Upstream obtains managed-identity tokens from the mint server for a resource this node hosts.
// The implementation (the STS's broker grant, authenticated as this node's principal) must check
// that the node may act for ResourceID and that the selected identity is the resource's
// system-assigned one or a user-assigned one attached to it now. It is called at most once at a
// time per cache key, from a context that carries a timeout but not the workload's cancellation.
type Upstream interface {
	Token(ctx context.Context, req TokenRequest) (Token, error)
}

// UpstreamFunc adapts a function to Upstream.
type UpstreamFunc func(ctx context.Context, req TokenRequest) (Token, error)

// Token calls f.
func (f UpstreamFunc) Token(ctx context.Context, req TokenRequest) (Token, error) { return f(ctx, req) }

// Selector chooses a user-assigned identity; the zero value is the resource's default identity
// (system-assigned, else the only user-assigned one). At most one field is set.
type Selector = dialect.Selector

// TokenRequest asks for a token for an identity of a resource.
type TokenRequest struct {
	ResourceID string   // ARM id of the resource the workload runs as
	Identity   Selector // zero value: the resource's default identity
	Resource   string   // the audience, exactly as the client sent it (v1 resource string)
}

// Token is an access token for a managed identity.
type Token struct {
	AccessToken string
	ClientID    string    // the identity's client (application) id: the response's client_id
	ExpiresOn   time.Time // the token's exp
	NotBefore   time.Time // the token's nbf
	Resource    string    // the audience (informational; responses echo the request)
	// ObjectID and IdentityResourceID (the principal id and, for a user-assigned identity, its
	// ARM id) are optional; Arc responses echo them to confirm a user-assigned selection.
	ObjectID           string
	IdentityResourceID string
}

// UpstreamErrorKind classifies an upstream refusal; each becomes its dialect's error.
type UpstreamErrorKind int

// Upstream refusals.
const (
	// Unavailable: the server could not be reached or failed; cached tokens keep being served.
	Unavailable UpstreamErrorKind = iota
	// IdentityNotFound: the selected identity is not attached to the resource, or the resource
	// has no system-assigned identity (IMDS: 400 "Identity not found").
	IdentityNotFound
	// MultipleIdentities: no selector, no system-assigned identity, several user-assigned ones.
	MultipleIdentities
	// ResourceNotFound: the resource does not exist (any more).
	ResourceNotFound
	// NodeNotAllowed: this node holds no broker role on the resource (403).
	NodeNotAllowed
	// InvalidResource: the audience names no resource application (AADSTS500011).
	InvalidResource
	// Throttled: the server asks the agent to slow down (429 with RetryAfter).
	Throttled
)

var kindNames = [...]string{"Unavailable", "IdentityNotFound", "MultipleIdentities", "ResourceNotFound", "NodeNotAllowed", "InvalidResource", "Throttled"}

func (k UpstreamErrorKind) String() string {
	if int(k) < len(kindNames) && k >= 0 {
		return kindNames[k]
	}
	return fmt.Sprintf("UpstreamErrorKind(%d)", int(k))
}

// UpstreamError is a refusal from upstream. Message says what is missing in words a user can act
// on ("identity <clientId> is not attached to resource <id>"); it reaches the workload in every
// dialect but IMDS, whose bodies are Azure's exact ones.
type UpstreamError struct {
	Kind       UpstreamErrorKind
	Message    string
	RetryAfter time.Duration // Throttled, Unavailable: when to try again, if known
}

func (e *UpstreamError) Error() string {
	if e.Message == "" {
		return "upstream: " + e.Kind.String()
	}
	return "upstream: " + e.Kind.String() + ": " + e.Message
}

// dialectError turns an upstream failure into the dialect's refusal. Errors that are not an
// *UpstreamError (transport failures, timeouts) are Unavailable.
func dialectError(k dialect.Kind, err error, audience string) *dialect.Error {
	var ue *UpstreamError
	if !errors.As(err, &ue) {
		return dialect.Unavailable(k, 1, "")
	}
	switch ue.Kind {
	case IdentityNotFound, ResourceNotFound:
		return dialect.IdentityNotFound(k, ue.Message)
	case MultipleIdentities:
		return dialect.MultipleIdentities(k, ue.Message)
	case NodeNotAllowed:
		return dialect.Forbidden(k, ue.Message)
	case InvalidResource:
		return dialect.InvalidResource(k, audience, ue.Message)
	case Throttled:
		return dialect.Throttled(k, retrySeconds(ue.RetryAfter), ue.Message)
	}
	return dialect.Unavailable(k, retrySeconds(ue.RetryAfter), ue.Message)
}

func retrySeconds(d time.Duration) int {
	if d <= 0 {
		return 1
	}
	return int((d + time.Second - 1) / time.Second)
}

// permanent reports whether an upstream failure is a refusal (not worth retrying soon) rather
// than an outage.
func permanent(err error) bool {
	var ue *UpstreamError
	return errors.As(err, &ue) && ue.Kind != Unavailable && ue.Kind != Throttled
}
