package vault

import (
	"context"
	"fmt"
	"net/http"
	"strings"
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
func (s *Server) access(ctx context.Context, principalID string) (*authz.Principal, error) {
	return s.roles.get(strings.ToLower(principalID), func() (*authz.Principal, time.Duration, error) {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), loadTimeout)
		defer cancel()
		p, err := authz.Load(ctx, s.st, principalID)
		return p, s.cfg.CacheTTL, err
	})
}

// authorize decides whether the caller may perform q.route.op on the secret name; it writes the
// 403 (or the failure) and returns false when not.
func (s *Server) authorize(q *request, op operation, name string) bool {
	p := permissions[op]
	c := q.caller.claims
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
	scope := q.vault.id
	if !p.atVault {
		scope += "/secrets/" + name
	}
	access, err := s.access(q.ctx, c.ObjectID)
	if err != nil {
		s.fail(q, err)
		return false
	}
	query := rbac.Query{PrincipalID: c.ObjectID, Action: p.dataAction, Scope: scope, DataAction: true}
	if access.Allows(query) {
		return true
	}
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
