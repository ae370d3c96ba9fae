-- Device-code sign-ins (RFC 8628) in progress, shared by every server. The device code is kept
-- only as its SHA-256 (device_code_hash).

CREATE TABLE device_codes (
    device_code_hash text COLLATE "C" PRIMARY KEY,
    user_code        text COLLATE "C" NOT NULL UNIQUE,
    client_id        text COLLATE "C" NOT NULL,
    client_name      text NOT NULL,
    version          integer NOT NULL,
    tenant_segment   text COLLATE "C" NOT NULL,
    scope            text NOT NULL,
    resource         text NOT NULL,
    expires_at       timestamptz NOT NULL,
    state            text COLLATE "C" NOT NULL,
    user_id          text COLLATE "C" NOT NULL,
    tenant_id        text COLLATE "C" NOT NULL,
    auth_time        timestamptz,
    created_at       timestamptz NOT NULL
);

CREATE INDEX device_codes_expiry ON device_codes (expires_at);
