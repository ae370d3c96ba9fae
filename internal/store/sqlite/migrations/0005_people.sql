-- People in the directory: users, security groups and direct group memberships. A user's
-- principal name is unique in its tenant case-insensitively (upn_key). A membership names a user,
-- a group or a service principal, so member_id has no foreign key: deleting a user or a group
-- removes its memberships in the same transaction, and deleting a service principal removes its
-- own through the trigger below. Times are INTEGER microseconds.

CREATE TABLE users (
    object_id          TEXT NOT NULL PRIMARY KEY,
    tenant_id          TEXT NOT NULL,
    tenant_key         TEXT NOT NULL,
    upn                TEXT NOT NULL,
    upn_key            TEXT NOT NULL,
    display_name       TEXT NOT NULL,
    mail_nickname      TEXT NOT NULL,
    account_enabled    INTEGER NOT NULL,
    password_hash      TEXT NOT NULL,
    force_change       INTEGER NOT NULL,
    tokens_valid_after INTEGER NOT NULL,
    created_at         INTEGER NOT NULL,
    UNIQUE (tenant_key, upn_key)
) STRICT;
CREATE INDEX users_by_tenant ON users (tenant_key, created_at, object_id);

CREATE TABLE groups (
    object_id        TEXT NOT NULL PRIMARY KEY,
    tenant_id        TEXT NOT NULL,
    tenant_key       TEXT NOT NULL,
    display_name     TEXT NOT NULL,
    mail_nickname    TEXT NOT NULL,
    description      TEXT NOT NULL,
    security_enabled INTEGER NOT NULL,
    mail_enabled     INTEGER NOT NULL,
    created_at       INTEGER NOT NULL
) STRICT;
CREATE INDEX groups_by_tenant ON groups (tenant_key, created_at, object_id);

CREATE TABLE group_members (
    seq         INTEGER PRIMARY KEY, -- order added
    group_id    TEXT NOT NULL REFERENCES groups (object_id) ON DELETE CASCADE,
    member_id   TEXT NOT NULL,
    member_type TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    UNIQUE (group_id, member_id)
) STRICT;
CREATE INDEX group_members_by_member ON group_members (member_id);

CREATE TRIGGER principals_leave_groups AFTER DELETE ON principals
BEGIN
    DELETE FROM group_members WHERE member_id = OLD.object_id;
END;
