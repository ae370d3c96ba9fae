-- The Key Vault data plane: vaults (one per Microsoft.KeyVault/vaults resource, named uniquely
-- across the installation) and their secrets. A vault goes with its resource and a secret with
-- its vault (ON DELETE CASCADE), so deleting a vault or its resource group removes its secrets in
-- the same transaction. As in 0001: times are INTEGER microseconds (UTC), tag maps JSON text,
-- *_key columns lower-cased. Secret values are stored as the vault package encrypted them.

CREATE TABLE vaults (
    name_key     TEXT NOT NULL PRIMARY KEY,
    name         TEXT NOT NULL, -- as created
    resource_key TEXT NOT NULL UNIQUE REFERENCES resources (id_key) ON DELETE CASCADE,
    resource_id  TEXT NOT NULL,
    data_key     BLOB NOT NULL,
    created_at   INTEGER NOT NULL
) STRICT;

-- One row per secret name. last_seq is the seq of the latest version; updating it serialises
-- writers of one secret. deleted_at is NULL while the secret is not deleted.
CREATE TABLE secrets (
    vault_key  TEXT NOT NULL REFERENCES vaults (name_key) ON DELETE CASCADE,
    name_key   TEXT NOT NULL,
    name       TEXT NOT NULL, -- as first written
    last_seq   INTEGER NOT NULL,
    deleted_at INTEGER,
    purge_at   INTEGER,
    PRIMARY KEY (vault_key, name_key)
) STRICT;
CREATE INDEX secrets_by_purge ON secrets (purge_at) WHERE deleted_at IS NOT NULL;

CREATE TABLE secret_versions (
    vault_key    TEXT NOT NULL,
    name_key     TEXT NOT NULL,
    version      TEXT NOT NULL, -- lower-case hex
    seq          INTEGER NOT NULL,
    value        BLOB NOT NULL,
    content_type TEXT NOT NULL,
    tags         TEXT NOT NULL,
    enabled      INTEGER NOT NULL,
    not_before   INTEGER, -- NULL: none
    expires      INTEGER, -- NULL: none
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL,
    PRIMARY KEY (vault_key, name_key, version),
    UNIQUE (vault_key, name_key, seq),
    FOREIGN KEY (vault_key, name_key) REFERENCES secrets (vault_key, name_key) ON DELETE CASCADE
) STRICT;
