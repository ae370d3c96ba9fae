package portal

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// The portal's data layer: every read and write is a request to mint's own ARM, Graph or Key
// Vault handler with the session's bearer token for that API. Nothing here decides access: the
// API does, and its refusal is what the person sees.

// API versions the portal sends.
const (
	apiResources    = "2022-12-01"
	apiMSI          = "2024-11-30"
	apiAuthz        = "2022-04-01"
	apiKeyVaultARM  = "2024-11-01"
	apiKeyVaultData = "7.4"
)

// computeAPI is the api-version the portal uses per compute-like type.
var computeAPI = map[string]string{
	"microsoft.app/containerapps":                 "2024-03-01",
	"microsoft.web/sites":                         "2023-12-01",
	"microsoft.web/sites/slots":                   "2023-12-01",
	"microsoft.compute/virtualmachines":           "2024-07-01",
	"microsoft.containerinstance/containergroups": "2023-05-01",
}

// APIError is an API's refusal as the person sees it: ARM, Graph and Key Vault all answer
// {"error":{"code","message",...}}.
type APIError struct {
	Status  int
	Code    string
	Message string
	Target  string
	// InnerCode is Key Vault's innererror.code (e.g. ForbiddenByRbac under Forbidden).
	InnerCode string
	Details   []APIError
}

func (e *APIError) Error() string { return e.Code + ": " + e.Message }

// Forbidden reports whether the API refused for lack of permission.
func (e *APIError) Forbidden() bool { return e != nil && e.Status == http.StatusForbidden }

// apiClient calls mint's APIs for one session.
type apiClient struct {
	p *Portal
	s *Session
}

func (p *Portal) api(s *Session) *apiClient { return &apiClient{p: p, s: s} }

// do sends method target (a path on mint's base URL, or an absolute https URL of a vault) with
// body as JSON, using a token for scope, and decodes a 2xx answer into out. A non-2xx answer is
// an *APIError.
func (c *apiClient) do(ctx context.Context, scope, method, target string, body, out any) (http.Header, error) {
	return c.doWithHeader(ctx, scope, method, target, nil, body, out)
}

// doWithHeader is do with extra request headers (Graph's ConsistencyLevel).
func (c *apiClient) doWithHeader(ctx context.Context, scope, method, target string, header http.Header, body, out any) (http.Header, error) {
	tok, err := c.s.Tokens.Token(ctx, scope)
	if err != nil {
		return nil, &APIError{Status: http.StatusUnauthorized, Code: "TokenUnavailable",
			Message: "The portal could not get a token for this page on your behalf: " + err.Error()}
	}
	if !strings.HasPrefix(target, "https://") {
		target = c.p.cfg.BaseURL + target
	}
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, target, rd)
	if err != nil {
		return nil, fmt.Errorf("portal request %s %s: %w", method, target, err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.TLS = &tls.ConnectionState{HandshakeComplete: true, ServerName: req.URL.Hostname()}
	rec := c.p.serve(req)
	if rec.Code < 200 || rec.Code > 299 {
		return rec.Header(), apiError(rec.Code, rec.Body.Bytes())
	}
	if out != nil && rec.Body.Len() > 0 {
		if err := json.Unmarshal(rec.Body.Bytes(), out); err != nil {
			return rec.Header(), fmt.Errorf("decode %s %s: %w", method, req.URL.Path, err)
		}
	}
	return rec.Header(), nil
}

func apiError(status int, body []byte) *APIError {
	var env struct {
		Error struct {
			Code    string `json:"code"`
			Message string `json:"message"`
			Target  string `json:"target"`
			Inner   *struct {
				Code string `json:"code"`
			} `json:"innererror"`
			Details []struct {
				Code    string `json:"code"`
				Message string `json:"message"`
				Target  string `json:"target"`
			} `json:"details"`
		} `json:"error"`
	}
	e := &APIError{Status: status}
	if json.Unmarshal(body, &env) == nil && env.Error.Code != "" {
		e.Code, e.Message, e.Target = env.Error.Code, env.Error.Message, env.Error.Target
		if env.Error.Inner != nil {
			e.InnerCode = env.Error.Inner.Code
		}
		for _, d := range env.Error.Details {
			e.Details = append(e.Details, APIError{Code: d.Code, Message: d.Message, Target: d.Target})
		}
		return e
	}
	e.Code = http.StatusText(status)
	e.Message = fmt.Sprintf("The API answered %d %s.", status, http.StatusText(status))
	return e
}

// arm calls the management endpoint.
func (c *apiClient) arm(ctx context.Context, method, path string, q url.Values, body, out any) (http.Header, error) {
	return c.do(ctx, ScopeARM, method, path+"?"+q.Encode(), body, out)
}

// armList is ARM's list envelope.
type armList[T any] struct {
	Value    []T    `json:"value"`
	NextLink string `json:"nextLink"`
}

// skipToken is the $skiptoken of a nextLink ("" when there is no next page).
func skipToken(nextLink string) string {
	if nextLink == "" {
		return ""
	}
	u, err := url.Parse(nextLink)
	if err != nil {
		return ""
	}
	return u.Query().Get("$skiptoken")
}

// listPage reads one page of an ARM list.
func listPage[T any](ctx context.Context, c *apiClient, path string, q url.Values, skip string, top int) ([]T, string, error) {
	if q == nil {
		q = url.Values{}
	}
	if skip != "" {
		q.Set("$skiptoken", skip)
	}
	if top > 0 {
		q.Set("$top", fmt.Sprint(top))
	}
	var l armList[T]
	if _, err := c.arm(ctx, http.MethodGet, path, q, nil, &l); err != nil {
		return nil, "", err
	}
	return l.Value, skipToken(l.NextLink), nil
}

// listAll follows nextLinks up to max items.
func listAll[T any](ctx context.Context, c *apiClient, path string, q url.Values, max int) ([]T, error) {
	var all []T
	skip := ""
	for {
		qq := url.Values{}
		for k, v := range q {
			qq[k] = v
		}
		page, next, err := listPage[T](ctx, c, path, qq, skip, 1000)
		if err != nil {
			return all, err
		}
		all = append(all, page...)
		if next == "" || len(all) >= max {
			return all, nil
		}
		skip = next
	}
}

func versionQ(v string) url.Values { return url.Values{"api-version": {v}} }

// Wire shapes the portal reads (the subset of ARM's it shows).

type subscription struct {
	ID             string `json:"id"`
	SubscriptionID string `json:"subscriptionId"`
	DisplayName    string `json:"displayName"`
	TenantID       string `json:"tenantId"`
	State          string `json:"state"`
}

type resourceGroup struct {
	ID       string            `json:"id"`
	Name     string            `json:"name"`
	Location string            `json:"location"`
	Tags     map[string]string `json:"tags"`
}

type identityBlock struct {
	Type                   string                       `json:"type"`
	PrincipalID            string                       `json:"principalId"`
	TenantID               string                       `json:"tenantId"`
	UserAssignedIdentities map[string]userAssignedEntry `json:"userAssignedIdentities"`
}

type userAssignedEntry struct {
	PrincipalID string `json:"principalId"`
	ClientID    string `json:"clientId"`
}

type genericResource struct {
	ID         string            `json:"id"`
	Name       string            `json:"name"`
	Type       string            `json:"type"`
	Location   string            `json:"location"`
	Tags       map[string]string `json:"tags"`
	Identity   *identityBlock    `json:"identity"`
	Properties json.RawMessage   `json:"properties"`
}

type userAssignedIdentity struct {
	ID         string            `json:"id"`
	Name       string            `json:"name"`
	Type       string            `json:"type"`
	Location   string            `json:"location"`
	Tags       map[string]string `json:"tags"`
	Properties struct {
		TenantID    string `json:"tenantId"`
		PrincipalID string `json:"principalId"`
		ClientID    string `json:"clientId"`
	} `json:"properties"`
}

type roleAssignment struct {
	ID         string `json:"id"`
	Name       string `json:"name"`
	Properties struct {
		RoleDefinitionID string `json:"roleDefinitionId"`
		PrincipalID      string `json:"principalId"`
		PrincipalType    string `json:"principalType"`
		Scope            string `json:"scope"`
		Condition        string `json:"condition"`
		Description      string `json:"description"`
	} `json:"properties"`
}

type permission struct {
	Actions        []string `json:"actions"`
	NotActions     []string `json:"notActions"`
	DataActions    []string `json:"dataActions"`
	NotDataActions []string `json:"notDataActions"`
}

type roleDefinition struct {
	ID         string `json:"id"`
	Name       string `json:"name"`
	Properties struct {
		RoleName    string       `json:"roleName"`
		Description string       `json:"description"`
		Type        string       `json:"type"`
		Permissions []permission `json:"permissions"`
	} `json:"properties"`
}

type accessExplanation struct {
	PrincipalID string `json:"principalId"`
	Action      string `json:"action"`
	DataAction  bool   `json:"dataAction"`
	Scope       string `json:"scope"`
	Allowed     bool   `json:"allowed"`
	GrantedBy   *struct {
		RoleName string `json:"roleName"`
		Scope    string `json:"scope"`
		Note     string `json:"note"`
	} `json:"grantedBy"`
	Closest []struct {
		RoleName string `json:"roleName"`
		Scope    string `json:"scope"`
		Note     string `json:"note"`
	} `json:"closest"`
	MissingAction *string `json:"missingAction"`
	Suggestion    *struct {
		RoleName string `json:"roleName"`
		RoleID   string `json:"roleId"`
		Scope    string `json:"scope"`
	} `json:"suggestion"`
	Summary string `json:"summary"`
}

type vaultResource struct {
	ID         string `json:"id"`
	Name       string `json:"name"`
	Location   string `json:"location"`
	Properties struct {
		VaultURI                string `json:"vaultUri"`
		EnableRbacAuthorization bool   `json:"enableRbacAuthorization"`
	} `json:"properties"`
}

type secretItem struct {
	ID          string `json:"id"`
	ContentType string `json:"contentType"`
	Attributes  struct {
		Enabled bool   `json:"enabled"`
		Exp     *int64 `json:"exp"`
		Nbf     *int64 `json:"nbf"`
		Created int64  `json:"created"`
		Updated int64  `json:"updated"`
	} `json:"attributes"`
}

type secretBundle struct {
	ID          string `json:"id"`
	Value       string `json:"value"`
	ContentType string `json:"contentType"`
}
