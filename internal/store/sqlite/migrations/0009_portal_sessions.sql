-- The web portal's browser sessions, shared by every server. The session id is kept only as its
-- SHA-256 (id_hash); the session itself (the person, the CSRF token, the refresh token) only
-- sealed under the key-encryption key. Times INTEGER microseconds.

CREATE TABLE portal_sessions (
    id_hash    TEXT PRIMARY KEY,
    sealed     BLOB NOT NULL,
    expires_at INTEGER NOT NULL,
    created_at INTEGER NOT NULL
) STRICT;

CREATE INDEX portal_sessions_expiry ON portal_sessions (expires_at);
