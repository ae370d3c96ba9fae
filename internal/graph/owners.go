package graph

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/mint-id/mint/internal/bearer"
	"github.com/mint-id/mint/internal/directory"
	"github.com/mint-id/mint/internal/store"
)

// Owners of applications and service principals, and who may change an application, as in
// Entra (https://learn.microsoft.com/entra/identity/role-based-access-control/delegate-app-roles#assign-application-owners):
//   - an application with Application.ReadWrite.All may change any application;
//   - any member signed in may register an application ("Users can register applications" is
//     Yes by default, https://learn.microsoft.com/entra/fundamentals/users-default-permissions)
//     and becomes its owner;
//   - a signed-in person may change an application (PATCH, DELETE, credentials, federated
//     credentials, owners) when they own it or administer the directory; anyone else gets
//     Graph's 403 Authorization_RequestDenied "Insufficient privileges to complete the operation.";
//   - every member may read applications and their owners.
//
// mint keeps an application and its service principal as one object, so
// /applications/{id}/owners and /servicePrincipals/{id}/owners are one list.

// msgInsufficientPrivileges is Graph's message for a write the caller may not make.
const msgInsufficientPrivileges = "Insufficient privileges to complete the operation."

// allowAppWrite checks that the caller may change the application sp.
func (s *Server) allowAppWrite(w http.ResponseWriter, r *http.Request, c bearer.Claims, sp store.ServicePrincipal) bool {
	if c.HasRole(directory.RoleApplicationReadWriteAll) {
		return true
	}
	u, ok := s.person(r.Context(), c)
	if !ok {
		return require(w, r, c, writeApps...)
	}
	may, err := s.dir.MayManageApplication(r.Context(), sp, u)
	if err != nil {
		s.internal(w, r, err)
		return false
	}
	if !may {
		writeError(w, r, http.StatusForbidden, "Authorization_RequestDenied", msgInsufficientPrivileges)
	}
	return may
}

// registrant returns who registers an application: "" for an application with
// Application.ReadWrite.All (it does not become an owner), the signed-in member otherwise (who
// does). false when the caller may not register applications; the answer has been written.
func (s *Server) registrant(w http.ResponseWriter, r *http.Request, c bearer.Claims) (string, bool) {
	if c.HasRole(directory.RoleApplicationReadWriteAll) {
		return "", true
	}
	if u, ok := s.person(r.Context(), c); ok {
		return u.ObjectID, true
	}
	return "", require(w, r, c, writeApps...)
}

// owners serves rest = ["owners"], ["owners", "$ref"] and ["owners", "{id}", "$ref"] of the
// application or service principal sp.
func (s *Server) owners(w http.ResponseWriter, r *http.Request, c bearer.Claims, sp store.ServicePrincipal, rest []string) {
	ctx := r.Context()
	switch {
	case len(rest) == 1 && r.Method == http.MethodGet:
		if !s.allow(w, r, c, false, readApps...) {
			return
		}
		owners, err := s.dir.Owners(ctx, sp)
		if err != nil {
			s.internal(w, r, err)
			return
		}
		out := []map[string]any{}
		for _, o := range owners {
			out = append(out, objectJSON(o))
		}
		s.writeList(w, r, "directoryObjects", out)
	case len(rest) == 2 && rest[1] == "$ref" && r.Method == http.MethodPost:
		if !s.allowAppWrite(w, r, c, sp) {
			return
		}
		data, ok := readBody(w, r)
		if !ok {
			return
		}
		id, err := parseRef(data)
		if err != nil {
			writeError(w, r, http.StatusBadRequest, "Request_BadRequest", err.Error())
			return
		}
		s.memberChanged(w, r, id, s.dir.AddOwner(ctx, sp, id))
	case len(rest) == 3 && rest[2] == "$ref" && r.Method == http.MethodDelete:
		if !s.allowAppWrite(w, r, c, sp) {
			return
		}
		s.memberChanged(w, r, rest[1], s.dir.RemoveOwner(ctx, sp, rest[1]))
	case len(rest) == 1 || (len(rest) == 2 && rest[1] == "$ref") || (len(rest) == 3 && rest[2] == "$ref"):
		methodNotAllowed(w, r)
	default:
		writeError(w, r, http.StatusBadRequest, "BadRequest", fmt.Sprintf("Resource not found for the segment '%s'.", rest[len(rest)-1]))
	}
}

// ownedObjects answers GET /me/ownedObjects and /users/{id}/ownedObjects: the applications the
// user owns and, as each is also its service principal in mint, that service principal.
func (s *Server) ownedObjects(w http.ResponseWriter, r *http.Request, u store.User) {
	apps, err := s.dir.OwnedApplications(r.Context(), u.TenantID, u.ObjectID)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	out := []map[string]any{}
	for _, sp := range apps {
		creds, err := s.st.ListCredentials(r.Context(), sp.ObjectID)
		if err != nil {
			s.internal(w, r, err)
			return
		}
		app := applicationJSON(sp, creds)
		delete(app, "@odata.context")
		app["@odata.type"] = "#microsoft.graph.application"
		out = append(out, app, servicePrincipalJSON(sp))
	}
	s.writeList(w, r, "directoryObjects", out)
}

// readBody reads a request body within Graph's size limit; false when the answer was written.
func readBody(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	var data json.RawMessage
	if !decode(w, r, &data, false) {
		return nil, false
	}
	return data, true
}

// errBadRef is the refusal of a $ref body that names no directory object.
var errBadRef = errors.New(`The request body must name one directory object in @odata.id, as {"@odata.id": "https://graph.microsoft.com/v1.0/directoryObjects/{id}"}.`)

// parseRef reads the body of a POST .../$ref: a JSON object whose @odata.id is the URL (or
// path) of a directory object, and returns the object's id.
func parseRef(data []byte) (string, error) {
	if !utf8.Valid(data) {
		return "", errBadRef
	}
	var body struct {
		ODataID *string `json:"@odata.id"`
	}
	if err := json.Unmarshal(data, &body); err != nil || body.ODataID == nil {
		return "", errBadRef
	}
	id, ok := boundObjectID(*body.ODataID)
	if !ok || strings.ContainsAny(id, "/\\") {
		return "", errBadRef
	}
	return id, nil
}

// createServicePrincipal answers POST /servicePrincipals {"appId": ...} (az ad sp create,
// az ad sp create-for-rbac). mint creates an application's service principal with the
// application, so this answers 201 with it once the caller may change the application (Entra lets
// the creator own the new service principal; in mint its owners are the application's already).
func (s *Server) createServicePrincipal(w http.ResponseWriter, r *http.Request, c bearer.Claims) {
	var body struct {
		AppID          string `json:"appId"`
		AccountEnabled *bool  `json:"accountEnabled"`
	}
	if !decodeCreate(w, r, &body, "service principal", servicePrincipalCreatable) {
		return
	}
	if body.AccountEnabled != nil && !*body.AccountEnabled {
		// mint's service principals are always enabled (its answers say accountEnabled true).
		writeError(w, r, http.StatusBadRequest, "Request_BadRequest",
			"mint does not store the property 'accountEnabled' of a new service principal other than true: its service principals are always enabled.")
		return
	}
	if body.AppID == "" {
		writeError(w, r, http.StatusBadRequest, "Request_BadRequest", "Property appId is required to create a service principal.")
		return
	}
	sp, err := s.dir.Client(r.Context(), c.TenantID, body.AppID)
	if err == nil && (sp.Kind != store.KindApplication || sp.Builtin) {
		err = store.ErrNotFound
	}
	if errors.Is(err, store.ErrNotFound) {
		writeError(w, r, http.StatusBadRequest, "Request_BadRequest",
			fmt.Sprintf("The appId '%s' of the service principal does not reference a valid application object.", body.AppID))
		return
	}
	if err != nil {
		s.internal(w, r, err)
		return
	}
	if !s.allowAppWrite(w, r, c, sp) {
		return
	}
	w.Header().Set("Location", "/v1.0/servicePrincipals/"+sp.ObjectID)
	out := servicePrincipalJSON(sp)
	out["@odata.context"] = "https://graph.microsoft.com/v1.0/$metadata#servicePrincipals/$entity"
	writeJSON(w, r, http.StatusCreated, out)
}
