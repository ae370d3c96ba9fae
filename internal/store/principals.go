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
	// After lists only the principals strictly after this PrincipalCursor in the list order, ""
	// for the start. A cursor PrincipalCursor did not produce gives an error wrapping
	// ErrInvalidCursor.
	After string
	// Limit caps the number of principals returned; 0 means no limit.
	Limit int
}

const principalCursorPrefix = "p1:"

// maxObjectIDLen bounds the object id a cursor may carry (mint's are GUIDs; imported ones are
// at most this long in practice), so that a forged cursor cannot make a large query argument.
const maxObjectIDLen = 256

// PrincipalCursor is the opaque position of sp in ListPrincipals' order (CreatedAt in UTC at
// microsecond precision, then the object id), to pass as PrincipalFilter.After. It names a
// position, not an offset: principals created or deleted before it do not move the next page.
func PrincipalCursor(sp ServicePrincipal) string {
	return base64.RawURLEncoding.EncodeToString([]byte(
		principalCursorPrefix + strconv.FormatInt(sp.CreatedAt.UTC().Truncate(time.Microsecond).UnixMicro(), 10) + ":" + sp.ObjectID))
}

// ParsePrincipalCursor decodes a PrincipalCursor into the creation time (UTC, microseconds) and
// object id of the principal it names. Errors wrap ErrInvalidCursor.
func ParsePrincipalCursor(cursor string) (createdAt time.Time, objectID string, err error) {
	bad := fmt.Errorf("%w %q", ErrInvalidCursor, truncateCursor(cursor))
	if len(cursor) > 2*maxObjectIDLen {
		return time.Time{}, "", bad
	}
	raw, err := base64.RawURLEncoding.Strict().DecodeString(cursor)
	if err != nil || !strings.HasPrefix(string(raw), principalCursorPrefix) {
		return time.Time{}, "", bad
	}
	us, id, ok := strings.Cut(string(raw[len(principalCursorPrefix):]), ":")
	n, perr := strconv.ParseInt(us, 10, 64)
	if !ok || perr != nil || strconv.FormatInt(n, 10) != us || id == "" || len(id) > maxObjectIDLen {
		return time.Time{}, "", bad
	}
	return time.UnixMicro(n).UTC(), id, nil
}

func truncateCursor(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}
