package identityblock

import "fmt"

// ARM error codes carried by *Error. All are HTTP 400.
const (
	// CodeInvalidIdentityID: a userAssignedIdentities key is not a user-assigned identity ID.
	CodeInvalidIdentityID = "InvalidIdentityId"
	// CodeMissingIdentityIDs: the type includes UserAssigned but no identity would be left.
	CodeMissingIdentityIDs = "MissingIdentityIds"
	// CodeBadRequest: userAssignedIdentities sent with a type that has no UserAssigned.
	CodeBadRequest = "BadRequest"
	// CodeInvalidIdentityType: the type is missing or not one of SupportedTypes (mint's code;
	// ARM answers this case in several provider-specific ways).
	CodeInvalidIdentityType = "InvalidIdentityType"
	// CodeInvalidRequestContent: the identity block is not the JSON shape the schema allows.
	CodeInvalidRequestContent = "InvalidRequestContent"
)

// Error is a rejected identity block: an ARM error code and a message a user can act on.
type Error struct {
	Code    string
	Message string
}

func (e *Error) Error() string { return e.Message }

func invalidType(s string) *Error {
	return &Error{Code: CodeInvalidIdentityType, Message: fmt.Sprintf(
		"The identity type '%s' is invalid. The supported identity types are %s.", s, SupportedTypes)}
}

func missingType() *Error {
	return &Error{Code: CodeInvalidIdentityType, Message: "The identity type is required. The supported identity types are " + SupportedTypes + "."}
}

// missingIdentityIDs is ARM's answer when the type includes UserAssigned but the resulting map
// is empty.
func missingIdentityIDs(t Type) *Error {
	return &Error{Code: CodeMissingIdentityIDs, Message: fmt.Sprintf(
		"The identity ids must not be null or empty for '%s' identity type.", t)}
}

// unexpectedUserAssigned is ARM's answer to userAssignedIdentities sent with type None or
// SystemAssigned.
func unexpectedUserAssigned() *Error {
	return &Error{Code: CodeBadRequest, Message: "The request format was unexpected, a non-UserAssigned identity type should not contain: userAssignedIdentities"}
}

func invalidContent(detail string) *Error {
	return &Error{Code: CodeInvalidRequestContent, Message: "The request content was invalid and could not be deserialized: '" + detail + "'."}
}
