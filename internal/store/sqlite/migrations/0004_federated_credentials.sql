-- Applications' federated identity credentials (Graph's federatedIdentityCredentials). They go
-- with their application (ON DELETE CASCADE). Names are unique per application case-insensitively
-- (name_key); issuer with subject or with claims_expression (a flexible credential, subject '') exactly. Audiences are JSON text; times INTEGER microseconds.

CREATE TABLE federated_credentials (
    seq          INTEGER PRIMARY KEY, -- order added
    id           TEXT NOT NULL UNIQUE,
    principal_id TEXT NOT NULL REFERENCES principals (object_id) ON DELETE CASCADE,
    name_key     TEXT NOT NULL,
    name         TEXT NOT NULL,
    issuer       TEXT NOT NULL,
    subject      TEXT NOT NULL,
    claims_expression TEXT NOT NULL, -- '' unless the credential is flexible
    audiences    TEXT NOT NULL,
    description  TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    UNIQUE (principal_id, name_key),
    UNIQUE (principal_id, issuer, subject, claims_expression)
) STRICT;
