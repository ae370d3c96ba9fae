-- Graph's lists of service principals and applications read one page from indexes instead of
-- the tenant's every principal (ListPrincipalsPage). display_key is the display name with ASCII
-- letters folded to lower case (column.DisplayKey; lower() under the "C" collation folds the
-- same letters), for displayName eq '...' and startswith(displayName,'...'); the kind index
-- serves the applications list, which would otherwise walk past every managed identity of the
-- tenant.

ALTER TABLE principals ADD COLUMN display_key text COLLATE "C" NOT NULL DEFAULT '';
UPDATE principals SET display_key = lower(display_name COLLATE "C");
CREATE INDEX principals_by_display_key ON principals (tenant_key, display_key, created_at, object_id);
CREATE INDEX principals_by_kind ON principals (tenant_key, kind, created_at, object_id);

-- The same for users (displayName, and userPrincipalName by its unique key) and groups.
ALTER TABLE users ADD COLUMN display_key text COLLATE "C" NOT NULL DEFAULT '';
UPDATE users SET display_key = lower(display_name COLLATE "C");
CREATE INDEX users_by_display_key ON users (tenant_key, display_key, created_at, object_id);
ALTER TABLE groups ADD COLUMN display_key text COLLATE "C" NOT NULL DEFAULT '';
UPDATE groups SET display_key = lower(display_name COLLATE "C");
CREATE INDEX groups_by_display_key ON groups (tenant_key, display_key, created_at, object_id);
