-- Key Vault's soft delete of whole vaults: deleting a vault's resource (or its resource group)
-- keeps the vault here, with its data key and its secrets, until it is purged (on request, or at
-- purge_at) or recovered (createMode: recover). Its name stays taken meanwhile. secrets is the
-- JSON of the vault's secret rows and versions as they were (values as the vault package
-- encrypted them). As in 0001: *_key columns hold lower-cased ids and are COLLATE "C", tag maps
-- are JSON text.

CREATE TABLE deleted_vaults (
    name_key         text COLLATE "C" PRIMARY KEY,
    name             text NOT NULL,
    resource_id      text NOT NULL,
    subscription_key text COLLATE "C" NOT NULL,
    location         text NOT NULL,
    tags             text NOT NULL,
    properties       bytea NOT NULL,
    data_key         bytea NOT NULL,
    vault_created_at timestamptz NOT NULL,
    secrets          bytea NOT NULL,
    deleted_at       timestamptz NOT NULL,
    purge_at         timestamptz NOT NULL
);
CREATE INDEX deleted_vaults_by_subscription ON deleted_vaults (subscription_key);
CREATE INDEX deleted_vaults_by_purge ON deleted_vaults (purge_at);
