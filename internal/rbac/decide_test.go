package rbac

import (
	"strings"
	"testing"
)

const (
	principal = "11111111-1111-1111-1111-111111111111"
	other     = "22222222-2222-2222-2222-222222222222"
	sub       = "/subscriptions/00000000-0000-0000-0000-0000000000aa"
	sub2      = "/subscriptions/00000000-0000-0000-0000-0000000000bb"
	rg        = sub + "/resourceGroups/app"
	rg2       = sub + "/resourceGroups/other"
	vault     = rg + "/providers/Microsoft.KeyVault/vaults/kv1"
	vault2    = rg + "/providers/Microsoft.KeyVault/vaults/kv2"
	secret    = vault + "/secrets/db-password"
	vm        = rg + "/providers/Microsoft.Compute/virtualMachines/vm1"
	uami      = rg + "/providers/Microsoft.ManagedIdentity/userAssignedIdentities/web-id"
	app       = rg + "/providers/Microsoft.App/containerApps/web"
	storage   = rg + "/providers/Microsoft.Storage/storageAccounts/st1"
	container = storage + "/blobServices/default/containers/c1"

	getSecret      = "Microsoft.KeyVault/vaults/secrets/getSecret/action"
	setSecret      = "Microsoft.KeyVault/vaults/secrets/setSecret/action"
	readMetadata   = "Microsoft.KeyVault/vaults/secrets/readMetadata/action"
	deleteSecret   = "Microsoft.KeyVault/vaults/secrets/delete"
	purgeSecret    = "Microsoft.KeyVault/vaults/secrets/purge/action"
	keysRead       = "Microsoft.KeyVault/vaults/keys/read"
	vmWrite        = "Microsoft.Compute/virtualMachines/write"
	vmRead         = "Microsoft.Compute/virtualMachines/read"
	vmDelete       = "Microsoft.Compute/virtualMachines/delete"
	raWrite        = "Microsoft.Authorization/roleAssignments/write"
	raDelete       = "Microsoft.Authorization/roleAssignments/delete"
	raRead         = "Microsoft.Authorization/roleAssignments/read"
	rdWrite        = "Microsoft.Authorization/roleDefinitions/write"
	uamiRead       = "Microsoft.ManagedIdentity/userAssignedIdentities/read"
	uamiWrite      = "Microsoft.ManagedIdentity/userAssignedIdentities/write"
	uamiAssignStar = "Microsoft.ManagedIdentity/userAssignedIdentities/*/assign/action"
	blobRead       = "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/read"
	blobWrite      = "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/write"
)

func assign(id, principalID, roleID, scope string) Assignment {
	return Assignment{ID: id, Scope: scope, PrincipalID: principalID, RoleDefinitionID: roleID, PrincipalType: "ServicePrincipal"}
}

func control(action, scope string) Query {
	return Query{PrincipalID: principal, Action: action, Scope: scope}
}

func data(action, scope string) Query {
	return Query{PrincipalID: principal, Action: action, Scope: scope, DataAction: true}
}

// TestDecideBuiltinRoles: one assignment of a built-in role, then what it may and may not do.
func TestDecideBuiltinRoles(t *testing.T) {
	tests := []struct {
		name  string
		role  string
		scope string
		q     Query
		want  bool
	}{
		{"owner writes anything", OwnerRoleID, sub, control(vmWrite, vm), true},
		{"owner assigns roles", OwnerRoleID, sub, control(raWrite, rg), true},
		{"owner elevates", OwnerRoleID, "/", control("Microsoft.Authorization/elevateAccess/Action", "/"), true},
		{"owner gets no data action", OwnerRoleID, sub, data(getSecret, secret), false},
		{"owner cannot broker tokens", OwnerRoleID, sub, data(IssueTokenDataAction, app), false},
		{"owner not above its scope", OwnerRoleID, rg, control(vmWrite, sub), false},

		{"contributor writes resources", ContributorRoleID, rg, control(vmWrite, vm), true},
		{"contributor deletes resources", ContributorRoleID, rg, control(vmDelete, vm), true},
		{"contributor reads role assignments", ContributorRoleID, rg, control(raRead, rg), true},
		{"contributor cannot assign roles", ContributorRoleID, rg, control(raWrite, rg), false},
		{"contributor cannot assign roles, any case", ContributorRoleID, rg, control("MICROSOFT.AUTHORIZATION/ROLEASSIGNMENTS/WRITE", rg), false},
		{"contributor cannot delete role assignments", ContributorRoleID, rg, control(raDelete, rg), false},
		{"contributor cannot write role definitions", ContributorRoleID, rg, control(rdWrite, rg), false},
		{"contributor cannot write locks", ContributorRoleID, rg, control("Microsoft.Authorization/locks/write", rg), false},
		{"contributor cannot elevate", ContributorRoleID, "/", control("Microsoft.Authorization/elevateAccess/Action", "/"), false},
		{"contributor cannot share galleries", ContributorRoleID, rg, control("Microsoft.Compute/galleries/share/action", rg+"/providers/Microsoft.Compute/galleries/g"), false},
		{"contributor cannot cancel subscriptions", ContributorRoleID, sub, control("Microsoft.Subscription/cancel/action", sub), false},
		{"contributor gets no secrets", ContributorRoleID, rg, data(getSecret, secret), false},
		{"contributor attaches identities", ContributorRoleID, rg, control(AssignUserAssignedIdentityAction, uami), true},

		{"reader reads", ReaderRoleID, sub, control(vmRead, vm), true},
		{"reader reads role assignments", ReaderRoleID, sub, control(raRead, vm), true},
		{"reader does not write", ReaderRoleID, sub, control(vmWrite, vm), false},
		{"reader does not list keys", ReaderRoleID, sub, control("Microsoft.Storage/storageAccounts/listKeys/action", storage), false},
		{"reader reads no data", ReaderRoleID, sub, data(readMetadata, vault), false},
		{"reader read is control plane", ReaderRoleID, sub, data(keysRead, vault), false},

		{"user access administrator assigns roles", UserAccessAdministratorRoleID, rg, control(raWrite, vault), true},
		{"user access administrator writes role definitions", UserAccessAdministratorRoleID, rg, control(rdWrite, rg), true},
		{"user access administrator reads", UserAccessAdministratorRoleID, rg, control(vmRead, vm), true},
		{"user access administrator opens tickets", UserAccessAdministratorRoleID, sub, control("Microsoft.Support/supportTickets/write", sub), true},
		{"user access administrator does not write resources", UserAccessAdministratorRoleID, rg, control(vmWrite, vm), false},

		{"rbac administrator assigns roles", RoleBasedAccessControlAdministratorRoleID, rg, control(raWrite, vm), true},
		{"rbac administrator deletes assignments", RoleBasedAccessControlAdministratorRoleID, rg, control(raDelete, vm), true},
		{"rbac administrator does not define roles", RoleBasedAccessControlAdministratorRoleID, rg, control(rdWrite, rg), false},

		{"mi contributor writes identities", ManagedIdentityContributorRoleID, rg, control(uamiWrite, uami), true},
		{"mi contributor writes fics", ManagedIdentityContributorRoleID, rg, control("Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials/write", uami+"/federatedIdentityCredentials/f"), true},
		{"mi contributor does not attach", ManagedIdentityContributorRoleID, rg, control(AssignUserAssignedIdentityAction, uami), false},
		{"mi operator attaches", ManagedIdentityOperatorRoleID, uami, control(AssignUserAssignedIdentityAction, uami), true},
		{"mi operator attaches, literal star action", ManagedIdentityOperatorRoleID, uami, control(uamiAssignStar, uami), true},
		{"mi operator reads identities", ManagedIdentityOperatorRoleID, rg, control(uamiRead, uami), true},
		{"mi operator reads fics", ManagedIdentityOperatorRoleID, rg, control("Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials/read", uami), true},
		{"mi operator does not write identities", ManagedIdentityOperatorRoleID, rg, control(uamiWrite, uami), false},
		{"mi operator only where assigned", ManagedIdentityOperatorRoleID, uami, control(AssignUserAssignedIdentityAction, rg+"/providers/Microsoft.ManagedIdentity/userAssignedIdentities/other"), false},

		{"blob reader reads blobs", StorageBlobDataReaderRoleID, storage, data(blobRead, container+"/blobs/b"), true},
		{"blob reader does not write blobs", StorageBlobDataReaderRoleID, storage, data(blobWrite, container+"/blobs/b"), false},
		{"blob reader reads containers", StorageBlobDataReaderRoleID, storage, control("Microsoft.Storage/storageAccounts/blobServices/containers/read", container), true},
		{"blob contributor writes blobs", StorageBlobDataContributorRoleID, storage, data(blobWrite, container), true},
		{"blob contributor moves blobs", StorageBlobDataContributorRoleID, storage, data("Microsoft.Storage/storageAccounts/blobServices/containers/blobs/move/action", container), true},

		{"secrets user gets a secret at the vault", KeyVaultSecretsUserRoleID, vault, data(getSecret, secret), true},
		{"secrets user gets a secret via the group", KeyVaultSecretsUserRoleID, rg, data(getSecret, secret), true},
		{"secrets user gets a secret via the subscription", KeyVaultSecretsUserRoleID, sub, data(getSecret, secret), true},
		{"secrets user gets a secret via the root", KeyVaultSecretsUserRoleID, "/", data(getSecret, secret), true},
		{"secrets user on the secret itself", KeyVaultSecretsUserRoleID, secret, data(getSecret, secret), true},
		{"secrets user on one secret cannot list the vault", KeyVaultSecretsUserRoleID, secret, data(readMetadata, vault), false},
		{"secrets user on one secret cannot read another", KeyVaultSecretsUserRoleID, secret, data(getSecret, vault+"/secrets/other"), false},
		{"secrets user lists", KeyVaultSecretsUserRoleID, vault, data(readMetadata, vault), true},
		{"secrets user cannot set", KeyVaultSecretsUserRoleID, vault, data(setSecret, secret), false},
		{"secrets user cannot delete", KeyVaultSecretsUserRoleID, vault, data(deleteSecret, secret), false},
		{"secrets user not on another vault", KeyVaultSecretsUserRoleID, vault2, data(getSecret, secret), false},
		{"secrets user not in another subscription", KeyVaultSecretsUserRoleID, sub2, data(getSecret, secret), false},
		{"secrets user data action is not a control action", KeyVaultSecretsUserRoleID, vault, control(getSecret, secret), false},
		{"secrets officer sets", KeyVaultSecretsOfficerRoleID, vault, data(setSecret, secret), true},
		{"secrets officer deletes", KeyVaultSecretsOfficerRoleID, vault, data(deleteSecret, secret), true},
		{"secrets officer purges", KeyVaultSecretsOfficerRoleID, vault, data(purgeSecret, secret), true},
		{"secrets officer reads no keys", KeyVaultSecretsOfficerRoleID, vault, data(keysRead, vault), false},
		{"secrets officer reads the vault resource", KeyVaultSecretsOfficerRoleID, vault, control("Microsoft.KeyVault/vaults/read", vault), true},
		{"secrets officer does not write the vault resource", KeyVaultSecretsOfficerRoleID, vault, control("Microsoft.KeyVault/vaults/write", vault), false},
		{"administrator reads keys", KeyVaultAdministratorRoleID, vault, data(keysRead, vault), true},
		{"administrator sets secrets", KeyVaultAdministratorRoleID, rg, data(setSecret, secret), true},
		{"administrator cannot assign roles", KeyVaultAdministratorRoleID, vault, control(raWrite, vault), false},
		{"kv reader lists", KeyVaultReaderRoleID, vault, data(readMetadata, vault), true},
		{"kv reader reads key metadata", KeyVaultReaderRoleID, vault, data(keysRead, vault), true},
		{"kv reader gets no values", KeyVaultReaderRoleID, vault, data(getSecret, secret), false},
		{"certificate user gets secrets", KeyVaultCertificateUserRoleID, vault, data(getSecret, secret), true},
		{"kv contributor writes vaults", KeyVaultContributorRoleID, rg, control("Microsoft.KeyVault/vaults/write", vault), true},
		{"kv contributor cannot purge vaults", KeyVaultContributorRoleID, sub, control("Microsoft.KeyVault/locations/deletedVaults/purge/action", sub+"/providers/Microsoft.KeyVault/locations/westus/deletedVaults/kv1"), false},
		{"kv contributor gets no secrets", KeyVaultContributorRoleID, rg, data(getSecret, secret), false},

		{"broker issues tokens for hosted resources", TokenBrokerRoleID, rg, data(IssueTokenDataAction, app), true},
		{"broker issues tokens for one resource", TokenBrokerRoleID, app, data(IssueTokenDataAction, app), true},
		{"broker not for other groups", TokenBrokerRoleID, rg2, data(IssueTokenDataAction, app), false},
		{"broker grant is a data action", TokenBrokerRoleID, rg, control(IssueTokenDataAction, app), false},
		{"broker reads nothing", TokenBrokerRoleID, rg, control(vmRead, vm), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := assign("a1", principal, tt.role, tt.scope)
			d := Decide(tt.q, nil, []Assignment{a})
			if d.Allowed != tt.want {
				t.Fatalf("Allowed = %v, want %v (%s)", d.Allowed, tt.want, d.Reason)
			}
			if tt.want {
				role, _ := BuiltinRoleByID(tt.role)
				if d.GrantedBy == nil || d.GrantedBy.ID != "a1" || d.RoleName != role.RoleName {
					t.Fatalf("GrantedBy %+v role %q", d.GrantedBy, d.RoleName)
				}
			} else if d.GrantedBy != nil {
				t.Fatalf("denied with GrantedBy %+v", d.GrantedBy)
			}
			if d.Reason == "" {
				t.Fatal("no reason")
			}
			if got := Allows(tt.q, nil, []Assignment{a}); got != d.Allowed {
				t.Fatalf("Allows = %v, Decide: %+v", got, d)
			}
			// The index agrees.
			var idx Index
			idx.Add(a)
			if got := idx.Decide(tt.q, nil); got.Allowed != d.Allowed || got.Reason != d.Reason {
				t.Fatalf("index: %+v, Decide: %+v", got, d)
			}
		})
	}
}

func TestDecideRules(t *testing.T) {
	computeNoDelete := RoleDefinition{ID: "c0000000-0000-0000-0000-000000000001", RoleName: "Compute No Delete", RoleType: CustomRole,
		AssignableScopes: []string{"/"},
		Permissions:      []Permission{{Actions: []string{"Microsoft.Compute/*"}, NotActions: []string{"Microsoft.Compute/virtualMachines/delete"}}}}
	computeDelete := RoleDefinition{ID: "c0000000-0000-0000-0000-000000000002", RoleName: "Compute Delete", RoleType: CustomRole,
		AssignableScopes: []string{"/"},
		Permissions:      []Permission{{Actions: []string{"Microsoft.Compute/virtualMachines/delete"}}}}
	twoBlocks := RoleDefinition{ID: "c0000000-0000-0000-0000-000000000003", RoleName: "Two Blocks", RoleType: CustomRole,
		Permissions: []Permission{
			{Actions: []string{"Microsoft.Compute/*"}, NotActions: []string{"Microsoft.Compute/virtualMachines/delete"}},
			{Actions: []string{"Microsoft.Compute/virtualMachines/delete"}},
		}}
	conditionalBlock := RoleDefinition{ID: "c0000000-0000-0000-0000-000000000004", RoleName: "Conditional Block", RoleType: CustomRole,
		Permissions: []Permission{{DataActions: []string{getSecret}, Condition: "@Resource[Microsoft.KeyVault/vaults/secrets:name] StringEquals 'x'", ConditionVersion: "2.0"}}}
	literalAssign := RoleDefinition{ID: "c0000000-0000-0000-0000-000000000005", RoleName: "Literal Assign", RoleType: CustomRole,
		Permissions: []Permission{{Actions: []string{AssignUserAssignedIdentityAction}}}}
	roles := LookupOf(append(BuiltinRoles(), computeNoDelete, computeDelete, twoBlocks, conditionalBlock, literalAssign))

	withCondition := assign("cond", principal, KeyVaultSecretsUserRoleID, vault)
	withCondition.Condition = "@Resource[Microsoft.KeyVault/vaults/secrets:name] StringEquals 'x'"
	withCondition.ConditionVersion = "2.0"

	tests := []struct {
		name        string
		assignments []Assignment
		q           Query
		want        bool
		grantedBy   string
		reasonHas   []string
	}{
		{
			name:        "notActions subtract inside the role",
			assignments: []Assignment{assign("a1", principal, computeNoDelete.ID, rg)},
			q:           control(vmDelete, vm), want: false,
			reasonHas: []string{"has no role granting " + vmDelete + " at " + vm, "1 role assignment(s) at or above this scope do not grant it"},
		},
		{
			name:        "a second role overrides the first role's notActions",
			assignments: []Assignment{assign("a1", principal, computeNoDelete.ID, rg), assign("a2", principal, computeDelete.ID, vm)},
			q:           control(vmDelete, vm), want: true, grantedBy: "a2",
		},
		{
			name:        "the overriding role at a higher scope also counts",
			assignments: []Assignment{assign("a1", principal, computeNoDelete.ID, vm), assign("a2", principal, computeDelete.ID, sub)},
			q:           control(vmDelete, vm), want: true, grantedBy: "a2",
		},
		{
			name:        "notActions of one block do not touch another block",
			assignments: []Assignment{assign("a1", principal, twoBlocks.ID, rg)},
			q:           control(vmDelete, vm), want: true, grantedBy: "a1",
		},
		{
			name:        "an assignment with a condition grants nothing",
			assignments: []Assignment{withCondition},
			q:           data(getSecret, secret), want: false,
			reasonHas: []string{"assignment cond (Key Vault Secrets User) would grant it but has a condition, which mint does not evaluate yet"},
		},
		{
			name:        "an unconditional assignment still grants beside a conditional one",
			assignments: []Assignment{withCondition, assign("plain", principal, KeyVaultSecretsUserRoleID, rg)},
			q:           data(getSecret, secret), want: true, grantedBy: "plain",
		},
		{
			name:        "a conditional permission block grants nothing",
			assignments: []Assignment{assign("a1", principal, conditionalBlock.ID, vault)},
			q:           data(getSecret, secret), want: false,
			reasonHas: []string{"has a condition, which mint does not evaluate yet"},
		},
		{
			name:        "a literal pattern does not match a literal star in the action",
			assignments: []Assignment{assign("a1", principal, literalAssign.ID, uami)},
			q:           control(uamiAssignStar, uami), want: false,
		},
		{
			name:        "the literal pattern matches the concrete action",
			assignments: []Assignment{assign("a1", principal, literalAssign.ID, uami)},
			q:           control(AssignUserAssignedIdentityAction, uami), want: true, grantedBy: "a1",
		},
		{
			name:        "other principals' assignments do not count",
			assignments: []Assignment{assign("a1", other, OwnerRoleID, "/")},
			q:           control(vmRead, vm), want: false,
			reasonHas: []string{"it has no role assignments"},
		},
		{
			name:        "principal, scope and action compare case-insensitively",
			assignments: []Assignment{assign("a1", strings.ToUpper(principal), KeyVaultSecretsUserRoleID, strings.ToUpper(vault)+"/")},
			q:           Query{PrincipalID: principal, Action: strings.ToLower(getSecret), Scope: strings.ToLower(secret), DataAction: true},
			want:        true, grantedBy: "a1",
		},
		{
			name:        "segment boundary: kv1 does not cover kv10",
			assignments: []Assignment{assign("a1", principal, KeyVaultSecretsUserRoleID, vault)},
			q:           data(getSecret, vault+"0/secrets/s"), want: false,
			reasonHas: []string{"none of its 1 role assignment(s) is at or above this scope"},
		},
		{
			name:        "unknown role definitions grant nothing",
			assignments: []Assignment{assign("a1", principal, "99999999-9999-9999-9999-999999999999", rg)},
			q:           control(vmRead, vm), want: false,
			reasonHas: []string{"assignment a1 refers to role definition 99999999-9999-9999-9999-999999999999, which does not exist"},
		},
		{
			name:        "full role definition ids resolve",
			assignments: []Assignment{assign("a1", principal, sub+"/providers/Microsoft.Authorization/roleDefinitions/"+ReaderRoleID, rg)},
			q:           control(vmRead, vm), want: true, grantedBy: "a1",
		},
		{
			name: "the most specific grant is reported",
			assignments: []Assignment{
				assign("b-sub", principal, ReaderRoleID, sub),
				assign("c-vm", principal, ReaderRoleID, vm),
				assign("a-rg", principal, ReaderRoleID, rg),
			},
			q: control(vmRead, vm), want: true, grantedBy: "c-vm",
		},
		{
			name: "equal scopes: the lowest id is reported",
			assignments: []Assignment{
				assign("b", principal, OwnerRoleID, rg),
				assign("a", principal, ReaderRoleID, rg),
			},
			q: control(vmRead, vm), want: true, grantedBy: "a",
		},
		{
			name:        "no principal",
			assignments: []Assignment{assign("a1", "", OwnerRoleID, "/")},
			q:           Query{Action: vmRead, Scope: vm}, want: false,
			reasonHas: []string{"no principal id"},
		},
		{
			name:        "no action",
			assignments: []Assignment{assign("a1", principal, OwnerRoleID, "/")},
			q:           Query{PrincipalID: principal, Scope: vm}, want: false,
			reasonHas: []string{"no action"},
		},
		{
			name:        "empty scope is the root",
			assignments: []Assignment{assign("a1", principal, OwnerRoleID, "/")},
			q:           control(vmRead, ""), want: true, grantedBy: "a1",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := Decide(tt.q, roles, tt.assignments)
			if d.Allowed != tt.want {
				t.Fatalf("Allowed = %v, want %v (%s)", d.Allowed, tt.want, d.Reason)
			}
			if tt.grantedBy != "" && (d.GrantedBy == nil || d.GrantedBy.ID != tt.grantedBy) {
				t.Fatalf("GrantedBy = %+v, want %s", d.GrantedBy, tt.grantedBy)
			}
			for _, s := range tt.reasonHas {
				if !strings.Contains(d.Reason, s) {
					t.Errorf("reason %q lacks %q", d.Reason, s)
				}
			}
			if got := Allows(tt.q, roles, tt.assignments); got != d.Allowed {
				t.Fatalf("Allows = %v, Decide: %+v", got, d)
			}
			var idx Index
			for _, a := range tt.assignments {
				idx.Add(a)
			}
			if got := idx.Decide(tt.q, roles); got.Allowed != d.Allowed || got.Reason != d.Reason {
				t.Fatalf("index: %+v\nDecide: %+v", got, d)
			}
		})
	}
}

func TestDecideReasonWording(t *testing.T) {
	d := Decide(data(getSecret, secret), nil, []Assignment{assign("a1", principal, KeyVaultSecretsUserRoleID, vault)})
	want := `role "Key Vault Secrets User" assigned to principal ` + principal + ` at ` + vault + ` (assignment a1) grants ` + getSecret
	if d.Reason != want {
		t.Errorf("reason\n got %s\nwant %s", d.Reason, want)
	}
	d = Decide(data(getSecret, secret+"/"), nil, []Assignment{assign("a1", principal, ReaderRoleID, sub)})
	want = "principal " + principal + " has no role granting " + getSecret + " at " + secret + "; its 1 role assignment(s) at or above this scope do not grant it"
	if d.Reason != want {
		t.Errorf("reason\n got %s\nwant %s", d.Reason, want)
	}
}
