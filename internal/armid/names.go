package armid

import (
	"fmt"
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Naming limits (https://learn.microsoft.com/azure/azure-resource-manager/management/resource-name-rules; https://learn.microsoft.com/rest/api/keyvault/keyvault/vaults/create-or-update). Lengths are counted in UTF-16 code
// units, as ARM (a .NET service) counts them; for names in the Basic Multilingual Plane that is
// the number of characters.
const (
	ResourceGroupNameMax        = 90
	UserAssignedIdentityNameMin = 3
	UserAssignedIdentityNameMax = 128
	FederatedCredentialNameMin  = 3
	FederatedCredentialNameMax  = 120
	KeyVaultNameMin             = 3
	KeyVaultNameMax             = 24
	// ResourceNameMax is mint's limit for resource types without a rule of their own. ARM has no
	// single limit (each provider sets one, most between 24 and 260); 260 admits every name a
	// real provider would and keeps IDs bounded.
	ResourceNameMax = 260
	TagNameMax      = 512
	TagValueMax     = 256
	TagsMax         = 50
)

func utf16Len(s string) int {
	n := 0
	for _, r := range s {
		if r >= 0x10000 {
			n += 2
		} else {
			n++
		}
	}
	return n
}

func isControl(r rune) bool { return r < 0x20 || (r >= 0x7f && r < 0xa0) }

func isASCIIAlnum(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

func isASCIILetter(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }

// isWordRune matches .NET's \w: letters, non-spacing marks, decimal digits and connector
// punctuation (which includes '_').
func isWordRune(r rune) bool {
	return unicode.IsLetter(r) || unicode.Is(unicode.Mn, r) || unicode.Is(unicode.Nd, r) || unicode.Is(unicode.Pc, r)
}

// ValidateResourceGroupName checks a resource group name: 1 to 90 characters, each a Unicode
// letter or digit (the spec pattern ^[-\w\._\(\)]+$), '-', '_', '.', '(' or ')', not ending in a
// period. The invalid-characters message is ARM's.
func ValidateResourceGroupName(name string) error {
	var bad strings.Builder
	for _, r := range name {
		if r == utf8.RuneError || !(isWordRune(r) || strings.ContainsRune("-._()", r)) {
			bad.WriteRune(r)
		}
	}
	if bad.Len() > 0 || !utf8.ValidString(name) {
		return &Error{Code: CodeInvalidResourceGroup, Value: name, Message: fmt.Sprintf(
			"The provided resource group name '%s' has these invalid characters: '%s'. The name can only be a letter, digit, '-', '.', '(', ')' or '_'.",
			name, bad.String())}
	}
	if n := utf16Len(name); n < 1 || n > ResourceGroupNameMax {
		return &Error{Code: CodeInvalidResourceGroup, Value: name, Message: fmt.Sprintf(
			"The provided resource group name '%s' is invalid. A resource group name must be 1 to %d characters long.",
			name, ResourceGroupNameMax)}
	}
	if strings.HasSuffix(name, ".") {
		return &Error{Code: CodeInvalidResourceGroup, Value: name, Message: fmt.Sprintf(
			"The provided resource group name '%s' is invalid. A resource group name cannot end with a period.", name)}
	}
	return nil
}

// ValidateUserAssignedIdentityName checks a user-assigned identity name: 3 to 128 characters,
// ASCII letters, digits, '-' and '_', starting with a letter or digit.
func ValidateUserAssignedIdentityName(name string) error {
	ok := len(name) >= UserAssignedIdentityNameMin && len(name) <= UserAssignedIdentityNameMax && isASCIIAlnum(name[0])
	for i := 1; ok && i < len(name); i++ {
		c := name[i]
		ok = isASCIIAlnum(c) || c == '-' || c == '_'
	}
	if !ok {
		return &Error{Code: CodeInvalidResourceName, Value: name, Message: fmt.Sprintf(
			"The resource name '%s' is invalid. A user assigned identity name must be %d to %d characters long, start with a letter or number, and contain only letters, numbers, hyphens and underscores.",
			name, UserAssignedIdentityNameMin, UserAssignedIdentityNameMax)}
	}
	return nil
}

// ValidateFederatedCredentialName checks a federated identity credential name against
// ^[a-zA-Z0-9]{1}[a-zA-Z0-9-_]{2,119}$. The message is the MSI resource provider's.
func ValidateFederatedCredentialName(name string) error {
	ok := len(name) >= FederatedCredentialNameMin && len(name) <= FederatedCredentialNameMax && isASCIIAlnum(name[0])
	for i := 1; ok && i < len(name); i++ {
		c := name[i]
		ok = isASCIIAlnum(c) || c == '-' || c == '_'
	}
	if !ok {
		return &Error{Code: CodeBadRequest, Value: name, Message: fmt.Sprintf(
			"Federated Identity Credential name '%s' is invalid.", name)}
	}
	return nil
}

// ValidateKeyVaultName checks a vault name: 3 to 24 ASCII letters, digits and hyphens, starting
// with a letter, ending with a letter or digit, with no consecutive hyphens. The message is the
// Key Vault resource provider's.
func ValidateKeyVaultName(name string) error {
	ok := len(name) >= KeyVaultNameMin && len(name) <= KeyVaultNameMax &&
		isASCIILetter(name[0]) && isASCIIAlnum(name[len(name)-1]) && !strings.Contains(name, "--")
	for i := 0; ok && i < len(name); i++ {
		ok = isASCIIAlnum(name[i]) || name[i] == '-'
	}
	if !ok {
		return &Error{Code: CodeVaultNameNotValid, Value: name, Message: fmt.Sprintf(
			"The vault name '%s' is invalid. A vault's name must be between 3-24 alphanumeric characters. The name must begin with a letter, end with a letter or digit, and not contain consecutive hyphens.",
			name)}
	}
	return nil
}

// resourceNameForbidden are the characters mint refuses in any resource name: URL and path
// delimiters (/ ? % &) and the characters ARM's naming rules forbid for most types (< > : \).
const resourceNameForbidden = `<>%&:\?/`

// ValidateResourceName checks the name of a resource whose type has no rule of its own:
// 1 to ResourceNameMax characters of valid UTF-8, none of < > % & : \ ? / or a control
// character, not ending with a period or a space. This is the intersection of the restrictions
// ARM documents for most types, so a name it accepts is a name most providers accept.
func ValidateResourceName(name string) error {
	ok := utf8.ValidString(name) && !strings.ContainsAny(name, resourceNameForbidden) &&
		!strings.HasSuffix(name, ".") && !strings.HasSuffix(name, " ")
	if n := utf16Len(name); n < 1 || n > ResourceNameMax {
		ok = false
	}
	for _, r := range name {
		if isControl(r) {
			ok = false
		}
	}
	if !ok {
		return &Error{Code: CodeInvalidResourceName, Value: name, Message: fmt.Sprintf(
			"The resource name '%s' is invalid. A resource name must be 1 to %d characters long, must not contain '<', '>', '%%', '&', ':', '\\', '?', '/' or control characters, and must not end with a period or a space.",
			name, ResourceNameMax)}
	}
	return nil
}

// tagNameForbidden are the characters ARM rejects in tag names.
const tagNameForbidden = `<>%&\?/`

func badTagName(name string) bool {
	if !utf8.ValidString(name) || strings.ContainsAny(name, tagNameForbidden) {
		return true
	}
	for _, r := range name {
		if isControl(r) {
			return true
		}
	}
	return false
}

// ValidateTags checks a resource's tags the way ARM does: at most 50 tags; names 1 to 512
// characters, not blank, without < > % & \ ? / or control characters; values at most 256
// characters (an empty value is allowed, as in Azure). Offending names are listed in sorted order
// so that the message is stable.
func ValidateTags(tags map[string]string) error {
	if len(tags) > TagsMax {
		return &Error{Code: CodeInvalidTagsCount, Value: fmt.Sprint(len(tags)), Message: fmt.Sprintf(
			"The number of tags '%d' exceeds the maximum of '%d' tags per resource.", len(tags), TagsMax)}
	}
	names := make([]string, 0, len(tags))
	for k := range tags {
		names = append(names, k)
	}
	sort.Strings(names)
	var badChars, tooLong, longValues []string
	for _, k := range names {
		if strings.TrimSpace(k) == "" {
			return &Error{Code: CodeInvalidTagName, Value: k, Message: "The tag name must be non-null, non-empty and non-whitespace only. Please provide an actual value."}
		}
		if badTagName(k) {
			badChars = append(badChars, k)
		}
		if utf16Len(k) > TagNameMax {
			tooLong = append(tooLong, k)
		}
		if utf16Len(tags[k]) > TagValueMax {
			longValues = append(longValues, tags[k])
		}
	}
	switch {
	case len(badChars) > 0:
		v := strings.Join(badChars, ", ")
		return &Error{Code: CodeInvalidTagNameCharacters, Value: v, Message: fmt.Sprintf(
			"The tag names '%s' have reserved characters '<,>,%%,&,\\,?,/' or control characters.", v)}
	case len(tooLong) > 0:
		v := strings.Join(tooLong, ", ")
		return &Error{Code: CodeInvalidTagName, Value: v, Message: fmt.Sprintf(
			"Tag key too large. Following tag name '%s' exceeded the maximum length. Maximum allowed length for tag name - '%d' characters.", v, TagNameMax)}
	case len(longValues) > 0:
		v := strings.Join(longValues, ", ")
		return &Error{Code: CodeInvalidTagValueLength, Value: v, Message: fmt.Sprintf(
			"Tag value too large. Following tag value '%s' exceeded the maximum length. Maximum allowed length for tag value - '%d' characters.", v, TagValueMax)}
	}
	return nil
}
