package armid

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

func errMessage(t *testing.T, err error, wantCode string) string {
	t.Helper()
	if err == nil {
		return ""
	}
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v is not *Error", err)
	}
	if e.Code != wantCode {
		t.Errorf("code = %q, want %q", e.Code, wantCode)
	}
	return e.Message
}

func TestValidateResourceGroupName(t *testing.T) {
	tests := []struct {
		name string
		want string // "" = valid
	}{
		{"rg", ""},
		{"a", ""},
		{"My_RG-1.(prod)", ""},
		{"Ärger-グループ-٣", ""}, // Unicode letters and digits
		{strings.Repeat("a", 90), ""},
		{"Create new resource group", "The provided resource group name 'Create new resource group' has these invalid characters: '   '. The name can only be a letter, digit, '-', '.', '(', ')' or '_'."},
		{"a/b", "The provided resource group name 'a/b' has these invalid characters: '/'. The name can only be a letter, digit, '-', '.', '(', ')' or '_'."},
		{"rg.", "The provided resource group name 'rg.' is invalid. A resource group name cannot end with a period."},
		{"", "The provided resource group name '' is invalid. A resource group name must be 1 to 90 characters long."},
		{strings.Repeat("a", 91), "The provided resource group name '" + strings.Repeat("a", 91) + "' is invalid. A resource group name must be 1 to 90 characters long."},
	}
	for _, tt := range tests {
		if got := errMessage(t, ValidateResourceGroupName(tt.name), CodeInvalidResourceGroup); got != tt.want {
			t.Errorf("%q:\n got %q\nwant %q", tt.name, got, tt.want)
		}
	}
}

func TestValidateUserAssignedIdentityName(t *testing.T) {
	valid := []string{"abc", "web-id", "Web_ID_1", "1id", strings.Repeat("a", 128)}
	invalid := []string{"ab", "-id", "_id", "id.x", "id x", "idé", strings.Repeat("a", 129), ""}
	for _, n := range valid {
		if err := ValidateUserAssignedIdentityName(n); err != nil {
			t.Errorf("%q rejected: %v", n, err)
		}
	}
	for _, n := range invalid {
		msg := errMessage(t, ValidateUserAssignedIdentityName(n), CodeInvalidResourceName)
		want := "The resource name '" + n + "' is invalid. A user assigned identity name must be 3 to 128 characters long, start with a letter or number, and contain only letters, numbers, hyphens and underscores."
		if msg != want {
			t.Errorf("%q: %q", n, msg)
		}
	}
}

func TestValidateFederatedCredentialName(t *testing.T) {
	valid := []string{"abc", "a-_", "kubernetes-federated-credential", "9ab", strings.Repeat("a", 120)}
	invalid := []string{"ab", "-ab", "_ab", "a.b.c", "a b", strings.Repeat("a", 121), ""}
	for _, n := range valid {
		if err := ValidateFederatedCredentialName(n); err != nil {
			t.Errorf("%q rejected: %v", n, err)
		}
	}
	for _, n := range invalid {
		msg := errMessage(t, ValidateFederatedCredentialName(n), CodeBadRequest)
		if want := "Federated Identity Credential name '" + n + "' is invalid."; msg != want {
			t.Errorf("%q: %q", n, msg)
		}
	}
}

func TestValidateKeyVaultName(t *testing.T) {
	valid := []string{"kv1", "my-vault-01", "A23", strings.Repeat("a", 24)}
	invalid := []string{"kv", "1kv", "-kv", "kv-", "my--vault", "my_vault", "kv.1", strings.Repeat("a", 25), ""}
	for _, n := range valid {
		if err := ValidateKeyVaultName(n); err != nil {
			t.Errorf("%q rejected: %v", n, err)
		}
	}
	for _, n := range invalid {
		msg := errMessage(t, ValidateKeyVaultName(n), CodeVaultNameNotValid)
		want := "The vault name '" + n + "' is invalid. A vault's name must be between 3-24 alphanumeric characters. The name must begin with a letter, end with a letter or digit, and not contain consecutive hyphens."
		if msg != want {
			t.Errorf("%q: %q", n, msg)
		}
	}
}

func TestValidateResourceName(t *testing.T) {
	valid := []string{"a", "web", "my app", "vm.prod", "名前", strings.Repeat("a", 260)}
	invalid := []string{"", "a/b", "a?b", "a%b", "a&b", "a:b", `a\b`, "a<b", "a>b", "a.", "a ", "a\tb", "a\x7fb", "\xff", strings.Repeat("a", 261)}
	for _, n := range valid {
		if err := ValidateResourceName(n); err != nil {
			t.Errorf("%q rejected: %v", n, err)
		}
	}
	for _, n := range invalid {
		msg := errMessage(t, ValidateResourceName(n), CodeInvalidResourceName)
		want := "The resource name '" + n + "' is invalid. A resource name must be 1 to 260 characters long, must not contain '<', '>', '%', '&', ':', '\\', '?', '/' or control characters, and must not end with a period or a space."
		if msg != want {
			t.Errorf("%q: %q", n, msg)
		}
	}
}

func TestValidateTags(t *testing.T) {
	many := map[string]string{}
	for i := 0; i < 51; i++ {
		many[fmt.Sprint("k", i)] = "v"
	}
	fifty := map[string]string{}
	for i := 0; i < 50; i++ {
		fifty[fmt.Sprint("k", i)] = ""
	}
	tests := []struct {
		name string
		tags map[string]string
		code string
		want string
	}{
		{"nil", nil, "", ""},
		{"ok", map[string]string{"env": "prod", "empty": "", "with space": "x"}, "", ""},
		{"fifty", fifty, "", ""},
		{"too many", many, CodeInvalidTagsCount, "The number of tags '51' exceeds the maximum of '50' tags per resource."},
		{"blank name", map[string]string{" ": "v"}, CodeInvalidTagName, "The tag name must be non-null, non-empty and non-whitespace only. Please provide an actual value."},
		{"reserved chars", map[string]string{"b/c": "1", "a<": "2", "ok": "3"}, CodeInvalidTagNameCharacters, "The tag names 'a<, b/c' have reserved characters '<,>,%,&,\\,?,/' or control characters."},
		{"long name", map[string]string{strings.Repeat("n", 513): "v"}, CodeInvalidTagName, "Tag key too large. Following tag name '" + strings.Repeat("n", 513) + "' exceeded the maximum length. Maximum allowed length for tag name - '512' characters."},
		{"long value", map[string]string{"k": strings.Repeat("v", 257)}, CodeInvalidTagValueLength, "Tag value too large. Following tag value '" + strings.Repeat("v", 257) + "' exceeded the maximum length. Maximum allowed length for tag value - '256' characters."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := errMessage(t, ValidateTags(tt.tags), tt.code); got != tt.want {
				t.Errorf("got %q\nwant %q", got, tt.want)
			}
		})
	}
}
