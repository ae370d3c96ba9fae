package arm

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/mint-id/mint/internal/armid"
	"github.com/mint-id/mint/internal/store"
)

// Key Vault's soft delete of whole vaults, on the control plane. Deleting a vault (or its
// resource group) keeps it as a deleted vault (the store does) until it is purged, at its
// scheduled purge date or on request, or recovered by a PUT with createMode "recover"; its name
// cannot be taken meanwhile.
//
//	GET  /subscriptions/{s}/providers/Microsoft.KeyVault/deletedVaults
//	GET  /subscriptions/{s}/providers/Microsoft.KeyVault/locations/{location}/deletedVaults/{name}
//	POST /subscriptions/{s}/providers/Microsoft.KeyVault/locations/{location}/deletedVaults/{name}/purge
//	POST /subscriptions/{s}/providers/Microsoft.KeyVault/checkNameAvailability

const (
	deletedVaultsType         = "Microsoft.KeyVault/deletedVaults"
	locationDeletedVaultsType = "Microsoft.KeyVault/locations/deletedVaults"
	checkVaultNameType        = "Microsoft.KeyVault/checkNameAvailability"
	// deletedManagedHSMsType is always empty: mint has no managed HSMs. az keyvault list-deleted
	// lists both kinds.
	deletedManagedHSMsType = "Microsoft.KeyVault/deletedManagedHSMs"
	createModeRecover      = "recover"
)

// DeletedVault is the Key Vault resource provider's DeletedVault model.
type DeletedVault struct {
	ID         string                 `json:"id"`
	Name       string                 `json:"name"`
	Type       string                 `json:"type"`
	Properties DeletedVaultProperties `json:"properties"`
}

// DeletedVaultProperties describe a deleted vault.
type DeletedVaultProperties struct {
	VaultID                string            `json:"vaultId"`
	Location               string            `json:"location"`
	DeletionDate           string            `json:"deletionDate"`
	ScheduledPurgeDate     string            `json:"scheduledPurgeDate"`
	Tags                   map[string]string `json:"tags"`
	PurgeProtectionEnabled bool              `json:"purgeProtectionEnabled"`
}

// CheckNameAvailabilityResult is checkNameAvailability's answer.
type CheckNameAvailabilityResult struct {
	NameAvailable bool   `json:"nameAvailable"`
	Reason        string `json:"reason,omitempty"`
	Message       string `json:"message,omitempty"`
}

func deletedVaultOut(d store.DeletedVault) DeletedVault {
	props := storedVaultProperties(store.Resource{Properties: d.Properties})
	return DeletedVault{
		ID:   "/subscriptions/" + d.SubscriptionID + "/providers/Microsoft.KeyVault/locations/" + d.Location + "/deletedVaults/" + d.Name,
		Name: d.Name, Type: deletedVaultsType,
		Properties: DeletedVaultProperties{
			VaultID: d.ResourceID, Location: d.Location, Tags: nonNilTags(d.Tags),
			DeletionDate:           d.DeletedAt.UTC().Format(time.RFC3339),
			ScheduledPurgeDate:     d.PurgeAt.UTC().Format(time.RFC3339),
			PurgeProtectionEnabled: props.EnablePurgeProtection != nil && *props.EnablePurgeProtection,
		},
	}
}

// vaultDeletedConflict is Key Vault's answer to creating a vault whose name a deleted vault holds.
func vaultDeletedConflict() *Error {
	return NewError(http.StatusConflict, "ConflictError",
		"A vault with the same name already exists in deleted state. You need to either recover or purge existing key vault. "+
			"Follow this link https://go.microsoft.com/fwlink/?linkid=2149745 for more information on soft delete.")
}

func deletedVaultNotFound(name string) *Error {
	return NewError(http.StatusNotFound, "ResourceNotFound", fmt.Sprintf("The Resource 'Microsoft.KeyVault/deletedVaults/%s' under resource group '' was not found.", name))
}

type deletedVaultsProvider struct{}

func (deletedVaultsProvider) apiVersions() []string { return keyVaultAPIVersions }

func (deletedVaultsProvider) serve(c *call) {
	sub := c.scope.SubscriptionID
	if !c.collection {
		sub = c.id.SubscriptionID
	}
	if sub == "" || c.scope.ResourceGroup != "" || c.id.ResourceGroup != "" {
		c.fail(notServed(c.r))
		return
	}
	switch {
	case strings.EqualFold(c.resourceType, deletedVaultsType) && c.collection && c.r.Method == http.MethodGet:
		if !c.canRead(deletedVaultsType, c.scope.String()) {
			c.fail(c.authorizationFailed(deletedVaultsType+"/read", c.scope.String()))
			return
		}
		ds, err := c.s.st.ListDeletedVaults(c.ctx, sub)
		if err != nil {
			c.failErr(err)
			return
		}
		out := make([]DeletedVault, len(ds))
		for i, d := range ds {
			out[i] = deletedVaultOut(d)
		}
		WriteList(c.w, c.r, c.s.cfg.BaseURL, out)
	case strings.EqualFold(c.resourceType, deletedManagedHSMsType) && c.collection && c.r.Method == http.MethodGet:
		WriteList(c.w, c.r, c.s.cfg.BaseURL, []DeletedVault{})
	case strings.EqualFold(c.resourceType, checkVaultNameType) && c.collection && c.r.Method == http.MethodPost:
		checkVaultName(c)
	case strings.EqualFold(c.resourceType, locationDeletedVaultsType) && !c.collection && (c.r.Method == http.MethodGet && c.action == "" ||
		c.r.Method == http.MethodPost && strings.EqualFold(c.action, "purge")):
		serveDeletedVault(c)
	case c.collection && !strings.EqualFold(c.resourceType, locationDeletedVaultsType):
		c.fail(MethodNotAllowed(c.r.Method))
	default:
		c.fail(notServed(c.r))
	}
}

// serveDeletedVault answers GET and purge of one deleted vault (the front door has authorized
// .../deletedVaults/read or .../deletedVaults/purge/action at its id).
func serveDeletedVault(c *call) {
	name := c.id.Name()
	location := ""
	if segs := strings.Split(c.id.String(), "/"); len(segs) > 2 {
		location = segs[len(segs)-3]
	}
	d, err := c.s.st.GetDeletedVault(c.ctx, name)
	if errors.Is(err, store.ErrNotFound) || (err == nil && (!strings.EqualFold(d.SubscriptionID, c.id.SubscriptionID) ||
		normalizeLocation(location) != normalizeLocation(d.Location))) {
		c.fail(deletedVaultNotFound(name))
		return
	}
	if err != nil {
		c.failErr(err)
		return
	}
	if c.action == "" {
		c.json(http.StatusOK, deletedVaultOut(d))
		return
	}
	if out := deletedVaultOut(d); out.Properties.PurgeProtectionEnabled {
		c.fail(NewError(http.StatusConflict, "ConflictError", fmt.Sprintf(
			"Operation 'PurgeDeletedVault' is not allowed: the vault '%s' has purge protection enabled. It is purged automatically on %s.",
			d.Name, out.Properties.ScheduledPurgeDate)))
		return
	}
	if err := c.s.st.PurgeDeletedVault(c.ctx, d.Name); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			c.fail(deletedVaultNotFound(name))
			return
		}
		c.failErr(err)
		return
	}
	WriteEmpty(c.w, c.r, http.StatusOK)
}

// checkVaultName answers checkNameAvailability: a name is available unless it is invalid, a
// vault has it, or a deleted vault holds it.
func checkVaultName(c *call) {
	if !c.canRead(checkVaultNameType, c.scope.String()) {
		c.fail(c.authorizationFailed(checkVaultNameType+"/read", c.scope.String()))
		return
	}
	var req struct {
		Name *string `json:"name"`
		Type *string `json:"type"`
	}
	if !c.decode(&req) {
		return
	}
	if req.Name == nil || req.Type == nil {
		c.fail(InvalidRequestContent("The request content must name the vault ('name') and its type ('type': 'Microsoft.KeyVault/vaults')."))
		return
	}
	if !strings.EqualFold(*req.Type, keyVaultType) {
		c.fail(vaultBadRequest(fmt.Sprintf("The type '%s' is not supported; checkNameAvailability checks 'Microsoft.KeyVault/vaults' names.", *req.Type)))
		return
	}
	name := *req.Name
	if err := armid.ValidateKeyVaultName(name); err != nil {
		c.json(http.StatusOK, CheckNameAvailabilityResult{Reason: "AccountNameInvalid", Message: AsError(err).Message})
		return
	}
	_, err := c.s.st.GetVault(c.ctx, name)
	if errors.Is(err, store.ErrNotFound) {
		_, err = c.s.st.GetDeletedVault(c.ctx, name)
	}
	switch {
	case err == nil:
		c.json(http.StatusOK, CheckNameAvailabilityResult{Reason: "AlreadyExists", Message: vaultAlreadyExists(name).Message})
	case errors.Is(err, store.ErrNotFound):
		c.json(http.StatusOK, CheckNameAvailabilityResult{NameAvailable: true})
	default:
		c.failErr(err)
	}
}

// recoverVault answers a PUT with createMode "recover": the deleted vault of the name comes back
// at its former id, with its properties and secrets (the request's tags, if any, replace its
// tags). Key Vault recovers a vault where it was; its data key is bound to that id.
func (p *keyVaultProvider) recoverVault(c *call, req vaultRequest, tags map[string]string) {
	name := c.id.Name()
	d, err := c.s.st.GetDeletedVault(c.ctx, name)
	if errors.Is(err, store.ErrNotFound) {
		c.fail(vaultBadRequest(fmt.Sprintf("No deleted vault named '%s' exists to recover (createMode 'recover'). Create it without createMode.", name)))
		return
	}
	if err != nil {
		c.failErr(err)
		return
	}
	if !strings.EqualFold(strings.TrimRight(d.ResourceID, "/"), strings.TrimRight(c.id.String(), "/")) {
		c.fail(vaultBadRequest(fmt.Sprintf("The deleted vault '%s' was '%s'; it can be recovered only there.", name, d.ResourceID)))
		return
	}
	if req.Location != nil && normalizeLocation(*req.Location) != normalizeLocation(d.Location) {
		c.fail(vaultBadRequest(fmt.Sprintf("The deleted vault '%s' was in location '%s'; it is recovered there, not in '%s'.", name, d.Location, *req.Location)))
		return
	}
	if req.Tags == nil {
		tags = d.Tags
	}
	now := c.s.cfg.Clock().UTC()
	r := store.Resource{ID: d.ResourceID, SubscriptionID: c.id.SubscriptionID, ResourceGroup: c.id.ResourceGroup, Type: keyVaultType,
		Name: d.Name, Location: d.Location, Tags: tags, Properties: json.RawMessage(d.Properties), CreatedAt: now, UpdatedAt: now}
	if _, err := c.s.st.RecoverVault(c.ctx, r); err != nil {
		if errors.Is(err, store.ErrConflict) {
			c.fail(vaultAlreadyExists(name))
			return
		}
		c.failErr(err)
		return
	}
	c.json(http.StatusOK, p.out(r))
}
