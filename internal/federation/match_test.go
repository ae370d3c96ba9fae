package federation

import (
	"strings"
	"testing"
)

func TestMatch(t *testing.T) {
	k8s := Credential{Name: "k8s", Issuer: "https://oidc.example/issuer", Subject: "system:serviceaccount:ns:app", Audiences: []string{DefaultAudience}}
	gh := Credential{Name: "gh", Issuer: "https://token.actions.githubusercontent.com", Subject: "repo:org/repo:ref:refs/heads/main", Audiences: []string{DefaultAudience}}
	flexible := Credential{Name: "flex", Issuer: "https://oidc.example/issuer", ClaimsMatchingExpression: "claims['sub'] matches 'system:serviceaccount:ns:*'", Audiences: []string{DefaultAudience}}
	presented := func(iss, sub string, aud ...string) Presented {
		if aud == nil {
			aud = []string{DefaultAudience}
		}
		return Presented{Issuer: iss, Subject: sub, Audience: aud}
	}
	tests := []struct {
		name  string
		creds []Credential
		p     Presented
		want  string   // name of the matching credential, "" for none
		says  []string // what the explanation must contain
		never []string // what it must not
	}{
		{name: "exact", creds: []Credential{gh, k8s}, p: presented(k8s.Issuer, k8s.Subject), want: "k8s"},
		{name: "aud among several", creds: []Credential{k8s}, p: presented(k8s.Issuer, k8s.Subject, "other", DefaultAudience), want: "k8s"},
		{name: "no credentials", p: presented(k8s.Issuer, k8s.Subject)},
		{name: "issuer trailing slash", creds: []Credential{gh, k8s}, p: presented(k8s.Issuer+"/", k8s.Subject),
			says:  []string{"closest federated identity credential is 'k8s'", "Issuer mismatch: the credential expects 'https://oidc.example/issuer' and the assertion's iss is 'https://oidc.example/issuer/' (they differ only in a trailing '/')"},
			never: []string{"Subject mismatch", "Audience mismatch"}},
		{name: "issuer whitespace", creds: []Credential{k8s}, p: presented(k8s.Issuer+" ", k8s.Subject),
			says: []string{"Issuer mismatch", "(they differ only in leading or trailing whitespace)"}},
		{name: "issuer case", creds: []Credential{k8s}, p: presented(strings.ToUpper(k8s.Issuer), k8s.Subject),
			says: []string{"Issuer mismatch", "(they differ only in letter case)"}},
		{name: "subject", creds: []Credential{gh, k8s}, p: presented(k8s.Issuer, "system:serviceaccount:ns:other"),
			says:  []string{"'k8s'", "Subject mismatch: the credential expects 'system:serviceaccount:ns:app' and the assertion's sub is 'system:serviceaccount:ns:other'."},
			never: []string{"Issuer mismatch", "Audience mismatch"}},
		{name: "subject case", creds: []Credential{k8s}, p: presented(k8s.Issuer, "system:serviceaccount:NS:app"),
			says: []string{"Subject mismatch", "(they differ only in letter case)"}},
		{name: "audience", creds: []Credential{k8s}, p: presented(k8s.Issuer, k8s.Subject, "api://AzureADTokenExchange/"),
			says:  []string{"Audience mismatch: the credential expects 'api://AzureADTokenExchange' among the assertion's aud, which is 'api://AzureADTokenExchange/'."},
			never: []string{"Issuer mismatch", "Subject mismatch"}},
		{name: "everything", creds: []Credential{k8s}, p: presented("https://x", "y", "z"),
			says: []string{"Issuer mismatch", "Subject mismatch", "Audience mismatch"}},
		{name: "closest prefers the issuer", creds: []Credential{gh, k8s}, p: presented(k8s.Issuer, gh.Subject),
			says: []string{"'k8s'", "Subject mismatch"}, never: []string{"Issuer mismatch"}},
		{name: "flexible never matches", creds: []Credential{flexible}, p: presented(k8s.Issuer, k8s.Subject),
			says: []string{"'flex'", "claimsMatchingExpression", "mint does not evaluate"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, why := Match(tt.creds, tt.p)
			switch {
			case tt.want != "" && (got == nil || got.Name != tt.want):
				t.Fatalf("matched %v, want %s (why %q)", got, tt.want, why)
			case tt.want == "" && got != nil:
				t.Fatalf("matched %s, want none", got.Name)
			}
			if tt.want != "" && why != "" {
				t.Errorf("explanation %q on a match", why)
			}
			if tt.want == "" && len(tt.creds) == 0 && why != "" {
				t.Errorf("explanation %q without credentials", why)
			}
			for _, s := range tt.says {
				if !strings.Contains(why, s) {
					t.Errorf("explanation %q\nlacks %q", why, s)
				}
			}
			for _, s := range tt.never {
				if strings.Contains(why, s) {
					t.Errorf("explanation %q\nhas %q", why, s)
				}
			}
		})
	}
}
