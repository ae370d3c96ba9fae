-- The ARM control plane: resource groups, resources, custom role definitions, role assignments
-- and the activity log. As in 0001: times are INTEGER microseconds (UTC), lists and tag maps are
-- JSON text, *_key columns hold lower-cased ids. ARM ids and scopes are keyed without a trailing
-- slash, so "below x" is the byte range [x || '/', x || '0') of the BINARY-collated key.

CREATE TABLE resource_groups (
    subscription_key TEXT NOT NULL,
    name_key         TEXT NOT NULL,
    subscription_id  TEXT NOT NULL,
    name             TEXT NOT NULL, -- as created
    location         TEXT NOT NULL,
    tags             TEXT NOT NULL,
    managed_by       TEXT NOT NULL,
    created_at       INTEGER NOT NULL,
    PRIMARY KEY (subscription_key, name_key)
) STRICT;
CREATE INDEX resource_groups_by_creation ON resource_groups (subscription_key, created_at, name_key);

-- A resource cannot outlive its group: the foreign key turns a write racing the group's deletion
-- into ErrNotFound.
CREATE TABLE resources (
    id_key                   TEXT NOT NULL PRIMARY KEY,
    id                       TEXT NOT NULL,
    subscription_id          TEXT NOT NULL,
    subscription_key         TEXT NOT NULL,
    resource_group           TEXT NOT NULL,
    resource_group_key       TEXT NOT NULL,
    type                     TEXT NOT NULL,
    type_key                 TEXT NOT NULL,
    name                     TEXT NOT NULL,
    location                 TEXT NOT NULL,
    tags                     TEXT NOT NULL,
    properties               BLOB,
    principal_id             TEXT NOT NULL, -- '' when the resource owns no principal
    user_assigned_identities TEXT NOT NULL,
    created_at               INTEGER NOT NULL,
    updated_at               INTEGER NOT NULL,
    FOREIGN KEY (subscription_key, resource_group_key) REFERENCES resource_groups (subscription_key, name_key)
) STRICT;
CREATE INDEX resources_by_group ON resources (subscription_key, resource_group_key, created_at, id_key);
CREATE INDEX resources_by_type ON resources (type_key, created_at, id_key);
CREATE INDEX resources_by_creation ON resources (created_at, id_key);

-- One row per user-assigned identity attached to a resource, mirroring
-- resources.user_assigned_identities, to find the resources an identity is attached to.
CREATE TABLE resource_identities (
    resource_key TEXT NOT NULL REFERENCES resources (id_key) ON DELETE CASCADE,
    identity_key TEXT NOT NULL,
    PRIMARY KEY (resource_key, identity_key)
) STRICT;
CREATE INDEX resource_identities_by_identity ON resource_identities (identity_key);

CREATE TABLE role_definitions (
    id_key            TEXT NOT NULL PRIMARY KEY,
    id                TEXT NOT NULL,
    scope             TEXT NOT NULL,
    role_name         TEXT NOT NULL,
    role_name_key     TEXT NOT NULL UNIQUE,
    description       TEXT NOT NULL,
    assignable_scopes TEXT NOT NULL,
    permissions       BLOB,
    created_at        INTEGER NOT NULL,
    updated_at        INTEGER NOT NULL,
    created_by        TEXT NOT NULL,
    updated_by        TEXT NOT NULL
) STRICT;
CREATE INDEX role_definitions_by_creation ON role_definitions (created_at, id_key);

-- role_key is the role definition's GUID, whether role_definition_id is the GUID or a full id.
-- The unique key also serves "scope at, above or below".
CREATE TABLE role_assignments (
    id_key             TEXT NOT NULL PRIMARY KEY,
    id                 TEXT NOT NULL,
    scope              TEXT NOT NULL,
    scope_key          TEXT NOT NULL,
    role_definition_id TEXT NOT NULL,
    role_key           TEXT NOT NULL,
    principal_id       TEXT NOT NULL,
    principal_key      TEXT NOT NULL,
    principal_type     TEXT NOT NULL,
    description        TEXT NOT NULL,
    condition          TEXT NOT NULL,
    condition_version  TEXT NOT NULL,
    created_at         INTEGER NOT NULL,
    updated_at         INTEGER NOT NULL,
    created_by         TEXT NOT NULL,
    updated_by         TEXT NOT NULL,
    UNIQUE (scope_key, principal_key, role_key)
) STRICT;
CREATE INDEX role_assignments_by_principal ON role_assignments (principal_key, created_at, id_key);
CREATE INDEX role_assignments_by_creation ON role_assignments (created_at, id_key);

CREATE TABLE activity (
    id                 TEXT NOT NULL PRIMARY KEY,
    operation_id       TEXT NOT NULL,
    correlation_id     TEXT NOT NULL,
    at                 INTEGER NOT NULL,
    subscription_id    TEXT NOT NULL,
    subscription_key   TEXT NOT NULL,
    resource_group     TEXT NOT NULL,
    resource_group_key TEXT NOT NULL,
    resource_id        TEXT NOT NULL,
    resource_key       TEXT NOT NULL,
    resource_type      TEXT NOT NULL,
    operation_name     TEXT NOT NULL,
    status             TEXT NOT NULL,
    sub_status         TEXT NOT NULL,
    http_status        INTEGER NOT NULL,
    caller             TEXT NOT NULL,
    caller_key         TEXT NOT NULL,
    caller_app_id      TEXT NOT NULL,
    http_method        TEXT NOT NULL,
    message            TEXT NOT NULL
) STRICT;
CREATE INDEX activity_by_time ON activity (at DESC, id);
CREATE INDEX activity_by_subscription ON activity (subscription_key, at DESC, id);
CREATE INDEX activity_by_resource ON activity (resource_key);
CREATE INDEX activity_by_caller ON activity (caller_key, at DESC, id);
