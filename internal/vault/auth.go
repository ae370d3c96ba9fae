package vault

import (
	"context"
	"errors"
	"net"
	"strings"
	"time"

	"github.com/mint-id/mint/internal/authz"
	"github.com/mint-id/mint/internal/bearer"
	"github.com/mint-id/mint/internal/revocation"
	"github.com/mint-id/mint/internal/store"
)

// Authentication and revocation.
//
// A token is accepted when mint's STS signed it (signature, issuer, audience, nbf/exp: package
// bearer), it comes from the vault's tenant, and what it was issued for still holds, which Azure
// does not check (its tokens stay valid for up to 24 h):
//   - its principal (oid) still exists;
//   - for a user-assigned identity (xms_mirid names a Microsoft.ManagedIdentity/
//     userAssignedIdentities), the identity still exists with that principal and, when the token
//     names the resource it was issued to (xms_az_rid), that resource still exists and still has
//     the identity attached;
//   - for a system-assigned identity (xms_mirid is the resource itself), the resource still
//     exists and its system-assigned principal is still the token's.
//
// The verdict on a token (signature, claims, revocation) is cached per token for at most
// MaxCacheTTL (500 ms) and never past the token's expiry, so a deletion or detachment made
// through any replica refuses the token within 500 ms plus one request; a steady client costs
// one principal read (and up to two resource reads for a managed identity) per 500 ms, not per
// request.

// verdict is the outcome of checking one token.
type verdict struct {
	claims  bearer.Claims
	refusal string // why the token is refused; "" when it is accepted
}

// loadTimeout bounds a cache load, which runs detached from the request that started it (other
// requests may be waiting for its answer).
const loadTimeout = 5 * time.Second

// authenticate checks the request's token and sets q.caller; a refusal is the 401 to answer.
func (s *Server) authenticate(q *request) *Error {
	tok, err := bearer.FromRequest(q.r)
	if err != nil {
		return unauthorized(missingTokenMessage)
	}
	// The cache keeps a pointer: a verdict is never changed once made, and every request of a
	// steady client shares it rather than copying its claims.
	v, err := s.tokens.get(tok, func() (*verdict, time.Duration, error) {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(q.ctx), loadTimeout)
		defer cancel()
		v, ttl, err := s.check(ctx, tok)
		return &v, ttl, err
	})
	if err != nil {
		s.log.Error("vault token check failed", "request_id", q.requestID, "err", err)
		if errors.Is(err, store.ErrUnavailable) || errors.Is(err, authz.ErrUnavailable) {
			return unavailable(q.requestID)
		}
		return internalError(q.requestID)
	}
	if v.refusal != "" {
		s.log.Info("vault token refused", "vault", q.vault.name, "uti", v.claims.TokenID, "oid", v.claims.ObjectID, "reason", v.refusal, "request_id", q.requestID)
		return unauthorized(v.refusal)
	}
	if q.vault.tenantID != "" && !strings.EqualFold(v.claims.TenantID, q.vault.tenantID) {
		return unauthorized("AKV10032: Invalid issuer. Expected one of " + bearer.V1Issuer(q.vault.tenantID) + ", " + bearer.V2Issuer(q.vault.tenantID) + ", found " + v.claims.Issuer +
			". The vault belongs to tenant " + q.vault.tenantID + "; get the token from that tenant.")
	}
	q.caller = v
	return nil
}

// check validates a token and decides whether it is revoked. Only a store failure is an error.
func (s *Server) check(ctx context.Context, tok string) (verdict, time.Duration, error) {
	claims, err := s.validator.Validate(tok)
	if err != nil {
		return verdict{refusal: "The access token is invalid: " + err.Error()}, s.cfg.CacheTTL, nil
	}
	reason, err := s.revocation(ctx, claims)
	if err != nil {
		return verdict{}, 0, err
	}
	v := verdict{claims: claims}
	if reason != "" {
		v.refusal = "The access token was revoked: " + reason + "."
	}
	ttl := s.cfg.CacheTTL
	if left := time.Unix(claims.Expiry, 0).Sub(s.cfg.Clock()); left < ttl {
		ttl = left
	}
	return v, ttl, nil
}

// revocation says why a validly signed token no longer stands, or "" when it does: the rule is
// package revocation's, shared with ARM and the directory API.
func (s *Server) revocation(ctx context.Context, c bearer.Claims) (string, error) {
	return revocation.Reason(ctx, s.st, c)
}

// challenge answers a 401 with Key Vault's challenge (https://learn.microsoft.com/azure/key-vault/general/authentication-requests-and-responses): the authority is mint's
// login endpoint with the vault's tenant, the resource the vault DNS suffix the request came in
// on, with the port the client used (the Go client compares hosts including the port), so both
// the Go and JS clients accept it without DisableChallengeResourceVerification.
func (s *Server) challenge(q *request, e *Error) {
	tenant := q.vault.tenantID
	if tenant == "" {
		tenant = "common"
	}
	q.w.Header().Set("WWW-Authenticate", `Bearer authorization="`+s.cfg.BaseURL+"/"+tenant+`", resource="`+ChallengeResource(q.suffix, q.host)+`"`)
	writeError(q.w, e)
}

// ChallengeResource is the resource a vault's challenge names for a request to host (its Host,
// maybe with a port) under suffix: https://<suffix>[:port].
func ChallengeResource(suffix, host string) string {
	resource := "https://" + suffix
	if _, port, err := net.SplitHostPort(host); err == nil && port != "" {
		resource += ":" + port
	}
	return resource
}
