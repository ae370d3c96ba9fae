package sqlstore

import (
	"context"
	"fmt"

	"github.com/mint-id/mint/internal/store"
	"github.com/mint-id/mint/internal/store/internal/column"
)

// People: users, security groups and direct memberships. Object ids are folded with column.Key,
// as every id mint generates is lower case already and a pasted one may not be.

// Users

func (s *Store) CreateUser(ctx context.Context, u store.User) error {
	id, tenantKey := column.Key(u.ObjectID), column.Key(u.TenantID)
	err := s.inTx(ctx, func(tx Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO users (object_id, tenant_id, tenant_key, upn, upn_key, display_name,
			mail_nickname, account_enabled, password_hash, force_change, tokens_valid_after, created_at, display_key, mail_key)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)`,
			id, u.TenantID, tenantKey, u.UserPrincipalName, column.Key(u.UserPrincipalName), u.DisplayName,
			u.MailNickname, u.AccountEnabled, u.PasswordHash, u.ForceChangePasswordNextSignIn, u.TokensValidAfter, u.CreatedAt,
			column.DisplayKey(u.DisplayName), column.Key(u.MailNickname)); err != nil {
			return err
		}
		return putWords(ctx, tx, "users", id, tenantKey, u.DisplayName, false)
	})
	if err != nil {
		return fmt.Errorf("create user %s: %w", u.ObjectID, err)
	}
	return nil
}

const userColumns = `object_id, tenant_id, upn, display_name, mail_nickname, account_enabled, password_hash, force_change,
	tokens_valid_after, created_at`

func scanUser(row scanner) (store.User, error) {
	var u store.User
	err := row.Scan(&u.ObjectID, &u.TenantID, &u.UserPrincipalName, &u.DisplayName, &u.MailNickname, &u.AccountEnabled,
		&u.PasswordHash, &u.ForceChangePasswordNextSignIn, tm(&u.TokensValidAfter), tm(&u.CreatedAt))
	return u, err
}

func (s *Store) GetUser(ctx context.Context, objectID string) (store.User, error) {
	u, err := get(ctx, s, scanUser, `SELECT `+userColumns+` FROM users WHERE object_id = $1`, column.Key(objectID))
	if err != nil {
		return store.User{}, fmt.Errorf("get user %s: %w", objectID, err)
	}
	return u, nil
}

// GetUserForToken is GetUser narrowed to the columns a redemption uses: every refresh-token
// redemption makes this read (so that a password reset, a disable or a delete counts at once
// on every server), and each column costs modernc's SQLite a type lookup, a conversion and often
// an allocation; the password hash is the widest and is never needed there.
func (s *Store) GetUserForToken(ctx context.Context, objectID string) (store.User, error) {
	u, err := get(ctx, s, func(row scanner) (store.User, error) {
		u := store.User{ObjectID: column.Key(objectID)}
		err := row.Scan(&u.TenantID, &u.UserPrincipalName, &u.DisplayName, &u.AccountEnabled, tm(&u.TokensValidAfter))
		return u, err
	}, `SELECT tenant_id, upn, display_name, account_enabled, tokens_valid_after FROM users WHERE object_id = $1`, column.Key(objectID))
	if err != nil {
		return store.User{}, fmt.Errorf("get user %s: %w", objectID, err)
	}
	return u, nil
}

func (s *Store) GetUserByPrincipalName(ctx context.Context, tenantID, upn string) (store.User, error) {
	u, err := get(ctx, s, scanUser, `SELECT `+userColumns+` FROM users WHERE tenant_key = $1 AND upn_key = $2`,
		column.Key(tenantID), column.Key(upn))
	if err != nil {
		return store.User{}, fmt.Errorf("get user %s: %w", upn, err)
	}
	return u, nil
}

func (s *Store) ListUsers(ctx context.Context, tenantID string) ([]store.User, error) {
	us, err := list(ctx, s, scanUser, `SELECT `+userColumns+` FROM users WHERE tenant_key = $1 ORDER BY created_at, object_id`, column.Key(tenantID))
	if err != nil {
		return nil, fmt.Errorf("list users of tenant %s: %w", tenantID, err)
	}
	return us, nil
}

func (s *Store) ListUsersPage(ctx context.Context, f store.PeopleFilter) ([]store.User, error) {
	q, args, err := PeoplePageQuery("users", userColumns, f)
	if err != nil {
		return nil, fmt.Errorf("list users of tenant %s: %w", f.TenantID, err)
	}
	us, err := list(ctx, s, scanUser, q, args...)
	if err != nil {
		return nil, fmt.Errorf("list users of tenant %s: %w", f.TenantID, err)
	}
	return us, nil
}

// PeoplePageQuery is ListUsersPage's (table users) and ListGroupsPage's (table groups) SQL and
// arguments (exported for the SQLite store's test of its query plan): a user principal name by
// its unique key, a display name by the table's display-key index, a mail nickname by its
// mail-key index, a $search by the ids searchSet selects, the rest of the tenant by its
// creation-order index, each read in (created_at, object_id) order up to the LIMIT.
func PeoplePageQuery(table, columns string, f store.PeopleFilter) (string, []any, error) {
	var w where
	w.add(`tenant_key = ` + w.p(column.Key(f.TenantID)))
	if f.After != "" {
		at, id, err := store.ParseObjectCursor(f.After)
		if err != nil {
			return "", nil, err
		}
		// As ListResourcesQuery: the row-value comparison (created_at, object_id) > ($n, $m).
		t := w.p(at)
		w.add(`created_at >= ` + t + ` AND (created_at > ` + t + ` OR object_id > ` + w.p(id) + `)`)
	}
	if f.UserPrincipalName != "" {
		if table != "users" {
			return "", nil, fmt.Errorf("%s have no user principal name", table)
		}
		w.add(`upn_key = ` + w.p(column.Key(f.UserPrincipalName)))
	}
	if f.DisplayName != "" {
		w.add(`display_key = ` + w.p(column.DisplayKey(f.DisplayName)))
	}
	if f.DisplayNamePrefix != "" {
		lo, hi := column.PrefixRange(column.DisplayKey(f.DisplayNamePrefix))
		w.add(`display_key >= ` + w.p(lo) + ` AND display_key < ` + w.p(hi))
	}
	if f.MailNickname != "" {
		w.add(`mail_key = ` + w.p(column.Key(f.MailNickname)))
	}
	from := ` FROM ` + table
	if f.Search != nil {
		// The ids the search selects drive the query (CROSS JOIN keeps them the outer loop in
		// SQLite), read by key, and only they are sorted into list order.
		set, err := searchSet(f.Search, table, &w)
		if err != nil {
			return "", nil, err
		}
		from = ` FROM (` + set + `) k CROSS JOIN ` + table
		w.add(table + `.object_id = k.id`)
	}
	q := `SELECT ` + columns + from + w.sql() + ` ORDER BY created_at, object_id`
	if f.Limit > 0 {
		q += ` LIMIT ` + w.p(f.Limit)
	}
	return q, w.args, nil
}

func (s *Store) UpdateUser(ctx context.Context, u store.User) error {
	id := column.Key(u.ObjectID)
	err := s.inTx(ctx, func(tx Tx) error {
		var tenantKey string
		if err := tx.QueryRow(ctx, `UPDATE users SET upn = $1, upn_key = $2, display_name = $3, mail_nickname = $4,
			account_enabled = $5, password_hash = $6, force_change = $7, tokens_valid_after = $8, display_key = $10, mail_key = $11
			WHERE object_id = $9 RETURNING tenant_key`,
			u.UserPrincipalName, column.Key(u.UserPrincipalName), u.DisplayName, u.MailNickname, u.AccountEnabled, u.PasswordHash,
			u.ForceChangePasswordNextSignIn, u.TokensValidAfter, id, column.DisplayKey(u.DisplayName),
			column.Key(u.MailNickname)).Scan(&tenantKey); err != nil {
			return err
		}
		return putWords(ctx, tx, "users", id, tenantKey, u.DisplayName, true)
	})
	if err != nil {
		return fmt.Errorf("update user %s: %w", u.ObjectID, err)
	}
	return nil
}

// deleteWithMemberships deletes the row of table (users or groups) with the object id, and the
// memberships it holds as a member, in one transaction.
func (s *Store) deleteWithMemberships(ctx context.Context, table, objectID string) error {
	id := column.Key(objectID)
	return s.inTx(ctx, func(tx Tx) error {
		if err := affected(tx.Exec(ctx, `DELETE FROM `+table+` WHERE object_id = $1`, id)); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `DELETE FROM group_members WHERE member_id = $1`, id)
		return err
	})
}

func (s *Store) DeleteUser(ctx context.Context, objectID string) error {
	if err := s.deleteWithMemberships(ctx, "users", objectID); err != nil {
		return fmt.Errorf("delete user %s: %w", objectID, err)
	}
	return nil
}

// Groups

func (s *Store) CreateGroup(ctx context.Context, g store.Group) error {
	id, tenantKey := column.Key(g.ObjectID), column.Key(g.TenantID)
	err := s.inTx(ctx, func(tx Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO groups (object_id, tenant_id, tenant_key, display_name, mail_nickname,
			description, security_enabled, mail_enabled, created_at, display_key, mail_key)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
			id, g.TenantID, tenantKey, g.DisplayName, g.MailNickname, g.Description,
			g.SecurityEnabled, g.MailEnabled, g.CreatedAt, column.DisplayKey(g.DisplayName), column.Key(g.MailNickname)); err != nil {
			return err
		}
		return putWords(ctx, tx, "groups", id, tenantKey, g.DisplayName, false)
	})
	if err != nil {
		return fmt.Errorf("create group %s: %w", g.ObjectID, err)
	}
	return nil
}

const groupColumns = `object_id, tenant_id, display_name, mail_nickname, description, security_enabled, mail_enabled, created_at`

func scanGroup(row scanner) (store.Group, error) {
	var g store.Group
	err := row.Scan(&g.ObjectID, &g.TenantID, &g.DisplayName, &g.MailNickname, &g.Description, &g.SecurityEnabled, &g.MailEnabled, tm(&g.CreatedAt))
	return g, err
}

func (s *Store) GetGroup(ctx context.Context, objectID string) (store.Group, error) {
	g, err := get(ctx, s, scanGroup, `SELECT `+groupColumns+` FROM groups WHERE object_id = $1`, column.Key(objectID))
	if err != nil {
		return store.Group{}, fmt.Errorf("get group %s: %w", objectID, err)
	}
	return g, nil
}

func (s *Store) ListGroups(ctx context.Context, tenantID string) ([]store.Group, error) {
	gs, err := list(ctx, s, scanGroup, `SELECT `+groupColumns+` FROM groups WHERE tenant_key = $1 ORDER BY created_at, object_id`, column.Key(tenantID))
	if err != nil {
		return nil, fmt.Errorf("list groups of tenant %s: %w", tenantID, err)
	}
	return gs, nil
}

func (s *Store) ListGroupsPage(ctx context.Context, f store.PeopleFilter) ([]store.Group, error) {
	q, args, err := PeoplePageQuery("groups", groupColumns, f)
	if err != nil {
		return nil, fmt.Errorf("list groups of tenant %s: %w", f.TenantID, err)
	}
	gs, err := list(ctx, s, scanGroup, q, args...)
	if err != nil {
		return nil, fmt.Errorf("list groups of tenant %s: %w", f.TenantID, err)
	}
	return gs, nil
}

func (s *Store) UpdateGroup(ctx context.Context, g store.Group) error {
	id := column.Key(g.ObjectID)
	err := s.inTx(ctx, func(tx Tx) error {
		var tenantKey string
		if err := tx.QueryRow(ctx, `UPDATE groups SET display_name = $1, mail_nickname = $2, description = $3, display_key = $5,
			mail_key = $6 WHERE object_id = $4 RETURNING tenant_key`,
			g.DisplayName, g.MailNickname, g.Description, id, column.DisplayKey(g.DisplayName), column.Key(g.MailNickname)).Scan(&tenantKey); err != nil {
			return err
		}
		return putWords(ctx, tx, "groups", id, tenantKey, g.DisplayName, true)
	})
	if err != nil {
		return fmt.Errorf("update group %s: %w", g.ObjectID, err)
	}
	return nil
}

// DeleteGroup deletes the group and its memberships; the applications below it (its nodes, if
// it held the broker role somewhere) are named in the revocation feed.
func (s *Store) DeleteGroup(ctx context.Context, objectID string) error {
	id := column.Key(objectID)
	err := s.inTx(ctx, func(tx Tx) error {
		// Locked first, so that two deletes of one group queue here rather than deadlock
		// upgrading the walk's share lock.
		if err := s.lockGroupRow(ctx, tx, id, "UPDATE"); err != nil {
			return err
		}
		apps, err := s.applicationsBelow(ctx, tx, []string{id})
		if err != nil {
			return fmt.Errorf("applications below: %w", err)
		}
		if err := affected(tx.Exec(ctx, `DELETE FROM groups WHERE object_id = $1`, id)); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM group_members WHERE member_id = $1`, id); err != nil {
			return err
		}
		return recordRevocations(ctx, tx, principalRevocations(apps))
	})
	if err != nil {
		return fmt.Errorf("delete group %s: %w", objectID, err)
	}
	return nil
}

// lockGroupRow takes a row lock on a group (PostgreSQL; SQLite has one writer at a time):
// ErrNotFound if it does not exist.
func (s *Store) lockGroupRow(ctx context.Context, tx Tx, id, mode string) error {
	if !s.d.RowLocks {
		return nil
	}
	var found string
	return tx.QueryRow(ctx, `SELECT object_id FROM groups WHERE object_id = $1`+s.lock(mode), id).Scan(&found)
}

func (s *Store) AddGroupMember(ctx context.Context, m store.GroupMember) error {
	err := s.inTx(ctx, func(tx Tx) error {
		// Waits for a revocation walk that is reading this group's members (applicationsBelow).
		if err := s.lockGroupRow(ctx, tx, column.Key(m.GroupID), "NO KEY UPDATE"); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `INSERT INTO group_members (group_id, member_id, member_type, created_at) VALUES ($1, $2, $3, $4)`,
			column.Key(m.GroupID), column.Key(m.MemberID), string(m.MemberType), m.CreatedAt)
		return err
	})
	if err != nil {
		return fmt.Errorf("add %s to group %s: %w", m.MemberID, m.GroupID, err)
	}
	return nil
}

// RemoveGroupMember removes a direct membership; the member, if an application, and the
// applications below it, if a group, are named in the revocation feed: a node among them may have
// held the broker role through the group.
func (s *Store) RemoveGroupMember(ctx context.Context, groupID, memberID string) error {
	err := s.inTx(ctx, func(tx Tx) error {
		if err := affected(tx.Exec(ctx, `DELETE FROM group_members WHERE group_id = $1 AND member_id = $2`, column.Key(groupID), column.Key(memberID))); err != nil {
			return err
		}
		apps, err := s.applicationsBelow(ctx, tx, []string{memberID})
		if err != nil {
			return fmt.Errorf("applications below %s: %w", memberID, err)
		}
		return recordRevocations(ctx, tx, principalRevocations(apps))
	})
	if err != nil {
		return fmt.Errorf("remove %s from group %s: %w", memberID, groupID, err)
	}
	return nil
}

func scanMember(row scanner) (store.GroupMember, error) {
	var m store.GroupMember
	var typ string
	err := row.Scan(&m.GroupID, &m.MemberID, &typ, tm(&m.CreatedAt))
	m.MemberType = store.MemberType(typ)
	return m, err
}

func (s *Store) ListGroupMembers(ctx context.Context, groupID string) ([]store.GroupMember, error) {
	ms, err := list(ctx, s, scanMember, `SELECT group_id, member_id, member_type, created_at
		FROM group_members WHERE group_id = $1 ORDER BY seq`, column.Key(groupID))
	if err != nil {
		return nil, fmt.Errorf("list members of group %s: %w", groupID, err)
	}
	return ms, nil
}

func (s *Store) ListMemberOfAny(ctx context.Context, memberIDs []string) ([]store.GroupMember, error) {
	if len(memberIDs) == 0 {
		return nil, nil
	}
	if len(memberIDs) > store.MaxBatchIDs {
		return nil, fmt.Errorf("list groups of %d members: more than %d", len(memberIDs), store.MaxBatchIDs)
	}
	var w where
	keys := make([]string, len(memberIDs))
	for i, id := range memberIDs {
		keys[i] = column.Key(id)
	}
	w.add(`member_id IN ` + w.in(keys))
	ms, err := list(ctx, s, scanMember, `SELECT group_id, member_id, member_type, created_at FROM group_members`+w.sql()+
		` ORDER BY member_id, seq`, w.args...)
	if err != nil {
		return nil, fmt.Errorf("list groups of %d members: %w", len(memberIDs), err)
	}
	return ms, nil
}

func (s *Store) ListMemberOf(ctx context.Context, memberID string) ([]store.GroupMember, error) {
	ms, err := list(ctx, s, scanMember, `SELECT group_id, member_id, member_type, created_at
		FROM group_members WHERE member_id = $1 ORDER BY seq`, column.Key(memberID))
	if err != nil {
		return nil, fmt.Errorf("list groups of %s: %w", memberID, err)
	}
	return ms, nil
}
