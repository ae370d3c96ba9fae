package graph

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

func listPage(t *testing.T, s *Server, target string, items []map[string]any) (int, map[string]any) {
	t.Helper()
	r := httptest.NewRequest(http.MethodGet, target, nil)
	r.Host = "graph.microsoft.com"
	w := httptest.NewRecorder()
	s.writeList(w, r, "users", items)
	var body map[string]any
	if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil {
		t.Fatalf("%s: %v %s", target, err, w.Body)
	}
	return w.Code, body
}

// Paging: $top pages, each with an @odata.nextLink carrying the other options and a $skiptoken,
// until the last; $select keeps the named properties (and @odata.type).
func TestWriteListPagesAndSelects(t *testing.T) {
	var items []map[string]any
	for i := range 5 {
		items = append(items, map[string]any{"@odata.type": "#microsoft.graph.user", "id": fmt.Sprint(i), "displayName": fmt.Sprintf("u%d", i), "mail": nil})
	}
	s := &Server{}
	target := "/v1.0/users?$top=2&$select=displayName"
	var names []string
	for pages := 0; target != ""; pages++ {
		if pages > 3 {
			t.Fatal("more pages than 5 items at 2 a page make")
		}
		code, body := listPage(t, s, target, items)
		if code != 200 {
			t.Fatalf("%s: %d %v", target, code, body)
		}
		for _, v := range body["value"].([]any) {
			obj := v.(map[string]any)
			if len(obj) != 2 || obj["@odata.type"] == nil {
				t.Errorf("selected object %v", obj)
			}
			names = append(names, obj["displayName"].(string))
		}
		target = ""
		if next, ok := body["@odata.nextLink"].(string); ok {
			u, err := url.Parse(next)
			if err != nil || u.Host != "graph.microsoft.com" || u.Query().Get("$top") != "2" || u.Query().Get("$select") != "displayName" {
				t.Fatalf("nextLink %q", next)
			}
			target = u.RequestURI()
		}
	}
	if strings.Join(names, ",") != "u0,u1,u2,u3,u4" {
		t.Errorf("pages gave %v", names)
	}
	for _, bad := range []string{"$top=0", "$top=1000", "$skiptoken=nope", "$select=nosuch", "$select=a%20b"} {
		if code, body := listPage(t, s, "/v1.0/users?"+bad, items); code != 400 || body["error"] == nil {
			t.Errorf("%s: %d %v", bad, code, body)
		}
	}
}

func TestBoundObjectID(t *testing.T) {
	for _, c := range []struct {
		in, id string
		ok     bool
	}{
		{"https://graph.microsoft.com/v1.0/directoryObjects/abc", "abc", true},
		{"https://graph.microsoft.com/v1.0/users/u1", "u1", true},
		{"servicePrincipals/sp1", "sp1", true},
		{"https://graph.microsoft.com/v1.0/applications/a1", "", false},
		{"abc", "", false},
		{"https://graph.microsoft.com/v1.0/users/", "", false},
		{"https://graph.microsoft.com/v1.0/users/a?b", "", false},
	} {
		id, ok := boundObjectID(c.in)
		if id != c.id || ok != c.ok {
			t.Errorf("boundObjectID(%q) = %q %v", c.in, id, ok)
		}
	}
}

func FuzzBoundObjectID(f *testing.F) {
	f.Add("https://graph.microsoft.com/v1.0/directoryObjects/abc")
	f.Add("users/x")
	f.Fuzz(func(t *testing.T, ref string) {
		if id, ok := boundObjectID(ref); ok && (id == "" || strings.ContainsAny(id, "/?#")) {
			t.Fatalf("boundObjectID(%q) = %q", ref, id)
		}
	})
}
