package sts

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/mint-id/mint/internal/nodewire"
)

// Version is a token endpoint's or a token's version: V1 (/oauth2/token, "ver":"1.0") or V2
// (/oauth2/v2.0/token, "ver":"2.0").
type Version int

const (
	V1 Version = 1
	V2 Version = 2
)

const (
	// GrantClientCredentials is the client credentials grant of applications.
	GrantClientCredentials = "client_credentials"
)

// TokenRequest is a parsed token request. It holds the client's secret or assertion: never log
// it with %#v or encode it; its String and LogValue redact them.
type TokenRequest struct {
	Endpoint  Version // which token endpoint the request came to
	GrantType string
	ClientID  string
	// ClientSecret came from the form (client_secret_post) or from HTTP Basic
	// (client_secret_basic, then BasicAuth is true).
	ClientSecret string
	BasicAuth    bool
	// ClientAssertion is the client_assertion JWT with surrounding whitespace trimmed.
	ClientAssertion string
	// Scope is the v2 resource scope as sent ("https://vault.azure.net/.default"); empty on v1.
	Scope string
	// Resource is the resource as requested: v1's resource parameter, or v2's scope without its
	// "/.default" suffix. It becomes the aud of a v1 token unchanged.
	Resource string
	// Broker grant only: the ARM id of the resource the workload runs as (mi_host_resource_id),
	// and at most one selector of a user-assigned identity (mi_client_id, mi_object_id,
	// mi_res_id); no selector means the resource's default identity.
	HostResourceID string
	Selector       IdentitySelector
}

// IdentitySelector picks one managed identity of a resource; the zero value is its default
// identity (system-assigned, else its only user-assigned one).
type IdentitySelector struct {
	ClientID, ObjectID, ResourceID string
}

// IsZero reports whether no identity is selected.
func (s IdentitySelector) IsZero() bool { return s == IdentitySelector{} }

func (r TokenRequest) String() string {
	return fmt.Sprintf("TokenRequest{v%d grant=%s client_id=%s resource=%s secret=%t assertion=%t}",
		r.Endpoint, r.GrantType, r.ClientID, r.Resource, r.ClientSecret != "", r.ClientAssertion != "")
}

// GoString keeps %#v from printing the secret.
func (r TokenRequest) GoString() string { return r.String() }

// LogValue keeps slog from printing the secret or the assertion.
func (r TokenRequest) LogValue() slog.Value { return slog.StringValue(r.String()) }

// ReadForm reads an application/x-www-form-urlencoded body of at most maxBytes. A request without
// Content-Type is read as a form too; any other media type is refused with a message that says
// what to send. The query string is not read.
func ReadForm(r *http.Request, maxBytes int64) (url.Values, *Error) {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt := ct
		if i := strings.IndexByte(mt, ';'); i >= 0 {
			mt = mt[:i]
		}
		if !strings.EqualFold(strings.TrimSpace(mt), "application/x-www-form-urlencoded") {
			return nil, NewError(http.StatusBadRequest, "invalid_request", codeMalformedBody,
				"The request body must be sent as 'application/x-www-form-urlencoded'; the request had Content-Type '%s'. "+
					"Send the token request parameters as a form (name=value pairs joined by '&'), not as JSON or multipart.", truncate(ct, 100))
		}
	}
	if r.ContentLength > maxBytes {
		return nil, errBodyTooLarge(maxBytes)
	}
	if r.Body == nil {
		return url.Values{}, nil
	}
	buf := bodyPool.Get().(*bytes.Buffer)
	buf.Reset()
	defer bodyPool.Put(buf)
	if _, err := buf.ReadFrom(io.LimitReader(r.Body, maxBytes+1)); err != nil {
		return nil, NewError(http.StatusBadRequest, "invalid_request", codeMalformedBody,
			"The request body could not be read completely. Send the whole form in the request body.")
	}
	if int64(buf.Len()) > maxBytes {
		return nil, errBodyTooLarge(maxBytes)
	}
	form, err := url.ParseQuery(buf.String())
	if err != nil {
		return nil, NewError(http.StatusBadRequest, "invalid_request", codeMalformedBody,
			"The request body is not valid application/x-www-form-urlencoded (%s). Join name=value pairs with '&' and "+
				"percent-encode each value (a literal '%%' must be sent as %%25, ';' as %%3B).", truncate(err.Error(), 120))
	}
	for k, vs := range form {
		for _, v := range append(vs, k) {
			if !utf8.ValidString(v) {
				return nil, NewError(http.StatusBadRequest, "invalid_request", codeMalformedBody,
					"The request body's parameter '%s' is not valid UTF-8 once percent-decoded. Encode text as UTF-8 before percent-encoding it.",
					truncate(strings.ToValidUTF8(k, "?"), 60))
			}
		}
	}
	return form, nil
}

var bodyPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

func errBodyTooLarge(maxBytes int64) *Error {
	return NewError(http.StatusBadRequest, "invalid_request", codeMalformedBody,
		"The request body is larger than the limit of %d bytes. A token request needs only a few short parameters; "+
			"check that nothing else is being sent in the body.", maxBytes)
}

// singleValued are the parameters that must not appear twice: a second client_id or secret
// could make two parts of the STS read different values.
var singleValued = [...]string{"grant_type", "client_id", "client_secret", "client_assertion", "client_assertion_type", "scope", "resource",
	nodewire.ParamHostResourceID, nodewire.ParamClientID, nodewire.ParamObjectID, nodewire.ParamResourceID}

// ParseTokenRequest checks a token request's form (and its HTTP Basic Authorization header, if
// any) for the endpoint version v. It checks syntax only: who the client is, whether its
// credential is good and whether the resource exists is decided against the directory.
// Unknown parameters (claims, client_info, x-client-*, client-request-id ...) are ignored.
func ParseTokenRequest(v Version, form url.Values, authorization string) (TokenRequest, *Error) {
	req := TokenRequest{Endpoint: v}
	for _, name := range singleValued {
		if len(form[name]) > 1 {
			return req, errMalformed("The parameter '%s' appears more than once; send it once.", name)
		}
	}
	req.GrantType = strings.TrimSpace(form.Get("grant_type"))
	if req.GrantType == "" {
		return req, errMissingParameter("grant_type")
	}
	switch req.GrantType {
	case GrantClientCredentials:
	case nodewire.GrantManagedIdentity:
		req.HostResourceID = strings.TrimSpace(form.Get(nodewire.ParamHostResourceID))
		if req.HostResourceID == "" {
			return req, errMissingParameter(nodewire.ParamHostResourceID)
		}
		req.Selector = IdentitySelector{ClientID: strings.TrimSpace(form.Get(nodewire.ParamClientID)),
			ObjectID: strings.TrimSpace(form.Get(nodewire.ParamObjectID)), ResourceID: strings.TrimSpace(form.Get(nodewire.ParamResourceID))}
		n := 0
		for _, v := range []string{req.Selector.ClientID, req.Selector.ObjectID, req.Selector.ResourceID} {
			if v != "" {
				n++
			}
		}
		if n > 1 {
			return req, errMalformed("Only one of mi_client_id, mi_object_id and mi_res_id may select the managed identity.")
		}
	default:
		return req, NewError(http.StatusBadRequest, "unsupported_grant_type", codeUnsupportedGrant,
			"The app requested an unsupported grant type '%s'. This token service supports the '%s' grant.",
			truncate(req.GrantType, 100), GrantClientCredentials)
	}

	req.ClientID = strings.TrimSpace(form.Get("client_id"))
	req.ClientSecret = form.Get("client_secret")
	if basicID, basicSecret, ok, e := parseBasic(authorization); e != nil {
		return req, e
	} else if ok {
		if req.ClientSecret != "" {
			return req, errMalformed("The client authenticated both with HTTP Basic and with 'client_secret' in the body; use one method.")
		}
		if req.ClientID != "" && !strings.EqualFold(req.ClientID, basicID) {
			return req, errMalformed("The 'client_id' in the body does not match the client id in the HTTP Basic Authorization header.")
		}
		req.ClientID, req.ClientSecret, req.BasicAuth = basicID, basicSecret, true
	}
	if req.ClientID == "" {
		return req, errMissingParameter("client_id")
	}

	if a := form.Get("client_assertion"); a != "" {
		req.ClientAssertion = strings.TrimSpace(a)
		at := strings.TrimSpace(form.Get("client_assertion_type"))
		if at == "" {
			return req, errMissingParameter("client_assertion_type")
		}
		if at != nodewire.AssertionTypeJWTBearer {
			return req, errMalformed("The client_assertion_type '%s' is not supported; use '%s'.", truncate(at, 100), nodewire.AssertionTypeJWTBearer)
		}
		if req.ClientSecret != "" {
			return req, errMalformed("The request carries both a client secret and a client assertion; send one of them.")
		}
		if req.ClientAssertion == "" {
			return req, errMissingParameter("client_assertion")
		}
	}

	if v == V2 {
		scope := form.Get("scope")
		if strings.TrimSpace(scope) == "" {
			return req, errMissingParameter("scope")
		}
		resourceScope, resource, e := resourceFromScope(scope)
		if e != nil {
			return req, e
		}
		req.Scope, req.Resource = resourceScope, resource
	} else {
		req.Resource = strings.TrimSpace(form.Get("resource"))
		if req.Resource == "" {
			return req, errMissingParameter("resource")
		}
	}
	return req, nil
}

const defaultScopeSuffix = "/.default"

// resourceFromScope finds the one "<resource>/.default" scope among v2's space-separated scopes,
// ignoring the OIDC scopes MSAL adds. "https://management.azure.com//.default" gives
// "https://management.azure.com/", "api://x/.default" gives "api://x".
func resourceFromScope(scope string) (resourceScope, resource string, e *Error) {
	n := 0
	for _, s := range strings.Fields(scope) {
		if isOIDCScope(s) {
			continue
		}
		n++
		if n == 1 {
			resourceScope = s
		}
	}
	switch {
	case n == 0:
		return "", "", errScopeNotDefault(strings.TrimSpace(scope))
	case n > 1:
		return "", "", NewError(http.StatusBadRequest, "invalid_scope", codeInvalidScope,
			"The provided value for the input parameter 'scope' is not valid. The scope %s is not valid. "+
				"A client credentials token is for one resource: send exactly one '<resource>/.default' scope.",
			truncate(strings.Join(strings.Fields(scope), " "), 300))
	}
	if len(resourceScope) <= len(defaultScopeSuffix) ||
		!strings.EqualFold(resourceScope[len(resourceScope)-len(defaultScopeSuffix):], defaultScopeSuffix) {
		return "", "", errScopeNotDefault(resourceScope)
	}
	return resourceScope, resourceScope[:len(resourceScope)-len(defaultScopeSuffix)], nil
}

func isOIDCScope(s string) bool {
	return strings.EqualFold(s, "openid") || strings.EqualFold(s, "offline_access") ||
		strings.EqualFold(s, "profile") || strings.EqualFold(s, "email")
}

func errScopeNotDefault(scope string) *Error {
	return NewError(http.StatusBadRequest, "invalid_scope", codeInvalidScopeDefault,
		"The provided value for scope %s is not valid. Client credential flows must have a scope value with /.default "+
			"suffixed to the resource identifier (application ID URI).", truncate(scope, 300))
}

// parseBasic decodes client_secret_basic: base64(urlencode(id) ":" urlencode(secret)) (RFC 6749
// §2.3.1). Authorization headers of other schemes are ignored.
func parseBasic(authorization string) (clientID, secret string, ok bool, e *Error) {
	const prefix = "basic "
	if len(authorization) < len(prefix) || !strings.EqualFold(authorization[:len(prefix)], prefix) {
		return "", "", false, nil
	}
	bad := NewError(http.StatusBadRequest, "invalid_request", codeMalformedRequest,
		"Invalid request. Request is malformed or invalid. The HTTP Basic Authorization header must be "+
			"base64(urlencode(client_id) ':' urlencode(client_secret)).")
	enc := strings.TrimSpace(authorization[len(prefix):])
	raw, err := base64.StdEncoding.DecodeString(enc)
	if err != nil {
		if raw, err = base64.RawStdEncoding.DecodeString(enc); err != nil {
			return "", "", false, bad
		}
	}
	user, pass, found := strings.Cut(string(raw), ":")
	if !found {
		return "", "", false, bad
	}
	if clientID, err = url.QueryUnescape(user); err != nil || clientID == "" {
		return "", "", false, bad
	}
	if secret, err = url.QueryUnescape(pass); err != nil {
		return "", "", false, bad
	}
	return clientID, secret, true, nil
}

// truncate shortens attacker-sized input before it is echoed in a message.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…(" + strconv.Itoa(len(s)) + " bytes)"
}
