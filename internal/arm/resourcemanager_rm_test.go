package arm

import (
	"net/http"
	"net/url"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/mint-id/mint/internal/rbac"
	"github.com/mint-id/mint/internal/store"
)

func TestSubscriptionsListAndGet(t *testing.T) {
	e := newTestEnv(t)
	r := e.must(http.StatusOK, "GET", "/subscriptions", "2022-12-01", nil)
	subs := r.list()
	if len(subs) != 1 {
		t.Fatalf("subscriptions = %s", r.raw)
	}
	s := subs[0]
	if s["id"] != "/subscriptions/"+e.sub || s["subscriptionId"] != e.sub || s["tenantId"] != e.tenant ||
		s["state"] != "Enabled" || s["authorizationSource"] != "RoleBased" || s["displayName"] != "mint subscription" {
		t.Errorf("subscription = %v", s)
	}
	if lookup(s, "subscriptionPolicies.spendingLimit") != "Off" {
		t.Errorf("policies = %v", s["subscriptionPolicies"])
	}
	got := e.must(http.StatusOK, "GET", "/subscriptions/"+e.sub, "2022-12-01", nil)
	if got.str("subscriptionId") != e.sub {
		t.Errorf("get = %s", got.raw)
	}

	// A principal with a role on one group only still sees the subscription; one without any
	// role sees nothing.
	e.group("app")
	reader := e.principal(store.KindApplication, "reader")
	e.assign(reader, rbac.ReaderRoleID, e.rg("app"))
	if n := len(e.call(reader, "GET", "/subscriptions", "2022-12-01", nil).list()); n != 1 {
		t.Errorf("group reader sees %d subscriptions", n)
	}
	nobody := e.principal(store.KindApplication, "nobody")
	if n := len(e.call(nobody, "GET", "/subscriptions", "2022-12-01", nil).list()); n != 0 {
		t.Errorf("stranger sees %d subscriptions", n)
	}
	if r := e.as("PUT", "/subscriptions/"+e.sub, "2022-12-01", map[string]any{}); r.status != http.StatusMethodNotAllowed {
		t.Errorf("PUT subscription = %d", r.status)
	}
}

func TestResourceGroupLifecycle(t *testing.T) {
	e := newTestEnv(t)
	path := e.rg("App-RG")
	r := e.must(http.StatusCreated, "PUT", path, "2021-04-01", map[string]any{"location": "East US", "tags": map[string]string{"env": "dev"}})
	want := map[string]any{
		"id": path, "name": "App-RG", "type": "Microsoft.Resources/resourceGroups", "location": "eastus",
		"tags": map[string]any{"env": "dev"}, "properties": map[string]any{"provisioningState": "Succeeded"},
	}
	if !reflect.DeepEqual(r.body, want) {
		t.Errorf("PUT = %v\nwant %v", r.body, want)
	}
	// Re-PUT: 200, same group; tags replaced; the name keeps its first spelling.
	r = e.must(http.StatusOK, "PUT", e.rg("app-rg"), "2024-11-01", map[string]any{"location": "eastus"})
	if r.str("name") != "App-RG" || r.body["tags"] != nil {
		t.Errorf("re-PUT = %s", r.raw)
	}
	if r := e.as("PUT", path, "2021-04-01", map[string]any{"location": "westus"}); r.status != http.StatusConflict || r.code() != "InvalidResourceGroupLocation" {
		t.Errorf("move = %d %s", r.status, r.raw)
	}
	e.must(http.StatusNoContent, "HEAD", path, "2021-04-01", nil)
	e.must(http.StatusNotFound, "HEAD", e.rg("nope"), "2021-04-01", nil)
	if r := e.as("GET", e.rg("nope"), "2021-04-01", nil); r.status != 404 || r.code() != "ResourceGroupNotFound" {
		t.Errorf("GET missing = %d %s", r.status, r.raw)
	}

	r = e.must(http.StatusOK, "PATCH", path, "2021-04-01", map[string]any{"tags": map[string]string{"a": "1"}})
	if lookup(r.body, "tags.a") != "1" || r.str("location") != "eastus" {
		t.Errorf("PATCH = %s", r.raw)
	}
	r = e.must(http.StatusOK, "PATCH", path, "2021-04-01", map[string]any{"managedBy": "x"})
	if lookup(r.body, "tags.a") != "1" || r.str("managedBy") != "x" {
		t.Errorf("PATCH without tags kept nothing: %s", r.raw)
	}

	e.group("second")
	r = e.must(http.StatusOK, "GET", "/subscriptions/"+e.sub+"/resourcegroups", "2021-04-01", nil)
	if got := len(r.list()); got != 2 {
		t.Errorf("list = %s", r.raw)
	}
	r = e.must(http.StatusOK, "GET", "/subscriptions/"+e.sub+"/resourcegroups?$filter=tagName%20eq%20'a'%20and%20tagValue%20eq%20'1'", "2021-04-01", nil)
	if l := r.list(); len(l) != 1 || l[0]["name"] != "App-RG" {
		t.Errorf("filtered list = %s", r.raw)
	}
	r = e.must(http.StatusOK, "GET", "/subscriptions/"+e.sub+"/resourcegroups?$top=1", "2021-04-01", nil)
	if next, _ := r.body["nextLink"].(string); len(r.list()) != 1 || !strings.HasPrefix(next, testBase+"/subscriptions/") {
		t.Errorf("paged list = %s", r.raw)
	}

	// A reader of one group lists only that group.
	reader := e.principal(store.KindApplication, "reader")
	e.assign(reader, rbac.ReaderRoleID, e.rg("second"))
	if l := e.call(reader, "GET", "/subscriptions/"+e.sub+"/resourcegroups", "2021-04-01", nil).list(); len(l) != 1 || l[0]["name"] != "second" {
		t.Errorf("reader list = %v", l)
	}
	if r := e.call(reader, "PUT", e.rg("second"), "2021-04-01", map[string]any{"location": "eastus"}); r.status != 403 || r.code() != "AuthorizationFailed" ||
		!strings.Contains(r.message(), "Microsoft.Resources/subscriptions/resourceGroups/write") {
		t.Errorf("reader PUT = %d %s", r.status, r.raw)
	}

	e.must(http.StatusOK, "DELETE", path, "2021-04-01", nil)
	if r := e.as("DELETE", path, "2021-04-01", nil); r.status != 404 || r.code() != "ResourceGroupNotFound" {
		t.Errorf("second DELETE = %d %s", r.status, r.raw)
	}
}

func TestResourceGroupBadInput(t *testing.T) {
	e := newTestEnv(t)
	tests := []struct {
		name, method, path string
		body               any
		status             int
		code               string
	}{
		{"no location", "PUT", e.rg("g"), map[string]any{}, 400, "LocationRequired"},
		{"bad location", "PUT", e.rg("g"), map[string]any{"location": "east/us"}, 400, "LocationNotAvailableForResourceGroup"},
		{"name ends with period", "PUT", e.rg("g."), map[string]any{"location": "eastus"}, 400, "InvalidResourceGroup"},
		{"name with bad characters", "PUT", e.rg("a%21b"), map[string]any{"location": "eastus"}, 400, "InvalidResourceGroup"},
		{"name too long", "PUT", e.rg(strings.Repeat("a", 91)), map[string]any{"location": "eastus"}, 400, "InvalidResourceGroup"},
		{"not JSON", "PUT", e.rg("g"), "{", 400, "InvalidRequestContent"},
		{"empty body", "PUT", e.rg("g"), "", 400, "InvalidRequestContent"},
		{"tags not object", "PUT", e.rg("g"), `{"location":"eastus","tags":[1]}`, 400, "InvalidRequestContent"},
		{"bad tag name", "PUT", e.rg("g"), map[string]any{"location": "eastus", "tags": map[string]string{"a/b": "x"}}, 400, "InvalidTagNameCharacters"},
		{"bad filter", "GET", "/subscriptions/" + e.sub + "/resourcegroups?$filter=foo", nil, 400, "InvalidFilterInQueryString"},
		{"bad top", "GET", "/subscriptions/" + e.sub + "/resourcegroups?$top=0", nil, 400, CodeInvalidTopParameter},
		{"bad skiptoken", "GET", "/subscriptions/" + e.sub + "/resourcegroups?$skiptoken=zz", nil, 400, CodeInvalidSkipToken},
		{"unknown subscription", "GET", "/subscriptions/00000000-0000-0000-0000-000000000000/resourcegroups", nil, 404, "SubscriptionNotFound"},
		{"POST on a group", "POST", e.rg("g"), map[string]any{}, 405, CodeMethodNotAllowed},
	}
	e.group("g")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.as(tt.method, tt.path, "2021-04-01", tt.body)
			if r.status != tt.status || r.code() != tt.code {
				t.Errorf("%d %s, want %d %s", r.status, r.raw, tt.status, tt.code)
			}
		})
	}
	if r := e.as("GET", e.rg("g"), "1999-01-01", nil); r.status != 400 || r.code() != CodeInvalidAPIVersionParameter {
		t.Errorf("bad api-version = %d %s", r.status, r.raw)
	}
}

func TestParseListFilter(t *testing.T) {
	tests := []struct {
		in   string
		want map[string]string
		bad  bool
	}{
		{in: "", want: map[string]string{}},
		{in: "resourceType eq 'Microsoft.Web/sites'", want: map[string]string{"resourcetype": "Microsoft.Web/sites"}},
		{in: "resourceType eq 'a' and name eq 'b and c'", want: map[string]string{"resourcetype": "a", "name": "b and c"}},
		{in: "tagName eq 'o''brien' AND tagValue eq 'x'", want: map[string]string{"tagname": "o'brien", "tagvalue": "x"}},
		{in: "tagValue eq 'x'", bad: true},
		{in: "resourceType ne 'a'", bad: true},
		{in: "resourceType eq a", bad: true},
		{in: "unknown eq 'a'", bad: true},
		{in: "resourceType", bad: true},
		{in: "resourceType eq ''", bad: true}, // it read as no filter: every type
		{in: "tagName eq 'x' and tagValue eq ''", want: map[string]string{"tagname": "x", "tagvalue": ""}},
	}
	for _, tt := range tests {
		f, e := parseListFilter(tt.in, "resourceType", "name", "tagName", "tagValue")
		if tt.bad {
			if e == nil || e.Code != "InvalidFilterInQueryString" {
				t.Errorf("%q: want error, got %v", tt.in, f.values)
			}
			continue
		}
		if e != nil || !reflect.DeepEqual(f.values, tt.want) {
			t.Errorf("%q = %v, %v; want %v", tt.in, f.values, e, tt.want)
		}
	}
	f, _ := parseListFilter("tagName eq 'Env' and tagValue eq 'dev'", "tagName", "tagValue")
	if !f.matchTags(map[string]string{"env": "dev"}) || f.matchTags(map[string]string{"env": "Dev"}) || f.matchTags(nil) {
		t.Error("tag matching")
	}
}

func TestLocationsAndIDs(t *testing.T) {
	for in, want := range map[string]string{"East US": "eastus", " westeurope ": "westeurope", "UK South": "uksouth"} {
		if got := normalizeLocation(in); got != want {
			t.Errorf("normalizeLocation(%q) = %q", in, got)
		}
	}
	for _, bad := range []string{"", "east/us", "ü", strings.Repeat("a", 65)} {
		if validLocation(bad) {
			t.Errorf("validLocation(%q)", bad)
		}
	}
	for _, tt := range []struct {
		v, min string
		want   bool
	}{{"2024-11-30", "2024-11-30", true}, {"2025-01-31-preview", "2024-11-30", true}, {"2023-01-31", "2024-11-30", false}, {"2024-11-30", "2025-01-31", false}} {
		if got := apiVersionAtLeast(tt.v, tt.min); got != tt.want {
			t.Errorf("apiVersionAtLeast(%s, %s) = %v", tt.v, tt.min, got)
		}
	}
}

// az resource list -g rg1 [--resource-type T] lists /subscriptions/{sub}/resources with
// $filter=resourceGroup eq 'rg1' [and resourceType eq 'T'] and
// $expand=createdTime,changedTime,provisioningState; Azure takes both.
func TestGenericListByResourceGroupFilter(t *testing.T) {
	e := newTestEnv(t)
	e.group("rg1", "rg2")
	e.uami("rg1", "id1")
	e.uami("rg2", "id2")
	e.must(http.StatusCreated, "PUT", e.rg("rg1")+"/providers/Microsoft.Web/sites/web", "2023-12-01", map[string]any{"location": "eastus"})
	names := func(r response) string {
		var out []string
		for _, v := range r.list() {
			out = append(out, v["name"].(string))
		}
		sort.Strings(out)
		return strings.Join(out, ",")
	}
	const expand = "&$expand=createdTime,changedTime,provisioningState"
	for _, tt := range []struct{ path, want string }{
		{e.subScope() + "/resources?$filter=" + url.QueryEscape("resourceGroup eq 'rg1'"), "id1,web"},
		{e.subScope() + "/resources?$filter=" + url.QueryEscape("resourceGroup eq 'RG1'") + expand, "id1,web"},
		{e.subScope() + "/resources?$filter=" + url.QueryEscape("resourceGroup eq 'rg1' and resourceType eq 'Microsoft.Web/sites'") + expand, "web"},
		{e.subScope() + "/resources?$filter=" + url.QueryEscape("resourceType eq 'microsoft.managedidentity/userassignedidentities' and resourceGroup eq 'rg2'"), "id2"},
		{e.subScope() + "/resources?$filter=" + url.QueryEscape("resourceGroup eq 'nope'"), ""},
		{e.rg("rg1") + "/resources?$filter=" + url.QueryEscape("resourceGroup eq 'rg1'"), "id1,web"},
		{e.rg("rg1") + "/resources?$filter=" + url.QueryEscape("resourceGroup eq 'rg2'"), ""},
	} {
		if got := names(e.must(http.StatusOK, "GET", tt.path, "2021-04-01", nil)); got != tt.want {
			t.Errorf("%s: %q, want %q", tt.path, got, tt.want)
		}
	}
	r := e.must(http.StatusOK, "GET", e.subScope()+"/resources?$filter="+url.QueryEscape("resourceGroup eq 'rg1' and name eq 'web'")+expand, "2021-04-01", nil)
	if l := r.list(); len(l) != 1 || l[0]["provisioningState"] != "Succeeded" || l[0]["createdTime"] == nil || l[0]["changedTime"] == nil {
		t.Errorf("expanded = %s", r.raw)
	}
	r = e.must(http.StatusOK, "GET", e.subScope()+"/resources?$filter="+url.QueryEscape("name eq 'web'"), "2021-04-01", nil)
	if l := r.list(); len(l) != 1 || l[0]["createdTime"] != nil || l[0]["provisioningState"] != nil {
		t.Errorf("not expanded = %s", r.raw)
	}
	for path, code := range map[string]string{
		e.subScope() + "/resources?$filter=" + url.QueryEscape("resourceGroup eq 'rg1' and resourceGroup eq 'rg2'"): "InvalidFilterInQueryString",
		e.subScope() + "/resources?$filter=" + url.QueryEscape("resourceGroup eq rg1"):                              "InvalidFilterInQueryString",
		e.subScope() + "/resources?$expand=plan":                                                                    "InvalidQueryParameterValue",
	} {
		if r := e.as("GET", path, "2021-04-01", nil); r.status != http.StatusBadRequest || r.code() != code {
			t.Errorf("%s: %d %s, want 400 %s", path, r.status, r.raw, code)
		}
	}
}
