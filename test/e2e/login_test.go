package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
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

// TestMintLoginAsAPerson: `mint login` signs a person in as `az login` does — with a user name and
// password, and with a device code typed into the server's /devicelogin page by a real browser —
// and keeps a profile with the refresh token, never the password. Later commands use it with
// nothing but HOME; when the access token is gone they redeem the refresh token and keep the new
// one mint rotates to. A profile others can read, or in a directory others can read, is refused.
func TestMintLoginAsAPerson(t *testing.T) {
	for _, kind := range stores(t) {
		t.Run(kind.name, func(t *testing.T) {
			m := startMint(t, options{store: kind.url(t)})
			dev := readDeveloper(t, m)
			home := t.TempDir()
			bare := func(args ...string) (string, string, int) {
				cmd := exec.Command(mintBin, args...)
				cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + home}
				var stdout, stderr bytes.Buffer
				cmd.Stdout, cmd.Stderr = &stdout, &stderr
				cmd.Run()
				return stdout.String(), stderr.String(), cmd.ProcessState.ExitCode()
			}
			dir := filepath.Join(home, ".config", "mint")
			profile := filepath.Join(dir, "profile.json")
			readProfile := func() (string, map[string]any) {
				data, err := os.ReadFile(profile)
				if err != nil {
					t.Fatal(err)
				}
				var p struct {
					Credential struct {
						Type, Username string
						TokenCache     struct{ RefreshToken, AccessToken map[string]map[string]any }
					}
				}
				if err := json.Unmarshal(data, &p); err != nil {
					t.Fatal(err)
				}
				if p.Credential.Type != "user" || !strings.EqualFold(p.Credential.Username, dev.UserPrincipalName) || len(p.Credential.TokenCache.RefreshToken) != 1 {
					t.Fatalf("profile %s: want a person's sign-in with one refresh token", data)
				}
				var rt string
				for _, v := range p.Credential.TokenCache.RefreshToken {
					rt, _ = v["secret"].(string)
				}
				var raw map[string]any
				json.Unmarshal(data, &raw)
				return rt, raw
			}

			// A wrong password is refused, and nothing is kept.
			if _, stderr, code := bare("login", "--endpoint", m.URL, "--ca-file", m.Env["MINT_CA_FILE"], "-u", dev.UserPrincipalName, "-p", "not-the-password"); code == 0 ||
				!strings.Contains(stderr, "refused: AADSTS50126: Error validating credentials") || strings.Contains(stderr, "http call") {
				t.Errorf("a wrong password: exit %d, %s", code, stderr)
			}
			if _, err := os.Stat(profile); err == nil {
				t.Fatal("a refused sign-in kept a profile")
			}

			stdout, stderr, code := bare("login", "--endpoint", m.URL, "--ca-file", m.Env["MINT_CA_FILE"], "-u", dev.UserPrincipalName, "-p", dev.Password,
				"--query", "[0].[id, user.name, user.type, tenantId]", "-o", "tsv")
			if code != 0 || strings.Fields(stdout)[0] != m.Env["AZURE_SUBSCRIPTION_ID"] || !strings.EqualFold(strings.Fields(stdout)[1], dev.UserPrincipalName) ||
				strings.Fields(stdout)[2] != "user" || strings.Fields(stdout)[3] != m.Env["AZURE_TENANT_ID"] { // was "organizations"
				t.Fatalf("mint login -u -p: exit %d, %q, %s", code, stdout, stderr)
			}
			data, _ := os.ReadFile(profile)
			if strings.Contains(string(data), dev.Password) {
				t.Fatal("the profile holds the password")
			}
			if fi, err := os.Stat(profile); err != nil || fi.Mode().Perm() != 0o600 {
				t.Fatalf("profile: %v, want mode 0600", err)
			}
			rt1, raw := readProfile()
			if _, stderr, code := bare("group", "create", "-n", "by-a-person", "-o", "none"); code != 0 {
				t.Fatalf("a command as the signed-in person: exit %d, %s", code, stderr)
			}
			if out, stderr, code := bare("account", "show", "--query", "[id, user.name, user.type]", "-o", "tsv"); code != 0 ||
				strings.Join(strings.Fields(out), " ") != m.Env["AZURE_SUBSCRIPTION_ID"]+" "+dev.UserPrincipalName+" user" {
				t.Errorf("mint account show as the signed-in person: exit %d, %q, %s", code, out, stderr)
			}
			// A person who registers an application owns it, as in Entra.
			if appID, stderr, code := bare("ad", "app", "create", "--display-name", "by-a-person", "--query", "appId", "-o", "tsv"); code != 0 {
				t.Errorf("mint ad app create as a person: exit %d, %s", code, stderr)
			} else if out, stderr, code := bare("ad", "app", "owner", "list", "--id", strings.TrimSpace(appID), "--query", "[].id", "-o", "tsv"); code != 0 ||
				strings.TrimSpace(out) != dev.ObjectID {
				t.Errorf("mint ad app owner list of the person's application: exit %d, %q, %s; want %s", code, out, stderr, dev.ObjectID)
			}

			// The access tokens gone (as when they expire): the next command redeems the refresh
			// token, and the profile keeps the new one mint rotated to.
			cred := raw["credential"].(map[string]any)
			cred["tokenCache"].(map[string]any)["AccessToken"] = map[string]any{}
			edited, _ := json.Marshal(raw)
			if err := os.WriteFile(profile, edited, 0o600); err != nil {
				t.Fatal(err)
			}
			if out, stderr, code := bare("group", "show", "-g", "by-a-person", "--query", "name", "-o", "tsv"); code != 0 || out != "by-a-person\n" {
				t.Fatalf("a command after the access token expired: exit %d, %q, %s", code, out, stderr)
			}
			if rt2, _ := readProfile(); rt2 == "" || rt2 == rt1 {
				t.Errorf("the refresh token was not rotated in the profile")
			}

			// Group- or world-readable, or in such a directory: refused, naming the fix.
			for _, c := range []struct {
				path string
				mode os.FileMode
				fix  string
			}{{profile, 0o644, "chmod 600"}, {profile, 0o640, "chmod 600"}, {dir, 0o755, "chmod 700"}} {
				os.Chmod(c.path, c.mode)
				_, stderr, code := bare("group", "list", "-o", "none")
				if code == 0 || !strings.Contains(stderr, "refusing the mint login profile") || !strings.Contains(stderr, c.fix) {
					t.Errorf("%s mode %04o: exit %d, %s", c.path, c.mode, code, stderr)
				}
				os.Chmod(profile, 0o600)
				os.Chmod(dir, 0o700)
			}

			// The device code flow: the code typed into /devicelogin by a real browser.
			if _, _, code := bare("logout"); code != 0 {
				t.Fatal("mint logout failed")
			}
			browser := newBrowser(t, "")
			ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, mintBin, "login", "--endpoint", m.URL, "--ca-file", m.Env["MINT_CA_FILE"], "--use-device-code", "-o", "json")
			cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + home}
			var out bytes.Buffer
			prompt := &lineWatcher{re: deviceCodeRe, found: make(chan []string, 1)}
			cmd.Stdout, cmd.Stderr = &out, prompt
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			var code2 []string
			select {
			case code2 = <-prompt.found:
			case <-ctx.Done():
				t.Fatalf("mint login printed no device code:\n%s", prompt.String())
			}
			approveDeviceCode(t, browser, code2[1], code2[2], dev, false)
			if err := cmd.Wait(); err != nil {
				t.Fatalf("mint login --use-device-code: %v\n%s", err, prompt.String())
			}
			readProfile()
			if out, stderr, code := bare("group", "show", "-g", "by-a-person", "--query", "name", "-o", "tsv"); code != 0 || out != "by-a-person\n" {
				t.Fatalf("a command after the device-code sign-in: exit %d, %q, %s", code, out, stderr)
			}
		})
	}
}
