package directory

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/mint-id/mint/internal/authz"
	"github.com/mint-id/mint/internal/store"
)

// People: users with Argon2id passwords, and security groups whose members are users, service
// principals (managed identities included) and other groups. The rules (which names, which
// passwords, which members) live here; the store keeps records and direct memberships only, and
// transitive membership is computed on read, cycle-safe, because Entra allows cycles.

// Graph's words for refusals, so that every endpoint can show them as they are.
const (
	msgUPNTaken       = "Another object with the same value for property userPrincipalName already exists."
	msgUPNDomain      = "The domain portion of the userPrincipalName property is invalid. You must use one of the verified domain names in your organization."
	msgUPNInvalid     = "Property userPrincipalName is invalid."
	msgAlreadyMember  = "One or more added object references already exist for the following modified properties: 'members'."
	msgSelfMembership = "A group cannot be a member of itself."
)

// UserByPrincipalName finds a user by UPN (case-insensitive) in a tenant; store.ErrNotFound if none.
func (d *Directory) UserByPrincipalName(ctx context.Context, tenantID, upn string) (store.User, error) {
	if len(upn) > maxUPNLen {
		return store.User{}, store.ErrNotFound
	}
	return d.st.GetUserByPrincipalName(ctx, tenantID, strings.TrimSpace(upn))
}

// User finds a user by object id; store.ErrNotFound if none.
func (d *Directory) User(ctx context.Context, objectID string) (store.User, error) {
	if _, err := uuid.Parse(objectID); err != nil {
		return store.User{}, store.ErrNotFound
	}
	return d.st.GetUser(ctx, strings.ToLower(objectID))
}

// UserForToken is User narrowed to what a token redemption checks and writes into the tokens
// (store.Users.GetUserForToken): read from the store every time, so that a password reset, a
// disable or a delete refuses the next redemption on every server sharing the store.
func (d *Directory) UserForToken(ctx context.Context, objectID string) (store.User, error) {
	if _, err := uuid.Parse(objectID); err != nil {
		return store.User{}, store.ErrNotFound
	}
	return d.st.GetUserForToken(ctx, strings.ToLower(objectID))
}

// Users lists a tenant's users, oldest first.
func (d *Directory) Users(ctx context.Context, tenantID string) ([]store.User, error) {
	return d.st.ListUsers(ctx, tenantID)
}

// VerifyPassword checks password against u's Argon2id hash in constant time, waiting for a slot
// of the concurrency cap (ctx error if it gives up). false for a user with no password.
func (d *Directory) VerifyPassword(ctx context.Context, u store.User, password string) (bool, error) {
	if len(password) > maxPasswordBytes {
		// Still spend the time, so that a long password tells nothing about the account.
		return false, d.DummyPasswordCheck(ctx, password[:maxPasswordBytes])
	}
	if u.PasswordHash == "" {
		return false, d.DummyPasswordCheck(ctx, password)
	}
	return d.hasher().verify(ctx, u.PasswordHash, password)
}

// DummyPasswordCheck spends the same time as VerifyPassword for an unknown user (no enumeration
// by timing).
func (d *Directory) DummyPasswordCheck(ctx context.Context, password string) error {
	if len(password) > maxPasswordBytes {
		password = password[:maxPasswordBytes]
	}
	h := d.hasher()
	_, err := h.verify(ctx, h.dummy, password)
	return err
}

// maxPasswordBytes bounds what is hashed: Entra's longest password is 256 characters, at most
// 4 bytes each. Longer input is refused at creation and never matches at sign-in.
const maxPasswordBytes = 4 * maxPasswordLen

// UPN limits: Entra allows 64 characters before the @ and 113 in all
// (https://learn.microsoft.com/entra/identity/hybrid/connect/plan-connect-userprincipalname).
const (
	maxUPNAliasLen = 64
	maxUPNLen      = 113
	maxNameLen     = 256
	maxNicknameLen = 64
)

// UserSpec describes a new user, as Graph's POST /users body does.
type UserSpec struct {
	UserPrincipalName             string
	DisplayName                   string
	MailNickname                  string
	AccountEnabled                bool
	Password                      string
	ForceChangePasswordNextSignIn bool
}

// CreateUser adds a person to the tenant. The UPN must be in one of the tenant's domains (mint's
// tenants have one, the default domain) and the password must meet the complexity rule.
func (d *Directory) CreateUser(ctx context.Context, tenantID string, spec UserSpec) (store.User, error) {
	t, err := d.Tenant(ctx, tenantID)
	if err != nil {
		return store.User{}, fmt.Errorf("tenant %s: %w", tenantID, err)
	}
	upn, err := checkUPN(spec.UserPrincipalName, t)
	if err != nil {
		return store.User{}, err
	}
	if err := checkDisplayName(spec.DisplayName, "User"); err != nil {
		return store.User{}, err
	}
	if err := checkMailNickname(spec.MailNickname, "User"); err != nil {
		return store.User{}, err
	}
	if err := CheckPasswordComplexity(spec.Password); err != nil {
		return store.User{}, err
	}
	phc, err := d.hasher().hash(ctx, spec.Password)
	if err != nil {
		return store.User{}, err
	}
	now := d.now()
	u := store.User{
		ObjectID:                      uuid.NewString(),
		TenantID:                      t.ID,
		UserPrincipalName:             upn,
		DisplayName:                   spec.DisplayName,
		MailNickname:                  spec.MailNickname,
		AccountEnabled:                spec.AccountEnabled,
		PasswordHash:                  phc,
		ForceChangePasswordNextSignIn: spec.ForceChangePasswordNextSignIn,
		TokensValidAfter:              now,
		CreatedAt:                     now,
	}
	if err := d.st.CreateUser(ctx, u); err != nil {
		if errors.Is(err, store.ErrConflict) {
			return store.User{}, &InputError{msgUPNTaken}
		}
		return store.User{}, fmt.Errorf("create user %s: %w", upn, err)
	}
	return u, nil
}

// UserUpdate changes some of a user's properties; nil fields stay as they are.
type UserUpdate struct {
	UserPrincipalName *string
	DisplayName       *string
	MailNickname      *string
	AccountEnabled    *bool
	// Password, when set, resets the password (complexity checked) and, with it,
	// ForceChangePasswordNextSignIn.
	Password                      *string
	ForceChangePasswordNextSignIn *bool
}

// UpdateUser applies up. A password reset and a disable set TokensValidAfter to now, so refresh
// tokens and sessions issued before stop working.
func (d *Directory) UpdateUser(ctx context.Context, objectID string, up UserUpdate) (store.User, error) {
	u, err := d.User(ctx, objectID)
	if err != nil {
		return u, err
	}
	if up.UserPrincipalName != nil {
		t, err := d.Tenant(ctx, u.TenantID)
		if err != nil {
			return u, fmt.Errorf("tenant %s: %w", u.TenantID, err)
		}
		if u.UserPrincipalName, err = checkUPN(*up.UserPrincipalName, t); err != nil {
			return u, err
		}
	}
	if up.DisplayName != nil {
		if err := checkDisplayName(*up.DisplayName, "User"); err != nil {
			return u, err
		}
		u.DisplayName = *up.DisplayName
	}
	if up.MailNickname != nil {
		if err := checkMailNickname(*up.MailNickname, "User"); err != nil {
			return u, err
		}
		u.MailNickname = *up.MailNickname
	}
	if up.Password != nil {
		if err := CheckPasswordComplexity(*up.Password); err != nil {
			return u, err
		}
		if u.PasswordHash, err = d.hasher().hash(ctx, *up.Password); err != nil {
			return u, err
		}
		u.TokensValidAfter = d.now()
	}
	if up.ForceChangePasswordNextSignIn != nil {
		u.ForceChangePasswordNextSignIn = *up.ForceChangePasswordNextSignIn
	}
	if up.AccountEnabled != nil {
		if u.AccountEnabled && !*up.AccountEnabled {
			u.TokensValidAfter = d.now()
		}
		u.AccountEnabled = *up.AccountEnabled
	}
	if err := d.st.UpdateUser(ctx, u); err != nil {
		if errors.Is(err, store.ErrConflict) {
			return u, &InputError{msgUPNTaken}
		}
		return u, fmt.Errorf("update user %s: %w", objectID, err)
	}
	return u, nil
}

// ResetPassword sets a new password (complexity checked) and revokes what was issued before it.
func (d *Directory) ResetPassword(ctx context.Context, objectID, password string, forceChange bool) (store.User, error) {
	return d.UpdateUser(ctx, objectID, UserUpdate{Password: &password, ForceChangePasswordNextSignIn: &forceChange})
}

// SetAccountEnabled enables or disables sign-in; disabling revokes what was issued before.
func (d *Directory) SetAccountEnabled(ctx context.Context, objectID string, enabled bool) (store.User, error) {
	return d.UpdateUser(ctx, objectID, UserUpdate{AccountEnabled: &enabled})
}

// RevokeSessions makes refresh tokens and browser sessions issued until now invalid (Graph's
// revokeSignInSessions).
func (d *Directory) RevokeSessions(ctx context.Context, objectID string) error {
	u, err := d.User(ctx, objectID)
	if err != nil {
		return err
	}
	u.TokensValidAfter = d.now()
	return d.st.UpdateUser(ctx, u)
}

// DeleteUser removes the user and its memberships.
func (d *Directory) DeleteUser(ctx context.Context, objectID string) error {
	if _, err := uuid.Parse(objectID); err != nil {
		return store.ErrNotFound
	}
	return d.st.DeleteUser(ctx, strings.ToLower(objectID))
}

// checkUPN validates a user principal name as Graph does and returns it trimmed: alias@domain,
// the alias of A-Z a-z 0-9 ' . - _ ! # ^ ~ (no leading, trailing or doubled period), the domain
// one of the tenant's.
func checkUPN(upn string, t store.Tenant) (string, error) {
	upn = strings.TrimSpace(upn)
	if upn == "" {
		return "", &InputError{"Invalid value specified for property 'userPrincipalName' of resource 'User'."}
	}
	alias, domain, ok := strings.Cut(upn, "@")
	if !ok || len(upn) > maxUPNLen || alias == "" || len(alias) > maxUPNAliasLen || strings.Contains(domain, "@") {
		return "", &InputError{msgUPNInvalid}
	}
	if alias[0] == '.' || alias[len(alias)-1] == '.' || strings.Contains(alias, "..") {
		return "", &InputError{msgUPNInvalid}
	}
	for i := 0; i < len(alias); i++ {
		c := alias[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("'.-_!#^~", c) >= 0) {
			return "", &InputError{msgUPNInvalid}
		}
	}
	if !strings.EqualFold(domain, t.DefaultDomain) {
		return "", &InputError{msgUPNDomain}
	}
	return upn, nil
}

func checkDisplayName(name, resource string) error {
	if strings.TrimSpace(name) == "" || utf8.RuneCountInString(name) > maxNameLen || !utf8.ValidString(name) {
		return &InputError{fmt.Sprintf("Invalid value specified for property 'displayName' of resource '%s'.", resource)}
	}
	return nil
}

// checkMailNickname applies Graph's rule: 1 to 64 ASCII characters, none of @ ( ) \ [ ] " ; : < > ,
// or space.
func checkMailNickname(nick, resource string) error {
	bad := nick == "" || len(nick) > maxNicknameLen
	for i := 0; i < len(nick) && !bad; i++ {
		c := nick[i]
		bad = c <= ' ' || c >= 0x7f || strings.IndexByte("@()\\[]\";:<>,", c) >= 0
	}
	if bad {
		return &InputError{fmt.Sprintf("Invalid value specified for property 'mailNickname' of resource '%s'.", resource)}
	}
	return nil
}

// GroupSpec describes a new security group.
type GroupSpec struct {
	DisplayName  string
	MailNickname string
	Description  string
}

// CreateGroup adds a security group. Display names need not be unique, as in Entra.
func (d *Directory) CreateGroup(ctx context.Context, tenantID string, spec GroupSpec) (store.Group, error) {
	if err := checkDisplayName(spec.DisplayName, "Group"); err != nil {
		return store.Group{}, err
	}
	if err := checkMailNickname(spec.MailNickname, "Group"); err != nil {
		return store.Group{}, err
	}
	if utf8.RuneCountInString(spec.Description) > 1024 {
		return store.Group{}, &InputError{"Invalid value specified for property 'description' of resource 'Group'."}
	}
	g := store.Group{
		ObjectID:        uuid.NewString(),
		TenantID:        tenantID,
		DisplayName:     spec.DisplayName,
		MailNickname:    spec.MailNickname,
		Description:     spec.Description,
		SecurityEnabled: true,
		CreatedAt:       d.now(),
	}
	if err := d.st.CreateGroup(ctx, g); err != nil {
		return store.Group{}, fmt.Errorf("create group %q: %w", spec.DisplayName, err)
	}
	return g, nil
}

// Group finds a group by object id; store.ErrNotFound if none.
func (d *Directory) Group(ctx context.Context, objectID string) (store.Group, error) {
	if _, err := uuid.Parse(objectID); err != nil {
		return store.Group{}, store.ErrNotFound
	}
	return d.st.GetGroup(ctx, strings.ToLower(objectID))
}

// Groups lists a tenant's groups, oldest first.
func (d *Directory) Groups(ctx context.Context, tenantID string) ([]store.Group, error) {
	return d.st.ListGroups(ctx, tenantID)
}

// GroupUpdate changes some of a group's properties; nil fields stay.
type GroupUpdate struct {
	DisplayName  *string
	MailNickname *string
	Description  *string
}

func (d *Directory) UpdateGroup(ctx context.Context, objectID string, up GroupUpdate) (store.Group, error) {
	g, err := d.Group(ctx, objectID)
	if err != nil {
		return g, err
	}
	if up.DisplayName != nil {
		if err := checkDisplayName(*up.DisplayName, "Group"); err != nil {
			return g, err
		}
		g.DisplayName = *up.DisplayName
	}
	if up.MailNickname != nil {
		if err := checkMailNickname(*up.MailNickname, "Group"); err != nil {
			return g, err
		}
		g.MailNickname = *up.MailNickname
	}
	if up.Description != nil {
		g.Description = *up.Description
	}
	if err := d.st.UpdateGroup(ctx, g); err != nil {
		return g, fmt.Errorf("update group %s: %w", objectID, err)
	}
	return g, nil
}

// DeleteGroup removes a group, its memberships and its own membership in other groups.
func (d *Directory) DeleteGroup(ctx context.Context, objectID string) error {
	if _, err := uuid.Parse(objectID); err != nil {
		return store.ErrNotFound
	}
	return d.st.DeleteGroup(ctx, strings.ToLower(objectID))
}

// Object is a directory object of any kind: exactly one of User, Group, ServicePrincipal is set,
// as Type says.
type Object struct {
	Type             store.MemberType
	User             store.User
	Group            store.Group
	ServicePrincipal store.ServicePrincipal
}

// ID is the object id.
func (o Object) ID() string {
	switch o.Type {
	case store.MemberUser:
		return o.User.ObjectID
	case store.MemberGroup:
		return o.Group.ObjectID
	default:
		return o.ServicePrincipal.ObjectID
	}
}

// DisplayName is the object's display name.
func (o Object) DisplayName() string {
	switch o.Type {
	case store.MemberUser:
		return o.User.DisplayName
	case store.MemberGroup:
		return o.Group.DisplayName
	default:
		return o.ServicePrincipal.DisplayName
	}
}

// Object finds a user, group or service principal of the tenant by object id; store.ErrNotFound
// if the tenant has none with that id.
func (d *Directory) Object(ctx context.Context, tenantID, objectID string) (Object, error) {
	if _, err := uuid.Parse(objectID); err != nil {
		return Object{}, store.ErrNotFound
	}
	id := strings.ToLower(objectID)
	if u, err := d.st.GetUser(ctx, id); err == nil {
		if !strings.EqualFold(u.TenantID, tenantID) {
			return Object{}, store.ErrNotFound
		}
		return Object{Type: store.MemberUser, User: u}, nil
	} else if !errors.Is(err, store.ErrNotFound) {
		return Object{}, err
	}
	if g, err := d.st.GetGroup(ctx, id); err == nil {
		if !strings.EqualFold(g.TenantID, tenantID) {
			return Object{}, store.ErrNotFound
		}
		return Object{Type: store.MemberGroup, Group: g}, nil
	} else if !errors.Is(err, store.ErrNotFound) {
		return Object{}, err
	}
	sp, err := d.st.GetPrincipal(ctx, id)
	if err != nil {
		return Object{}, err
	}
	if !strings.EqualFold(sp.TenantID, tenantID) {
		return Object{}, store.ErrNotFound
	}
	return Object{Type: store.MemberServicePrincipal, ServicePrincipal: sp}, nil
}

// AddMember makes memberID (a user, group or service principal of the group's tenant) a direct
// member of groupID. store.ErrNotFound if either does not exist; an InputError with Graph's words
// if it is a member already or is the group itself. Cycles through other groups are allowed, as
// in Entra.
func (d *Directory) AddMember(ctx context.Context, groupID, memberID string) error {
	g, err := d.Group(ctx, groupID)
	if err != nil {
		return err
	}
	obj, err := d.Object(ctx, g.TenantID, memberID)
	if err != nil {
		return err
	}
	if obj.ID() == g.ObjectID {
		return &InputError{msgSelfMembership}
	}
	err = d.st.AddGroupMember(ctx, store.GroupMember{GroupID: g.ObjectID, MemberID: obj.ID(), MemberType: obj.Type, CreatedAt: d.now()})
	if errors.Is(err, store.ErrConflict) {
		return &InputError{msgAlreadyMember}
	}
	if err != nil {
		return fmt.Errorf("add %s to group %s: %w", memberID, groupID, err)
	}
	return nil
}

// RemoveMember removes a direct membership; store.ErrNotFound if memberID is not a direct member.
func (d *Directory) RemoveMember(ctx context.Context, groupID, memberID string) error {
	if _, err := uuid.Parse(memberID); err != nil {
		return store.ErrNotFound
	}
	g, err := d.Group(ctx, groupID)
	if err != nil {
		return err
	}
	return d.st.RemoveGroupMember(ctx, g.ObjectID, strings.ToLower(memberID))
}

// Members lists a group's direct members, oldest first.
func (d *Directory) Members(ctx context.Context, groupID string) ([]store.GroupMember, error) {
	g, err := d.Group(ctx, groupID)
	if err != nil {
		return nil, err
	}
	return d.st.ListGroupMembers(ctx, g.ObjectID)
}

// TransitiveMembers lists every member of the group, direct or through nested groups, each once
// (nested groups included), cycle-safe.
func (d *Directory) TransitiveMembers(ctx context.Context, groupID string) ([]store.GroupMember, error) {
	g, err := d.Group(ctx, groupID)
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{g.ObjectID: true}
	var out []store.GroupMember
	queue := []string{g.ObjectID}
	for len(queue) > 0 && len(seen) <= authz.MaxTransitiveGroups*16 {
		ms, err := d.st.ListGroupMembers(ctx, queue[0])
		if err != nil {
			return nil, fmt.Errorf("members of group %s: %w", queue[0], err)
		}
		queue = queue[1:]
		for _, m := range ms {
			if seen[m.MemberID] {
				continue
			}
			seen[m.MemberID] = true
			out = append(out, m)
			if m.MemberType == store.MemberGroup {
				queue = append(queue, m.MemberID)
			}
		}
	}
	return out, nil
}

// MemberOf lists the groups principalID is a direct member of.
func (d *Directory) MemberOf(ctx context.Context, principalID string) ([]store.Group, error) {
	ms, err := d.st.ListMemberOf(ctx, strings.ToLower(principalID))
	if err != nil {
		return nil, err
	}
	ids := make([]string, len(ms))
	for i, m := range ms {
		ids[i] = m.GroupID
	}
	return d.groupsByID(ctx, ids)
}

// TransitiveGroupIDs lists the object ids of every group principalID belongs to, directly or
// through nested groups.
func (d *Directory) TransitiveGroupIDs(ctx context.Context, principalID string) ([]string, error) {
	ms, err := authz.TransitiveGroups(ctx, d.st, strings.ToLower(principalID))
	if err != nil {
		return nil, err
	}
	ids := make([]string, len(ms))
	for i, m := range ms {
		ids[i] = m.GroupID
	}
	return ids, nil
}

// TransitiveMemberOf lists every group principalID belongs to, directly or through nested groups.
func (d *Directory) TransitiveMemberOf(ctx context.Context, principalID string) ([]store.Group, error) {
	ids, err := d.TransitiveGroupIDs(ctx, principalID)
	if err != nil {
		return nil, err
	}
	return d.groupsByID(ctx, ids)
}

func (d *Directory) groupsByID(ctx context.Context, ids []string) ([]store.Group, error) {
	out := make([]store.Group, 0, len(ids))
	for _, id := range ids {
		g, err := d.st.GetGroup(ctx, id)
		if errors.Is(err, store.ErrNotFound) {
			continue // deleted meanwhile
		}
		if err != nil {
			return nil, fmt.Errorf("group %s: %w", id, err)
		}
		out = append(out, g)
	}
	return out, nil
}
