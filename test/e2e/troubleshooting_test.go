package e2e

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// docs/troubleshooting.md quotes the errors mint prints. Each quote follows a
// <!-- error: NAME --> comment; this test produces every NAME by really running mint and the
// unmodified secret-reader, and checks that each line of the quote still matches the output, in
// order (white space compared loosely, <placeholders> standing for any text, "..." lines for
// elided ones).

var errorBlockRE = regexp.MustCompile("(?s)<!-- error: ([a-z0-9-]+) -->\\s*```text\n(.*?)```")

func troubleshootingQuotes(t *testing.T) map[string][]string {
	t.Helper()
	doc, err := os.ReadFile(filepath.Join(sourceRoot(t), "docs", "troubleshooting.md"))
	if err != nil {
		t.Fatal(err)
	}
	quotes := map[string][]string{}
	for _, m := range errorBlockRE.FindAllStringSubmatch(string(doc), -1) {
		if _, dup := quotes[m[1]]; dup {
			t.Errorf("docs/troubleshooting.md quotes %q twice", m[1])
		}
		var lines []string
		for _, l := range strings.Split(m[2], "\n") {
			if strings.TrimSpace(l) != "" {
				lines = append(lines, l)
			}
		}
		quotes[m[1]] = lines
	}
	return quotes
}

func TestTroubleshootingErrorsAreCurrent(t *testing.T) {
	quotes := troubleshootingQuotes(t)
	m := startMint(t, options{})
	rs := seedReaderScenario(t, m, "kv1")
	read := []string{"-vault", rs.vault, "-secret", "db-password"}
	runEnv := m.printedEnv(t, "MINT_DATA_DIR")
	got := map[string]string{}
	failing := func(name, stdout, stderr string, code int) {
		if code == 0 {
			t.Errorf("%s: secret-reader succeeded (%q), want a refusal", name, stdout)
		}
		got[name] = stderr
	}

	// The app's system-assigned identity has no role at the vault (only web-id has).
	stdout, stderr, code := runReaderAs(t, runEnv, rs.appID, append(read, "-managed-identity")...)
	failing("missing-role", stdout, stderr, code)
	out, err := m.cli("role", "check", "--assignee", rs.systemPrincipal, "--data-action",
		"--action", "Microsoft.KeyVault/vaults/secrets/getSecret/action", "--scope", rs.vaultID, "-o", "table")
	if err == nil || !strings.Contains(err.Error(), "exit status 3") {
		t.Errorf("mint role check for a denied action: %v, want exit status 3", err)
	}
	got["role-check"] = out

	// Dapr's unscoped component: worker asks for web-id, which only web has.
	stdout, stderr, code = runReaderAs(t, runEnv, rs.workerID, append(read, "-managed-identity", "-client-id", rs.uaClientID)...)
	failing("not-attached", stdout, stderr, code)
	// The same with Dapr's Key Vault secret store component (test/e2e/daprclient).
	lines, stderr, code := runDapr(t, runEnv, rs.workerID, []string{"vaultName=" + rs.vault, "azureClientId=" + rs.uaClientID}, "-get", "db-password")
	if code == 0 || len(lines) != 2 || lines[1].Error == "" {
		t.Errorf("dapr-not-attached: the component read the secret (%+v), want a refusal; stderr:\n%s", lines, stderr)
	} else {
		got["dapr-not-attached"] = lines[1].Error
	}

	// AZURE_CLIENT_ID names something that is not an identity of the app.
	stdout, stderr, code = runReaderAs(t, append(runEnv, "AZURE_CLIENT_ID="+m.Env["AZURE_CLIENT_ID"]), rs.appID, read...)
	failing("wrong-client-id", stdout, stderr, code)

	// The proxy by hand, without the CA trust.
	noTrust := m.printedEnv(t, "MINT_DATA_DIR", "HTTPS_PROXY", "HTTP_PROXY", "NO_PROXY")
	stdout, stderr, code = runProgram(t, noTrust, mintBin, append([]string{"run", "--resource", rs.appID, "--", secretReader}, read...)...)
	failing("tls", stdout, stderr, code)

	// DefaultAzureCredential outside mint run, with mint's proxy: IMDS, but no host binding.
	stdout, stderr, code = runReader(t, m.printedEnv(t, proxyVars...), read...)
	failing("imds-not-bound", stdout, stderr, code)

	// Other traffic sent to the proxy.
	c := m.proxiedClient(t)
	var other strings.Builder
	if _, err := c.Get("https://example.com/"); err != nil {
		other.WriteString(err.Error() + "\n")
	}
	if resp, err := c.Get("http://example.com/"); err == nil {
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		other.Write(body)
	}
	got["other-traffic"] = other.String()

	got["hosts-hint"] = m.log.String()

	// Revocation: web-id reads, is detached from web, and the agent stops handing out the token
	// it cached (the revocation feed reaches it within a second); asked again, it refuses as for
	// an identity that was never attached. (A token the program still holds is refused by the
	// vault: TestAgentRefusesWithinOneSecondAfterEachRevokingChange and the vault's tests.)
	stdout, stderr, code = runReaderAs(t, runEnv, rs.appID, append(read, "-managed-identity", "-client-id", rs.uaClientID)...)
	if code != 0 || stdout != readerSecret+"\n" {
		t.Fatalf("web-id before the detachment: exit %d, %q %s", code, stdout, stderr)
	}
	// Each change counts once the vault's verdict cache (at most 0.5 s) has let the old verdict
	// go: read until the answer changes rather than sleep for a guess of that time.
	readUntil := func(ok func(code int, stdout, stderr string) bool, args ...string) (string, string, int) {
		var stdout, stderr string
		var code int
		waitFor(t, func() (string, bool) {
			stdout, stderr, code = runReaderAs(t, runEnv, rs.appID, append(read, args...)...)
			return fmt.Sprintf("exit %d, %q %s", code, stdout, stderr), ok(code, stdout, stderr)
		})
		return stdout, stderr, code
	}
	// Refused once the change has reached the agent (the system-assigned identity was refused
	// before, for its missing role: a 403 from the vault, which must give way to the agent's 400).
	refused := func(code int, _, stderr string) bool { return code != 0 && strings.Contains(stderr, "RESPONSE 400") }
	m.mustCLI("resource", "identity", "remove", "--ids", rs.appID, "--identities", "web-id")
	stdout, stderr, code = readUntil(refused, "-managed-identity", "-client-id", rs.uaClientID)
	failing("revoked", stdout, stderr, code)
	// Attached again, the identity gets a token again.
	m.mustCLI("resource", "identity", "assign", "--ids", rs.appID, "--identities", "web-id")
	readUntil(func(code int, stdout, _ string) bool { return code == 0 && stdout == readerSecret+"\n" }, "-managed-identity", "-client-id", rs.uaClientID)

	// Deleting the resource deletes its system-assigned identity; the agent drops its cached
	// token for it (from the missing-role run above) and refuses to get another.
	m.mustCLI("resource", "delete", "--ids", rs.appID)
	stdout, stderr, code = readUntil(refused, "-managed-identity")
	failing("revoked-deleted", stdout, stderr, code)

	for name, output := range got {
		quote, ok := quotes[name]
		if !ok {
			t.Errorf("docs/troubleshooting.md has no <!-- error: %s --> quote; mint prints:\n%s", name, output)
			continue
		}
		if missing := matchInOrder(quote, output); missing != "" {
			t.Errorf("docs/troubleshooting.md, error %q: mint no longer prints (in order)\n  %s\nit prints:\n%s", name, missing, output)
		}
	}
	for name := range quotes {
		if _, ok := got[name]; !ok {
			t.Errorf("docs/troubleshooting.md quotes error %q, which this test does not produce", name)
		}
	}
}
