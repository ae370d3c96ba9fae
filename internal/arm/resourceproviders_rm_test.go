package arm

import (
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/mint-id/mint/internal/store"
)

func TestProviderMetadataIsTheRoutersTable(t *testing.T) {
	e := newTestEnv(t)
	const v = "2021-04-01"

	list := e.must(http.StatusOK, http.MethodGet, e.subScope()+"/providers", v, nil).list()
	var namespaces []string
	for _, p := range list {
		namespaces = append(namespaces, p["namespace"].(string))
		if p["registrationState"] != "Registered" || p["id"] != e.subScope()+"/providers/"+p["namespace"].(string) {
			t.Errorf("provider %v", p)
		}
	}
	for _, want := range []string{"Microsoft.App", "Microsoft.Authorization", "Microsoft.Compute", "Microsoft.KeyVault", "Microsoft.ManagedIdentity", "Microsoft.Resources", "Microsoft.Web"} {
		if !slices.Contains(namespaces, want) {
			t.Errorf("providers %v lack %s", namespaces, want)
		}
	}

	// Every type and version listed is one the router accepts, and the other way round.
	for _, p := range list {
		ns := p["namespace"].(string)
		for _, rt := range p["resourceTypes"].([]any) {
			m := rt.(map[string]any)
			full := ns + "/" + m["resourceType"].(string)
			prov := e.srv.providers[strings.ToLower(full)]
			if prov == nil {
				t.Errorf("%s is listed but not routed", full)
				continue
			}
			var got []string
			for _, v := range m["apiVersions"].([]any) {
				got = append(got, v.(string))
			}
			if len(got) != len(prov.apiVersions()) || !slices.IsSortedFunc(got, func(a, b string) int { return strings.Compare(b, a) }) {
				t.Errorf("%s: apiVersions %v, router accepts %v (want all, newest first)", full, got, prov.apiVersions())
			}
		}
	}

	mi := e.must(http.StatusOK, http.MethodGet, e.subScope()+"/providers/microsoft.managedidentity", v, nil)
	if mi.str("namespace") != "Microsoft.ManagedIdentity" {
		t.Errorf("namespace %q", mi.str("namespace"))
	}
	found := false
	for _, rt := range mi.body["resourceTypes"].([]any) {
		m := rt.(map[string]any)
		if m["resourceType"] == "userAssignedIdentities" {
			found = true
			if m["defaultApiVersion"] != "2024-11-30" || len(m["locations"].([]any)) == 0 {
				t.Errorf("userAssignedIdentities: %v", m)
			}
		}
	}
	if !found {
		t.Errorf("no userAssignedIdentities: %s", mi.raw)
	}

	tenant := e.must(http.StatusOK, http.MethodGet, "/providers/Microsoft.KeyVault", v, nil)
	if tenant.str("id") != "/providers/Microsoft.KeyVault" || tenant.str("registrationState") != "" {
		t.Errorf("tenant-level provider: %s", tenant.raw)
	}
	if n := len(e.must(http.StatusOK, http.MethodGet, "/providers", v, nil).list()); n != len(list) {
		t.Errorf("tenant-level list has %d providers, subscription-level %d", n, len(list))
	}

	reg := e.must(http.StatusOK, http.MethodPost, e.subScope()+"/providers/Microsoft.KeyVault/register", v, nil)
	if reg.str("registrationState") != "Registered" || reg.str("namespace") != "Microsoft.KeyVault" {
		t.Errorf("register: %s", reg.raw)
	}
	e.must(http.StatusOK, http.MethodPost, e.subScope()+"/providers/Microsoft.KeyVault/unregister", v, nil)

	if r := e.as(http.MethodGet, e.subScope()+"/providers/Microsoft.Nope", v, nil); r.status != http.StatusNotFound || r.code() != "InvalidResourceNamespace" {
		t.Errorf("unknown namespace: %d %s", r.status, r.raw)
	}
	if r := e.as(http.MethodGet, e.subScope()+"/providers", "", nil); r.status != http.StatusBadRequest || r.code() != "MissingApiVersionParameter" {
		t.Errorf("no api-version: %d %s", r.status, r.raw)
	}
	if r := e.as(http.MethodDelete, e.subScope()+"/providers/Microsoft.KeyVault", v, nil); r.status != http.StatusMethodNotAllowed {
		t.Errorf("DELETE: %d %s", r.status, r.raw)
	}

	// A principal without a role: the subscription's providers are not theirs to read or register.
	nobody := e.principal(store.KindApplication, "nobody")
	if r := e.call(nobody, http.MethodGet, e.subScope()+"/providers", v, nil); r.status != http.StatusForbidden || r.code() != "AuthorizationFailed" {
		t.Errorf("list without a role: %d %s", r.status, r.raw)
	}
	if r := e.call(nobody, http.MethodPost, e.subScope()+"/providers/Microsoft.KeyVault/register", v, nil); r.status != http.StatusForbidden || !strings.Contains(r.message(), "Microsoft.KeyVault/register/action") {
		t.Errorf("register without a role: %d %s", r.status, r.raw)
	}
	if r := e.call(nobody, http.MethodGet, "/providers/Microsoft.KeyVault", v, nil); r.status != http.StatusOK { // tenant level: any caller
		t.Errorf("tenant-level provider without a role: %d %s", r.status, r.raw)
	}
}
