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
	// ClaimsMatchingExpression is set on a flexible credential (Entra's preview) instead of
	// Subject: see Expression.
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
	// Claims are all of the assertion's claims, for flexible credentials; nil matches no
	// expression.
	Claims map[string]any
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
	scores := make([]int, len(creds))
	for i := range creds {
		c := &creds[i]
		ok := matched(c, p)
		if ok == fieldIssuer|fieldSubject|fieldAudience {
			return c, ""
		}
		// Weigh issuer over subject over audience: the closest credential is the one most likely
		// meant for this issuer.
		if ok&fieldIssuer != 0 {
			scores[i] += 4
		}
		if ok&fieldSubject != 0 {
			scores[i] += 2
		}
		if ok&fieldAudience != 0 {
			scores[i]++
		}
		if scores[i] > bestScore {
			best, bestScore = i, scores[i]
		}
	}
	if best < 0 {
		return nil, ""
	}
	why := explain(&creds[best], p)
	// Others as close (same issuer, say) fail for reasons of their own: name them briefly, so
	// that a flexible credential is not hidden behind an exact one.
	var also []string
	for i := range creds {
		if i != best && scores[i] == bestScore && bestScore >= 4 && len(also) < 3 {
			also = append(also, fmt.Sprintf("'%s' (%s)", creds[i].Name, subjectMismatch(&creds[i], p)))
		}
	}
	if len(also) > 0 {
		why += " As close: " + strings.Join(also, "; ") + "."
	}
	return nil, why
}

// subjectMismatch says in a few words why c's subject or expression does not match p.
func subjectMismatch(c *Credential, p Presented) string {
	if ok, why := subjectMatches(c, p); !ok {
		if c.ClaimsMatchingExpression != "" {
			return "claims mismatch: " + strings.TrimSuffix(why, ".")
		}
		return fmt.Sprintf("expects subject '%s'", clip(c.Subject))
	}
	return "audience mismatch"
}

func matched(c *Credential, p Presented) field {
	var ok field
	if c.Issuer == p.Issuer {
		ok |= fieldIssuer
	}
	if yes, _ := subjectMatches(c, p); yes {
		ok |= fieldSubject
	}
	if audienceMatches(c.Audiences, p.Audience) {
		ok |= fieldAudience
	}
	return ok
}

// subjectMatches compares the subject, or evaluates a flexible credential's expression over the
// assertion's claims; when that fails, why.
func subjectMatches(c *Credential, p Presented) (bool, string) {
	if c.ClaimsMatchingExpression == "" {
		return c.Subject == p.Subject, ""
	}
	e, err := ParseExpression(c.ClaimsMatchingExpression)
	if err != nil {
		return false, err.Error()
	}
	return e.Eval(p.Claims)
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
	case c.ClaimsMatchingExpression != "" && ok&fieldSubject == 0:
		_, why := subjectMatches(c, p)
		fmt.Fprintf(&b, " Claims mismatch: %s.", strings.TrimSuffix(why, "."))
	case c.ClaimsMatchingExpression != "":
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
	if c.ClaimsMatchingExpression != "" {
		b.WriteString(" Issuer and audience are compared exactly, the expression's comparands case-sensitively.")
	} else {
		b.WriteString(" Issuer, subject and audience are compared exactly, case-sensitively.")
	}
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
