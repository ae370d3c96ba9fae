package envfile

import (
	"strings"
	"testing"
)

// Every value survives Format and ParseLine, as a POSIX shell would read it back.
func FuzzEnvFileRoundTrip(f *testing.F) {
	for _, s := range []string{"", "plain", "a'b c$x\\y", "'", "''", "http://127.0.0.1:8445", "x=y"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, value string) {
		if strings.ContainsAny(value, "\n\r") {
			return // one line per variable
		}
		line := strings.TrimSuffix(Format([]Var{{"NAME", value}}), "\n")
		got, ok := ParseLine(line)
		if !ok || got.Name != "NAME" || got.Value != strings.TrimSpace(value) && got.Value != value {
			t.Fatalf("%q → %q → %+v %v", value, line, got, ok)
		}
	})
}

func TestParseEnvLine(t *testing.T) {
	for line, want := range map[string]string{
		"export A=b":        "b",
		"A='x y'":           "x y",
		`export A='a'\''b'`: "a'b",
		"  export A=  ":     "",
	} {
		if got, ok := ParseLine(line); !ok || got.Value != want {
			t.Errorf("%q: %+v %v, want %q", line, got, ok, want)
		}
	}
	for _, bad := range []string{"", "# c", "export 1A=x", "nothing", "export =x", "A B=c"} {
		if _, ok := ParseLine(bad); ok {
			t.Errorf("%q parsed", bad)
		}
	}
}
