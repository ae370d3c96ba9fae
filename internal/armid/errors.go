package armid

import (
	"strings"
)

// ARM error codes carried by *Error.
const (
	// CodeInvalidResourceID is mint's code for a malformed resource ID or scope.
	CodeInvalidResourceID = "InvalidResourceId"
	// CodeInvalidIdentityID is ARM's code for a malformed user-assigned identity ID (for example a user-assigned identity id in a resource's identity block that names another resource type).
	CodeInvalidIdentityID = "InvalidIdentityId"
	// CodeInvalidResourceGroup is the code ARM uses for a bad resource group name.
	CodeInvalidResourceGroup = "InvalidResourceGroup"
	// CodeInvalidResourceName is ARM's code for a bad resource name.
	CodeInvalidResourceName = "InvalidResourceName"
	// CodeVaultNameNotValid is the Key Vault resource provider's code for a bad vault name.
	CodeVaultNameNotValid = "VaultNameNotValid"
	// CodeBadRequest is the generic 400 code; the MSI resource provider uses it for a bad
	// federated identity credential name.
	CodeBadRequest = "BadRequest"
	// Tag errors, as ARM names them.
	CodeInvalidTagName           = "InvalidTagName"
	CodeInvalidTagNameCharacters = "InvalidTagNameCharacters"
	CodeInvalidTagValueLength    = "InvalidTagValueLength"
	CodeInvalidTagsCount         = "InvalidTagsCount"
)

// ExpectedIDFormat is the ID shape quoted in parse errors.
const ExpectedIDFormat = "/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}/providers/{namespace}/{type}/{name}"

// UserAssignedIdentityIDFormat is the ID shape ARM quotes in InvalidIdentityId errors.
const UserAssignedIdentityIDFormat = "/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/{resourceName}"

// Error is a rejected ID or name. Code is the ARM error code a handler should answer with (all
// are HTTP 400), Message the user-facing text, Value the rejected input.
type Error struct {
	Code    string
	Message string
	Value   string
}

func (e *Error) Error() string { return e.Message }

func invalidID(id, reason string) *Error {
	return &Error{
		Code:    CodeInvalidResourceID,
		Value:   id,
		Message: "The resource id '" + id + "' is invalid: " + reason + ". Expected a fully qualified resource id such as '" + ExpectedIDFormat + "'.",
	}
}

// InvalidIdentityIDs returns ARM's InvalidIdentityId error listing every malformed
// user-assigned identity ID (comma-joined, in the order given).
func InvalidIdentityIDs(ids []string) *Error {
	joined := strings.Join(ids, ",")
	return &Error{
		Code:    CodeInvalidIdentityID,
		Value:   joined,
		Message: "The identity ids '" + joined + "' are invalid. It must be of the following format: '" + UserAssignedIdentityIDFormat + "'.",
	}
}
