-- The ARM control plane: resource groups, resources, custom role definitions, role assignments
-- and the activity log. As in 0001: *_key columns hold lower-cased ids and are COLLATE "C", lists
-- and tag maps are JSON text. ARM ids and scopes are keyed without a trailing slash, so "below x"
-- is the byte range [x || '/', x || '0') of the "C"-collated key, which a btree index serves.

CREATE TABLE resource_groups (
    subscription_key text COLLATE "C" NOT NULL,
    name_key         text COLLATE "C" NOT NULL,
    subscription_id  text NOT NULL,
    name             text NOT NULL, -- as created
    location         text NOT NULL,
    tags             text NOT NULL,
    managed_by       text NOT NULL,
    created_at       timestamptz NOT NULL,
    PRIMARY KEY (subscription_key, name_key)
);
CREATE INDEX resource_groups_by_creation ON resource_groups (subscription_key, created_at, name_key);

-- A resource cannot outlive its group: the foreign key turns a write racing the group's deletion
-- into ErrNotFound (DeleteResourceGroup locks the group row first).
CREATE TABLE resources (
    id_key                   text COLLATE "C" PRIMARY KEY,
    id                       text NOT NULL,
    subscription_id          text NOT NULL,
    subscription_key         text COLLATE "C" NOT NULL,
    resource_group           text NOT NULL,
    resource_group_key       text COLLATE "C" NOT NULL,
    type                     text NOT NULL,
    type_key                 text COLLATE "C" NOT NULL,
    name                     text NOT NULL,
    location                 text NOT NULL,
    tags                     text NOT NULL,
    properties               bytea,
    principal_id             text COLLATE "C" NOT NULL, -- '' when the resource owns no principal
    user_assigned_identities text NOT NULL,
    created_at               timestamptz NOT NULL,
    updated_at               timestamptz NOT NULL,
    FOREIGN KEY (subscription_key, resource_group_key) REFERENCES resource_groups (subscription_key, name_key)
);
CREATE INDEX resources_by_group ON resources (subscription_key, resource_group_key, created_at, id_key);
CREATE INDEX resources_by_type ON resources (type_key, created_at, id_key);
CREATE INDEX resources_by_creation ON resources (created_at, id_key);

-- One row per user-assigned identity attached to a resource, mirroring
-- resources.user_assigned_identities, to find the resources an identity is attached to.
CREATE TABLE resource_identities (
    resource_key text COLLATE "C" NOT NULL REFERENCES resources (id_key) ON DELETE CASCADE,
    identity_key text COLLATE "C" NOT NULL,
    PRIMARY KEY (resource_key, identity_key)
);
CREATE INDEX resource_identities_by_identity ON resource_identities (identity_key);

CREATE TABLE role_definitions (
    id_key            text COLLATE "C" PRIMARY KEY,
    id                text NOT NULL,
    scope             text NOT NULL,
    role_name         text NOT NULL,
    role_name_key     text COLLATE "C" NOT NULL UNIQUE,
    description       text NOT NULL,
    assignable_scopes text NOT NULL,
    permissions       bytea,
    created_at        timestamptz NOT NULL,
    updated_at        timestamptz NOT NULL,
    created_by        text NOT NULL,
    updated_by        text NOT NULL
);
CREATE INDEX role_definitions_by_creation ON role_definitions (created_at, id_key);

-- role_key is the role definition's GUID, whether role_definition_id is the GUID or a full id.
-- The unique key also serves "scope at, above or below".
CREATE TABLE role_assignments (
    id_key             text COLLATE "C" PRIMARY KEY,
    id                 text NOT NULL,
    scope              text NOT NULL,
    scope_key          text COLLATE "C" NOT NULL,
    role_definition_id text NOT NULL,
    role_key           text COLLATE "C" NOT NULL,
    principal_id       text NOT NULL,
    principal_key      text COLLATE "C" NOT NULL,
    principal_type     text NOT NULL,
    description        text NOT NULL,
    condition          text NOT NULL,
    condition_version  text NOT NULL,
    created_at         timestamptz NOT NULL,
    updated_at         timestamptz NOT NULL,
    created_by         text NOT NULL,
    updated_by         text NOT NULL,
    UNIQUE (scope_key, principal_key, role_key)
);
CREATE INDEX role_assignments_by_principal ON role_assignments (principal_key, created_at, id_key);
CREATE INDEX role_assignments_by_creation ON role_assignments (created_at, id_key);

CREATE TABLE activity (
    id                 text COLLATE "C" PRIMARY KEY,
    operation_id       text NOT NULL,
    correlation_id     text NOT NULL,
    at                 timestamptz NOT NULL,
    subscription_id    text NOT NULL,
    subscription_key   text COLLATE "C" NOT NULL,
    resource_group     text NOT NULL,
    resource_group_key text COLLATE "C" NOT NULL,
    resource_id        text NOT NULL,
    resource_key       text COLLATE "C" NOT NULL,
    resource_type      text NOT NULL,
    operation_name     text NOT NULL,
    status             text NOT NULL,
    sub_status         text NOT NULL,
    http_status        integer NOT NULL,
    caller             text NOT NULL,
    caller_key         text COLLATE "C" NOT NULL,
    caller_app_id      text NOT NULL,
    http_method        text NOT NULL,
    message            text NOT NULL
);
CREATE INDEX activity_by_time ON activity (at DESC, id);
CREATE INDEX activity_by_subscription ON activity (subscription_key, at DESC, id);
CREATE INDEX activity_by_resource ON activity (resource_key);
CREATE INDEX activity_by_caller ON activity (caller_key, at DESC, id);
