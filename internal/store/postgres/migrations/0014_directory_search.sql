-- Graph's lists answer mailNickname eq '...' (az ad group create asks it before creating) and the
-- $search the portal's member picker sends from indexes instead of reading the tenant.
--
-- mail_key is the mail nickname folded as column.Key folds ids (Go's strings.ToLower, which
-- lower() does not match under every collation): mint fills it in Go right after this
-- migration, in the same transaction, as it fills the word tables.
ALTER TABLE users ADD COLUMN mail_key text COLLATE "C" NOT NULL DEFAULT '';
CREATE INDEX users_by_mail_key ON users (tenant_key, mail_key, created_at, object_id);
ALTER TABLE groups ADD COLUMN mail_key text COLLATE "C" NOT NULL DEFAULT '';
CREATE INDEX groups_by_mail_key ON groups (tenant_key, mail_key, created_at, object_id);

-- The words of each display name as Graph's $search splits it (store.IndexedWords), one row
-- each, written in the transaction that writes the name; a word prefix is a range of the
-- (tenant_key, word) index ("C" collation: byte order). Deleting the object deletes its words.
CREATE TABLE principal_words (
    object_id  text COLLATE "C" NOT NULL REFERENCES principals (object_id) ON DELETE CASCADE,
    tenant_key text COLLATE "C" NOT NULL,
    word       text COLLATE "C" NOT NULL,
    PRIMARY KEY (object_id, word)
);
CREATE INDEX principal_words_by_word ON principal_words (tenant_key, word, object_id);

CREATE TABLE user_words (
    object_id  text COLLATE "C" NOT NULL REFERENCES users (object_id) ON DELETE CASCADE,
    tenant_key text COLLATE "C" NOT NULL,
    word       text COLLATE "C" NOT NULL,
    PRIMARY KEY (object_id, word)
);
CREATE INDEX user_words_by_word ON user_words (tenant_key, word, object_id);

CREATE TABLE group_words (
    object_id  text COLLATE "C" NOT NULL REFERENCES groups (object_id) ON DELETE CASCADE,
    tenant_key text COLLATE "C" NOT NULL,
    word       text COLLATE "C" NOT NULL,
    PRIMARY KEY (object_id, word)
);
CREATE INDEX group_words_by_word ON group_words (tenant_key, word, object_id);
