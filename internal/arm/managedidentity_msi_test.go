package arm

import (
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/mint-id/mint/internal/federation"
	"github.com/mint-id/mint/internal/rbac"
	"github.com/mint-id/mint/internal/store"
)

const msiVersion = "2024-11-30"

func (e *testEnv) uamiPath(rg, name string) string {
	return e.rg(rg) + "/providers/Microsoft.ManagedIdentity/userAssignedIdentities/" + name
}

func TestUserAssignedIdentityLifecycle(t *testing.T) {
	e := newTestEnv(t)
	e.group("rgName")
	path := e.uamiPath("rgName", "identityName")
	r := e.must(http.StatusCreated, "PUT", path, msiVersion, map[string]any{"location": "eastus"})
	id := "/subscriptions/" + e.sub + "/resourcegroups/rgName/providers/Microsoft.ManagedIdentity/userAssignedIdentities/identityName"
	if got := r.header.Get("Location"); got != id {
		t.Errorf("Location = %q", got)
	}
	principalID, clientID := r.str("properties.principalId"), r.str("properties.clientId")
	want := map[string]any{
		"id": id, "name": "identityName", "type": "Microsoft.ManagedIdentity/userAssignedIdentities", "location": "eastus",
		"tags":       map[string]any{},
		"properties": map[string]any{"tenantId": e.tenant, "principalId": principalID, "clientId": clientID, "isolationScope": "None"},
	}
	if !reflect.DeepEqual(r.body, want) {
		t.Errorf("PUT = %v\nwant %v", r.body, want)
	}
	if _, err := uuid.Parse(principalID); err != nil {
		t.Fatalf("principalId %q", principalID)
	}
	sp, err := e.st.GetPrincipal(t.Context(), principalID)
	if err != nil {
		t.Fatal("no principal created with the identity")
	}
	if sp.Kind != store.KindManagedIdentity || sp.AppID != clientID || sp.TenantID != e.tenant || sp.DisplayName != "identityName" ||
		!reflect.DeepEqual(sp.AlternativeNames, []string{id}) {
		t.Errorf("principal = %+v", sp)
	}

	// Re-PUT: 200, same ids, tags replaced; case-insensitive path.
	r = e.must(http.StatusOK, "PUT", strings.ToLower(path), msiVersion, map[string]any{"location": "EastUS", "tags": map[string]string{"k": "v"}})
	if r.str("properties.principalId") != principalID || r.str("name") != "identityName" || lookup(r.body, "tags.k") != "v" {
		t.Errorf("re-PUT = %s", r.raw)
	}
	if r := e.as("PUT", path, msiVersion, map[string]any{"location": "westus"}); r.status != 400 || r.code() != "InvalidResourceLocation" {
		t.Errorf("move = %d %s", r.status, r.raw)
	}
	r = e.must(http.StatusOK, "PATCH", path, msiVersion, map[string]any{"properties": map[string]any{"isolationScope": "regional"}})
	if r.str("properties.isolationScope") != "Regional" || lookup(r.body, "tags.k") != "v" {
		t.Errorf("PATCH = %s", r.raw)
	}
	r = e.must(http.StatusOK, "PATCH", path, msiVersion, map[string]any{"tags": map[string]string{}})
	if tags, _ := r.body["tags"].(map[string]any); len(tags) != 0 || r.str("properties.isolationScope") != "Regional" {
		t.Errorf("PATCH tags = %s", r.raw)
	}
	// Older api-versions do not know isolationScope.
	r = e.must(http.StatusOK, "GET", path, "2023-01-31", nil)
	if _, ok := r.body["properties"].(map[string]any)["isolationScope"]; ok {
		t.Errorf("2023-01-31 GET = %s", r.raw)
	}

	e.must(http.StatusCreated, "PUT", e.uamiPath("rgName", "second"), "2018-11-30", map[string]any{"location": "westus"})
	e.group("other")
	e.must(http.StatusCreated, "PUT", e.uamiPath("other", "third"), msiVersion, map[string]any{"location": "westus"})
	byGroup := e.must(http.StatusOK, "GET", e.rg("rgName")+"/providers/Microsoft.ManagedIdentity/userAssignedIdentities", msiVersion, nil)
	if l := byGroup.list(); len(l) != 2 || l[0]["name"] != "identityName" || l[1]["name"] != "second" {
		t.Errorf("list by group = %s", byGroup.raw)
	}
	if _, ok := byGroup.body["nextLink"]; ok {
		t.Error("single page has a nextLink")
	}
	bySub := e.must(http.StatusOK, "GET", "/subscriptions/"+e.sub+"/providers/Microsoft.ManagedIdentity/userAssignedIdentities", msiVersion, nil)
	if l := bySub.list(); len(l) != 3 {
		t.Errorf("list by subscription = %s", bySub.raw)
	}
	// A reader of one group sees only its identities.
	reader := e.principal(store.KindApplication, "reader")
	e.assign(reader, rbac.ReaderRoleID, e.rg("other"))
	if l := e.call(reader, "GET", "/subscriptions/"+e.sub+"/providers/Microsoft.ManagedIdentity/userAssignedIdentities", msiVersion, nil).list(); len(l) != 1 || l[0]["name"] != "third" {
		t.Errorf("reader list = %v", l)
	}

	e.must(http.StatusOK, "DELETE", path, msiVersion, nil)
	if e.hasPrincipal(principalID) {
		t.Error("principal survived its identity")
	}
	e.must(http.StatusNoContent, "DELETE", path, msiVersion, nil)
	if r := e.as("GET", path, msiVersion, nil); r.status != 404 || r.code() != "ResourceNotFound" ||
		r.message() != "The Resource 'Microsoft.ManagedIdentity/userAssignedIdentities/identityName' under resource group 'rgName' was not found. For more details please go to https://aka.ms/ARMResourceNotFoundFix" {
		t.Errorf("GET deleted = %d %s", r.status, r.raw)
	}
	if r := e.as("PATCH", path, msiVersion, map[string]any{}); r.status != 404 {
		t.Errorf("PATCH deleted = %d", r.status)
	}
}

func TestUserAssignedIdentityBadInput(t *testing.T) {
	e := newTestEnv(t)
	e.group("g")
	tests := []struct {
		name, method, path, version string
		body                        any
		status                      int
		code                        string
	}{
		{"no location", "PUT", e.uamiPath("g", "id1"), msiVersion, map[string]any{"tags": map[string]string{}}, 400, "LocationRequired"},
		{"empty location", "PUT", e.uamiPath("g", "id1"), msiVersion, map[string]any{"location": " "}, 400, "LocationRequired"},
		{"name too short", "PUT", e.uamiPath("g", "ab"), msiVersion, map[string]any{"location": "eastus"}, 400, "InvalidResourceName"},
		{"name with dot", "PUT", e.uamiPath("g", "a.b.c"), msiVersion, map[string]any{"location": "eastus"}, 400, "InvalidResourceName"},
		{"name starting with hyphen", "PUT", e.uamiPath("g", "-abc"), msiVersion, map[string]any{"location": "eastus"}, 400, "InvalidResourceName"},
		{"bad isolation scope", "PUT", e.uamiPath("g", "id1"), msiVersion, map[string]any{"location": "eastus", "properties": map[string]any{"isolationScope": "Global"}}, 400, "InvalidIsolationScope"},
		{"properties wrong type", "PUT", e.uamiPath("g", "id1"), msiVersion, `{"location":"eastus","properties":[]}`, 400, "InvalidRequestContent"},
		{"not JSON", "PUT", e.uamiPath("g", "id1"), msiVersion, "location=eastus", 400, "InvalidRequestContent"},
		{"missing group", "PUT", e.uamiPath("nogroup", "id1"), msiVersion, map[string]any{"location": "eastus"}, 404, "ResourceGroupNotFound"},
		{"missing api-version", "GET", e.uamiPath("g", "id1"), "", nil, 400, CodeMissingAPIVersionParameter},
		{"unknown api-version", "GET", e.uamiPath("g", "id1"), "2020-01-01", nil, 400, CodeInvalidAPIVersionParameter},
		{"POST unknown action", "POST", e.uamiPath("g", "id1") + "/regenerate", msiVersion, map[string]any{}, 404, "NotFound"},
		{"identity nested wrongly", "GET", e.uamiPath("g", "id1") + "/providers/Microsoft.ManagedIdentity/userAssignedIdentities/x", msiVersion, nil, 404, "NotFound"},
		{"list at tenant", "GET", "/providers/Microsoft.ManagedIdentity/userAssignedIdentities", msiVersion, nil, 404, "NotFound"},
		{"PUT to list", "PUT", e.rg("g") + "/providers/Microsoft.ManagedIdentity/userAssignedIdentities", msiVersion, map[string]any{}, 404, "NotFound"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.as(tt.method, tt.path, tt.version, tt.body)
			if r.status != tt.status || r.code() != tt.code {
				t.Errorf("%d %s, want %d %s", r.status, r.raw, tt.status, tt.code)
			}
		})
	}
}

func ficBody(issuer, subject string, audiences ...string) map[string]any {
	if audiences == nil {
		audiences = []string{defaultFICAudience}
	}
	return map[string]any{"properties": map[string]any{"issuer": issuer, "subject": subject, "audiences": audiences}}
}

func TestFederatedIdentityCredentials(t *testing.T) {
	e := newTestEnv(t)
	e.group("g")
	identity := e.uamiPath("g", "id1")
	e.must(http.StatusCreated, "PUT", identity, msiVersion, map[string]any{"location": "eastus"})
	fic := identity + "/federatedIdentityCredentials/fic1"
	r := e.must(http.StatusCreated, "PUT", fic, msiVersion, ficBody("https://token.actions.githubusercontent.com", "repo:o/r:ref:refs/heads/main"))
	wantID := "/subscriptions/" + e.sub + "/resourcegroups/g/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id1/federatedIdentityCredentials/fic1"
	want := map[string]any{
		"id": wantID, "name": "fic1", "type": "Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials",
		"properties": map[string]any{"issuer": "https://token.actions.githubusercontent.com", "subject": "repo:o/r:ref:refs/heads/main", "audiences": []any{"api://AzureADTokenExchange"}},
	}
	if !reflect.DeepEqual(r.body, want) {
		t.Errorf("PUT = %v\nwant %v", r.body, want)
	}
	if r.header.Get("Location") != wantID {
		t.Errorf("Location = %q", r.header.Get("Location"))
	}
	// Same name: an update.
	r = e.must(http.StatusOK, "PUT", fic, msiVersion, ficBody("https://token.actions.githubusercontent.com", "repo:o/r:environment:prod"))
	if r.str("properties.subject") != "repo:o/r:environment:prod" {
		t.Errorf("update = %s", r.raw)
	}
	if got := e.must(http.StatusOK, "GET", fic, msiVersion, nil); !reflect.DeepEqual(got.body["properties"], r.body["properties"]) {
		t.Errorf("GET = %s", got.raw)
	}
	// Another name with the same issuer and subject: 400.
	if r := e.as("PUT", identity+"/federatedIdentityCredentials/fic2", msiVersion, ficBody("https://token.actions.githubusercontent.com", "repo:o/r:environment:prod")); r.status != 400 ||
		r.message() != "Issuer and subject combination already exists for this Managed Identity." {
		t.Errorf("duplicate = %d %s", r.status, r.raw)
	}
	// Up to 20 per identity.
	for i := 2; i <= federation.MaxCredentials; i++ {
		e.must(http.StatusCreated, "PUT", fmt.Sprintf("%s/federatedIdentityCredentials/fic%d", identity, i), msiVersion, ficBody("https://issuer.example", fmt.Sprintf("s%d", i)))
	}
	if r := e.as("PUT", identity+"/federatedIdentityCredentials/fic21", msiVersion, ficBody("https://issuer.example", "s21")); r.status != 400 || r.code() != "BadRequest" {
		t.Errorf("21st = %d %s", r.status, r.raw)
	}
	// List: creation order, paged by $top with an absolute nextLink.
	var names []string
	next := identity + "/federatedIdentityCredentials?$top=7&api-version=" + msiVersion
	for pages := 0; next != ""; pages++ {
		if pages > 5 {
			t.Fatal("paging does not end")
		}
		r := e.must(http.StatusOK, "GET", strings.TrimPrefix(next, testBase), "", nil)
		for _, v := range r.list() {
			names = append(names, v["name"].(string))
		}
		next, _ = r.body["nextLink"].(string)
		if next != "" && !strings.HasPrefix(next, testBase+"/subscriptions/") {
			t.Fatalf("nextLink %q", next)
		}
	}
	if len(names) != 20 || names[0] != "fic1" || names[1] != "fic2" || names[19] != "fic20" {
		t.Errorf("listed %v", names)
	}
	// A skiptoken the store did not produce (garbage, an offset token of an older mint, or a
	// cursor spelt another way: with a line break in it, which the decoder skips) is a 400, for
	// the credentials and the identities alike.
	cursor := store.ResourceCursor(store.Resource{ID: identity, CreatedAt: time.Unix(1, 0)})
	for _, path := range []string{identity + "/federatedIdentityCredentials", "/subscriptions/" + e.sub + "/providers/Microsoft.ManagedIdentity/userAssignedIdentities"} {
		for _, tok := range []string{"zz", "bWludDpvZmZzZXQ6Nw", cursor[:4] + "%0D%0A" + cursor[4:]} {
			if r := e.as("GET", path+"?$skiptoken="+tok, msiVersion, nil); r.status != 400 || r.code() != CodeInvalidSkipToken {
				t.Errorf("GET %s with $skiptoken %s = %d %s", path, tok, r.status, r.raw)
			}
		}
	}

	e.must(http.StatusOK, "DELETE", fic, msiVersion, nil)
	e.must(http.StatusNoContent, "DELETE", fic, msiVersion, nil)
	if r := e.as("GET", fic, msiVersion, nil); r.status != 404 || r.code() != "ResourceNotFound" {
		t.Errorf("GET deleted = %d %s", r.status, r.raw)
	}
	// Deleting the identity deletes its credentials.
	e.must(http.StatusOK, "DELETE", identity, msiVersion, nil)
	if rs, _ := e.st.ListResources(t.Context(), store.ResourceFilter{Type: federatedCredentialType}); len(rs) != 0 {
		t.Errorf("%d credentials survived their identity", len(rs))
	}
	for _, m := range []string{"GET", "PUT", "DELETE"} {
		r := e.as(m, fic, msiVersion, ficBody("https://issuer.example", "s"))
		if r.status != 404 || r.message() != "The parent user-assigned identity doesn't exist." {
			t.Errorf("%s without parent = %d %s", m, r.status, r.raw)
		}
	}
	if r := e.as("GET", identity+"/federatedIdentityCredentials", msiVersion, nil); r.status != 404 {
		t.Errorf("list without parent = %d %s", r.status, r.raw)
	}
}

func TestFederatedIdentityCredentialBadInput(t *testing.T) {
	e := newTestEnv(t)
	e.group("g")
	identity := e.uamiPath("g", "id1")
	e.must(http.StatusCreated, "PUT", identity, msiVersion, map[string]any{"location": "eastus"})
	fic := identity + "/federatedIdentityCredentials/"
	long := "https://issuer.example/" + strings.Repeat("a", 600)
	tests := []struct {
		name, path, version string
		body                any
		message             string
	}{
		{"empty properties", fic + "fc1", msiVersion, map[string]any{}, "Federated Identity Credential from HTTP body has empty properties"},
		{"two audiences", fic + "fc1", msiVersion, ficBody("https://i.example", "s", "a", "b"), "Federated identity credentials must have exactly one audience."},
		{"no audience", fic + "fc1", msiVersion, map[string]any{"properties": map[string]any{"issuer": "https://i.example", "subject": "s", "audiences": []string{}}}, "Federated identity credentials must have exactly one audience."},
		{"no issuer", fic + "fc1", msiVersion, map[string]any{"properties": map[string]any{"subject": "s", "audiences": []string{"a"}}}, "The 'issuer' property is required."},
		{"issuer not a URL", fic + "fc1", msiVersion, ficBody("not a url", "s"), "The issuer 'not a url' is invalid. It must be an absolute https or http URL."},
		{"issuer too long", fic + "fc1", msiVersion, ficBody(long, "s"), "The 'issuer' property must be at most 600 characters long."},
		{"no subject", fic + "fc1", msiVersion, ficBody("https://i.example", ""), "The 'subject' property is required."},
		{"name too short", fic + "f", msiVersion, ficBody("https://i.example", "s"), "Federated Identity Credential name 'f' is invalid."},
		{"name with dot", fic + "a.bc", msiVersion, ficBody("https://i.example", "s"), "Federated Identity Credential name 'a.bc' is invalid."},
		{"name starting with underscore", fic + "_abc", msiVersion, ficBody("https://i.example", "s"), "Federated Identity Credential name '_abc' is invalid."},
		{"subject and expression", fic + "fc1", "2025-01-31-preview", map[string]any{"properties": map[string]any{"issuer": "https://i.example", "subject": "s", "audiences": []string{"a"},
			"claimsMatchingExpression": map[string]any{"value": "claims['sub'] matches 'x*'", "languageVersion": 1}}}, "Either 'subject' or 'claimsMatchingExpression' must be defined, but not both."},
		{"neither subject nor expression", fic + "fc1", "2025-01-31-preview", map[string]any{"properties": map[string]any{"issuer": "https://i.example", "audiences": []string{"a"}}}, "Either 'subject' or 'claimsMatchingExpression' must be defined, but not both."},
		{"expression language version", fic + "fc1", "2025-01-31-preview", map[string]any{"properties": map[string]any{"issuer": "https://i.example", "audiences": []string{"a"},
			"claimsMatchingExpression": map[string]any{"value": "x", "languageVersion": 2}}}, "The claims matching expression language version '2' is not supported. The supported version is 1."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.as("PUT", tt.path, tt.version, tt.body)
			if r.status != 400 || r.code() != "BadRequest" || r.message() != tt.message {
				t.Errorf("%d %s, want 400 %q", r.status, r.raw, tt.message)
			}
		})
	}
	// Before 2022-01-31-preview there were no federated credentials.
	if r := e.as("PUT", fic+"fc1", "2018-11-30", ficBody("https://i.example", "s")); r.status != 400 || r.code() != CodeInvalidAPIVersionParameter {
		t.Errorf("2018-11-30 = %d %s", r.status, r.raw)
	}
	// A flexible credential in the preview.
	r := e.must(http.StatusCreated, "PUT", fic+"flex", "2025-01-31-preview", map[string]any{"properties": map[string]any{"issuer": "https://i.example", "audiences": []string{"api://AzureADTokenExchange"},
		"claimsMatchingExpression": map[string]any{"value": "claims['sub'] matches 'repo:o/*'", "languageVersion": 1}}})
	if r.str("properties.claimsMatchingExpression.value") != "claims['sub'] matches 'repo:o/*'" || r.body["properties"].(map[string]any)["subject"] != nil {
		t.Errorf("flexible = %s", r.raw)
	}
}

func TestSystemAssignedIdentityReadAndOperations(t *testing.T) {
	e := newTestEnv(t)
	e.group("g")
	app := e.rg("g") + "/providers/Microsoft.App/containerApps/web"
	r := e.must(http.StatusCreated, "PUT", app, "2024-03-01", map[string]any{"location": "eastus", "tags": map[string]string{"a": "b"}, "identity": map[string]any{"type": "SystemAssigned"}})
	principalID := r.str("identity.principalId")
	sys := e.must(http.StatusOK, "GET", app+"/providers/Microsoft.ManagedIdentity/identities/default", msiVersion, nil)
	sp, _ := e.st.GetPrincipal(t.Context(), principalID)
	if sys.str("id") != app+"/providers/Microsoft.ManagedIdentity/identities/default" || sys.str("name") != "default" ||
		sys.str("type") != "Microsoft.ManagedIdentity/identities" || sys.str("location") != "eastus" || lookup(sys.body, "tags.a") != "b" ||
		sys.str("properties.principalId") != principalID || sys.str("properties.clientId") != sp.AppID || sys.str("properties.tenantId") != e.tenant {
		t.Errorf("system identity = %s", sys.raw)
	}
	e.must(http.StatusOK, "PATCH", app, "2024-03-01", map[string]any{"identity": map[string]any{"type": "None"}})
	if r := e.as("GET", app+"/providers/Microsoft.ManagedIdentity/identities/default", msiVersion, nil); r.status != 404 {
		t.Errorf("after disabling = %d %s", r.status, r.raw)
	}
	if r := e.as("GET", e.rg("g")+"/providers/Microsoft.App/containerApps/nope/providers/Microsoft.ManagedIdentity/identities/default", msiVersion, nil); r.status != 404 {
		t.Errorf("missing resource = %d %s", r.status, r.raw)
	}
	if r := e.as("PUT", app+"/providers/Microsoft.ManagedIdentity/identities/default", msiVersion, map[string]any{}); r.status != 405 {
		t.Errorf("PUT = %d %s", r.status, r.raw)
	}

	// The operations list answers every signed-in caller.
	ops := e.call(e.principal(store.KindApplication, "nobody"), "GET", "/providers/Microsoft.ManagedIdentity/operations", msiVersion, nil)
	var opNames []string
	for _, o := range ops.list() {
		opNames = append(opNames, o["name"].(string))
	}
	joined := strings.Join(opNames, " ")
	if ops.status != 200 || !strings.Contains(joined, "Microsoft.ManagedIdentity/identities/read") || !strings.Contains(joined, "Microsoft.ManagedIdentity/userAssignedIdentities/*/assign/action") {
		t.Errorf("operations = %d %s", ops.status, ops.raw)
	}
	if r := e.as("GET", "/subscriptions/"+e.sub+"/providers/Microsoft.ManagedIdentity/operations", msiVersion, nil); r.status != 404 {
		t.Errorf("operations below the root = %d", r.status)
	}
}

func TestValidateFederatedCredential(t *testing.T) {
	s := func(v string) *string { return &v }
	req := federatedCredentialRequest{}
	req.Properties = &struct {
		Issuer                   *string                   `json:"issuer"`
		Subject                  *string                   `json:"subject"`
		Audiences                []string                  `json:"audiences"`
		ClaimsMatchingExpression *ClaimsMatchingExpression `json:"claimsMatchingExpression"`
	}{Issuer: s("https://i.example"), Subject: s("sub"), Audiences: []string{"aud"},
		ClaimsMatchingExpression: &ClaimsMatchingExpression{Value: "x", LanguageVersion: 1}}
	// Before the preview the expression is an unknown field, ignored.
	got, e := validateFederatedCredential(req, false)
	if e != nil || got.ClaimsMatchingExpression != nil || got.Subject != "sub" {
		t.Errorf("stable = %+v %v", got, e)
	}
	if _, e := validateFederatedCredential(req, true); e == nil {
		t.Error("preview accepted subject and expression")
	}
}
