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
		return Presented{Issuer: iss, Subject: sub, Audience: aud, Claims: map[string]any{"iss": iss, "sub": sub}}
	}
	brokenFlexible := flexible
	brokenFlexible.Name, brokenFlexible.ClaimsMatchingExpression = "broken", "sub matches '*'"
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
		{name: "flexible", creds: []Credential{gh, flexible}, p: presented(k8s.Issuer, "system:serviceaccount:ns:any"), want: "flex"},
		{name: "flexible, other namespace", creds: []Credential{flexible}, p: presented(k8s.Issuer, "system:serviceaccount:other:app"),
			says:  []string{"'flex'", "claimsMatchingExpression 'claims['sub'] matches 'system:serviceaccount:ns:*''", "Claims mismatch: the assertion's sub is 'system:serviceaccount:other:app', which fails claims['sub'] matches 'system:serviceaccount:ns:*'."},
			never: []string{"Issuer mismatch", "Subject mismatch", "Audience mismatch"}},
		{name: "flexible beside an exact one", creds: []Credential{k8s, flexible}, p: presented(k8s.Issuer, "system:serviceaccount:other:app"),
			says: []string{"closest federated identity credential is 'k8s'", "Subject mismatch",
				"As close: 'flex' (claims mismatch: the assertion's sub is 'system:serviceaccount:other:app', which fails claims['sub'] matches 'system:serviceaccount:ns:*')."}},
		{name: "flexible, no claims", creds: []Credential{flexible}, p: Presented{Issuer: k8s.Issuer, Subject: "system:serviceaccount:ns:app", Audience: []string{DefaultAudience}},
			says: []string{"Claims mismatch: the assertion has no 'sub' claim"}},
		{name: "flexible, wrong audience", creds: []Credential{flexible}, p: presented(k8s.Issuer, "system:serviceaccount:ns:app", "api://other"),
			says: []string{"Audience mismatch"}, never: []string{"Claims mismatch"}},
		{name: "flexible expression unreadable", creds: []Credential{brokenFlexible}, p: presented(k8s.Issuer, k8s.Subject),
			says: []string{"'broken'", "Claims mismatch: The claims matching expression \"sub matches '*'\" is invalid"}},
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
