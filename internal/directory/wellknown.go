package directory

import "github.com/mint-id/mint/internal/store"

// WellKnownResource is a first-party Azure resource application that every tenant has, so that
// tokens for Azure's own audiences can be issued exactly as Entra issues them. App ids are Entra's.
type WellKnownResource struct {
	AppID          string
	DisplayName    string
	IdentifierURIs []string
	AppRoles       []store.AppRole
}

// Microsoft Graph application permissions that mint's own Graph-shaped endpoint checks.
const (
	GraphAppID                   = "00000003-0000-0000-c000-000000000000"
	RoleApplicationReadWriteAll  = "Application.ReadWrite.All"
	RoleApplicationReadAll       = "Application.Read.All"
	RoleDirectoryReadAll         = "Directory.Read.All"
	RoleAuditLogReadAll          = "AuditLog.Read.All"
	RoleUserReadAll              = "User.Read.All"
	RoleUserReadWriteAll         = "User.ReadWrite.All"
	RoleGroupReadAll             = "Group.Read.All"
	RoleGroupReadWriteAll        = "Group.ReadWrite.All"
	RoleGroupMemberReadWriteAll  = "GroupMember.ReadWrite.All"
	RoleDirectoryReadWriteAll    = "Directory.ReadWrite.All"
	ResourceManagerAppID         = "797f4846-ba00-4fd7-ba43-dac1f8f63013"
	KeyVaultAppID                = "cfa8b339-82a2-471a-a3c9-0fc0be7a4093"
	graphApplicationReadWriteAll = "1bfefb4e-e0b5-418b-a88f-73c46d2cc8e9"
	graphApplicationReadAll      = "9a5d68dd-52b0-4cc2-bd40-abcf44ac3a30"
	graphDirectoryReadAll        = "7ab1d382-f21e-4acd-a863-ba3e13f7da61"
	graphAuditLogReadAll         = "b0afded3-3588-46d8-8b3d-9842eff778da"
	graphUserReadAll             = "df021288-bdef-4463-88db-98f22de89214"
	graphUserReadWriteAll        = "741f803b-c850-494e-b5df-cde7c675a1ca"
	graphGroupReadAll            = "5b567255-7703-4780-807c-7be8301ae99b"
	graphGroupReadWriteAll       = "62a82d76-70ea-41e2-9197-370581804d09"
	graphGroupMemberReadWriteAll = "dbaae8cf-10b5-4b86-a4a1-f871c94c6695"
	graphDirectoryReadWriteAll   = "19dbc75e-c2e2-444c-a770-ec69d8559fc7"
)

// WellKnownResources are registered in every tenant at creation. Identifier URIs match with or
// without one trailing slash, so "https://vault.azure.net" also answers "https://vault.azure.net/".
var WellKnownResources = []WellKnownResource{
	{AppID: ResourceManagerAppID, DisplayName: "Windows Azure Service Management API",
		IdentifierURIs: []string{"https://management.azure.com/", "https://management.core.windows.net/"}},
	{AppID: KeyVaultAppID, DisplayName: "Azure Key Vault",
		IdentifierURIs: []string{"https://vault.azure.net"}},
	{AppID: "e406a681-f3d4-42a8-90b6-c2b029497af1", DisplayName: "Azure Storage",
		IdentifierURIs: []string{"https://storage.azure.com/"}},
	{AppID: GraphAppID, DisplayName: "Microsoft Graph",
		IdentifierURIs: []string{"https://graph.microsoft.com", "https://canary.graph.microsoft.com"},
		AppRoles: []store.AppRole{
			{ID: graphApplicationReadWriteAll, Value: RoleApplicationReadWriteAll, DisplayName: "Read and write all applications"},
			{ID: graphApplicationReadAll, Value: RoleApplicationReadAll, DisplayName: "Read all applications"},
			{ID: graphDirectoryReadAll, Value: RoleDirectoryReadAll, DisplayName: "Read directory data"},
			{ID: graphAuditLogReadAll, Value: RoleAuditLogReadAll, DisplayName: "Read all audit log data"},
			{ID: graphUserReadAll, Value: RoleUserReadAll, DisplayName: "Read all users' full profiles"},
			{ID: graphUserReadWriteAll, Value: RoleUserReadWriteAll, DisplayName: "Read and write all users' full profiles"},
			{ID: graphGroupReadAll, Value: RoleGroupReadAll, DisplayName: "Read all groups"},
			{ID: graphGroupReadWriteAll, Value: RoleGroupReadWriteAll, DisplayName: "Read and write all groups"},
			{ID: graphGroupMemberReadWriteAll, Value: RoleGroupMemberReadWriteAll, DisplayName: "Read and write all group memberships"},
			{ID: graphDirectoryReadWriteAll, Value: RoleDirectoryReadWriteAll, DisplayName: "Read and write directory data"},
		}},
	{AppID: "00000002-0000-0000-c000-000000000000", DisplayName: "Windows Azure Active Directory",
		IdentifierURIs: []string{"https://graph.windows.net/"}},
	{AppID: "022907d3-0f1b-48f7-badc-1ba6abab6d66", DisplayName: "Azure SQL Database",
		IdentifierURIs: []string{"https://database.windows.net/"}},
	{AppID: "123cd850-d9df-40bd-94d5-c9f07b7fa203", DisplayName: "Azure OSSRDBMS Database",
		IdentifierURIs: []string{"https://ossrdbms-aad.database.windows.net"}},
	{AppID: "80a10ef9-8168-493d-abf9-3297c4ef6e3c", DisplayName: "Microsoft.Azure.ServiceBus",
		IdentifierURIs: []string{"https://servicebus.azure.net"}},
	{AppID: "80369ed6-5f11-4dd9-bef3-692475845e77", DisplayName: "Microsoft.EventHubs",
		IdentifierURIs: []string{"https://eventhubs.azure.net"}},
	{AppID: "a232010e-820c-4083-83bb-3ace5fc29d0b", DisplayName: "Azure Cosmos DB",
		IdentifierURIs: []string{"https://cosmos.azure.com"}},
	{AppID: "35ffadb3-7fc1-497e-b61b-381d28e744cc", DisplayName: "Azure App Configuration",
		IdentifierURIs: []string{"https://azconfig.io"}},
	{AppID: "ca7f3f0b-7d91-482c-8e09-c5d840d0eac5", DisplayName: "Log Analytics API",
		IdentifierURIs: []string{"https://api.loganalytics.io"}},
}
