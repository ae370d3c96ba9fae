package server

import (
	"github.com/mint-id/mint/internal/envfile"
	"github.com/mint-id/mint/internal/proxy"
)

// The env file's one reader and writer is internal/envfile, a leaf the lean node agent shares;
// these names keep the assembly's and the CLI's spelling.

// EnvVar is one line of the environment a client needs.
type EnvVar struct{ Name, Value string }

// FormatEnvFile is the text of an env file.
func FormatEnvFile(env []EnvVar) string { return envfile.Format(toVars(env)) }

// ReadEnvFile reads an env file's variables, in order (envfile.Read).
func ReadEnvFile(path string) ([]EnvVar, error) {
	vars, err := envfile.Read(path)
	return fromVars(vars), err
}

// ParseEnvFile reads an env file into a map (a later line wins).
func ParseEnvFile(path string) (map[string]string, error) { return envfile.Parse(path) }

// ParseEnvLine parses one `[export ]NAME=value` line.
func ParseEnvLine(line string) (EnvVar, bool) {
	v, ok := envfile.ParseLine(line)
	return EnvVar(v), ok
}

// ShellQuote quotes s for a POSIX shell.
func ShellQuote(s string) string { return envfile.ShellQuote(s) }

// ProxyEnvironment is what routes a program's Azure traffic through the proxy at proxyURL
// (proxy.Environment).
func ProxyEnvironment(proxyURL, baseURL string) []EnvVar {
	return fromVars(proxy.Environment(proxyURL, baseURL))
}

func toVars(env []EnvVar) []envfile.Var {
	out := make([]envfile.Var, len(env))
	for i, e := range env {
		out[i] = envfile.Var(e)
	}
	return out
}

func fromVars(vars []envfile.Var) []EnvVar {
	out := make([]EnvVar, len(vars))
	for i, v := range vars {
		out[i] = EnvVar(v)
	}
	return out
}
