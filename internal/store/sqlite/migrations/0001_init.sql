-- Times are INTEGER microseconds since the Unix epoch (UTC). Lists are JSON text. Columns named
-- *_key hold the lower-cased form of an id compared case-insensitively; the original spelling is
-- kept beside it and returned.

CREATE TABLE tenants (
    id_key         TEXT NOT NULL PRIMARY KEY,
    id             TEXT NOT NULL,
    display_name   TEXT NOT NULL,
    default_domain TEXT NOT NULL,
    domain_key     TEXT UNIQUE, -- NULL when the tenant has no default domain
    created_at     INTEGER NOT NULL
) STRICT;

CREATE TABLE subscriptions (
    id_key       TEXT NOT NULL PRIMARY KEY,
    id           TEXT NOT NULL,
    tenant_id    TEXT NOT NULL,
    tenant_key   TEXT NOT NULL,
    display_name TEXT NOT NULL,
    state        TEXT NOT NULL,
    created_at   INTEGER NOT NULL
) STRICT;
CREATE INDEX subscriptions_by_tenant ON subscriptions (tenant_key, created_at, id_key);

CREATE TABLE principals (
    object_id            TEXT NOT NULL PRIMARY KEY,
    tenant_id            TEXT NOT NULL,
    tenant_key           TEXT NOT NULL,
    app_id               TEXT NOT NULL,
    app_key              TEXT NOT NULL,
    kind                 TEXT NOT NULL,
    display_name         TEXT NOT NULL,
    identifier_uris      TEXT NOT NULL,
    access_token_version INTEGER NOT NULL,
    app_roles            TEXT NOT NULL,
    alternative_names    TEXT NOT NULL,
    builtin              INTEGER NOT NULL,
    created_at           INTEGER NOT NULL,
    UNIQUE (tenant_key, app_key)
) STRICT;
CREATE INDEX principals_by_tenant ON principals (tenant_key, created_at, object_id);

-- One row per identifier URI, so that the primary key makes URIs unique in a tenant.
CREATE TABLE identifier_uris (
    tenant_key   TEXT NOT NULL,
    uri_key      TEXT NOT NULL,
    principal_id TEXT NOT NULL REFERENCES principals (object_id) ON DELETE CASCADE,
    PRIMARY KEY (tenant_key, uri_key)
) STRICT;
CREATE INDEX identifier_uris_by_principal ON identifier_uris (principal_id);

CREATE TABLE credentials (
    seq          INTEGER PRIMARY KEY, -- insertion order, the tie-break for equal start times
    key_id       TEXT NOT NULL UNIQUE,
    principal_id TEXT NOT NULL REFERENCES principals (object_id) ON DELETE CASCADE,
    type         TEXT NOT NULL,
    display_name TEXT NOT NULL,
    hint         TEXT NOT NULL,
    secret_hash  BLOB,
    certificate  BLOB,
    thumbprint   TEXT NOT NULL,
    starts_at    INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL
) STRICT;
CREATE INDEX credentials_by_principal ON credentials (principal_id, starts_at, seq);

CREATE TABLE app_role_assignments (
    id           TEXT NOT NULL PRIMARY KEY,
    principal_id TEXT NOT NULL REFERENCES principals (object_id) ON DELETE CASCADE,
    resource_id  TEXT NOT NULL REFERENCES principals (object_id) ON DELETE CASCADE,
    app_role_id  TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    UNIQUE (principal_id, resource_id, app_role_id)
) STRICT;
CREATE INDEX app_role_assignments_by_resource ON app_role_assignments (resource_id);

CREATE TABLE signing_keys (
    kid         TEXT NOT NULL PRIMARY KEY,
    created_at  INTEGER NOT NULL,
    activate_at INTEGER NOT NULL,
    sealed_key  BLOB,
    certificate BLOB
) STRICT;

CREATE TABLE sign_ins (
    id             TEXT NOT NULL PRIMARY KEY,
    at             INTEGER NOT NULL,
    tenant_id      TEXT NOT NULL,
    tenant_key     TEXT NOT NULL,
    principal_id   TEXT NOT NULL,
    app_id         TEXT NOT NULL,
    app_key        TEXT NOT NULL,
    resource       TEXT NOT NULL,
    grant_type     TEXT NOT NULL,
    result         TEXT NOT NULL,
    error_code     TEXT NOT NULL,
    reason         TEXT NOT NULL,
    correlation_id TEXT NOT NULL,
    token_id       TEXT NOT NULL,
    resource_id    TEXT NOT NULL
) STRICT;
CREATE INDEX sign_ins_by_time ON sign_ins (at DESC, id);
CREATE INDEX sign_ins_by_tenant ON sign_ins (tenant_key, at DESC);
CREATE INDEX sign_ins_by_principal ON sign_ins (principal_id, at DESC);
CREATE INDEX sign_ins_by_app ON sign_ins (app_key, at DESC);

CREATE TABLE assertions (
    key        TEXT NOT NULL PRIMARY KEY,
    expires_at INTEGER NOT NULL
) STRICT;
CREATE INDEX assertions_by_expiry ON assertions (expires_at);

CREATE TABLE settings (
    key   TEXT NOT NULL PRIMARY KEY,
    value TEXT NOT NULL
) STRICT;
