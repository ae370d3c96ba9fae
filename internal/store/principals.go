package store

import (
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// PrincipalFilter selects principals of one tenant for ListPrincipalsPage. Every field but
// TenantID may be left empty; the ones set must all hold. String comparisons ignore case as
// Graph's $filter does; DisplayName and DisplayNamePrefix fold ASCII letters only (the stores'
// lower()), so callers pass them only for values that are printable ASCII.
type PrincipalFilter struct {
	TenantID string
	Kind     PrincipalKind // "" means every kind
	// NoBuiltin leaves out the first-party principals every tenant has.
	NoBuiltin bool
	AppID     string // the appId, as Graph's appId eq '...'
	// ServicePrincipalName is the appId or one of the identifier URIs, as Graph's
	// servicePrincipalNames/any(c:c eq '...').
	ServicePrincipalName string
	IdentifierURI        string // as identifierUris/any(c:c eq '...')
	DisplayName          string // as displayName eq '...'
	DisplayNamePrefix    string // as startswith(displayName,'...')
	// Search, when not nil, keeps the principals a $search selects (displayName, appId, id).
	Search *SearchTerm
	// After lists only the principals strictly after this PrincipalCursor in the list order, ""
	// for the start. A cursor ObjectCursor did not produce gives an error wrapping
	// ErrInvalidCursor.
	After string
	// Limit caps the number of principals returned; 0 means no limit.
	Limit int
}

const objectCursorPrefix = "p1:"

// maxObjectIDLen bounds the object id a cursor may carry (mint's are GUIDs; imported ones are
// at most this long in practice), so that a forged cursor cannot make a large query argument.
const maxObjectIDLen = 256

// PrincipalCursor is the opaque position of sp in ListPrincipals' order, to pass as
// PrincipalFilter.After (ObjectCursor of its creation time and object id).
func PrincipalCursor(sp ServicePrincipal) string { return ObjectCursor(sp.CreatedAt, sp.ObjectID) }

// ObjectCursor is the opaque position of a directory object (principal, user, group) in its
// list's order, creation time (UTC, microseconds) then object id, to pass as a filter's After.
// It names a position, not an offset: objects created or deleted before it do not move the next
// page.
func ObjectCursor(createdAt time.Time, objectID string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(
		objectCursorPrefix + strconv.FormatInt(createdAt.UTC().Truncate(time.Microsecond).UnixMicro(), 10) + ":" + objectID))
}

// ParseObjectCursor decodes an ObjectCursor into the creation time (UTC, microseconds) and
// object id of the object it names. Errors wrap ErrInvalidCursor.
func ParseObjectCursor(cursor string) (createdAt time.Time, objectID string, err error) {
	bad := fmt.Errorf("%w %q", ErrInvalidCursor, truncateCursor(cursor))
	if len(cursor) > 2*maxObjectIDLen {
		return time.Time{}, "", bad
	}
	raw, ok := decodeCursor(cursor)
	if !ok || !strings.HasPrefix(string(raw), objectCursorPrefix) {
		return time.Time{}, "", bad
	}
	us, id, ok := strings.Cut(string(raw[len(objectCursorPrefix):]), ":")
	n, perr := strconv.ParseInt(us, 10, 64)
	if !ok || perr != nil || strconv.FormatInt(n, 10) != us || id == "" || len(id) > maxObjectIDLen {
		return time.Time{}, "", bad
	}
	return time.UnixMicro(n).UTC(), id, nil
}

// decodeCursor decodes the unpadded base64url of a cursor, accepting one spelling only: the
// one the encoder makes. Go's decoder skips CR and LF even in strict mode and, unless strict,
// ignores trailing bits, so a cursor otherwise had many spellings ("m1.M\rA", "MQ" and "MR").
func decodeCursor(cursor string) ([]byte, bool) {
	raw, err := base64.RawURLEncoding.Strict().DecodeString(cursor)
	if err != nil || strings.ContainsAny(cursor, "\r\n") {
		return nil, false
	}
	return raw, true
}

func truncateCursor(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}

// PeopleFilter selects users or groups of one tenant for ListUsersPage and ListGroupsPage, as
// PrincipalFilter does principals (the same folding of case, the same cursor).
type PeopleFilter struct {
	TenantID          string
	UserPrincipalName string // as userPrincipalName eq '...' (users only)
	DisplayName       string // as displayName eq '...'
	DisplayNamePrefix string // as startswith(displayName,'...')
	MailNickname      string // as mailNickname eq '...'
	// Search, when not nil, keeps the objects a $search selects (displayName, id,
	// userPrincipalName for users, mailNickname).
	Search *SearchTerm
	// After lists only the objects strictly after this ObjectCursor in the list order ("" for
	// the start); a cursor ObjectCursor did not produce gives an error wrapping ErrInvalidCursor.
	After string
	Limit int // 0 means no limit
}
