package vault

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"fmt"
	"strings"

	"github.com/mint-id/mint/internal/keys"
)

// Encryption at rest. Every vault has its own AES-256 data key, stored sealed under the
// key-encryption key with the vault's resource id (lower case) as additional data, so a sealed
// key cannot be moved to another vault. Each secret value is sealed with AES-256-GCM under the
// vault's data key, bound to its vault, name and version:
//
//	value  = 0x01 || nonce (12 bytes) || AES-256-GCM(data key, nonce, plaintext, ad)
//	ad     = "mint secret v1" 0x00 lower(vault id) 0x00 lower(name) 0x00 version
//
// A new format gets a new first byte. The store never sees a key or a value in clear.

const (
	valueFormatV1       byte = 1
	dataKeySize              = 32
	gcmNonceSize             = 12
	valueADPrefix            = "mint secret v1\x00"
	backupKeyPurpose         = "vault secret backup v1" // a keys.KEK.DeriveKey purpose: never rename
	valueOverheadV1          = 1 + gcmNonceSize + 16
	errValueUnreadable       = "secret value cannot be decrypted"
	errDataKeyMalformed      = "vault data key is malformed"
)

var errOpenValue = errors.New(errValueUnreadable)

// SealDataKey makes a new data key for the vault whose resource id is vaultID and returns it
// sealed under kek: the value to store as store.Vault.DataKey.
func SealDataKey(kek *keys.KEK, vaultID string) ([]byte, error) {
	key := make([]byte, dataKeySize)
	if _, err := rand.Read(key); err != nil {
		return nil, fmt.Errorf("vault data key: %w", err)
	}
	sealed, err := kek.Seal(key, dataKeyAD(vaultID))
	if err != nil {
		return nil, fmt.Errorf("seal vault data key: %w", err)
	}
	return sealed, nil
}

func dataKeyAD(vaultID string) []byte { return []byte(strings.ToLower(vaultID)) }

// openDataKey unseals a vault's data key and returns its AEAD.
func openDataKey(kek *keys.KEK, sealed []byte, vaultID string) (cipher.AEAD, error) {
	key, err := kek.Open(sealed, dataKeyAD(vaultID))
	if err != nil {
		return nil, fmt.Errorf("open data key of vault %s: %w", vaultID, err)
	}
	if len(key) != dataKeySize {
		return nil, errors.New(errDataKeyMalformed)
	}
	return newGCM(key)
}

func newGCM(key []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

func valueAD(vaultID, name, version string) []byte {
	ad := make([]byte, 0, len(valueADPrefix)+len(vaultID)+len(name)+len(version)+2)
	ad = append(ad, valueADPrefix...)
	ad = append(ad, strings.ToLower(vaultID)...)
	ad = append(ad, 0)
	ad = append(ad, strings.ToLower(name)...)
	ad = append(ad, 0)
	return append(ad, strings.ToLower(version)...)
}

// sealValue encrypts a secret value for storage.
func sealValue(aead cipher.AEAD, vaultID, name, version string, plaintext []byte) ([]byte, error) {
	out := make([]byte, 1+gcmNonceSize, valueOverheadV1+len(plaintext))
	out[0] = valueFormatV1
	if _, err := rand.Read(out[1:]); err != nil {
		return nil, fmt.Errorf("seal secret value: %w", err)
	}
	return aead.Seal(out, out[1:1+gcmNonceSize], plaintext, valueAD(vaultID, name, version)), nil
}

// openValue reverses sealValue.
func openValue(aead cipher.AEAD, vaultID, name, version string, sealed []byte) ([]byte, error) {
	return openValueAD(aead, valueAD(vaultID, name, version), sealed, nil)
}

// openValueAD is openValue with the additional data already derived (valueAD), appending the
// plaintext to dst.
func openValueAD(aead cipher.AEAD, ad, sealed, dst []byte) ([]byte, error) {
	if len(sealed) < valueOverheadV1 || sealed[0] != valueFormatV1 {
		return nil, errOpenValue
	}
	plaintext, err := aead.Open(dst, sealed[1:1+gcmNonceSize], sealed[1+gcmNonceSize:], ad)
	if err != nil {
		return nil, errOpenValue
	}
	return plaintext, nil
}

// newVersion returns a fresh secret version: 32 lower-case hex characters.
func newVersion() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on supported platforms
	const hex = "0123456789abcdef"
	out := make([]byte, 32)
	for i, c := range b {
		out[2*i], out[2*i+1] = hex[c>>4], hex[c&0x0f]
	}
	return string(out)
}
