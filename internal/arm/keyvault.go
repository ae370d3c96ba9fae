package arm

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/mint-id/mint/internal/armid"
	"github.com/mint-id/mint/internal/store"
)

// Microsoft.KeyVault/vaults (https://learn.microsoft.com/rest/api/keyvault/keyvault/vaults/create-or-update): the control plane of the vaults whose secrets
// the data plane (internal/vault) serves at https://<name>.<vault DNS suffix>.
//
// A vault is a store.Resource whose Properties hold the normalized vault properties in Azure's
// wire names (tenantId, sku, accessPolicies, enableRbacAuthorization, enableSoftDelete,
// softDeleteRetentionInDays, enablePurgeProtection, ...), which the data plane reads, plus a
// store.Vault record: the name, unique across the installation, and the vault's data key.
// Deleting the resource keeps the vault, with its secrets, as a deleted vault until it is purged
// or recovered (keyvault_deleted.go), as Key Vault's mandatory soft delete does.
//
// mint's defaults differ from Azure's in one place: enableRbacAuthorization is true unless the
// request says false (Azure defaults it to true only from api-version 2026-02-01).

const (
	keyVaultType              = "Microsoft.KeyVault/vaults"
	keyVaultAccessPoliciesTyp = keyVaultType + "/accessPolicies"
	codeVaultAlreadyExists    = "VaultAlreadyExists"
)

// keyVaultAPIVersions are the Microsoft.KeyVault api-versions mint accepts for vaults;
// armkeyvault v1.5 sends 2024-11-01.
var keyVaultAPIVersions = []string{
	"2015-06-01", "2016-10-01", "2018-02-14", "2018-02-14-preview", "2019-09-01", "2020-04-01-preview",
	"2021-04-01-preview", "2021-06-01-preview", "2021-10-01", "2021-11-01-preview", "2022-02-01-preview",
	"2022-07-01", "2022-11-01", "2023-02-01", "2023-07-01", "2023-08-01-preview", "2024-04-01-preview",
	"2024-11-01", "2024-12-01-preview", "2025-05-01", "2026-02-01",
}

// KeyVaultConfig connects the vaults provider to the data plane.
type KeyVaultConfig struct {
	// VaultURI is a vault's vaultUri, from its name (vault.URI with mint's first vault DNS suffix
	// and public port). Default: https://<name>.vault.azure.net/.
	VaultURI func(name string) string
	// SealDataKey makes a new data key for the vault with resource id vaultID and returns it
	// sealed under the key-encryption key (vault.SealDataKey). Vaults cannot be created without.
	SealDataKey func(vaultID string) ([]byte, error)
}

// ConfigureKeyVault gives the vaults provider what it needs from the data plane.
func (s *Server) ConfigureKeyVault(cfg KeyVaultConfig) {
	if p, ok := s.providers[strings.ToLower(keyVaultType)].(*keyVaultProvider); ok {
		p.cfg = cfg
	}
}

func (s *Server) registerKeyVault() {
	p := &keyVaultProvider{locks: &keyedLocks{}}
	s.register(p, keyVaultType, keyVaultAccessPoliciesTyp)
	s.register(deletedVaultsProvider{}, deletedVaultsType, locationDeletedVaultsType, checkVaultNameType, deletedManagedHSMsType)
}

type keyVaultProvider struct {
	locks *keyedLocks
	cfg   KeyVaultConfig
}

func (p *keyVaultProvider) apiVersions() []string { return keyVaultAPIVersions }

func (p *keyVaultProvider) vaultURI(name string) string {
	if p.cfg.VaultURI != nil {
		return p.cfg.VaultURI(name)
	}
	return "https://" + strings.ToLower(name) + ".vault.azure.net/"
}

// Wire shapes.

// Vault is the Key Vault resource provider's Vault model.
type Vault struct {
	ID         string            `json:"id"`
	Name       string            `json:"name"`
	Type       string            `json:"type"`
	Location   string            `json:"location"`
	Tags       map[string]string `json:"tags"`
	Properties VaultProperties   `json:"properties"`
}

// VaultProperties are a vault's properties; vaultUri and provisioningState are read-only.
type VaultProperties struct {
	SKU                          VaultSKU            `json:"sku"`
	TenantID                     string              `json:"tenantId"`
	AccessPolicies               []AccessPolicyEntry `json:"accessPolicies"`
	EnabledForDeployment         bool                `json:"enabledForDeployment"`
	EnabledForDiskEncryption     bool                `json:"enabledForDiskEncryption"`
	EnabledForTemplateDeployment bool                `json:"enabledForTemplateDeployment"`
	EnableSoftDelete             bool                `json:"enableSoftDelete"`
	SoftDeleteRetentionInDays    int                 `json:"softDeleteRetentionInDays"`
	EnableRbacAuthorization      bool                `json:"enableRbacAuthorization"`
	EnablePurgeProtection        *bool               `json:"enablePurgeProtection,omitempty"`
	PublicNetworkAccess          string              `json:"publicNetworkAccess"`
	NetworkACLs                  json.RawMessage     `json:"networkAcls,omitempty"`
	VaultURI                     string              `json:"vaultUri,omitempty"`
	ProvisioningState            string              `json:"provisioningState,omitempty"`
}

// VaultSKU is {family: "A", name: "standard" | "premium"}.
type VaultSKU struct {
	Family string `json:"family"`
	Name   string `json:"name"`
}

// AccessPolicyEntry grants an object (and, for a compound identity, only through one
// application) permissions on the vault's keys, secrets, certificates and storage.
type AccessPolicyEntry struct {
	TenantID      string            `json:"tenantId"`
	ObjectID      string            `json:"objectId"`
	ApplicationID string            `json:"applicationId,omitempty"`
	Permissions   AccessPermissions `json:"permissions"`
}

// AccessPermissions are an access policy's permission lists.
type AccessPermissions struct {
	Keys         []string `json:"keys,omitempty"`
	Secrets      []string `json:"secrets,omitempty"`
	Certificates []string `json:"certificates,omitempty"`
	Storage      []string `json:"storage,omitempty"`
}

// vaultRequest is a PUT or PATCH body.
type vaultRequest struct {
	Location   *string                 `json:"location"`
	Tags       *map[string]string      `json:"tags"`
	Properties *vaultPropertiesRequest `json:"properties"`
}

type vaultPropertiesRequest struct {
	TenantID                     *string              `json:"tenantId"`
	SKU                          *VaultSKU            `json:"sku"`
	AccessPolicies               *[]AccessPolicyEntry `json:"accessPolicies"`
	EnabledForDeployment         *bool                `json:"enabledForDeployment"`
	EnabledForDiskEncryption     *bool                `json:"enabledForDiskEncryption"`
	EnabledForTemplateDeployment *bool                `json:"enabledForTemplateDeployment"`
	EnableSoftDelete             *bool                `json:"enableSoftDelete"`
	SoftDeleteRetentionInDays    *int                 `json:"softDeleteRetentionInDays"`
	EnableRbacAuthorization      *bool                `json:"enableRbacAuthorization"`
	EnablePurgeProtection        *bool                `json:"enablePurgeProtection"`
	PublicNetworkAccess          *string              `json:"publicNetworkAccess"`
	NetworkACLs                  json.RawMessage      `json:"networkAcls"`
	CreateMode                   *string              `json:"createMode"`
}

// accessPolicyRequest is the body of PUT {vault}/accessPolicies/{add|replace|remove}.
type accessPolicyRequest struct {
	Properties *struct {
		AccessPolicies []AccessPolicyEntry `json:"accessPolicies"`
	} `json:"properties"`
}

// VaultAccessPolicyParameters is the answer of an access policy update.
type VaultAccessPolicyParameters struct {
	ID         string `json:"id"`
	Name       string `json:"name"`
	Type       string `json:"type"`
	Location   string `json:"location"`
	Properties struct {
		AccessPolicies []AccessPolicyEntry `json:"accessPolicies"`
	} `json:"properties"`
}

const (
	defaultRetentionDays = 90
	minRetentionDays     = 7
	maxRetentionDays     = 90
)

// secretPermissions are the access-policy permissions on secrets.
var secretPermissions = []string{"all", "get", "list", "set", "delete", "backup", "restore", "recover", "purge"}

func vaultBadRequest(message string) *Error {
	return NewError(http.StatusBadRequest, CodeBadRequest, message)
}

func vaultAlreadyExists(name string) *Error {
	return NewError(http.StatusConflict, codeVaultAlreadyExists, fmt.Sprintf(
		"The vault name '%s' is already in use. Vault names are globally unique so it is possible that the name is already taken. "+
			"If you are sure that the vault name was not taken then it is possible that a vault with the same name was recently deleted but not purged after being placed in a recoverable state. "+
			"If the vault is in a recoverable state then the vault will need to be purged before reusing the name. "+
			"For more information on soft delete and purging a vault follow this link https://go.microsoft.com/fwlink/?linkid=2147740.", name))
}

// storedVaultProperties reads the properties a vault resource keeps.
func storedVaultProperties(r store.Resource) VaultProperties {
	var p VaultProperties
	_ = json.Unmarshal(r.Properties, &p)
	return p
}

func (p *keyVaultProvider) out(r store.Resource) Vault {
	props := storedVaultProperties(r)
	if props.AccessPolicies == nil {
		props.AccessPolicies = []AccessPolicyEntry{}
	}
	props.VaultURI = p.vaultURI(r.Name)
	props.ProvisioningState = provisioningSucceeded
	return Vault{ID: r.ID, Name: r.Name, Type: keyVaultType, Location: r.Location, Tags: nonNilTags(r.Tags), Properties: props}
}

func (p *keyVaultProvider) serve(c *call) {
	if c.action != "" {
		c.fail(notServed(c.r))
		return
	}
	if strings.EqualFold(c.resourceType, keyVaultAccessPoliciesTyp) {
		p.serveAccessPolicies(c)
		return
	}
	if c.collection {
		if c.r.Method != http.MethodGet {
			c.fail(MethodNotAllowed(c.r.Method))
			return
		}
		p.list(c)
		return
	}
	if scope, _ := c.id.Scope(); scope.IsResource() || c.id.ResourceGroup == "" {
		c.fail(notServed(c.r))
		return
	}
	c.id = canonicalResourceID(c.id, keyVaultType)
	out := func(r store.Resource) any { return p.out(r) }
	// A DELETE keeps the vault and its secrets as a deleted vault (the store does).
	serveTracked(c, keyVaultType, p.locks, out, p.put, p.patch)
}

// apply merges a request's properties into props (the current ones, or defaults for a new
// vault) and checks the rules Key Vault enforces. existing is false on create.
func applyVaultProperties(props *VaultProperties, req *vaultPropertiesRequest, existing bool) *Error {
	if req == nil {
		return nil
	}
	if req.TenantID != nil {
		t := strings.ToLower(strings.TrimSpace(*req.TenantID))
		if !isGUID(t) {
			return vaultBadRequest(fmt.Sprintf("The tenant id '%s' is not valid: properties.tenantId must be the GUID of the tenant whose tokens the vault accepts.", *req.TenantID))
		}
		props.TenantID = t
	}
	if req.SKU != nil {
		name := strings.ToLower(req.SKU.Name)
		if name != "standard" && name != "premium" {
			return vaultBadRequest(fmt.Sprintf("The sku name '%s' is not valid. Accepted values are 'standard' and 'premium'.", req.SKU.Name))
		}
		if req.SKU.Family != "" && !strings.EqualFold(req.SKU.Family, "A") {
			return vaultBadRequest(fmt.Sprintf("The sku family '%s' is not valid. The only accepted value is 'A'.", req.SKU.Family))
		}
		props.SKU = VaultSKU{Family: "A", Name: name}
	}
	if req.AccessPolicies != nil {
		policies, e := checkAccessPolicies(*req.AccessPolicies)
		if e != nil {
			return e
		}
		props.AccessPolicies = policies
	}
	for _, f := range []struct {
		in  *bool
		out *bool
	}{
		{req.EnabledForDeployment, &props.EnabledForDeployment},
		{req.EnabledForDiskEncryption, &props.EnabledForDiskEncryption},
		{req.EnabledForTemplateDeployment, &props.EnabledForTemplateDeployment},
		{req.EnableRbacAuthorization, &props.EnableRbacAuthorization},
	} {
		if f.in != nil {
			*f.out = *f.in
		}
	}
	if req.EnableSoftDelete != nil && !*req.EnableSoftDelete {
		return vaultBadRequest("The property \"enableSoftDelete\" cannot be set to false. Enabling the 'soft delete' functionality for all key vaults is mandatory.")
	}
	if r := req.SoftDeleteRetentionInDays; r != nil {
		if *r < minRetentionDays || *r > maxRetentionDays {
			return vaultBadRequest(fmt.Sprintf("The property \"softDeleteRetentionInDays\" has an invalid value %d. It must be between %d and %d days.", *r, minRetentionDays, maxRetentionDays))
		}
		if existing && *r != props.SoftDeleteRetentionInDays {
			return vaultBadRequest(fmt.Sprintf("The property \"softDeleteRetentionInDays\" cannot be changed once the vault is created (it is %d).", props.SoftDeleteRetentionInDays))
		}
		props.SoftDeleteRetentionInDays = *r
	}
	if pp := req.EnablePurgeProtection; pp != nil {
		if !*pp && props.EnablePurgeProtection != nil && *props.EnablePurgeProtection {
			return vaultBadRequest("The property \"enablePurgeProtection\" cannot be set to false. Once enabled, purge protection cannot be disabled.")
		}
		if *pp {
			t := true
			props.EnablePurgeProtection = &t
		}
	}
	if req.PublicNetworkAccess != nil {
		v := *req.PublicNetworkAccess
		if !strings.EqualFold(v, "Enabled") && !strings.EqualFold(v, "Disabled") {
			return vaultBadRequest(fmt.Sprintf("The property \"publicNetworkAccess\" has an invalid value '%s'. Accepted values are 'Enabled' and 'Disabled'.", v))
		}
		props.PublicNetworkAccess = strings.ToUpper(v[:1]) + strings.ToLower(v[1:])
	}
	if raw := req.NetworkACLs; len(raw) > 0 && string(raw) != "null" {
		compact, e := objectProperties(raw)
		if e != nil {
			return vaultBadRequest("The property \"networkAcls\" must be a JSON object.")
		}
		props.NetworkACLs = compact
	}
	return nil
}

// checkAccessPolicies validates access policy entries and normalizes their ids.
func checkAccessPolicies(in []AccessPolicyEntry) ([]AccessPolicyEntry, *Error) {
	out := make([]AccessPolicyEntry, 0, len(in))
	for i, ap := range in {
		ap.TenantID = strings.ToLower(strings.TrimSpace(ap.TenantID))
		ap.ObjectID = strings.ToLower(strings.TrimSpace(ap.ObjectID))
		ap.ApplicationID = strings.ToLower(strings.TrimSpace(ap.ApplicationID))
		if !isGUID(ap.TenantID) || ap.ObjectID == "" || (ap.ApplicationID != "" && !isGUID(ap.ApplicationID)) {
			return nil, vaultBadRequest(fmt.Sprintf("Access policy %d is not valid: tenantId must be a GUID, objectId is required and applicationId, when given, must be a GUID.", i))
		}
		for j, s := range ap.Permissions.Secrets {
			ok := false
			for _, allowed := range secretPermissions {
				if strings.EqualFold(s, allowed) {
					ap.Permissions.Secrets[j], ok = allowed, true
				}
			}
			if !ok {
				return nil, vaultBadRequest(fmt.Sprintf("Access policy %d is not valid: '%s' is not a secret permission. Accepted values are %s.", i, s, strings.Join(secretPermissions, ", ")))
			}
		}
		out = append(out, ap)
	}
	return out, nil
}

func defaultVaultProperties(tenantID string) VaultProperties {
	return VaultProperties{
		SKU: VaultSKU{Family: "A", Name: "standard"}, TenantID: tenantID, AccessPolicies: []AccessPolicyEntry{},
		EnableSoftDelete: true, SoftDeleteRetentionInDays: defaultRetentionDays, EnableRbacAuthorization: true,
		PublicNetworkAccess: "Enabled",
	}
}

func (p *keyVaultProvider) put(c *call) {
	name := c.id.Name()
	if err := armid.ValidateKeyVaultName(name); err != nil {
		c.failErr(err)
		return
	}
	var req vaultRequest
	if !c.decode(&req) {
		return
	}
	var tags map[string]string
	if req.Tags != nil {
		var e *Error
		if tags, e = checkTags(*req.Tags); e != nil {
			c.fail(e)
			return
		}
	}
	now := c.s.cfg.Clock().UTC()
	r := store.Resource{
		ID: c.id.String(), SubscriptionID: c.id.SubscriptionID, ResourceGroup: c.id.ResourceGroup, Type: keyVaultType,
		Name: name, Tags: tags, CreatedAt: now, UpdatedAt: now,
	}
	existing, found, ok := putTracked(c, &r, req.Location)
	if !ok {
		return
	}
	if !found {
		recoverMode := req.Properties != nil && req.Properties.CreateMode != nil && strings.EqualFold(*req.Properties.CreateMode, createModeRecover)
		if recoverMode {
			p.recoverVault(c, req, tags)
			return
		}
		// A deleted vault keeps its name until it is purged or recovered.
		if _, err := c.s.st.GetDeletedVault(c.ctx, name); err == nil {
			c.fail(vaultDeletedConflict())
			return
		} else if !errors.Is(err, store.ErrNotFound) {
			c.failErr(err)
			return
		}
	}
	var props VaultProperties
	if found {
		// A PUT replaces the vault's settings; what it leaves out gets the defaults, but the
		// retention period and purge protection cannot go back.
		old := storedVaultProperties(existing)
		props = defaultVaultProperties(old.TenantID)
		props.SoftDeleteRetentionInDays, props.EnablePurgeProtection = old.SoftDeleteRetentionInDays, old.EnablePurgeProtection
	} else {
		tenantID, err := tenantOf(c, c.id.SubscriptionID)
		if err != nil {
			c.failErr(err)
			return
		}
		props = defaultVaultProperties(tenantID)
	}
	if e := applyVaultProperties(&props, req.Properties, found); e != nil {
		c.fail(e)
		return
	}
	p.save(c, r, props, !found)
}

func (p *keyVaultProvider) patch(c *call) {
	r, ok := lookupTracked(c, keyVaultType)
	if !ok {
		return
	}
	var req vaultRequest
	if !c.decode(&req) || !patchTags(c, &r, req.Tags) {
		return
	}
	props := storedVaultProperties(r)
	if e := applyVaultProperties(&props, req.Properties, true); e != nil {
		c.fail(e)
		return
	}
	r.UpdatedAt = c.s.cfg.Clock().UTC()
	p.save(c, r, props, false)
}

// save writes the vault resource and makes sure it has its data-plane record: the name is the
// vault's across the installation, so it is checked first and claimed by CreateVault (which a
// concurrent create of the name elsewhere loses with a conflict).
func (p *keyVaultProvider) save(c *call, r store.Resource, props VaultProperties, isNew bool) {
	props.VaultURI, props.ProvisioningState = "", ""
	v, err := c.s.st.GetVault(c.ctx, r.Name)
	switch {
	case err == nil && !strings.EqualFold(strings.TrimRight(v.ResourceID, "/"), strings.TrimRight(r.ID, "/")):
		c.fail(vaultAlreadyExists(r.Name))
		return
	case err != nil && !errors.Is(err, store.ErrNotFound):
		c.failErr(err)
		return
	}
	needVault := errors.Is(err, store.ErrNotFound)
	if needVault && p.cfg.SealDataKey == nil {
		c.failErr(errors.New("the key vault data plane is not configured (arm.Server.ConfigureKeyVault)"))
		return
	}
	data, err := json.Marshal(props)
	if err != nil {
		c.failErr(err)
		return
	}
	r.Properties = data
	created, err := c.s.st.PutResource(c.ctx, r, nil, nil)
	if err != nil {
		c.failErr(err)
		return
	}
	if needVault {
		key, err := p.cfg.SealDataKey(r.ID)
		if err == nil {
			err = c.s.st.CreateVault(c.ctx, store.Vault{Name: r.Name, ResourceID: r.ID, DataKey: key, CreatedAt: c.s.cfg.Clock().UTC()})
		}
		if err != nil {
			if created { // do not leave a vault resource without its vault
				if _, derr := c.s.st.DeleteResource(c.ctx, r.ID); derr != nil && !errors.Is(derr, store.ErrNotFound) {
					c.s.log.Error("removing a vault resource whose vault could not be created", "id", r.ID, "err", derr)
				}
			}
			if errors.Is(err, store.ErrConflict) {
				c.fail(vaultAlreadyExists(r.Name))
				return
			}
			c.failErr(err)
			return
		}
	}
	status := http.StatusOK
	if created || isNew {
		// No Location header: armkeyvault's BeginCreateOrUpdate is a long-running operation
		// whose poller would follow it; a body with provisioningState Succeeded completes it.
		status = http.StatusCreated
	}
	c.json(status, p.out(r))
}

func (p *keyVaultProvider) list(c *call) {
	if c.scope.IsResource() || c.scope.SubscriptionID == "" || !strings.EqualFold(c.resourceType, keyVaultType) {
		c.fail(notServed(c.r))
		return
	}
	rs, next, ok := c.resourcePage(store.ResourceFilter{SubscriptionID: c.scope.SubscriptionID, ResourceGroup: c.scope.ResourceGroup, Type: keyVaultType})
	if !ok {
		return
	}
	out := []Vault{}
	for _, r := range rs {
		if c.canRead(keyVaultType, r.ID) {
			out = append(out, p.out(r))
		}
	}
	WritePage(c.w, c.r, c.s.cfg.BaseURL, out, next)
}

// serveAccessPolicies answers PUT {vault}/accessPolicies/{add|replace|remove}.
func (p *keyVaultProvider) serveAccessPolicies(c *call) {
	if c.collection || len(c.id.Names) != 2 {
		c.fail(notServed(c.r))
		return
	}
	if c.r.Method != http.MethodPut {
		c.fail(MethodNotAllowed(c.r.Method))
		return
	}
	kind := strings.ToLower(c.id.Name())
	if kind != "add" && kind != "replace" && kind != "remove" {
		c.fail(vaultBadRequest(fmt.Sprintf("The access policy operation '%s' is not valid. Accepted values are 'add', 'replace' and 'remove'.", c.id.Name())))
		return
	}
	vaultID, _ := c.id.Parent()
	vaultID = canonicalResourceID(vaultID, keyVaultType)
	defer p.locks.lock(vaultID.String())()
	r, found, err := getResource(c, vaultID.String())
	if err != nil {
		c.failErr(err)
		return
	}
	if !found || !strings.EqualFold(r.Type, keyVaultType) {
		c.fail(ResourceNotFound(vaultID))
		return
	}
	var req accessPolicyRequest
	if !c.decode(&req) {
		return
	}
	if req.Properties == nil {
		c.fail(vaultBadRequest("The request has no properties.accessPolicies."))
		return
	}
	given, e := checkAccessPolicies(req.Properties.AccessPolicies)
	if e != nil {
		c.fail(e)
		return
	}
	props := storedVaultProperties(r)
	props.AccessPolicies = mergeAccessPolicies(props.AccessPolicies, given, kind)
	data, err := json.Marshal(props)
	if err != nil {
		c.failErr(err)
		return
	}
	r.Properties, r.UpdatedAt = data, c.s.cfg.Clock().UTC()
	if _, err := c.s.st.PutResource(c.ctx, r, nil, nil); err != nil {
		c.failErr(err)
		return
	}
	out := VaultAccessPolicyParameters{ID: r.ID + "/accessPolicies/" + kind, Name: kind, Type: keyVaultAccessPoliciesTyp, Location: r.Location}
	out.Properties.AccessPolicies = given
	c.json(http.StatusOK, out)
}

func samePolicyTarget(a, b AccessPolicyEntry) bool {
	return strings.EqualFold(a.TenantID, b.TenantID) && strings.EqualFold(a.ObjectID, b.ObjectID) && strings.EqualFold(a.ApplicationID, b.ApplicationID)
}

// mergeAccessPolicies applies an add, replace or remove of entries to current.
func mergeAccessPolicies(current, given []AccessPolicyEntry, kind string) []AccessPolicyEntry {
	out := append([]AccessPolicyEntry(nil), current...)
	for _, g := range given {
		i := -1
		for j := range out {
			if samePolicyTarget(out[j], g) {
				i = j
				break
			}
		}
		switch {
		case kind == "remove" && i >= 0:
			e := out[i]
			e.Permissions = AccessPermissions{
				Keys: permissionsWithout(e.Permissions.Keys, g.Permissions.Keys), Secrets: permissionsWithout(e.Permissions.Secrets, g.Permissions.Secrets),
				Certificates: permissionsWithout(e.Permissions.Certificates, g.Permissions.Certificates), Storage: permissionsWithout(e.Permissions.Storage, g.Permissions.Storage),
			}
			if len(e.Permissions.Keys)+len(e.Permissions.Secrets)+len(e.Permissions.Certificates)+len(e.Permissions.Storage) == 0 {
				out = append(out[:i], out[i+1:]...)
			} else {
				out[i] = e
			}
		case kind == "remove":
		case i < 0:
			out = append(out, g)
		case kind == "replace":
			out[i].Permissions = g.Permissions
		default: // add
			e := out[i]
			e.Permissions = AccessPermissions{
				Keys: permissionUnion(e.Permissions.Keys, g.Permissions.Keys), Secrets: permissionUnion(e.Permissions.Secrets, g.Permissions.Secrets),
				Certificates: permissionUnion(e.Permissions.Certificates, g.Permissions.Certificates), Storage: permissionUnion(e.Permissions.Storage, g.Permissions.Storage),
			}
			out[i] = e
		}
	}
	if out == nil {
		out = []AccessPolicyEntry{}
	}
	return out
}

func permissionListHas(list []string, s string) bool {
	for _, x := range list {
		if strings.EqualFold(x, s) {
			return true
		}
	}
	return false
}

func permissionUnion(a, b []string) []string {
	out := append([]string(nil), a...)
	for _, s := range b {
		if !permissionListHas(out, s) {
			out = append(out, s)
		}
	}
	return out
}

func permissionsWithout(a, b []string) []string {
	var out []string
	for _, s := range a {
		if !permissionListHas(b, s) {
			out = append(out, s)
		}
	}
	return out
}
