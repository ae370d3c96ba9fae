package store

import (
	"testing"
	"time"
)

func TestObjectCursorRoundTrip(t *testing.T) {
	at := time.Date(2026, 12, 6, 22, 0, 0, 123456789, time.FixedZone("x", 3600))
	for _, id := range []string{"3f2504e0-4f89-11d3-9a0c-0305e82c3301", "a:b", "é"} {
		gotAt, gotID, err := ParseObjectCursor(PrincipalCursor(ServicePrincipal{ObjectID: id, CreatedAt: at}))
		if err != nil || !gotAt.Equal(at.Truncate(time.Microsecond)) || gotID != id {
			t.Errorf("%s: %v %q %v", id, gotAt, gotID, err)
		}
	}
}

func FuzzParseObjectCursor(f *testing.F) {
	f.Add(PrincipalCursor(ServicePrincipal{ObjectID: "x", CreatedAt: time.Unix(1, 0)}))
	f.Add("cDE6MTIzOg")
	f.Add("m1.MA")
	f.Fuzz(func(t *testing.T, cursor string) {
		at, id, err := ParseObjectCursor(cursor)
		if err != nil {
			return
		}
		// What it accepts is what PrincipalCursor makes of it.
		if id == "" || len(id) > maxObjectIDLen || PrincipalCursor(ServicePrincipal{ObjectID: id, CreatedAt: at}) != cursor {
			t.Fatalf("%q parsed as %v %q", cursor, at, id)
		}
	})
}
