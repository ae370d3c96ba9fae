package postgres

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/mint-id/mint/internal/store"
)

// A group losing its members below it and a member being added below it, at once, on
// PostgreSQL: the removal's walk down the groups waits for the add in flight and names what it
// added (else the new member would have held the group's roles, between the two commits, and
// lost them unnamed), and an add waits for a walk in flight. Another session (pgx, outside the
// store) plays the add in flight and the walk in flight, holding its locks until told to commit.
func TestGroupWalkAndMemberAddAreOrdered(t *testing.T) {
	url := freshDatabase(t)
	st := openAt(t, url)
	ctx := context.Background()
	tenantID := uuid.NewString()
	now := time.Now().UTC()
	group := func(name string) string {
		g := store.Group{ObjectID: uuid.NewString(), TenantID: tenantID, DisplayName: name, MailNickname: name, SecurityEnabled: true, CreatedAt: now}
		if err := st.CreateGroup(ctx, g); err != nil {
			t.Fatal(err)
		}
		return g.ObjectID
	}
	app := func() string {
		sp := store.ServicePrincipal{ObjectID: uuid.NewString(), AppID: uuid.NewString(), TenantID: tenantID, Kind: store.KindApplication, DisplayName: "node", CreatedAt: now}
		if err := st.CreatePrincipal(ctx, sp, nil); err != nil {
			t.Fatal(err)
		}
		return sp.ObjectID
	}
	brokers, rack, node, late := group("brokers"), group("rack"), app(), app()
	if err := st.AddGroupMember(ctx, store.GroupMember{GroupID: brokers, MemberID: rack, MemberType: store.MemberGroup, CreatedAt: now}); err != nil {
		t.Fatal(err)
	}
	other, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close(ctx)
	waitsFor := func(what string, tx pgx.Tx, op func() error) {
		t.Helper()
		done := make(chan error, 1)
		go func() { done <- op() }()
		var err error
		select {
		case err = <-done:
			t.Errorf("%s did not wait for the other session's transaction", what)
		case <-time.After(300 * time.Millisecond):
			if cerr := tx.Commit(ctx); cerr != nil {
				t.Fatal(cerr)
			}
			err = <-done
		}
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		tx.Commit(ctx) // if it did not wait
	}

	// An add in flight below the group (as AddGroupMember makes it) while the group is left.
	_, cursor, err := st.RevocationBounds(ctx)
	if err != nil {
		t.Fatal(err)
	}
	tx, err := other.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, `SELECT object_id FROM groups WHERE object_id = $1 FOR NO KEY UPDATE`, rack); err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, `INSERT INTO group_members (group_id, member_id, member_type, created_at) VALUES ($1, $2, 'ServicePrincipal', now())`, rack, node); err != nil {
		t.Fatal(err)
	}
	waitsFor("RemoveGroupMember", tx, func() error { return st.RemoveGroupMember(ctx, brokers, rack) })
	revs, err := st.ListRevocations(ctx, cursor, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(revs) != 1 || revs[0].PrincipalID != node {
		t.Errorf("leaving the group named %+v, want the node added meanwhile (%s)", revs, node)
	}

	// A walk in flight through the group (as applicationsBelow makes it) while a member is added.
	tx, err = other.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, `SELECT object_id FROM groups WHERE object_id = $1 FOR SHARE`, rack); err != nil {
		t.Fatal(err)
	}
	waitsFor("AddGroupMember", tx, func() error {
		return st.AddGroupMember(ctx, store.GroupMember{GroupID: rack, MemberID: late, MemberType: store.MemberServicePrincipal, CreatedAt: now})
	})
}
