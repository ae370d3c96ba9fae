package graph

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/mint-id/mint/internal/bearer"
	"github.com/mint-id/mint/internal/directory"
	"github.com/mint-id/mint/internal/odata"
	"github.com/mint-id/mint/internal/store"
)

// People: /users, /me, /groups with their members, and the directory-object functions that
// clients resolve members and memberships with (memberOf, transitiveMemberOf, getMemberGroups,
// checkMemberGroups, directoryObjects/getByIds), in Graph's shapes.
//
// Who may do what follows Graph: an application needs the application permission (User.*,
// Group.*, GroupMember.*, Directory.*) in its roles claim; a person signed in (a delegated
// token whose oid is a user) may read the directory, as Entra's default user permissions allow,
// and may change it when the directory names them its administrator (mint dev's developer).

var (
	readUsers    = []string{directory.RoleUserReadWriteAll, directory.RoleUserReadAll, directory.RoleDirectoryReadWriteAll, directory.RoleDirectoryReadAll}
	writeUsers   = []string{directory.RoleUserReadWriteAll, directory.RoleDirectoryReadWriteAll}
	readGroups   = []string{directory.RoleGroupReadWriteAll, directory.RoleGroupReadAll, directory.RoleGroupMemberReadWriteAll, directory.RoleDirectoryReadWriteAll, directory.RoleDirectoryReadAll}
	writeGroups  = []string{directory.RoleGroupReadWriteAll, directory.RoleDirectoryReadWriteAll}
	writeMembers = []string{directory.RoleGroupReadWriteAll, directory.RoleGroupMemberReadWriteAll, directory.RoleDirectoryReadWriteAll}
	readObjects  = []string{directory.RoleDirectoryReadWriteAll, directory.RoleDirectoryReadAll, directory.RoleUserReadAll, directory.RoleUserReadWriteAll,
		directory.RoleGroupReadAll, directory.RoleGroupReadWriteAll, directory.RoleApplicationReadAll, directory.RoleApplicationReadWriteAll}
)

// person returns the signed-in user of a delegated token, if the token is one.
func (s *Server) person(ctx context.Context, c bearer.Claims) (store.User, bool) {
	if c.ObjectID == "" {
		return store.User{}, false
	}
	u, err := s.dir.User(ctx, c.ObjectID)
	if err != nil || !strings.EqualFold(u.TenantID, c.TenantID) || !u.AccountEnabled {
		return store.User{}, false
	}
	return u, true
}

// allow checks an application's roles, or a person's standing: any member of the tenant may
// read, its administrator may write.
func (s *Server) allow(w http.ResponseWriter, r *http.Request, c bearer.Claims, write bool, roles ...string) bool {
	for _, role := range roles {
		if c.HasRole(role) {
			return true
		}
	}
	if u, ok := s.person(r.Context(), c); ok {
		if !write || s.dir.IsDirectoryAdmin(r.Context(), u) {
			return true
		}
		writeError(w, r, http.StatusForbidden, "Authorization_RequestDenied",
			fmt.Sprintf("Insufficient privileges to complete the operation. The signed-in user %s is not an administrator of the directory.", u.UserPrincipalName))
		return false
	}
	return require(w, r, c, roles...)
}

// people routes /users, /me, /groups and /directoryObjects; seg[0] is one of them.
func (s *Server) people(w http.ResponseWriter, r *http.Request, c bearer.Claims, seg []string) {
	switch seg[0] {
	case "users":
		if len(seg) == 1 {
			switch r.Method {
			case http.MethodGet:
				s.listUsers(w, r, c)
			case http.MethodPost:
				s.createUser(w, r, c)
			default:
				methodNotAllowed(w, r)
			}
			return
		}
		u, ok := s.userRef(w, r, c, seg[1])
		if ok {
			s.userAction(w, r, c, u, seg[2:])
		}
	case "me":
		u, ok := s.person(r.Context(), c)
		if !ok {
			writeError(w, r, http.StatusBadRequest, "BadRequest", "/me request is only valid with delegated authentication flow.")
			return
		}
		s.userAction(w, r, c, u, seg[1:])
	case "groups":
		if len(seg) == 1 {
			switch r.Method {
			case http.MethodGet:
				s.listGroups(w, r, c)
			case http.MethodPost:
				s.createGroup(w, r, c)
			default:
				methodNotAllowed(w, r)
			}
			return
		}
		g, err := s.dir.Group(r.Context(), seg[1])
		if err == nil && !strings.EqualFold(g.TenantID, c.TenantID) {
			err = store.ErrNotFound
		}
		if err != nil {
			s.notFound(w, r, seg[1], err)
			return
		}
		s.groupAction(w, r, c, g, seg[2:])
	case "directoryObjects":
		switch {
		case len(seg) == 2 && seg[1] == "getByIds" && r.Method == http.MethodPost:
			s.getByIDs(w, r, c)
		case len(seg) >= 2:
			obj, err := s.dir.Object(r.Context(), c.TenantID, seg[1])
			if err != nil {
				s.notFound(w, r, seg[1], err)
				return
			}
			if len(seg) == 2 && r.Method == http.MethodGet {
				if s.allow(w, r, c, false, readObjects...) {
					writeJSON(w, r, http.StatusOK, objectJSON(obj))
				}
				return
			}
			s.membershipAction(w, r, c, obj.ID(), seg[2:])
		default:
			methodNotAllowed(w, r)
		}
	}
}

// userRef resolves users/{id or userPrincipalName} in the caller's tenant.
func (s *Server) userRef(w http.ResponseWriter, r *http.Request, c bearer.Claims, ref string) (store.User, bool) {
	var u store.User
	var err error
	if strings.Contains(ref, "@") {
		u, err = s.dir.UserByPrincipalName(r.Context(), c.TenantID, ref)
	} else {
		u, err = s.dir.User(r.Context(), ref)
		if err == nil && !strings.EqualFold(u.TenantID, c.TenantID) {
			err = store.ErrNotFound
		}
	}
	if err != nil {
		s.notFound(w, r, ref, err)
		return u, false
	}
	return u, true
}

func (s *Server) notFound(w http.ResponseWriter, r *http.Request, ref string, err error) {
	if errors.Is(err, store.ErrNotFound) {
		writeError(w, r, http.StatusNotFound, "Request_ResourceNotFound",
			fmt.Sprintf("Resource '%s' does not exist or one of its queried reference-property objects are not present.", ref))
		return
	}
	s.internal(w, r, err)
}

func (s *Server) listUsers(w http.ResponseWriter, r *http.Request, c bearer.Claims) {
	if !s.allow(w, r, c, false, readUsers...) {
		return
	}
	s.listUsersPaged(w, r, c.TenantID)
}

// writeItems writes what the directory listed (items, or err) as the collection what (an entity
// set), after the request's query options.
func writeItems[T any](s *Server, w http.ResponseWriter, r *http.Request, what string, items []T, err error, toJSON func(T) map[string]any) {
	if err != nil {
		s.internal(w, r, err)
		return
	}
	out := make([]map[string]any, 0, len(items))
	for _, it := range items {
		out = append(out, toJSON(it))
	}
	s.writeList(w, r, what, out)
}

// writeEntity writes one object of the entity set set, as Graph answers a read or a create,
// with only the properties the request's $select names.
func writeEntity(w http.ResponseWriter, r *http.Request, status int, set string, out map[string]any) {
	sel, err := odata.ParseSelect(r.URL.Query().Get("$select"))
	if err == nil {
		out, err = project(out, sel)
	}
	if err != nil {
		writeError(w, r, http.StatusBadRequest, "BadRequest", err.Error())
		return
	}
	out["@odata.context"] = "https://graph.microsoft.com/v1.0/$metadata#" + set + "/$entity"
	writeJSON(w, r, status, out)
}

// project keeps the properties sel names (and the object's @odata.type, which clients read to
// tell users, groups and service principals apart); an unknown property is Graph's 400.
func project(obj map[string]any, sel []string) (map[string]any, error) {
	if sel == nil {
		return obj, nil
	}
	out := make(map[string]any, len(sel)+1)
	if t, ok := obj["@odata.type"]; ok {
		out["@odata.type"] = t
	}
	for _, name := range sel {
		found := false
		for k, v := range obj {
			if strings.EqualFold(k, name) {
				out[k], found = v, true
				break
			}
		}
		if !found {
			typ, _ := obj["@odata.type"].(string)
			return nil, fmt.Errorf("Parsing OData Select and Expand failed: Could not find a property named '%s' on type '%s'.", name, strings.TrimPrefix(typ, "#"))
		}
	}
	return out, nil
}

// noContent answers a change to the directory: 204 No Content, or its failure in Graph's shape.
func (s *Server) noContent(w http.ResponseWriter, r *http.Request, err error) {
	if err != nil {
		s.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// memberChanged answers a change to a group's members, where a missing member (ref) is 404.
func (s *Server) memberChanged(w http.ResponseWriter, r *http.Request, ref string, err error) {
	if errors.Is(err, store.ErrNotFound) {
		s.notFound(w, r, ref, err)
		return
	}
	s.noContent(w, r, err)
}

// Graph's page sizes for directory objects: 100 unless $top asks for another, at most 999.
const (
	defaultPageSize = 100
	maxPageSize     = 999
)

// writeList writes a collection after the request's $filter, $search and $orderby (with Graph's
// rules for advanced queries), one page at a time ($top, and the $skiptoken of the
// @odata.nextLink it hands out), each object with the properties $select names; @odata.count on
// the first page when $count=true comes with ConsistencyLevel: eventual; or, for the /$count
// segment, the count alone as text/plain. Pages are cut from the list as it is when each page is
// asked for, in one fixed order (creation, or $orderby with ties broken by id). what is the entity
// set the list answers as (users, groups, applications, servicePrincipals, directoryObjects).
func (s *Server) writeList(w http.ResponseWriter, r *http.Request, what string, out []map[string]any) {
	col := collectionNamed(what)
	q := r.URL.Query()
	if isCountSegment(r) && !eventual(r) {
		writeError(w, r, http.StatusBadRequest, "Request_BadRequest", msgCountSegment)
		return
	}
	lq, out, qerr := query(q, eventual(r), col, out)
	if qerr != nil {
		writeError(w, r, http.StatusBadRequest, qerr.code, qerr.message)
		return
	}
	if isCountSegment(r) {
		h := w.Header()
		h.Set("Content-Type", "text/plain")
		h.Set("request-id", requestID(r))
		if id := r.Header.Get("client-request-id"); id != "" {
			h.Set("client-request-id", id)
		}
		w.WriteHeader(http.StatusOK)
		fmt.Fprint(w, len(out))
		return
	}
	top, ok := pageTop(w, r, q)
	if !ok {
		return
	}
	offset, err := odata.ParseSkipToken(q.Get("$skiptoken"))
	if err != nil {
		writeError(w, r, http.StatusBadRequest, "Request_UnsupportedQuery", err.Error())
		return
	}
	sel, ok := pageSelect(w, r, q)
	if !ok {
		return
	}
	count, next := -1, ""
	if lq.count && offset == 0 {
		count = len(out)
	}
	if offset+top < len(out) {
		next = odata.SkipToken(offset + top)
	}
	writePage(w, r, col, out[min(offset, len(out)):min(offset+top, len(out))], sel, count, next)
}

// pageTop reads a list's $top: Graph's default page size when absent, or its refusal.
func pageTop(w http.ResponseWriter, r *http.Request, q url.Values) (int, bool) {
	top, err := odata.ParseTop(q.Get("$top"), maxPageSize)
	if err != nil {
		writeError(w, r, http.StatusBadRequest, "Request_UnsupportedQuery", err.Error())
		return 0, false
	}
	if top == 0 {
		top = defaultPageSize
	}
	return top, true
}

// pageSelect reads a list's $select, or its refusal.
func pageSelect(w http.ResponseWriter, r *http.Request, q url.Values) ([]string, bool) {
	sel, err := odata.ParseSelect(q.Get("$select"))
	if err != nil {
		writeError(w, r, http.StatusBadRequest, "BadRequest", err.Error())
		return nil, false
	}
	return sel, true
}

// writePage writes one page of a list: the objects with the properties sel names, @odata.count
// when count is not negative, and an @odata.nextLink whose $skiptoken is next when there is one.
func writePage(w http.ResponseWriter, r *http.Request, col collection, objs []map[string]any, sel []string, count int, next string) {
	page := make([]map[string]any, 0, len(objs))
	for _, o := range objs {
		obj, err := project(o, sel)
		if err != nil {
			writeError(w, r, http.StatusBadRequest, "BadRequest", err.Error())
			return
		}
		page = append(page, obj)
	}
	body := map[string]any{"@odata.context": "https://graph.microsoft.com/v1.0/$metadata#" + col.set, "value": page}
	if count >= 0 {
		body["@odata.count"] = count
	}
	if next != "" {
		// The request's own options, as written, and the next page's $skiptoken (unescaped, as
		// Graph writes its nextLinks).
		var kept []string
		for _, kv := range strings.Split(r.URL.RawQuery, "&") {
			name, _, _ := strings.Cut(kv, "=")
			if kv != "" && name != "$skiptoken" && name != "%24skiptoken" {
				kept = append(kept, kv)
			}
		}
		kept = append(kept, "$skiptoken="+next)
		body["@odata.nextLink"] = "https://" + r.Host + r.URL.EscapedPath() + "?" + strings.Join(kept, "&")
	}
	writeJSON(w, r, http.StatusOK, body)
}

type passwordProfileJSON struct {
	Password                      *string `json:"password"`
	ForceChangePasswordNextSignIn *bool   `json:"forceChangePasswordNextSignIn"`
}

func (s *Server) createUser(w http.ResponseWriter, r *http.Request, c bearer.Claims) {
	if !s.allow(w, r, c, true, writeUsers...) {
		return
	}
	var body struct {
		AccountEnabled    *bool                `json:"accountEnabled"`
		DisplayName       *string              `json:"displayName"`
		MailNickname      *string              `json:"mailNickname"`
		UserPrincipalName *string              `json:"userPrincipalName"`
		PasswordProfile   *passwordProfileJSON `json:"passwordProfile"`
	}
	if !decodeCreate(w, r, &body, "user", userCreatable) {
		return
	}
	for _, req := range []struct {
		name    string
		present bool
	}{
		{"accountEnabled", body.AccountEnabled != nil},
		{"displayName", body.DisplayName != nil},
		{"mailNickname", body.MailNickname != nil},
		{"passwordProfile", body.PasswordProfile != nil && body.PasswordProfile.Password != nil},
		{"userPrincipalName", body.UserPrincipalName != nil},
	} {
		if !req.present {
			writeError(w, r, http.StatusBadRequest, "Request_BadRequest",
				fmt.Sprintf("Invalid value specified for property '%s' of resource 'User'.", req.name))
			return
		}
	}
	spec := directory.UserSpec{
		UserPrincipalName: *body.UserPrincipalName, DisplayName: *body.DisplayName, MailNickname: *body.MailNickname,
		AccountEnabled: *body.AccountEnabled, Password: *body.PasswordProfile.Password,
	}
	if f := body.PasswordProfile.ForceChangePasswordNextSignIn; f != nil {
		spec.ForceChangePasswordNextSignIn = *f
	}
	u, err := s.dir.CreateUser(r.Context(), c.TenantID, spec)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	w.Header().Set("Location", "https://graph.microsoft.com/v2/"+c.TenantID+"/directoryObjects/"+u.ObjectID+"/Microsoft.DirectoryServices.User")
	writeEntity(w, r, http.StatusCreated, "users", userJSON(u))
}

// entity is a user or a group at its own path: what GET answers, how PATCH and DELETE change it,
// and the application permissions each needs (a person: any member reads, the administrator
// writes; self may read itself).
type entity struct {
	set                   string // "users" or "groups"
	json                  map[string]any
	readRoles, writeRoles []string
	self                  bool
	patch                 func() // reads the body, changes the object and answers
	remove                func() error
}

// entityAction answers GET, PATCH and DELETE on an object's own path.
func (s *Server) entityAction(w http.ResponseWriter, r *http.Request, c bearer.Claims, e entity) {
	switch r.Method {
	case http.MethodGet:
		if e.self || s.allow(w, r, c, false, e.readRoles...) {
			writeEntity(w, r, http.StatusOK, e.set, e.json)
		}
	case http.MethodPatch:
		if s.allow(w, r, c, true, e.writeRoles...) {
			e.patch()
		}
	case http.MethodDelete:
		if s.allow(w, r, c, true, e.writeRoles...) {
			s.noContent(w, r, e.remove())
		}
	default:
		methodNotAllowed(w, r)
	}
}

func (s *Server) userAction(w http.ResponseWriter, r *http.Request, c bearer.Claims, u store.User, rest []string) {
	ctx := r.Context()
	self := strings.EqualFold(c.ObjectID, u.ObjectID)
	switch {
	case len(rest) == 0:
		s.entityAction(w, r, c, entity{set: "users", json: userJSON(u), readRoles: readUsers, writeRoles: writeUsers, self: self,
			patch:  func() { s.patchUser(w, r, u) },
			remove: func() error { return s.dir.DeleteUser(ctx, u.ObjectID) }})
	case len(rest) == 1 && rest[0] == "revokeSignInSessions" && r.Method == http.MethodPost:
		if !self && !s.allow(w, r, c, true, writeUsers...) {
			return
		}
		if err := s.dir.RevokeSessions(ctx, u.ObjectID); err != nil {
			s.fail(w, r, err)
			return
		}
		writeJSON(w, r, http.StatusOK, map[string]any{"@odata.context": "https://graph.microsoft.com/v1.0/$metadata#Edm.Boolean", "value": true})
	case len(rest) == 1 && rest[0] == "ownedObjects" && r.Method == http.MethodGet:
		if self || s.allow(w, r, c, false, readUsers...) {
			s.ownedObjects(w, r, u)
		}
	case len(rest) >= 1:
		if self || s.allow(w, r, c, false, readUsers...) {
			s.membershipAction(w, r, c, u.ObjectID, rest)
		}
	default:
		methodNotAllowed(w, r)
	}
}

// patchUser updates a user from a PATCH body (Graph's user properties mint keeps).
func (s *Server) patchUser(w http.ResponseWriter, r *http.Request, u store.User) {
	var body struct {
		AccountEnabled    *bool                `json:"accountEnabled"`
		DisplayName       *string              `json:"displayName"`
		MailNickname      *string              `json:"mailNickname"`
		UserPrincipalName *string              `json:"userPrincipalName"`
		PasswordProfile   *passwordProfileJSON `json:"passwordProfile"`
	}
	if !decodeOnly(w, r, &body, "user", userPatchable) {
		return
	}
	up := directory.UserUpdate{AccountEnabled: body.AccountEnabled, DisplayName: body.DisplayName,
		MailNickname: body.MailNickname, UserPrincipalName: body.UserPrincipalName}
	if p := body.PasswordProfile; p != nil {
		up.Password, up.ForceChangePasswordNextSignIn = p.Password, p.ForceChangePasswordNextSignIn
	}
	_, err := s.dir.UpdateUser(r.Context(), u.ObjectID, up)
	s.noContent(w, r, err)
}

// membershipAction serves memberOf, transitiveMemberOf (GET) and getMemberGroups,
// getMemberObjects, checkMemberGroups (POST) of any directory object. The caller's right to read
// the object was checked before.
func (s *Server) membershipAction(w http.ResponseWriter, r *http.Request, c bearer.Claims, objectID string, rest []string) {
	ctx := r.Context()
	if len(rest) != 1 {
		writeError(w, r, http.StatusBadRequest, "BadRequest", fmt.Sprintf("Resource not found for the segment '%s'.", rest[len(rest)-1]))
		return
	}
	switch {
	case (rest[0] == "memberOf" || rest[0] == "transitiveMemberOf") && r.Method == http.MethodGet:
		var groups []store.Group
		var err error
		if rest[0] == "memberOf" {
			groups, err = s.dir.MemberOf(ctx, objectID)
		} else {
			groups, err = s.dir.TransitiveMemberOf(ctx, objectID)
		}
		writeItems(s, w, r, "directoryObjects", groups, err, groupJSON)
	case (rest[0] == "getMemberGroups" || rest[0] == "getMemberObjects") && r.Method == http.MethodPost:
		var body struct {
			SecurityEnabledOnly *bool `json:"securityEnabledOnly"`
		}
		if !decode(w, r, &body, true) {
			return
		}
		ids, err := s.dir.TransitiveGroupIDs(ctx, objectID)
		if err != nil {
			s.internal(w, r, err)
			return
		}
		writeJSON(w, r, http.StatusOK, map[string]any{"@odata.context": "https://graph.microsoft.com/v1.0/$metadata#Collection(Edm.String)", "value": nonNil(ids)})
	case rest[0] == "checkMemberGroups" && r.Method == http.MethodPost:
		var body struct {
			GroupIDs []string `json:"groupIds"`
		}
		if !decode(w, r, &body, false) {
			return
		}
		if len(body.GroupIDs) == 0 || len(body.GroupIDs) > 20 {
			writeError(w, r, http.StatusBadRequest, "Request_BadRequest", "groupIds must name from 1 to 20 groups.")
			return
		}
		ids, err := s.dir.TransitiveGroupIDs(ctx, objectID)
		if err != nil {
			s.internal(w, r, err)
			return
		}
		member := map[string]bool{}
		for _, id := range ids {
			member[id] = true
		}
		out := []string{}
		for _, g := range body.GroupIDs {
			if member[strings.ToLower(g)] {
				out = append(out, g)
			}
		}
		writeJSON(w, r, http.StatusOK, map[string]any{"@odata.context": "https://graph.microsoft.com/v1.0/$metadata#Collection(Edm.String)", "value": out})
	default:
		writeError(w, r, http.StatusBadRequest, "BadRequest", fmt.Sprintf("Resource not found for the segment '%s'.", rest[0]))
	}
}

func (s *Server) listGroups(w http.ResponseWriter, r *http.Request, c bearer.Claims) {
	if !s.allow(w, r, c, false, readGroups...) {
		return
	}
	s.listGroupsPaged(w, r, c.TenantID)
}

func (s *Server) createGroup(w http.ResponseWriter, r *http.Request, c bearer.Claims) {
	if !s.allow(w, r, c, true, writeGroups...) {
		return
	}
	var body struct {
		DisplayName     *string  `json:"displayName"`
		MailNickname    *string  `json:"mailNickname"`
		Description     string   `json:"description"`
		MailEnabled     *bool    `json:"mailEnabled"`
		SecurityEnabled *bool    `json:"securityEnabled"`
		GroupTypes      []string `json:"groupTypes"`
		MembersBind     []string `json:"members@odata.bind"`
	}
	if !decodeCreate(w, r, &body, "group", groupCreatable) {
		return
	}
	for _, req := range []struct {
		name    string
		present bool
	}{
		{"displayName", body.DisplayName != nil},
		{"mailNickname", body.MailNickname != nil},
		{"mailEnabled", body.MailEnabled != nil},
		{"securityEnabled", body.SecurityEnabled != nil},
	} {
		if !req.present {
			writeError(w, r, http.StatusBadRequest, "Request_BadRequest",
				fmt.Sprintf("Invalid value specified for property '%s' of resource 'Group'.", req.name))
			return
		}
	}
	if *body.MailEnabled || !*body.SecurityEnabled || len(body.GroupTypes) > 0 {
		writeError(w, r, http.StatusBadRequest, "Request_BadRequest",
			"mint's directory holds security groups only: set mailEnabled false, securityEnabled true and no groupTypes.")
		return
	}
	// members@odata.bind: at most 20 members in the request that creates the group, as Graph
	// allows; every one must exist before the group is made.
	if len(body.MembersBind) > maxMembersBind {
		writeError(w, r, http.StatusBadRequest, "Request_BadRequest",
			fmt.Sprintf("members@odata.bind may name at most %d members in one request; add the others with members/$ref.", maxMembersBind))
		return
	}
	var memberIDs []string
	for _, ref := range body.MembersBind {
		id, ok := boundObjectID(ref)
		if !ok {
			writeError(w, r, http.StatusBadRequest, "Request_BadRequest",
				fmt.Sprintf("Invalid URL format specified in @odata.bind for members: '%s'; use https://graph.microsoft.com/v1.0/directoryObjects/{id}.", ref))
			return
		}
		if _, err := s.dir.Object(r.Context(), c.TenantID, id); err != nil {
			s.notFound(w, r, id, err)
			return
		}
		memberIDs = append(memberIDs, id)
	}
	g, err := s.dir.CreateGroup(r.Context(), c.TenantID, directory.GroupSpec{DisplayName: *body.DisplayName, MailNickname: *body.MailNickname, Description: body.Description})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	for _, id := range memberIDs {
		if err := s.dir.AddMember(r.Context(), g.ObjectID, id); err != nil && !errors.Is(err, store.ErrConflict) {
			if derr := s.dir.DeleteGroup(r.Context(), g.ObjectID); derr != nil {
				s.log.Error("undo group creation", "group", g.ObjectID, "err", derr)
			}
			s.memberChanged(w, r, id, err)
			return
		}
	}
	writeEntity(w, r, http.StatusCreated, "groups", groupJSON(g))
}

// maxMembersBind is how many members Graph takes in one members@odata.bind.
const maxMembersBind = 20

// boundObjectID reads the object id of an @odata.bind reference: a URL (or path) ending in
// directoryObjects/{id}, users/{id}, groups/{id} or servicePrincipals/{id}.
func boundObjectID(ref string) (string, bool) {
	ref = strings.TrimSpace(ref)
	i := strings.LastIndexByte(ref, '/')
	if i <= 0 || len(ref) > 2048 {
		return "", false
	}
	set, id := ref[:i], ref[i+1:]
	set = set[strings.LastIndexByte(set, '/')+1:]
	switch set {
	case "directoryObjects", "users", "groups", "servicePrincipals":
	default:
		return "", false
	}
	if id == "" || strings.ContainsAny(id, "?#'() ") {
		return "", false
	}
	return id, true
}

func (s *Server) groupAction(w http.ResponseWriter, r *http.Request, c bearer.Claims, g store.Group, rest []string) {
	ctx := r.Context()
	switch {
	case len(rest) == 0:
		s.entityAction(w, r, c, entity{set: "groups", json: groupJSON(g), readRoles: readGroups, writeRoles: writeGroups,
			patch:  func() { s.patchGroup(w, r, g) },
			remove: func() error { return s.dir.DeleteGroup(ctx, g.ObjectID) }})
	case (len(rest) == 1 && (rest[0] == "members" || rest[0] == "transitiveMembers")) && r.Method == http.MethodGet:
		if !s.allow(w, r, c, false, readGroups...) {
			return
		}
		var ms []store.GroupMember
		var err error
		if rest[0] == "members" {
			ms, err = s.dir.Members(ctx, g.ObjectID)
		} else {
			ms, err = s.dir.TransitiveMembers(ctx, g.ObjectID)
		}
		if err != nil {
			s.internal(w, r, err)
			return
		}
		out := []map[string]any{}
		for _, m := range ms {
			obj, err := s.dir.Object(ctx, g.TenantID, m.MemberID)
			if errors.Is(err, store.ErrNotFound) {
				continue // deleted meanwhile
			}
			if err != nil {
				s.internal(w, r, err)
				return
			}
			out = append(out, objectJSON(obj))
		}
		s.writeList(w, r, "directoryObjects", out)
	case len(rest) == 2 && rest[0] == "members" && rest[1] == "$ref" && r.Method == http.MethodPost:
		if !s.allow(w, r, c, true, writeMembers...) {
			return
		}
		// The same reference as owners/$ref: a URL naming a directory object, user, group or
		// service principal (an application's URL, or a path with more after the id, is refused).
		data, ok := readBody(w, r)
		if !ok {
			return
		}
		id, err := parseRef(data)
		if err != nil {
			writeError(w, r, http.StatusBadRequest, "Request_BadRequest", err.Error())
			return
		}
		s.memberChanged(w, r, id, s.dir.AddMember(ctx, g.ObjectID, id))
	case len(rest) == 3 && rest[0] == "members" && rest[2] == "$ref" && r.Method == http.MethodDelete:
		if !s.allow(w, r, c, true, writeMembers...) {
			return
		}
		s.memberChanged(w, r, rest[1], s.dir.RemoveMember(ctx, g.ObjectID, rest[1]))
	case len(rest) >= 1:
		if s.allow(w, r, c, false, readGroups...) {
			s.membershipAction(w, r, c, g.ObjectID, rest)
		}
	default:
		methodNotAllowed(w, r)
	}
}

// patchGroup updates a group from a PATCH body.
func (s *Server) patchGroup(w http.ResponseWriter, r *http.Request, g store.Group) {
	var body struct {
		DisplayName  *string `json:"displayName"`
		MailNickname *string `json:"mailNickname"`
		Description  *string `json:"description"`
	}
	if !decodeOnly(w, r, &body, "group", groupPatchable) {
		return
	}
	_, err := s.dir.UpdateGroup(r.Context(), g.ObjectID, directory.GroupUpdate{DisplayName: body.DisplayName, MailNickname: body.MailNickname, Description: body.Description})
	s.noContent(w, r, err)
}

// getByIDs serves directoryObjects/getByIds: the objects of the tenant with those ids, of the
// types asked for (all when none), skipping ids it does not know, as Graph does.
func (s *Server) getByIDs(w http.ResponseWriter, r *http.Request, c bearer.Claims) {
	if !s.allow(w, r, c, false, readObjects...) {
		return
	}
	var body struct {
		IDs   []string `json:"ids"`
		Types []string `json:"types"`
	}
	if !decode(w, r, &body, false) {
		return
	}
	if len(body.IDs) == 0 || len(body.IDs) > 1000 {
		writeError(w, r, http.StatusBadRequest, "Request_BadRequest", "ids must name from 1 to 1000 objects.")
		return
	}
	types := map[string]bool{}
	for _, t := range body.Types {
		types[strings.ToLower(t)] = true
	}
	out := []map[string]any{}
	for _, id := range body.IDs {
		obj, err := s.dir.Object(r.Context(), c.TenantID, id)
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			s.internal(w, r, err)
			return
		}
		if len(types) > 0 && !types[strings.ToLower(odataTypeName(obj.Type))] {
			continue
		}
		out = append(out, objectJSON(obj))
	}
	writeJSON(w, r, http.StatusOK, map[string]any{"@odata.context": "https://graph.microsoft.com/v1.0/$metadata#directoryObjects", "value": out})
}

func odataTypeName(t store.MemberType) string {
	switch t {
	case store.MemberUser:
		return "user"
	case store.MemberGroup:
		return "group"
	default:
		return "servicePrincipal"
	}
}

func objectJSON(o directory.Object) map[string]any {
	switch o.Type {
	case store.MemberUser:
		return userJSON(o.User)
	case store.MemberGroup:
		return groupJSON(o.Group)
	default:
		out := servicePrincipalJSON(o.ServicePrincipal)
		out["@odata.type"] = "#microsoft.graph.servicePrincipal"
		return out
	}
}

func userJSON(u store.User) map[string]any {
	return map[string]any{
		"@odata.type":       "#microsoft.graph.user",
		"id":                u.ObjectID,
		"businessPhones":    []string{},
		"displayName":       u.DisplayName,
		"givenName":         nil,
		"jobTitle":          nil,
		"mail":              nil,
		"mobilePhone":       nil,
		"officeLocation":    nil,
		"preferredLanguage": nil,
		"surname":           nil,
		"userPrincipalName": u.UserPrincipalName,
		"mailNickname":      u.MailNickname,
		"accountEnabled":    u.AccountEnabled,
		"createdDateTime":   u.CreatedAt,
		"userType":          "Member",
	}
}

func groupJSON(g store.Group) map[string]any {
	var desc any
	if g.Description != "" {
		desc = g.Description
	}
	return map[string]any{
		"@odata.type":     "#microsoft.graph.group",
		"id":              g.ObjectID,
		"createdDateTime": g.CreatedAt,
		"description":     desc,
		"displayName":     g.DisplayName,
		"groupTypes":      []string{},
		"mail":            nil,
		"mailEnabled":     g.MailEnabled,
		"mailNickname":    g.MailNickname,
		"securityEnabled": g.SecurityEnabled,
		"visibility":      nil,
	}
}
