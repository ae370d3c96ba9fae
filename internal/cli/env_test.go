package cli

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/mint-id/mint/internal/server"
)

func TestEnvFileAndShellSyntax(t *testing.T) {
	path := filepath.Join(t.TempDir(), "env")
	// As server.WriteEnvFile writes it.
	os.WriteFile(path, []byte("export AZURE_CLIENT_SECRET='a'\\''b c$x\\y'\nexport HTTPS_PROXY=http://127.0.0.1:8445\n"+
		"export NO_PROXY=127.0.0.1,localhost\n# comment\nnot a line\nexport 1BAD=x\n"), 0o600)
	vars, err := server.ReadEnvFile(path)
	if err != nil {
		t.Fatal(err)
	}
	want := []server.EnvVar{{Name: "AZURE_CLIENT_SECRET", Value: `a'b c$x\y`}, {Name: "HTTPS_PROXY", Value: "http://127.0.0.1:8445"}, {Name: "NO_PROXY", Value: "127.0.0.1,localhost"}}
	if !slices.Equal(vars, want) {
		t.Fatalf("read %v, want %v", vars, want)
	}
	for shell, text := range map[string]string{
		"bash": "export AZURE_CLIENT_SECRET='a'\\''b c$x\\y'\nexport HTTPS_PROXY=http://127.0.0.1:8445\nexport NO_PROXY=127.0.0.1,localhost\n",
		"fish": "set -gx AZURE_CLIENT_SECRET 'a\\'b c$x\\\\y';\nset -gx HTTPS_PROXY 'http://127.0.0.1:8445';\nset -gx NO_PROXY '127.0.0.1,localhost';\n",
		"powershell": "$env:AZURE_CLIENT_SECRET = 'a''b c$x\\y'\n$env:HTTPS_PROXY = 'http://127.0.0.1:8445'\n" +
			"$env:NO_PROXY = '127.0.0.1,localhost'\n",
	} {
		got, err := formatEnv(shell, vars)
		if err != nil || got != text {
			t.Errorf("%s:\n%s\nwant:\n%s (%v)", shell, got, text, err)
		}
	}
	if _, err := formatEnv("cmd.exe", vars); err == nil {
		t.Error("unknown shell accepted")
	}

	extra, err := proxyEnv(path)
	if err != nil {
		t.Fatal(err)
	}
	wantExtra := []string{"HTTPS_PROXY=http://127.0.0.1:8445", "https_proxy=http://127.0.0.1:8445", "NO_PROXY=127.0.0.1,localhost", "no_proxy=127.0.0.1,localhost"}
	if !slices.Equal(extra, wantExtra) {
		t.Errorf("proxy env %v, want %v", extra, wantExtra)
	}
	os.WriteFile(path, []byte("export AZURE_TENANT_ID=x\n"), 0o600)
	if _, err := proxyEnv(path); err == nil {
		t.Error("--proxy without a proxy in the env file accepted")
	}
}
