package store

import (
	"context"
	"time"
)

// User is a person in a tenant's directory (Graph's user).
type User struct {
	ObjectID string // GUID, lower case; the token's oid
	TenantID string
	// UserPrincipalName is the sign-in name, user@<a domain of the tenant>. Unique across the
	// tenant, compared case-insensitively, kept in the case it was created with.
	UserPrincipalName string
	DisplayName       string
	MailNickname      string
	AccountEnabled    bool
	// PasswordHash is a PHC string ("$argon2id$v=19$m=...,t=...,p=...$salt$hash"); its format is
	// owned by the directory package. Never a password.
	PasswordHash                  string
	ForceChangePasswordNextSignIn bool
	// TokensValidAfter: refresh tokens and browser sessions issued before it are refused (set on
	// a password reset, a disable, or an explicit revocation).
	TokensValidAfter time.Time
	CreatedAt        time.Time
}

// Users keeps the tenant's people.
type Users interface {
	// CreateUser: ErrConflict if the object id or the user principal name is taken.
	CreateUser(ctx context.Context, u User) error
	GetUser(ctx context.Context, objectID string) (User, error)
	// GetUserByPrincipalName matches the user principal name case-insensitively.
	GetUserByPrincipalName(ctx context.Context, tenantID, upn string) (User, error)
	// ListUsers lists the tenant's users ordered by creation.
	ListUsers(ctx context.Context, tenantID string) ([]User, error)
	// ListUsersPage lists the users f selects, in ListUsers' order, from indexes.
	ListUsersPage(ctx context.Context, f PeopleFilter) ([]User, error)
	// UpdateUser replaces every field but ObjectID, TenantID and CreatedAt. ErrNotFound, or
	// ErrConflict when the new user principal name is taken.
	UpdateUser(ctx context.Context, u User) error
	// DeleteUser removes the user and its group memberships.
	DeleteUser(ctx context.Context, objectID string) error
	// GetUserForToken reads what a token redemption checks and writes into the tokens:
	// ObjectID, TenantID, UserPrincipalName, DisplayName, AccountEnabled and TokensValidAfter,
	// the other fields left zero. As fresh as GetUser (one point read by primary key, never a
	// cache); ErrNotFound if none.
	GetUserForToken(ctx context.Context, objectID string) (User, error)
}

// Group is a security group (Graph's group with securityEnabled true).
type Group struct {
	ObjectID        string // GUID, lower case
	TenantID        string
	DisplayName     string // not unique, as in Entra
	MailNickname    string
	Description     string
	SecurityEnabled bool
	MailEnabled     bool
	CreatedAt       time.Time
}

// MemberType says what kind of directory object a group member is, as Graph's @odata.type and
// ARM's principalType name it.
type MemberType string

const (
	MemberUser             MemberType = "User"
	MemberGroup            MemberType = "Group"
	MemberServicePrincipal MemberType = "ServicePrincipal" // applications and managed identities
)

// GroupMember is one direct membership.
type GroupMember struct {
	GroupID    string
	MemberID   string // object id of the user, group or service principal
	MemberType MemberType
	CreatedAt  time.Time
}

// Groups keeps security groups and their direct memberships. Transitive membership is computed
// above the store (directory, authz).
type Groups interface {
	// CreateGroup: ErrConflict if the object id is taken.
	CreateGroup(ctx context.Context, g Group) error
	GetGroup(ctx context.Context, objectID string) (Group, error)
	// ListGroups lists the tenant's groups ordered by creation.
	ListGroups(ctx context.Context, tenantID string) ([]Group, error)
	// ListGroupsPage lists the groups f selects (UserPrincipalName must be empty), in
	// ListGroups' order, from indexes.
	ListGroupsPage(ctx context.Context, f PeopleFilter) ([]Group, error)
	// UpdateGroup replaces display name, mail nickname and description.
	UpdateGroup(ctx context.Context, g Group) error
	// DeleteGroup removes the group, its memberships and its own membership in other groups.
	DeleteGroup(ctx context.Context, objectID string) error
	// AddGroupMember: ErrNotFound if the group does not exist, ErrConflict if already a member.
	AddGroupMember(ctx context.Context, m GroupMember) error
	// RemoveGroupMember: ErrNotFound if it was not a member.
	RemoveGroupMember(ctx context.Context, groupID, memberID string) error
	// ListGroupMembers lists a group's direct members, oldest first.
	ListGroupMembers(ctx context.Context, groupID string) ([]GroupMember, error)
	// ListMemberOf lists the groups memberID is a direct member of.
	ListMemberOf(ctx context.Context, memberID string) ([]GroupMember, error)
	// ListMemberOfAny lists the groups any of memberIDs is a direct member of, in one read: each
	// member's memberships in ListMemberOf's order, members in no particular order (group them by
	// MemberID). At most MaxBatchIDs ids.
	ListMemberOfAny(ctx context.Context, memberIDs []string) ([]GroupMember, error)
}

// MaxBatchIDs is how many ids one batched read (ListMemberOfAny,
// ListRoleAssignmentsForPrincipals) takes at most; callers split longer lists.
const MaxBatchIDs = 500
