-- Applications' federated identity credentials (Graph's federatedIdentityCredentials). They go
-- with their application (ON DELETE CASCADE). Names are unique per application case-insensitively
-- (name_key); issuer with subject or with claims_expression (a flexible credential, subject '') exactly. Audiences are JSON text.

CREATE TABLE federated_credentials (
    seq          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, -- order added
    id           text COLLATE "C" NOT NULL UNIQUE,
    principal_id text COLLATE "C" NOT NULL REFERENCES principals (object_id) ON DELETE CASCADE,
    name_key     text COLLATE "C" NOT NULL,
    name         text NOT NULL,
    issuer       text COLLATE "C" NOT NULL,
    subject      text COLLATE "C" NOT NULL,
    claims_expression text COLLATE "C" NOT NULL, -- '' unless the credential is flexible
    audiences    text NOT NULL,
    description  text NOT NULL,
    created_at   timestamptz NOT NULL,
    UNIQUE (principal_id, name_key),
    UNIQUE (principal_id, issuer, subject, claims_expression)
);
