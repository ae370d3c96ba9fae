package vault

import (
	"bytes"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/mint-id/mint/internal/keys"
)

func testKEK(t testing.TB) *keys.KEK {
	t.Helper()
	raw := make([]byte, keys.KEKSize)
	rand.Read(raw)
	k, err := keys.NewKEK(raw)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func backupKeyOf(t testing.TB, k *keys.KEK) cipher.AEAD {
	t.Helper()
	a, err := newGCM(k.DeriveKey(backupKeyPurpose))
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func samplePayload() backupPayload {
	return backupPayload{Name: "my-secret", Versions: []backupVersion{
		{Version: "0123456789abcdef0123456789abcdef", Value: "v1", ContentType: "text/plain", Tags: map[string]string{"a": "b"}, Enabled: true, Created: 1, Updated: 2},
		{Version: "fedcba9876543210fedcba9876543210", Value: "", Enabled: false, NotBefore: 5, Expires: 10, Created: 3, Updated: 4},
	}}
}

func TestBackupRoundTripAndTamper(t *testing.T) {
	k := testKEK(t)
	aead := backupKeyOf(t, k)
	p := samplePayload()
	blob, err := encodeBackup(aead, p)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(blob, []byte("my-secret")) || bytes.Contains(blob, []byte("text/plain")) {
		t.Fatal("the blob shows its payload in clear")
	}
	got, err := decodeBackup(aead, blob)
	if err != nil || !reflect.DeepEqual(got, p) {
		t.Fatalf("round trip: %+v, %v", got, err)
	}
	for i := range blob {
		bad := bytes.Clone(blob)
		bad[i] ^= 0x01
		if _, err := decodeBackup(aead, bad); err == nil {
			t.Fatalf("a blob changed at byte %d decoded", i)
		}
	}
	if _, err := decodeBackup(backupKeyOf(t, testKEK(t)), blob); !errors.Is(err, errBadBackup) {
		t.Fatalf("another installation's key: %v", err)
	}
	if _, err := decodeBackup(aead, blob[:len(blob)-1]); err == nil {
		t.Fatal("a truncated blob decoded")
	}
	// An authentic payload that breaks the rules is refused.
	for _, bad := range []backupPayload{
		{Name: "bad_name", Versions: p.Versions},
		{Name: "ok"},
		{Name: "ok", Versions: []backupVersion{{Version: "nothex"}}},
		{Name: "ok", Versions: []backupVersion{p.Versions[0], p.Versions[0]}},
		{Name: "ok", Versions: []backupVersion{{Version: p.Versions[0].Version, Created: -1}}},
	} {
		blob, err := encodeBackup(aead, bad)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := decodeBackup(aead, blob); err == nil {
			t.Errorf("payload %+v decoded", bad)
		}
	}
}

func TestValueSealing(t *testing.T) {
	k := testKEK(t)
	id := "/subscriptions/s/resourceGroups/g/providers/Microsoft.KeyVault/vaults/kv1"
	sealedKey, err := SealDataKey(k, id)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := openDataKey(k, sealedKey, id+"x"); err == nil {
		t.Fatal("a data key opened for another vault")
	}
	aead, err := openDataKey(k, sealedKey, id)
	if err != nil {
		t.Fatal(err)
	}
	sealed, err := sealValue(aead, id, "Name", "ABCDEF0123456789abcdef0123456789", []byte("hunter2"))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(sealed, []byte("hunter2")) {
		t.Fatal("value in clear")
	}
	if got, err := openValue(aead, strings.ToUpper(id), "name", "abcdef0123456789abcdef0123456789", sealed); err != nil || string(got) != "hunter2" {
		t.Fatalf("open (ids compare case-insensitively): %q %v", got, err)
	}
	for _, tc := range []struct{ vault, name, version string }{
		{id + "2", "name", "abcdef0123456789abcdef0123456789"},
		{id, "other", "abcdef0123456789abcdef0123456789"},
		{id, "name", "bbcdef0123456789abcdef0123456789"},
	} {
		if _, err := openValue(aead, tc.vault, tc.name, tc.version, sealed); err == nil {
			t.Errorf("a value opened as %+v", tc)
		}
	}
	if v := newVersion(); !validVersion(v) || v != strings.ToLower(v) {
		t.Errorf("newVersion() = %q", v)
	}
}

// FuzzBackupDecode feeds arbitrary blobs to the decoder: never a panic; whatever decodes obeys
// the payload rules and survives a round trip.
func FuzzBackupDecode(f *testing.F) {
	k := testKEK(f)
	aead := backupKeyOf(f, k)
	good, _ := encodeBackup(aead, samplePayload())
	f.Add(good)
	f.Add([]byte(backupMagic))
	f.Add([]byte{})
	f.Add(append([]byte(backupMagic), 1))
	f.Add(append([]byte(backupMagic), 2, 0, 0, 0))
	f.Add([]byte(`{"name":"x","versions":[{"version":"0123456789abcdef0123456789abcdef","value":"v","enabled":true}]}`))
	f.Add([]byte(`{"name":"x","versions":[{"version":"0123456789abcdef0123456789abcdef","value":"v","tags":{}}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		// data as a blob (the parsing before authentication), and as the payload of an authentic
		// blob (the JSON and the rules after it).
		nonce := make([]byte, gcmNonceSize)
		authentic := append([]byte(backupMagic), backupFormatV1)
		authentic = append(authentic, nonce...)
		authentic = aead.Seal(authentic, nonce, data, authentic[:backupHeaderLen])
		for _, blob := range [][]byte{data, authentic} {
			p, err := decodeBackup(aead, blob)
			if err != nil {
				continue
			}
			if err := p.check(); err != nil {
				t.Fatalf("decoded a payload that breaks the rules: %v", err)
			}
			again, err := encodeBackup(aead, p)
			if err != nil {
				t.Fatal(err)
			}
			p2, err := decodeBackup(aead, again)
			if err != nil || !reflect.DeepEqual(p, p2) {
				t.Fatalf("round trip: %v", err)
			}
		}
	})
}
