// Package graph serves the slice of Microsoft Graph that mint's directory needs: applications,
// their secrets, certificates and federated identity credentials, service principals, app role
// grants, users, security groups and their members, and the sign-in log,
// under /v1.0 with Graph's JSON and error shapes. Callers present a Graph token from mint's STS
// carrying the application permissions Graph would require (Application.ReadWrite.All, ...).
//
// One deliberate difference from Entra: mint keeps one object per application and its service
// principal, so an application's id equals its service principal's id.
package graph

import (
	"cmp"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/mint-id/mint/internal/bearer"
	"github.com/mint-id/mint/internal/directory"
	"github.com/mint-id/mint/internal/jsonbody"
	"github.com/mint-id/mint/internal/odata"
	"github.com/mint-id/mint/internal/revocation"
	"github.com/mint-id/mint/internal/store"
)

// Server is the Graph-shaped handler.
type Server struct {
	dir       *directory.Directory
	st        store.Store
	validator *bearer.Validator
	revoked   *revocation.Checker
	log       *slog.Logger
}

func New(dir *directory.Directory, st store.Store, keys bearer.KeySource, issuerBase string, logger *slog.Logger) *Server {
	if logger == nil {
		logger = slog.Default()
	}
	return &Server{
		dir: dir, st: st, log: logger, revoked: revocation.NewChecker(st, nil),
		validator: &bearer.Validator{Keys: keys, IssuerBase: issuerBase,
			Audiences: []string{"https://graph.microsoft.com", "https://canary.graph.microsoft.com", directory.GraphAppID}},
	}
}

// maxBody is Graph's own request size limit (4 MB), so that an oversized field (a 1 MB password)
// is refused for what it is, by the property's own rule, rather than as an oversized request.
const maxBody = 4 << 20

// ServeHTTP handles every path under /v1.0/.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rest, ok := strings.CutPrefix(r.URL.Path, "/v1.0/")
	if !ok {
		writeError(w, r, http.StatusNotFound, "Request_BadRequest", "Only Graph v1.0 paths are served.")
		return
	}
	caller, ok := s.authenticate(w, r)
	if !ok {
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxBody)
	// A system query option given twice ($top=1&$top=999, two $filters) is OData's 400, as in
	// Graph; mint would otherwise read the first and echo both in the nextLink.
	if name, repeated := repeatedQueryOption(r.URL.RawQuery); repeated {
		writeError(w, r, http.StatusBadRequest, "BadRequest", fmt.Sprintf(
			"Query option '%s' was specified more than once, but it must be specified at most once.", name))
		return
	}
	// $expand is not served; refused rather than ignored, since an answer without the related
	// objects reads as "there are none".
	if _, ok := r.URL.Query()["$expand"]; ok {
		writeError(w, r, http.StatusBadRequest, "Request_UnsupportedQuery",
			"$expand is not supported by mint; read the related objects from their own path (for example groups/{id}/members or users/{id}/memberOf).")
		return
	}
	seg := strings.Split(strings.Trim(rest, "/"), "/")
	// users('{id}'), groups('{id}'), directoryObjects('{id}'): the key syntax, as az sends an id
	// that starts with '$'.
	if set, key, ok, err := odata.ParseKeySegment(seg[0]); ok && (set == "users" || set == "groups" || set == "directoryObjects") {
		if err != nil {
			writeError(w, r, http.StatusBadRequest, "BadRequest", err.Error())
			return
		}
		seg = append([]string{set, key}, seg[1:]...)
	}
	r, seg = withCountSegment(r, seg)
	if isDirectoryWrite(r.Method) {
		s.serveWrite(w, r, caller, seg, func(w http.ResponseWriter, r *http.Request) { s.route(w, r, caller, seg) })
		return
	}
	s.route(w, r, caller, seg)
}

// route serves an authenticated request by its path.
func (s *Server) route(w http.ResponseWriter, r *http.Request, caller bearer.Claims, seg []string) {
	switch {
	case seg[0] == "applications" && len(seg) == 1:
		switch r.Method {
		case http.MethodGet:
			s.listApplications(w, r, caller)
		case http.MethodPost:
			s.createApplication(w, r, caller)
		default:
			methodNotAllowed(w, r)
		}
	case strings.HasPrefix(seg[0], "applications"):
		sp, ok := s.application(w, r, caller, seg)
		if !ok {
			return
		}
		// What follows applications/{id} or applications(appId='{appId}').
		rest := seg[1:]
		if seg[0] == "applications" {
			rest = seg[2:]
		}
		switch {
		case len(rest) > 0 && isFederatedCredentials(rest[0]):
			s.federatedCredentials(w, r, caller, sp, rest)
		case len(rest) > 0 && rest[0] == "owners":
			s.owners(w, r, caller, sp, rest)
		case len(rest) > 1:
			writeError(w, r, http.StatusBadRequest, "BadRequest", fmt.Sprintf("Resource not found for the segment '%s'.", rest[1]))
		case len(rest) == 1:
			s.applicationAction(w, r, caller, sp, rest[0])
		default:
			s.applicationAction(w, r, caller, sp, "")
		}
	case seg[0] == "servicePrincipals" && len(seg) == 1 && r.Method == http.MethodPost:
		s.createServicePrincipal(w, r, caller)
	case seg[0] == "servicePrincipals":
		s.servicePrincipals(w, r, caller, seg)
	case seg[0] == "users" || seg[0] == "me" || seg[0] == "groups" || seg[0] == "directoryObjects":
		s.people(w, r, caller, seg)
	case seg[0] == "auditLogs" && len(seg) == 2 && seg[1] == "signIns" && r.Method == http.MethodGet:
		s.listSignIns(w, r, caller)
	default:
		writeError(w, r, http.StatusBadRequest, "BadRequest", fmt.Sprintf("Resource not found for the segment '%s'.", seg[0]))
	}
}

func (s *Server) authenticate(w http.ResponseWriter, r *http.Request) (bearer.Claims, bool) {
	tok, err := bearer.FromRequest(r)
	if err != nil {
		msg := "Access token is empty."
		if !bearer.IsMissing(err) {
			msg = err.Error()
		}
		writeError(w, r, http.StatusUnauthorized, "InvalidAuthenticationToken", msg)
		return bearer.Claims{}, false
	}
	c, err := s.validator.Validate(tok)
	if err != nil {
		writeError(w, r, http.StatusUnauthorized, "InvalidAuthenticationToken", err.Error())
		return c, false
	}
	if _, err := s.dir.Tenant(r.Context(), c.TenantID); err != nil {
		if !errors.Is(err, store.ErrNotFound) {
			s.internal(w, r, err)
			return bearer.Claims{}, false
		}
		writeError(w, r, http.StatusUnauthorized, "InvalidAuthenticationToken", "The token's tenant does not exist.")
		return c, false
	}
	// Beyond Azure, which accepts a token until it expires: one whose principal was deleted or
	// whose managed identity was detached from its resource is refused, as the vault does.
	reason, err := s.revoked.Check(r.Context(), c)
	if err != nil {
		s.log.Error("graph token revocation check failed", "path", r.URL.Path, "err", err)
		w.Header().Set("Retry-After", "1")
		writeError(w, r, http.StatusServiceUnavailable, "serviceNotAvailable", "The service could not check the access token because mint's store did not answer; retry later.")
		return c, false
	}
	if reason != "" {
		s.log.Info("graph token refused", "uti", c.TokenID, "oid", c.ObjectID, "reason", reason)
		writeError(w, r, http.StatusUnauthorized, "InvalidAuthenticationToken", "Access token has been revoked: "+reason+".")
		return c, false
	}
	return c, true
}

// require checks that the caller holds one of the app roles (Graph application permissions).
func require(w http.ResponseWriter, r *http.Request, c bearer.Claims, roles ...string) bool {
	for _, role := range roles {
		if c.HasRole(role) {
			return true
		}
	}
	writeError(w, r, http.StatusForbidden, "Authorization_RequestDenied",
		fmt.Sprintf("Insufficient privileges to complete the operation. The application %s needs one of these application permissions on Microsoft Graph: %s.", c.ClientID(), strings.Join(roles, ", ")))
	return false
}

var (
	readApps  = []string{directory.RoleApplicationReadWriteAll, directory.RoleApplicationReadAll, directory.RoleDirectoryReadAll}
	writeApps = []string{directory.RoleApplicationReadWriteAll}
)

// application resolves applications/{id} or applications(appId='{appId}').
func (s *Server) application(w http.ResponseWriter, r *http.Request, c bearer.Claims, seg []string) (store.ServicePrincipal, bool) {
	var sp store.ServicePrincipal
	var err error
	var ref string
	if appID, ok := strings.CutPrefix(seg[0], "applications(appId='"); ok {
		ref = strings.TrimSuffix(appID, "')")
		sp, err = s.dir.Client(r.Context(), c.TenantID, ref)
	} else if seg[0] == "applications" && len(seg) >= 2 {
		ref = seg[1]
		sp, err = s.st.GetPrincipal(r.Context(), ref)
	} else {
		writeError(w, r, http.StatusBadRequest, "BadRequest", fmt.Sprintf("Resource not found for the segment '%s'.", seg[0]))
		return sp, false
	}
	if err == nil && (sp.TenantID != c.TenantID || sp.Kind != store.KindApplication || sp.Builtin) {
		err = store.ErrNotFound
	}
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			writeError(w, r, http.StatusNotFound, "Request_ResourceNotFound",
				fmt.Sprintf("Resource '%s' does not exist or one of its queried reference-property objects are not present.", ref))
		} else {
			s.internal(w, r, err)
		}
		return sp, false
	}
	return sp, true
}

func (s *Server) applicationAction(w http.ResponseWriter, r *http.Request, c bearer.Claims, sp store.ServicePrincipal, action string) {
	ctx := r.Context()
	switch {
	case action == "" && r.Method == http.MethodGet:
		if s.allow(w, r, c, false, readApps...) {
			s.writeApplication(w, r, http.StatusOK, sp, nil)
		}
	case action == "" && r.Method == http.MethodDelete:
		if !s.allowAppWrite(w, r, c, sp) {
			return
		}
		if err := s.dir.DeletePrincipal(ctx, sp.ObjectID); err != nil {
			s.fail(w, r, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	case action == "" && r.Method == http.MethodPatch:
		if s.allowAppWrite(w, r, c, sp) {
			s.patchApplication(w, r, sp)
		}
	case action == "addPassword" && r.Method == http.MethodPost:
		if !s.allowAppWrite(w, r, c, sp) {
			return
		}
		var body struct {
			PasswordCredential struct {
				DisplayName string     `json:"displayName"`
				EndDateTime *time.Time `json:"endDateTime"`
			} `json:"passwordCredential"`
		}
		if !decode(w, r, &body, true) {
			return
		}
		var lifetime time.Duration
		if e := body.PasswordCredential.EndDateTime; e != nil {
			lifetime = time.Until(*e)
			if lifetime <= 0 {
				writeError(w, r, http.StatusBadRequest, "Request_BadRequest", "endDateTime must be in the future.")
				return
			}
		}
		pc, err := s.dir.AddPassword(ctx, sp.ObjectID, body.PasswordCredential.DisplayName, lifetime)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		writeJSON(w, r, http.StatusOK, passwordJSON(pc.Credential, pc.SecretText))
	case action == "removePassword" && r.Method == http.MethodPost:
		if !s.allowAppWrite(w, r, c, sp) {
			return
		}
		var body struct {
			KeyID string `json:"keyId"`
		}
		if !decode(w, r, &body, false) {
			return
		}
		if err := s.dir.RemoveCredential(ctx, sp.ObjectID, body.KeyID); err != nil {
			s.fail(w, r, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	default:
		methodNotAllowed(w, r)
	}
}

type keyCredentialIn struct {
	Type        string `json:"type"`
	Usage       string `json:"usage"`
	Key         string `json:"key"`
	DisplayName string `json:"displayName"`
	KeyID       string `json:"keyId"`
}

// patchApplication updates displayName and identifierUris, and replaces keyCredentials as Graph
// does: entries naming an existing keyId are kept, entries with a key are added, others removed.
func (s *Server) patchApplication(w http.ResponseWriter, r *http.Request, sp store.ServicePrincipal) {
	ctx := r.Context()
	var body struct {
		DisplayName    *string            `json:"displayName"`
		IdentifierURIs *[]string          `json:"identifierUris"`
		KeyCredentials *[]keyCredentialIn `json:"keyCredentials"`
		redirectURIsIn
	}
	if !decodeOnly(w, r, &body, "application", applicationPatchable) {
		return
	}
	redirects, redirectsChanged := body.redirectURIsIn.apply(sp.RedirectURIs)
	if redirectsChanged {
		if err := directory.CheckRedirectURIs(redirects); err != nil {
			s.fail(w, r, err)
			return
		}
	}
	if body.DisplayName != nil {
		if err := directory.CheckDisplayName(*body.DisplayName); err != nil {
			s.fail(w, r, err)
			return
		}
	}
	if body.IdentifierURIs != nil {
		if err := s.dir.CheckIdentifierURIs(ctx, sp.TenantID, sp.ObjectID, *body.IdentifierURIs); err != nil {
			s.fail(w, r, err)
			return
		}
	}
	if body.KeyCredentials != nil {
		var ders [][]byte
		keep := map[string]bool{}
		for _, k := range *body.KeyCredentials {
			if k.Key == "" {
				keep[strings.ToLower(k.KeyID)] = true
				continue
			}
			if k.Type != "" && k.Type != string(store.CredentialCertificate) {
				writeError(w, r, http.StatusBadRequest, "Request_BadRequest", "keyCredentials type must be AsymmetricX509Cert.")
				return
			}
			der, err := base64.StdEncoding.DecodeString(k.Key)
			if err != nil {
				writeError(w, r, http.StatusBadRequest, "Request_BadRequest", "keyCredentials key must be the base64 DER of an X.509 certificate.")
				return
			}
			ders = append(ders, der)
		}
		existing, err := s.st.ListCredentials(ctx, sp.ObjectID)
		if err != nil {
			s.internal(w, r, err)
			return
		}
		for i, der := range ders {
			if _, err := s.dir.AddCertificate(ctx, sp.ObjectID, (*body.KeyCredentials)[i].DisplayName, der); err != nil {
				s.fail(w, r, err)
				return
			}
		}
		for _, c := range existing {
			if c.Type == store.CredentialCertificate && !keep[strings.ToLower(c.KeyID)] {
				if err := s.dir.RemoveCredential(ctx, sp.ObjectID, c.KeyID); err != nil {
					s.fail(w, r, err)
					return
				}
			}
		}
	}
	if body.DisplayName != nil || body.IdentifierURIs != nil || redirectsChanged {
		sp.RedirectURIs = redirects
		if body.DisplayName != nil {
			sp.DisplayName = *body.DisplayName
		}
		if body.IdentifierURIs != nil {
			sp.IdentifierURIs = *body.IdentifierURIs
		}
		if err := s.st.UpdatePrincipal(ctx, sp); err != nil {
			s.fail(w, r, err)
			return
		}
	}
	w.WriteHeader(http.StatusNoContent)
}

type appRoleJSON struct {
	ID                 string   `json:"id"`
	Value              string   `json:"value"`
	DisplayName        string   `json:"displayName"`
	Description        string   `json:"description"`
	AllowedMemberTypes []string `json:"allowedMemberTypes"`
	IsEnabled          bool     `json:"isEnabled"`
}

func (s *Server) createApplication(w http.ResponseWriter, r *http.Request, c bearer.Claims) {
	owner, ok := s.registrant(w, r, c)
	if !ok {
		return
	}
	var body struct {
		DisplayName    string   `json:"displayName"`
		IdentifierURIs []string `json:"identifierUris"`
		API            struct {
			RequestedAccessTokenVersion *int `json:"requestedAccessTokenVersion"`
		} `json:"api"`
		AppRoles       []appRoleJSON     `json:"appRoles"`
		KeyCredentials []keyCredentialIn `json:"keyCredentials"`
		redirectURIsIn
	}
	if !decodeCreate(w, r, &body, "application", applicationCreatable) {
		return
	}
	redirects, _ := body.redirectURIsIn.apply(store.RedirectURIs{})
	spec := directory.ApplicationSpec{DisplayName: body.DisplayName, IdentifierURIs: body.IdentifierURIs, RedirectURIs: redirects, OwnerUserID: owner}
	if v := body.API.RequestedAccessTokenVersion; v != nil {
		spec.AccessTokenVersion = *v
	}
	for _, ar := range body.AppRoles {
		spec.AppRoles = append(spec.AppRoles, store.AppRole{ID: ar.ID, Value: ar.Value, DisplayName: ar.DisplayName})
	}
	var ders [][]byte
	for _, k := range body.KeyCredentials {
		der, err := base64.StdEncoding.DecodeString(k.Key)
		if err != nil || len(der) == 0 {
			writeError(w, r, http.StatusBadRequest, "Request_BadRequest", "keyCredentials key must be the base64 DER of an X.509 certificate.")
			return
		}
		ders = append(ders, der)
	}
	sp, err := s.dir.CreateApplication(r.Context(), c.TenantID, spec)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	for i, der := range ders {
		if _, err := s.dir.AddCertificate(r.Context(), sp.ObjectID, body.KeyCredentials[i].DisplayName, der); err != nil {
			_ = s.dir.DeletePrincipal(r.Context(), sp.ObjectID)
			s.fail(w, r, err)
			return
		}
	}
	w.Header().Set("Location", "/v1.0/applications/"+sp.ObjectID)
	s.writeApplication(w, r, http.StatusCreated, sp, nil)
}

func (s *Server) listApplications(w http.ResponseWriter, r *http.Request, c bearer.Claims) {
	if !s.allow(w, r, c, false, readApps...) {
		return
	}
	s.listPrincipals(w, r, c.TenantID, applicationsList, store.KindApplication, func(ctx context.Context, sp store.ServicePrincipal) (map[string]any, error) {
		creds, err := s.st.ListCredentials(ctx, sp.ObjectID)
		if err != nil {
			return nil, err
		}
		return applicationJSON(sp, creds), nil
	})
}

func (s *Server) writeApplication(w http.ResponseWriter, r *http.Request, status int, sp store.ServicePrincipal, creds []store.Credential) {
	if creds == nil {
		var err error
		if creds, err = s.st.ListCredentials(r.Context(), sp.ObjectID); err != nil {
			s.internal(w, r, err)
			return
		}
	}
	writeJSON(w, r, status, applicationJSON(sp, creds))
}

func applicationJSON(sp store.ServicePrincipal, creds []store.Credential) map[string]any {
	passwords, keys := []any{}, []any{}
	for _, c := range creds {
		switch c.Type {
		case store.CredentialPassword:
			passwords = append(passwords, passwordJSON(c, ""))
		case store.CredentialCertificate:
			keys = append(keys, map[string]any{
				"customKeyIdentifier": c.Thumbprint, "displayName": c.DisplayName, "endDateTime": c.ExpiresAt,
				"key": nil, "keyId": c.KeyID, "startDateTime": c.StartsAt, "type": "AsymmetricX509Cert", "usage": "Verify",
			})
		}
	}
	var version any
	if sp.AccessTokenVersion != 0 {
		version = sp.AccessTokenVersion
	}
	var fallback any // Graph answers null until it is set
	if sp.RedirectURIs.FallbackPublicClient {
		fallback = true
	}
	return map[string]any{
		"@odata.context":      "https://graph.microsoft.com/v1.0/$metadata#applications/$entity",
		"id":                  sp.ObjectID,
		"appId":               sp.AppID,
		"displayName":         sp.DisplayName,
		"createdDateTime":     sp.CreatedAt,
		"signInAudience":      cmp.Or(sp.RedirectURIs.SignInAudience, directory.AudienceMyOrg),
		"identifierUris":      nonNil(sp.IdentifierURIs),
		"api":                 map[string]any{"requestedAccessTokenVersion": version},
		"appRoles":            appRolesJSON(sp.AppRoles),
		"passwordCredentials": passwords,
		"keyCredentials":      keys,
		"web": map[string]any{"redirectUris": nonNil(sp.RedirectURIs.Web), "homePageUrl": nil, "logoutUrl": nil,
			"implicitGrantSettings": map[string]any{"enableAccessTokenIssuance": false, "enableIdTokenIssuance": false}},
		"spa":                    map[string]any{"redirectUris": nonNil(sp.RedirectURIs.SPA)},
		"publicClient":           map[string]any{"redirectUris": nonNil(sp.RedirectURIs.PublicClient)},
		"isFallbackPublicClient": fallback,
	}
}

// redirectURIsIn is the part of an application's JSON that holds its redirect URIs: the
// platforms' objects and isFallbackPublicClient (null clears it, as false).
type redirectURIsIn struct {
	Web                    *platformIn `json:"web"`
	SPA                    *platformIn `json:"spa"`
	PublicClient           *platformIn `json:"publicClient"`
	IsFallbackPublicClient *bool       `json:"isFallbackPublicClient"`
	// SignInAudience is kept with the redirect URIs: whether they may have a query string
	// depends on it.
	SignInAudience *string `json:"signInAudience"`
}

type platformIn struct {
	RedirectURIs *[]string `json:"redirectUris"`
}

// apply returns cur with the redirect URIs the body names replaced (a platform object without
// redirectUris changes nothing, as in Graph), and whether anything was named.
func (in redirectURIsIn) apply(cur store.RedirectURIs) (store.RedirectURIs, bool) {
	changed := false
	set := func(p *platformIn, dst *[]string) {
		if p != nil && p.RedirectURIs != nil {
			*dst = append([]string(nil), (*p.RedirectURIs)...)
			changed = true
		}
	}
	set(in.Web, &cur.Web)
	set(in.SPA, &cur.SPA)
	set(in.PublicClient, &cur.PublicClient)
	if in.IsFallbackPublicClient != nil {
		cur.FallbackPublicClient = *in.IsFallbackPublicClient
		changed = true
	}
	if in.SignInAudience != nil {
		cur.SignInAudience = *in.SignInAudience
		if cur.SignInAudience == directory.AudienceMyOrg {
			cur.SignInAudience = ""
		}
		changed = true
	}
	return cur, changed
}

func passwordJSON(c store.Credential, secretText string) map[string]any {
	var secret any
	if secretText != "" {
		secret = secretText
	}
	return map[string]any{
		"customKeyIdentifier": nil, "displayName": c.DisplayName, "endDateTime": c.ExpiresAt, "hint": c.Hint,
		"keyId": c.KeyID, "secretText": secret, "startDateTime": c.StartsAt,
	}
}

func appRolesJSON(roles []store.AppRole) []appRoleJSON {
	out := []appRoleJSON{}
	for _, r := range roles {
		out = append(out, appRoleJSON{ID: r.ID, Value: r.Value, DisplayName: r.DisplayName, AllowedMemberTypes: []string{"Application"}, IsEnabled: true})
	}
	return out
}

func (s *Server) servicePrincipals(w http.ResponseWriter, r *http.Request, c bearer.Claims, seg []string) {
	ctx := r.Context()
	if len(seg) == 1 && r.Method == http.MethodGet {
		// Members of the tenant list service principals as they read one (Entra's default user
		// permissions): az ad sp list and az ad sp show --id, signed in as a person.
		if !s.allow(w, r, c, false, readApps...) {
			return
		}
		s.listPrincipals(w, r, c.TenantID, servicePrincipalsList, "", func(_ context.Context, sp store.ServicePrincipal) (map[string]any, error) {
			return servicePrincipalJSON(sp), nil
		})
		return
	}
	if len(seg) < 2 {
		methodNotAllowed(w, r)
		return
	}
	sp, err := s.st.GetPrincipal(ctx, seg[1])
	if err == nil && sp.TenantID != c.TenantID {
		err = store.ErrNotFound
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	switch {
	case len(seg) == 2 && r.Method == http.MethodGet:
		// Members of the tenant may read service principals (Entra's default user permissions).
		if s.allow(w, r, c, false, readApps...) {
			writeJSON(w, r, http.StatusOK, servicePrincipalJSON(sp))
		}
	case len(seg) >= 3 && seg[2] == "owners":
		s.owners(w, r, c, sp, seg[2:])
	case len(seg) == 3 && seg[2] != "appRoleAssignments":
		if s.allow(w, r, c, false, readObjects...) {
			s.membershipAction(w, r, c, sp.ObjectID, seg[2:])
		}
	case len(seg) == 3 && seg[2] == "appRoleAssignments" && r.Method == http.MethodPost:
		if !require(w, r, c, writeApps...) {
			return
		}
		var body struct {
			PrincipalID string `json:"principalId"`
			ResourceID  string `json:"resourceId"`
			AppRoleID   string `json:"appRoleId"`
		}
		if !decode(w, r, &body, false) {
			return
		}
		if body.PrincipalID != "" && !strings.EqualFold(body.PrincipalID, sp.ObjectID) {
			writeError(w, r, http.StatusBadRequest, "Request_BadRequest", "principalId must be the service principal in the path.")
			return
		}
		res, err := s.st.GetPrincipal(ctx, body.ResourceID)
		if err == nil && res.TenantID != c.TenantID {
			err = store.ErrNotFound
		}
		if err != nil {
			s.fail(w, r, err)
			return
		}
		a, err := s.dir.GrantAppRole(ctx, sp.ObjectID, res, body.AppRoleID)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		writeJSON(w, r, http.StatusCreated, map[string]any{
			"id": a.ID, "appRoleId": a.AppRoleID, "principalId": a.PrincipalID, "principalType": "ServicePrincipal",
			"principalDisplayName": sp.DisplayName, "resourceId": a.ResourceID, "resourceDisplayName": res.DisplayName,
			"createdDateTime": a.CreatedAt,
		})
	default:
		methodNotAllowed(w, r)
	}
}

func servicePrincipalJSON(sp store.ServicePrincipal) map[string]any {
	return map[string]any{
		"@odata.type":            "#microsoft.graph.servicePrincipal",
		"id":                     sp.ObjectID,
		"appId":                  sp.AppID,
		"displayName":            sp.DisplayName,
		"servicePrincipalType":   string(sp.Kind),
		"servicePrincipalNames":  append([]string{sp.AppID}, sp.IdentifierURIs...),
		"alternativeNames":       nonNil(sp.AlternativeNames),
		"appRoles":               appRolesJSON(sp.AppRoles),
		"accountEnabled":         true,
		"appOwnerOrganizationId": sp.TenantID,
		"createdDateTime":        sp.CreatedAt,
	}
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func decode(w http.ResponseWriter, r *http.Request, v any, allowEmpty bool) bool {
	_, ok := decodeData(w, r, v, allowEmpty)
	return ok
}

func decodeData(w http.ResponseWriter, r *http.Request, v any, allowEmpty bool) ([]byte, bool) {
	data, err := io.ReadAll(r.Body)
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		writeError(w, r, http.StatusRequestEntityTooLarge, "Request_BadRequest", "The request body is too large.")
		return nil, false
	}
	if err != nil {
		// A body cut short (a client that sent "Expect: 100-continue" and then nothing, a
		// connection closed mid-body) is the client's error, not a size the client can fix.
		writeError(w, r, http.StatusBadRequest, "Request_BadRequest", "The request body could not be read completely.")
		return nil, false
	}
	if len(strings.TrimSpace(string(data))) == 0 && allowEmpty {
		return data, true
	}
	if !utf8.Valid(data) {
		writeError(w, r, http.StatusBadRequest, "BadRequest", "Unable to read JSON request payload: the payload is not valid UTF-8.")
		return nil, false
	}
	if err := json.Unmarshal(data, v); err != nil {
		writeError(w, r, http.StatusBadRequest, "BadRequest", "Unable to read JSON request payload: "+err.Error())
		return nil, false
	}
	if err := jsonbody.Check(data); err != nil {
		// Graph's OData reader refuses a repeated property; encoding/json would keep the last
		// (and store U+FFFD for a lone surrogate).
		writeError(w, r, http.StatusBadRequest, "BadRequest", "Unable to read JSON request payload: "+err.Error()+".")
		return nil, false
	}
	return data, true
}

// Patchable properties, for decodeOnly: what PATCH /applications/{id}, /users/{id} and
// /groups/{id} change. Each property maps to the properties inside it that are changed, or to nil
// when the value is taken as a whole.
var (
	applicationPatchable = map[string][]string{
		"displayName": nil, "identifierUris": nil, "keyCredentials": nil, "isFallbackPublicClient": nil, "signInAudience": nil,
		"web": {"redirectUris"}, "spa": {"redirectUris"}, "publicClient": {"redirectUris"},
	}
	userPatchable = map[string][]string{"accountEnabled": nil, "displayName": nil, "mailNickname": nil, "userPrincipalName": nil,
		"passwordProfile": {"password", "forceChangePasswordNextSignIn"}}
	groupPatchable = map[string][]string{"displayName": nil, "mailNickname": nil, "description": nil}
)

// Creatable properties, for decodeCreate: what POST /applications, /servicePrincipals, /users and
// /groups store. What az 2.45 sends on create is all here ("az ad app create" always sends
// keyCredentials, "az ad sp create" accountEnabled true, "az ad group create" mailEnabled and
// securityEnabled) or is a default the rule below lets through (web.implicitGrantSettings false).
var (
	applicationCreatable = map[string][]string{
		"displayName": nil, "identifierUris": nil, "keyCredentials": nil, "isFallbackPublicClient": nil, "signInAudience": nil,
		"appRoles": nil, "api": {"requestedAccessTokenVersion"},
		"web": {"redirectUris"}, "spa": {"redirectUris"}, "publicClient": {"redirectUris"},
	}
	servicePrincipalCreatable = map[string][]string{"appId": nil, "accountEnabled": nil}
	userCreatable             = userPatchable
	groupCreatable            = map[string][]string{"displayName": nil, "mailNickname": nil, "description": nil,
		"mailEnabled": nil, "securityEnabled": nil, "groupTypes": nil, "members@odata.bind": nil}
)

// decodeOnly is decode for an update that changes only the properties in patchable (annotations,
// "@odata.…", aside): any other is refused rather than ignored, since a 204 for
// "az ad app update --app-roles …" that changes nothing reads as done.
func decodeOnly(w http.ResponseWriter, r *http.Request, v any, kind string, patchable map[string][]string) bool {
	return decodeKnown(w, r, v, patchable, false, func(name string) string {
		return fmt.Sprintf("mint does not update the property '%s' of this %s; an update may change %s.", name, kind, propertyNames(patchable))
	})
}

// decodeCreate is decode for a create, with decodeOnly's rule: a property mint does not store is
// refused rather than dropped, since a 201 would tell the caller it was set. One set to the value
// a new object has anyway (null, false, "", [] or {}, or an object of those) passes, as Graph
// would store just that.
func decodeCreate(w http.ResponseWriter, r *http.Request, v any, kind string, creatable map[string][]string) bool {
	return decodeKnown(w, r, v, creatable, true, func(name string) string {
		return fmt.Sprintf("mint does not store the property '%s' of a new %s; a create may set %s (any other property only to its default: null, false, or an empty string, list or object).",
			name, kind, propertyNames(creatable))
	})
}

func decodeKnown(w http.ResponseWriter, r *http.Request, v any, known map[string][]string, defaultsPass bool, message func(string) string) bool {
	data, ok := decodeData(w, r, v, false)
	if !ok {
		return false
	}
	var top map[string]json.RawMessage
	if json.Unmarshal(data, &top) != nil {
		writeError(w, r, http.StatusBadRequest, "BadRequest", "Unable to read JSON request payload: the payload is not a JSON object.")
		return false
	}
	if name, found := unknownProperty(top, known, defaultsPass); found {
		if len(name) > 100 {
			name = strings.ToValidUTF8(name[:100], "") + "…"
		}
		writeError(w, r, http.StatusBadRequest, "Request_BadRequest", message(name))
		return false
	}
	return true
}

// unknownProperty returns the first property of top (sorted, "outer.inner" for one level down)
// that known does not name, and whether there is one. Annotations ("@odata.…") are not properties.
// Names match exactly: Graph's property names are case-sensitive, though encoding/json is not.
func unknownProperty(top map[string]json.RawMessage, known map[string][]string, defaultsPass bool) (string, bool) {
	for _, k := range slices.Sorted(maps.Keys(top)) {
		if strings.HasPrefix(k, "@odata.") {
			continue
		}
		inner, ok := known[k]
		if !ok {
			if defaultsPass && isDefault(top[k]) {
				continue
			}
			return k, true
		}
		if inner == nil || string(top[k]) == "null" {
			continue
		}
		var obj map[string]json.RawMessage
		if json.Unmarshal(top[k], &obj) != nil {
			continue // the typed decode has accepted it (or refused it) already
		}
		for _, ik := range slices.Sorted(maps.Keys(obj)) {
			if strings.HasPrefix(ik, "@odata.") || slices.Contains(inner, ik) || defaultsPass && isDefault(obj[ik]) {
				continue
			}
			return k + "." + ik, true
		}
	}
	return "", false
}

// isDefault reports whether a JSON value is what an unset property reads as: null, false, "", []
// or {}, or an object whose properties are all of those.
func isDefault(raw json.RawMessage) bool {
	var v any
	if json.Unmarshal(raw, &v) != nil {
		return false
	}
	var zero func(any) bool
	zero = func(v any) bool {
		switch v := v.(type) {
		case nil:
			return true
		case bool:
			return !v
		case string:
			return v == ""
		case []any:
			return len(v) == 0
		case map[string]any:
			for _, e := range v {
				if !zero(e) {
					return false
				}
			}
			return true
		}
		return false
	}
	return zero(v)
}

func propertyNames(known map[string][]string) string {
	all := make([]string, 0, len(known))
	for k, in := range known {
		if in == nil {
			all = append(all, k)
		}
		for _, p := range in {
			all = append(all, k+"."+p)
		}
	}
	slices.Sort(all)
	return strings.Join(all, ", ")
}

func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	var in *directory.InputError
	switch {
	case errors.As(err, &in):
		writeError(w, r, http.StatusBadRequest, "Request_BadRequest", in.Message)
	case errors.Is(err, store.ErrNotFound):
		writeError(w, r, http.StatusNotFound, "Request_ResourceNotFound", "Resource does not exist or one of its queried reference-property objects are not present.")
	case errors.Is(err, store.ErrConflict):
		writeError(w, r, http.StatusBadRequest, "Request_BadRequest", "Another object with the same value for property identifierUris already exists.")
	case errors.Is(err, context.Canceled):
		writeError(w, r, http.StatusBadRequest, "Request_BadRequest", "The request was cancelled.")
	default:
		s.internal(w, r, err)
	}
}

// internal answers a failure of mint itself: while the store is unavailable, Graph's 503
// serviceNotAvailable with Retry-After (https://learn.microsoft.com/graph/errors), which the SDKs
// retry; otherwise 500.
func (s *Server) internal(w http.ResponseWriter, r *http.Request, err error) {
	s.log.Error("graph request failed", "path", r.URL.Path, "err", err)
	if errors.Is(err, store.ErrUnavailable) {
		w.Header().Set("Retry-After", store.UnavailableRetryAfter)
		writeError(w, r, http.StatusServiceUnavailable, "serviceNotAvailable",
			"The service is temporarily unavailable: mint's store did not answer. Retry after the delay in the Retry-After header.")
		return
	}
	writeError(w, r, http.StatusInternalServerError, "InternalServerError", "The service failed to process the request; see the server log.")
}

func methodNotAllowed(w http.ResponseWriter, r *http.Request) {
	writeError(w, r, http.StatusMethodNotAllowed, "Request_BadRequest", fmt.Sprintf("The %s method is not supported on %s.", r.Method, r.URL.Path))
}

func writeJSON(w http.ResponseWriter, r *http.Request, status int, v any) {
	h := w.Header()
	h.Set("Content-Type", "application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8")
	h.Set("request-id", requestID(r))
	if id := r.Header.Get("client-request-id"); id != "" {
		h.Set("client-request-id", id)
	}
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func requestID(r *http.Request) string {
	if id := r.Header.Get("x-ms-request-id"); id != "" {
		return id
	}
	id := uuid.NewString()
	r.Header.Set("x-ms-request-id", id)
	return id
}

// writeError writes Graph's error shape.
func writeError(w http.ResponseWriter, r *http.Request, status int, code, message string) {
	writeJSON(w, r, status, map[string]any{"error": map[string]any{
		"code": code, "message": message,
		"innerError": map[string]any{"date": time.Now().UTC().Format("2006-01-02T15:04:05"), "request-id": requestID(r), "client-request-id": r.Header.Get("client-request-id")},
	}})
}

// repeatedQueryOption reports the first system query option ("$…") that appears more than once
// in a raw query.
func repeatedQueryOption(rawQuery string) (string, bool) {
	if !strings.Contains(rawQuery, "$") && !strings.Contains(rawQuery, "%24") {
		return "", false
	}
	q, err := url.ParseQuery(rawQuery)
	if err != nil {
		return "", false // each handler refuses a malformed query in its own words
	}
	for _, k := range slices.Sorted(maps.Keys(q)) {
		if strings.HasPrefix(k, "$") && len(q[k]) > 1 {
			return k, true
		}
	}
	return "", false
}
