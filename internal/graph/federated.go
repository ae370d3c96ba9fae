package graph

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/mint-id/mint/internal/armid"
	"github.com/mint-id/mint/internal/bearer"
	"github.com/mint-id/mint/internal/federation"
	"github.com/mint-id/mint/internal/store"
)

// An application's federated identity credentials, as Graph serves them:
//
//	GET    /applications/{id}/federatedIdentityCredentials
//	POST   /applications/{id}/federatedIdentityCredentials              201, the credential
//	GET    /applications/{id}/federatedIdentityCredentials/{id | name}
//	PATCH  /applications/{id}/federatedIdentityCredentials/{id | name}  204
//	DELETE /applications/{id}/federatedIdentityCredentials/{id | name}  204
//
// (also federatedIdentityCredentials(name='{name}') and applications(appId='{appId}')/...). The
// rules are those of a user-assigned identity's credentials (internal/federation): at most 20,
// issuer and subject unique per application, exactly one audience. The STS trusts them through
// internal/federation's Verifier.

const federatedSegment = "federatedIdentityCredentials"

func isFederatedCredentials(segment string) bool {
	return segment == federatedSegment || strings.HasPrefix(segment, federatedSegment+"(")
}

// federatedCredentialIn is a POST or PATCH body; pointers tell absent from empty.
type federatedCredentialIn struct {
	Name        *string  `json:"name"`
	Issuer      *string  `json:"issuer"`
	Subject     *string  `json:"subject"`
	Audiences   []string `json:"audiences"`
	Description *string  `json:"description"`
	// ClaimsMatchingExpression makes a flexible credential (Graph beta's federatedIdentityExpression).
	ClaimsMatchingExpression *struct {
		Value           string `json:"value"`
		LanguageVersion int    `json:"languageVersion"`
	} `json:"claimsMatchingExpression"`
}

const maxFederatedDescription = 600

func federatedCredentialJSON(appID string, c store.FederatedCredential, entity bool) map[string]any {
	var subject, expression any
	if c.ClaimsMatchingExpression != "" {
		expression = map[string]any{"value": c.ClaimsMatchingExpression, "languageVersion": 1}
	} else {
		subject = c.Subject
	}
	out := map[string]any{
		"id": c.ID, "name": c.Name, "issuer": c.Issuer, "subject": subject, "claimsMatchingExpression": expression,
		"audiences": nonNil(c.Audiences), "description": c.Description,
	}
	if entity {
		out["@odata.context"] = fmt.Sprintf("https://graph.microsoft.com/v1.0/$metadata#applications('%s')/federatedIdentityCredentials/$entity", appID)
	}
	return out
}

// federatedCredentials serves rest = ["federatedIdentityCredentials", "{id | name}"?] or
// ["federatedIdentityCredentials(name='{name}')"].
func (s *Server) federatedCredentials(w http.ResponseWriter, r *http.Request, c bearer.Claims, app store.ServicePrincipal, rest []string) {
	ref, byName := "", false
	switch {
	case len(rest) == 1 && rest[0] != federatedSegment:
		name, ok := strings.CutPrefix(rest[0], federatedSegment+"(name='")
		if !ok || !strings.HasSuffix(name, "')") {
			writeError(w, r, http.StatusBadRequest, "BadRequest", fmt.Sprintf("Resource not found for the segment '%s'.", rest[0]))
			return
		}
		ref, byName = strings.TrimSuffix(name, "')"), true
	case len(rest) == 2:
		ref = rest[1]
	case len(rest) > 2:
		writeError(w, r, http.StatusBadRequest, "BadRequest", fmt.Sprintf("Resource not found for the segment '%s'.", rest[2]))
		return
	}
	if ref == "" {
		switch r.Method {
		case http.MethodGet:
			if s.allow(w, r, c, false, readApps...) {
				s.listFederatedCredentials(w, r, app)
			}
		case http.MethodPost:
			if s.allowAppWrite(w, r, c, app) {
				s.createFederatedCredential(w, r, app)
			}
		default:
			methodNotAllowed(w, r)
		}
		return
	}
	var allowed bool
	if r.Method == http.MethodGet {
		allowed = s.allow(w, r, c, false, readApps...) // every member reads, as applications
	} else {
		allowed = s.allowAppWrite(w, r, c, app) // owners and administrators change
	}
	if !allowed {
		return
	}
	cred, ok := s.findFederatedCredential(w, r, app, ref, byName)
	if !ok {
		return
	}
	switch r.Method {
	case http.MethodGet:
		writeJSON(w, r, http.StatusOK, federatedCredentialJSON(app.ObjectID, cred, true))
	case http.MethodPatch:
		s.patchFederatedCredential(w, r, app, cred)
	case http.MethodDelete:
		if err := s.st.DeleteFederatedCredential(r.Context(), app.ObjectID, cred.ID); err != nil {
			s.failFederated(w, r, app, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	default:
		methodNotAllowed(w, r)
	}
}

func (s *Server) listFederatedCredentials(w http.ResponseWriter, r *http.Request, app store.ServicePrincipal) {
	creds, err := s.st.ListFederatedCredentials(r.Context(), app.ObjectID)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	out := make([]any, 0, len(creds))
	for _, c := range creds {
		out = append(out, federatedCredentialJSON(app.ObjectID, c, false))
	}
	writeJSON(w, r, http.StatusOK, map[string]any{
		"@odata.context": fmt.Sprintf("https://graph.microsoft.com/v1.0/$metadata#applications('%s')/federatedIdentityCredentials", app.ObjectID),
		"value":          out,
	})
}

// findFederatedCredential finds the credential by id or, as Graph also allows, by name.
func (s *Server) findFederatedCredential(w http.ResponseWriter, r *http.Request, app store.ServicePrincipal, ref string, byName bool) (store.FederatedCredential, bool) {
	creds, err := s.st.ListFederatedCredentials(r.Context(), app.ObjectID)
	if err != nil {
		s.internal(w, r, err)
		return store.FederatedCredential{}, false
	}
	for _, c := range creds {
		if (!byName && strings.EqualFold(c.ID, ref)) || strings.EqualFold(c.Name, ref) {
			return c, true
		}
	}
	writeError(w, r, http.StatusNotFound, "Request_ResourceNotFound",
		fmt.Sprintf("Federated identity credential '%s' does not exist on application '%s'.", ref, app.AppID))
	return store.FederatedCredential{}, false
}

func (s *Server) createFederatedCredential(w http.ResponseWriter, r *http.Request, app store.ServicePrincipal) {
	var in federatedCredentialIn
	if !decode(w, r, &in, false) {
		return
	}
	name := ""
	if in.Name != nil {
		name = *in.Name
	}
	if name == "" {
		writeError(w, r, http.StatusBadRequest, "Request_BadRequest", "The 'name' property is required.")
		return
	}
	if err := armid.ValidateFederatedCredentialName(name); err != nil {
		writeError(w, r, http.StatusBadRequest, "Request_BadRequest",
			err.Error()+" A name has 3 to 120 characters: letters, digits, '-' and '_', starting with a letter or a digit.")
		return
	}
	cred := store.FederatedCredential{ID: uuid.NewString(), PrincipalID: app.ObjectID, Name: name, CreatedAt: time.Now().UTC()}
	if !applyFederatedInput(w, r, &cred, in) {
		return
	}
	if err := s.st.AddFederatedCredential(r.Context(), cred, federation.MaxCredentials); err != nil {
		s.failFederated(w, r, app, err)
		return
	}
	writeJSON(w, r, http.StatusCreated, federatedCredentialJSON(app.ObjectID, cred, true))
}

// patchFederatedCredential changes issuer, subject, audiences and description; a name may be
// given only unchanged, as Graph refuses renaming.
func (s *Server) patchFederatedCredential(w http.ResponseWriter, r *http.Request, app store.ServicePrincipal, cred store.FederatedCredential) {
	var in federatedCredentialIn
	if !decode(w, r, &in, false) {
		return
	}
	if in.Name != nil && !strings.EqualFold(*in.Name, cred.Name) {
		writeError(w, r, http.StatusBadRequest, "Request_BadRequest",
			fmt.Sprintf("The name of a federated identity credential cannot be changed ('%s'); delete it and create one with the new name.", cred.Name))
		return
	}
	if !applyFederatedInput(w, r, &cred, in) {
		return
	}
	if err := s.st.UpdateFederatedCredential(r.Context(), cred); err != nil {
		s.failFederated(w, r, app, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// applyFederatedInput sets the given fields on cred and checks the result.
func applyFederatedInput(w http.ResponseWriter, r *http.Request, cred *store.FederatedCredential, in federatedCredentialIn) bool {
	if in.Issuer != nil {
		cred.Issuer = *in.Issuer
	}
	if in.Subject != nil {
		cred.Subject = *in.Subject
	}
	if in.Audiences != nil {
		cred.Audiences = in.Audiences
	}
	if in.Description != nil {
		cred.Description = *in.Description
	}
	if e := in.ClaimsMatchingExpression; e != nil {
		if e.LanguageVersion != 1 {
			writeError(w, r, http.StatusBadRequest, "Request_BadRequest",
				fmt.Sprintf("The claims matching expression language version '%d' is not supported. The supported version is 1.", e.LanguageVersion))
			return false
		}
		cred.ClaimsMatchingExpression = e.Value
	}
	var err error
	switch {
	case cred.Subject != "" && cred.ClaimsMatchingExpression != "", cred.Subject == "" && cred.ClaimsMatchingExpression == "" && in.ClaimsMatchingExpression != nil:
		err = errors.New("Either 'subject' or 'claimsMatchingExpression' must be defined, but not both.")
	case cred.ClaimsMatchingExpression != "":
		if err = federation.CheckIssuer(cred.Issuer); err == nil {
			_, err = federation.ParseExpression(cred.ClaimsMatchingExpression)
		}
	default:
		if err = federation.CheckIssuer(cred.Issuer); err == nil {
			err = federation.CheckSubject(cred.Subject)
		}
	}
	if err == nil {
		err = federation.CheckAudiences(cred.Audiences)
	}
	if err == nil && len(cred.Description) > maxFederatedDescription {
		err = fmt.Errorf("The 'description' property must be at most %d characters long.", maxFederatedDescription)
	}
	if err != nil {
		writeError(w, r, http.StatusBadRequest, "Request_BadRequest", err.Error())
		return false
	}
	return true
}

func (s *Server) failFederated(w http.ResponseWriter, r *http.Request, app store.ServicePrincipal, err error) {
	switch {
	case errors.Is(err, store.ErrLimitReached):
		writeError(w, r, http.StatusBadRequest, "Request_BadRequest",
			fmt.Sprintf("Application '%s' already has the maximum of %d federated identity credentials.", app.AppID, federation.MaxCredentials))
	case errors.Is(err, store.ErrConflict):
		writeError(w, r, http.StatusBadRequest, "Request_BadRequest",
			fmt.Sprintf("Application '%s' already has a federated identity credential with this name, or with this issuer and subject (or expression).", app.AppID))
	case errors.Is(err, store.ErrNotFound):
		writeError(w, r, http.StatusNotFound, "Request_ResourceNotFound", "The application or its federated identity credential no longer exists.")
	default:
		s.internal(w, r, err)
	}
}
