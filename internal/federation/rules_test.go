package federation

import (
	"strings"
	"testing"
)

func TestCredentialRules(t *testing.T) {
	long := "https://i/" + strings.Repeat("x", 600)
	for _, tc := range []struct {
		name, issuer, subject string
		audiences             []string
		want                  string // "" when valid; else a part of the first failing check's message
	}{
		{"valid", "https://token.actions.githubusercontent.com", "repo:o/r:ref:refs/heads/main", []string{"api://AzureADTokenExchange"}, ""},
		{"local http issuer", "http://localhost:8080/x", "s", []string{"a"}, ""},
		{"upper-case scheme", "HTTPS://A.example/", "s", []string{"a"}, ""},
		{"no issuer", "", "s", []string{"a"}, "'issuer' property is required"},
		{"blank issuer", " \t", "s", []string{"a"}, "'issuer' property is required"},
		{"long issuer", long, "s", []string{"a"}, "at most 600"},
		{"relative issuer", "a", "s", []string{"a"}, "absolute https or http URL"},
		{"ftp issuer", "ftp://a", "s", []string{"a"}, "absolute https or http URL"},
		{"no host", "https://", "s", []string{"a"}, "absolute https or http URL"},
		{"empty host", "https:///x", "s", []string{"a"}, "absolute https or http URL"},
		{"space in issuer", "https://a b", "s", []string{"a"}, "absolute https or http URL"},
		{"no subject", "https://a", "", []string{"a"}, "'subject' property is required"},
		{"long subject", "https://a", strings.Repeat("s", 601), []string{"a"}, "'subject' property must be at most 600"},
		{"no audience", "https://a", "s", nil, "exactly one audience"},
		{"two audiences", "https://a", "s", []string{"a", "b"}, "exactly one audience"},
		{"blank audience", "https://a", "s", []string{" "}, "1 to 600"},
		{"long audience", "https://a", "s", []string{strings.Repeat("a", 601)}, "1 to 600"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := CheckIssuer(tc.issuer)
			if err == nil {
				err = CheckSubject(tc.subject)
			}
			if err == nil {
				err = CheckAudiences(tc.audiences)
			}
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("error %v, want one saying %q", err, tc.want)
			}
		})
	}
}
