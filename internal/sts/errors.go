package sts

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/mint-id/mint/internal/authz"
	"github.com/mint-id/mint/internal/store"
)

// Error is a refusal in Entra's terms: an HTTP status, an OAuth error code, an AADSTS number and
// a description a user can act on. Every error the STS answers goes through writeError, which
// adds the trace and correlation lines of Entra's error envelope.
type Error struct {
	Status int    // HTTP status
	Err    string // OAuth error: invalid_request, invalid_client, unauthorized_client, ...
	Code   int    // AADSTS number; 0 for errors without one
	// Description says what is wrong, without the "AADSTSnnn: " prefix and the trace lines.
	Description string
	// RetryAfter, when set, is sent as the Retry-After header (whole seconds) of a throttling answer.
	RetryAfter time.Duration
}

// NewError returns an *Error; FederatedVerifier implementations use it for their refusals.
func NewError(status int, oauthErr string, code int, format string, args ...any) *Error {
	return &Error{Status: status, Err: oauthErr, Code: code, Description: fmt.Sprintf(format, args...)}
}

func (e *Error) Error() string {
	if e.Code == 0 {
		return e.Err + ": " + e.Description
	}
	return e.AADSTS() + ": " + e.Description
}

// AADSTS returns "AADSTSnnnn", or "" when the error has no code.
func (e *Error) AADSTS() string {
	if e.Code == 0 {
		return ""
	}
	return "AADSTS" + strconv.Itoa(e.Code)
}

// Entra's codes used by the STS.
const (
	codeServerError            = 50000
	codeTransientError         = 90033
	codeTenantNotFound         = 90002
	codeMalformedBody          = 90014
	codeTenantInvalid          = 900023
	codeMissingParameter       = 900144
	codeMethodNotAllowed       = 900561
	codeMalformedRequest       = 9002313
	codeNoTenant               = 50059
	codeUnsupportedGrant       = 70003
	codeClientNotFound         = 700016
	codeNoClientCredential     = 7000218
	codeCrossOriginNotSPA      = 9002326
	codeInvalidSecret          = 7000215
	codeSecretExpired          = 7000222
	codeInvalidClient          = 70002
	codeResourceNotFound       = 500011
	codeInvalidScopeDefault    = 1002012
	codeInvalidScope           = 70011
	codeInvalidInstance        = 50049
	codeJWTMalformed           = 50027
	codeUnsupportedAlg         = 5002738
	codeAssertionClientID      = 700021
	codeAssertionSignature     = 700027
	codeAssertionAudience      = 700023
	codeAssertionTime          = 700024
	codeAssertionReplay        = 50013
	codeNoFederatedRecord      = 70021
	supportedAlgorithmsMessage = "RS256, RS384, RS512, PS256, PS384, PS512"
)

// errServer is the error for a failure of mint itself, err (nil when there is none to tell):
// while the store is unavailable (store.ErrUnavailable, authz.ErrUnavailable), Entra's transient
// error, 503 temporarily_unavailable with AADSTS90033 ("A transient error has occurred. Please
// try again.") and Retry-After, which MSAL and the SDKs retry; otherwise 500 server_error.
func errServer(err error) *Error {
	if errors.Is(err, store.ErrUnavailable) || errors.Is(err, authz.ErrUnavailable) {
		return &Error{Status: http.StatusServiceUnavailable, Err: "temporarily_unavailable", Code: codeTransientError,
			Description: "A transient error has occurred. Please try again. (mint's store did not answer.)"}
	}
	return &Error{Status: http.StatusInternalServerError, Err: "server_error", Code: codeServerError,
		Description: "There was an error issuing a token. Please try again; if the problem persists, the server's log has the details under this trace ID."}
}

func errMethod(allowed, got string) *Error {
	return NewError(http.StatusBadRequest, "invalid_request", codeMethodNotAllowed,
		"The endpoint only accepts %s requests. Received a %s request.", allowed, got)
}

func errTenantNotFound(seg string) *Error {
	return NewError(http.StatusBadRequest, "invalid_request", codeTenantNotFound,
		"Tenant '%s' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud. "+
			"Check with your subscription administrator, this may happen if there are no active subscriptions for the tenant.", seg)
}

func errTenantInvalid(seg string) *Error {
	return NewError(http.StatusBadRequest, "invalid_request", codeTenantInvalid,
		"Specified tenant identifier '%s' is neither a valid DNS name, nor a valid external domain.", seg)
}

func errNoTenant(seg string) *Error {
	return NewError(http.StatusBadRequest, "invalid_request", codeNoTenant,
		"No tenant-identifying information found in either the request or implied by any provided credentials. "+
			"The client credentials flow needs a tenant: use the tenant ID or domain instead of '%s' in the authority.", seg)
}

func errMissingParameter(name string) *Error {
	return NewError(http.StatusBadRequest, "invalid_request", codeMissingParameter,
		"The request body must contain the following parameter: '%s'.", name)
}

func errMalformed(format string, args ...any) *Error {
	return NewError(http.StatusBadRequest, "invalid_request", codeMalformedRequest,
		"Invalid request. Request is malformed or invalid. "+format, args...)
}

func errClientNotFound(clientID, tenantName string) *Error {
	return NewError(http.StatusBadRequest, "unauthorized_client", codeClientNotFound,
		"Application with identifier '%s' was not found in the directory '%s'. This can happen if the application has not been "+
			"installed by the administrator of the tenant or consented to by any user in the tenant. "+
			"You may have sent your authentication request to the wrong tenant.", clientID, tenantName)
}

func errResourceNotFound(resource, tenantName string) *Error {
	return NewError(http.StatusBadRequest, "invalid_resource", codeResourceNotFound,
		"The resource principal named %s was not found in the tenant named %s. This can happen if the application has not been "+
			"installed by the administrator of the tenant or consented to by any user in the tenant. "+
			"You might have sent your authentication request to the wrong tenant.", resource, tenantName)
}

func tenantName(displayName, id string) string {
	if displayName != "" {
		return displayName
	}
	return id
}

// errorBody is Entra's error envelope, fields in Entra's order.
type errorBody struct {
	Error            string `json:"error"`
	ErrorDescription string `json:"error_description"`
	ErrorCodes       []int  `json:"error_codes,omitempty"`
	Timestamp        string `json:"timestamp"`
	TraceID          string `json:"trace_id"`
	CorrelationID    string `json:"correlation_id"`
	ErrorURI         string `json:"error_uri,omitempty"`
}

// entraTimestamp is the format of Entra's timestamp field and description line.
const entraTimestamp = "2006-01-02 15:04:05Z"

// writeError answers e in Entra's envelope. The description carries the trace, correlation and
// timestamp lines separated by CRLF, as Entra's does.
func (s *Server) writeError(w http.ResponseWriter, e *Error, traceID, correlationID string, now time.Time) {
	if correlationID == "" {
		correlationID = newUUID()
	}
	ts := now.UTC().Format(entraTimestamp)
	var desc strings.Builder
	if e.Code != 0 {
		desc.WriteString(e.AADSTS())
		desc.WriteString(": ")
	}
	desc.WriteString(e.Description)
	desc.WriteString("\r\nTrace ID: ")
	desc.WriteString(traceID)
	desc.WriteString("\r\nCorrelation ID: ")
	desc.WriteString(correlationID)
	desc.WriteString("\r\nTimestamp: ")
	desc.WriteString(ts)
	body := errorBody{
		Error:            e.Err,
		ErrorDescription: desc.String(),
		Timestamp:        ts,
		TraceID:          traceID,
		CorrelationID:    correlationID,
	}
	if e.Code != 0 {
		body.ErrorCodes = []int{e.Code}
		body.ErrorURI = s.baseURL + "/error?code=" + strconv.Itoa(e.Code)
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(body) // a struct of strings and ints cannot fail to encode
	h := w.Header()
	setNoStoreHeaders(h, traceID)
	switch {
	case e.RetryAfter > 0:
		h["Retry-After"] = []string{strconv.FormatInt(int64((e.RetryAfter+time.Second-1)/time.Second), 10)}
	case e.Status == http.StatusServiceUnavailable:
		h["Retry-After"] = []string{store.UnavailableRetryAfter}
	}
	w.WriteHeader(e.Status)
	_, _ = w.Write(buf.Bytes())
}

func setNoStoreHeaders(h http.Header, traceID string) {
	h["Content-Type"] = []string{"application/json; charset=utf-8"}
	h["Cache-Control"] = []string{"no-store, no-cache"}
	h["Pragma"] = []string{"no-cache"}
	h["X-Content-Type-Options"] = []string{"nosniff"}
	h["X-Ms-Request-Id"] = []string{traceID}
}

// newUUID makes request (trace) and correlation ids. A request's trace id is also the id of its
// sign-in log entry, the log's primary key: version 7 UUIDs begin with the time, so each batch of
// entries lands at the end of that index instead of on a random page per entry (with random
// ids, two thirds of the pages a batch wrote were the key's). To clients they are GUIDs, as
// Entra's request ids are.
func newUUID() string {
	if id, err := uuid.NewV7(); err == nil {
		return id.String()
	}
	return uuid.NewString()
}

// correlationFromHeader returns the client-request-id header when it is a GUID.
func correlationFromHeader(r *http.Request) string {
	if v := r.Header.Get("Client-Request-Id"); isGUID(v) {
		return v
	}
	return ""
}

// Entra's codes for people's sign-in.
const (
	codeInvalidPassword     = 50126
	codeLocked              = 50053
	codeDisabled            = 50057
	codePasswordExpired     = 50055
	codeGrantRevoked        = 50173
	codeCodeRedeemed        = 54005
	codePKCEMismatch        = 501481
	codeGrantExpired        = 70008
	codeGrantInvalid        = 70000
	codePublicClientSecret  = 700025
	codeRedirectMismatch    = 50011
	codeUserNotInTenant     = 50020
	codeLoginRequired       = 50058
	codeInteractionRequired = 16000
	codePending             = 70016
	codeDeviceExpired       = 70020
	codeBadDeviceCode       = 70018
	codeDeclined            = 65004
	codeNoRefreshScope      = 70011
	codeUnsupportedResponse = 700054
	codeRefreshClient       = 70000
)

func errInvalidPassword() *Error {
	return NewError(http.StatusBadRequest, "invalid_grant", codeInvalidPassword,
		"Error validating credentials due to invalid username or password.")
}

// codeThrottled is Entra's answer to a user-facing request it throttles (MSAL documents it:
// https://learn.microsoft.com/entra/msal/dotnet/advanced/client-and-server-throttling).
const codeThrottled = 50196

// errThrottled answers a password sign-in refused because too many password checks are already
// waiting (a password spray): 429 with Retry-After, which MSAL honours for every flow, and
// Entra's user-facing throttling code. It depends on the server's load only, not on the account.
func errThrottled(retryAfter time.Duration) *Error {
	e := NewError(http.StatusTooManyRequests, "invalid_grant", codeThrottled,
		"The server terminated an operation because it encountered a loop while processing a request. "+
			"(mint: too many password sign-ins are waiting for a check; retry after the Retry-After interval.)")
	e.RetryAfter = retryAfter
	return e
}

// throttled reports whether err is a People implementation's "too busy, retry after" refusal,
// and answers it.
func throttled(err error) (*Error, bool) {
	var busy interface{ RetryAfter() time.Duration }
	if !errors.As(err, &busy) {
		return nil, false
	}
	return errThrottled(busy.RetryAfter()), true
}

func errLocked() *Error {
	return NewError(http.StatusBadRequest, "invalid_grant", codeLocked,
		"Your account is locked because you've tried to sign in too many times with an incorrect user ID or password. Wait a minute and try again.")
}

func errUserDisabled() *Error {
	return NewError(http.StatusBadRequest, "invalid_grant", codeDisabled,
		"The user account is disabled. The account has been disabled by an administrator.")
}

func errPasswordExpired() *Error {
	return NewError(http.StatusBadRequest, "invalid_grant", codePasswordExpired,
		"The password is expired. The user must change it at the next sign-in; an administrator can reset it with forceChangePasswordNextSignIn false.")
}

func errGrantRevoked() *Error {
	return NewError(http.StatusBadRequest, "invalid_grant", codeGrantRevoked,
		"The provided grant has expired due to it being revoked, a fresh auth token is needed. The user might have changed or reset their password. "+
			"The grant was issued before the user's sessions were revoked (password reset, account disabled, or sessions revoked).")
}

func errGrantInvalid(what string) *Error {
	return NewError(http.StatusBadRequest, "invalid_grant", codeGrantInvalid,
		"Provided grant is invalid or malformed. The %s is not one this token service issued, or it was altered.", what)
}

func errGrantExpired(what string) *Error {
	return NewError(http.StatusBadRequest, "invalid_grant", codeGrantExpired,
		"The provided %s has expired. Send a new interactive authorization request for this user and resource.", what)
}

func errPublicClientSecret() *Error {
	return NewError(http.StatusUnauthorized, "invalid_client", codePublicClientSecret,
		"Client is public so neither 'client_assertion' nor 'client_secret' should be presented.")
}

func errUserNotInTenant(upn, tenant string) *Error {
	return NewError(http.StatusBadRequest, "invalid_grant", codeUserNotInTenant,
		"User account '%s' from identity provider does not exist in tenant '%s' and cannot access the application in that tenant.", upn, tenant)
}
