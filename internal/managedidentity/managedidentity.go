// Package managedidentity is the one statement of which managed identities a resource may use:
// its own system-assigned identity, or a user-assigned identity attached to it now. The broker
// (which identity a node may get a token for), the vault's revocation check (does a token's
// identity still stand) and federation (whose credentials an identity holds) all ask here, so
// that the rule cannot drift between them. It is pure: callers read the resources.
package managedidentity

import (
	"strings"

	"github.com/mint-id/mint/internal/armid"
	"github.com/mint-id/mint/internal/store"
)

// UserAssignedType is the ARM type of a user-assigned identity.
const UserAssignedType = armid.ManagedIdentityNamespace + "/" + armid.UserAssignedIdentitiesType

// IsUserAssigned reports whether resourceType is a user-assigned identity's.
func IsUserAssigned(resourceType string) bool {
	return strings.EqualFold(resourceType, UserAssignedType)
}

// SameID compares two ARM ids as ARM does: case-insensitively, ignoring a trailing slash.
func SameID(a, b string) bool {
	return strings.EqualFold(strings.TrimRight(a, "/"), strings.TrimRight(b, "/"))
}

// Attached reports whether the user-assigned identity identityID is attached to host now.
func Attached(host store.Resource, identityID string) bool {
	for _, a := range host.UserAssignedIdentities {
		if SameID(a, identityID) {
			return true
		}
	}
	return false
}

// Refusal says why principalID is not (or no longer) the managed identity identity of host, or
// "" when it is. identity is the user-assigned identity resource, or for a system-assigned
// identity the host itself. A zero host checks the identity alone (federation, where no resource
// is involved).
func Refusal(principalID string, identity, host store.Resource) string {
	if IsUserAssigned(identity.Type) {
		switch {
		case identity.PrincipalID == "" || !strings.EqualFold(identity.PrincipalID, principalID):
			return "user-assigned identity " + identity.ID + " no longer has principal " + principalID
		case host.ID != "" && !Attached(host, identity.ID):
			return "user-assigned identity " + identity.ID + " is no longer attached to resource " + host.ID
		}
		return ""
	}
	switch {
	case host.ID != "" && !SameID(host.ID, identity.ID):
		return "resource " + host.ID + " cannot use the system-assigned identity of " + identity.ID
	case identity.PrincipalID == "" || !strings.EqualFold(identity.PrincipalID, principalID):
		return "resource " + identity.ID + " no longer has the system-assigned identity " + principalID
	}
	return ""
}
