package rbac

import (
	"regexp"
	"slices"
	"testing"
)

var guidRE = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)

// TestBuiltinRolesVerbatim spot-checks every built-in role against https://learn.microsoft.com/azure/role-based-access-control/built-in-roles and
// https://learn.microsoft.com/azure/role-based-access-control/built-in-roles/security: id, name, description, the size of each list, and some entries.
func TestBuiltinRolesVerbatim(t *testing.T) {
	tests := []struct {
		id, name, description string
		actions, notActions   int
		dataActions           int
		contains              []string // entries that must appear in actions/notActions/dataActions
	}{
		{OwnerRoleID, "Owner", "Grants full access to manage all resources, including the ability to assign roles in Azure RBAC.", 1, 0, 0, []string{"*"}},
		{ContributorRoleID, "Contributor", "Grants full access to manage all resources, but does not allow you to assign roles in Azure RBAC, manage assignments in Azure Blueprints, or share image galleries.", 1, 11, 0,
			[]string{"*", "Microsoft.Authorization/*/Delete", "Microsoft.Authorization/*/Write", "Microsoft.Authorization/elevateAccess/Action", "Microsoft.Subscription/enable/action", "Microsoft.Resources/deploymentStacks/manageDenySetting/action"}},
		{ReaderRoleID, "Reader", "View all resources, but does not allow you to make any changes.", 1, 0, 0, []string{"*/read"}},
		{UserAccessAdministratorRoleID, "User Access Administrator", "Lets you manage user access to Azure resources.", 3, 0, 0, []string{"*/read", "Microsoft.Authorization/*", "Microsoft.Support/*"}},
		{RoleBasedAccessControlAdministratorRoleID, "Role Based Access Control Administrator", "Manage access to Azure resources by assigning roles using Azure RBAC. This role does not allow you to manage access using other ways, such as Azure Policy.", 4, 0, 0,
			[]string{"Microsoft.Authorization/roleAssignments/write", "Microsoft.Authorization/roleAssignments/delete", "*/read", "Microsoft.Support/*"}},
		{ManagedIdentityContributorRoleID, "Managed Identity Contributor", "Create, Read, Update, and Delete User Assigned Identity", 12, 0, 0,
			[]string{"Microsoft.ManagedIdentity/userAssignedIdentities/write", "Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials/delete", "Microsoft.ManagedIdentity/userAssignedIdentities/revokeTokens/action", "Microsoft.Resources/deployments/*"}},
		{ManagedIdentityOperatorRoleID, "Managed Identity Operator", "Read and Assign User Assigned Identity", 7, 0, 0,
			[]string{"Microsoft.ManagedIdentity/userAssignedIdentities/*/read", "Microsoft.ManagedIdentity/userAssignedIdentities/*/assign/action", "Microsoft.Authorization/*/read"}},
		{StorageBlobDataReaderRoleID, "Storage Blob Data Reader", "Allows for read access to Azure Storage blob containers and data", 2, 0, 1,
			[]string{"Microsoft.Storage/storageAccounts/blobServices/containers/read", "Microsoft.Storage/storageAccounts/blobServices/generateUserDelegationKey/action", "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/read"}},
		{StorageBlobDataContributorRoleID, "Storage Blob Data Contributor", "Allows for read, write and delete access to Azure Storage blob containers and data", 4, 0, 5,
			[]string{"Microsoft.Storage/storageAccounts/blobServices/containers/delete", "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/move/action", "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/add/action"}},
		{KeyVaultSecretsUserRoleID, "Key Vault Secrets User", "Read secret contents. Only works for key vaults that use the 'Azure role-based access control' permission model.", 0, 0, 2,
			[]string{"Microsoft.KeyVault/vaults/secrets/getSecret/action", "Microsoft.KeyVault/vaults/secrets/readMetadata/action"}},
		{KeyVaultSecretsOfficerRoleID, "Key Vault Secrets Officer", "Perform any action on the secrets of a key vault, except manage permissions. Only works for key vaults that use the 'Azure role-based access control' permission model.", 10, 0, 1,
			[]string{"Microsoft.KeyVault/vaults/secrets/*", "Microsoft.KeyVault/checkNameAvailability/read", "Microsoft.KeyVault/operations/read"}},
		{KeyVaultAdministratorRoleID, "Key Vault Administrator", "Perform all data plane operations on a key vault and all objects in it, including certificates, keys, and secrets. Cannot manage key vault resources or manage role assignments. Only works for key vaults that use the 'Azure role-based access control' permission model.", 10, 0, 1,
			[]string{"Microsoft.KeyVault/vaults/*", "Microsoft.KeyVault/vaults/*/read", "Microsoft.KeyVault/locations/*/read"}},
		{KeyVaultReaderRoleID, "Key Vault Reader", "Read metadata of key vaults and its certificates, keys, and secrets. Cannot read sensitive values such as secret contents or key material. Only works for key vaults that use the 'Azure role-based access control' permission model.", 10, 0, 2,
			[]string{"Microsoft.KeyVault/vaults/*/read", "Microsoft.KeyVault/vaults/secrets/readMetadata/action"}},
		{KeyVaultCertificateUserRoleID, "Key Vault Certificate User", "Read certificate contents. Only works for key vaults that use the 'Azure role-based access control' permission model.", 0, 0, 4,
			[]string{"Microsoft.KeyVault/vaults/certificates/read", "Microsoft.KeyVault/vaults/keys/read"}},
		{KeyVaultContributorRoleID, "Key Vault Contributor", "Manage key vaults, but does not allow you to assign roles in Azure RBAC, and does not allow you to access secrets, keys, or certificates.", 6, 3, 0,
			[]string{"Microsoft.KeyVault/*", "Microsoft.KeyVault/locations/deletedVaults/purge/action", "Microsoft.KeyVault/managedHsms/*"}},
		{TokenBrokerRoleID, "Managed Identity Token Broker", "Lets a mint node agent obtain tokens for the managed identities of resources it hosts.", 0, 0, 1,
			[]string{"Microsoft.ManagedIdentity/identities/issueToken/action"}},
	}
	roles := BuiltinRoles()
	if len(roles) != len(tests) {
		t.Fatalf("BuiltinRoles has %d roles, the test knows %d", len(roles), len(tests))
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := roles[i]
			if r.ID != tt.id || r.RoleName != tt.name || r.Description != tt.description {
				t.Fatalf("got %q %q %q", r.ID, r.RoleName, r.Description)
			}
			if r.RoleType != BuiltInRole || !slices.Equal(r.AssignableScopes, []string{"/"}) || len(r.Permissions) != 1 {
				t.Fatalf("type %q, scopes %q, %d permission blocks", r.RoleType, r.AssignableScopes, len(r.Permissions))
			}
			p := r.Permissions[0]
			if len(p.Actions) != tt.actions || len(p.NotActions) != tt.notActions || len(p.DataActions) != tt.dataActions || len(p.NotDataActions) != 0 {
				t.Errorf("counts: actions %d notActions %d dataActions %d notDataActions %d",
					len(p.Actions), len(p.NotActions), len(p.DataActions), len(p.NotDataActions))
			}
			if p.Actions == nil || p.NotActions == nil || p.DataActions == nil || p.NotDataActions == nil {
				t.Errorf("a permission list is nil; it must serialise as []")
			}
			if p.Condition != "" || p.ConditionVersion != "" {
				t.Errorf("unexpected condition")
			}
			all := slices.Concat(p.Actions, p.NotActions, p.DataActions)
			for _, c := range tt.contains {
				if !slices.Contains(all, c) {
					t.Errorf("missing %q", c)
				}
			}
			if !guidRE.MatchString(r.ID) {
				t.Errorf("id %q is not a lower-case GUID", r.ID)
			}
		})
	}
}

func TestBuiltinRolesAreIndependentCopies(t *testing.T) {
	a := BuiltinRoles()
	a[0].Permissions[0].Actions[0] = "tampered"
	a[1].RoleName = "tampered"
	b := BuiltinRoles()
	if b[0].Permissions[0].Actions[0] != "*" || b[1].RoleName != "Contributor" {
		t.Fatal("BuiltinRoles shares state between calls")
	}
	r, _ := BuiltinRoleByName("owner")
	r.Permissions[0].Actions[0] = "tampered"
	if o, _ := BuiltinLookup()(OwnerRoleID); o.Permissions[0].Actions[0] != "*" {
		t.Fatal("BuiltinRoleByName returned shared state")
	}
}

func TestBuiltinRolesUnique(t *testing.T) {
	ids, names := map[string]bool{}, map[string]bool{}
	for _, r := range BuiltinRoles() {
		if ids[r.ID] || names[asciiLower(r.RoleName)] {
			t.Errorf("duplicate %s %q", r.ID, r.RoleName)
		}
		ids[r.ID], names[asciiLower(r.RoleName)] = true, true
	}
}

func TestBuiltinRoleByName(t *testing.T) {
	tests := []struct {
		name   string
		wantID string
	}{
		{"Owner", OwnerRoleID},
		{"owner", OwnerRoleID},
		{"KEY VAULT SECRETS USER", KeyVaultSecretsUserRoleID},
		{"  Reader ", ReaderRoleID},
		{"managed identity token broker", TokenBrokerRoleID},
		{"Role Based Access Control Administrator", RoleBasedAccessControlAdministratorRoleID},
		{"Nope", ""},
		{"", ""},
	}
	for _, tt := range tests {
		r, ok := BuiltinRoleByName(tt.name)
		if ok != (tt.wantID != "") || r.ID != tt.wantID {
			t.Errorf("BuiltinRoleByName(%q) = %q, %v; want %q", tt.name, r.ID, ok, tt.wantID)
		}
	}
}

func TestBuiltinRoleByIDAndGUID(t *testing.T) {
	tests := []struct{ id, want string }{
		{ReaderRoleID, ReaderRoleID},
		{"ACDD72A7-3385-48EF-BD42-F606FBA81AE7", ReaderRoleID},
		{"/providers/Microsoft.Authorization/roleDefinitions/" + ReaderRoleID, ReaderRoleID},
		{"/subscriptions/s/providers/Microsoft.Authorization/roleDefinitions/" + ReaderRoleID + "/", ReaderRoleID},
		{"00000000-0000-0000-0000-000000000000", ""},
	}
	for _, tt := range tests {
		r, ok := BuiltinRoleByID(tt.id)
		if ok != (tt.want != "") || r.ID != tt.want {
			t.Errorf("BuiltinRoleByID(%q) = %q, %v", tt.id, r.ID, ok)
		}
		if g, _ := BuiltinLookup()(tt.id); g.ID != tt.want {
			t.Errorf("BuiltinLookup(%q) = %q", tt.id, g.ID)
		}
	}
	if g := RoleDefinitionGUID("/subscriptions/s/providers/Microsoft.Authorization/roleDefinitions/abc"); g != "abc" {
		t.Errorf("RoleDefinitionGUID = %q", g)
	}
	if g := RoleDefinitionGUID("abc"); g != "abc" {
		t.Errorf("RoleDefinitionGUID = %q", g)
	}
}

func TestLookupOf(t *testing.T) {
	custom := RoleDefinition{ID: "11111111-2222-3333-4444-555555555555", RoleName: "Custom", RoleType: CustomRole}
	l := LookupOf(append(BuiltinRoles(), custom))
	if r, ok := l("/subscriptions/x/providers/Microsoft.Authorization/roleDefinitions/11111111-2222-3333-4444-555555555555"); !ok || r.RoleName != "Custom" {
		t.Errorf("custom by full id: %v %v", r, ok)
	}
	if r, ok := l(upperASCII(OwnerRoleID)); !ok || r.RoleName != "Owner" {
		t.Errorf("owner upper-case: %v %v", r, ok)
	}
	if _, ok := l("nope"); ok {
		t.Error("found a role that does not exist")
	}
}

func upperASCII(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'a' <= c && c <= 'z' {
			b[i] = c - 32
		}
	}
	return string(b)
}

func TestRoleDefinitionMethods(t *testing.T) {
	owner, _ := BuiltinRoleByName("Owner")
	if !owner.Grants("Microsoft.Compute/virtualMachines/write", false) || owner.Grants("Microsoft.KeyVault/vaults/secrets/getSecret/action", true) {
		t.Error("Owner.Grants")
	}
	if !owner.AssignableAt("/subscriptions/s/resourceGroups/rg") {
		t.Error("a built-in role is assignable everywhere")
	}
	custom := RoleDefinition{AssignableScopes: []string{"/subscriptions/s"}}
	if !custom.AssignableAt("/subscriptions/S/resourceGroups/rg") || custom.AssignableAt("/subscriptions/t") || custom.AssignableAt("/") {
		t.Error("custom.AssignableAt")
	}
}
