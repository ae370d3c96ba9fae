-- The revocation feed (store.Revocations): entries written in the same transaction as the change
-- that causes them, numbered in commit order from the one-row counter revocation_seq (a writer
-- takes the next numbers under the counter's row lock, SQLite's single writer here). Times
-- INTEGER microseconds.

CREATE TABLE revocation_seq (
    id  INTEGER PRIMARY KEY CHECK (id = 1),
    seq INTEGER NOT NULL
) STRICT;

INSERT INTO revocation_seq (id, seq) VALUES (1, 0);

CREATE TABLE revocations (
    seq          INTEGER PRIMARY KEY,
    resource_id  TEXT NOT NULL,
    principal_id TEXT NOT NULL,
    created_at   INTEGER NOT NULL
) STRICT;

CREATE INDEX revocations_created ON revocations (created_at);
