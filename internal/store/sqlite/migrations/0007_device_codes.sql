-- Device-code sign-ins (RFC 8628) in progress, shared by every server. The device code is kept
-- only as its SHA-256 (device_code_hash). Times INTEGER microseconds.

CREATE TABLE device_codes (
    device_code_hash TEXT PRIMARY KEY,
    user_code        TEXT NOT NULL UNIQUE,
    client_id        TEXT NOT NULL,
    client_name      TEXT NOT NULL,
    version          INTEGER NOT NULL,
    tenant_segment   TEXT NOT NULL,
    scope            TEXT NOT NULL,
    resource         TEXT NOT NULL,
    expires_at       INTEGER NOT NULL,
    state            TEXT NOT NULL,
    user_id          TEXT NOT NULL,
    tenant_id        TEXT NOT NULL,
    auth_time        INTEGER,
    created_at       INTEGER NOT NULL
) STRICT;

CREATE INDEX device_codes_expiry ON device_codes (expires_at);
