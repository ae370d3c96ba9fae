package vault

import (
	"bytes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// Backup blobs. A backup holds every version of one secret, values in clear, encrypted and
// authenticated under the installation's backup key (derived from the key-encryption key), so it
// restores into any vault of the same installation and nowhere else:
//
//	blob    = "MKVB" || 0x01 || nonce (12 bytes) || AES-256-GCM(backup key, nonce, payload, "MKVB" || 0x01)
//	payload = JSON backupPayload
//
// The client sees the blob as unpadded base64url (https://learn.microsoft.com/rest/api/keyvault/secrets/backup-secret/backup-secret). A new format gets a new
// version byte; decodeBackup keeps reading the old ones.

const (
	backupMagic     = "MKVB"
	backupFormatV1  = byte(1)
	backupHeaderLen = len(backupMagic) + 1
	// maxBackupVersions bounds what one blob may hold, so a forged or corrupt payload cannot ask
	// for unbounded work; a secret with more versions than this cannot be backed up.
	maxBackupVersions = 4096
	// maxBackupBlob is the largest blob accepted (before base64).
	maxBackupBlob = maxBackupVersions*(maxValueBytes+2048) + 4096
)

// backupPayload is what a blob carries.
type backupPayload struct {
	Name     string          `json:"name"`
	Versions []backupVersion `json:"versions"` // oldest first
}

type backupVersion struct {
	Version     string            `json:"version"`
	Value       string            `json:"value"`
	ContentType string            `json:"contentType,omitempty"`
	Tags        map[string]string `json:"tags,omitempty"`
	Enabled     bool              `json:"enabled"`
	NotBefore   int64             `json:"nbf,omitempty"` // Unix microseconds; 0: none
	Expires     int64             `json:"exp,omitempty"`
	Created     int64             `json:"created"`
	Updated     int64             `json:"updated"`
}

var errBadBackup = errors.New("the backup blob is malformed, was made by another installation, or was changed")

// encodeBackup encrypts a payload into a blob.
func encodeBackup(aead cipher.AEAD, p backupPayload) ([]byte, error) {
	plaintext, err := json.Marshal(p)
	if err != nil {
		return nil, fmt.Errorf("encode backup: %w", err)
	}
	out := make([]byte, backupHeaderLen+gcmNonceSize, backupHeaderLen+gcmNonceSize+len(plaintext)+aead.Overhead())
	copy(out, backupMagic)
	out[len(backupMagic)] = backupFormatV1
	if _, err := rand.Read(out[backupHeaderLen:]); err != nil {
		return nil, fmt.Errorf("encode backup: %w", err)
	}
	return aead.Seal(out, out[backupHeaderLen:backupHeaderLen+gcmNonceSize], plaintext, out[:backupHeaderLen]), nil
}

// decodeBackup authenticates and decrypts a blob and checks its payload. Every failure is
// errBadBackup or says what is wrong with an authentic payload.
func decodeBackup(aead cipher.AEAD, blob []byte) (backupPayload, error) {
	var p backupPayload
	if len(blob) < backupHeaderLen+gcmNonceSize+aead.Overhead() || len(blob) > maxBackupBlob ||
		!bytes.HasPrefix(blob, []byte(backupMagic)) || blob[len(backupMagic)] != backupFormatV1 {
		return p, errBadBackup
	}
	nonce := blob[backupHeaderLen : backupHeaderLen+gcmNonceSize]
	plaintext, err := aead.Open(nil, nonce, blob[backupHeaderLen+gcmNonceSize:], blob[:backupHeaderLen])
	if err != nil {
		return p, errBadBackup
	}
	if err := json.Unmarshal(plaintext, &p); err != nil {
		return backupPayload{}, errBadBackup
	}
	if err := p.check(); err != nil {
		return backupPayload{}, err
	}
	for i := range p.Versions {
		if len(p.Versions[i].Tags) == 0 {
			p.Versions[i].Tags = nil
		}
	}
	return p, nil
}

// check validates an authentic payload; a blob is only authentic if this installation made it,
// but an older mint may have had other limits.
func (p backupPayload) check() error {
	if !validName(p.Name) {
		return fmt.Errorf("the backup names an invalid secret %q", p.Name)
	}
	if len(p.Versions) == 0 || len(p.Versions) > maxBackupVersions {
		return fmt.Errorf("the backup holds %d versions", len(p.Versions))
	}
	seen := make(map[string]bool, len(p.Versions))
	for _, v := range p.Versions {
		k := strings.ToLower(v.Version)
		if !validVersion(v.Version) || seen[k] {
			return fmt.Errorf("the backup holds an invalid or repeated version %q", v.Version)
		}
		seen[k] = true
		if len(v.Value) > maxValueBytes || len(v.ContentType) > maxContentTypeLength || len(v.Tags) > maxTags {
			return fmt.Errorf("version %s of the backup exceeds Key Vault's limits", v.Version)
		}
		if v.Created < 0 || v.Updated < 0 || v.NotBefore < 0 || v.Expires < 0 {
			return fmt.Errorf("version %s of the backup has a negative time", v.Version)
		}
	}
	return nil
}
