package vault

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
)

// renderBoth renders b with appendSecretBundle and with encoding/json.
func renderBoth(t testing.TB, b SecretBundle) (hand, std []byte) {
	t.Helper()
	var value []byte
	if b.Value != nil {
		value = []byte(*b.Value)
	}
	hand = appendSecretBundle(nil, &b, value, b.Value != nil)
	std, err := json.Marshal(b)
	if err != nil {
		t.Fatal(err)
	}
	return hand, std
}

func ptr[T any](v T) *T { return &v }

// The hand-rendered GET answer is byte for byte encoding/json's.
func TestAppendSecretBundleIsEncodingJSON(t *testing.T) {
	attrs := SecretAttributes{Enabled: true, Created: 1700000000, Updated: 1700000001, RecoveryLevel: "Recoverable+Purgeable", RecoverableDays: 90}
	tests := []struct {
		name string
		b    SecretBundle
	}{
		{"plain", SecretBundle{Value: ptr("a benchmark secret value"), ID: "https://kv1.vault.localhost:8443/secrets/s/0123", Attributes: attrs}},
		{"no value", SecretBundle{ID: "https://kv1.vault.localhost/secrets/s/0123", Attributes: attrs}},
		{"empty value", SecretBundle{Value: ptr(""), ID: "x", Attributes: attrs}},
		{"escapes", SecretBundle{Value: ptr("<a href=\"x\">&amp;</a>\\ \b\f\n\r\t\x00\x1f\x7f é \u2028\u2029 \U0001F600"), ID: "i", ContentType: "text/<html>", Attributes: attrs}},
		{"invalid UTF-8", SecretBundle{Value: ptr("a\xffb\xc3\x28c\xe2\x82"), ID: "i", Attributes: attrs}},
		{"dates and tags", SecretBundle{Value: ptr("v"), ID: "i", ContentType: "application/json",
			Attributes: SecretAttributes{Enabled: false, NotBefore: ptr(int64(-5)), Expires: ptr(int64(1 << 40)), Created: 0, Updated: -1, RecoveryLevel: "Purgeable"},
			Tags:       map[string]string{"b": "2", "a": "1", "<": "&", "É": "\u2028", "": ""}}},
		{"empty tags are omitted", SecretBundle{Value: ptr("v"), ID: "i", Attributes: attrs, Tags: map[string]string{}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hand, std := renderBoth(t, tt.b)
			if !bytes.Equal(hand, std) {
				t.Fatalf("hand:          %s\nencoding/json: %s", hand, std)
			}
		})
	}
}

func FuzzAppendSecretBundle(f *testing.F) {
	f.Add("a benchmark secret value", true, "https://kv1.vault.localhost/secrets/s/v", "", true, int64(1), int64(2), false, int64(0), "Recoverable", 90, "k", "v")
	f.Add("<&>\u2028\xff", false, "id\n", "text/plain", false, int64(-1), int64(0), true, int64(-9), "", 0, "", "")
	f.Fuzz(func(t *testing.T, value string, withValue bool, id, contentType string, enabled bool, created, updated int64,
		dates bool, date int64, level string, days int, tagKey, tagValue string) {
		b := SecretBundle{ID: id, ContentType: contentType,
			Attributes: SecretAttributes{Enabled: enabled, Created: created, Updated: updated, RecoveryLevel: level, RecoverableDays: days}}
		if withValue {
			b.Value = &value
		}
		if dates {
			b.Attributes.NotBefore, b.Attributes.Expires = &date, ptr(date+1)
		}
		if tagKey != "" || tagValue != "" {
			b.Tags = map[string]string{tagKey: tagValue, tagValue: tagKey}
		}
		hand, std := renderBoth(t, b)
		if !bytes.Equal(hand, std) {
			t.Fatalf("hand:          %q\nencoding/json: %q", hand, std)
		}
	})
}

// A buffer goes back to the pool wiped: the next GET never finds another's value in it.
func TestPutBufferWipes(t *testing.T) {
	b := getBuffer()
	used := append(*b, "a secret value"...)
	putBuffer(b, used)
	for i, c := range used {
		if c != 0 {
			t.Fatalf("byte %d of a pooled buffer is %q after putBuffer", i, c)
		}
	}
	if len(*b) != 0 {
		t.Fatalf("a pooled buffer has length %d", len(*b))
	}
}

// GETs of different secrets at once each get their own value, whole: the pooled plaintext and
// body buffers are never shared between requests (run with -race).
func TestConcurrentGetsKeepTheirOwnValues(t *testing.T) {
	e := newEnv(t, envOptions{})
	officer := e.token(e.app("officer", officerRole), nil)
	values := map[string]string{"small": "v", "medium": strings.Repeat("m", 900), "large": strings.Repeat("<L&>", 5000)}
	for name, value := range values {
		e.mustStatus(e.do("PUT", "", "/secrets/"+name, officer, map[string]string{"value": value}), 200, "set "+name)
	}
	var wg sync.WaitGroup
	errs := make(chan string, 64)
	for w := range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 30 {
				name := []string{"small", "medium", "large"}[(w+i)%3]
				r := e.do("GET", "", "/secrets/"+name+"/", officer, nil)
				var got SecretBundle
				if err := json.Unmarshal(r.body, &got); r.status != 200 || err != nil || got.Value == nil || *got.Value != values[name] {
					errs <- fmt.Sprintf("GET %s: %d %.80s", name, r.status, r.body)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
