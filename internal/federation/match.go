package federation

import (
	"fmt"
	"strings"

	jose "github.com/go-jose/go-jose/v4"
)

// Credential is a federated identity credential as the verifier uses it: trust tokens that Issuer
// issued about Subject for one of Audiences.
type Credential struct {
	Name      string // the credential's name, e.g. "kubernetes"
	ID        string // its ARM id, for messages
	Issuer    string
	Subject   string
	Audiences []string // exactly one in practice (the control plane enforces it)
	// ClaimsMatchingExpression is set on a preview "flexible" credential. mint does not evaluate
	// the expression language, so such a credential never matches (and the refusal says so).
	ClaimsMatchingExpression string
	// StaticKeys, when set, are the issuer's keys given on the credential ("mintJwks"), for an
	// issuer mint cannot reach (air-gapped). Discovery is not used for this credential then.
	StaticKeys *jose.JSONWebKeySet
}

// Presented is what a federated assertion claims.
type Presented struct {
	Issuer   string
	Subject  string
	Audience []string
}

// field is one of the three things a credential is matched on.
type field int

const (
	fieldIssuer field = 1 << iota
	fieldSubject
	fieldAudience
)

// Match returns the credential that p matches exactly, as Entra matches: issuer and subject
// byte for byte (case-sensitive, no trimming, no trailing-slash tolerance) and the credential's
// audience among the assertion's aud values. When none does, it returns nil and a sentence on the
// closest credential and which of its fields differ; "" when creds is empty.
func Match(creds []Credential, p Presented) (*Credential, string) {
	best, bestScore := -1, -1
	for i := range creds {
		c := &creds[i]
		ok := matched(c, p)
		if ok == fieldIssuer|fieldSubject|fieldAudience && c.ClaimsMatchingExpression == "" {
			return c, ""
		}
		// Weigh issuer over subject over audience: the closest credential is the one most likely
		// meant for this issuer.
		score := 0
		if ok&fieldIssuer != 0 {
			score += 4
		}
		if ok&fieldSubject != 0 {
			score += 2
		}
		if ok&fieldAudience != 0 {
			score++
		}
		if score > bestScore {
			best, bestScore = i, score
		}
	}
	if best < 0 {
		return nil, ""
	}
	return nil, explain(&creds[best], p)
}

func matched(c *Credential, p Presented) field {
	var ok field
	if c.Issuer == p.Issuer {
		ok |= fieldIssuer
	}
	if c.ClaimsMatchingExpression == "" && c.Subject == p.Subject {
		ok |= fieldSubject
	}
	if audienceMatches(c.Audiences, p.Audience) {
		ok |= fieldAudience
	}
	return ok
}

// audienceMatches reports whether one of the credential's audiences is among the assertion's.
func audienceMatches(want, got []string) bool {
	for _, w := range want {
		for _, g := range got {
			if w == g {
				return true
			}
		}
	}
	return false
}

// explain says why c, the closest credential, does not match p.
func explain(c *Credential, p Presented) string {
	ok := matched(c, p)
	var b strings.Builder
	fmt.Fprintf(&b, "The closest federated identity credential is '%s' (issuer '%s', ", c.Name, clip(c.Issuer))
	if c.ClaimsMatchingExpression != "" {
		fmt.Fprintf(&b, "claimsMatchingExpression '%s'", clip(c.ClaimsMatchingExpression))
	} else {
		fmt.Fprintf(&b, "subject '%s'", clip(c.Subject))
	}
	fmt.Fprintf(&b, ", audience '%s').", clip(strings.Join(c.Audiences, "', '")))
	if ok&fieldIssuer == 0 {
		fmt.Fprintf(&b, " Issuer mismatch: the credential expects '%s' and the assertion's iss is '%s'%s.",
			clip(c.Issuer), clip(p.Issuer), nearMiss(c.Issuer, p.Issuer))
	}
	switch {
	case c.ClaimsMatchingExpression != "":
		b.WriteString(" It is a flexible credential (claimsMatchingExpression), which mint does not evaluate; give the credential an exact subject instead.")
	case ok&fieldSubject == 0:
		fmt.Fprintf(&b, " Subject mismatch: the credential expects '%s' and the assertion's sub is '%s'%s.",
			clip(c.Subject), clip(p.Subject), nearMiss(c.Subject, p.Subject))
	}
	if ok&fieldAudience == 0 {
		want := ""
		if len(c.Audiences) > 0 {
			want = c.Audiences[0]
		}
		fmt.Fprintf(&b, " Audience mismatch: the credential expects '%s' among the assertion's aud, which is '%s'.",
			clip(want), clip(strings.Join(p.Audience, "', '")))
	}
	b.WriteString(" Issuer, subject and audience are compared exactly, case-sensitively.")
	return b.String()
}

// nearMiss names the usual reasons two strings that were meant to be equal are not.
func nearMiss(want, got string) string {
	switch {
	case strings.TrimSpace(want) == strings.TrimSpace(got):
		return " (they differ only in leading or trailing whitespace)"
	case strings.TrimRight(want, "/") == strings.TrimRight(got, "/"):
		return " (they differ only in a trailing '/')"
	case strings.EqualFold(want, got):
		return " (they differ only in letter case)"
	}
	return ""
}

// clip keeps attacker-sized strings out of error messages.
func clip(s string) string {
	const n = 300
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
