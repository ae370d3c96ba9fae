package rbac

import (
	"fmt"
	"strings"
	"testing"
)

// TestLeastPrivileged: the suggestion for each action is the narrowest built-in that grants it.
func TestLeastPrivileged(t *testing.T) {
	tests := []struct {
		q    Query
		want string // role name; "" for none
	}{
		{data(getSecret, secret), "Key Vault Secrets User"},
		{data(setSecret, secret), "Key Vault Secrets Officer"},
		{data(purgeSecret, secret), "Key Vault Secrets Officer"},
		{data(keysRead, vault), "Key Vault Certificate User"},
		{data("Microsoft.KeyVault/vaults/keys/encrypt/action", vault), "Key Vault Administrator"},
		{data(IssueTokenDataAction, app), "Managed Identity Token Broker"},
		{data(blobRead, container), "Storage Blob Data Reader"},
		{data(blobWrite, container), "Storage Blob Data Contributor"},
		{control(raWrite, rg), "Role Based Access Control Administrator"},
		{control(rdWrite, rg), "User Access Administrator"},
		{control(vmWrite, vm), "Contributor"},
		{control(vmRead, vm), "Reader"},
		{control(AssignUserAssignedIdentityAction, uami), "Managed Identity Operator"},
		{control(uamiWrite, uami), "Managed Identity Contributor"},
		{control("Microsoft.KeyVault/vaults/write", vault), "Key Vault Contributor"},
		{control("Microsoft.Authorization/elevateAccess/Action", "/"), "User Access Administrator"},
		{control("Microsoft.Subscription/cancel/action", sub), "Owner"},
		{data("Microsoft.Sql/servers/databases/query/action", rg), ""},
	}
	for _, tt := range tests {
		r, ok := leastPrivileged(BuiltinRoles(), &tt.q)
		if ok != (tt.want != "") || r.RoleName != tt.want {
			t.Errorf("leastPrivileged(%s, data=%v) = %q, want %q", tt.q.Action, tt.q.DataAction, r.RoleName, tt.want)
		}
	}
}

func TestExplainDenied(t *testing.T) {
	assignments := []Assignment{
		assign("reader-sub", principal, ReaderRoleID, sub),
		assign("owner-rg", principal, OwnerRoleID, rg),
		assign("user-kv2", principal, KeyVaultSecretsUserRoleID, vault2),
		assign("user-sub2", principal, KeyVaultSecretsUserRoleID, sub2),
		assign("reader-rg2", principal, ReaderRoleID, rg2),                   // neither covers nor grants: not close
		assign("other", other, KeyVaultSecretsUserRoleID, vault),             // someone else's
		assign("contrib-child", principal, ContributorRoleID, secret+"/v/x"), // below, lacks
	}
	e := Explain(data(getSecret, secret), nil, assignments, BuiltinRoles())
	if e.Allowed || len(e.GrantedBy) != 0 || e.MissingAction != getSecret {
		t.Fatalf("%+v", e)
	}
	var ids []string
	for _, c := range e.Closest {
		ids = append(ids, c.Assignment.ID)
	}
	// Granting-elsewhere first (kv2 shares more of the path than sub2), then covering ones, the
	// nearest first.
	if got, want := strings.Join(ids, ","), "user-kv2,user-sub2,owner-rg,reader-sub"; got != want {
		t.Fatalf("closest = %s, want %s", got, want)
	}
	if c := e.Closest[0]; c.CoversScope || !c.GrantsAction || c.Conditional || c.RoleName != "Key Vault Secrets User" ||
		c.Note != "Key Vault Secrets User grants "+getSecret+" at "+vault2+", which does not include "+secret {
		t.Errorf("closest[0] = %+v", c)
	}
	if c := e.Closest[2]; !c.CoversScope || c.GrantsAction ||
		c.Note != "Owner grants control-plane actions only; "+getSecret+" is a data action, which only dataActions grant" {
		t.Errorf("closest[2] = %+v", c)
	}
	if c := e.Closest[3]; c.Note != "Reader does not include "+getSecret {
		t.Errorf("closest[3] = %+v", c)
	}
	if e.Suggestion == nil || e.Suggestion.RoleName != "Key Vault Secrets User" || e.Suggestion.RoleID != KeyVaultSecretsUserRoleID || e.Suggestion.Scope != secret {
		t.Fatalf("suggestion %+v", e.Suggestion)
	}
	want := "principal " + principal + " has no role granting " + getSecret + " at " + secret +
		"; closest assignments: Key Vault Secrets User at " + vault2 + " (grants it, but not at this scope), Key Vault Secrets User at " + sub2 +
		" (grants it, but not at this scope), Owner at " + rg + " and 1 more" +
		`; assign "Key Vault Secrets User" at ` + secret + " to allow it"
	if e.Summary != want {
		t.Errorf("summary\n got %s\nwant %s", e.Summary, want)
	}
	if d := Decide(e.Query, nil, assignments); d.Allowed {
		t.Fatal("Decide disagrees")
	}
}

func TestExplainDeniedShapes(t *testing.T) {
	contributorAt := []Assignment{assign("c", principal, ContributorRoleID, rg)}
	e := Explain(control(raWrite, vm), nil, contributorAt, BuiltinRoles())
	if len(e.Closest) != 1 || e.Closest[0].Note != "Contributor excludes "+raWrite+" (notActions Microsoft.Authorization/*/Write)" {
		t.Errorf("closest %+v", e.Closest)
	}
	if want := "principal " + principal + " has no role granting " + raWrite + " at " + vm + "; closest assignments: Contributor at " + rg +
		`; assign "Role Based Access Control Administrator" at ` + vm + " to allow it"; e.Summary != want {
		t.Errorf("summary\n got %s\nwant %s", e.Summary, want)
	}

	e = Explain(data(getSecret, secret), nil, nil, BuiltinRoles())
	if want := "principal " + principal + " has no role granting " + getSecret + " at " + secret +
		`; it has no role assignments; assign "Key Vault Secrets User" at ` + secret + " to allow it"; e.Summary != want {
		t.Errorf("summary\n got %s\nwant %s", e.Summary, want)
	}

	e = Explain(control(vmRead, vm), nil, []Assignment{assign("r", principal, KeyVaultSecretsUserRoleID, rg2)}, BuiltinRoles())
	if len(e.Closest) != 0 || !strings.Contains(e.Summary, "none of its 1 role assignment(s) is at or above this scope or grants this action") {
		t.Errorf("%+v", e)
	}

	e = Explain(data("Microsoft.Sql/servers/databases/query/action", rg), nil, nil, BuiltinRoles())
	if e.Suggestion != nil || !strings.HasSuffix(e.Summary, "; no built-in role grants it") {
		t.Errorf("%+v", e)
	}

	conditional := assign("cond", principal, KeyVaultSecretsUserRoleID, vault)
	conditional.Condition = "x"
	e = Explain(data(getSecret, secret), nil, []Assignment{assign("r", principal, ReaderRoleID, sub), conditional}, BuiltinRoles())
	if e.Allowed || len(e.Closest) != 2 || e.Closest[0].Assignment.ID != "cond" || !e.Closest[0].Conditional ||
		!strings.Contains(e.Summary, "Key Vault Secrets User at "+vault+" (held back by a condition), Reader at "+sub) {
		t.Errorf("%+v", e)
	}

	missing := assign("m", principal, "99999999-9999-9999-9999-999999999999", rg)
	e = Explain(control(vmRead, vm), nil, []Assignment{missing}, BuiltinRoles())
	if len(e.Closest) != 1 || e.Closest[0].RoleName != "" ||
		!strings.Contains(e.Summary, "closest assignments: role definition 99999999-9999-9999-9999-999999999999 (missing) at "+rg) {
		t.Errorf("%+v", e)
	}

	e = Explain(Query{PrincipalID: principal, Scope: vm}, nil, nil, BuiltinRoles())
	if e.Allowed || e.Summary != "no action in the query" {
		t.Errorf("%+v", e)
	}
}

func TestExplainAllowed(t *testing.T) {
	assignments := []Assignment{
		assign("user-rg", principal, KeyVaultSecretsUserRoleID, rg),
		assign("admin-vault", principal, KeyVaultAdministratorRoleID, vault),
		assign("reader-sub", principal, ReaderRoleID, sub),
	}
	e := Explain(data(getSecret, secret), nil, assignments, BuiltinRoles())
	if !e.Allowed || len(e.GrantedBy) != 2 || e.GrantedBy[0].Assignment.ID != "admin-vault" || e.GrantedBy[1].Assignment.ID != "user-rg" {
		t.Fatalf("%+v", e)
	}
	if e.Suggestion != nil || e.Closest != nil || e.MissingAction != "" {
		t.Errorf("allowed explanation with denial fields: %+v", e)
	}
	want := "principal " + principal + " may perform " + getSecret + " at " + secret + `: "Key Vault Administrator" assigned at ` + vault +
		" (assignment admin-vault), and 1 more assignment(s)"
	if e.Summary != want {
		t.Errorf("summary\n got %s\nwant %s", e.Summary, want)
	}
	if d := Decide(e.Query, nil, assignments); !d.Allowed || d.GrantedBy.ID != e.GrantedBy[0].Assignment.ID {
		t.Errorf("Decide disagrees: %+v", d)
	}

	var idx Index
	for _, a := range assignments {
		idx.Add(a)
	}
	if ie := idx.Explain(data(getSecret, secret), nil, BuiltinRoles()); ie.Summary != e.Summary {
		t.Errorf("index explain: %s", ie.Summary)
	}
}

func TestExplainManyNearMisses(t *testing.T) {
	var assignments []Assignment
	for i := range 30 {
		assignments = append(assignments, assign(fmt.Sprintf("a%02d", i), principal, KeyVaultSecretsUserRoleID, fmt.Sprintf("%s/providers/Microsoft.KeyVault/vaults/v%02d", rg, i)))
	}
	e := Explain(data(getSecret, secret), nil, assignments, BuiltinRoles())
	if len(e.Closest) != 10 || !strings.Contains(e.Summary, " and 27 more;") {
		t.Fatalf("%d closest; %s", len(e.Closest), e.Summary)
	}
}

// For a read action the suggestion is Reader, the role a person picks, not a specialised role
// that happens to grant fewer actions (Managed Identity Operator grants roleAssignments/read).
func TestExplainSuggestsReaderForReads(t *testing.T) {
	q := control("Microsoft.Authorization/roleAssignments/read", rg)
	e := Explain(q, nil, nil, BuiltinRoles())
	if e.Allowed || e.Suggestion == nil || e.Suggestion.RoleName != "Reader" {
		t.Fatalf("suggestion %+v, want Reader", e.Suggestion)
	}
}
