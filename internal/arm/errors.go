// Package arm is mint's control plane, the ARM-shaped management endpoint. errors.go and
// frontdoor.go are the part every handler shares: ARM's error envelope and codes, the response
// headers ARM sets, api-version checking, body decoding and paging.
package arm

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/mint-id/mint/internal/arm/identityblock"
	"github.com/mint-id/mint/internal/armid"
)

// Error is ARM's error body, {"error":{"code","message","target"?,"details"?,"additionalInfo"?}}
// (common-types ErrorResponse/ErrorDetail). Status is the HTTP status it is answered with.
type Error struct {
	Code           string           `json:"code"`
	Message        string           `json:"message"`
	Target         string           `json:"target,omitempty"`
	Details        []*Error         `json:"details,omitempty"`
	AdditionalInfo []AdditionalInfo `json:"additionalInfo,omitempty"`

	Status int `json:"-"`
	// challenge is the WWW-Authenticate value sent with a 401.
	challenge string
}

// AdditionalInfo is one ErrorAdditionalInfo entry, e.g. {"type":"PolicyViolation","info":{...}}.
type AdditionalInfo struct {
	Type string `json:"type"`
	Info any    `json:"info,omitempty"`
}

// ErrorResponse is the envelope an Error is written in.
type ErrorResponse struct {
	Error *Error `json:"error"`
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

// NewError returns an error with any code and message.
func NewError(status int, code, message string) *Error {
	return &Error{Status: status, Code: code, Message: message}
}

// WithTarget returns a copy of e with target set (e.g. the property at fault).
func (e *Error) WithTarget(target string) *Error {
	c := *e
	c.Target = target
	return &c
}

// WithDetails returns a copy of e with details appended.
func (e *Error) WithDetails(details ...*Error) *Error {
	c := *e
	c.Details = append(append([]*Error(nil), e.Details...), details...)
	return &c
}

// WithChallenge returns a copy of e that WriteError sends with
// WWW-Authenticate: Bearer authorization_uri="{loginURL}/{tenantID}", error="invalid_token",
// error_description="{e.Message}". Use it on the 401 errors.
func (e *Error) WithChallenge(loginURL, tenantID string) *Error {
	c := *e
	c.challenge = Challenge(loginURL, tenantID, e.Message)
	return &c
}

// Challenge builds the WWW-Authenticate value ARM sends with a 401. Quotes and line breaks in
// description are replaced, since they cannot appear in a quoted-string safely.
func Challenge(loginURL, tenantID, description string) string {
	uri := strings.TrimRight(loginURL, "/")
	if tenantID != "" {
		uri += "/" + tenantID
	}
	return fmt.Sprintf(`Bearer authorization_uri="%s", error="invalid_token", error_description="%s"`,
		quoteSafe(uri), quoteSafe(description))
}

func quoteSafe(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r == '"':
			return '\''
		case r == '\\':
			return '/'
		case r < 0x20 || r == 0x7f:
			return ' '
		}
		return r
	}, s)
}

// ARM error codes used by mint's control plane.
const (
	CodeMissingAPIVersionParameter          = "MissingApiVersionParameter"
	CodeInvalidAPIVersionParameter          = "InvalidApiVersionParameter"
	CodeNoRegisteredProviderFound           = "NoRegisteredProviderFound"
	CodeResourceNotFound                    = "ResourceNotFound"
	CodeResourceGroupNotFound               = "ResourceGroupNotFound"
	CodeSubscriptionNotFound                = "SubscriptionNotFound"
	CodeAuthorizationFailed                 = "AuthorizationFailed"
	CodeLinkedAuthorizationFailed           = "LinkedAuthorizationFailed"
	CodeAuthenticationFailed                = "AuthenticationFailed"
	CodeInvalidAuthenticationToken          = "InvalidAuthenticationToken"
	CodeExpiredAuthenticationToken          = "ExpiredAuthenticationToken"
	CodeInvalidAuthenticationTokenAudience  = "InvalidAuthenticationTokenAudience"
	CodeInvalidAuthenticationTokenTenant    = "InvalidAuthenticationTokenTenant"
	CodeInvalidRequestContent               = "InvalidRequestContent"
	CodeInvalidResourceName                 = armid.CodeInvalidResourceName
	CodeInvalidResourceGroup                = armid.CodeInvalidResourceGroup
	CodeInvalidIdentityID                   = armid.CodeInvalidIdentityID
	CodeRoleAssignmentExists                = "RoleAssignmentExists"
	CodePrincipalNotFound                   = "PrincipalNotFound"
	CodeBadRequest                          = "BadRequest"
	CodeMethodNotAllowed                    = "MethodNotAllowed"
	CodeConflict                            = "Conflict"
	CodeInternalServerError                 = "InternalServerError"
	CodeServiceUnavailable                  = "ServiceUnavailable"
	CodeInvalidSkipToken                    = "InvalidSkipToken"
	CodeInvalidTopParameter                 = "InvalidTopParameter"
	resourceNotFoundHelp                    = "For more details please go to https://aka.ms/ARMResourceNotFoundFix"
	internalErrorMessage                    = "Encountered internal server error."
	defaultMissingAuthorizationHeader       = "Authentication failed. The 'Authorization' header is missing."
	defaultInvalidAuthorizationHeaderFormat = "Authentication failed. The 'Authorization' header is provided in an invalid format."
)

// MissingAPIVersionParameter is the 400 for a request without ?api-version=.
func MissingAPIVersionParameter() *Error {
	return NewError(http.StatusBadRequest, CodeMissingAPIVersionParameter,
		"The api-version query parameter (?api-version=) is required for all requests.")
}

// InvalidAPIVersionParameter is the 400 ARM itself answers (resource groups, subscriptions,
// deployments) for an unsupported api-version. supported is listed comma-joined, as ARM does.
func InvalidAPIVersionParameter(apiVersion string, supported []string) *Error {
	return NewError(http.StatusBadRequest, CodeInvalidAPIVersionParameter, fmt.Sprintf(
		"The api-version '%s' is invalid. The supported versions are '%s'.", apiVersion, strings.Join(supported, ",")))
}

// NoRegisteredProviderFound is the 400 ARM answers for an api-version a resource provider's type
// does not support. resourceType is the type without namespace, as ARM prints it
// ("userAssignedIdentities"); lists are joined with ", " as ARM does.
func NoRegisteredProviderFound(location, apiVersion, resourceType string, supportedVersions, supportedLocations []string) *Error {
	return NewError(http.StatusBadRequest, CodeNoRegisteredProviderFound, fmt.Sprintf(
		"No registered resource provider found for location '%s' and API version '%s' for type '%s'. The supported api-versions are '%s'. The supported locations are '%s'.",
		location, apiVersion, resourceType, strings.Join(supportedVersions, ", "), strings.Join(supportedLocations, ", ")))
}

// ResourceNotFound is the 404 for a missing resource: "The Resource
// 'Microsoft.ManagedIdentity/userAssignedIdentities/id1' under resource group 'rg' was not
// found. ..."; child resources print their whole path
// ('Microsoft.ManagedIdentity/userAssignedIdentities/id1/federatedIdentityCredentials/f').
// Resources outside a resource group omit the "under resource group" clause.
func ResourceNotFound(id armid.ResourceID) *Error {
	var b strings.Builder
	b.WriteString(id.Provider)
	for i := range min(len(id.Types), len(id.Names)) {
		b.WriteString("/" + id.Types[i] + "/" + id.Names[i])
	}
	if id.ResourceGroup != "" {
		return NewError(http.StatusNotFound, CodeResourceNotFound, fmt.Sprintf(
			"The Resource '%s' under resource group '%s' was not found. %s", b.String(), id.ResourceGroup, resourceNotFoundHelp))
	}
	return NewError(http.StatusNotFound, CodeResourceNotFound, fmt.Sprintf(
		"The Resource '%s' was not found. %s", b.String(), resourceNotFoundHelp))
}

// ResourceGroupNotFound is the 404 ARM's front door answers for a missing resource group
// (written with x-ms-failure-cause: gateway).
func ResourceGroupNotFound(resourceGroup string) *Error {
	return NewError(http.StatusNotFound, CodeResourceGroupNotFound, fmt.Sprintf(
		"Resource group '%s' could not be found.", resourceGroup))
}

// SubscriptionNotFound is the 404 for an unknown subscription.
func SubscriptionNotFound(subscriptionID string) *Error {
	return NewError(http.StatusNotFound, CodeSubscriptionNotFound, fmt.Sprintf(
		"The subscription '%s' could not be found.", subscriptionID))
}

// AuthorizationFailed is the 403 for a caller without a role granting action at scope.
// clientID is the caller's app id (or UPN for a user), objectID its oid.
func AuthorizationFailed(clientID, objectID, action, scope string) *Error {
	return NewError(http.StatusForbidden, CodeAuthorizationFailed, fmt.Sprintf(
		"The client '%s' with object id '%s' does not have authorization to perform action '%s' over scope '%s' or the scope is invalid. If access was recently granted, please refresh your credentials.",
		clientID, objectID, action, scope))
}

// LinkedAuthorizationFailed is the 403 for a caller allowed action on scope but not the linked
// actions on the linked scopes, e.g. attaching a user-assigned identity without
// Microsoft.ManagedIdentity/userAssignedIdentities/assign/action on it. linkedActions and
// linkedScopes pair up ("respectively") and are comma-joined.
func LinkedAuthorizationFailed(clientID, objectID, action, scope string, linkedActions, linkedScopes []string) *Error {
	return NewError(http.StatusForbidden, CodeLinkedAuthorizationFailed, fmt.Sprintf(
		"The client '%s' with object id '%s' has permission to perform action '%s' on scope '%s'; however, it does not have permission to perform action(s) '%s' on the linked scope(s) '%s' (respectively) or the linked scope(s) are invalid.",
		clientID, objectID, action, scope, strings.Join(linkedActions, ","), strings.Join(linkedScopes, ",")))
}

// AuthenticationFailed is a 401 for a request whose Authorization header is unusable. An empty
// message gives ARM's text for a missing header.
func AuthenticationFailed(message string) *Error {
	if message == "" {
		message = defaultMissingAuthorizationHeader
	}
	return NewError(http.StatusUnauthorized, CodeAuthenticationFailed, message)
}

// AuthenticationHeaderInvalid is ARM's 401 for an Authorization header that is not "Bearer <token>".
func AuthenticationHeaderInvalid() *Error {
	return AuthenticationFailed(defaultInvalidAuthorizationHeaderFormat)
}

// InvalidAuthenticationToken is the 401 for a token that fails validation; message says why
// (an empty one gives "The access token is invalid.").
func InvalidAuthenticationToken(message string) *Error {
	if message == "" {
		message = "The access token is invalid."
	}
	return NewError(http.StatusUnauthorized, CodeInvalidAuthenticationToken, message)
}

// ExpiredAuthenticationToken is ARM's 401 for an expired token; times print as ARM prints them.
func ExpiredAuthenticationToken(expiry, now time.Time) *Error {
	const layout = "1/2/2006 3:04:05 PM"
	return NewError(http.StatusUnauthorized, CodeExpiredAuthenticationToken, fmt.Sprintf(
		"The access token expiry UTC time '%s' is earlier than current UTC time '%s'.",
		expiry.UTC().Format(layout), now.UTC().Format(layout)))
}

// InvalidAuthenticationTokenAudience is the 401 for a token issued to another resource.
func InvalidAuthenticationTokenAudience(audience string, allowed []string) *Error {
	quoted := make([]string, len(allowed))
	for i, a := range allowed {
		quoted[i] = "'" + a + "'"
	}
	return NewError(http.StatusUnauthorized, CodeInvalidAuthenticationTokenAudience, fmt.Sprintf(
		"The access token has been obtained for wrong audience or resource '%s'. It should exactly match with one of the allowed audiences %s.",
		audience, strings.Join(quoted, ",")))
}

// InvalidAuthenticationTokenTenant is the 401 for a token from a tenant other than the
// subscription's. authority is the login URL the client should use ({login}/{tenant}).
func InvalidAuthenticationTokenTenant(issuer, tenantID, authority string) *Error {
	return NewError(http.StatusUnauthorized, CodeInvalidAuthenticationTokenTenant, fmt.Sprintf(
		"The access token is from the wrong issuer '%s'. It must match the tenant '%s' associated with this subscription. Please use the authority (URL) '%s' to get the token.",
		issuer, tenantID, authority))
}

// InvalidRequestContent is the 400 for a body that does not deserialize. detail is what was wrong.
func InvalidRequestContent(detail string) *Error {
	return NewError(http.StatusBadRequest, CodeInvalidRequestContent, fmt.Sprintf(
		"The request content was invalid and could not be deserialized: '%s'.", detail))
}

// InvalidIdentityID is the 400 for malformed user-assigned identity IDs.
func InvalidIdentityID(ids []string) *Error {
	e := armid.InvalidIdentityIDs(ids)
	return NewError(http.StatusBadRequest, e.Code, e.Message)
}

// RoleAssignmentExists is the 409 for a role assignment with the same principal, role and scope
// as an existing one under another name.
func RoleAssignmentExists() *Error {
	return NewError(http.StatusConflict, CodeRoleAssignmentExists, "The role assignment already exists.")
}

// PrincipalNotFound is the 400 for a role assignment to a principal the directory does not have.
func PrincipalNotFound(principalID, tenantID string) *Error {
	return NewError(http.StatusBadRequest, CodePrincipalNotFound, fmt.Sprintf(
		"Principal %s does not exist in the directory %s. Check that you have the correct principal ID. If you are creating this principal and then immediately assigning a role, this error might be related to a replication delay. In this case, set the role assignment principalType property to a value, such as ServicePrincipal, User, or Group. See https://aka.ms/docs-principaltype",
		principalID, tenantID))
}

// BadRequest is a generic 400.
func BadRequest(message string) *Error {
	return NewError(http.StatusBadRequest, CodeBadRequest, message)
}

// MethodNotAllowed is the 405 for a method the resource does not support.
func MethodNotAllowed(method string) *Error {
	return NewError(http.StatusMethodNotAllowed, CodeMethodNotAllowed, fmt.Sprintf(
		"The requested resource does not support http method '%s'.", method))
}

// Conflict is a generic 409 (e.g. concurrent writes to one identity's federated credentials).
func Conflict(message string) *Error {
	return NewError(http.StatusConflict, CodeConflict, message)
}

// InternalServerError is the 500 for mint's own failures, never for bad client input. The
// message names the correlation id so an operator can find the logged cause; it says nothing
// else about it.
func InternalServerError(correlationID string) *Error {
	msg := internalErrorMessage
	if correlationID != "" {
		msg += " Diagnostic information: request correlation id '" + correlationID + "'."
	}
	return NewError(http.StatusInternalServerError, CodeInternalServerError, msg)
}

// ServiceUnavailable is the 503 for a request mint could not serve because its store did not
// answer (an outage, a full disk, an authorization whose role assignments could not be read):
// the client may retry (WriteError adds Retry-After), where a 403 or 500 would have told it
// something false.
func ServiceUnavailable(correlationID string) *Error {
	msg := "The request could not be served because mint's store did not answer; retry later."
	if correlationID != "" {
		msg += " Diagnostic information: request correlation id '" + correlationID + "'."
	}
	return NewError(http.StatusServiceUnavailable, CodeServiceUnavailable, msg)
}

// AsError turns an error from the packages below into the ARM error to answer with: *Error as
// is, the validation errors of armid and identityblock as 400s with their own codes, anything
// else as InternalServerError (the caller logs the cause).
func AsError(err error) *Error {
	var (
		e  *Error
		ie *armid.Error
		be *identityblock.Error
	)
	switch {
	case err == nil:
		return nil
	case errors.As(err, &e):
		return e
	case errors.As(err, &ie):
		return NewError(http.StatusBadRequest, ie.Code, ie.Message)
	case errors.As(err, &be):
		return NewError(http.StatusBadRequest, be.Code, be.Message)
	}
	return InternalServerError("")
}

// WrongTokenTenant is ARM's 401 for a token from another tenant than the subscription's
// (InvalidAuthenticationTokenTenant, with ARM's wording).
func WrongTokenTenant(tokenTenant, subscriptionTenant string) *Error {
	return NewError(http.StatusUnauthorized, "InvalidAuthenticationTokenTenant", fmt.Sprintf(
		"The access token is from the wrong issuer 'https://sts.windows.net/%s/'. It must match the tenant "+
			"'https://sts.windows.net/%s/' associated with this subscription. Please use the authority (URL) "+
			"'https://login.windows.net/%s' to get the token.", tokenTenant, subscriptionTenant, subscriptionTenant))
}
