package arm

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/mint-id/mint/internal/arm/identityblock"
	"github.com/mint-id/mint/internal/armid"
)

func mustID(t *testing.T, s string) armid.ResourceID {
	t.Helper()
	id, err := armid.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func TestErrorMessages(t *testing.T) {
	exp := time.Date(2017, 8, 17, 22, 54, 41, 0, time.UTC)
	now := time.Date(2017, 8, 17, 22, 55, 43, 0, time.UTC)
	tests := []struct {
		name   string
		err    *Error
		status int
		code   string
		msg    string
	}{
		{"missing api-version", MissingAPIVersionParameter(), 400, "MissingApiVersionParameter",
			"The api-version query parameter (?api-version=) is required for all requests."},
		{"invalid api-version", InvalidAPIVersionParameter("2099-01-01", []string{"2022-09-01", "2021-04-01"}), 400, "InvalidApiVersionParameter",
			"The api-version '2099-01-01' is invalid. The supported versions are '2022-09-01,2021-04-01'."},
		{"no registered provider", NoRegisteredProviderFound("eastus", "2099-01-01", "userAssignedIdentities", []string{"2018-11-30", "2023-01-31"}, []string{"eastus", "westus"}), 400, "NoRegisteredProviderFound",
			"No registered resource provider found for location 'eastus' and API version '2099-01-01' for type 'userAssignedIdentities'. The supported api-versions are '2018-11-30, 2023-01-31'. The supported locations are 'eastus, westus'."},
		{"resource not found", ResourceNotFound(mustID(t, "/subscriptions/s/resourcegroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id1")), 404, "ResourceNotFound",
			"The Resource 'Microsoft.ManagedIdentity/userAssignedIdentities/id1' under resource group 'rg' was not found. For more details please go to https://aka.ms/ARMResourceNotFoundFix"},
		{"child resource not found", ResourceNotFound(mustID(t, "/subscriptions/s/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id1/federatedIdentityCredentials/f")), 404, "ResourceNotFound",
			"The Resource 'Microsoft.ManagedIdentity/userAssignedIdentities/id1/federatedIdentityCredentials/f' under resource group 'rg' was not found. For more details please go to https://aka.ms/ARMResourceNotFoundFix"},
		{"subscription-level resource not found", ResourceNotFound(mustID(t, "/subscriptions/s/providers/Microsoft.Authorization/roleDefinitions/x")), 404, "ResourceNotFound",
			"The Resource 'Microsoft.Authorization/roleDefinitions/x' was not found. For more details please go to https://aka.ms/ARMResourceNotFoundFix"},
		{"resource group not found", ResourceGroupNotFound("rg"), 404, "ResourceGroupNotFound", "Resource group 'rg' could not be found."},
		{"subscription not found", SubscriptionNotFound("s1"), 404, "SubscriptionNotFound", "The subscription 's1' could not be found."},
		{"authorization failed", AuthorizationFailed("app", "oid", "Microsoft.ManagedIdentity/userAssignedIdentities/write", "/subscriptions/s/resourceGroups/rg"), 403, "AuthorizationFailed",
			"The client 'app' with object id 'oid' does not have authorization to perform action 'Microsoft.ManagedIdentity/userAssignedIdentities/write' over scope '/subscriptions/s/resourceGroups/rg' or the scope is invalid. If access was recently granted, please refresh your credentials."},
		{"linked authorization failed", LinkedAuthorizationFailed("app", "oid", "Microsoft.Compute/virtualMachines/write", "/vm",
			[]string{"Microsoft.ManagedIdentity/userAssignedIdentities/assign/action", "Microsoft.ManagedIdentity/userAssignedIdentities/assign/action"}, []string{"/ua1", "/ua2"}), 403, "LinkedAuthorizationFailed",
			"The client 'app' with object id 'oid' has permission to perform action 'Microsoft.Compute/virtualMachines/write' on scope '/vm'; however, it does not have permission to perform action(s) 'Microsoft.ManagedIdentity/userAssignedIdentities/assign/action,Microsoft.ManagedIdentity/userAssignedIdentities/assign/action' on the linked scope(s) '/ua1,/ua2' (respectively) or the linked scope(s) are invalid."},
		{"authentication failed default", AuthenticationFailed(""), 401, "AuthenticationFailed", "Authentication failed. The 'Authorization' header is missing."},
		{"authentication header invalid", AuthenticationHeaderInvalid(), 401, "AuthenticationFailed", "Authentication failed. The 'Authorization' header is provided in an invalid format."},
		{"invalid token", InvalidAuthenticationToken(""), 401, "InvalidAuthenticationToken", "The access token is invalid."},
		{"expired token", ExpiredAuthenticationToken(exp, now), 401, "ExpiredAuthenticationToken",
			"The access token expiry UTC time '8/17/2017 10:54:41 PM' is earlier than current UTC time '8/17/2017 10:55:43 PM'."},
		{"wrong audience", InvalidAuthenticationTokenAudience("https://vault.azure.net", []string{"https://management.core.windows.net/", "https://management.azure.com"}), 401, "InvalidAuthenticationTokenAudience",
			"The access token has been obtained for wrong audience or resource 'https://vault.azure.net'. It should exactly match with one of the allowed audiences 'https://management.core.windows.net/','https://management.azure.com'."},
		{"wrong tenant", InvalidAuthenticationTokenTenant("https://sts/other/", "t1", "https://login/t1"), 401, "InvalidAuthenticationTokenTenant",
			"The access token is from the wrong issuer 'https://sts/other/'. It must match the tenant 't1' associated with this subscription. Please use the authority (URL) 'https://login/t1' to get the token."},
		{"invalid content", InvalidRequestContent("x"), 400, "InvalidRequestContent", "The request content was invalid and could not be deserialized: 'x'."},
		{"invalid identity id", InvalidIdentityID([]string{"a", "b"}), 400, "InvalidIdentityId",
			"The identity ids 'a,b' are invalid. It must be of the following format: '/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/{resourceName}'."},
		{"role assignment exists", RoleAssignmentExists(), 409, "RoleAssignmentExists", "The role assignment already exists."},
		{"principal not found", PrincipalNotFound("p1", "t1"), 400, "PrincipalNotFound",
			"Principal p1 does not exist in the directory t1. Check that you have the correct principal ID. If you are creating this principal and then immediately assigning a role, this error might be related to a replication delay. In this case, set the role assignment principalType property to a value, such as ServicePrincipal, User, or Group. See https://aka.ms/docs-principaltype"},
		{"bad request", BadRequest("m"), 400, "BadRequest", "m"},
		{"method not allowed", MethodNotAllowed("PATCH"), 405, "MethodNotAllowed", "The requested resource does not support http method 'PATCH'."},
		{"conflict", Conflict("busy"), 409, "Conflict", "busy"},
		{"internal", InternalServerError("c1"), 500, "InternalServerError", "Encountered internal server error. Diagnostic information: request correlation id 'c1'."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.err.Status != tt.status || tt.err.Code != tt.code || tt.err.Message != tt.msg {
				t.Errorf("got %d %s %q\nwant %d %s %q", tt.err.Status, tt.err.Code, tt.err.Message, tt.status, tt.code, tt.msg)
			}
		})
	}
}

func TestErrorEnvelope(t *testing.T) {
	e := BadRequest("outer").WithTarget("identity.type").WithDetails(NewError(400, "Inner", "inner"))
	b, err := json.Marshal(ErrorResponse{Error: e})
	if err != nil {
		t.Fatal(err)
	}
	want := `{"error":{"code":"BadRequest","message":"outer","target":"identity.type","details":[{"code":"Inner","message":"inner"}]}}`
	if string(b) != want {
		t.Errorf("got  %s\nwant %s", b, want)
	}
	b, _ = json.Marshal(ErrorResponse{Error: MissingAPIVersionParameter()})
	if string(b) != `{"error":{"code":"MissingApiVersionParameter","message":"The api-version query parameter (?api-version=) is required for all requests."}}` {
		t.Errorf("got %s", b)
	}
	base := BadRequest("x")
	_ = base.WithTarget("t").WithDetails(BadRequest("d"))
	if base.Target != "" || base.Details != nil {
		t.Error("With* modified the receiver")
	}
}

func TestAsError(t *testing.T) {
	_, idErr := armid.Parse("nope")
	_, rgErr := armid.ParseUserAssignedIdentityID("x")
	_, ibErr := identityblock.ParseType("Foo")
	tests := []struct {
		err    error
		status int
		code   string
	}{
		{ResourceGroupNotFound("rg"), 404, "ResourceGroupNotFound"},
		{fmt.Errorf("wrapped: %w", Conflict("c")), 409, "Conflict"},
		{idErr, 400, "InvalidResourceId"},
		{rgErr, 400, "InvalidIdentityId"},
		{armid.ValidateResourceGroupName("a b"), 400, "InvalidResourceGroup"},
		{armid.ValidateKeyVaultName("1"), 400, "VaultNameNotValid"},
		{ibErr, 400, "InvalidIdentityType"},
		{errors.New("disk on fire"), 500, "InternalServerError"},
	}
	for _, tt := range tests {
		e := AsError(tt.err)
		if e.Status != tt.status || e.Code != tt.code {
			t.Errorf("AsError(%v) = %d %s, want %d %s", tt.err, e.Status, e.Code, tt.status, tt.code)
		}
	}
	if AsError(nil) != nil {
		t.Error("AsError(nil) != nil")
	}
	if e := AsError(errors.New("secret detail")); strings.Contains(e.Message, "secret") {
		t.Error("internal error leaks its cause")
	}
}

func TestChallenge(t *testing.T) {
	got := Challenge("https://login.example:8443/", "tid", `The access token is "bad"`+"\r\nX: y")
	want := `Bearer authorization_uri="https://login.example:8443/tid", error="invalid_token", error_description="The access token is 'bad'  X: y"`
	if got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}

func TestWriteError401(t *testing.T) {
	r := httptest.NewRequest(http.MethodGet, "/subscriptions/s?api-version=2022-09-01", nil)
	w := httptest.NewRecorder()
	WriteError(w, r, 0, InvalidAuthenticationToken("").WithChallenge("https://login.local", "t1"))
	if w.Code != 401 {
		t.Fatalf("status %d", w.Code)
	}
	if got := w.Header().Get("WWW-Authenticate"); got != `Bearer authorization_uri="https://login.local/t1", error="invalid_token", error_description="The access token is invalid."` {
		t.Errorf("WWW-Authenticate = %s", got)
	}
	if w.Body.String() != `{"error":{"code":"InvalidAuthenticationToken","message":"The access token is invalid."}}` {
		t.Errorf("body = %s", w.Body)
	}

	w = httptest.NewRecorder()
	WriteError(w, r, 401, AuthenticationFailed(""))
	if got := w.Header().Get("WWW-Authenticate"); got != `Bearer error="invalid_token", error_description="Authentication failed. The 'Authorization' header is missing."` {
		t.Errorf("bare WWW-Authenticate = %s", got)
	}
}

func TestWriteErrorStatusAndGatewayHeader(t *testing.T) {
	r := httptest.NewRequest(http.MethodGet, "/x", nil)
	w := httptest.NewRecorder()
	WriteError(w, r, 0, ResourceGroupNotFound("rg"))
	if w.Code != 404 || w.Header().Get("x-ms-failure-cause") != "gateway" {
		t.Errorf("status %d failure-cause %q", w.Code, w.Header().Get("x-ms-failure-cause"))
	}
	if w.Header().Get("WWW-Authenticate") != "" {
		t.Error("challenge on a 404")
	}
	w = httptest.NewRecorder()
	WriteError(w, r, 0, nil)
	var env ErrorResponse
	if err := json.Unmarshal(w.Body.Bytes(), &env); err != nil || w.Code != 500 || env.Error.Code != "InternalServerError" {
		t.Errorf("nil error: %d %s", w.Code, w.Body)
	}
	if !strings.Contains(env.Error.Message, w.Header().Get("x-ms-correlation-request-id")) {
		t.Error("internal error does not name the correlation id")
	}
	w = httptest.NewRecorder()
	WriteError(w, r, 0, NewError(0, "X", "y"))
	if w.Code != 500 {
		t.Errorf("status 0 error written as %d", w.Code)
	}
}
