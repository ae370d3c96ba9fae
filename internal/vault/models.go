package vault

// Wire types of the Key Vault secrets API (https://learn.microsoft.com/azure/key-vault/general/about-keys-secrets-certificates), named after the swagger models.
// Times are integer Unix seconds.

// SecretAttributes are a secret version's attributes.
type SecretAttributes struct {
	Enabled         bool   `json:"enabled"`
	NotBefore       *int64 `json:"nbf,omitempty"`
	Expires         *int64 `json:"exp,omitempty"`
	Created         int64  `json:"created"`
	Updated         int64  `json:"updated"`
	RecoveryLevel   string `json:"recoveryLevel"`
	RecoverableDays int    `json:"recoverableDays"`
}

// SecretBundle is a secret version; Value is omitted where Key Vault omits it (update, recover,
// restore).
type SecretBundle struct {
	Value       *string           `json:"value,omitempty"`
	ID          string            `json:"id"`
	ContentType string            `json:"contentType,omitempty"`
	Attributes  SecretAttributes  `json:"attributes"`
	Tags        map[string]string `json:"tags,omitempty"`
}

// DeletedSecretBundle is a deleted secret: its latest version (without value) and the deletion
// dates.
type DeletedSecretBundle struct {
	RecoveryID         string `json:"recoveryId,omitempty"` // absent for a vault without soft delete
	DeletedDate        int64  `json:"deletedDate"`
	ScheduledPurgeDate int64  `json:"scheduledPurgeDate,omitempty"`
	SecretBundle
}

// SecretItem is a list entry: never a value.
type SecretItem struct {
	ID          string            `json:"id"`
	Attributes  SecretAttributes  `json:"attributes"`
	Tags        map[string]string `json:"tags,omitempty"`
	ContentType string            `json:"contentType,omitempty"`
}

// DeletedSecretItem is a list entry of the deleted secrets.
type DeletedSecretItem struct {
	RecoveryID         string `json:"recoveryId"`
	DeletedDate        int64  `json:"deletedDate"`
	ScheduledPurgeDate int64  `json:"scheduledPurgeDate"`
	SecretItem
}

// SecretListResult is a page of a list; NextLink is null on the last page.
type SecretListResult[T any] struct {
	Value    []T     `json:"value"`
	NextLink *string `json:"nextLink"`
}

// BackupSecretResult carries a backup blob, unpadded base64url.
type BackupSecretResult struct {
	Value string `json:"value"`
}

// SecretAttributesInput are the writable attributes.
type SecretAttributesInput struct {
	Enabled   *bool  `json:"enabled"`
	NotBefore *int64 `json:"nbf"`
	Expires   *int64 `json:"exp"`
}

// SecretSetParameters is the body of PUT /secrets/{name}.
type SecretSetParameters struct {
	Value       *string                `json:"value"`
	Tags        map[string]string      `json:"tags"`
	ContentType *string                `json:"contentType"`
	Attributes  *SecretAttributesInput `json:"attributes"`
}

// SecretUpdateParameters is the body of PATCH /secrets/{name}/{version}; absent fields are kept.
type SecretUpdateParameters struct {
	ContentType *string                `json:"contentType"`
	Attributes  *SecretAttributesInput `json:"attributes"`
	Tags        *map[string]string     `json:"tags"`
}

// SecretRestoreParameters is the body of POST /secrets/restore.
type SecretRestoreParameters struct {
	Value *string `json:"value"`
}
