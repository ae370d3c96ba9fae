package armid

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
)

const (
	sub  = "00000000-0000-0000-0000-000000000001"
	guid = "05c5a614-a7d6-4502-b150-c2fb455033ff"
)

func TestParse(t *testing.T) {
	tests := []struct {
		name      string
		in        string
		canonical string
		sub, rg   string
		provider  string
		types     []string
		names     []string
		typ       string
		resName   string
		scope     string // "" means Scope reports false
		parent    string // "" means Parent reports false
	}{
		{
			name: "subscription", in: "/subscriptions/" + sub, canonical: "/subscriptions/" + sub,
			sub: sub, typ: SubscriptionType, resName: sub, parent: "/",
		},
		{
			name: "resource group, lower-case keyword", in: "/SUBSCRIPTIONS/" + sub + "/resourcegroups/My.RG(1)",
			canonical: "/subscriptions/" + sub + "/resourceGroups/My.RG(1)",
			sub:       sub, rg: "My.RG(1)", typ: ResourceGroupType, resName: "My.RG(1)", parent: "/subscriptions/" + sub,
		},
		{
			name:      "user-assigned identity",
			in:        "/subscriptions/" + sub + "/resourcegroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/Web-ID",
			canonical: "/subscriptions/" + sub + "/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/Web-ID",
			sub:       sub, rg: "rg", provider: "Microsoft.ManagedIdentity", types: []string{"userAssignedIdentities"}, names: []string{"Web-ID"},
			typ: "Microsoft.ManagedIdentity/userAssignedIdentities", resName: "Web-ID",
			scope: "/subscriptions/" + sub + "/resourceGroups/rg", parent: "/subscriptions/" + sub + "/resourceGroups/rg",
		},
		{
			name:      "child resource",
			in:        "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Web/sites/app/slots/staging",
			canonical: "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Web/sites/app/slots/staging",
			sub:       "s", rg: "rg", provider: "Microsoft.Web", types: []string{"sites", "slots"}, names: []string{"app", "staging"},
			typ: "Microsoft.Web/sites/slots", resName: "staging",
			scope:  "/subscriptions/s/resourceGroups/rg",
			parent: "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Web/sites/app",
		},
		{
			name:      "federated credential",
			in:        "/subscriptions/s/resourcegroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id/federatedIdentityCredentials/fic",
			canonical: "/subscriptions/s/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id/federatedIdentityCredentials/fic",
			sub:       "s", rg: "rg", provider: "Microsoft.ManagedIdentity",
			types: []string{"userAssignedIdentities", "federatedIdentityCredentials"}, names: []string{"id", "fic"},
			typ: "Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials", resName: "fic",
			scope:  "/subscriptions/s/resourceGroups/rg",
			parent: "/subscriptions/s/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id",
		},
		{
			name:      "subscription-level provider resource",
			in:        "/subscriptions/s/providers/Microsoft.Authorization/roleDefinitions/" + guid,
			canonical: "/subscriptions/s/providers/Microsoft.Authorization/roleDefinitions/" + guid,
			sub:       "s", provider: "Microsoft.Authorization", types: []string{"roleDefinitions"}, names: []string{guid},
			typ: "Microsoft.Authorization/roleDefinitions", resName: guid,
			scope: "/subscriptions/s", parent: "/subscriptions/s",
		},
		{
			name:      "tenant-level provider resource",
			in:        "/Providers/Microsoft.Authorization/roleDefinitions/" + guid,
			canonical: "/providers/Microsoft.Authorization/roleDefinitions/" + guid,
			provider:  "Microsoft.Authorization", types: []string{"roleDefinitions"}, names: []string{guid},
			typ: "Microsoft.Authorization/roleDefinitions", resName: guid,
			scope: "/", parent: "/",
		},
		{
			name:      "management group",
			in:        "/providers/Microsoft.Management/managementGroups/mg1",
			canonical: "/providers/Microsoft.Management/managementGroups/mg1",
			provider:  "Microsoft.Management", types: []string{"managementGroups"}, names: []string{"mg1"},
			typ: "Microsoft.Management/managementGroups", resName: "mg1", scope: "/", parent: "/",
		},
		{
			name:      "role assignment on a resource (extension)",
			in:        "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Web/sites/app/providers/Microsoft.Authorization/roleAssignments/" + guid,
			canonical: "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Web/sites/app/providers/Microsoft.Authorization/roleAssignments/" + guid,
			sub:       "s", rg: "rg", provider: "Microsoft.Authorization", types: []string{"roleAssignments"}, names: []string{guid},
			typ: "Microsoft.Authorization/roleAssignments", resName: guid,
			scope:  "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Web/sites/app",
			parent: "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Web/sites/app",
		},
		{
			name:      "system-assigned identity of a resource",
			in:        "/subscriptions/s/resourceGroups/rg/providers/Microsoft.App/containerApps/web/providers/Microsoft.ManagedIdentity/identities/default",
			canonical: "/subscriptions/s/resourceGroups/rg/providers/Microsoft.App/containerApps/web/providers/Microsoft.ManagedIdentity/identities/default",
			sub:       "s", rg: "rg", provider: "Microsoft.ManagedIdentity", types: []string{"identities"}, names: []string{"default"},
			typ: "Microsoft.ManagedIdentity/identities", resName: "default",
			scope:  "/subscriptions/s/resourceGroups/rg/providers/Microsoft.App/containerApps/web",
			parent: "/subscriptions/s/resourceGroups/rg/providers/Microsoft.App/containerApps/web",
		},
		{
			name:      "role assignment on a management group",
			in:        "/providers/Microsoft.Management/managementGroups/mg/providers/Microsoft.Authorization/roleAssignments/" + guid,
			canonical: "/providers/Microsoft.Management/managementGroups/mg/providers/Microsoft.Authorization/roleAssignments/" + guid,
			provider:  "Microsoft.Authorization", types: []string{"roleAssignments"}, names: []string{guid},
			typ: "Microsoft.Authorization/roleAssignments", resName: guid,
			scope:  "/providers/Microsoft.Management/managementGroups/mg",
			parent: "/providers/Microsoft.Management/managementGroups/mg",
		},
		{
			name:      "resource named providers",
			in:        "/subscriptions/s/resourceGroups/providers/providers/Microsoft.Web/sites/providers",
			canonical: "/subscriptions/s/resourceGroups/providers/providers/Microsoft.Web/sites/providers",
			sub:       "s", rg: "providers", provider: "Microsoft.Web", types: []string{"sites"}, names: []string{"providers"},
			typ: "Microsoft.Web/sites", resName: "providers",
			scope: "/subscriptions/s/resourceGroups/providers", parent: "/subscriptions/s/resourceGroups/providers",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id, err := Parse(tt.in)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if got := id.String(); got != tt.canonical {
				t.Errorf("String = %q, want %q", got, tt.canonical)
			}
			if id.SubscriptionID != tt.sub || id.ResourceGroup != tt.rg || id.Provider != tt.provider {
				t.Errorf("sub/rg/provider = %q/%q/%q, want %q/%q/%q", id.SubscriptionID, id.ResourceGroup, id.Provider, tt.sub, tt.rg, tt.provider)
			}
			if !reflect.DeepEqual(id.Types, tt.types) || !reflect.DeepEqual(id.Names, tt.names) {
				t.Errorf("types/names = %v/%v, want %v/%v", id.Types, id.Names, tt.types, tt.names)
			}
			if got := id.ResourceType(); got != tt.typ {
				t.Errorf("ResourceType = %q, want %q", got, tt.typ)
			}
			if got := id.Name(); got != tt.resName {
				t.Errorf("Name = %q, want %q", got, tt.resName)
			}
			scope, ok := id.Scope()
			if (tt.scope != "") != ok || (ok && scope.String() != tt.scope) {
				t.Errorf("Scope = %q, %v; want %q", scope, ok, tt.scope)
			}
			parent, ok := id.Parent()
			if (tt.parent != "") != ok || (ok && parent.String() != tt.parent) {
				t.Errorf("Parent = %q, %v; want %q", parent, ok, tt.parent)
			}
			if !id.Equal(mustParse(t, strings.ToUpper(tt.in))) {
				t.Errorf("not Equal to its upper-case form")
			}
			if id.Lower() != strings.ToLower(tt.canonical) {
				t.Errorf("Lower = %q", id.Lower())
			}
		})
	}
}

func mustParse(t *testing.T, s string) ResourceID {
	t.Helper()
	id, err := ParseScope(s)
	if err != nil {
		t.Fatalf("parse %q: %v", s, err)
	}
	return id
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		in     string
		reason string
	}{
		{"", "it is empty"},
		{"/", "the root scope '/' is not a resource id"},
		{"subscriptions/s", "it must start with '/'"},
		{"/subscriptions", "'subscriptions' must be followed by a subscription id"},
		{"/subscriptions/s/", "it must not end with '/'"},
		{"/subscriptions//resourceGroups/rg", "it contains an empty segment ('//')"},
		{"/subscriptions/s/resourceGroups", "'resourceGroups' must be followed by a resource group name"},
		{"/subscriptions/s/resourceGroups/rg/providers", "'providers' must be followed by a resource provider namespace"},
		{"/subscriptions/s/resourceGroups/rg/providers/Microsoft.Web", "provider namespace 'Microsoft.Web' must be followed by a resource type and name"},
		{"/subscriptions/s/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities", "resource type 'userAssignedIdentities' must be followed by a resource name"},
		{"/subscriptions/s/resourceGroups/rg/providers/Microsoft.Web/sites/app/slots", "resource type 'slots' must be followed by a resource name"},
		{"/subscriptions/s/resourceGroups/rg/foo/bar", "unexpected segment 'foo'"},
		{"/resourceGroups/rg", "unexpected segment 'resourceGroups'"},
		{"/subscriptions/s/resourceGroups/rg/providers/Microsoft.Web/sites/app/providers/Microsoft.Authorization", "provider namespace 'Microsoft.Authorization' must be followed by a resource type and name"},
		{"/subscriptions/s\n/resourceGroups/rg", "it contains control characters"},
		{"/subscriptions/\xff", "it is not valid UTF-8"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			_, err := Parse(tt.in)
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("Parse(%q) error = %v, want *Error", tt.in, err)
			}
			want := "The resource id '" + tt.in + "' is invalid: " + tt.reason + ". Expected a fully qualified resource id such as '/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}/providers/{namespace}/{type}/{name}'."
			if e.Message != want {
				t.Errorf("message\n got %q\nwant %q", e.Message, want)
			}
			if e.Code != CodeInvalidResourceID || e.Value != tt.in {
				t.Errorf("code/value = %q/%q", e.Code, e.Value)
			}
		})
	}
}

func TestParseScope(t *testing.T) {
	root, err := ParseScope("/")
	if err != nil || !root.IsRoot() || root.String() != "/" || root.ResourceType() != "" || root.Name() != "" {
		t.Fatalf("ParseScope(/) = %#v, %v", root, err)
	}
	if _, ok := root.Parent(); ok {
		t.Error("root has a parent")
	}
	if _, ok := root.Scope(); ok {
		t.Error("root has a scope")
	}
	if _, err := ParseScope(""); err == nil {
		t.Error("ParseScope(\"\") succeeded")
	}
	rg := mustParse(t, "/subscriptions/s/resourcegroups/rg")
	if !rg.IsResourceGroup() || rg.IsSubscription() || rg.IsResource() || rg.IsRoot() {
		t.Errorf("kind predicates wrong for %s", rg)
	}
}

func TestParentChainReachesRoot(t *testing.T) {
	id := mustParse(t, "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Web/sites/app/slots/x/providers/Microsoft.Authorization/roleAssignments/"+guid)
	want := []string{
		"/subscriptions/s/resourceGroups/rg/providers/Microsoft.Web/sites/app/slots/x",
		"/subscriptions/s/resourceGroups/rg/providers/Microsoft.Web/sites/app",
		"/subscriptions/s/resourceGroups/rg",
		"/subscriptions/s",
		"/",
	}
	var got []string
	for p, ok := id.Parent(); ok; p, ok = p.Parent() {
		got = append(got, p.String())
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("chain = %v\nwant %v", got, want)
	}
}

func TestIsUnder(t *testing.T) {
	id := mustParse(t, "/subscriptions/S/resourceGroups/RG/providers/Microsoft.Web/sites/app")
	tests := []struct {
		scope string
		want  bool
	}{
		{"/", true},
		{"/subscriptions/s", true},
		{"/SUBSCRIPTIONS/s/resourcegroups/rg", true},
		{"/subscriptions/s/resourceGroups/rg/providers/microsoft.web/sites/APP", true},
		{"/subscriptions/s/resourceGroups/r", false},   // prefix but not a segment boundary
		{"/subscriptions/s/resourceGroups/rg2", false}, // sibling
		{"/subscriptions/s/resourceGroups/rg/providers/Microsoft.Web/sites/app/slots/x", false},
		{"/subscriptions/other", false},
		{"not-a-scope", false},
		{"", false},
	}
	for _, tt := range tests {
		if got := id.IsUnder(tt.scope); got != tt.want {
			t.Errorf("IsUnder(%q) = %v, want %v", tt.scope, got, tt.want)
		}
	}
}

func TestBuilders(t *testing.T) {
	rg := ResourceGroupID("s", "rg")
	ua := rg.Extension("Microsoft.ManagedIdentity", "userAssignedIdentities", "id1")
	if ua.String() != "/subscriptions/s/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id1" {
		t.Errorf("ua = %s", ua)
	}
	fic := ua.Child("federatedIdentityCredentials", "f")
	if fic.ResourceType() != "Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials" || len(ua.Types) != 1 {
		t.Errorf("fic = %s (ua types %v)", fic, ua.Types)
	}
	app := rg.Extension("Microsoft.App", "containerApps", "web")
	def := app.Extension("Microsoft.ManagedIdentity", "identities", "default")
	if def.String() != app.String()+"/providers/Microsoft.ManagedIdentity/identities/default" {
		t.Errorf("default = %s", def)
	}
	if s, _ := def.Scope(); !s.Equal(app) {
		t.Errorf("scope of %s = %s", def, s)
	}
	if !def.Equal(mustParse(t, def.String())) {
		t.Error("built id does not round trip")
	}
	ra := Subscription("s").Extension("Microsoft.Authorization", "roleAssignments", guid)
	if ra.String() != "/subscriptions/s/providers/Microsoft.Authorization/roleAssignments/"+guid {
		t.Errorf("ra = %s", ra)
	}
	if Root().Extension("Microsoft.Authorization", "roleDefinitions", guid).String() != "/providers/Microsoft.Authorization/roleDefinitions/"+guid {
		t.Error("tenant-level builder")
	}
	if rg.Child("x", "y").String() != rg.String() {
		t.Error("Child on a resource group changed it")
	}
}

func TestParentDoesNotAlias(t *testing.T) {
	id := mustParse(t, "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Web/sites/app/slots/a")
	p, _ := id.Parent()
	c := p.Child("slots", "b")
	if id.Names[1] != "a" || c.Names[1] != "b" {
		t.Errorf("Child of Parent overwrote the original: %s / %s", id, c)
	}
}

func TestJSON(t *testing.T) {
	type wrapper struct {
		Scope ResourceID `json:"scope"`
	}
	in := `{"scope":"/subscriptions/s/resourcegroups/rg"}`
	var w wrapper
	if err := json.Unmarshal([]byte(in), &w); err != nil {
		t.Fatal(err)
	}
	out, _ := json.Marshal(w)
	if string(out) != `{"scope":"/subscriptions/s/resourceGroups/rg"}` {
		t.Errorf("marshal = %s", out)
	}
	if err := json.Unmarshal([]byte(`{"scope":"rg"}`), &w); err == nil {
		t.Error("bad scope accepted")
	}
}

func TestParseUserAssignedIdentityID(t *testing.T) {
	good := []string{
		"/subscriptions/s/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id1",
		"/subscriptions/s/resourcegroups/rg/providers/microsoft.managedidentity/userassignedidentities/id1",
	}
	for _, s := range good {
		id, err := ParseUserAssignedIdentityID(s)
		if err != nil {
			t.Fatalf("%s: %v", s, err)
		}
		if id.String() != good[0] {
			t.Errorf("canonical = %s", id)
		}
	}
	bad := []string{
		"/subscriptions/s/resourceGroups/rg/providers/Micrososft.ManagedIdentity/userAssignedIdentities/MSI_1",
		"/subscriptions/s/resourceGroups/rg/providers/Microsoft.ManagedIdentity/identities/default",
		"/subscriptions/s/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id1",
		"/subscriptions/s/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id1/federatedIdentityCredentials/f",
		"/subscriptions/s/resourceGroups/rg/providers/Microsoft.Web/sites/a/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id1",
		"id1",
		"",
	}
	for _, s := range bad {
		_, err := ParseUserAssignedIdentityID(s)
		var e *Error
		if !errors.As(err, &e) {
			t.Fatalf("%q: err = %v", s, err)
		}
		want := "The identity ids '" + s + "' are invalid. It must be of the following format: '/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/{resourceName}'."
		if e.Code != "InvalidIdentityId" || e.Message != want {
			t.Errorf("%q: %s: %s", s, e.Code, e.Message)
		}
	}
}

func TestInvalidIdentityIDsListsAll(t *testing.T) {
	e := InvalidIdentityIDs([]string{"a", "b"})
	want := "The identity ids 'a,b' are invalid. It must be of the following format: '/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/{resourceName}'."
	if e.Message != want {
		t.Errorf("got %q", e.Message)
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"/", "/subscriptions/s", "/subscriptions/s/resourceGroups/rg",
		"/subscriptions/s/resourcegroups/rg/providers/Microsoft.Web/sites/a/slots/b",
		"/providers/Microsoft.Authorization/roleDefinitions/x",
		"/subscriptions/s/resourceGroups/rg/providers/Microsoft.Web/sites/app/providers/Microsoft.Authorization/roleAssignments/g",
		"/subscriptions/s/resourceGroups/providers/providers/p/providers/x",
		"//", "/subscriptions//", "/SUBSCRIPTIONS/S/RESOURCEGROUPS/RG/PROVIDERS/A/B/C/PROVIDERS/D/E/F",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		id, err := ParseScope(s)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || e.Message == "" {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		canon := id.String()
		again, err := ParseScope(canon)
		if err != nil {
			t.Fatalf("canonical %q of %q does not parse: %v", canon, s, err)
		}
		if again.String() != canon || !reflect.DeepEqual(again, id) {
			t.Fatalf("round trip: %#v != %#v", again, id)
		}
		if !id.Equal(again) || !id.IsUnderID(again) || !id.IsUnder("/") {
			t.Fatalf("%q: Equal/IsUnder inconsistent", canon)
		}
		_ = id.ResourceType()
		_ = id.Name()
		for p, ok := id.Parent(); ok; p, ok = p.Parent() {
			if !id.IsUnderID(p) {
				t.Fatalf("%q not under its ancestor %q", canon, p)
			}
		}
		if sc, ok := id.Scope(); ok && !id.IsUnderID(sc) {
			t.Fatalf("%q not under its scope %q", canon, sc)
		}
	})
}
