-- Owners of applications (and of their service principals, which are the same object in mint):
-- the users and service principals that may change them besides the directory's administrators,
-- as in Entra. An owner is a user or a service principal, so owner_id has no foreign key:
-- deleting either removes its ownerships through the triggers below; deleting the owned
-- principal removes its owners through ON DELETE CASCADE. Times are INTEGER microseconds.

CREATE TABLE principal_owners (
    seq          INTEGER PRIMARY KEY, -- order added
    principal_id TEXT NOT NULL REFERENCES principals (object_id) ON DELETE CASCADE,
    owner_id     TEXT NOT NULL,
    owner_type   TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    UNIQUE (principal_id, owner_id)
) STRICT;
CREATE INDEX principal_owners_by_owner ON principal_owners (owner_id);

CREATE TRIGGER principals_leave_ownerships AFTER DELETE ON principals
BEGIN
    DELETE FROM principal_owners WHERE owner_id = OLD.object_id;
END;

CREATE TRIGGER users_leave_ownerships AFTER DELETE ON users
BEGIN
    DELETE FROM principal_owners WHERE owner_id = OLD.object_id;
END;
