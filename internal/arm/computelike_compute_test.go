package arm

import (
	"encoding/json"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"testing"

	"github.com/mint-id/mint/internal/rbac"
	"github.com/mint-id/mint/internal/store"
)

const (
	vmVersion  = "2024-07-01"
	appVersion = "2024-03-01"
)

// uami creates a user-assigned identity and returns its canonical id and principal id.
func (e *testEnv) uami(rg, name string) (string, string) {
	e.t.Helper()
	r := e.must(http.StatusCreated, "PUT", e.uamiPath(rg, name), msiVersion, map[string]any{"location": "eastus"})
	return e.uamiPath(rg, name), r.str("properties.principalId")
}

func uaMap(r response) map[string]any {
	m, _ := lookup(r.body, "identity.userAssignedIdentities").(map[string]any)
	return m
}

func TestComputeIdentityBlock(t *testing.T) {
	e := newTestEnv(t)
	e.group("g")
	id1, id1Principal := e.uami("g", "id1")
	id2, _ := e.uami("g", "id2")
	vm := e.rg("g") + "/providers/Microsoft.Compute/virtualMachines/vm1"

	// Create with a system-assigned identity: a principal is born with the resource.
	r := e.must(http.StatusCreated, "PUT", vm, vmVersion, map[string]any{
		"location": "eastus", "properties": map[string]any{"hardwareProfile": map[string]any{"vmSize": "Standard_B1s"}, "provisioningState": "Creating"},
		"identity": map[string]any{"type": "SystemAssigned"}})
	if r.header.Get("Location") != "" {
		t.Error("a long-running PUT must not carry a relative Location")
	}
	sys1 := r.str("identity.principalId")
	if r.str("identity.type") != "SystemAssigned" || r.str("identity.tenantId") != e.tenant || sys1 == "" {
		t.Fatalf("create = %s", r.raw)
	}
	if r.str("properties.provisioningState") != "Succeeded" || lookup(r.body, "properties.hardwareProfile.vmSize") != "Standard_B1s" {
		t.Errorf("properties = %s", r.raw)
	}
	sp, err := e.st.GetPrincipal(t.Context(), sys1)
	if err != nil || sp.Kind != store.KindManagedIdentity || sp.DisplayName != "vm1" ||
		!reflect.DeepEqual(sp.AlternativeNames, []string{"/subscriptions/" + e.sub + "/resourcegroups/g/providers/Microsoft.Compute/virtualMachines/vm1"}) {
		t.Errorf("system principal = %+v, %v", sp, err)
	}

	// Attach one user-assigned identity; Compute spells the combined type with a space.
	r = e.must(http.StatusOK, "PATCH", vm, vmVersion, map[string]any{"identity": map[string]any{
		"type": "SystemAssigned,UserAssigned", "userAssignedIdentities": map[string]any{id1: map[string]any{}}}})
	if r.str("identity.type") != "SystemAssigned, UserAssigned" || r.str("identity.principalId") != sys1 {
		t.Errorf("attach = %s", r.raw)
	}
	if entry, _ := uaMap(r)[id1].(map[string]any); entry["principalId"] != id1Principal || entry["clientId"] == "" {
		t.Errorf("attached entry = %v", uaMap(r))
	}
	// PATCH merges the map.
	r = e.must(http.StatusOK, "PATCH", vm, vmVersion, map[string]any{"identity": map[string]any{
		"type": "SystemAssigned, UserAssigned", "userAssignedIdentities": map[string]any{id2: map[string]any{}}}})
	if len(uaMap(r)) != 2 {
		t.Errorf("merge = %s", r.raw)
	}
	// null removes one (key spelled with lower-case resourcegroups, as the reference's example).
	lower := strings.Replace(id1, "/resourceGroups/", "/resourcegroups/", 1)
	r = e.must(http.StatusOK, "PATCH", vm, vmVersion, map[string]any{"identity": map[string]any{
		"type": "SystemAssigned, UserAssigned", "userAssignedIdentities": map[string]any{lower: nil}}})
	if m := uaMap(r); len(m) != 1 || m[id2] == nil {
		t.Errorf("remove = %s", r.raw)
	}
	// A PUT without an identity block keeps the identities.
	r = e.must(http.StatusOK, "PUT", vm, vmVersion, map[string]any{"location": "eastus", "properties": map[string]any{}})
	if r.str("identity.principalId") != sys1 || len(uaMap(r)) != 1 {
		t.Errorf("PUT without identity = %s", r.raw)
	}
	// None deletes the system-assigned principal and detaches everything.
	r = e.must(http.StatusOK, "PATCH", vm, vmVersion, map[string]any{"identity": map[string]any{"type": "None"}})
	if r.body["identity"] != nil {
		t.Errorf("None = %s", r.raw)
	}
	if e.hasPrincipal(sys1) {
		t.Error("disabled system-assigned principal survived")
	}
	// Re-enabling makes a new principal.
	r = e.must(http.StatusOK, "PATCH", vm, vmVersion, map[string]any{"identity": map[string]any{"type": "SystemAssigned"}})
	sys2 := r.str("identity.principalId")
	if sys2 == "" || sys2 == sys1 || !e.hasPrincipal(sys2) {
		t.Errorf("re-enable gave %q (was %q)", sys2, sys1)
	}
	// PUT replaces: UserAssigned only drops the system identity.
	r = e.must(http.StatusOK, "PUT", vm, vmVersion, map[string]any{"location": "eastus", "identity": map[string]any{
		"type": "UserAssigned", "userAssignedIdentities": map[string]any{id1: map[string]any{}}}})
	if r.str("identity.type") != "UserAssigned" || r.str("identity.principalId") != "" || e.hasPrincipal(sys2) {
		t.Errorf("PUT UserAssigned = %s", r.raw)
	}

	// Container Apps spell the combined type without a space, and show None.
	app := e.rg("g") + "/providers/Microsoft.App/containerApps/web"
	r = e.must(http.StatusCreated, "PUT", app, appVersion, map[string]any{"location": "eastus", "identity": map[string]any{
		"type": "SystemAssigned, UserAssigned", "userAssignedIdentities": map[string]any{id1: map[string]any{}}}})
	if r.str("identity.type") != "SystemAssigned,UserAssigned" {
		t.Errorf("container app type = %s", r.raw)
	}
	appPrincipal := r.str("identity.principalId")
	plain := e.must(http.StatusCreated, "PUT", e.rg("g")+"/providers/Microsoft.App/containerApps/plain", appVersion, map[string]any{"location": "eastus"})
	if plain.str("identity.type") != "None" {
		t.Errorf("container app without identity = %s", plain.raw)
	}

	// listAssociatedResources: the VM and the app have id1.
	assoc := e.must(http.StatusOK, "POST", id1+"/listAssociatedResources", msiVersion, nil)
	if assoc.body["totalCount"] != float64(2) || len(assoc.list()) != 2 {
		t.Errorf("associated = %s", assoc.raw)
	}
	// Azure's query: $filter (eq, contains), $orderby, $top=0 for the count only, bad ones 400.
	q := "?$filter=" + url.QueryEscape("contains(name, 'VM') and type eq 'microsoft.compute/virtualmachines'") + "&$orderby=" + url.QueryEscape("name desc")
	if l := e.must(http.StatusOK, "POST", id1+"/listAssociatedResources"+q, msiVersion, nil).list(); len(l) != 1 || l[0]["name"] != "vm1" {
		t.Errorf("filtered associated = %v", l)
	}
	if l := e.must(http.StatusOK, "POST", id1+"/listAssociatedResources?$orderby=name+desc", msiVersion, nil).list(); len(l) != 2 || l[0]["name"] != "web" {
		t.Errorf("ordered associated = %v", l)
	}
	if r := e.must(http.StatusOK, "POST", id1+"/listAssociatedResources?$top=0", msiVersion, nil); r.body["totalCount"] != float64(2) || len(r.list()) != 0 {
		t.Errorf("count only = %s", r.raw)
	}
	if r := e.must(http.StatusOK, "POST", id1+"/listAssociatedResources?$top=1&$orderby=name", msiVersion, nil); len(r.list()) != 1 || r.body["nextLink"] == nil || r.body["totalCount"] != float64(2) {
		t.Errorf("paged = %s", r.raw)
	}
	for _, bad := range []string{"$filter=" + url.QueryEscape("location eq 'x'"), "$filter=" + url.QueryEscape("name eq 'a' or name eq 'b'"), "$orderby=color", "$skip=-1"} {
		if r := e.as("POST", id1+"/listAssociatedResources?"+bad, msiVersion, nil); r.status != http.StatusBadRequest {
			t.Errorf("%s = %d %s", bad, r.status, r.raw)
		}
	}

	// Deleting a resource deletes its system-assigned principal; user-assigned ones live on.
	e.must(http.StatusOK, "DELETE", app, appVersion, nil)
	e.must(http.StatusNoContent, "DELETE", app, appVersion, nil)
	if e.hasPrincipal(appPrincipal) {
		t.Error("system-assigned principal survived its resource")
	}
	if !e.hasPrincipal(id1Principal) {
		t.Error("user-assigned principal died with a resource it was attached to")
	}
	if r := e.as("GET", app, appVersion, nil); r.status != 404 || r.code() != "ResourceNotFound" {
		t.Errorf("GET deleted = %d %s", r.status, r.raw)
	}

	// Lists by group and subscription.
	if l := e.must(http.StatusOK, "GET", e.rg("g")+"/providers/Microsoft.Compute/virtualMachines", vmVersion, nil).list(); len(l) != 1 || l[0]["name"] != "vm1" {
		t.Errorf("VM list = %v", l)
	}
	if l := e.must(http.StatusOK, "GET", "/subscriptions/"+e.sub+"/providers/Microsoft.App/containerApps", appVersion, nil).list(); len(l) != 1 || l[0]["name"] != "plain" {
		t.Errorf("app list = %v", l)
	}

	// The group's deletion takes the rest, principals included.
	e.must(http.StatusOK, "DELETE", e.rg("g"), "2021-04-01", nil)
	if e.hasPrincipal(id1Principal) {
		t.Error("user-assigned identity's principal survived its group")
	}
	if rs, _ := e.st.ListResources(t.Context(), store.ResourceFilter{}); len(rs) != 0 {
		t.Errorf("%d resources survived their group", len(rs))
	}
}

func TestComputeIdentityErrors(t *testing.T) {
	e := newTestEnv(t)
	e.group("g")
	id1, _ := e.uami("g", "id1")
	vm := e.rg("g") + "/providers/Microsoft.Compute/virtualMachines/vm1"
	e.must(http.StatusCreated, "PUT", vm, vmVersion, map[string]any{"location": "eastus"})
	missing := e.uamiPath("g", "nope")
	malformed := "/subscriptions/" + e.sub + "/resourceGroups/g/providers/Micrososft.ManagedIdentity/userAssignedIdentities/MSI_x"
	tests := []struct {
		name   string
		body   any
		status int
		code   string
		msg    string
	}{
		{"malformed key", map[string]any{"identity": map[string]any{"type": "UserAssigned", "userAssignedIdentities": map[string]any{malformed: map[string]any{}}}}, 400, "InvalidIdentityId",
			"The identity ids '" + malformed + "' are invalid. It must be of the following format: '/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/{resourceName}'."},
		{"missing identity", map[string]any{"identity": map[string]any{"type": "UserAssigned", "userAssignedIdentities": map[string]any{missing: map[string]any{}}}}, 400, "FailedIdentityOperation", ""},
		{"bad type", map[string]any{"identity": map[string]any{"type": "Everything"}}, 400, "InvalidIdentityType", ""},
		{"no type", map[string]any{"identity": map[string]any{}}, 400, "InvalidIdentityType", ""},
		{"map with None", map[string]any{"identity": map[string]any{"type": "None", "userAssignedIdentities": map[string]any{id1: map[string]any{}}}}, 400, "BadRequest", ""},
		{"UserAssigned without ids", map[string]any{"identity": map[string]any{"type": "UserAssigned"}}, 400, "MissingIdentityIds", ""},
		{"map not object", `{"identity":{"type":"UserAssigned","userAssignedIdentities":["x"]}}`, 400, "InvalidRequestContent", ""},
		{"identity not object", `{"identity":"SystemAssigned"}`, 400, "InvalidRequestContent", ""},
		{"properties not object", `{"properties":"x"}`, 400, "InvalidRequestContent", ""},
		{"bad tags", map[string]any{"tags": map[string]string{"": "x"}}, 400, "InvalidTagName", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.as("PATCH", vm, vmVersion, tt.body)
			if r.status != tt.status || r.code() != tt.code || (tt.msg != "" && r.message() != tt.msg) {
				t.Errorf("%d %s, want %d %s %s", r.status, r.raw, tt.status, tt.code, tt.msg)
			}
		})
	}
	puts := []struct {
		name, path string
		body       any
		status     int
		code       string
	}{
		{"no location", e.rg("g") + "/providers/Microsoft.Compute/virtualMachines/vm2", map[string]any{}, 400, "LocationRequired"},
		{"move", vm, map[string]any{"location": "westus"}, 400, "InvalidResourceLocation"},
		{"bad name", e.rg("g") + "/providers/Microsoft.Compute/virtualMachines/a:b", map[string]any{"location": "eastus"}, 400, "InvalidResourceName"},
		{"name ends with period", e.rg("g") + "/providers/Microsoft.Web/sites/web.", map[string]any{"location": "eastus"}, 400, "InvalidResourceName"},
		{"missing group", e.rg("nope") + "/providers/Microsoft.Compute/virtualMachines/vm2", map[string]any{"location": "eastus"}, 404, "ResourceGroupNotFound"},
		{"slot without site", e.rg("g") + "/providers/Microsoft.Web/sites/nosite/slots/staging", map[string]any{"location": "eastus"}, 404, "ParentResourceNotFound"},
		{"extension on a resource", vm + "/providers/Microsoft.App/containerApps/x", map[string]any{"location": "eastus"}, 404, "NotFound"},
		{"at subscription", "/subscriptions/" + e.sub + "/providers/Microsoft.App/containerApps/x", map[string]any{"location": "eastus"}, 404, "NotFound"},
		{"unknown type", e.rg("g") + "/providers/Microsoft.Compute/disks/d", map[string]any{"location": "eastus"}, 400, "InvalidResourceType"},
	}
	for _, tt := range puts {
		t.Run(tt.name, func(t *testing.T) {
			v := vmVersion
			if strings.Contains(tt.path, "Microsoft.Web") {
				v = "2023-12-01"
			} else if strings.Contains(tt.path, "Microsoft.App") {
				v = appVersion
			}
			r := e.as("PUT", tt.path, v, tt.body)
			if r.status != tt.status || r.code() != tt.code {
				t.Errorf("%d %s, want %d %s", r.status, r.raw, tt.status, tt.code)
			}
		})
	}
	if r := e.as("GET", vm, "2016-01-01", nil); r.status != 400 || r.code() != CodeInvalidAPIVersionParameter {
		t.Errorf("old api-version = %d %s", r.status, r.raw)
	}
	// Nothing was attached by the failed requests.
	if r := e.must(http.StatusOK, "GET", vm, vmVersion, nil); r.body["identity"] != nil {
		t.Errorf("after failures = %s", r.raw)
	}
}

func TestLinkedAuthorizationForUserAssignedIdentities(t *testing.T) {
	e := newTestEnv(t)
	e.group("app")
	e.group("ids")
	shared, _ := e.uami("ids", "shared")
	local, _ := e.uami("app", "local")
	dev := e.principal(store.KindApplication, "dev")
	e.assign(dev, rbac.ContributorRoleID, e.rg("app"))
	app := e.rg("app") + "/providers/Microsoft.App/containerApps/web"

	// Write on the resource is enough for a system-assigned identity and for an identity the
	// caller's Contributor role covers.
	if r := e.call(dev, "PUT", app, appVersion, map[string]any{"location": "eastus", "identity": map[string]any{
		"type": "SystemAssigned,UserAssigned", "userAssignedIdentities": map[string]any{local: map[string]any{}}}}); r.status != 201 {
		t.Fatalf("dev PUT = %d %s", r.status, r.raw)
	}
	// Not for an identity in a group dev has no role on.
	r := e.call(dev, "PATCH", app, appVersion, map[string]any{"identity": map[string]any{
		"type": "SystemAssigned,UserAssigned", "userAssignedIdentities": map[string]any{shared: map[string]any{}}}})
	if r.status != 403 || r.code() != "LinkedAuthorizationFailed" || !strings.Contains(r.message(), "Microsoft.ManagedIdentity/userAssignedIdentities/assign/action") ||
		!strings.Contains(r.message(), shared) || !strings.Contains(r.message(), "Microsoft.App/containerApps/write") {
		t.Fatalf("attach without assign = %d %s", r.status, r.raw)
	}
	if m := uaMap(e.must(http.StatusOK, "GET", app, appVersion, nil)); len(m) != 1 {
		t.Errorf("refused attach changed the app: %v", m)
	}
	// Detaching needs no linked permission; Managed Identity Operator on the identity allows
	// attaching it.
	e.assign(dev, rbac.ManagedIdentityOperatorRoleID, shared)
	r = e.call(dev, "PATCH", app, appVersion, map[string]any{"identity": map[string]any{
		"type": "SystemAssigned,UserAssigned", "userAssignedIdentities": map[string]any{shared: map[string]any{}}}})
	if r.status != 200 || len(uaMap(r)) != 2 {
		t.Fatalf("attach with operator = %d %s", r.status, r.raw)
	}
	// A reader cannot write at all.
	reader := e.principal(store.KindApplication, "reader")
	e.assign(reader, rbac.ReaderRoleID, e.rg("app"))
	if r := e.call(reader, "PATCH", app, appVersion, map[string]any{"identity": map[string]any{"type": "None"}}); r.status != 403 || r.code() != "AuthorizationFailed" {
		t.Errorf("reader PATCH = %d %s", r.status, r.raw)
	}
	if l := e.call(reader, "GET", e.rg("app")+"/providers/Microsoft.App/containerApps", appVersion, nil).list(); len(l) != 1 {
		t.Errorf("reader list = %v", l)
	}
	if l := e.call(e.principal(store.KindApplication, "nobody"), "GET", e.rg("app")+"/providers/Microsoft.App/containerApps", appVersion, nil).list(); len(l) != 0 {
		t.Errorf("stranger list = %v", l)
	}
}

func TestIsolationScopeRegional(t *testing.T) {
	e := newTestEnv(t)
	e.group("g")
	id := e.uamiPath("g", "regional")
	e.must(http.StatusCreated, "PUT", id, msiVersion, map[string]any{"location": "eastus", "properties": map[string]any{"isolationScope": "Regional"}})
	body := func(loc string) map[string]any {
		return map[string]any{"location": loc, "identity": map[string]any{"type": "UserAssigned", "userAssignedIdentities": map[string]any{id: map[string]any{}}}}
	}
	if r := e.as("PUT", e.rg("g")+"/providers/Microsoft.Web/sites/far", "2023-12-01", body("westus")); r.status != 400 || r.code() != "FailedIdentityOperation" {
		t.Errorf("other region = %d %s", r.status, r.raw)
	}
	e.must(http.StatusCreated, "PUT", e.rg("g")+"/providers/Microsoft.Web/sites/near", "2023-12-01", body("East US"))
}

func TestWebSlots(t *testing.T) {
	e := newTestEnv(t)
	e.group("g")
	site := e.rg("g") + "/providers/Microsoft.Web/sites/web"
	e.must(http.StatusCreated, "PUT", site, "2023-12-01", map[string]any{"location": "eastus", "identity": map[string]any{"type": "SystemAssigned"}})
	slot := site + "/slots/staging"
	r := e.must(http.StatusCreated, "PUT", slot, "2023-12-01", map[string]any{"location": "eastus", "identity": map[string]any{"type": "SystemAssigned"}})
	if r.str("name") != "web/staging" || r.str("type") != "Microsoft.Web/sites/slots" || r.str("id") != slot {
		t.Errorf("slot = %s", r.raw)
	}
	slotPrincipal := r.str("identity.principalId")
	if sp, err := e.st.GetPrincipal(t.Context(), slotPrincipal); err != nil || sp.DisplayName != "web/slots/staging" {
		t.Errorf("slot principal = %+v %v", sp, err)
	}
	if l := e.must(http.StatusOK, "GET", site+"/slots", "2023-12-01", nil).list(); len(l) != 1 || l[0]["name"] != "web/staging" {
		t.Errorf("slots = %v", l)
	}
	// The generic list shows top-level resources only.
	g := e.must(http.StatusOK, "GET", e.rg("g")+"/resources", "2021-04-01", nil)
	if l := g.list(); len(l) != 1 || l[0]["type"] != "Microsoft.Web/sites" || lookup(l[0], "identity.type") != "SystemAssigned" {
		t.Errorf("generic list = %s", g.raw)
	}
	e.uami("g", "id1")
	g = e.must(http.StatusOK, "GET", "/subscriptions/"+e.sub+"/resources?$filter=resourceType%20eq%20'microsoft.managedidentity/userassignedidentities'", "2021-04-01", nil)
	if l := g.list(); len(l) != 1 || l[0]["name"] != "id1" {
		t.Errorf("filtered generic list = %s", g.raw)
	}
	// Deleting the site deletes the slot and both principals.
	sitePrincipal := e.must(http.StatusOK, "GET", site, "2023-12-01", nil).str("identity.principalId")
	e.must(http.StatusOK, "DELETE", site, "2023-12-01", nil)
	if e.hasPrincipal(sitePrincipal) || e.hasPrincipal(slotPrincipal) {
		t.Error("principals survived the site")
	}
	if r := e.as("GET", site+"/slots", "2023-12-01", nil); r.status != 404 || r.code() != "ParentResourceNotFound" {
		t.Errorf("slots of deleted site = %d %s", r.status, r.raw)
	}
}

func TestComputePropertiesPatch(t *testing.T) {
	e := newTestEnv(t)
	e.group("g")
	cg := e.rg("g") + "/providers/Microsoft.ContainerInstance/containerGroups/cg"
	e.must(http.StatusCreated, "PUT", cg, "2023-05-01", map[string]any{"location": "eastus", "tags": map[string]string{"a": "1"},
		"properties": map[string]any{"osType": "Linux", "containers": []any{map[string]any{"name": "c"}}, "ipAddress": map[string]any{"type": "Public", "ports": []any{80}}}})
	r := e.must(http.StatusOK, "PATCH", cg, "2023-05-01", map[string]any{"properties": map[string]any{"osType": nil, "ipAddress": map[string]any{"type": "Private"}}})
	var props map[string]any
	_ = json.Unmarshal([]byte(mustJSON(r.body["properties"])), &props)
	want := map[string]any{"containers": []any{map[string]any{"name": "c"}}, "ipAddress": map[string]any{"type": "Private", "ports": []any{float64(80)}}, "provisioningState": "Succeeded"}
	if !reflect.DeepEqual(props, want) || lookup(r.body, "tags.a") != "1" {
		t.Errorf("PATCH = %s", r.raw)
	}
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func TestMergePatch(t *testing.T) {
	tests := []struct{ target, patch, want string }{
		{`{"a":"b"}`, `{"a":"c"}`, `{"a":"c"}`},
		{`{"a":"b"}`, `{"b":"c"}`, `{"a":"b","b":"c"}`},
		{`{"a":"b"}`, `{"a":null}`, `{}`},
		{`{"a":"b","b":"c"}`, `{"a":null}`, `{"b":"c"}`},
		{`{"a":["b"]}`, `{"a":"c"}`, `{"a":"c"}`},
		{`{"a":"c"}`, `{"a":["b"]}`, `{"a":["b"]}`},
		{`{"a":{"b":"c"}}`, `{"a":{"b":"d","c":null}}`, `{"a":{"b":"d"}}`},
		{`{"a":[{"b":"c"}]}`, `{"a":[1]}`, `{"a":[1]}`},
		{`{"e":null}`, `{"a":1}`, `{"a":1,"e":null}`},
		{``, `{"a":{"bb":{"ccc":null}}}`, `{"a":{"bb":{}}}`},
		{`{"n":12345678901234567890}`, `{}`, `{"n":12345678901234567890}`},
	}
	for _, tt := range tests {
		got, err := mergePatch(json.RawMessage(tt.target), json.RawMessage(tt.patch))
		if err != nil || string(got) != tt.want {
			t.Errorf("mergePatch(%s, %s) = %s, %v; want %s", tt.target, tt.patch, got, err, tt.want)
		}
	}
	if _, err := mergePatch(json.RawMessage(`{}`), json.RawMessage(`{`)); err == nil {
		t.Error("bad patch accepted")
	}
}

func TestCanonicalIDs(t *testing.T) {
	e := newTestEnv(t)
	e.group("G")
	// Namespace and type in any case; names keep theirs; the id is canonical.
	r := e.must(http.StatusCreated, "PUT", "/SUBSCRIPTIONS/"+e.sub+"/RESOURCEGROUPS/G/PROVIDERS/microsoft.web/SITES/MyApp", "2023-12-01", map[string]any{"location": "eastus"})
	if r.str("id") != e.rg("G")+"/providers/Microsoft.Web/sites/MyApp" || r.str("type") != "Microsoft.Web/sites" || r.str("name") != "MyApp" {
		t.Errorf("canonical = %s", r.raw)
	}
	e.must(http.StatusOK, "GET", e.rg("g")+"/providers/Microsoft.Web/sites/myapp", "2023-12-01", nil)
}

func TestCheckExistenceByID(t *testing.T) {
	e := newTestEnv(t)
	e.group("g")
	site := e.rg("g") + "/providers/Microsoft.Web/sites/web"
	e.must(http.StatusNotFound, "HEAD", site, "2023-12-01", nil)
	e.must(http.StatusCreated, "PUT", site, "2023-12-01", map[string]any{"location": "eastus"})
	e.must(http.StatusNoContent, "HEAD", site, "2023-12-01", nil)
	e.must(http.StatusNotFound, "HEAD", e.uamiPath("g", "id1"), msiVersion, nil)
	e.uami("g", "id1")
	e.must(http.StatusNoContent, "HEAD", e.uamiPath("g", "id1"), msiVersion, nil)
}

// TestCombinedTypeSpelling: each provider echoes the combined type as its SDK's enum spells it,
// whatever spelling the request used.
func TestCombinedTypeSpelling(t *testing.T) {
	e := newTestEnv(t)
	e.group("g")
	id1, _ := e.uami("g", "id1")
	for _, tt := range []struct{ path, version, want string }{
		{"/providers/Microsoft.Compute/virtualMachines/vm", vmVersion, "SystemAssigned, UserAssigned"},
		{"/providers/Microsoft.Web/sites/web", "2023-12-01", "SystemAssigned, UserAssigned"},
		{"/providers/Microsoft.ContainerInstance/containerGroups/cg", "2023-05-01", "SystemAssigned, UserAssigned"},
		{"/providers/Microsoft.App/containerApps/app", appVersion, "SystemAssigned,UserAssigned"},
	} {
		for _, sent := range []string{"SystemAssigned,UserAssigned", "systemassigned, userassigned"} {
			r := e.as("PUT", e.rg("g")+tt.path, tt.version, map[string]any{"location": "eastus", "identity": map[string]any{
				"type": sent, "userAssignedIdentities": map[string]any{id1: map[string]any{}}}})
			if r.status/100 != 2 || r.str("identity.type") != tt.want {
				t.Errorf("%s with %q = %d %s, want %q", tt.path, sent, r.status, r.str("identity.type"), tt.want)
			}
		}
	}
}
