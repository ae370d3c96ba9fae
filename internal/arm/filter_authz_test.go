package arm

import (
	"strings"
	"testing"
	"time"

	"github.com/mint-id/mint/internal/odata"
)

func TestParseRoleAssignmentFilter(t *testing.T) {
	tests := []struct {
		in   string
		want roleAssignmentFilter
		bad  bool
	}{
		{in: "", want: roleAssignmentFilter{}},
		{in: "atScope()", want: roleAssignmentFilter{AtScope: true}},
		{in: "principalId eq 'P'", want: roleAssignmentFilter{PrincipalID: "P"}},
		{in: "assignedTo('P')", want: roleAssignmentFilter{PrincipalID: "P", AssignedTo: true}},
		{in: "atScope() and assignedTo('P')", want: roleAssignmentFilter{AtScope: true, PrincipalID: "P", AssignedTo: true}},
		{in: "principalId eq 'P' and atScope()", want: roleAssignmentFilter{AtScope: true, PrincipalID: "P"}},
		{in: "principalId eq 'P' and roleDefinitionId eq 'R'", bad: true},
		{in: "principalId ne 'P'", bad: true},
		{in: "atScope() and atScope()", bad: true},
		{in: "assignedTo()", bad: true},
		{in: "principalId eq 'P' and assignedTo('Q')", bad: true},
		{in: "principalId", bad: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, e := parseRoleAssignmentFilter(tt.in)
			if tt.bad {
				if e == nil || e.Code != CodeUnsupportedQuery || e.Status != 400 || !strings.Contains(e.Message, "The filter '"+tt.in+"' is not supported.") {
					t.Fatalf("got %+v, want 400 UnsupportedQuery", e)
				}
				return
			}
			if e != nil {
				t.Fatal(e)
			}
			if got != tt.want {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestParseRoleDefinitionFilter(t *testing.T) {
	tests := []struct {
		in   string
		want roleDefinitionFilter
		bad  bool
	}{
		{in: "", want: roleDefinitionFilter{}},
		{in: "roleName eq 'Reader'", want: roleDefinitionFilter{RoleName: "Reader"}},
		{in: "type eq 'builtinrole'", want: roleDefinitionFilter{RoleType: "BuiltInRole"}},
		{in: "type eq 'CustomRole' and atScopeAndBelow()", want: roleDefinitionFilter{RoleType: "CustomRole", AtScopeAndBelow: true}},
		{in: "type eq 'Other'", bad: true},
		{in: "roleName ge 'R'", bad: true},
		{in: "description eq 'x'", bad: true},
		{in: "roleName eq ''", bad: true},                          // it read as no filter: every role
		{in: "roleName eq '' and roleName eq 'Reader'", bad: true}, // and then as the second
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, e := parseRoleDefinitionFilter(tt.in)
			if tt.bad {
				if e == nil || e.Code != CodeUnsupportedQuery {
					t.Fatalf("got %+v, want UnsupportedQuery", e)
				}
				return
			}
			if e != nil {
				t.Fatal(e)
			}
			if got != tt.want {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestParseActivityFilter(t *testing.T) {
	const sub = "s1"
	t0 := time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)
	tests := []struct {
		name    string
		in      string
		check   func(t *testing.T, f activityFilter)
		wantErr string
	}{
		{name: "empty", in: "", check: func(t *testing.T, f activityFilter) {
			if f.store.SubscriptionID != sub || f.store.Limit != maxActivityEvents || !f.store.Since.IsZero() {
				t.Errorf("%+v", f.store)
			}
		}},
		{name: "window and group", in: "eventTimestamp ge '2026-05-01T10:00:00Z' and eventTimestamp le '2026-05-01T11:00:00.5Z' and resourceGroupName eq 'App'",
			check: func(t *testing.T, f activityFilter) {
				if !f.store.Since.Equal(t0) || !f.store.Until.Equal(t0.Add(time.Hour+500*time.Millisecond)) || f.store.ResourceGroup != "App" {
					t.Errorf("%+v", f.store)
				}
			}},
		{name: "resource uri canonical", in: "resourceUri eq '/subscriptions/s1/resourcegroups/app/providers/Microsoft.KeyVault/vaults/kv'",
			check: func(t *testing.T, f activityFilter) {
				if f.store.ResourceID != "/subscriptions/s1/resourceGroups/app/providers/Microsoft.KeyVault/vaults/kv" {
					t.Errorf("%q", f.store.ResourceID)
				}
			}},
		{name: "caller and status", in: "caller eq 'OID' and status eq 'Failed' and correlationId eq 'c1' and resourceProvider eq 'Microsoft.Authorization'",
			check: func(t *testing.T, f activityFilter) {
				if f.caller != "OID" || f.status != "Failed" || f.correlation != "c1" || f.provider != "Microsoft.Authorization" {
					t.Errorf("%+v", f)
				}
			}},
		{name: "levels ignored", in: "eventTimestamp ge 2026-05-01 and levels eq 'Error'", check: func(t *testing.T, f activityFilter) {
			if !f.store.Since.Equal(time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)) {
				t.Errorf("%v", f.store.Since)
			}
		}},
		{name: "bad time", in: "eventTimestamp ge 'yesterday'", wantErr: "is not a time"},
		{name: "window reversed", in: "eventTimestamp ge '2026-05-02' and eventTimestamp le '2026-05-01'", wantErr: "end time is before"},
		{name: "unknown field", in: "owner eq 'x'", wantErr: "not a field"},
		{name: "ne", in: "caller ne 'x'", wantErr: "eq only"},
		{name: "bad uri", in: "resourceUri eq 'kv'", wantErr: "not a resource id"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, e := parseActivityFilter(tt.in, sub)
			if tt.wantErr != "" {
				if e == nil || e.Status != 400 || !strings.Contains(e.Message, tt.wantErr) {
					t.Fatalf("got %+v, want %q", e, tt.wantErr)
				}
				return
			}
			if e != nil {
				t.Fatal(e)
			}
			tt.check(t, f)
		})
	}
}

func FuzzParseFilter(f *testing.F) {
	for _, s := range []string{"atScope()", "principalId eq 'x'", "roleName eq 'a''b' and type eq 'CustomRole'", "eventTimestamp ge 2024-01-01"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		clauses, err := parseFilter(s)
		if err != nil {
			return
		}
		for _, c := range clauses {
			if c.Kind == odata.Any || c.Property != "" {
				t.Fatalf("%q: a clause ARM's lists do not take: %+v", s, c)
			}
		}
		parseRoleAssignmentFilter(s)
		parseRoleDefinitionFilter(s)
		parseActivityFilter(s, "s")
	})
}
