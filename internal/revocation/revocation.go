// Package revocation is the one statement of whether a token mint signed still stands after it
// was issued, and a short cache of that decision. Azure keeps accepting a token for its whole
// lifetime (up to 24 h) after its principal was deleted or its managed identity detached; mint
// refuses it at every resource it serves (the vault, ARM, the directory API), deciding again at
// most every MaxCacheTTL, so that a change made through any replica counts within half a second.
// The rule of which identities a resource may use is managedidentity's; this package reads the
// store to apply it to a token's claims. It does not validate signatures (package bearer does)
// nor push revocations to node agents (package nodes does).
package revocation

import (
	"context"
	"errors"
	"strings"
	"sync"
	"time"

	"github.com/mint-id/mint/internal/armid"
	"github.com/mint-id/mint/internal/bearer"
	"github.com/mint-id/mint/internal/managedidentity"
	"github.com/mint-id/mint/internal/store"
)

// Store is what the check reads.
type Store interface {
	GetPrincipal(ctx context.Context, objectID string) (store.ServicePrincipal, error)
	GetUser(ctx context.Context, objectID string) (store.User, error)
	GetResource(ctx context.Context, id string) (store.Resource, error)
}

// Reason says why a validly signed token no longer stands, or "" when it does:
//   - its principal (oid) no longer exists, is in another tenant, or is a disabled user;
//   - for a user-assigned identity (xms_mirid names a Microsoft.ManagedIdentity/
//     userAssignedIdentities), the identity no longer exists with that principal or, when the
//     token names the resource it was issued to (xms_az_rid), that resource no longer exists or
//     no longer has the identity attached;
//   - for a system-assigned identity (xms_mirid is the resource itself), the resource no longer
//     exists or its system-assigned principal is no longer the token's.
//
// Only a store failure is an error.
func Reason(ctx context.Context, st Store, c bearer.Claims) (string, error) {
	if c.ObjectID == "" {
		return "it names no principal (oid)", nil
	}
	sp, err := st.GetPrincipal(ctx, c.ObjectID)
	if errors.Is(err, store.ErrNotFound) {
		// A person's token (a user signed in through az or an SDK's developer credential).
		u, uerr := st.GetUser(ctx, c.ObjectID)
		switch {
		case errors.Is(uerr, store.ErrNotFound):
			return "principal " + c.ObjectID + " no longer exists", nil
		case uerr != nil:
			return "", uerr
		case !strings.EqualFold(u.TenantID, c.TenantID):
			return "user " + c.ObjectID + " is not in tenant " + c.TenantID, nil
		case !u.AccountEnabled:
			return "user " + u.UserPrincipalName + " is disabled", nil
		}
		return "", nil
	}
	if err != nil {
		return "", err
	}
	if !strings.EqualFold(sp.TenantID, c.TenantID) {
		return "principal " + c.ObjectID + " is not in tenant " + c.TenantID, nil
	}
	if c.XmsMirid == "" {
		return "", nil
	}
	mi, err := armid.Parse(c.XmsMirid)
	if err != nil || !mi.IsResource() {
		return "its xms_mirid '" + c.XmsMirid + "' is not a resource id", nil
	}
	identity, found, err := resource(ctx, st, c.XmsMirid)
	switch {
	case err != nil:
		return "", err
	case !found && managedidentity.IsUserAssigned(mi.ResourceType()):
		return "user-assigned identity " + c.XmsMirid + " no longer exists", nil
	case !found:
		return "resource " + c.XmsMirid + ", whose system-assigned identity the token is for, no longer exists", nil
	}
	if !managedidentity.IsUserAssigned(identity.Type) {
		if reason := managedidentity.Refusal(c.ObjectID, identity, store.Resource{}); reason != "" {
			return reason, nil
		}
	}
	var host store.Resource
	if c.XmsAzRid != "" && !managedidentity.SameID(c.XmsAzRid, c.XmsMirid) {
		if host, found, err = resource(ctx, st, c.XmsAzRid); err != nil {
			return "", err
		} else if !found {
			return "resource " + c.XmsAzRid + ", which the token was issued to, no longer exists", nil
		}
	}
	if managedidentity.IsUserAssigned(identity.Type) {
		return managedidentity.Refusal(c.ObjectID, identity, host), nil
	}
	return "", nil
}

func resource(ctx context.Context, st Store, id string) (store.Resource, bool, error) {
	r, err := st.GetResource(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return store.Resource{}, false, nil
	}
	return r, err == nil, err
}

// MaxCacheTTL bounds how long a Checker reuses a decision.
const MaxCacheTTL = 500 * time.Millisecond

// loadTimeout bounds one decision, which runs detached from the request that started it (others
// may be waiting for its answer).
const loadTimeout = 5 * time.Second

// Checker decides Reason for the requests of a resource server, at most once per MaxCacheTTL
// for each (tenant, principal, identity, resource) a token names: that is all the decision
// depends on, so the tokens of one workload share it. Concurrent requests for a key wait for one
// decision. Failures are not kept.
type Checker struct {
	st  Store
	now func() time.Time

	mu      sync.Mutex
	m       map[key]*decision
	inserts int
}

type key struct{ tenant, oid, mirid, azrid string }

type decision struct {
	ready   chan struct{}
	reason  string
	err     error
	expires time.Time
}

// NewChecker returns a Checker over st; now defaults to time.Now.
func NewChecker(st Store, now func() time.Time) *Checker {
	if now == nil {
		now = time.Now
	}
	return &Checker{st: st, now: now, m: map[key]*decision{}}
}

// Check returns Reason for c, decided at most MaxCacheTTL ago.
func (k *Checker) Check(ctx context.Context, c bearer.Claims) (string, error) {
	id := key{strings.ToLower(c.TenantID), strings.ToLower(c.ObjectID), strings.ToLower(c.XmsMirid), strings.ToLower(c.XmsAzRid)}
	k.mu.Lock()
	d := k.m[id]
	if d != nil {
		select {
		case <-d.ready:
			if d.err != nil || !k.now().Before(d.expires) {
				d = nil
			}
		default: // being decided: share it
		}
	}
	if d == nil {
		d = &decision{ready: make(chan struct{})}
		k.m[id] = d
		k.sweepLocked()
		k.mu.Unlock()
		lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), loadTimeout)
		d.reason, d.err = Reason(lctx, k.st, c)
		cancel()
		d.expires = k.now().Add(MaxCacheTTL)
		close(d.ready)
		return d.reason, d.err
	}
	k.mu.Unlock()
	select {
	case <-d.ready:
		return d.reason, d.err
	case <-ctx.Done():
		return "", ctx.Err()
	}
}

// sweepLocked drops expired decisions every 256 inserts, so the map holds about the keys of the
// last half second.
func (k *Checker) sweepLocked() {
	if k.inserts++; k.inserts < 256 {
		return
	}
	k.inserts = 0
	now := k.now()
	for id, d := range k.m {
		select {
		case <-d.ready:
			if d.err != nil || !now.Before(d.expires) {
				delete(k.m, id)
			}
		default:
		}
	}
}
