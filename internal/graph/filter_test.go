package graph

import (
	"net/url"
	"strings"
	"testing"
	"time"
)

// filterList applies a $filter as a list request without the advanced query parameters does.
func filterList(filter string, objs []map[string]any) ([]map[string]any, error) {
	_, out, qerr := query(url.Values{"$filter": {filter}}, false, servicePrincipalsList, objs)
	if qerr != nil {
		return nil, qerr
	}
	return out, nil
}

func TestFilterListAsTheAzureCLISendsIt(t *testing.T) {
	objs := []map[string]any{
		{"id": "o1", "appId": "a1", "displayName": "Windows Azure Service Management API", "servicePrincipalNames": []string{"a1", "https://management.azure.com/"}},
		{"id": "o2", "appId": "A2", "displayName": "orders-api", "servicePrincipalNames": []string{"A2", "api://orders"}},
		{"id": "o3", "appId": "a3", "displayName": "it's mine", "servicePrincipalNames": []string{"a3"}},
	}
	ids := func(out []map[string]any) string {
		var s []string
		for _, o := range out {
			s = append(s, o["id"].(string))
		}
		return strings.Join(s, ",")
	}
	for _, tc := range []struct{ filter, want string }{
		{"", "o1,o2,o3"},
		// az ad sp show --id <appId>; az role assignment create --assignee <appId>
		{"servicePrincipalNames/any(c:c eq 'a2')", "o2"},
		{"servicePrincipalNames/any(x:x eq 'api://orders')", "o2"},
		{"servicePrincipalNames/any(c:c eq 'nobody')", ""},
		{"appId eq 'a1'", "o1"},
		{"displayName eq 'it''s mine'", "o3"},
		{"displayName eq 'orders-api' and displayName eq 'orders-api'", "o2"},
		{"displayName eq 'Windows Azure Service Management API'", "o1"},
		{"displayName eq 'it''s mine' and appId eq 'a3'", "o3"},
		{"startswith(displayName,'Windows')", "o1"},
		{"startswith(displayName,'o') and appId eq 'a2'", "o2"},
		{"startswith(displayName,'o') and appId eq 'a1'", ""},
	} {
		out, err := filterList(tc.filter, objs)
		if err != nil {
			t.Errorf("%q: %v", tc.filter, err)
			continue
		}
		if got := ids(out); got != tc.want {
			t.Errorf("%q: %q, want %q", tc.filter, got, tc.want)
		}
	}
	// Never the whole list for a filter mint does not understand.
	for _, bad := range []string{"appId eq a1", "appId eq 'a1' or id eq 'o2'", "servicePrincipalNames/all(c:c eq 'a1')",
		"tags/any(c:c eq 'x')", "servicePrincipalNames eq 'a1'", "appId eq 'unterminated", "(appId eq 'a1')"} {
		if out, err := filterList(bad, objs); err == nil || !strings.Contains(err.Error(), "Invalid filter clause") {
			t.Errorf("%q: %v %v, want an error", bad, ids(out), err)
		}
	}
}

// FuzzFilterList: any $filter either filters (a subset of the list, in order) or is refused with
// an error to show the caller; never a panic.
func FuzzFilterList(f *testing.F) {
	for _, s := range []string{"servicePrincipalNames/any(c:c eq 'a2')", "appId eq 'a1' and startswith(displayName,'W')",
		"displayName eq 'it''s'", "x/any(", "startswith(", "appId eq", "'", "and and"} {
		f.Add(s)
	}
	objs := []map[string]any{
		{"id": "o1", "appId": "a1", "displayName": "Windows", "servicePrincipalNames": []string{"a1"}},
		{"id": "o2", "appId": "a2", "displayName": "orders", "servicePrincipalNames": []string{"a2", "api://orders"}},
	}
	f.Fuzz(func(t *testing.T, filter string) {
		out, err := filterList(filter, objs)
		if err != nil {
			if err.Error() == "" {
				t.Fatal("empty error")
			}
			return
		}
		if len(out) > len(objs) {
			t.Fatalf("%q: %d objects out of %d", filter, len(out), len(objs))
		}
	})
}

// The sign-in log's filter goes through the same parser: a quoted value may hold spaces and
// " and ", where splitting the filter on " and " broke it.
func TestParseSignInFilter(t *testing.T) {
	var q signInQuery
	if err := parseSignInFilter("appId eq 'a and b' and createdDateTime ge 2026-01-02T03:04:05Z and servicePrincipalId eq 'p 1'", &q); err != nil {
		t.Fatal(err)
	}
	if q.store.AppID != "a and b" || q.store.PrincipalID != "p 1" || !q.store.Since.Equal(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)) {
		t.Fatalf("filter = %+v", q)
	}
	for _, bad := range []string{"appId ne 'a'", "createdDateTime ge yesterday", "appId eq 'a' or appId eq 'b'", "ipAddress eq 'x'", "appId eq 'open",
		"status/errorCode eq 'x'", "status/errorCode ne 50126", "signInEventTypes/any(t: t eq 'robot')",
		"createdDateTime ge 2026-01-02T00:00:00Z and createdDateTime le 2026-01-01T00:00:00Z"} {
		if err := parseSignInFilter(bad, &signInQuery{}); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
