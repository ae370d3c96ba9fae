package store

import (
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"
)

// One spelling per cursor: the decoder would otherwise skip CR and LF, ignore trailing bits and
// accept leading zeros or a plus sign in the time, so one position had many cursors.
func TestControlPlaneCursorsHaveOneSpelling(t *testing.T) {
	at := time.Date(2026, 12, 7, 1, 0, 0, 123456789, time.UTC)
	rc := ResourceCursor(Resource{ID: "/subscriptions/S/resourceGroups/RG", CreatedAt: at})
	ac := RoleAssignmentCursor(RoleAssignment{ID: "/subscriptions/s/providers/Microsoft.Authorization/roleAssignments/A", CreatedAt: at})
	for _, c := range []struct {
		name  string
		parse func(string) (time.Time, string, error)
		good  string
		bad   []string
	}{
		{"resource", ParseResourceCursor, rc, []string{
			rc[:4] + "\r\n" + rc[4:],
			rc + "=",
			otherTrailingBits(base64.RawURLEncoding.EncodeToString([]byte("r1:1:/s"))),
			base64.RawURLEncoding.EncodeToString([]byte("r1:+1:/subscriptions/s")),
			base64.RawURLEncoding.EncodeToString([]byte("r1:01:/subscriptions/s")),
		}},
		{"role assignment", ParseRoleAssignmentCursor, ac, []string{
			ac[:4] + "\n" + ac[4:],
			ac + "==",
			otherTrailingBits(base64.RawURLEncoding.EncodeToString([]byte("a1:1:/s"))),
			base64.RawURLEncoding.EncodeToString([]byte("a1:+1:/x")),
			base64.RawURLEncoding.EncodeToString([]byte("a1:001:/x")),
		}},
	} {
		if _, _, err := c.parse(c.good); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		for _, b := range c.bad {
			if _, _, err := c.parse(b); !errors.Is(err, ErrInvalidCursor) {
				t.Errorf("%s: %q was accepted (%v)", c.name, b, err)
			}
		}
	}
}

// otherTrailingBits respells an unpadded base64 text whose last character carries unused bits
// (its length is not a multiple of 4) with another of those bits set: the same bytes to a
// lenient decoder.
func otherTrailingBits(s string) string {
	if len(s)%4 == 0 {
		panic("no trailing bits in " + s)
	}
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	i := strings.IndexByte(alphabet, s[len(s)-1])
	return s[:len(s)-1] + string(alphabet[i^1])
}

// FuzzParseResourceCursor: what parses is exactly what ResourceCursor makes of it, and
// ResourceCursor's output parses back to itself.
func FuzzParseResourceCursor(f *testing.F) {
	f.Add(ResourceCursor(Resource{ID: "/subscriptions/x", CreatedAt: time.Unix(1, 5000)}), "/Subscriptions/X/", int64(7))
	f.Add("cjE6MTIzOi9z", "", int64(0))
	f.Add("cjE6MTIzOi9z\n", "/", int64(-1))
	f.Fuzz(func(t *testing.T, cursor, id string, us int64) {
		if at, key, err := ParseResourceCursor(cursor); err == nil {
			if back := ResourceCursor(Resource{ID: key, CreatedAt: at}); back != cursor {
				t.Fatalf("%q parsed as %v %q, which is %q", cursor, at, key, back)
			}
		} else if !errors.Is(err, ErrInvalidCursor) {
			t.Fatalf("%q: %v", cursor, err)
		}
		r := Resource{ID: id, CreatedAt: time.UnixMicro(us)}
		c := ResourceCursor(r)
		at, key, err := ParseResourceCursor(c)
		if err != nil || !at.Equal(r.CreatedAt) || key != resourceKey(id) {
			t.Fatalf("%q (%q): %v %q %v", c, id, at, key, err)
		}
	})
}

// FuzzParseRoleAssignmentCursor: as FuzzParseResourceCursor.
func FuzzParseRoleAssignmentCursor(f *testing.F) {
	f.Add(RoleAssignmentCursor(RoleAssignment{ID: "/x/A", CreatedAt: time.Unix(1, 5000)}), "/X/a", int64(7))
	f.Add("YTE6MTIzOi94", "", int64(0))
	f.Fuzz(func(t *testing.T, cursor, id string, us int64) {
		if at, key, err := ParseRoleAssignmentCursor(cursor); err == nil {
			if back := RoleAssignmentCursor(RoleAssignment{ID: key, CreatedAt: at}); back != cursor {
				t.Fatalf("%q parsed as %v %q, which is %q", cursor, at, key, back)
			}
		} else if !errors.Is(err, ErrInvalidCursor) {
			t.Fatalf("%q: %v", cursor, err)
		}
		if id == "" {
			return
		}
		a := RoleAssignment{ID: id, CreatedAt: time.UnixMicro(us)}
		c := RoleAssignmentCursor(a)
		at, key, err := ParseRoleAssignmentCursor(c)
		if err != nil || !at.Equal(a.CreatedAt) || key != strings.ToLower(id) {
			t.Fatalf("%q (%q): %v %q %v", c, id, at, key, err)
		}
	})
}
