-- The Key Vault data plane: vaults (one per Microsoft.KeyVault/vaults resource, named uniquely
-- across the installation) and their secrets. A vault goes with its resource and a secret with
-- its vault (ON DELETE CASCADE), so deleting a vault or its resource group removes its secrets in
-- the same transaction. As in 0001: *_key columns hold lower-cased ids and are COLLATE "C", tag
-- maps are JSON text. Secret values are stored as the vault package encrypted them.

CREATE TABLE vaults (
    name_key     text COLLATE "C" PRIMARY KEY,
    name         text NOT NULL, -- as created
    resource_key text COLLATE "C" NOT NULL UNIQUE REFERENCES resources (id_key) ON DELETE CASCADE,
    resource_id  text NOT NULL,
    data_key     bytea NOT NULL,
    created_at   timestamptz NOT NULL
);

-- One row per secret name. last_seq is the seq of the latest version; updating it serialises
-- writers of one secret (the row lock). deleted_at is NULL while the secret is not deleted.
CREATE TABLE secrets (
    vault_key  text COLLATE "C" NOT NULL REFERENCES vaults (name_key) ON DELETE CASCADE,
    name_key   text COLLATE "C" NOT NULL,
    name       text NOT NULL, -- as first written
    last_seq   bigint NOT NULL,
    deleted_at timestamptz,
    purge_at   timestamptz,
    PRIMARY KEY (vault_key, name_key)
);
CREATE INDEX secrets_by_purge ON secrets (purge_at) WHERE deleted_at IS NOT NULL;

CREATE TABLE secret_versions (
    vault_key    text COLLATE "C" NOT NULL,
    name_key     text COLLATE "C" NOT NULL,
    version      text COLLATE "C" NOT NULL, -- lower-case hex
    seq          bigint NOT NULL,
    value        bytea NOT NULL,
    content_type text NOT NULL,
    tags         text NOT NULL,
    enabled      boolean NOT NULL,
    not_before   timestamptz, -- NULL: none
    expires      timestamptz, -- NULL: none
    created_at   timestamptz NOT NULL,
    updated_at   timestamptz NOT NULL,
    PRIMARY KEY (vault_key, name_key, version),
    UNIQUE (vault_key, name_key, seq),
    FOREIGN KEY (vault_key, name_key) REFERENCES secrets (vault_key, name_key) ON DELETE CASCADE
);
