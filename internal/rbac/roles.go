package rbac

import "strings"

// Permission is one permission block of a role definition, as Azure's RoleDefinition
// properties.permissions[i]. NotActions and NotDataActions subtract from this block only.
type Permission struct {
	Actions        []string
	NotActions     []string
	DataActions    []string
	NotDataActions []string
	// Condition and ConditionVersion restrict the block (ABAC). mint does not evaluate conditions
	// yet, so a block with a condition grants nothing.
	Condition        string
	ConditionVersion string
}

// Role types, as RoleDefinition properties.type.
const (
	BuiltInRole = "BuiltInRole"
	CustomRole  = "CustomRole"
)

// RoleDefinition is an Azure role definition.
type RoleDefinition struct {
	ID               string // the GUID (ARM "name"); the ARM id is built from it by the caller
	RoleName         string
	Description      string
	RoleType         string // BuiltInRole or CustomRole
	AssignableScopes []string
	Permissions      []Permission
}

// Grants reports whether the role grants action, ignoring scope and any assignment condition: some
// permission block without a condition matches action in Actions (DataActions when dataAction)
// and not in that block's NotActions (NotDataActions).
func (r *RoleDefinition) Grants(action string, dataAction bool) bool {
	grants, _ := roleGrants(r, action, dataAction)
	return grants
}

// AssignableAt reports whether the role may be assigned at scope: one of its AssignableScopes is
// scope or above it. The ARM layer checks this when an assignment is created; Decide does not.
func (r *RoleDefinition) AssignableAt(scope string) bool {
	for _, s := range r.AssignableScopes {
		if ScopeCovers(s, scope) {
			return true
		}
	}
	return false
}

func permissionGrants(p *Permission, action string, dataAction bool) bool {
	allow, deny := p.Actions, p.NotActions
	if dataAction {
		allow, deny = p.DataActions, p.NotDataActions
	}
	return anyMatches(allow, action) && !anyMatches(deny, action)
}

func anyMatches(patterns []string, action string) bool {
	for _, pat := range patterns {
		if ActionMatches(pat, action) {
			return true
		}
	}
	return false
}

// RoleLookup finds a role definition by its GUID. Decide passes the GUID even when an assignment
// holds a full role definition id. The definition returned is only read, so implementations may
// share it between calls.
type RoleLookup func(id string) (RoleDefinition, bool)

// LookupOf returns a RoleLookup over defs, matching GUIDs (or full ids) case-insensitively.
func LookupOf(defs []RoleDefinition) RoleLookup {
	m := make(map[string]RoleDefinition, len(defs))
	for _, d := range defs {
		m[asciiLower(RoleDefinitionGUID(d.ID))] = d
	}
	return func(id string) (RoleDefinition, bool) {
		d, ok := m[asciiLower(RoleDefinitionGUID(id))]
		return d, ok
	}
}

// RoleDefinitionGUID returns the GUID of a role definition given either the GUID itself or a full
// id such as /subscriptions/{s}/providers/Microsoft.Authorization/roleDefinitions/{guid}. Clients
// send both forms (https://learn.microsoft.com/rest/api/authorization/role-assignments/create).
func RoleDefinitionGUID(id string) string {
	id = strings.TrimRight(id, "/")
	if i := strings.LastIndexByte(id, '/'); i >= 0 {
		return id[i+1:]
	}
	return id
}

// Built-in role GUIDs. Azure's are the same in every cloud
// (https://learn.microsoft.com/azure/role-based-access-control/built-in-roles); TokenBrokerRoleID
// is mint's own.
const (
	OwnerRoleID                               = "8e3af657-a8ff-443c-a75c-2fe8c4bcb635"
	ContributorRoleID                         = "b24988ac-6180-42a0-ab88-20f7382dd24c"
	ReaderRoleID                              = "acdd72a7-3385-48ef-bd42-f606fba81ae7"
	UserAccessAdministratorRoleID             = "18d7d88d-d35e-4fb5-a5c3-7773c20a72d9"
	RoleBasedAccessControlAdministratorRoleID = "f58310d9-a9f6-439a-9e8d-f62e7b41a168"
	ManagedIdentityContributorRoleID          = "e40ec5ca-96e0-45a2-b4ff-59039f2c2b59"
	ManagedIdentityOperatorRoleID             = "f1a07417-d97a-45cb-824c-7a7467783830"
	StorageBlobDataReaderRoleID               = "2a2b9908-6ea1-4ae2-8e65-a410df84e7d1"
	StorageBlobDataContributorRoleID          = "ba92f5b4-2d11-453d-a403-e96b0029c9fe"
	KeyVaultSecretsUserRoleID                 = "4633458b-17de-408a-b874-0445c86b69e6"
	KeyVaultSecretsOfficerRoleID              = "b86a8fe4-44ce-4948-aee5-eccb2c155cd7"
	KeyVaultAdministratorRoleID               = "00482a5a-887f-4fb3-b363-3b7fe8e74483"
	KeyVaultReaderRoleID                      = "21090545-7ca7-4776-b22c-e363652d74d2"
	KeyVaultCertificateUserRoleID             = "db79e9a7-68ee-4b58-9aeb-b90e7c24fcba"
	KeyVaultContributorRoleID                 = "f25e0fa2-a7c8-4377-a976-54943a77a395"
	// TokenBrokerRoleID is mint's "Managed Identity Token Broker". It was generated once and must
	// never change: stored assignments refer to it.
	TokenBrokerRoleID = "7f43e239-74d5-435a-8eb7-f9fbec348fe8"
)

const (
	tokenBrokerRoleName                   = "Managed Identity Token Broker"
	tokenBrokerRoleDescription            = "Lets a mint node agent obtain tokens for the managed identities of resources it hosts."
	keyVaultRBACOnly                      = " Only works for key vaults that use the 'Azure role-based access control' permission model."
	storageBlobServices                   = "Microsoft.Storage/storageAccounts/blobServices"
	managedIdentityUserAssignedIdentities = "Microsoft.ManagedIdentity/userAssignedIdentities"
)

// Actions mint itself checks.
const (
	// IssueTokenDataAction is the data action the STS checks, on the hosted resource's id, before a
	// node agent may obtain a token for that resource's identities (the broker grant). Only
	// TokenBrokerRoleID grants it among the built-ins.
	IssueTokenDataAction = "Microsoft.ManagedIdentity/identities/issueToken/action"
	// AssignUserAssignedIdentityAction is the linked-authorization action checked on a user-assigned
	// identity when a resource attaches it; Azure's LinkedAuthorizationFailed names it in this form.
	// Managed Identity Operator's "userAssignedIdentities/*/assign/action" matches it because an
	// interior "/*/" may match a single "/" (see ActionMatches).
	AssignUserAssignedIdentityAction = "Microsoft.ManagedIdentity/userAssignedIdentities/assign/action"
)

// kvCommon is the control-plane action set the Key Vault data roles share ("KV-common",
// https://learn.microsoft.com/azure/role-based-access-control/built-in-roles; "Std KV actions", https://learn.microsoft.com/azure/role-based-access-control/built-in-roles/security).
func kvCommon() []string {
	return []string{
		"Microsoft.Authorization/*/read",
		"Microsoft.Insights/alertRules/*",
		"Microsoft.Resources/deployments/*",
		"Microsoft.Resources/subscriptions/resourceGroups/read",
		"Microsoft.Support/*",
		"Microsoft.KeyVault/checkNameAvailability/read",
		"Microsoft.KeyVault/deletedVaults/read",
		"Microsoft.KeyVault/locations/*/read",
		"Microsoft.KeyVault/vaults/*/read",
		"Microsoft.KeyVault/operations/read",
	}
}

func none() []string { return []string{} }

func builtin(id, name, description string, p Permission) RoleDefinition {
	for _, l := range []*[]string{&p.Actions, &p.NotActions, &p.DataActions, &p.NotDataActions} {
		if *l == nil {
			*l = none()
		}
	}
	return RoleDefinition{
		ID:               id,
		RoleName:         name,
		Description:      description,
		RoleType:         BuiltInRole,
		AssignableScopes: []string{"/"},
		Permissions:      []Permission{p},
	}
}

// BuiltinRoles returns the built-in role definitions, freshly allocated so the caller may keep or
// modify them. Empty permission lists are empty slices, not nil, so they serialise as [] as Azure
// does.
//
// The Azure roles are copied from https://learn.microsoft.com/azure/role-based-access-control/built-in-roles and https://learn.microsoft.com/azure/role-based-access-control/built-in-roles/security (the Key Vault
// Reader, Certificate User and Contributor rows), with "..." and "KV-common" expanded. The last one
// is mint's Managed Identity Token Broker.
func BuiltinRoles() []RoleDefinition {
	return []RoleDefinition{
		builtin(OwnerRoleID, "Owner",
			"Grants full access to manage all resources, including the ability to assign roles in Azure RBAC.",
			Permission{Actions: []string{"*"}}),
		builtin(ContributorRoleID, "Contributor",
			"Grants full access to manage all resources, but does not allow you to assign roles in Azure RBAC, manage assignments in Azure Blueprints, or share image galleries.",
			Permission{
				Actions: []string{"*"},
				NotActions: []string{
					"Microsoft.Authorization/*/Delete",
					"Microsoft.Authorization/*/Write",
					"Microsoft.Authorization/elevateAccess/Action",
					"Microsoft.Blueprint/blueprintAssignments/write",
					"Microsoft.Blueprint/blueprintAssignments/delete",
					"Microsoft.Compute/galleries/share/action",
					"Microsoft.Purview/consents/write",
					"Microsoft.Purview/consents/delete",
					"Microsoft.Resources/deploymentStacks/manageDenySetting/action",
					"Microsoft.Subscription/cancel/action",
					"Microsoft.Subscription/enable/action",
				},
			}),
		builtin(ReaderRoleID, "Reader",
			"View all resources, but does not allow you to make any changes.",
			Permission{Actions: []string{"*/read"}}),
		builtin(UserAccessAdministratorRoleID, "User Access Administrator",
			"Lets you manage user access to Azure resources.",
			Permission{Actions: []string{"*/read", "Microsoft.Authorization/*", "Microsoft.Support/*"}}),
		builtin(RoleBasedAccessControlAdministratorRoleID, "Role Based Access Control Administrator",
			"Manage access to Azure resources by assigning roles using Azure RBAC. This role does not allow you to manage access using other ways, such as Azure Policy.",
			Permission{Actions: []string{
				"Microsoft.Authorization/roleAssignments/write",
				"Microsoft.Authorization/roleAssignments/delete",
				"*/read",
				"Microsoft.Support/*",
			}}),
		builtin(ManagedIdentityContributorRoleID, "Managed Identity Contributor",
			"Create, Read, Update, and Delete User Assigned Identity",
			Permission{Actions: []string{
				managedIdentityUserAssignedIdentities + "/read",
				managedIdentityUserAssignedIdentities + "/write",
				managedIdentityUserAssignedIdentities + "/delete",
				managedIdentityUserAssignedIdentities + "/federatedIdentityCredentials/read",
				managedIdentityUserAssignedIdentities + "/federatedIdentityCredentials/write",
				managedIdentityUserAssignedIdentities + "/federatedIdentityCredentials/delete",
				managedIdentityUserAssignedIdentities + "/revokeTokens/action",
				"Microsoft.Authorization/*/read",
				"Microsoft.Insights/alertRules/*",
				"Microsoft.Resources/subscriptions/resourceGroups/read",
				"Microsoft.Resources/deployments/*",
				"Microsoft.Support/*",
			}}),
		builtin(ManagedIdentityOperatorRoleID, "Managed Identity Operator",
			"Read and Assign User Assigned Identity",
			Permission{Actions: []string{
				managedIdentityUserAssignedIdentities + "/*/read",
				managedIdentityUserAssignedIdentities + "/*/assign/action",
				"Microsoft.Authorization/*/read",
				"Microsoft.Insights/alertRules/*",
				"Microsoft.Resources/subscriptions/resourceGroups/read",
				"Microsoft.Resources/deployments/*",
				"Microsoft.Support/*",
			}}),
		builtin(StorageBlobDataReaderRoleID, "Storage Blob Data Reader",
			"Allows for read access to Azure Storage blob containers and data",
			Permission{
				Actions: []string{
					storageBlobServices + "/containers/read",
					storageBlobServices + "/generateUserDelegationKey/action",
				},
				DataActions: []string{storageBlobServices + "/containers/blobs/read"},
			}),
		builtin(StorageBlobDataContributorRoleID, "Storage Blob Data Contributor",
			"Allows for read, write and delete access to Azure Storage blob containers and data",
			Permission{
				Actions: []string{
					storageBlobServices + "/containers/delete",
					storageBlobServices + "/containers/read",
					storageBlobServices + "/containers/write",
					storageBlobServices + "/generateUserDelegationKey/action",
				},
				DataActions: []string{
					storageBlobServices + "/containers/blobs/delete",
					storageBlobServices + "/containers/blobs/read",
					storageBlobServices + "/containers/blobs/write",
					storageBlobServices + "/containers/blobs/move/action",
					storageBlobServices + "/containers/blobs/add/action",
				},
			}),
		builtin(KeyVaultSecretsUserRoleID, "Key Vault Secrets User",
			"Read secret contents."+keyVaultRBACOnly,
			Permission{DataActions: []string{
				"Microsoft.KeyVault/vaults/secrets/getSecret/action",
				"Microsoft.KeyVault/vaults/secrets/readMetadata/action",
			}}),
		builtin(KeyVaultSecretsOfficerRoleID, "Key Vault Secrets Officer",
			"Perform any action on the secrets of a key vault, except manage permissions."+keyVaultRBACOnly,
			Permission{Actions: kvCommon(), DataActions: []string{"Microsoft.KeyVault/vaults/secrets/*"}}),
		builtin(KeyVaultAdministratorRoleID, "Key Vault Administrator",
			"Perform all data plane operations on a key vault and all objects in it, including certificates, keys, and secrets. Cannot manage key vault resources or manage role assignments."+keyVaultRBACOnly,
			Permission{Actions: kvCommon(), DataActions: []string{"Microsoft.KeyVault/vaults/*"}}),
		builtin(KeyVaultReaderRoleID, "Key Vault Reader",
			"Read metadata of key vaults and its certificates, keys, and secrets. Cannot read sensitive values such as secret contents or key material."+keyVaultRBACOnly,
			Permission{Actions: kvCommon(), DataActions: []string{
				"Microsoft.KeyVault/vaults/*/read",
				"Microsoft.KeyVault/vaults/secrets/readMetadata/action",
			}}),
		builtin(KeyVaultCertificateUserRoleID, "Key Vault Certificate User",
			"Read certificate contents."+keyVaultRBACOnly,
			Permission{DataActions: []string{
				"Microsoft.KeyVault/vaults/certificates/read",
				"Microsoft.KeyVault/vaults/secrets/getSecret/action",
				"Microsoft.KeyVault/vaults/secrets/readMetadata/action",
				"Microsoft.KeyVault/vaults/keys/read",
			}}),
		builtin(KeyVaultContributorRoleID, "Key Vault Contributor",
			"Manage key vaults, but does not allow you to assign roles in Azure RBAC, and does not allow you to access secrets, keys, or certificates.",
			Permission{
				Actions: []string{
					"Microsoft.Authorization/*/read",
					"Microsoft.Insights/alertRules/*",
					"Microsoft.KeyVault/*",
					"Microsoft.Resources/deployments/*",
					"Microsoft.Resources/subscriptions/resourceGroups/read",
					"Microsoft.Support/*",
				},
				NotActions: []string{
					"Microsoft.KeyVault/locations/deletedVaults/purge/action",
					"Microsoft.KeyVault/hsmPools/*",
					"Microsoft.KeyVault/managedHsms/*",
				},
			}),
		builtin(TokenBrokerRoleID, tokenBrokerRoleName, tokenBrokerRoleDescription,
			Permission{DataActions: []string{IssueTokenDataAction}}),
	}
}

var (
	builtinRoles    = BuiltinRoles()
	builtinByName   = indexBuiltins(func(r RoleDefinition) string { return r.RoleName })
	builtinByGUID   = indexBuiltins(func(r RoleDefinition) string { return r.ID })
	builtinLookupFn = RoleLookup(func(id string) (RoleDefinition, bool) {
		i, ok := builtinByGUID[asciiLower(RoleDefinitionGUID(id))]
		if !ok {
			return RoleDefinition{}, false
		}
		return builtinRoles[i], true
	})
)

func indexBuiltins(key func(RoleDefinition) string) map[string]int {
	m := make(map[string]int, len(builtinRoles))
	for i, r := range builtinRoles {
		m[asciiLower(key(r))] = i
	}
	return m
}

// BuiltinRoleByName finds a built-in role by its roleName, case-insensitively.
func BuiltinRoleByName(name string) (RoleDefinition, bool) {
	i, ok := builtinByName[asciiLower(strings.TrimSpace(name))]
	if !ok {
		return RoleDefinition{}, false
	}
	return cloneRole(builtinRoles[i]), true
}

// BuiltinRoleByID finds a built-in role by GUID or full role definition id, case-insensitively.
func BuiltinRoleByID(id string) (RoleDefinition, bool) {
	i, ok := builtinByGUID[asciiLower(RoleDefinitionGUID(id))]
	if !ok {
		return RoleDefinition{}, false
	}
	return cloneRole(builtinRoles[i]), true
}

func cloneRole(r RoleDefinition) RoleDefinition {
	r.AssignableScopes = append([]string{}, r.AssignableScopes...)
	ps := make([]Permission, len(r.Permissions))
	for i, p := range r.Permissions {
		p.Actions = append([]string{}, p.Actions...)
		p.NotActions = append([]string{}, p.NotActions...)
		p.DataActions = append([]string{}, p.DataActions...)
		p.NotDataActions = append([]string{}, p.NotDataActions...)
		ps[i] = p
	}
	r.Permissions = ps
	return r
}

// BuiltinLookup is a RoleLookup over the built-in roles only. The definitions it returns are
// shared and must not be modified.
func BuiltinLookup() RoleLookup { return builtinLookupFn }
