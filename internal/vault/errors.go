package vault

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"

	"github.com/mint-id/mint/internal/store"
)

// Error is Key Vault's error body, {"error":{"code","message","innererror"?:{"code"}}}
// (https://learn.microsoft.com/azure/key-vault/general/rest-error-codes). Status is the HTTP status it is answered with.
type Error struct {
	Code       string      `json:"code"`
	Message    string      `json:"message"`
	InnerError *InnerError `json:"innererror,omitempty"`

	Status int `json:"-"`
}

// InnerError is the more specific code some errors carry (ForbiddenByRbac, SecretDisabled ...).
type InnerError struct {
	Code string `json:"code"`
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

// ErrorResponse is the envelope an Error is written in.
type ErrorResponse struct {
	Error *Error `json:"error"`
}

// Key Vault error codes.
const (
	CodeUnauthorized                  = "Unauthorized"
	CodeForbidden                     = "Forbidden"
	CodeBadParameter                  = "BadParameter"
	CodeSecretNotFound                = "SecretNotFound"
	CodeConflict                      = "Conflict"
	CodeObjectIsDeletedButRecoverable = "ObjectIsDeletedButRecoverable"
	CodeSecretDisabled                = "SecretDisabled"
	CodeSecretExpired                 = "SecretExpired"
	CodeSecretNotYetValid             = "SecretNotYetValid"
	CodeForbiddenByRbac               = "ForbiddenByRbac"
	CodeForbiddenByPolicy             = "ForbiddenByPolicy"
	CodeVaultNotFound                 = "VaultNotFound"
	CodeNotFound                      = "NotFound"
	CodeMethodNotAllowed              = "MethodNotAllowed"
	CodeRequestTooLarge               = "RequestEntityTooLarge"
	CodeInternalServerError           = "InternalServerError"
	CodeServiceUnavailable            = "ServiceUnavailable"
)

const (
	latestAPIVersion          = "2026-04-01"
	secretNotFoundHelp        = "If you recently deleted this secret you may be able to recover it using the correct recovery command. For help resolving this issue, please see https://go.microsoft.com/fwlink/?linkid=2125182"
	missingTokenMessage       = "AKV10000: Request is missing a Bearer or PoP token."
	forbiddenByPolicyHelpLink = "For help resolving this issue, please see https://go.microsoft.com/fwlink/?linkid=2125287"
)

func newError(status int, code, message string) *Error {
	return &Error{Status: status, Code: code, Message: message}
}

func (e *Error) withInner(code string) *Error {
	c := *e
	c.InnerError = &InnerError{Code: code}
	return &c
}

func badParameter(message string) *Error {
	return newError(http.StatusBadRequest, CodeBadParameter, message)
}

func invalidName(name string) *Error {
	return badParameter("The request URI contains an invalid name: " + name)
}

func invalidVersion(version string) *Error {
	return badParameter("The request URI contains an invalid version: " + version + ". A secret version is 32 hexadecimal characters.")
}

func unknownAPIVersion(v string) *Error {
	return badParameter(fmt.Sprintf("The specified version (%s) is not recognized. Consider using the latest supported version (%s).", v, latestAPIVersion))
}

func missingAPIVersion() *Error {
	return badParameter("The api-version query parameter is missing. Consider using the latest supported version (" + latestAPIVersion + ").")
}

func secretNotFound(name, version string) *Error {
	id := name
	if version != "" {
		id += "/" + version
	}
	return newError(http.StatusNotFound, CodeSecretNotFound,
		"A secret with (name/id) "+id+" was not found in this key vault. "+secretNotFoundHelp)
}

func deletedSecretNotFound(name string) *Error {
	return newError(http.StatusNotFound, CodeSecretNotFound, "Deleted Secret not found: "+name)
}

func deletedButRecoverable(name string) *Error {
	return newError(http.StatusConflict, CodeConflict, "Secret "+name+
		" is currently in a deleted but recoverable state, and its name cannot be reused; in this state, the secret can only be recovered or purged.").
		withInner(CodeObjectIsDeletedButRecoverable)
}

func secretExists(name string) *Error {
	return newError(http.StatusConflict, CodeConflict, "Secret "+name+
		" already exists in this key vault. A backup can only be restored under a name that is not in use: delete and purge the secret first.")
}

func secretDisabled() *Error {
	return newError(http.StatusForbidden, CodeForbidden, "Operation get is not allowed on a disabled secret.").withInner(CodeSecretDisabled)
}

func secretExpired() *Error {
	return newError(http.StatusForbidden, CodeForbidden, "Operation get is not allowed on a expired secret.").withInner(CodeSecretExpired)
}

func secretNotYetValid() *Error {
	return newError(http.StatusForbidden, CodeForbidden, "Operation get is not allowed on a not yet valid secret.").withInner(CodeSecretNotYetValid)
}

func purgeProtected(vault vaultRef) *Error {
	return newError(http.StatusForbidden, CodeForbidden, "Operation \"purge\" is not allowed because purge protection is enabled for this vault. "+
		"Key Vault service will automatically purge it after the retention period has passed.\r\nVault: "+vault.String()+"\r\n")
}

func unauthorized(message string) *Error {
	return newError(http.StatusUnauthorized, CodeUnauthorized, message)
}

func vaultNotFound(name string) *Error {
	return newError(http.StatusNotFound, CodeVaultNotFound, "No vault named '"+name+
		"' exists in this mint installation. Create it with: mint keyvault create --name "+name+" --resource-group <group>")
}

func internalError(requestID string) *Error {
	return newError(http.StatusInternalServerError, CodeInternalServerError,
		"The vault could not answer because of an internal error. Request id: "+requestID+".")
}

// unavailable is the 503 for a decision mint could not make because its store did not answer:
// the client may retry, and the operator finds the cause in the log by the request id.
func unavailable(requestID string) *Error {
	return newError(http.StatusServiceUnavailable, CodeServiceUnavailable,
		"The vault cannot serve the request now because mint's store did not answer; retry later. Request id: "+requestID+".")
}

// vaultRef names a vault in messages as Key Vault does: "<vault>;location=<region>".
type vaultRef struct{ name, location string }

func (v vaultRef) String() string { return v.name + ";location=" + v.location }

const contentTypeJSON = "application/json; charset=utf-8"

// writeJSON writes v with status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		body, _ = json.Marshal(ErrorResponse{Error: internalError(w.Header().Get(headerRequestID))})
	}
	h := w.Header()
	h.Set("Content-Type", contentTypeJSON)
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// writeBody writes a JSON body already rendered (a secret GET's: render.go), in one Write with
// its Content-Length, as writeJSON does.
func writeBody(w http.ResponseWriter, status int, body []byte) {
	h := w.Header()
	h["Content-Type"] = contentTypeJSONHeader
	h["Content-Length"] = []string{strconv.Itoa(len(body))}
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

var contentTypeJSONHeader = []string{contentTypeJSON}

// writeError writes e in Key Vault's envelope.
func writeError(w http.ResponseWriter, e *Error) {
	status := e.Status
	if status == 0 {
		status = http.StatusInternalServerError
	}
	if status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", store.UnavailableRetryAfter)
	}
	writeJSON(w, status, ErrorResponse{Error: e})
}
