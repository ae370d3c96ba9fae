-- Key Vault's soft delete of whole vaults: deleting a vault's resource (or its resource group)
-- keeps the vault here, with its data key and its secrets, until it is purged (on request, or at
-- purge_at) or recovered (createMode: recover). Its name stays taken meanwhile. secrets is the
-- JSON of the vault's secret rows and versions as they were (values as the vault package
-- encrypted them). As in 0001: times are INTEGER microseconds (UTC), tag maps JSON text, *_key
-- columns lower-cased.

CREATE TABLE deleted_vaults (
    name_key         TEXT NOT NULL PRIMARY KEY,
    name             TEXT NOT NULL,
    resource_id      TEXT NOT NULL,
    subscription_key TEXT NOT NULL,
    location         TEXT NOT NULL,
    tags             TEXT NOT NULL,
    properties       BLOB NOT NULL,
    data_key         BLOB NOT NULL,
    vault_created_at INTEGER NOT NULL,
    secrets          BLOB NOT NULL,
    deleted_at       INTEGER NOT NULL,
    purge_at         INTEGER NOT NULL
) STRICT;
CREATE INDEX deleted_vaults_by_subscription ON deleted_vaults (subscription_key);
CREATE INDEX deleted_vaults_by_purge ON deleted_vaults (purge_at);
