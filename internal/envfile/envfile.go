// Package envfile is the env file: `export NAME=value` lines, values POSIX-quoted, mode 0600 (it
// may hold a secret). mint dev, mint server --print-admin-secret and mint agent write one; the
// CLI, mint env and mint run --proxy read them. This is the one reader and writer of that format,
// a leaf so that the lean node agent (cmd/mint-agent) shares it without the server's packages.
package envfile

import (
	"bufio"
	"fmt"
	"os"
	"strings"
)

// Var is one line of the environment a client needs.
type Var struct{ Name, Value string }

// Format is the text of an env file.
func Format(env []Var) string {
	var b strings.Builder
	for _, e := range env {
		fmt.Fprintf(&b, "export %s=%s\n", e.Name, ShellQuote(e.Value))
	}
	return b.String()
}

// Write replaces the env file at path with env, atomically, mode 0600.
func Write(path string, env []Var) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(Format(env)), 0o600); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Chmod(tmp, 0o600); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// Read reads an env file's variables, in order. Blank lines, comments and lines that are
// not `[export ]NAME=value` with a valid shell name are skipped.
func Read(path string) ([]Var, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []Var
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if e, ok := ParseLine(sc.Text()); ok {
			out = append(out, e)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return out, nil
}

// Parse reads an env file into a map (a later line wins).
func Parse(path string) (map[string]string, error) {
	vars, err := Read(path)
	if err != nil {
		return nil, err
	}
	out := make(map[string]string, len(vars))
	for _, e := range vars {
		out[e.Name] = e.Value
	}
	return out, nil
}

// ParseLine parses one `[export ]NAME=value` line.
func ParseLine(line string) (Var, bool) {
	line = strings.TrimSpace(line)
	if line == "" || strings.HasPrefix(line, "#") {
		return Var{}, false
	}
	name, value, ok := strings.Cut(strings.TrimPrefix(line, "export "), "=")
	if !ok || !validEnvName(name) {
		return Var{}, false
	}
	return Var{Name: name, Value: shellUnquote(value)}, true
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
