package graph

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/mint-id/mint/internal/bearer"
	"github.com/mint-id/mint/internal/directory"
	"github.com/mint-id/mint/internal/odata"
	"github.com/mint-id/mint/internal/store"
)

// The sign-in log: GET /v1.0/auditLogs/signIns, newest first, with $top, $filter and paging by
// @odata.nextLink (https://learn.microsoft.com/graph/api/signin-list).
//
// Who may read it follows Entra: an application with the application permission
// AuditLog.Read.All, or a person signed in (a delegated token) whose token carries the delegated
// permission AuditLog.Read.All and who holds a directory role that may read sign-in logs
// (Reports Reader, Security Reader, Global Reader, Global Administrator ...). mint models one
// such role: the directory's administrator (mint dev's developer). Anyone else is refused as
// Graph refuses them.

const (
	signInTopMax     = 1000
	signInTopDefault = 100
	// signInScanMax bounds how many entries one page reads from the store while applying the
	// filters the store does not (status, resource, event type); a page that reaches it ends
	// early with a nextLink, as Graph's pages may be shorter than $top.
	signInScanMax = 20000
	signInBatch   = 500
)

// Sign-in event types (Graph beta's signInEventTypes values).
const (
	eventInteractiveUser    = "interactiveUser"
	eventNonInteractiveUser = "nonInteractiveUser"
	eventServicePrincipal   = "servicePrincipal"
	eventManagedIdentity    = "managedIdentity"
)

// signInEventType classifies an entry by the grant that produced it.
func signInEventType(grant string) string {
	switch grant {
	case "managed_identity":
		return eventManagedIdentity
	case "interactive":
		return eventInteractiveUser
	case "client_secret", "client_certificate", "federated", "client_credentials", "workload_token", "":
		return eventServicePrincipal
	}
	if strings.Contains(grant, "workload") {
		return eventServicePrincipal
	}
	return eventNonInteractiveUser
}

// signInQuery is a parsed request: what the store filters, and what is applied after it.
type signInQuery struct {
	store     store.SignInFilter
	upn       string
	result    string // "success" or "failure"
	errorCode *int
	resource  string
	eventType string
}

// keep applies the filters the store does not.
func (q *signInQuery) keep(e store.SignIn) bool {
	switch {
	case q.result != "" && e.Result != q.result:
		return false
	case q.errorCode != nil && signInErrorCode(e) != *q.errorCode:
		return false
	case q.resource != "" && !strings.EqualFold(strings.TrimSuffix(q.resource, "/"), strings.TrimSuffix(e.Resource, "/")):
		return false
	case q.eventType != "" && !strings.EqualFold(q.eventType, signInEventType(e.Grant)):
		return false
	}
	return true
}

func signInErrorCode(e store.SignIn) int {
	if n, err := strconv.Atoi(strings.TrimPrefix(e.ErrorCode, "AADSTS")); err == nil {
		return n
	}
	if e.Result == "failure" {
		return -1
	}
	return 0
}

const signInFilterHelp = "use createdDateTime ge|le <RFC 3339 time>, appId eq '<id>', servicePrincipalId eq '<id>', userId eq '<id>', " +
	"userPrincipalName eq '<upn>', resourceId eq '<resource>', status/errorCode eq|ne <number> " +
	"or signInEventTypes/any(t: t eq 'managedIdentity'), joined by and"

// parseSignInFilter reads a $filter into the query. Pure.
func parseSignInFilter(filter string, q *signInQuery) error {
	clauses, err := odata.Parse(filter)
	if err != nil {
		return fmt.Errorf("unsupported $filter %q (%v): %s", filter, err, signInFilterHelp)
	}
	seen := map[string]bool{}
	for _, c := range clauses {
		clause := odata.Format([]odata.Clause{c})
		name := strings.ToLower(c.Name)
		// A clause the query holds one value for, given twice, would have the last one win
		// silently; an empty value would read as no clause at all. Both are refused. Times
		// combine instead (the later ge, the earlier le).
		if name != "createddatetime" {
			key := name
			if key == "userid" { // the same field as servicePrincipalId
				key = "serviceprincipalid"
			}
			if seen[key] {
				return fmt.Errorf("the $filter compares %s twice; compare it once", c.Name)
			}
			seen[key] = true
			if c.Kind == odata.Compare && c.Value == "" {
				return fmt.Errorf("unsupported $filter clause %q: %s compares with a non-empty value", clause, c.Name)
			}
		}
		switch {
		case c.Kind == odata.Compare && c.Op == "eq" && name == "appid":
			q.store.AppID = c.Value
		case c.Kind == odata.Compare && c.Op == "eq" && (name == "serviceprincipalid" || name == "userid"):
			q.store.PrincipalID = strings.ToLower(c.Value)
		case c.Kind == odata.Compare && c.Op == "eq" && name == "userprincipalname":
			q.upn = c.Value
		case c.Kind == odata.Compare && c.Op == "eq" && name == "resourceid":
			q.resource = c.Value
		case c.Kind == odata.Compare && name == "status/errorcode" && (c.Op == "eq" || c.Op == "ne") && !c.Quoted:
			n, err := strconv.Atoi(c.Value)
			if err != nil {
				return fmt.Errorf("status/errorCode compares with a number, not %q", c.Value)
			}
			switch {
			case n == 0 && c.Op == "eq":
				q.result = "success"
			case n == 0:
				q.result = "failure"
			case c.Op == "eq":
				q.errorCode = &n
			default:
				return fmt.Errorf("unsupported $filter clause %q: status/errorCode ne compares with 0 only", clause)
			}
		case c.Kind == odata.Any && name == "signineventtypes":
			switch strings.ToLower(c.Value) {
			case "interactiveuser", "noninteractiveuser", "serviceprincipal", "managedidentity":
				q.eventType = c.Value
			default:
				return fmt.Errorf("%q is not a sign-in event type: use interactiveUser, nonInteractiveUser, servicePrincipal or managedIdentity", c.Value)
			}
		case c.Kind == odata.Compare && name == "createddatetime" && (c.Op == "ge" || c.Op == "le"):
			t, err := time.Parse(time.RFC3339, c.Value)
			if err != nil {
				return fmt.Errorf("createdDateTime must be an RFC 3339 time, not %q", c.Value)
			}
			if c.Op == "ge" {
				if t.After(q.store.Since) {
					q.store.Since = t
				}
			} else {
				// The store's upper bound is exclusive and its times are microseconds: le t
				// is before the next microsecond.
				until := t.Truncate(time.Microsecond).Add(time.Microsecond)
				if q.store.Until.IsZero() || until.Before(q.store.Until) {
					q.store.Until = until
				}
			}
		default:
			return fmt.Errorf("unsupported $filter clause %q: %s", clause, signInFilterHelp)
		}
	}
	if !q.store.Since.IsZero() && !q.store.Until.IsZero() && !q.store.Until.After(q.store.Since) {
		return errors.New("the $filter's createdDateTime le is before its createdDateTime ge")
	}
	return nil
}

// signInCursor is where a page ended: the last entry's time and id (entries are ordered by time
// descending, then id ascending).
type signInCursor struct {
	at time.Time
	id string
}

func (c signInCursor) token() string {
	return base64.RawURLEncoding.EncodeToString([]byte(c.at.UTC().Format(time.RFC3339Nano) + "|" + c.id))
}

func parseSignInCursor(tok string) (signInCursor, error) {
	bad := errors.New("the $skiptoken is not one this API issued")
	raw, err := base64.RawURLEncoding.Strict().DecodeString(tok)
	if err != nil {
		return signInCursor{}, bad
	}
	ts, id, ok := strings.Cut(string(raw), "|")
	at, err := time.Parse(time.RFC3339Nano, ts)
	if !ok || err != nil || id == "" {
		return signInCursor{}, bad
	}
	// One spelling per cursor: what token() writes back. That refuses CR and LF (which the
	// decoder skips even when strict), another offset or precision for the same instant.
	c := signInCursor{at: at, id: id}
	if c.token() != tok {
		return signInCursor{}, bad
	}
	return c, nil
}

// after reports whether e comes after the cursor in the log's order.
func (c signInCursor) after(e store.SignIn) bool {
	return e.Time.Before(c.at) || e.Time.Equal(c.at) && e.ID > c.id
}

// mayReadSignIns: the application permission, or a person with the delegated permission and a
// directory role that may read sign-in logs.
func (s *Server) mayReadSignIns(w http.ResponseWriter, r *http.Request, c bearer.Claims) bool {
	if c.HasRole(directory.RoleAuditLogReadAll) {
		return true
	}
	u, ok := s.person(r.Context(), c)
	if !ok {
		return require(w, r, c, directory.RoleAuditLogReadAll)
	}
	if !c.HasScope(directory.RoleAuditLogReadAll) {
		writeError(w, r, http.StatusForbidden, "Authorization_RequestDenied",
			"Calling principal does not have required MSGraph permissions AuditLog.Read.All. mint: the token of "+u.UserPrincipalName+
				" lacks the delegated permission AuditLog.Read.All; ask for a token with scope https://graph.microsoft.com/AuditLog.Read.All.")
		return false
	}
	if s.dir.IsDirectoryAdmin(r.Context(), u) {
		return true
	}
	writeError(w, r, http.StatusForbidden, "Authentication_RequestFromUnsupportedUserRole",
		"User is not in the allowed roles. mint: "+u.UserPrincipalName+" holds no directory role that may read sign-in logs "+
			"(in Entra: Reports Reader, Security Reader, Global Reader or Global Administrator; in mint: the directory's administrator, mint dev's developer). "+
			"Sign in as the directory's administrator, or read the log as an application granted the application permission AuditLog.Read.All.")
	return false
}

// listSignIns serves auditLogs/signIns.
func (s *Server) listSignIns(w http.ResponseWriter, r *http.Request, c bearer.Claims) {
	if !s.mayReadSignIns(w, r, c) {
		return
	}
	ctx := r.Context()
	qs := r.URL.Query()
	q := signInQuery{store: store.SignInFilter{TenantID: c.TenantID}}
	top := signInTopDefault
	if v := qs.Get("$top"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > signInTopMax {
			writeError(w, r, http.StatusBadRequest, "Request_BadRequest", "$top must be an integer from 1 to 1000.")
			return
		}
		top = n
	}
	if filter := qs.Get("$filter"); filter != "" {
		if err := parseSignInFilter(filter, &q); err != nil {
			writeError(w, r, http.StatusBadRequest, "Request_BadRequest", err.Error())
			return
		}
	}
	var cursor *signInCursor
	if tok := qs.Get("$skiptoken"); tok != "" {
		cur, err := parseSignInCursor(tok)
		if err != nil {
			writeError(w, r, http.StatusBadRequest, "Request_BadRequest", err.Error())
			return
		}
		cursor = &cur
	}
	if q.upn != "" {
		u, err := s.dir.UserByPrincipalName(ctx, c.TenantID, q.upn)
		switch {
		case errors.Is(err, store.ErrNotFound):
			s.writeSignIns(w, r, nil, nil)
			return
		case err != nil:
			s.internal(w, r, err)
			return
		case q.store.PrincipalID != "" && !strings.EqualFold(q.store.PrincipalID, u.ObjectID):
			s.writeSignIns(w, r, nil, nil)
			return
		}
		q.store.PrincipalID = u.ObjectID
	}
	entries, next, err := scanSignIns(ctx, s.st, &q, cursor, top)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	s.writeSignIns(w, r, entries, next)
}

// scanSignIns reads one page: entries after cursor that pass the query, at most top, and the
// cursor of the next page (nil at the end of the log).
func scanSignIns(ctx context.Context, st store.SignIns, q *signInQuery, cursor *signInCursor, top int) ([]store.SignIn, *signInCursor, error) {
	var out []store.SignIn
	batch, scanned := signInBatch, 0
	var last *signInCursor
	if cursor != nil {
		cur := *cursor
		last = &cur
	}
	for scanned < signInScanMax {
		f := q.store
		f.Limit = batch
		if last != nil {
			// The store's upper bound is exclusive; the cursor's own instant is read again and
			// its entries up to the cursor's id are skipped below.
			until := last.at.Add(time.Second)
			if f.Until.IsZero() || until.Before(f.Until) {
				f.Until = until
			}
		}
		es, err := st.ListSignIns(ctx, f)
		if err != nil {
			return nil, nil, fmt.Errorf("sign-in log: %w", err)
		}
		progressed := false
		for _, e := range es {
			if last != nil && !last.after(e) {
				continue
			}
			progressed = true
			scanned++
			last = &signInCursor{at: e.Time, id: e.ID}
			if !q.keep(e) {
				continue
			}
			if len(out) == top {
				end := signInCursor{at: out[top-1].Time, id: out[top-1].ID}
				return out, &end, nil
			}
			out = append(out, e)
		}
		if len(es) < batch {
			return out, nil, nil
		}
		if !progressed {
			batch *= 4 // more entries share the cursor's second than one batch holds
		}
	}
	return out, last, nil
}

func (s *Server) writeSignIns(w http.ResponseWriter, r *http.Request, entries []store.SignIn, next *signInCursor) {
	names := map[string]directory.Object{}
	out := make([]map[string]any, 0, len(entries))
	for _, e := range entries {
		obj, ok := names[e.PrincipalID]
		if !ok && e.PrincipalID != "" {
			if o, err := s.dir.Object(r.Context(), e.TenantID, e.PrincipalID); err == nil {
				obj, ok = o, true
			}
			names[e.PrincipalID] = obj
		}
		out = append(out, signInJSON(e, obj))
	}
	body := map[string]any{"@odata.context": "https://graph.microsoft.com/v1.0/$metadata#auditLogs/signIns", "value": out}
	if next != nil {
		q := r.URL.Query()
		q.Set("$skiptoken", next.token())
		body["@odata.nextLink"] = (&url.URL{Scheme: "https", Host: r.Host, Path: r.URL.Path, RawQuery: q.Encode()}).String()
	}
	writeJSON(w, r, http.StatusOK, body)
}

// signInJSON shapes an entry as Graph's signIn, with who signed in when the directory still
// knows them (a deleted principal leaves its ids only).
func signInJSON(e store.SignIn, who directory.Object) map[string]any {
	code := signInErrorCode(e)
	if code < 0 {
		code = 0
	}
	eventType := signInEventType(e.Grant)
	m := map[string]any{
		"id":                    e.ID,
		"createdDateTime":       e.Time,
		"appId":                 e.AppID,
		"servicePrincipalId":    e.PrincipalID,
		"resourceId":            e.Resource,
		"correlationId":         e.CorrelationID,
		"uniqueTokenIdentifier": e.TokenID,
		"azureResourceId":       e.ResourceID,
		"grantType":             e.Grant,
		"result":                e.Result,
		"isInteractive":         eventType == eventInteractiveUser,
		"signInEventTypes":      []string{eventType},
		"status":                map[string]any{"errorCode": code, "failureReason": e.Reason},
	}
	switch who.Type {
	case store.MemberUser:
		m["userId"], m["userPrincipalName"], m["userDisplayName"] = who.User.ObjectID, who.User.UserPrincipalName, who.User.DisplayName
	case store.MemberServicePrincipal:
		m["servicePrincipalName"], m["appDisplayName"] = who.ServicePrincipal.DisplayName, who.ServicePrincipal.DisplayName
	}
	if eventType == eventManagedIdentity {
		m["managedServiceIdentity"] = map[string]any{"associatedResourceId": e.ResourceID}
	}
	return m
}
