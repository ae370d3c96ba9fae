package dialect

import (
	"io"
	"net/http"
	"strings"
)

// MaxBodyBytes bounds a Cloud Shell form body.
const MaxBodyBytes = 16 << 10

// ParseIMDS parses an IMDS token request. Checks run in IMDS's order so that the SDKs' probe (a
// GET with no query and no Metadata header) gets "Required metadata header not specified".
// The path has been matched by the caller (any of the "/", "//" and absolute forms).
func ParseIMDS(r *http.Request) (Request, *Error) {
	return parseIMDSLike(IMDS, r, IMDSVersions)
}

// ParseArc parses an Azure Arc (HIMDS) token request: IMDS's rules, Arc's api-versions, and the
// key from "Authorization: Basic <file contents>" (empty on the first, challenge, request).
func ParseArc(r *http.Request) (Request, *Error) {
	req, err := parseIMDSLike(Arc, r, ArcVersions)
	if err != nil {
		return req, err
	}
	if auth, ok := header(r.Header, "Authorization"); ok {
		const prefix = "Basic "
		if len(auth) < len(prefix) || !strings.EqualFold(auth[:len(prefix)], prefix) {
			return req, UnknownSecret(Arc)
		}
		req.Secret = strings.TrimSpace(auth[len(prefix):])
		if req.Secret == "" {
			return req, UnknownSecret(Arc)
		}
	}
	return req, nil
}

func parseIMDSLike(k Kind, r *http.Request, versions []string) (Request, *Error) {
	req := Request{Kind: k}
	if r.Method != http.MethodGet {
		return req, MethodNotAllowed(k, r.Method)
	}
	if _, ok := r.Header["X-Forwarded-For"]; ok {
		return req, Forwarded(k)
	}
	if md, _ := header(r.Header, "Metadata"); md != "true" {
		// IMDS documents the value "in all lower case"; accepting "True" would let a program
		// work against mint and fail in Azure.
		return req, MetadataRequired(k)
	}
	q, problem, dup := parseQuery(r.URL.RawQuery, k == IMDS)
	if problem != queryOK {
		return req, badQuery(k, problem, dup)
	}
	req.APIVersion = q.v[pAPIVersion]
	if !known(versions, req.APIVersion) {
		return req, BadAPIVersion(k, req.APIVersion)
	}
	if req.Resource = q.v[pResource]; req.Resource == "" {
		return req, MissingResource(k)
	}
	var ok bool
	if req.Identity, ok = q.selector(); !ok {
		return req, SelectorConflict(k)
	}
	return req, nil
}

// ParseAppService parses an App Service / Functions / Container Apps 2019-08-01 request.
// A request carrying only the legacy "secret" header is an Azure ML / 2017-09-01 request:
// App Service serves both on one URL (MSI_ENDPOINT = IDENTITY_ENDPOINT), and so does the agent;
// route with IsAzureML.
func ParseAppService(r *http.Request) (Request, *Error) {
	return parseSecretDialect(AppService, r, "X-Identity-Header", AppServiceVersion)
}

// ParseAzureML parses an Azure ML / legacy App Service 2017-09-01 request ("secret" header,
// "clientid"). Go sends no Metadata header, JS does; it is optional.
func ParseAzureML(r *http.Request) (Request, *Error) {
	return parseSecretDialect(AzureML, r, "Secret", AzureMLVersion)
}

// ParseServiceFabric parses a Service Fabric request (its listener is https with a pinned certificate).
func ParseServiceFabric(r *http.Request) (Request, *Error) {
	return parseSecretDialect(ServiceFabric, r, "Secret", ServiceFabricVersion)
}

// IsAzureML reports whether a request to the App Service URL speaks the 2017-09-01 protocol:
// it carries the "secret" header and no X-IDENTITY-HEADER.
func IsAzureML(r *http.Request) bool {
	if _, ok := r.Header["X-Identity-Header"]; ok {
		return false
	}
	_, ok := r.Header["Secret"]
	return ok
}

func parseSecretDialect(k Kind, r *http.Request, secretHeader, version string) (Request, *Error) {
	req := Request{Kind: k}
	if r.Method != http.MethodGet {
		return req, MethodNotAllowed(k, r.Method)
	}
	q, problem, dup := parseQuery(r.URL.RawQuery, false)
	if problem != queryOK {
		return req, badQuery(k, problem, dup)
	}
	var ok bool
	if req.Secret, ok = header(r.Header, secretHeader); !ok || req.Secret == "" {
		return req, MissingSecret(k)
	}
	if req.APIVersion = q.v[pAPIVersion]; req.APIVersion != version {
		return req, BadAPIVersion(k, req.APIVersion)
	}
	if req.Resource = q.v[pResource]; req.Resource == "" {
		return req, MissingResource(k)
	}
	if req.Identity, ok = q.selector(); !ok {
		return req, SelectorConflict(k)
	}
	return req, nil
}

// ParseCloudShell parses a Cloud Shell request: POST with "Metadata: true" and an
// x-www-form-urlencoded body carrying resource (Python adds client_id when asked for one).
// It reads at most MaxBodyBytes of the body.
func ParseCloudShell(r *http.Request) (Request, *Error) {
	req := Request{Kind: CloudShell}
	if r.Method != http.MethodPost {
		return req, MethodNotAllowed(CloudShell, r.Method)
	}
	if md, _ := header(r.Header, "Metadata"); md != "true" { // lower case only, as IMDS
		return req, MetadataRequired(CloudShell)
	}
	var body []byte
	if r.Body != nil {
		var err error
		body, err = io.ReadAll(io.LimitReader(r.Body, MaxBodyBytes+1))
		if err != nil {
			return req, BadRequest(CloudShell, "The request body could not be read")
		}
		if len(body) > MaxBodyBytes {
			return req, BadRequest(CloudShell, "The request body is too large")
		}
	}
	if ct, ok := header(r.Header, "Content-Type"); ok && len(body) > 0 {
		if mt, _, _ := strings.Cut(ct, ";"); !strings.EqualFold(strings.TrimSpace(mt), "application/x-www-form-urlencoded") {
			return req, BadRequest(CloudShell, "The request body must be application/x-www-form-urlencoded")
		}
	}
	q, problem, dup := parseQuery(string(body), false)
	if problem != queryOK {
		return req, badQuery(CloudShell, problem, dup)
	}
	if req.Resource = q.v[pResource]; req.Resource == "" {
		return req, MissingResource(CloudShell)
	}
	var ok bool
	if req.Identity, ok = q.selector(); !ok {
		return req, SelectorConflict(CloudShell)
	}
	return req, nil
}
