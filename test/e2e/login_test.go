package e2e

import (
	"bytes"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// The CLI pointed at a server: `mint login` keeps a profile (0600) so that later commands need
// no environment; a wrong CA and an unreachable server are refused with the server named and the
// fix; `mint env` prints a server's environment as it prints mint dev's.
func TestMintLoginAndServerEnvironment(t *testing.T) {
	for _, kind := range stores(t) {
		t.Run(kind.name, func(t *testing.T) {
			m := startServer(t, kind)
			home := t.TempDir()
			// Nothing of mint's in the environment: only PATH and HOME.
			bare := func(args ...string) (string, string, int) {
				cmd := exec.Command(mintBin, args...)
				cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + home}
				var stdout, stderr bytes.Buffer
				cmd.Stdout, cmd.Stderr = &stdout, &stderr
				cmd.Run()
				return stdout.String(), stderr.String(), cmd.ProcessState.ExitCode()
			}
			login := func(endpoint, caFile string) (string, string, int) {
				args := []string{"login", "--endpoint", endpoint, "--tenant", m.Env["AZURE_TENANT_ID"], "--service-principal",
					"-u", m.Env["AZURE_CLIENT_ID"], "-p", m.Env["AZURE_CLIENT_SECRET"], "--query", "[0].id", "-o", "tsv"}
				if caFile != "" {
					args = append(args, "--ca-file", caFile)
				}
				return bare(args...)
			}

			_, stderr, code := bare("group", "list")
			if code == 0 || !strings.Contains(stderr, "not signed in") || !strings.Contains(stderr, "mint login") {
				t.Errorf("before mint login: exit %d, %s", code, stderr)
			}
			_, stderr, code = login(m.URL, "/etc/ssl/certs/ca-certificates.crt")
			if code == 0 || !strings.Contains(stderr, "cannot verify the certificate of the mint server at "+m.URL) || !strings.Contains(stderr, "--ca-file") {
				t.Errorf("a wrong CA: exit %d, %s", code, stderr)
			}
			l, _ := net.Listen("tcp", "127.0.0.1:0")
			closed := "https://" + l.Addr().String()
			l.Close()
			_, stderr, code = login(closed, m.Env["MINT_CA_FILE"])
			if code == 0 || !strings.Contains(stderr, "cannot reach the mint server at "+closed) || !strings.Contains(stderr, "mint dev") {
				t.Errorf("an unreachable server: exit %d, %s", code, stderr)
			}
			_, stderr, code = login(m.URL, filepath.Join(t.TempDir(), "ca.pem"))
			if code == 0 || !strings.Contains(stderr, "does not exist") || !strings.Contains(stderr, "mint init") {
				t.Errorf("a missing CA file: exit %d, %s", code, stderr)
			}
			profile := filepath.Join(home, ".config", "mint", "profile.json")
			if _, err := os.Stat(profile); err == nil {
				t.Fatal("a failed mint login kept a profile")
			}

			stdout, stderr, code := login(m.URL, m.Env["MINT_CA_FILE"])
			if code != 0 || strings.TrimSpace(stdout) != m.Env["AZURE_SUBSCRIPTION_ID"] {
				t.Fatalf("mint login: exit %d, %q, %s", code, stdout, stderr)
			}
			if fi, err := os.Stat(profile); err != nil || fi.Mode().Perm() != 0o600 {
				t.Fatalf("profile: %v, want mode 0600", err)
			}
			if _, stderr, code := bare("group", "create", "-n", "from-profile", "-o", "none"); code != 0 {
				t.Fatalf("a command signed in from the profile: exit %d, %s", code, stderr)
			}
			if out, stderr, code := bare("group", "show", "-g", "from-profile", "--query", "name", "-o", "tsv"); code != 0 || out != "from-profile\n" {
				t.Fatalf("group show from the profile: exit %d, %q, %s", code, out, stderr)
			}
			if _, _, code := bare("logout"); code != 0 {
				t.Fatal("mint logout failed")
			}
			if _, err := os.Stat(profile); err == nil {
				t.Error("mint logout kept the profile")
			}

			// mint env prints what --print-admin-secret wrote for this server.
			out, stderr, code := bare("env", "--data-dir", m.dataDir)
			if code != 0 || !strings.Contains(out, "export MINT_ENDPOINT="+m.URL+"\n") || !strings.Contains(out, "export AZURE_CLIENT_SECRET=") {
				t.Errorf("mint env of a server: exit %d\n%s\n%s", code, out, stderr)
			}
		})
	}
}
