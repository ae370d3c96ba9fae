-- The web portal's browser sessions, shared by every server. The session id is kept only as its
-- SHA-256 (id_hash); the session itself (the person, the CSRF token, the refresh token) only
-- sealed under the key-encryption key.

CREATE TABLE portal_sessions (
    id_hash    text COLLATE "C" PRIMARY KEY,
    sealed     bytea NOT NULL,
    expires_at timestamptz NOT NULL,
    created_at timestamptz NOT NULL
);

CREATE INDEX portal_sessions_expiry ON portal_sessions (expires_at);
