package jsonstr

import (
	"bytes"
	"encoding/json"
	"testing"
)

var cases = []string{
	"", "plain", `quote " and \ backslash`, "<script>&</script>", "\b\f\n\r\t\x00\x1f\x7f",
	"é, 漢字, 🙂", "invalid \xff\xfe utf-8", "separators \u2028 \u2029", "truncated \xe2\x82",
}

func check(t *testing.T, s string) {
	t.Helper()
	want, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	if got := Append(nil, s); !bytes.Equal(got, want) {
		t.Errorf("Append(%q) = %s, json.Marshal = %s", s, got, want)
	}
	if got := Append([]byte("x"), []byte(s)); !bytes.Equal(got, append([]byte("x"), want...)) {
		t.Errorf("Append([]byte(%q)) = %s, json.Marshal = %s", s, got, want)
	}
}

func TestAppendIsEncodingJSON(t *testing.T) {
	for _, s := range cases {
		check(t, s)
	}
}

func FuzzAppend(f *testing.F) {
	for _, s := range cases {
		f.Add(s)
	}
	f.Fuzz(check)
}
