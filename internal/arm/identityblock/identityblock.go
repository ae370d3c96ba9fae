// Package identityblock implements the "identity" property of ARM tracked resources
// (common-types ManagedServiceIdentity): its wire shape, parsing a request's identity block, and
// applying it to a resource's current identities with ARM's PUT and PATCH semantics.
//
// It is pure: it decides which system-assigned principal to create or delete and which
// user-assigned identities to attach or detach, but it does none of that, checks no permission
// (attaching needs .../assign/action on each identity, reported as LinkedAuthorizationFailed by
// the caller) and does not know whether an identity exists. Principal and client IDs in responses
// are filled in by the caller.
package identityblock

import (
	"strings"
)

// Identity is the wire shape of the identity property.
type Identity struct {
	Type                   string                           `json:"type"`
	PrincipalID            string                           `json:"principalId,omitempty"`
	TenantID               string                           `json:"tenantId,omitempty"`
	UserAssignedIdentities map[string]*UserAssignedIdentity `json:"userAssignedIdentities,omitempty"`
}

// UserAssignedIdentity is the value of one userAssignedIdentities entry. Both fields are
// read-only: requests send {} and responses carry the identity's IDs.
type UserAssignedIdentity struct {
	PrincipalID string `json:"principalId,omitempty"`
	ClientID    string `json:"clientId,omitempty"`
}

// Type is the identity type as flags.
type Type uint8

// Identity types. SystemAssignedUserAssigned is the union of the two flags.
const (
	None                       Type = 0
	SystemAssigned             Type = 1 << 0
	UserAssigned               Type = 1 << 1
	SystemAssignedUserAssigned      = SystemAssigned | UserAssigned
)

// HasSystem reports whether t includes a system-assigned identity.
func (t Type) HasSystem() bool { return t&SystemAssigned != 0 }

// HasUser reports whether t includes user-assigned identities.
func (t Type) HasUser() bool { return t&UserAssigned != 0 }

// String returns the common-types spelling: "None", "SystemAssigned", "UserAssigned" or
// "SystemAssigned,UserAssigned".
func (t Type) String() string { return Canonical(t, "") }

// SupportedTypes lists the type values accepted, in the common-types spelling.
const SupportedTypes = "'None', 'SystemAssigned', 'UserAssigned', 'SystemAssigned,UserAssigned'"

// spacedProviders are the resource providers whose enum spells the combined type with a space
// ("SystemAssigned, UserAssigned"): Compute (VMs, scale sets), the older providers the reference
// names, and App Service and Container Instances (armappservice's ManagedServiceIdentityType and
// armcontainerinstance's ResourceIdentityType). Everyone else, Container Apps included, uses the
// common-types spelling without the space.
var spacedProviders = map[string]bool{
	"microsoft.compute":           true,
	"microsoft.hdinsight":         true,
	"microsoft.eventhub":          true,
	"microsoft.web":               true,
	"microsoft.containerinstance": true,
}

// Canonical returns the spelling of t that the resource provider echoes back. provider is a
// namespace ("Microsoft.Compute") or a resource type ("Microsoft.Compute/virtualMachines"),
// matched case-insensitively; only the combined type differs between providers.
func Canonical(t Type, provider string) string {
	switch t & SystemAssignedUserAssigned {
	case SystemAssigned:
		return "SystemAssigned"
	case UserAssigned:
		return "UserAssigned"
	case SystemAssignedUserAssigned:
		ns, _, _ := strings.Cut(provider, "/")
		if spacedProviders[strings.ToLower(ns)] {
			return "SystemAssigned, UserAssigned"
		}
		return "SystemAssigned,UserAssigned"
	}
	return "None"
}

// ParseType parses an identity type case-insensitively, tolerating whitespace around each part
// and either order of the combined form: "None", "SystemAssigned", "UserAssigned",
// "SystemAssigned,UserAssigned", "SystemAssigned, UserAssigned".
func ParseType(s string) (Type, error) {
	parts := strings.Split(s, ",")
	var t Type
	for _, p := range parts {
		var f Type
		switch strings.ToLower(strings.TrimSpace(p)) {
		case "systemassigned":
			f = SystemAssigned
		case "userassigned":
			f = UserAssigned
		case "none":
			if len(parts) == 1 {
				return None, nil
			}
			return None, invalidType(s)
		default:
			return None, invalidType(s)
		}
		if t&f != 0 {
			return None, invalidType(s)
		}
		t |= f
	}
	return t, nil
}
