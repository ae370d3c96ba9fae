package vault

import (
	"bytes"
	"context"
	"crypto/cipher"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/mint-id/mint/internal/store"
)

// Properties is the part of a Microsoft.KeyVault/vaults resource's properties (as the control
// plane stores them, in Azure's wire names) that the data plane acts on.
type Properties struct {
	TenantID                  string         `json:"tenantId"`
	EnableRbacAuthorization   *bool          `json:"enableRbacAuthorization"`
	EnableSoftDelete          *bool          `json:"enableSoftDelete"`
	SoftDeleteRetentionInDays *int           `json:"softDeleteRetentionInDays"`
	EnablePurgeProtection     *bool          `json:"enablePurgeProtection"`
	AccessPolicies            []AccessPolicy `json:"accessPolicies"`
}

// AccessPolicy is one entry of a vault's accessPolicies (the legacy permission model, used when
// enableRbacAuthorization is false).
type AccessPolicy struct {
	TenantID      string `json:"tenantId"`
	ObjectID      string `json:"objectId"`
	ApplicationID string `json:"applicationId,omitempty"`
	Permissions   struct {
		Secrets []string `json:"secrets"`
	} `json:"permissions"`
}

// Defaults of the data-plane properties; the control plane applies the same ones.
const (
	DefaultRetentionDays = 90
	MinRetentionDays     = 7
	MaxRetentionDays     = 90
)

// vaultEntry is what a request needs to know of its vault.
type vaultEntry struct {
	name            string // as created
	id              string // the ARM id of the vault resource
	location        string
	tenantID        string
	rbac            bool
	softDelete      bool
	retentionDays   int
	purgeProtection bool
	policies        []AccessPolicy
	aead            cipher.AEAD // the vault's data key
	sealedKey       []byte      // as stored: tells a vault from a newer one of the same name

	// Derived once when the entry is made rather than on every request.
	incarnation  string   // id and sealedKey: names this incarnation in the secret cache's keys
	level        string   // recoveryLevel
	regionHeader []string // x-ms-keyvault-region's value
}

func (v *vaultEntry) ref() vaultRef { return vaultRef{name: v.name, location: v.location} }

// recoveryLevel is the deletion recovery level Key Vault reports for the vault's secrets.
func (v *vaultEntry) recoveryLevel() string {
	if v.level != "" {
		return v.level
	}
	return v.deriveRecoveryLevel()
}

func (v *vaultEntry) deriveRecoveryLevel() string {
	if !v.softDelete {
		return "Purgeable"
	}
	level := "Recoverable"
	if v.retentionDays < MaxRetentionDays {
		level = "CustomizedRecoverable"
	}
	if !v.purgeProtection {
		level += "+Purgeable"
	}
	return level
}

func (v *vaultEntry) recoverableDays() int {
	if !v.softDelete {
		return 0
	}
	return v.retentionDays
}

// vault loads a vault by name (cached for at most the cache TTL).
func (s *Server) vault(ctx context.Context, name string) (*vaultEntry, error) {
	return s.vaults.get(strings.ToLower(name), func() (*vaultEntry, time.Duration, error) {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), loadTimeout)
		defer cancel()
		v, err := s.loadVault(ctx, name)
		return v, s.cfg.CacheTTL, err
	})
}

func (s *Server) loadVault(ctx context.Context, name string) (*vaultEntry, error) {
	rec, err := s.st.GetVault(ctx, name)
	if err != nil {
		return nil, err
	}
	return s.entry(rec)
}

// freshVault is the vault as the store has it now, bypassing the cache: a vault deleted and
// created again under the same name within the cache TTL has a new data key, which writes must
// use and reads may need. The cache takes the fresh entry.
func (s *Server) freshVault(q *request) error {
	v, err := s.loadVault(q.ctx, q.vault.name)
	if err != nil {
		return err
	}
	if !bytes.Equal(v.sealedKey, q.vault.sealedKey) {
		s.vaults.put(strings.ToLower(v.name), v, s.cfg.CacheTTL)
	}
	q.vault = v
	return nil
}

func (s *Server) entry(rec store.Vault) (*vaultEntry, error) {
	var p Properties
	if len(rec.Resource.Properties) > 0 {
		if err := json.Unmarshal(rec.Resource.Properties, &p); err != nil {
			return nil, fmt.Errorf("properties of vault %s: %w", rec.Name, err)
		}
	}
	aead, err := openDataKey(s.kek, rec.DataKey, rec.ResourceID)
	if err != nil {
		return nil, err
	}
	v := &vaultEntry{
		name: rec.Name, id: rec.Resource.ID, location: rec.Resource.Location, tenantID: p.TenantID,
		rbac: true, softDelete: true, retentionDays: DefaultRetentionDays, policies: p.AccessPolicies, aead: aead,
		sealedKey: rec.DataKey,
	}
	if v.id == "" {
		v.id = rec.ResourceID
	}
	if p.EnableRbacAuthorization != nil {
		v.rbac = *p.EnableRbacAuthorization
	}
	if p.EnableSoftDelete != nil {
		v.softDelete = *p.EnableSoftDelete
	}
	if p.SoftDeleteRetentionInDays != nil && *p.SoftDeleteRetentionInDays >= MinRetentionDays && *p.SoftDeleteRetentionInDays <= MaxRetentionDays {
		v.retentionDays = *p.SoftDeleteRetentionInDays
	}
	if p.EnablePurgeProtection != nil {
		v.purgeProtection = *p.EnablePurgeProtection
	}
	v.incarnation = v.id + "\x00" + string(v.sealedKey)
	v.level = v.deriveRecoveryLevel()
	v.regionHeader = []string{v.location}
	return v, nil
}
