package sqlite

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/mint-id/mint/internal/store"
	"github.com/mint-id/mint/internal/store/internal/column"
)

// Users

func (s *Store) CreateUser(ctx context.Context, u store.User) error {
	_, err := s.write.ExecContext(ctx, `INSERT INTO users (object_id, tenant_id, tenant_key, upn, upn_key, display_name,
		mail_nickname, account_enabled, password_hash, force_change, tokens_valid_after, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		column.Key(u.ObjectID), u.TenantID, column.Key(u.TenantID), u.UserPrincipalName, column.Key(u.UserPrincipalName), u.DisplayName,
		u.MailNickname, boolInt(u.AccountEnabled), u.PasswordHash, boolInt(u.ForceChangePasswordNextSignIn),
		column.Micros(u.TokensValidAfter), column.Micros(u.CreatedAt))
	if err != nil {
		return fmt.Errorf("create user %s: %w", u.ObjectID, dbErr(ctx, err))
	}
	return nil
}

const userColumns = `object_id, tenant_id, upn, display_name, mail_nickname, account_enabled, password_hash, force_change,
	tokens_valid_after, created_at`

func scanUser(row scanner) (store.User, error) {
	var u store.User
	var enabled, force int
	var validAfter, createdAt int64
	if err := row.Scan(&u.ObjectID, &u.TenantID, &u.UserPrincipalName, &u.DisplayName, &u.MailNickname, &enabled, &u.PasswordHash,
		&force, &validAfter, &createdAt); err != nil {
		return store.User{}, err
	}
	u.AccountEnabled, u.ForceChangePasswordNextSignIn = enabled != 0, force != 0
	u.TokensValidAfter, u.CreatedAt = column.FromMicros(validAfter), column.FromMicros(createdAt)
	return u, nil
}

func (s *Store) GetUser(ctx context.Context, objectID string) (store.User, error) {
	u, err := scanUser(s.queryRow(ctx, `SELECT `+userColumns+` FROM users WHERE object_id = ?`, column.Key(objectID)))
	if err != nil {
		return store.User{}, fmt.Errorf("get user %s: %w", objectID, dbErr(ctx, err))
	}
	return u, nil
}

func (s *Store) GetUserByPrincipalName(ctx context.Context, tenantID, upn string) (store.User, error) {
	u, err := scanUser(s.queryRow(ctx, `SELECT `+userColumns+` FROM users WHERE tenant_key = ? AND upn_key = ?`,
		column.Key(tenantID), column.Key(upn)))
	if err != nil {
		return store.User{}, fmt.Errorf("get user %s: %w", upn, dbErr(ctx, err))
	}
	return u, nil
}

func (s *Store) ListUsers(ctx context.Context, tenantID string) ([]store.User, error) {
	rows, err := s.query(ctx, `SELECT `+userColumns+` FROM users WHERE tenant_key = ? ORDER BY created_at, object_id`, column.Key(tenantID))
	if err != nil {
		return nil, fmt.Errorf("list users of tenant %s: %w", tenantID, dbErr(ctx, err))
	}
	defer rows.Close()
	var us []store.User
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, fmt.Errorf("list users of tenant %s: %w", tenantID, dbErr(ctx, err))
		}
		us = append(us, u)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list users of tenant %s: %w", tenantID, dbErr(ctx, err))
	}
	return us, nil
}

func (s *Store) UpdateUser(ctx context.Context, u store.User) error {
	res, err := s.write.ExecContext(ctx, `UPDATE users SET upn = ?, upn_key = ?, display_name = ?, mail_nickname = ?,
		account_enabled = ?, password_hash = ?, force_change = ?, tokens_valid_after = ? WHERE object_id = ?`,
		u.UserPrincipalName, column.Key(u.UserPrincipalName), u.DisplayName, u.MailNickname, boolInt(u.AccountEnabled), u.PasswordHash,
		boolInt(u.ForceChangePasswordNextSignIn), column.Micros(u.TokensValidAfter), column.Key(u.ObjectID))
	if err == nil {
		err = mustAffect(res)
	}
	if err != nil {
		return fmt.Errorf("update user %s: %w", u.ObjectID, dbErr(ctx, err))
	}
	return nil
}

func (s *Store) DeleteUser(ctx context.Context, objectID string) error {
	id := column.Key(objectID)
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM users WHERE object_id = ?`, id)
		if err == nil {
			err = mustAffect(res)
		}
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `DELETE FROM group_members WHERE member_id = ?`, id)
		return err
	})
	if err != nil {
		return fmt.Errorf("delete user %s: %w", objectID, err)
	}
	return nil
}

// Groups

func (s *Store) CreateGroup(ctx context.Context, g store.Group) error {
	_, err := s.write.ExecContext(ctx, `INSERT INTO groups (object_id, tenant_id, tenant_key, display_name, mail_nickname,
		description, security_enabled, mail_enabled, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		column.Key(g.ObjectID), g.TenantID, column.Key(g.TenantID), g.DisplayName, g.MailNickname, g.Description,
		boolInt(g.SecurityEnabled), boolInt(g.MailEnabled), column.Micros(g.CreatedAt))
	if err != nil {
		return fmt.Errorf("create group %s: %w", g.ObjectID, dbErr(ctx, err))
	}
	return nil
}

const groupColumns = `object_id, tenant_id, display_name, mail_nickname, description, security_enabled, mail_enabled, created_at`

func scanGroup(row scanner) (store.Group, error) {
	var g store.Group
	var security, mail int
	var createdAt int64
	if err := row.Scan(&g.ObjectID, &g.TenantID, &g.DisplayName, &g.MailNickname, &g.Description, &security, &mail, &createdAt); err != nil {
		return store.Group{}, err
	}
	g.SecurityEnabled, g.MailEnabled = security != 0, mail != 0
	g.CreatedAt = column.FromMicros(createdAt)
	return g, nil
}

func (s *Store) GetGroup(ctx context.Context, objectID string) (store.Group, error) {
	g, err := scanGroup(s.queryRow(ctx, `SELECT `+groupColumns+` FROM groups WHERE object_id = ?`, column.Key(objectID)))
	if err != nil {
		return store.Group{}, fmt.Errorf("get group %s: %w", objectID, dbErr(ctx, err))
	}
	return g, nil
}

func (s *Store) ListGroups(ctx context.Context, tenantID string) ([]store.Group, error) {
	rows, err := s.query(ctx, `SELECT `+groupColumns+` FROM groups WHERE tenant_key = ? ORDER BY created_at, object_id`, column.Key(tenantID))
	if err != nil {
		return nil, fmt.Errorf("list groups of tenant %s: %w", tenantID, dbErr(ctx, err))
	}
	defer rows.Close()
	var gs []store.Group
	for rows.Next() {
		g, err := scanGroup(rows)
		if err != nil {
			return nil, fmt.Errorf("list groups of tenant %s: %w", tenantID, dbErr(ctx, err))
		}
		gs = append(gs, g)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list groups of tenant %s: %w", tenantID, dbErr(ctx, err))
	}
	return gs, nil
}

func (s *Store) UpdateGroup(ctx context.Context, g store.Group) error {
	res, err := s.write.ExecContext(ctx, `UPDATE groups SET display_name = ?, mail_nickname = ?, description = ? WHERE object_id = ?`,
		g.DisplayName, g.MailNickname, g.Description, column.Key(g.ObjectID))
	if err == nil {
		err = mustAffect(res)
	}
	if err != nil {
		return fmt.Errorf("update group %s: %w", g.ObjectID, dbErr(ctx, err))
	}
	return nil
}

func (s *Store) DeleteGroup(ctx context.Context, objectID string) error {
	id := column.Key(objectID)
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM groups WHERE object_id = ?`, id)
		if err == nil {
			err = mustAffect(res)
		}
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `DELETE FROM group_members WHERE member_id = ?`, id)
		return err
	})
	if err != nil {
		return fmt.Errorf("delete group %s: %w", objectID, err)
	}
	return nil
}

func (s *Store) AddGroupMember(ctx context.Context, m store.GroupMember) error {
	_, err := s.write.ExecContext(ctx, `INSERT INTO group_members (group_id, member_id, member_type, created_at) VALUES (?, ?, ?, ?)`,
		column.Key(m.GroupID), column.Key(m.MemberID), string(m.MemberType), column.Micros(m.CreatedAt))
	if err != nil {
		return fmt.Errorf("add %s to group %s: %w", m.MemberID, m.GroupID, dbErr(ctx, err))
	}
	return nil
}

func (s *Store) RemoveGroupMember(ctx context.Context, groupID, memberID string) error {
	res, err := s.write.ExecContext(ctx, `DELETE FROM group_members WHERE group_id = ? AND member_id = ?`, column.Key(groupID), column.Key(memberID))
	if err == nil {
		err = mustAffect(res)
	}
	if err != nil {
		return fmt.Errorf("remove %s from group %s: %w", memberID, groupID, dbErr(ctx, err))
	}
	return nil
}

func (s *Store) listMembers(ctx context.Context, what, query, id string) ([]store.GroupMember, error) {
	rows, err := s.query(ctx, query, column.Key(id))
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", what, id, dbErr(ctx, err))
	}
	defer rows.Close()
	var ms []store.GroupMember
	for rows.Next() {
		var m store.GroupMember
		var typ string
		var createdAt int64
		if err := rows.Scan(&m.GroupID, &m.MemberID, &typ, &createdAt); err != nil {
			return nil, fmt.Errorf("%s %s: %w", what, id, dbErr(ctx, err))
		}
		m.MemberType, m.CreatedAt = store.MemberType(typ), column.FromMicros(createdAt)
		ms = append(ms, m)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("%s %s: %w", what, id, dbErr(ctx, err))
	}
	return ms, nil
}

func (s *Store) ListGroupMembers(ctx context.Context, groupID string) ([]store.GroupMember, error) {
	return s.listMembers(ctx, "list members of group", `SELECT group_id, member_id, member_type, created_at
		FROM group_members WHERE group_id = ? ORDER BY seq`, groupID)
}

func (s *Store) ListMemberOf(ctx context.Context, memberID string) ([]store.GroupMember, error) {
	return s.listMembers(ctx, "list groups of", `SELECT group_id, member_id, member_type, created_at
		FROM group_members WHERE member_id = ? ORDER BY seq`, memberID)
}
