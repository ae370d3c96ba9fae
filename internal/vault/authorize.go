package vault

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/mint-id/mint/internal/authz"
	"github.com/mint-id/mint/internal/rbac"
)

// Authorization. With RBAC on (the default), each operation needs its data action
// (https://learn.microsoft.com/azure/key-vault/general/rbac-guide) at the secret's scope, <vault id>/secrets/<name>, where assignments at the vault, its
// group, subscription or the root count too; listing needs it at the vault. With RBAC off, the
// vault's access policies decide, by the legacy permission names. A principal's role assignments
// (and the custom roles they name) are cached for at most MaxCacheTTL.

// permission is what an operation needs.
type permission struct {
	dataAction string
	policy     string // access-policy permission
	atVault    bool   // evaluated at the vault rather than the secret
}

const secretsActionPrefix = "Microsoft.KeyVault/vaults/secrets/"

var permissions = map[operation]permission{
	opSet:          {secretsActionPrefix + "setSecret/action", "set", false},
	opGet:          {secretsActionPrefix + "getSecret/action", "get", false},
	opList:         {secretsActionPrefix + "readMetadata/action", "list", true},
	opListVersions: {secretsActionPrefix + "readMetadata/action", "list", false},
	opUpdate:       {secretsActionPrefix + "update/action", "set", false},
	opDelete:       {secretsActionPrefix + "delete", "delete", false},
	opGetDeleted:   {secretsActionPrefix + "readMetadata/action", "get", false},
	opListDeleted:  {secretsActionPrefix + "readMetadata/action", "list", true},
	opRecover:      {secretsActionPrefix + "recover/action", "recover", false},
	opPurge:        {secretsActionPrefix + "purge/action", "purge", false},
	opBackup:       {secretsActionPrefix + "backup/action", "backup", false},
	opRestore:      {secretsActionPrefix + "restore/action", "restore", false},
}

// access is a principal's assignments and roles from authz's one loader, cached for at most
// the cache TTL.
func (s *Server) access(ctx context.Context, principalID string) (*principalAccess, error) {
	return s.roles.get(strings.ToLower(principalID), func() (*principalAccess, time.Duration, error) {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), loadTimeout)
		defer cancel()
		p, err := authz.Load(ctx, s.st, principalID)
		if err != nil {
			return nil, 0, err
		}
		return &principalAccess{Principal: p, principalID: principalID, decided: map[decisionKey]bool{}}, s.cfg.CacheTTL, nil
	})
}

// principalAccess is one load of a principal's assignments and roles (authz.Principal) and the
// decisions made from it. A decision is a function of the load and the question, so it is
// remembered for as long as the load is kept, no longer: a role assignment, group membership or
// role definition changed anywhere counts on the next load, within the cache TTL, as it does
// without the memo. Every request still asks; a steady client's question is answered from here
// instead of by walking its assignments again.
type principalAccess struct {
	*authz.Principal
	principalID string
	mu          sync.RWMutex
	decided     map[decisionKey]bool
}

// decisionKey is a question asked of a principal: a data action at a vault, or at one of its
// secrets (name "" for the vault itself).
type decisionKey struct {
	dataAction, vaultID, name string
}

// maxDecisionsPerPrincipal bounds the memo of one load (it lives at most the cache TTL).
const maxDecisionsPerPrincipal = 1024

// scope is the ARM scope the question is asked at.
func (k decisionKey) scope() string {
	if k.name == "" {
		return k.vaultID
	}
	return k.vaultID + "/secrets/" + k.name
}

// allows answers whether the principal may perform the question's data action at its scope.
func (a *principalAccess) allows(key decisionKey) bool {
	a.mu.RLock()
	allowed, ok := a.decided[key]
	a.mu.RUnlock()
	if ok {
		return allowed
	}
	allowed = a.Allows(rbac.Query{PrincipalID: a.principalID, Action: key.dataAction, Scope: key.scope(), DataAction: true})
	a.mu.Lock()
	if len(a.decided) < maxDecisionsPerPrincipal {
		a.decided[key] = allowed
	}
	a.mu.Unlock()
	return allowed
}

// authorize decides whether the caller may perform q.route.op on the secret name; it writes the
// 403 (or the failure) and returns false when not.
func (s *Server) authorize(q *request, op operation, name string) bool {
	p := permissions[op]
	c := &q.caller.claims
	if !q.vault.rbac {
		if s.policyAllows(q, p.policy) {
			return true
		}
		writeError(q.w, newError(http.StatusForbidden, CodeForbidden, fmt.Sprintf(
			"The user, group or application 'appid=%s;oid=%s;numgroups=0;iss=%s' does not have secrets %s permission on key vault '%s'. %s"+
				" mint: the vault uses access policies (enableRbacAuthorization is false); add one granting secrets '%s' to object id %s.",
			c.ClientID(), c.ObjectID, c.Issuer, p.policy, q.vault.ref(), forbiddenByPolicyHelpLink, p.policy, c.ObjectID)).
			withInner(CodeForbiddenByPolicy))
		return false
	}
	key := decisionKey{dataAction: p.dataAction, vaultID: q.vault.id}
	if !p.atVault {
		key.name = name
	}
	access, err := s.access(q.ctx, c.ObjectID)
	if err != nil {
		s.fail(q, err)
		return false
	}
	if access.allows(key) {
		return true
	}
	scope := key.scope()
	query := rbac.Query{PrincipalID: c.ObjectID, Action: p.dataAction, Scope: scope, DataAction: true}
	x := access.Explain(query)
	msg := fmt.Sprintf("Caller is not authorized to perform action on resource.\r\n"+
		"If role assignments, deny assignments or role definitions were changed recently, please observe propagation time.\r\n"+
		"Caller: appid=%s;oid=%s;iss=%s\r\nAction: '%s'\r\nResource: '%s'\r\nAssignment: (not found)\r\nDenyAssignmentId: null\r\n"+
		"DecisionReason: 'DeniedWithNoValidRBAC' \r\nVault: %s\r\n",
		c.ClientID(), c.ObjectID, c.Issuer, p.dataAction, strings.ToLower(scope), q.vault.ref())
	if x.Summary != "" {
		msg += "mint: " + x.Summary + "."
	}
	writeError(q.w, newError(http.StatusForbidden, CodeForbidden, msg).withInner(CodeForbiddenByRbac))
	return false
}

// policyAllows reports whether the vault's access policies grant the caller the secrets
// permission: the entries for its tenant and object id (and, for a compound identity, its
// application) count together; "all" grants everything.
func (s *Server) policyAllows(q *request, perm string) bool {
	c := q.caller.claims
	for _, p := range q.vault.policies {
		if !strings.EqualFold(p.ObjectID, c.ObjectID) || (p.TenantID != "" && !strings.EqualFold(p.TenantID, c.TenantID)) {
			continue
		}
		if p.ApplicationID != "" && !strings.EqualFold(p.ApplicationID, c.ClientID()) {
			continue
		}
		for _, granted := range p.Permissions.Secrets {
			if strings.EqualFold(granted, perm) || strings.EqualFold(granted, "all") {
				return true
			}
		}
	}
	return false
}
