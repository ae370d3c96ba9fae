-- Columns named *_key hold the lower-cased form of an id compared case-insensitively; the
-- original spelling is kept beside it and returned. Lists are JSON text. Ids are COLLATE "C" so
-- that ties order byte-wise, as in SQLite and Go, whatever the database's locale.

CREATE TABLE tenants (
    id_key         text COLLATE "C" PRIMARY KEY,
    id             text NOT NULL,
    display_name   text NOT NULL,
    default_domain text NOT NULL,
    domain_key     text COLLATE "C" UNIQUE, -- NULL when the tenant has no default domain
    created_at     timestamptz NOT NULL
);

CREATE TABLE subscriptions (
    id_key       text COLLATE "C" PRIMARY KEY,
    id           text NOT NULL,
    tenant_id    text NOT NULL,
    tenant_key   text COLLATE "C" NOT NULL,
    display_name text NOT NULL,
    state        text NOT NULL,
    created_at   timestamptz NOT NULL
);
CREATE INDEX subscriptions_by_tenant ON subscriptions (tenant_key, created_at, id_key);

CREATE TABLE principals (
    object_id            text COLLATE "C" PRIMARY KEY,
    tenant_id            text NOT NULL,
    tenant_key           text COLLATE "C" NOT NULL,
    app_id               text NOT NULL,
    app_key              text COLLATE "C" NOT NULL,
    kind                 text NOT NULL,
    display_name         text NOT NULL,
    identifier_uris      text NOT NULL,
    access_token_version integer NOT NULL,
    app_roles            text NOT NULL,
    alternative_names    text NOT NULL,
    builtin              boolean NOT NULL,
    created_at           timestamptz NOT NULL,
    UNIQUE (tenant_key, app_key)
);
CREATE INDEX principals_by_tenant ON principals (tenant_key, created_at, object_id);

-- One row per identifier URI, so that the primary key makes URIs unique in a tenant.
CREATE TABLE identifier_uris (
    tenant_key   text COLLATE "C" NOT NULL,
    uri_key      text COLLATE "C" NOT NULL,
    principal_id text COLLATE "C" NOT NULL REFERENCES principals (object_id) ON DELETE CASCADE,
    PRIMARY KEY (tenant_key, uri_key)
);
CREATE INDEX identifier_uris_by_principal ON identifier_uris (principal_id);

CREATE TABLE credentials (
    seq          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, -- order added, the tie-break for equal start times
    key_id       text COLLATE "C" NOT NULL UNIQUE,
    principal_id text COLLATE "C" NOT NULL REFERENCES principals (object_id) ON DELETE CASCADE,
    type         text NOT NULL,
    display_name text NOT NULL,
    hint         text NOT NULL,
    secret_hash  bytea,
    certificate  bytea,
    thumbprint   text NOT NULL,
    starts_at    timestamptz NOT NULL,
    expires_at   timestamptz NOT NULL
);
CREATE INDEX credentials_by_principal ON credentials (principal_id, starts_at, seq);

CREATE TABLE app_role_assignments (
    id           text COLLATE "C" PRIMARY KEY,
    principal_id text COLLATE "C" NOT NULL REFERENCES principals (object_id) ON DELETE CASCADE,
    resource_id  text COLLATE "C" NOT NULL REFERENCES principals (object_id) ON DELETE CASCADE,
    app_role_id  text COLLATE "C" NOT NULL,
    created_at   timestamptz NOT NULL,
    UNIQUE (principal_id, resource_id, app_role_id)
);
CREATE INDEX app_role_assignments_by_resource ON app_role_assignments (resource_id);

CREATE TABLE signing_keys (
    kid         text COLLATE "C" PRIMARY KEY,
    created_at  timestamptz NOT NULL,
    activate_at timestamptz NOT NULL,
    sealed_key  bytea,
    certificate bytea
);

CREATE TABLE sign_ins (
    id             text COLLATE "C" PRIMARY KEY,
    at             timestamptz NOT NULL,
    tenant_id      text NOT NULL,
    tenant_key     text COLLATE "C" NOT NULL,
    principal_id   text COLLATE "C" NOT NULL,
    app_id         text NOT NULL,
    app_key        text COLLATE "C" NOT NULL,
    resource       text NOT NULL,
    grant_type     text NOT NULL,
    result         text NOT NULL,
    error_code     text NOT NULL,
    reason         text NOT NULL,
    correlation_id text NOT NULL,
    token_id       text NOT NULL,
    resource_id    text NOT NULL
);
CREATE INDEX sign_ins_by_time ON sign_ins (at DESC, id);
CREATE INDEX sign_ins_by_tenant ON sign_ins (tenant_key, at DESC);
CREATE INDEX sign_ins_by_principal ON sign_ins (principal_id, at DESC);
CREATE INDEX sign_ins_by_app ON sign_ins (app_key, at DESC);

CREATE TABLE assertions (
    key        text COLLATE "C" PRIMARY KEY,
    expires_at timestamptz NOT NULL
);
CREATE INDEX assertions_by_expiry ON assertions (expires_at);

CREATE TABLE settings (
    key   text COLLATE "C" PRIMARY KEY,
    value text NOT NULL
);
