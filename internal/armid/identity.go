package armid

import "strings"

// Canonical spelling of the user-assigned identity resource type.
const (
	ManagedIdentityNamespace   = "Microsoft.ManagedIdentity"
	UserAssignedIdentitiesType = "userAssignedIdentities"
)

// ParseUserAssignedIdentityID parses the ID of a user-assigned identity,
// /subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/{name}.
// Namespace and type are matched case-insensitively and returned in their canonical spelling, so
// String gives the canonical ID. Anything else fails with ARM's InvalidIdentityId error.
//
// The name is not checked against the naming rules: an ID that names an identity which cannot
// exist is well-formed, and the caller reports it as not found.
func ParseUserAssignedIdentityID(s string) (ResourceID, error) {
	id, err := Parse(s)
	if err != nil || !IsUserAssignedIdentity(id) {
		return ResourceID{}, InvalidIdentityIDs([]string{s})
	}
	id.Provider = ManagedIdentityNamespace
	id.Types = []string{UserAssignedIdentitiesType}
	id.Names = []string{id.Names[0]}
	return id, nil
}

// IsUserAssignedIdentity reports whether id has the shape of a user-assigned identity ID.
func IsUserAssignedIdentity(id ResourceID) bool {
	return id.scope == nil &&
		id.SubscriptionID != "" && id.ResourceGroup != "" &&
		strings.EqualFold(id.Provider, ManagedIdentityNamespace) &&
		len(id.Types) == 1 && strings.EqualFold(id.Types[0], UserAssignedIdentitiesType)
}
