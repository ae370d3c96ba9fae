-- Graph's lists of service principals and applications read one page from indexes instead of
-- the tenant's every principal (ListPrincipalsPage). display_key is the display name with ASCII
-- letters folded to lower case (column.DisplayKey; SQLite's lower() folds the same letters), for
-- displayName eq '...' and startswith(displayName,'...'); the kind index serves the applications
-- list, which would otherwise walk past every managed identity of the tenant.

ALTER TABLE principals ADD COLUMN display_key TEXT NOT NULL DEFAULT '';
UPDATE principals SET display_key = lower(display_name);
CREATE INDEX principals_by_display_key ON principals (tenant_key, display_key, created_at, object_id);
CREATE INDEX principals_by_kind ON principals (tenant_key, kind, created_at, object_id);
