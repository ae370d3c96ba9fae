// Package keys owns mint's key material: the key-encryption key (KEK) that seals every private
// key mint stores, the local certificate authority that issues mint's TLS server certificates,
// and the rotating RSA keys that sign tokens and are published as JWKS.
//
// It is not a token package: it signs whatever claims it is given and knows nothing of Entra
// claim sets, audiences or lifetimes (that is sts). It keeps no state of its own beyond files in
// the CA directory; signing keys live in store.SigningKeys, sealed under the KEK.
package keys

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
)

// KEKSize is the length in bytes of a key-encryption key.
const KEKSize = 32

const (
	// sealVersion1 is AES-256-GCM under a key derived from the KEK, a 12-byte random nonce, and
	// the version byte authenticated together with the caller's additional data. A new format
	// gets a new version byte; Open keeps reading the old ones.
	sealVersion1 byte = 1

	sealNonceSize = 12
	sealOverhead  = 1 + sealNonceSize + 16 // version, nonce, GCM tag

	// The HKDF info strings are part of the on-disk format: changing them makes every sealed
	// key and every derived hash unreadable.
	sealKeyInfo      = "mint seal v1"
	derivedKeyPrefix = "mint derive "
)

// ErrOpen is returned by Open for anything that is not a value sealed under this KEK with the
// same additional data: wrong key, tampering, truncation, unknown format.
var ErrOpen = errors.New("cannot open sealed value: wrong key-encryption key, wrong additional data, or corrupt data")

// KEK is the key-encryption key. It never leaves the process: it seals private keys before they
// reach the store or the disk, and derives keys for other purposes. Make one with LoadKEK,
// GenerateKEKFile or NewKEK; the zero value is not usable. A KEK is safe for concurrent use.
type KEK struct {
	key  [KEKSize]byte
	aead cipher.AEAD
}

// NewKEK makes a KEK from 32 raw bytes (tests, or callers with their own key source).
func NewKEK(key []byte) (*KEK, error) {
	if len(key) != KEKSize {
		return nil, fmt.Errorf("key-encryption key is %d bytes, want %d", len(key), KEKSize)
	}
	k := &KEK{}
	copy(k.key[:], key)
	// Sealing uses a derived key rather than the KEK itself, so that sealed values and
	// DeriveKey outputs can never be related.
	sealKey, err := hkdf.Key(sha256.New, k.key[:], nil, sealKeyInfo, 32)
	if err != nil {
		return nil, fmt.Errorf("derive sealing key: %w", err)
	}
	block, err := aes.NewCipher(sealKey)
	if err != nil {
		return nil, fmt.Errorf("sealing cipher: %w", err)
	}
	k.aead, err = cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("sealing cipher: %w", err)
	}
	return k, nil
}

// LoadKEK reads the KEK from envValue if it is not empty, otherwise from file. Both hold the 32
// bytes as base64 (standard or unpadded URL alphabet); surrounding white space is ignored. A file
// that group or others may read is refused. A missing file gives an error that matches
// fs.ErrNotExist, so a caller may then create one with GenerateKEKFile.
func LoadKEK(file string, envValue string) (*KEK, error) {
	if strings.TrimSpace(envValue) != "" {
		k, err := parseKEK(envValue)
		if err != nil {
			return nil, fmt.Errorf("key-encryption key from environment: %w", err)
		}
		return k, nil
	}
	if file == "" {
		return nil, errors.New("no key-encryption key configured: set a KEK file or the KEK environment variable")
	}
	f, err := os.Open(file)
	if err != nil {
		return nil, fmt.Errorf("read key-encryption key: %w", err)
	}
	defer f.Close()
	// Stat the opened file, not the path, so the check is about the bytes we read.
	info, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("read key-encryption key: %w", err)
	}
	if err := checkPrivateMode(file, info); err != nil {
		return nil, err
	}
	// A KEK file is ~45 bytes; the limit only keeps a wrong path from reading a huge file.
	text, err := io.ReadAll(io.LimitReader(f, 4096))
	if err != nil {
		return nil, fmt.Errorf("read key-encryption key %s: %w", file, err)
	}
	k, err := parseKEK(string(text))
	if err != nil {
		return nil, fmt.Errorf("key-encryption key file %s: %w", file, err)
	}
	return k, nil
}

func checkPrivateMode(file string, info fs.FileInfo) error {
	if !info.Mode().IsRegular() {
		return fmt.Errorf("key-encryption key file %s is not a regular file", file)
	}
	// Windows has no Unix permission bits; Go reports 0666 for every writable file.
	if runtime.GOOS == "windows" {
		return nil
	}
	if perm := info.Mode().Perm(); perm&0o077 != 0 {
		return fmt.Errorf("key-encryption key file %s is readable by group or others (mode %04o); run: chmod 600 %s", file, perm, file)
	}
	return nil
}

func parseKEK(text string) (*KEK, error) {
	text = strings.TrimSpace(text)
	var raw []byte
	var err error
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawURLEncoding, base64.RawStdEncoding, base64.URLEncoding} {
		if raw, err = enc.DecodeString(text); err == nil {
			break
		}
	}
	if err != nil {
		return nil, errors.New("not base64 (want 32 random bytes in standard or URL-safe base64, e.g. from `openssl rand -base64 32`)")
	}
	if len(raw) != KEKSize {
		return nil, fmt.Errorf("decodes to %d bytes, want %d", len(raw), KEKSize)
	}
	return NewKEK(raw)
}

// GenerateKEKFile writes a new random KEK to path with mode 0600, creating the parent directory
// (0700) if needed. It fails if path exists: overwriting a KEK would make everything sealed under
// the old one unreadable.
func GenerateKEKFile(path string) (*KEK, error) {
	var raw [KEKSize]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return nil, fmt.Errorf("generate key-encryption key: %w", err)
	}
	k, err := NewKEK(raw[:])
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("create key-encryption key directory: %w", err)
	}
	text := base64.StdEncoding.EncodeToString(raw[:]) + "\n"
	if err := writeNewFile(path, []byte(text), 0o600); err != nil {
		return nil, fmt.Errorf("write key-encryption key: %w", err)
	}
	return k, nil
}

// writeNewFile creates path with perm (failing if it exists), writes data and syncs it. A
// failed write removes the partial file.
func writeNewFile(path string, data []byte, perm os.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(path)
		return err
	}
	return nil
}

// Seal encrypts and authenticates plaintext, binding it to additionalData (which is not
// stored: Open needs the same value). Use additional data to tie a sealed value to where it
// belongs, such as a key id, so that sealed values cannot be swapped between records.
func (k *KEK) Seal(plaintext, additionalData []byte) ([]byte, error) {
	out := make([]byte, 1+sealNonceSize, sealOverhead+len(plaintext))
	out[0] = sealVersion1
	if _, err := rand.Read(out[1:]); err != nil {
		return nil, fmt.Errorf("seal: nonce: %w", err)
	}
	return k.aead.Seal(out, out[1:1+sealNonceSize], plaintext, sealAD(sealVersion1, additionalData)), nil
}

// Open reverses Seal. Any failure is ErrOpen.
func (k *KEK) Open(sealed, additionalData []byte) ([]byte, error) {
	if len(sealed) < sealOverhead || sealed[0] != sealVersion1 {
		return nil, ErrOpen
	}
	nonce, ciphertext := sealed[1:1+sealNonceSize], sealed[1+sealNonceSize:]
	plaintext, err := k.aead.Open(nil, nonce, ciphertext, sealAD(sealed[0], additionalData))
	if err != nil {
		return nil, ErrOpen
	}
	return plaintext, nil
}

// sealAD authenticates the format version with the caller's additional data, so a value cannot
// be replayed under another format.
func sealAD(version byte, additionalData []byte) []byte {
	ad := make([]byte, 0, 1+len(additionalData))
	ad = append(ad, version)
	return append(ad, additionalData...)
}

// DeriveKey returns 32 bytes derived from the KEK with HKDF-SHA256 for the named purpose (for
// example "client-secret-hash"). The same KEK and purpose always give the same key; different
// purposes give independent keys. Purpose names are part of whatever format the caller stores,
// so never rename one.
func (k *KEK) DeriveKey(purpose string) []byte {
	key, err := hkdf.Key(sha256.New, k.key[:], nil, derivedKeyPrefix+purpose, 32)
	if err != nil {
		// Only possible for an output length HKDF-SHA256 cannot produce; 32 always fits.
		panic("keys: DeriveKey: " + err.Error())
	}
	return key
}
