-- Owners of applications (and of their service principals, which are the same object in mint):
-- the users and service principals that may change them besides the directory's administrators,
-- as in Entra. An owner is a user or a service principal, so owner_id has no foreign key:
-- deleting either removes its ownerships through the triggers below; deleting the owned
-- principal removes its owners through ON DELETE CASCADE.

CREATE TABLE principal_owners (
    seq          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, -- order added
    principal_id text COLLATE "C" NOT NULL REFERENCES principals (object_id) ON DELETE CASCADE,
    owner_id     text COLLATE "C" NOT NULL,
    owner_type   text NOT NULL,
    created_at   timestamptz NOT NULL,
    UNIQUE (principal_id, owner_id)
);
CREATE INDEX principal_owners_by_owner ON principal_owners (owner_id);

CREATE FUNCTION owners_leave_ownerships() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM principal_owners WHERE owner_id = OLD.object_id;
    RETURN OLD;
END;
$$;
CREATE TRIGGER principals_leave_ownerships AFTER DELETE ON principals
    FOR EACH ROW EXECUTE FUNCTION owners_leave_ownerships();
CREATE TRIGGER users_leave_ownerships AFTER DELETE ON users
    FOR EACH ROW EXECUTE FUNCTION owners_leave_ownerships();
