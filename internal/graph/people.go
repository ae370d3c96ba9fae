package graph

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/mint-id/mint/internal/bearer"
	"github.com/mint-id/mint/internal/directory"
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
	users, err := s.dir.Users(r.Context(), c.TenantID)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	out := []map[string]any{}
	for _, u := range users {
		out = append(out, userJSON(u))
	}
	s.writeList(w, r, "users", out)
}

// writeList writes a collection after the request's $filter.
func (s *Server) writeList(w http.ResponseWriter, r *http.Request, what string, out []map[string]any) {
	out, err := filterList(r.URL.Query().Get("$filter"), out)
	if err != nil {
		writeError(w, r, http.StatusBadRequest, "Request_UnsupportedQuery", err.Error())
		return
	}
	writeJSON(w, r, http.StatusOK, map[string]any{"@odata.context": "https://graph.microsoft.com/v1.0/$metadata#" + what, "value": out})
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
	if !decode(w, r, &body, false) {
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
	out := userJSON(u)
	out["@odata.context"] = "https://graph.microsoft.com/v1.0/$metadata#users/$entity"
	writeJSON(w, r, http.StatusCreated, out)
}

func (s *Server) userAction(w http.ResponseWriter, r *http.Request, c bearer.Claims, u store.User, rest []string) {
	ctx := r.Context()
	self := strings.EqualFold(c.ObjectID, u.ObjectID)
	switch {
	case len(rest) == 0 && r.Method == http.MethodGet:
		if self || s.allow(w, r, c, false, readUsers...) {
			out := userJSON(u)
			out["@odata.context"] = "https://graph.microsoft.com/v1.0/$metadata#users/$entity"
			writeJSON(w, r, http.StatusOK, out)
		}
	case len(rest) == 0 && r.Method == http.MethodDelete:
		if !s.allow(w, r, c, true, writeUsers...) {
			return
		}
		if err := s.dir.DeleteUser(ctx, u.ObjectID); err != nil {
			s.fail(w, r, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	case len(rest) == 0 && r.Method == http.MethodPatch:
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
		if !decode(w, r, &body, false) {
			return
		}
		up := directory.UserUpdate{AccountEnabled: body.AccountEnabled, DisplayName: body.DisplayName,
			MailNickname: body.MailNickname, UserPrincipalName: body.UserPrincipalName}
		if p := body.PasswordProfile; p != nil {
			up.Password, up.ForceChangePasswordNextSignIn = p.Password, p.ForceChangePasswordNextSignIn
		}
		if _, err := s.dir.UpdateUser(ctx, u.ObjectID, up); err != nil {
			s.fail(w, r, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	case len(rest) == 1 && rest[0] == "revokeSignInSessions" && r.Method == http.MethodPost:
		if !self && !s.allow(w, r, c, true, writeUsers...) {
			return
		}
		if err := s.dir.RevokeSessions(ctx, u.ObjectID); err != nil {
			s.fail(w, r, err)
			return
		}
		writeJSON(w, r, http.StatusOK, map[string]any{"@odata.context": "https://graph.microsoft.com/v1.0/$metadata#Edm.Boolean", "value": true})
	case len(rest) >= 1:
		if self || s.allow(w, r, c, false, readUsers...) {
			s.membershipAction(w, r, c, u.ObjectID, rest)
		}
	default:
		methodNotAllowed(w, r)
	}
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
		if err != nil {
			s.internal(w, r, err)
			return
		}
		out := []map[string]any{}
		for _, g := range groups {
			out = append(out, groupJSON(g))
		}
		s.writeList(w, r, "directoryObjects", out)
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
	groups, err := s.dir.Groups(r.Context(), c.TenantID)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	out := []map[string]any{}
	for _, g := range groups {
		out = append(out, groupJSON(g))
	}
	s.writeList(w, r, "groups", out)
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
	}
	if !decode(w, r, &body, false) {
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
	g, err := s.dir.CreateGroup(r.Context(), c.TenantID, directory.GroupSpec{DisplayName: *body.DisplayName, MailNickname: *body.MailNickname, Description: body.Description})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	out := groupJSON(g)
	out["@odata.context"] = "https://graph.microsoft.com/v1.0/$metadata#groups/$entity"
	writeJSON(w, r, http.StatusCreated, out)
}

func (s *Server) groupAction(w http.ResponseWriter, r *http.Request, c bearer.Claims, g store.Group, rest []string) {
	ctx := r.Context()
	switch {
	case len(rest) == 0 && r.Method == http.MethodGet:
		if s.allow(w, r, c, false, readGroups...) {
			out := groupJSON(g)
			out["@odata.context"] = "https://graph.microsoft.com/v1.0/$metadata#groups/$entity"
			writeJSON(w, r, http.StatusOK, out)
		}
	case len(rest) == 0 && r.Method == http.MethodDelete:
		if !s.allow(w, r, c, true, writeGroups...) {
			return
		}
		if err := s.dir.DeleteGroup(ctx, g.ObjectID); err != nil {
			s.fail(w, r, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	case len(rest) == 0 && r.Method == http.MethodPatch:
		if !s.allow(w, r, c, true, writeGroups...) {
			return
		}
		var body struct {
			DisplayName  *string `json:"displayName"`
			MailNickname *string `json:"mailNickname"`
			Description  *string `json:"description"`
		}
		if !decode(w, r, &body, false) {
			return
		}
		if _, err := s.dir.UpdateGroup(ctx, g.ObjectID, directory.GroupUpdate{DisplayName: body.DisplayName, MailNickname: body.MailNickname, Description: body.Description}); err != nil {
			s.fail(w, r, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
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
		var body struct {
			ODataID string `json:"@odata.id"`
		}
		if !decode(w, r, &body, false) {
			return
		}
		ref := strings.TrimSpace(body.ODataID)
		if ref == "" {
			writeError(w, r, http.StatusBadRequest, "Request_BadRequest", "The request body must name the member in @odata.id, as https://graph.microsoft.com/v1.0/directoryObjects/{id}.")
			return
		}
		id := ref[strings.LastIndexByte(ref, '/')+1:]
		if err := s.dir.AddMember(ctx, g.ObjectID, id); err != nil {
			if errors.Is(err, store.ErrNotFound) {
				s.notFound(w, r, id, err)
				return
			}
			s.fail(w, r, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	case len(rest) == 3 && rest[0] == "members" && rest[2] == "$ref" && r.Method == http.MethodDelete:
		if !s.allow(w, r, c, true, writeMembers...) {
			return
		}
		if err := s.dir.RemoveMember(ctx, g.ObjectID, rest[1]); err != nil {
			if errors.Is(err, store.ErrNotFound) {
				s.notFound(w, r, rest[1], err)
				return
			}
			s.fail(w, r, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	case len(rest) >= 1:
		if s.allow(w, r, c, false, readGroups...) {
			s.membershipAction(w, r, c, g.ObjectID, rest)
		}
	default:
		methodNotAllowed(w, r)
	}
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
