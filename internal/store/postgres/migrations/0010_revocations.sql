-- The revocation feed (store.Revocations): entries written in the same transaction as the change
-- that causes them, numbered in commit order from the one-row counter revocation_seq: a writer
-- takes the next numbers with UPDATE ... RETURNING, which holds the counter's row lock until it
-- commits, so the next writer's numbers are higher and become visible after them. A sequence
-- would not do: numbers taken in one order may commit in another, and a poller would skip one.

CREATE TABLE revocation_seq (
    id  integer PRIMARY KEY CHECK (id = 1),
    seq bigint NOT NULL
);

INSERT INTO revocation_seq (id, seq) VALUES (1, 0);

CREATE TABLE revocations (
    seq          bigint PRIMARY KEY,
    resource_id  text NOT NULL,
    principal_id text COLLATE "C" NOT NULL,
    created_at   timestamptz NOT NULL
);

CREATE INDEX revocations_created ON revocations (created_at);
