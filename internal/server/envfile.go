package server

import (
	"bufio"
	"fmt"
	"os"
	"strings"
)

// The env file: `export NAME=value` lines, values POSIX-quoted, mode 0600 (it may hold a secret).
// mint dev, mint server --print-admin-secret and mint agent write one; the CLI, mint env and
// mint run --proxy read them. This is the one reader and writer of that format.

// EnvVar is one line of the environment a client needs.
type EnvVar struct{ Name, Value string }

// FormatEnvFile is the text of an env file.
func FormatEnvFile(env []EnvVar) string {
	var b strings.Builder
	for _, e := range env {
		fmt.Fprintf(&b, "export %s=%s\n", e.Name, ShellQuote(e.Value))
	}
	return b.String()
}

// ReadEnvFile reads an env file's variables, in order. Blank lines, comments and lines that are
// not `[export ]NAME=value` with a valid shell name are skipped.
func ReadEnvFile(path string) ([]EnvVar, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []EnvVar
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if e, ok := ParseEnvLine(sc.Text()); ok {
			out = append(out, e)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return out, nil
}

// ParseEnvFile reads an env file into a map (a later line wins).
func ParseEnvFile(path string) (map[string]string, error) {
	vars, err := ReadEnvFile(path)
	if err != nil {
		return nil, err
	}
	out := make(map[string]string, len(vars))
	for _, e := range vars {
		out[e.Name] = e.Value
	}
	return out, nil
}

// ParseEnvLine parses one `[export ]NAME=value` line.
func ParseEnvLine(line string) (EnvVar, bool) {
	line = strings.TrimSpace(line)
	if line == "" || strings.HasPrefix(line, "#") {
		return EnvVar{}, false
	}
	name, value, ok := strings.Cut(strings.TrimPrefix(line, "export "), "=")
	if !ok || !validEnvName(name) {
		return EnvVar{}, false
	}
	return EnvVar{Name: name, Value: shellUnquote(value)}, true
}

func validEnvName(s string) bool {
	if s == "" || s[0] >= '0' && s[0] <= '9' {
		return false
	}
	for _, r := range s {
		if !(r == '_' || r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9') {
			return false
		}
	}
	return true
}

// ShellQuote quotes s for a POSIX shell: as is when it holds only safe characters, else in
// single quotes.
func ShellQuote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("/:._-+,@=", r))
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

func shellUnquote(s string) string {
	if len(s) >= 2 && s[0] == '\'' && s[len(s)-1] == '\'' {
		return strings.ReplaceAll(s[1:len(s)-1], `'\''`, "'")
	}
	return s
}
