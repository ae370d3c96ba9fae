package store

import (
	"context"
	"time"
)

// Vaults is the state behind the Key Vault data plane: one record per vault (its name, unique
// across the installation, and its data key) and the secrets in it, each a list of versions.
//
// A vault lives and dies with its ARM resource (a Resource of type Microsoft.KeyVault/vaults):
// CreateVault needs the resource to exist, and deleting the resource (DeleteResource,
// DeleteResourceGroup) deletes the vault and every secret in it in the same transaction.
//
// The store keeps what it is given: secret values arrive encrypted by the vault package and are
// stored as opaque bytes. Names are compared case-insensitively and returned in the spelling
// first written; versions are compared case-insensitively too.
type Vaults interface {
	// CreateVault stores a vault. ErrConflict when a vault has the name (in any case) or the
	// resource already has a vault; ErrNotFound when the resource v.ResourceID does not exist.
	CreateVault(ctx context.Context, v Vault) error
	// GetVault finds a vault by name, case-insensitively, with its resource.
	GetVault(ctx context.Context, name string) (Vault, error)

	// PutSecretVersion adds a version to a secret, creating the secret when it has none, and
	// returns it as stored (Name in the secret's first spelling, Seq assigned). The new version
	// becomes the latest. ErrConflict when the secret is deleted (its name cannot be reused until
	// it is recovered or purged) or the version exists; ErrNotFound when the vault does not exist.
	PutSecretVersion(ctx context.Context, s SecretVersion) (SecretVersion, error)
	// GetSecretVersion reads one version of a secret that is not deleted; version "" is the
	// latest. ErrNotFound when the secret or version does not exist or the secret is deleted.
	GetSecretVersion(ctx context.Context, vaultName, name, version string) (SecretVersion, error)
	// ListSecrets returns the latest version of each secret that is not deleted, by name
	// (case-folded), starting after the name afterName ("" for the first), at most limit of them
	// (limit <= 0: all).
	ListSecrets(ctx context.Context, vaultName, afterName string, limit int) ([]SecretVersion, error)
	// ListSecretVersions returns the versions of a secret that is not deleted, oldest first,
	// starting after the one whose Seq is afterSeq (0 for the first), at most limit (<= 0: all).
	// A missing or deleted secret has no versions (nil, no error).
	ListSecretVersions(ctx context.Context, vaultName, name string, afterSeq int64, limit int) ([]SecretVersion, error)
	// UpdateSecretVersion replaces ContentType, Tags, Enabled, NotBefore, Expires and Updated of
	// the version s names (Vault, Name, Version). ErrNotFound when there is no such version or
	// its secret is deleted.
	UpdateSecretVersion(ctx context.Context, s SecretVersion) error
	// DeleteSecret marks a secret deleted at deletedAt, to be purged at purgeAt, and returns it.
	// ErrNotFound when the secret does not exist or is already deleted.
	DeleteSecret(ctx context.Context, vaultName, name string, deletedAt, purgeAt time.Time) (DeletedSecret, error)
	// GetDeletedSecret reads a deleted secret (its latest version). ErrNotFound otherwise.
	GetDeletedSecret(ctx context.Context, vaultName, name string) (DeletedSecret, error)
	// ListDeletedSecrets returns the deleted secrets of a vault by name, as ListSecrets pages.
	ListDeletedSecrets(ctx context.Context, vaultName, afterName string, limit int) ([]DeletedSecret, error)
	// RecoverSecret undeletes a deleted secret and returns its latest version. ErrNotFound when
	// the secret is not deleted.
	RecoverSecret(ctx context.Context, vaultName, name string) (SecretVersion, error)
	// PurgeSecret removes a deleted secret and all its versions for good. ErrNotFound when the
	// secret is not deleted.
	PurgeSecret(ctx context.Context, vaultName, name string) error
	// PurgeDeletedSecrets removes, across every vault, the deleted secrets whose purge date is at
	// or before now, and returns how many it removed.
	PurgeDeletedSecrets(ctx context.Context, now time.Time) (int, error)
	// RestoreSecret creates a secret with the given versions (all of one name, oldest first; the
	// last becomes the latest) in one transaction. ErrConflict when a secret of that name exists,
	// deleted or not; ErrNotFound when the vault does not exist.
	RestoreSecret(ctx context.Context, vaultName string, versions []SecretVersion) error

	// Deleting a vault's resource (DeleteResource, DeleteResourceGroup) keeps the vault as a
	// DeletedVault (Key Vault's soft delete of vaults): its name stays taken (CreateVault gives
	// ErrConflict) until it is purged or recovered.

	// GetDeletedVault reads a deleted vault by name, case-insensitively. ErrNotFound otherwise.
	GetDeletedVault(ctx context.Context, name string) (DeletedVault, error)
	// ListDeletedVaults returns the deleted vaults of a subscription by name.
	ListDeletedVaults(ctx context.Context, subscriptionID string) ([]DeletedVault, error)
	// PurgeDeletedVault removes a deleted vault and its secrets for good. ErrNotFound when no
	// deleted vault has the name.
	PurgeDeletedVault(ctx context.Context, name string) error
	// PurgeDeletedVaults removes the deleted vaults whose purge date is at or before now, and
	// returns how many it removed.
	PurgeDeletedVaults(ctx context.Context, now time.Time) (int, error)
	// RecoverVault brings a deleted vault back in one transaction: it creates r (its resource,
	// whose Name must be the vault's) and the vault record with its data key and secrets as they
	// were. ErrNotFound when no deleted vault has the name or r's resource group does not exist;
	// ErrConflict when a resource with r's id exists.
	RecoverVault(ctx context.Context, r Resource) (Vault, error)
}

// DeletedVault is a vault whose resource was deleted, kept until it is purged or recovered.
type DeletedVault struct {
	Name           string // as created
	ResourceID     string // the ARM id its resource had
	SubscriptionID string
	Location       string
	Tags           map[string]string
	// Properties are the resource's properties when it was deleted.
	Properties []byte
	DeletedAt  time.Time
	PurgeAt    time.Time
}

// Vault is a key vault's data-plane record.
type Vault struct {
	Name       string // as created; unique across the installation, case-insensitively
	ResourceID string // the ARM id of its Microsoft.KeyVault/vaults resource
	// DataKey is the vault's AES-256 data key sealed under the key-encryption key; the vault
	// package owns the format.
	DataKey   []byte
	CreatedAt time.Time
	// Resource is the vault's ARM resource, read with the vault by GetVault (CreateVault ignores
	// it).
	Resource Resource
}

// SecretVersion is one version of a secret.
type SecretVersion struct {
	VaultName string // the vault's name, as the caller spelled it
	Name      string // the secret's name, as first written
	Version   string // 32 lower-case hex characters
	// Seq orders a secret's versions (1 for the first); the store assigns it.
	Seq int64
	// Value is the value encrypted by the vault package; opaque to the store.
	Value       []byte
	ContentType string
	Tags        map[string]string
	Enabled     bool
	NotBefore   time.Time // zero: none
	Expires     time.Time // zero: none
	Created     time.Time
	Updated     time.Time
}

// DeletedSecret is a deleted secret: its latest version and when it was deleted and will be
// purged.
type DeletedSecret struct {
	SecretVersion
	DeletedAt time.Time
	PurgeAt   time.Time
}
