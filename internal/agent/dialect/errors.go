package dialect

import (
	"fmt"
	"net/http"
)

// Error is a refusal in a dialect's own shape. Status is always 4xx or 5xx and never 404 or 410:
// IMDS clients retry those for minutes.
type Error struct {
	Kind   Kind
	Status int
	// Code is the OAuth error code (IMDS, Cloud Shell, Arc: "invalid_request", ...), or Service
	// Fabric's error code ("SecretHeaderNotFound", ...). App Service's shape has none.
	Code    string
	Message string
	// RetryAfter, in seconds, is sent as Retry-After when positive (429, 503).
	RetryAfter int
	// versions renders IMDS's api-version error: {"error":Message,"newest-versions":[...]}.
	versions bool
}

func (e *Error) Error() string {
	if e.Code != "" {
		return fmt.Sprintf("%s %d %s: %s", e.Kind, e.Status, e.Code, e.Message)
	}
	return fmt.Sprintf("%s %d: %s", e.Kind, e.Status, e.Message)
}

type shape uint8

const (
	shapeOAuth      shape = iota // {"error":code,"error_description":message}: IMDS, Cloud Shell, Arc
	shapeAppService              // {"statusCode":n,"message":m,"correlationId":id}: App Service, Azure ML
	shapeSF                      // {"error":{"correlationId":id,"code":c,"message":m}}: Service Fabric
)

func (k Kind) shape() shape {
	switch k {
	case AppService, AzureML:
		return shapeAppService
	case ServiceFabric:
		return shapeSF
	}
	return shapeOAuth
}

// withDetail appends mint's own explanation to Azure's message, except for IMDS whose bodies
// clients and scripts match exactly (the agent logs the detail instead).
func withDetail(k Kind, msg, detail string) string {
	if detail == "" || k == IMDS {
		return msg
	}
	return msg + " " + detail
}

func newError(k Kind, status int, oauthCode, sfCode, msg string) *Error {
	code := oauthCode
	switch k.shape() {
	case shapeSF:
		code = sfCode
	case shapeAppService:
		code = ""
	}
	return &Error{Kind: k, Status: status, Code: code, Message: msg}
}

// MetadataRequired is IMDS's answer to a request without "Metadata: true", including the
// SDKs' availability probe, which must be answered at once.
func MetadataRequired(k Kind) *Error {
	return newError(k, http.StatusBadRequest, "invalid_request", "BadRequest", "Required metadata header not specified")
}

// Forwarded refuses a request carrying X-Forwarded-For: IMDS must not be reached through a proxy
// that relays for other machines.
func Forwarded(k Kind) *Error {
	return newError(k, http.StatusBadRequest, "invalid_request", "BadRequest",
		"Requests with an X-Forwarded-For header are not accepted; the identity endpoint must not be reached through a forwarding proxy")
}

// MethodNotAllowed answers a method the dialect does not use.
func MethodNotAllowed(k Kind, method string) *Error {
	return newError(k, http.StatusMethodNotAllowed, "invalid_request", "MethodNotAllowed",
		fmt.Sprintf("The HTTP method %q is not allowed on this endpoint", truncate(method)))
}

// BadAPIVersion refuses a missing or unknown api-version.
func BadAPIVersion(k Kind, v string) *Error {
	switch k {
	case IMDS:
		msg := "Bad request. api-version is invalid or was not specified in the request. For more information refer to aka.ms/azureimds"
		if v == "" {
			msg = "Bad request. api-version was not specified in the request. For more information refer to aka.ms/azureimds"
		}
		return &Error{Kind: k, Status: http.StatusBadRequest, Message: msg, versions: true}
	case ServiceFabric:
		return newError(k, http.StatusBadRequest, "", "InvalidApiVersion",
			fmt.Sprintf("The api-version '%s' is not supported. Supported version is '%s'.", truncate(v), ServiceFabricVersion))
	}
	supported := AppServiceVersion
	switch k {
	case AzureML:
		supported = AzureMLVersion
	case Arc:
		supported = ArcVersions[len(ArcVersions)-2]
	}
	if v == "" {
		return newError(k, http.StatusBadRequest, "invalid_request", "", fmt.Sprintf("The api-version parameter is required. Supported version is '%s'.", supported))
	}
	return newError(k, http.StatusBadRequest, "invalid_request", "",
		fmt.Sprintf("The api-version '%s' is not supported. Supported version is '%s'.", truncate(v), supported))
}

func badQuery(k Kind, p queryProblem, name string) *Error {
	switch p {
	case queryDuplicate:
		return newError(k, http.StatusBadRequest, "invalid_request", "BadRequest",
			fmt.Sprintf("Bad request. The query parameter '%s' is specified more than once", truncate(name)))
	case queryTooMany:
		return newError(k, http.StatusBadRequest, "invalid_request", "BadRequest", "Bad request. Too many query parameters")
	case queryNotUTF8:
		return newError(k, http.StatusBadRequest, "invalid_request", "BadRequest",
			fmt.Sprintf("Bad request. The query parameter '%s' is not valid UTF-8 once percent-decoded", truncate(name)))
	}
	return newError(k, http.StatusBadRequest, "invalid_request", "BadRequest", "Bad request. The query string is not correctly encoded")
}

// MissingResource refuses a request without the resource (audience) parameter.
func MissingResource(k Kind) *Error {
	if k == ServiceFabric {
		return newError(k, http.StatusBadRequest, "", "ArgumentNullOrEmpty", "The parameter 'resource' should not be null or empty string.")
	}
	return newError(k, http.StatusBadRequest, "invalid_request", "", "Required audience parameter not specified")
}

// SelectorConflict refuses two identity selectors in one request.
func SelectorConflict(k Kind) *Error {
	names := "client_id, object_id and msi_res_id"
	switch k {
	case AppService, ServiceFabric:
		names = "client_id, principal_id (object_id) and mi_res_id"
	case AzureML:
		names = "clientid, object_id and mi_res_id"
	}
	return newError(k, http.StatusBadRequest, "invalid_request", "BadRequest",
		fmt.Sprintf("Bad request. Only one of %s may be specified", names))
}

// MissingSecret refuses a request without the dialect's secret header.
func MissingSecret(k Kind) *Error {
	switch k {
	case ServiceFabric:
		return newError(k, http.StatusUnauthorized, "", "SecretHeaderNotFound", "Secret is not found in the request headers.")
	case AppService:
		return newError(k, http.StatusUnauthorized, "", "", "The X-IDENTITY-HEADER header is required; use the value of IDENTITY_HEADER.")
	case AzureML:
		return newError(k, http.StatusUnauthorized, "", "", "The secret header is required; use the value of MSI_SECRET.")
	}
	return newError(k, http.StatusUnauthorized, "unauthorized_client", "", "The request carries no credential")
}

// UnknownSecret refuses a secret that names no registered workload: wrong, or stale because the
// workload's process has exited.
func UnknownSecret(k Kind) *Error {
	const detail = "The secret does not belong to a workload registered with this node's mint agent; it is wrong, or stale because the workload started by 'mint run' has exited."
	switch k {
	case ServiceFabric:
		return newError(k, http.StatusUnauthorized, "", "ManagedIdentityNotFound", "Managed identity not found for the specified application host. "+detail)
	case Arc:
		return newError(k, http.StatusUnauthorized, "unauthorized_client", "", "The key in the Authorization header is not valid; it can be used once, for the challenge that named its file.")
	}
	return newError(k, http.StatusUnauthorized, "unauthorized_client", "", detail)
}

// IdentityNotFound: the requested identity is not attached to the calling resource, or the
// resource has no (such) identity. IMDS's exact body; the others add mint's detail.
func IdentityNotFound(k Kind, detail string) *Error {
	switch k.shape() {
	case shapeAppService:
		return newError(k, http.StatusBadRequest, "", "", withDetail(k, "Unable to load the proper Managed Identity.", detail))
	case shapeSF:
		return newError(k, http.StatusBadRequest, "", "ManagedIdentityNotFound", withDetail(k, "Managed identity not found for the specified application host.", detail))
	}
	return newError(k, http.StatusBadRequest, "invalid_request", "", withDetail(k, "Identity not found", detail))
}

// MultipleIdentities: no selector, no system-assigned identity and several user-assigned ones.
func MultipleIdentities(k Kind, detail string) *Error {
	return newError(k, http.StatusBadRequest, "invalid_request", "ManagedIdentityNotFound", withDetail(k,
		"Multiple user assigned identities exist, please specify the clientId / resourceId of the identity in the token request", detail))
}

// InvalidResource: the audience names no resource application in the tenant. detail is the
// STS's AADSTS500011 text when it gave one.
func InvalidResource(k Kind, resource, detail string) *Error {
	msg := detail
	if msg == "" {
		msg = fmt.Sprintf("AADSTS500011: The resource principal named %s was not found in the tenant. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant.", truncate(resource))
	}
	return newError(k, http.StatusBadRequest, "invalid_resource", "InvalidResource", msg)
}

// Forbidden: this node may not obtain tokens for the resource. The message must never contain
// "unreachable": Go's DefaultAzureCredential would take a 403 carrying it for Docker Desktop's
// proxy and silently move on to the next credential.
func Forbidden(k Kind, detail string) *Error {
	msg := "The node is not allowed to obtain tokens for this resource."
	if k != IMDS && detail != "" {
		msg += " " + detail
	}
	return newError(k, http.StatusForbidden, "access_denied", "Forbidden", msg)
}

// Throttled answers 429 with Retry-After (seconds, at least 1).
func Throttled(k Kind, retryAfter int, detail string) *Error {
	if retryAfter < 1 {
		retryAfter = 1
	}
	e := newError(k, http.StatusTooManyRequests, "too_many_requests", "TooManyRequests", withDetail(k, "Too many requests.", detail))
	e.RetryAfter = retryAfter
	return e
}

// Unavailable: the token service cannot be reached and no cached token is valid; clients retry.
func Unavailable(k Kind, retryAfter int, detail string) *Error {
	e := newError(k, http.StatusServiceUnavailable, "temporarily_unavailable", "ServiceUnavailable",
		withDetail(k, "The managed identity token service is temporarily unavailable.", detail))
	e.RetryAfter = retryAfter
	return e
}

// Internal is the generic failure (IMDS's 500 "unknown").
func Internal(k Kind) *Error {
	return newError(k, http.StatusInternalServerError, "unknown", "InternalServerError", "Failed to retrieve token from the Active directory.")
}

// BadRequest is a 400 with a message of the caller's choosing.
func BadRequest(k Kind, msg string) *Error {
	return newError(k, http.StatusBadRequest, "invalid_request", "BadRequest", msg)
}

// truncate keeps attacker-controlled text in messages short.
func truncate(s string) string {
	const max = 256
	if len(s) > max {
		return s[:max] + "..."
	}
	return s
}
