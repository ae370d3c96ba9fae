package federation

import (
	"errors"
	"fmt"
	"strings"
)

// The rules every federated identity credential follows, whoever holds it (a user-assigned
// identity on the control plane, an application in the directory). Each check returns an error
// whose message is the sentence to show the caller.

// MaxCredentials is how many federated identity credentials one identity or application may have.
const MaxCredentials = 20

// maxText bounds issuer, subject and audience.
const maxText = 600

// CheckIssuer: required, at most 600 characters, an absolute https or http URL.
func CheckIssuer(issuer string) error {
	switch {
	case strings.TrimSpace(issuer) == "":
		return errors.New("The 'issuer' property is required.")
	case len(issuer) > maxText:
		return fmt.Errorf("The 'issuer' property must be at most %d characters long.", maxText)
	case !isAbsoluteURL(issuer):
		return fmt.Errorf("The issuer '%s' is invalid. It must be an absolute https or http URL.", issuer)
	}
	return nil
}

// CheckSubject: required, at most 600 characters.
func CheckSubject(subject string) error {
	switch {
	case subject == "":
		return errors.New("The 'subject' property is required.")
	case len(subject) > maxText:
		return fmt.Errorf("The 'subject' property must be at most %d characters long.", maxText)
	}
	return nil
}

// CheckAudiences: exactly one audience of 1 to 600 characters.
func CheckAudiences(audiences []string) error {
	if len(audiences) != 1 {
		return errors.New("Federated identity credentials must have exactly one audience.")
	}
	if aud := audiences[0]; strings.TrimSpace(aud) == "" || len(aud) > maxText {
		return fmt.Errorf("The audience must be 1 to %d characters long.", maxText)
	}
	return nil
}

func isAbsoluteURL(s string) bool {
	scheme, rest, ok := strings.Cut(s, "://")
	if !ok || !(strings.EqualFold(scheme, "https") || strings.EqualFold(scheme, "http")) {
		return false
	}
	host, _, _ := strings.Cut(rest, "/")
	return host != "" && !strings.ContainsAny(s, " \t\r\n")
}
