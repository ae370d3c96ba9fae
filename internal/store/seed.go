package store

// IdentitySeed is one user-assigned identity of a bulk load (`mint bench`'s seeding of up to a
// million identities before it starts mint on them): the identity's resource, the principal
// PutResource would create with it, and role assignments to that principal (any scope). The
// SQLite and PostgreSQL stores load them with SeedManagedIdentities, which no serving code calls.
type IdentitySeed struct {
	Resource    Resource
	Principal   ServicePrincipal
	Assignments []RoleAssignment
}
