package vault

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// operation is one secrets API operation (https://learn.microsoft.com/rest/api/keyvault/secrets/operation-groups).
type operation int

const (
	opSet operation = iota + 1
	opGet
	opList
	opListVersions
	opUpdate
	opDelete
	opGetDeleted
	opListDeleted
	opRecover
	opPurge
	opBackup
	opRestore
)

var operationNames = map[operation]string{
	opSet: "set", opGet: "get", opList: "list", opListVersions: "listversions", opUpdate: "update", opDelete: "delete",
	opGetDeleted: "getdeleted", opListDeleted: "listdeleted", opRecover: "recover", opPurge: "purge", opBackup: "backup",
	opRestore: "restore",
}

func (o operation) String() string { return operationNames[o] }

// route is a parsed request path: the operation, the secret's name and the version ("" for the
// latest, or where the operation has none).
type route struct {
	op      operation
	name    string
	version string
}

// Secret name and size limits (https://learn.microsoft.com/azure/key-vault/general/about-keys-secrets-certificates).
const (
	maxNameLength        = 127
	versionLength        = 32
	maxValueBytes        = 25 * 1024
	maxContentTypeLength = 255
	maxTags              = 15
	maxTagLength         = 256
	maxPageSize          = 25
)

// validName reports whether name is a secret name: 1 to 127 of 0-9, a-z, A-Z and '-'.
func validName(name string) bool {
	if len(name) == 0 || len(name) > maxNameLength {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '-') {
			return false
		}
	}
	return true
}

// validVersion reports whether v is a secret version: 32 hexadecimal characters (any case).
func validVersion(v string) bool {
	if len(v) != versionLength {
		return false
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return true
}

func methodNotAllowed(method, path string) *Error {
	return newError(http.StatusMethodNotAllowed, CodeMethodNotAllowed,
		fmt.Sprintf("The requested resource '%s' does not support the HTTP method '%s'.", path, method))
}

func notServed(path string) *Error {
	return newError(http.StatusNotFound, CodeNotFound, fmt.Sprintf(
		"The requested URI '%s' does not represent any resource on this vault. mint's vaults serve secrets: /secrets and /deletedsecrets.", path))
}

// parseRoute maps a method and a (decoded) path to an operation. Paths sit at the root of the
// vault's host; the latest version is asked for with a trailing slash (GET /secrets/{name}/) or
// without one. It is pure: no I/O, and every error is a Key Vault error to answer with.
func parseRoute(method, path string) (route, *Error) {
	trimmed := strings.Trim(path, "/")
	segs := strings.Split(trimmed, "/")
	if trimmed == "" {
		return route{}, notServed(path)
	}
	collection := strings.ToLower(segs[0])
	if collection != "secrets" && collection != "deletedsecrets" {
		return route{}, notServed(path)
	}
	deleted := collection == "deletedsecrets"
	want := func(r route, methods ...string) (route, *Error) {
		for _, m := range methods {
			if method == m {
				return r, nil
			}
		}
		return route{}, methodNotAllowed(method, path)
	}
	if len(segs) == 1 {
		if deleted {
			return want(route{op: opListDeleted}, http.MethodGet)
		}
		return want(route{op: opList}, http.MethodGet)
	}
	name := segs[1]
	if !deleted && len(segs) == 2 && method == http.MethodPost && strings.EqualFold(name, "restore") {
		return route{op: opRestore}, nil
	}
	if !validName(name) {
		return route{}, invalidName(name)
	}
	if deleted {
		switch {
		case len(segs) == 2:
			switch method {
			case http.MethodGet:
				return route{op: opGetDeleted, name: name}, nil
			case http.MethodDelete:
				return route{op: opPurge, name: name}, nil
			}
			return route{}, methodNotAllowed(method, path)
		case len(segs) == 3 && strings.EqualFold(segs[2], "recover"):
			return want(route{op: opRecover, name: name}, http.MethodPost)
		}
		return route{}, notServed(path)
	}
	if len(segs) == 2 {
		switch method {
		case http.MethodPut:
			return route{op: opSet, name: name}, nil
		case http.MethodGet:
			return route{op: opGet, name: name}, nil
		case http.MethodPatch:
			return route{op: opUpdate, name: name}, nil
		case http.MethodDelete:
			return route{op: opDelete, name: name}, nil
		}
		return route{}, methodNotAllowed(method, path)
	}
	if len(segs) != 3 {
		return route{}, notServed(path)
	}
	third := segs[2]
	switch {
	case strings.EqualFold(third, "versions"):
		return want(route{op: opListVersions, name: name}, http.MethodGet)
	case strings.EqualFold(third, "backup"):
		return want(route{op: opBackup, name: name}, http.MethodPost)
	case !validVersion(third):
		return route{}, invalidVersion(third)
	}
	version := strings.ToLower(third)
	switch method {
	case http.MethodGet:
		return route{op: opGet, name: name, version: version}, nil
	case http.MethodPatch:
		return route{op: opUpdate, name: name, version: version}, nil
	}
	return route{}, methodNotAllowed(method, path)
}

// knownAPIVersions are the secrets API versions the SDKs send (https://learn.microsoft.com/rest/api/keyvault/key-vault-versions). Dated versions
// from 2025 on are accepted too, so that a newer client keeps working.
var knownAPIVersions = map[string]bool{
	"7.0": true, "7.1": true, "7.2": true, "7.3": true, "7.4": true, "7.5": true, "7.6": true,
	"7.3-preview": true, "7.4-preview.1": true, "7.5-preview.1": true, "7.6-preview.1": true, "7.6-preview.2": true,
}

// checkAPIVersion validates the api-version query parameter.
func checkAPIVersion(q url.Values) (string, *Error) {
	return checkAPIVersionValue(q.Get("api-version"))
}

// queryOfAPIVersionOnly reads the query every SDK request carries, "api-version=V" and nothing
// else, without building url.Values: V is its only value when it holds nothing url.ParseQuery
// would decode or split on. ok is false for any other query, which goes through url.ParseQuery.
func queryOfAPIVersionOnly(raw string) (v string, ok bool) {
	v, ok = strings.CutPrefix(raw, "api-version=")
	if !ok || strings.ContainsAny(v, "&;%+=") {
		return "", false
	}
	return v, true
}

func checkAPIVersionValue(v string) (string, *Error) {
	if v == "" {
		return "", missingAPIVersion()
	}
	if knownAPIVersions[v] || datedAPIVersion(v) {
		return v, nil
	}
	return "", unknownAPIVersion(v)
}

// datedAPIVersion accepts YYYY-MM-DD and YYYY-MM-DD-preview from 2025-01-01 on.
func datedAPIVersion(v string) bool {
	v = strings.TrimSuffix(v, "-preview")
	if len(v) != 10 || v[4] != '-' || v[7] != '-' {
		return false
	}
	y, err1 := strconv.Atoi(v[:4])
	m, err2 := strconv.Atoi(v[5:7])
	d, err3 := strconv.Atoi(v[8:])
	return err1 == nil && err2 == nil && err3 == nil && y >= 2025 && y <= 2099 && m >= 1 && m <= 12 && d >= 1 && d <= 31 &&
		!strings.ContainsAny(v, "+ ")
}

// pageParams reads maxresults (1..25, default 25) and $skiptoken.
func pageParams(q url.Values) (size int, token string, e *Error) {
	size = maxPageSize
	if s := q.Get("maxresults"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > maxPageSize {
			return 0, "", badParameter(fmt.Sprintf("The value '%s' of maxresults is invalid: it must be an integer from 1 to %d.", s, maxPageSize))
		}
		size = n
	}
	return size, q.Get("$skiptoken"), nil
}

// Skip tokens are opaque to clients: "n:<name key>" continues a list of secrets after that name,
// "s:<seq>" a list of versions after that seq.

func encodeSkipToken(kind byte, v string) string {
	return base64.RawURLEncoding.EncodeToString([]byte{kind, ':'}) + "." + base64.RawURLEncoding.EncodeToString([]byte(v))
}

func decodeSkipToken(kind byte, token string) (string, *Error) {
	bad := invalidSkipToken(token)
	head, body, ok := strings.Cut(token, ".")
	if !ok {
		return "", bad
	}
	// One spelling per token: strict refuses other trailing bits, and the decoder skips CR and
	// LF even when strict.
	h, err1 := base64.RawURLEncoding.Strict().DecodeString(head)
	b, err2 := base64.RawURLEncoding.Strict().DecodeString(body)
	if err1 != nil || err2 != nil || strings.ContainsAny(token, "\r\n") || len(h) != 2 || h[0] != kind || h[1] != ':' {
		return "", bad
	}
	return string(b), nil
}

// invalidSkipToken refuses a $skiptoken this vault did not write.
func invalidSkipToken(token string) *Error {
	return badParameter("The $skiptoken '" + token + "' is invalid. Use the nextLink of the previous page unchanged.")
}

func decodeSeqToken(token string) (int64, *Error) {
	s, e := decodeSkipToken('s', token)
	if e != nil {
		return 0, e
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 || strconv.FormatInt(n, 10) != s {
		return 0, invalidSkipToken(token)
	}
	return n, nil
}

// nextLink is the absolute URL of the next page: the vault's own URL and path, the
// api-version, the skip token and maxresults when the client sent it.
func nextLink(host, path, apiVersion, token string, q url.Values) string {
	v := url.Values{}
	v.Set("api-version", apiVersion)
	v.Set("$skiptoken", token)
	if m := q.Get("maxresults"); m != "" {
		v.Set("maxresults", m)
	}
	return "https://" + host + (&url.URL{Path: path}).EscapedPath() + "?" + v.Encode()
}
