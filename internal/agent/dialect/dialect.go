// Package dialect parses the requests and writes the responses of Azure's managed-identity
// endpoint protocols ("dialects"), exactly as unmodified Azure SDK clients speak them:
//
//	IMDS            GET /metadata/identity/oauth2/token, Metadata: true, api-version 2018-02-01+
//	App Service     GET IDENTITY_ENDPOINT, X-IDENTITY-HEADER, api-version 2019-08-01
//	Azure ML        GET MSI_ENDPOINT, secret header, api-version 2017-09-01, clientid
//	Cloud Shell     POST MSI_ENDPOINT, Metadata: true, form resource=
//	Azure Arc       GET IDENTITY_ENDPOINT, Metadata: true, 401 key-file challenge, Authorization: Basic
//	Service Fabric  GET IDENTITY_ENDPOINT (https, pinned thumbprint), secret header, 2019-07-01-preview
//
// It is the pure core of the node agent: every function here is a function of its inputs (the
// request, the token, the clock reading passed in). It does not know workloads, secrets' owners,
// caches or the mint server; internal/agent does. Every malformed request yields an *Error in the
// dialect's own error shape with a 4xx status, never a panic (see the Fuzz targets).
package dialect

import (
	"net/http"
	"strings"
)

// Kind names one managed-identity endpoint protocol.
type Kind uint8

// The dialects.
const (
	IMDS Kind = iota
	AppService
	AzureML
	CloudShell
	Arc
	ServiceFabric
	numKinds
)

var kindNames = [numKinds]string{"IMDS", "AppService", "AzureML", "CloudShell", "AzureArc", "ServiceFabric"}

func (k Kind) String() string {
	if k < numKinds {
		return kindNames[k]
	}
	return "unknown"
}

// Selector chooses a user-assigned identity; the zero value means the resource's default identity
// (its system-assigned one, else its only user-assigned one). At most one field is set.
type Selector struct {
	ClientID   string // client_id, clientid
	ObjectID   string // object_id, principal_id
	ResourceID string // msi_res_id, mi_res_id: the user-assigned identity's ARM id
}

// IsZero reports whether no identity was selected.
func (s Selector) IsZero() bool { return s.ClientID == "" && s.ObjectID == "" && s.ResourceID == "" }

// Request is a parsed token request.
type Request struct {
	Kind       Kind
	APIVersion string
	Resource   string   // the audience, exactly as the client sent it (v1 resource)
	Identity   Selector // as the client sent it
	// Secret is the credential the request carries: X-IDENTITY-HEADER (App Service), secret (Azure
	// ML, Service Fabric) or the Basic key-file contents (Arc; empty on the challenge request).
	Secret string
}

// API versions each dialect accepts.
var (
	// IMDSVersions are the IMDS api-versions from 2018-02-01 (the first with /identity) on, oldest first.
	IMDSVersions = []string{
		"2018-02-01", "2018-04-02", "2018-10-01", "2019-02-01", "2019-03-11", "2019-04-30",
		"2019-06-01", "2019-06-04", "2019-08-01", "2019-08-15", "2019-11-01", "2020-06-01",
		"2020-07-15", "2020-09-01", "2020-10-01", "2020-12-01", "2021-01-01", "2021-02-01",
		"2021-03-01", "2021-05-01", "2021-08-01", "2021-10-01", "2021-11-01", "2021-11-15",
		"2021-12-13", "2023-07-01", "2023-11-15", "2024-03-15",
	}
	// ArcVersions are the api-versions Azure Arc's HIMDS token endpoint accepts (clients send 2019-11-01 or 2020-06-01).
	ArcVersions = []string{"2019-08-15", "2019-11-01", "2020-06-01", "2021-02-01"}
)

// Fixed api-versions of the other dialects.
const (
	AppServiceVersion    = "2019-08-01"
	AzureMLVersion       = "2017-09-01"
	ServiceFabricVersion = "2019-07-01-preview"
)

func known(list []string, v string) bool {
	for _, s := range list {
		if s == v {
			return true
		}
	}
	return false
}

// Paths the agent serves; request paths are compared with MatchPath.
const (
	IMDSPath       = "/metadata/identity/oauth2/token"
	AppServicePath = "/msi/token" // also MSI_ENDPOINT (Azure ML / legacy), as in App Service itself
	CloudShellPath = "/oauth2/token"
	ArcPath        = "/arc/token" // on the main listener; Arc's own listener uses IMDSPath
)

// MatchPath reports whether the request path p names want, ignoring case, repeated leading
// slashes and one trailing slash: JS canonicalises the IMDS URL to "/metadata/.../token/" and,
// with a trailing "/" in AZURE_POD_IDENTITY_AUTHORITY_HOST, to "//metadata/...".
func MatchPath(p, want string) bool {
	for len(p) > 1 && p[0] == '/' && p[1] == '/' {
		p = p[1:]
	}
	if len(p) > 1 && p[len(p)-1] == '/' {
		p = p[:len(p)-1]
	}
	return strings.EqualFold(p, want)
}

// header returns the first value of a canonical header name without re-canonicalising it
// (net/http canonicalises incoming names, so "X-Identity-Header" is what clients' headers become).
func header(h http.Header, canonical string) (string, bool) {
	v, ok := h[canonical]
	if !ok || len(v) == 0 {
		return "", false
	}
	return v[0], true
}
