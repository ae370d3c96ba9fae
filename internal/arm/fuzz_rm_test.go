package arm

import (
	"encoding/json"
	"net/http"
	"testing"
)

func FuzzParseListFilter(f *testing.F) {
	for _, s := range []string{"", "resourceType eq 'a'", "tagName eq 'x' and tagValue eq 'y'", "name eq 'a''b' and", "'", " and and ", "resourceType eq '"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		lf, e := parseListFilter(s, "resourceType", "name", "location", "tagName", "tagValue")
		if e != nil {
			if e.Status != http.StatusBadRequest || e.Code != "InvalidFilterInQueryString" {
				t.Fatalf("error %+v", e)
			}
			return
		}
		if _, ok := lf.values["tagvalue"]; ok {
			if _, ok := lf.values["tagname"]; !ok {
				t.Fatal("tagValue without tagName accepted")
			}
		}
		lf.matchTags(map[string]string{"a": "b"})
		lf.matchName("n")
		lf.matchLocation("eastus")
	})
}

func FuzzMergePatch(f *testing.F) {
	f.Add([]byte(`{"a":{"b":1}}`), []byte(`{"a":{"b":null,"c":[1]}}`))
	f.Add([]byte(``), []byte(`{"x":null}`))
	f.Add([]byte(`{"n":1e400}`), []byte(`{}`))
	f.Fuzz(func(t *testing.T, target, patch []byte) {
		if !json.Valid(patch) || (len(target) > 0 && !json.Valid(target)) {
			return
		}
		out, err := mergePatch(target, patch)
		if err != nil {
			return
		}
		if !json.Valid(out) {
			t.Fatalf("merge of %s and %s gave invalid JSON %s", target, patch, out)
		}
		// Applying the same patch again changes nothing (merge patches are idempotent).
		again, err := mergePatch(out, patch)
		if err != nil || string(again) != string(out) {
			t.Fatalf("not idempotent: %s then %s", out, again)
		}
	})
}

// FuzzComputeAndIdentityBodies sends arbitrary bodies to the compute-like and managed-identity
// handlers: every answer is a 2xx or an ARM 4xx, never a 5xx or a panic.
func FuzzComputeAndIdentityBodies(f *testing.F) {
	for _, s := range []string{
		`{"location":"eastus","identity":{"type":"SystemAssigned, UserAssigned","userAssignedIdentities":{"/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/g/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id1":{}}}}`,
		`{"identity":{"type":"None"},"properties":{"a":null}}`,
		`{"location":"eastus","properties":{"isolationScope":"Regional"},"tags":{"a":"b"}}`,
		`{"properties":{"issuer":"https://i","subject":"s","audiences":["a"]}}`,
		`[]`, `null`, `{"location":null}`,
	} {
		f.Add([]byte(s), uint8(0))
	}
	e := newTestEnv(f)
	paths := []struct{ method, path, version string }{
		{"PUT", "/providers/Microsoft.App/containerApps/app1", appVersion},
		{"PATCH", "/providers/Microsoft.App/containerApps/app1", appVersion},
		{"PUT", "/providers/Microsoft.Compute/virtualMachines/vm1", vmVersion},
		{"PATCH", "/providers/Microsoft.Compute/virtualMachines/vm1", vmVersion},
		{"PUT", "/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id1", msiVersion},
		{"PATCH", "/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id1", msiVersion},
		{"PUT", "/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id1/federatedIdentityCredentials/fic1", "2025-01-31-preview"},
		{"PUT", "", "2021-04-01"},
	}
	f.Fuzz(func(t *testing.T, body []byte, which uint8) {
		e.t = t
		if _, err := e.st.GetResourceGroup(t.Context(), e.sub, "g"); err != nil {
			e.group("g")
		}
		p := paths[int(which)%len(paths)]
		r := e.as(p.method, e.rg("g")+p.path, p.version, string(body))
		if r.status >= 500 || (r.status >= 400 && r.code() == "") {
			t.Fatalf("%s %s with %q: %d %s", p.method, p.path, body, r.status, r.raw)
		}
	})
}
