package sts

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/mint-id/mint/internal/nodewire"
)

// The broker grant's refusal codes are nodewire's (Code*), shared with the node agent.
const (
	brokerGrantName           = "managed_identity"
	miCacheMax                = 10000
	miReuseWhileRemainingFrac = 2 // reuse a cached token while more than 1/2 of its life is left
)

// BrokerError builds a broker refusal.
func BrokerError(code int, format string, args ...any) *Error {
	status, oauth := http.StatusBadRequest, "invalid_request"
	if code == nodewire.CodeNodeNotAllowed {
		status, oauth = http.StatusForbidden, "unauthorized_client"
	}
	return NewError(status, oauth, code, format, args...)
}

// brokerGrant turns an authenticated node's request into the managed identity's token request.
func (s *Server) brokerGrant(ctx context.Context, at *attempt, ir IssueRequest, req TokenRequest) (IssueRequest, *Error) {
	if s.broker == nil {
		return ir, NewError(http.StatusBadRequest, "unsupported_grant_type", codeUnsupportedGrant,
			"This token service has no node broker configured, so it does not take the '%s' grant.", nodewire.GrantManagedIdentity)
	}
	d, err := s.broker.ManagedIdentity(ctx, ir.Tenant, ir.Client, req.HostResourceID, req.Selector)
	if err != nil {
		var e *Error
		if errors.As(err, &e) {
			return ir, e
		}
		s.log.ErrorContext(ctx, "broker decision failed", "trace_id", at.traceID, "node", ir.Client.AppID, "err", err)
		return ir, errServer(err)
	}
	at.principalID, at.appID = d.Identity.ObjectID, d.Identity.AppID
	claims := d.Claims
	ir.Client, ir.CredentialKind, ir.ManagedIdentity = d.Identity, CredentialManagedIdentity, &claims
	return ir, nil
}

// miTokenCache lets the STS hand out a managed-identity token it issued a moment ago instead of
// signing a new one (Azure's identity back end caches the same way). The broker decision is
// made before every lookup, so a detached identity never gets a cached token.
type miTokenCache struct {
	mu sync.Mutex
	m  map[string]Token
}

func miCacheKey(ir IssueRequest, v Version) string {
	return strings.ToLower(ir.Client.ObjectID + "|" + ir.Audience + "|" + ir.ManagedIdentity.AzResourceID + "|" + ir.ManagedIdentity.MIResourceID + "|" + string(rune('0'+v)))
}

func (c *miTokenCache) get(key string, now time.Time) (Token, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	t, ok := c.m[key]
	if !ok || now.After(t.ExpiresAt.Add(-t.ExpiresAt.Sub(t.IssuedAt)/miReuseWhileRemainingFrac)) {
		return Token{}, false
	}
	return t, true
}

func (c *miTokenCache) put(key string, t Token, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[string]Token{}
	}
	if len(c.m) >= miCacheMax {
		for k, v := range c.m {
			if now.After(v.ExpiresAt) || len(c.m) >= miCacheMax {
				delete(c.m, k)
			}
		}
	}
	c.m[key] = t
}
