-- ARM's lists of one resource type in a subscription (the user-assigned identities, the key
-- vaults, a compute type) ask for WHERE subscription_key = ? AND type_key = ? ORDER BY
-- created_at, id_key LIMIT page, after a (created_at, id_key) cursor. This index is exactly that
-- range in that order, so a page reads its own rows whatever the directory's size. It replaces
-- resources_by_type (type_key, created_at, id_key): no list asks for a type across every
-- subscription except below a parent resource, which the primary key's range serves.
CREATE INDEX resources_by_subscription_type ON resources (subscription_key, type_key, created_at, id_key);
DROP INDEX resources_by_type;
