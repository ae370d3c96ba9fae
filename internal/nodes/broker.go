// Package nodes is the server side of mint's node agents: joining a host with a one-time join
// token (which registers the agent's own principal and grants it the broker role over a scope),
// and the broker decision the STS asks for on every managed-identity token: may this node act for
// this resource, and which of the resource's identities is asked for. Only the resource can use
// its identity: a node needs the "Managed Identity Token Broker" role over the resource, and the
// identity must be the resource's system-assigned one or a user-assigned one attached to it now.
package nodes

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/mint-id/mint/internal/armid"
	"github.com/mint-id/mint/internal/authz"
	"github.com/mint-id/mint/internal/managedidentity"
	"github.com/mint-id/mint/internal/nodewire"
	"github.com/mint-id/mint/internal/rbac"
	"github.com/mint-id/mint/internal/store"
	"github.com/mint-id/mint/internal/sts"
)

// Broker implements sts.Broker over the store.
type Broker struct {
	st    store.Store
	authz *authz.Authorizer
}

func NewBroker(st store.Store) *Broker { return &Broker{st: st, authz: authz.New(st)} }

// ManagedIdentity decides a broker grant.
func (b *Broker) ManagedIdentity(ctx context.Context, tenant store.Tenant, node store.ServicePrincipal, hostResourceID string, sel sts.IdentitySelector) (sts.BrokerDecision, error) {
	var none sts.BrokerDecision
	host, err := armid.Parse(hostResourceID)
	if err != nil || !host.IsResource() {
		return none, sts.BrokerError(nodewire.CodeHostResourceNotFound, "'%s' is not the ARM id of a resource: the workload must run as a resource such as /subscriptions/{id}/resourceGroups/{group}/providers/Microsoft.App/containerApps/{name}.", trunc(hostResourceID))
	}
	// Authorization comes first, so a node learns nothing about resources it may not act for.
	d, err := b.authz.Decide(ctx, rbac.Query{PrincipalID: node.ObjectID, Action: rbac.IssueTokenDataAction, Scope: host.String(), DataAction: true})
	if err != nil {
		return none, fmt.Errorf("authorize node %s: %w", node.AppID, err)
	}
	if !d.Allowed {
		return none, sts.BrokerError(nodewire.CodeNodeNotAllowed,
			"Node '%s' (%s) may not obtain tokens for resource '%s': it holds no role granting %s there. Grant it with: mint role assignment create --assignee %s --role \"Managed Identity Token Broker\" --scope %s",
			node.DisplayName, node.AppID, host, rbac.IssueTokenDataAction, node.AppID, host)
	}
	res, err := b.st.GetResource(ctx, host.String())
	if errors.Is(err, store.ErrNotFound) {
		return none, sts.BrokerError(nodewire.CodeHostResourceNotFound, "Resource '%s' does not exist: it may have been deleted. A workload can only get tokens while its resource exists.", host)
	}
	if err != nil {
		return none, fmt.Errorf("resource %s: %w", host, err)
	}
	if managedidentity.IsUserAssigned(res.Type) {
		return none, sts.BrokerError(nodewire.CodeIdentityNotFound, "'%s' is a user-assigned identity, not a resource a workload runs as: run the workload as the container app, web app or VM the identity is attached to.", host)
	}
	hasSystem := res.PrincipalID != ""
	switch {
	case sel.IsZero() && hasSystem:
		return b.system(ctx, res)
	case sel.IsZero() && len(res.UserAssignedIdentities) == 1:
		return b.userAssigned(ctx, res, res.UserAssignedIdentities[0], sel)
	case sel.IsZero() && len(res.UserAssignedIdentities) > 1:
		return none, sts.BrokerError(nodewire.CodeMultipleIdentities, "Multiple user assigned identities exist, please specify the clientId / resourceId of the identity in the token request. Resource '%s' has %d user-assigned identities and no system-assigned one.", host, len(res.UserAssignedIdentities))
	case sel.IsZero():
		return none, sts.BrokerError(nodewire.CodeIdentityNotFound, "Identity not found: resource '%s' has no managed identity. Enable its system-assigned identity (mint resource identity assign ... --identities [system]) or attach a user-assigned one.", host)
	}
	if hasSystem {
		sp, err := b.st.GetPrincipal(ctx, res.PrincipalID)
		if err == nil && (strings.EqualFold(sel.ClientID, sp.AppID) || strings.EqualFold(sel.ObjectID, sp.ObjectID)) {
			return b.system(ctx, res)
		}
	}
	for _, ua := range res.UserAssignedIdentities {
		if sel.ResourceID != "" && strings.EqualFold(strings.TrimSuffix(sel.ResourceID, "/"), ua) {
			return b.userAssigned(ctx, res, ua, sel)
		}
		if sel.ResourceID == "" {
			if dec, err := b.userAssigned(ctx, res, ua, sel); err == nil {
				return dec, nil
			}
		}
	}
	return none, b.notAttached(ctx, tenant, host.String(), sel)
}

// notAttached explains a selector that names no identity of the resource: which identity it
// does name, if any, and the command that would attach it.
func (b *Broker) notAttached(ctx context.Context, tenant store.Tenant, host string, sel sts.IdentitySelector) error {
	identityID := sel.ResourceID
	var sp store.ServicePrincipal
	var err error
	switch {
	case sel.ClientID != "":
		sp, err = b.st.GetPrincipalByAppID(ctx, tenant.ID, sel.ClientID)
	case sel.ObjectID != "":
		sp, err = b.st.GetPrincipal(ctx, sel.ObjectID)
		if err == nil && sp.TenantID != tenant.ID {
			err = store.ErrNotFound
		}
	}
	switch {
	case identityID != "":
	case errors.Is(err, store.ErrNotFound):
		return sts.BrokerError(nodewire.CodeIdentityNotFound, "Identity not found: no managed identity has %s in tenant %s. Check the id the workload asks for (AZURE_CLIENT_ID, azureClientId): mint identity list shows each identity's clientId and principalId.",
			noun(sel), tenant.ID)
	case err != nil:
		return fmt.Errorf("look up identity %s: %w", describe(sel), err)
	case sp.Kind != store.KindManagedIdentity:
		return sts.BrokerError(nodewire.CodeIdentityNotFound, "Identity not found: %s is the application '%s', not a managed identity; a workload can only use the managed identities of its resource '%s'.",
			noun(sel), sp.DisplayName, host)
	case len(sp.AlternativeNames) > 0 && !strings.Contains(strings.ToLower(sp.AlternativeNames[0]), "/providers/microsoft.managedidentity/userassignedidentities/"):
		return sts.BrokerError(nodewire.CodeIdentityNotFound, "Identity not found: %s is the system-assigned identity of '%s'; only that resource can use it, not '%s'.",
			noun(sel), sp.AlternativeNames[0], host)
	case len(sp.AlternativeNames) > 0:
		identityID = sp.AlternativeNames[0]
	}
	if identityID == "" {
		identityID = "<identity resource id>"
	}
	return sts.BrokerError(nodewire.CodeIdentityNotFound, "Identity not found: the identity %s is not attached to resource '%s'. Attach it with: mint resource identity assign --ids %s --identities %s",
		describe(sel), host, host, identityID)
}

func (b *Broker) system(ctx context.Context, res store.Resource) (sts.BrokerDecision, error) {
	if reason := managedidentity.Refusal(res.PrincipalID, res, res); reason != "" {
		return sts.BrokerDecision{}, sts.BrokerError(nodewire.CodeIdentityNotFound, "Identity not found: %s.", reason)
	}
	sp, err := b.st.GetPrincipal(ctx, res.PrincipalID)
	if err != nil {
		return sts.BrokerDecision{}, fmt.Errorf("system-assigned principal of %s: %w", res.ID, err)
	}
	return sts.BrokerDecision{Identity: sp, Claims: sts.ManagedIdentityClaims{MIResourceID: MIRID(res.ID)}}, nil
}

// userAssigned resolves the attached identity uaID; with a client or object id selector it must
// match it.
func (b *Broker) userAssigned(ctx context.Context, host store.Resource, uaID string, sel sts.IdentitySelector) (sts.BrokerDecision, error) {
	notFound := sts.BrokerError(nodewire.CodeIdentityNotFound, "Identity not found: user-assigned identity '%s' attached to '%s' no longer exists.", uaID, host.ID)
	ua, err := b.st.GetResource(ctx, uaID)
	if errors.Is(err, store.ErrNotFound) || (err == nil && managedidentity.Refusal(ua.PrincipalID, ua, host) != "") {
		return sts.BrokerDecision{}, notFound
	}
	if err != nil {
		return sts.BrokerDecision{}, fmt.Errorf("user-assigned identity %s: %w", uaID, err)
	}
	sp, err := b.st.GetPrincipal(ctx, ua.PrincipalID)
	if errors.Is(err, store.ErrNotFound) {
		return sts.BrokerDecision{}, notFound
	}
	if err != nil {
		return sts.BrokerDecision{}, fmt.Errorf("principal of %s: %w", uaID, err)
	}
	if (sel.ClientID != "" && !strings.EqualFold(sel.ClientID, sp.AppID)) || (sel.ObjectID != "" && !strings.EqualFold(sel.ObjectID, sp.ObjectID)) {
		return sts.BrokerDecision{}, notFound
	}
	return sts.BrokerDecision{Identity: sp, Claims: sts.ManagedIdentityClaims{MIResourceID: MIRID(ua.ID), AzResourceID: MIRID(host.ID)}}, nil
}

var resourceGroupsSegment = regexp.MustCompile(`(?i)/resourcegroups/`)

// MIRID spells an ARM id as Entra's xms_mirid and xms_az_rid claims do: lower-case
// "resourcegroups".
func MIRID(id string) string { return resourceGroupsSegment.ReplaceAllString(id, "/resourcegroups/") }

// noun names a selector's id: "client id X", "object id X".
func noun(sel sts.IdentitySelector) string {
	if sel.ObjectID != "" {
		return "object id " + sel.ObjectID
	}
	return "client id " + sel.ClientID
}

func describe(sel sts.IdentitySelector) string {
	switch {
	case sel.ClientID != "":
		return "with client id " + sel.ClientID
	case sel.ObjectID != "":
		return "with object id " + sel.ObjectID
	default:
		return "'" + sel.ResourceID + "'"
	}
}

func trunc(s string) string {
	if len(s) > 300 {
		return s[:300] + "..."
	}
	return s
}
