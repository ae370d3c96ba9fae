-- People in the directory: users, security groups and direct group memberships. A user's
-- principal name is unique in its tenant case-insensitively (upn_key). A membership names a user,
-- a group or a service principal, so member_id has no foreign key: deleting a user or a group
-- removes its memberships in the same transaction, and deleting a service principal removes its
-- own through the trigger below.

CREATE TABLE users (
    object_id          text COLLATE "C" NOT NULL PRIMARY KEY,
    tenant_id          text NOT NULL,
    tenant_key         text COLLATE "C" NOT NULL,
    upn                text NOT NULL,
    upn_key            text COLLATE "C" NOT NULL,
    display_name       text NOT NULL,
    mail_nickname      text NOT NULL,
    account_enabled    boolean NOT NULL,
    password_hash      text NOT NULL,
    force_change       boolean NOT NULL,
    tokens_valid_after timestamptz NOT NULL,
    created_at         timestamptz NOT NULL,
    UNIQUE (tenant_key, upn_key)
);
CREATE INDEX users_by_tenant ON users (tenant_key, created_at, object_id);

CREATE TABLE groups (
    object_id        text COLLATE "C" NOT NULL PRIMARY KEY,
    tenant_id        text NOT NULL,
    tenant_key       text COLLATE "C" NOT NULL,
    display_name     text NOT NULL,
    mail_nickname    text NOT NULL,
    description      text NOT NULL,
    security_enabled boolean NOT NULL,
    mail_enabled     boolean NOT NULL,
    created_at       timestamptz NOT NULL
);
CREATE INDEX groups_by_tenant ON groups (tenant_key, created_at, object_id);

CREATE TABLE group_members (
    seq         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, -- order added
    group_id    text COLLATE "C" NOT NULL REFERENCES groups (object_id) ON DELETE CASCADE,
    member_id   text COLLATE "C" NOT NULL,
    member_type text NOT NULL,
    created_at  timestamptz NOT NULL,
    UNIQUE (group_id, member_id)
);
CREATE INDEX group_members_by_member ON group_members (member_id);

CREATE FUNCTION principals_leave_groups() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM group_members WHERE member_id = OLD.object_id;
    RETURN OLD;
END;
$$;
CREATE TRIGGER principals_leave_groups AFTER DELETE ON principals
    FOR EACH ROW EXECUTE FUNCTION principals_leave_groups();
