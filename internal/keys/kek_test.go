package keys

import (
	"bytes"
	"encoding/base64"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

func testKEK(t testing.TB, fill byte) *KEK {
	t.Helper()
	k, err := NewKEK(bytes.Repeat([]byte{fill}, KEKSize))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestSealOpen(t *testing.T) {
	kek := testKEK(t, 1)
	plaintext := []byte("private key bytes")
	ad := []byte("kid-1")
	sealed, err := kek.Seal(plaintext, ad)
	if err != nil {
		t.Fatal(err)
	}
	if sealed[0] != sealVersion1 || len(sealed) != sealOverhead+len(plaintext) {
		t.Fatalf("sealed = version %d, %d bytes; want version 1, %d bytes", sealed[0], len(sealed), sealOverhead+len(plaintext))
	}
	if bytes.Contains(sealed, plaintext) {
		t.Fatal("sealed value contains the plaintext")
	}
	got, err := kek.Open(sealed, ad)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	if !bytes.Equal(got, plaintext) {
		t.Fatalf("Open = %q, want %q", got, plaintext)
	}
	again, _ := kek.Seal(plaintext, ad)
	if bytes.Equal(again, sealed) {
		t.Fatal("two seals of the same plaintext are equal: nonce not random")
	}

	flip := func(i int) []byte {
		b := bytes.Clone(sealed)
		b[i] ^= 0x01
		return b
	}
	tests := []struct {
		name   string
		kek    *KEK
		sealed []byte
		ad     []byte
	}{
		{"version byte changed", kek, flip(0), ad},
		{"nonce changed", kek, flip(1), ad},
		{"ciphertext changed", kek, flip(1 + sealNonceSize), ad},
		{"tag changed", kek, flip(len(sealed) - 1), ad},
		{"other additional data", kek, sealed, []byte("kid-2")},
		{"no additional data", kek, sealed, nil},
		{"other KEK", testKEK(t, 2), sealed, ad},
		{"empty", kek, nil, ad},
		{"version only", kek, []byte{sealVersion1}, ad},
		{"truncated by one", kek, sealed[:len(sealed)-1], ad},
		{"shorter than overhead", kek, sealed[:sealOverhead-1], ad},
		{"garbage", kek, []byte(strings.Repeat("garbage!", 8)), ad},
		{"unknown version", kek, append([]byte{2}, sealed[1:]...), ad},
		{"extra byte", kek, append(bytes.Clone(sealed), 0), ad},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.kek.Open(tt.sealed, tt.ad)
			if !errors.Is(err, ErrOpen) {
				t.Fatalf("Open = %q, %v; want ErrOpen", got, err)
			}
		})
	}

	// Every truncation fails cleanly.
	for n := range len(sealed) {
		if _, err := kek.Open(sealed[:n], ad); !errors.Is(err, ErrOpen) {
			t.Fatalf("Open(sealed[:%d]) = %v, want ErrOpen", n, err)
		}
	}
}

func TestSealEmptyPlaintext(t *testing.T) {
	kek := testKEK(t, 1)
	sealed, err := kek.Seal(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	got, err := kek.Open(sealed, nil)
	if err != nil || len(got) != 0 {
		t.Fatalf("Open = %q, %v; want empty", got, err)
	}
}

func FuzzOpen(f *testing.F) {
	kek := testKEK(f, 1)
	sealed, _ := kek.Seal([]byte("seed"), []byte("ad"))
	f.Add(sealed, []byte("ad"))
	f.Add([]byte{}, []byte{})
	f.Add([]byte{1, 2, 3}, []byte("ad"))
	f.Fuzz(func(t *testing.T, sealed, ad []byte) {
		plaintext, err := kek.Open(sealed, ad)
		if err == nil {
			// Only a genuine seal opens; check it round-trips.
			resealed, err := kek.Seal(plaintext, ad)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := kek.Open(resealed, ad); err != nil {
				t.Fatal(err)
			}
		}
	})
}

func TestDeriveKey(t *testing.T) {
	a, b := testKEK(t, 1), testKEK(t, 2)
	k1 := a.DeriveKey("client-secret-hash")
	if len(k1) != 32 {
		t.Fatalf("len = %d, want 32", len(k1))
	}
	if !bytes.Equal(k1, a.DeriveKey("client-secret-hash")) {
		t.Fatal("DeriveKey is not deterministic")
	}
	if bytes.Equal(k1, a.DeriveKey("other")) {
		t.Fatal("different purposes give the same key")
	}
	if bytes.Equal(k1, b.DeriveKey("client-secret-hash")) {
		t.Fatal("different KEKs give the same key")
	}
	if bytes.Equal(k1, a.key[:]) {
		t.Fatal("derived key is the KEK")
	}
}

func TestLoadKEK(t *testing.T) {
	raw := bytes.Repeat([]byte{7}, KEKSize)
	std := base64.StdEncoding.EncodeToString(raw)
	rawURL := base64.RawURLEncoding.EncodeToString(bytes.Repeat([]byte{0xfb}, KEKSize)) // has - and _
	want := testKEK(t, 7)
	other := testKEK(t, 9)
	otherText := base64.StdEncoding.EncodeToString(other.key[:])

	dir := t.TempDir()
	writeFile := func(name, content string, perm os.FileMode) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), perm); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, perm); err != nil { // umask may have cleared bits
			t.Fatal(err)
		}
		return p
	}
	good := writeFile("good", "  "+std+"\n", 0o600)
	goodURL := writeFile("good-url", rawURL+"\n", 0o400)
	groupReadable := writeFile("group", std, 0o640)
	worldReadable := writeFile("world", std, 0o604)
	short := writeFile("short", base64.StdEncoding.EncodeToString(raw[:16]), 0o600)
	notBase64 := writeFile("bad", "not a key!", 0o600)
	empty := writeFile("empty", "", 0o600)

	tests := []struct {
		name    string
		file    string
		env     string
		want    *KEK
		wantErr string
	}{
		{name: "file std base64 trimmed", file: good, want: want},
		{name: "file raw url base64", file: goodURL, want: testKEK(t, 0xfb)},
		{name: "env std", env: std, want: want},
		{name: "env raw url", env: rawURL, want: testKEK(t, 0xfb)},
		{name: "env wins over file", file: good, env: otherText, want: other},
		{name: "env wins over missing file", file: filepath.Join(dir, "missing"), env: std, want: want},
		{name: "blank env falls back to file", file: good, env: "  \n", want: want},
		{name: "env wrong length", env: base64.StdEncoding.EncodeToString(raw[:31]), wantErr: "31 bytes, want 32"},
		{name: "env not base64", env: "%%%", wantErr: "not base64"},
		{name: "env wrong length beats good file", file: good, env: base64.StdEncoding.EncodeToString(raw[:16]), wantErr: "environment"},
		{name: "file group readable", file: groupReadable, wantErr: "chmod 600"},
		{name: "file world readable", file: worldReadable, wantErr: "chmod 600"},
		{name: "file wrong length", file: short, wantErr: "16 bytes, want 32"},
		{name: "file not base64", file: notBase64, wantErr: "not base64"},
		{name: "file empty", file: empty, wantErr: "0 bytes, want 32"},
		{name: "file missing", file: filepath.Join(dir, "missing"), wantErr: "no such file"},
		{name: "nothing configured", wantErr: "no key-encryption key configured"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if runtime.GOOS == "windows" && strings.Contains(tt.wantErr, "chmod") {
				t.Skip("no permission bits on Windows")
			}
			got, err := LoadKEK(tt.file, tt.env)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("LoadKEK = %v, want error containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.key != tt.want.key {
				t.Fatal("loaded the wrong key")
			}
		})
	}

	if _, err := LoadKEK(filepath.Join(dir, "missing"), ""); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("missing file: %v, want fs.ErrNotExist", err)
	}
}

func TestGenerateKEKFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "kek")
	k, err := GenerateKEKFile(path)
	if err != nil {
		t.Fatal(err)
	}
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if runtime.GOOS != "windows" && info.Mode().Perm() != 0o600 {
		t.Fatalf("mode = %04o, want 0600", info.Mode().Perm())
	}
	loaded, err := LoadKEK(path, "")
	if err != nil {
		t.Fatal(err)
	}
	if loaded.key != k.key {
		t.Fatal("loaded KEK differs from the generated one")
	}
	if _, err := GenerateKEKFile(path); !errors.Is(err, fs.ErrExist) {
		t.Fatalf("second GenerateKEKFile = %v, want fs.ErrExist", err)
	}
	again, err := LoadKEK(path, "")
	if err != nil || again.key != k.key {
		t.Fatalf("KEK file changed by the refused generate: %v", err)
	}
	if other, _ := GenerateKEKFile(path + "2"); other.key == k.key {
		t.Fatal("two generated KEKs are equal")
	}
}
