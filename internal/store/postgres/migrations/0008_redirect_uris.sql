-- An application's redirect URIs by platform (web, spa, publicClient) and isFallbackPublicClient,
-- as JSON text; '' for none (every principal written before this migration).

ALTER TABLE principals ADD COLUMN redirect_uris text NOT NULL DEFAULT '';
