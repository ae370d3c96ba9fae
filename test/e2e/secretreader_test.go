package e2e

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// examples/secret-reader is an unmodified Azure program: azidentity + azsecrets against
// https://<vault>.vault.azure.net. These tests run it with nothing but the environment `mint dev`
// printed (plus PATH and a fresh HOME), the way a user would.

var secretReader string // examples/secret-reader, built by TestMain

// buildModuleOrExit builds the main package of the Go module in srcDir (relative to this
// package's directory), which has its own go.mod.
func buildModuleOrExit(dir, name, srcDir string) string {
	out := filepath.Join(dir, name)
	build := exec.Command("go", "build", "-o", out, ".")
	build.Dir = srcDir
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintf(os.Stderr, "build %s in %s: %v\n", name, srcDir, err)
		os.Exit(1)
	}
	return out
}

const readerSecret = "s3cr3t read by an unmodified program"

// readerScenario is the seeds' scenario with a vault: the container app web (system-assigned
// identity, user-assigned web-id attached), a VM vm1 (system-assigned), a vault holding
// db-password, and "Key Vault Secrets User" for web-id and the VM, not for web's own identity.
type readerScenario struct {
	scenario
	vault, vaultID            string
	vmID, vmPrincipal         string
	workerID, workerPrincipal string // a second app without web-id (Dapr's unscoped component)
}

func seedReaderScenario(t *testing.T, m *mint, vault string) readerScenario {
	t.Helper()
	rs := readerScenario{scenario: seedScenario(t, m), vault: vault}
	var res struct {
		ID       string
		Identity struct{ PrincipalID string }
	}
	mustJSON(t, m.mustCLI("resource", "create", "--type", "Microsoft.Compute/virtualMachines", "-g", "app", "-n", "vm1", "--system-assigned"), &res)
	rs.vmID, rs.vmPrincipal = res.ID, res.Identity.PrincipalID
	mustJSON(t, m.mustCLI("resource", "create", "--type", "Microsoft.App/containerApps", "-g", "app", "-n", "worker", "--system-assigned"), &res)
	rs.workerID, rs.workerPrincipal = res.ID, res.Identity.PrincipalID
	var kv struct{ ID string }
	mustJSON(t, m.mustCLI("keyvault", "create", "-n", rs.vault, "-g", "app"), &kv)
	rs.vaultID = kv.ID
	m.mustCLI("role", "assignment", "create", "--assignee", m.Env["AZURE_CLIENT_ID"], "--role", "Key Vault Secrets Officer", "--scope", rs.vaultID)
	m.mustCLI("keyvault", "secret", "set", "--vault-name", rs.vault, "-n", "db-password", "--value", readerSecret)
	for _, p := range []string{rs.uaPrincipal, rs.vmPrincipal} {
		m.mustCLI("role", "assignment", "create", "--assignee", p, "--role", "Key Vault Secrets User", "--scope", rs.vaultID)
	}
	return rs
}

// runReader runs secret-reader with exactly env and returns its stdout, stderr and exit code.
func runReader(t *testing.T, env []string, args ...string) (string, string, int) {
	t.Helper()
	return runProgram(t, env, secretReader, args...)
}

// runReaderAs runs secret-reader under `mint run --proxy --resource resource`, with env (which
// must name the data dir, MINT_DATA_DIR) given to mint run and so passed on to the program.
func runReaderAs(t *testing.T, env []string, resource string, args ...string) (string, string, int) {
	t.Helper()
	full := append([]string{"run", "--proxy", "--resource", resource, "--", secretReader}, args...)
	return runProgram(t, env, mintBin, full...)
}

func runProgram(t *testing.T, env []string, prog string, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(prog, args...)
	cmd.Env = env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if _, ok := err.(*exec.ExitError); err != nil && !ok {
		t.Fatalf("%s: %v", prog, err)
	}
	return stdout.String(), stderr.String(), cmd.ProcessState.ExitCode()
}

func TestSecretReaderUnmodifiedThroughMint(t *testing.T) {
	m := startMint(t, options{})
	rs := seedReaderScenario(t, m, "kv-reader")
	read := []string{"-vault", rs.vault, "-secret", "db-password"}
	wantValue := func(t *testing.T, stdout, stderr string, code int) {
		t.Helper()
		if code != 0 || stdout != readerSecret+"\n" {
			t.Fatalf("secret-reader exit %d, stdout %q, stderr:\n%s", code, stdout, stderr)
		}
	}

	// As the VM: mint dev bound to it answers IMDS (http://169.254.169.254 through HTTP_PROXY);
	// https://<vault>.vault.azure.net goes through HTTPS_PROXY.
	m.stop()
	bound := startMint(t, options{dataDir: m.dataDir, extra: []string{"--bind-host", rs.vmID}})
	env := bound.printedEnv(t, proxyVars...)
	t.Run("DefaultAzureCredential, IMDS through the proxy", func(t *testing.T) {
		stdout, stderr, code := runReader(t, env, read...)
		wantValue(t, stdout, stderr, code)
		waitFor(t, func() (string, bool) {
			log := bound.mustCLI("signin-log", "list", "--principal", rs.vmPrincipal)
			return log, strings.Contains(log, `"managed_identity"`) && strings.Contains(strings.ToLower(log), strings.ToLower(rs.vmID))
		})
	})
	t.Run("ManagedIdentityCredential, IMDS through the proxy", func(t *testing.T) {
		stdout, stderr, code := runReader(t, env, append(read, "-managed-identity")...)
		wantValue(t, stdout, stderr, code)
	})

	// As the container app, under `mint run --proxy`: only MINT_DATA_DIR from the printed
	// environment; mint run adds the identity endpoint, the proxy and the CA trust.
	runEnv := bound.printedEnv(t, "MINT_DATA_DIR")
	t.Run("ManagedIdentityCredential under mint run", func(t *testing.T) {
		stdout, stderr, code := runReaderAs(t, runEnv, rs.appID, append(read, "-managed-identity", "-client-id", rs.uaClientID)...)
		wantValue(t, stdout, stderr, code)
	})
	t.Run("DefaultAzureCredential under mint run", func(t *testing.T) {
		stdout, stderr, code := runReaderAs(t, append(runEnv, "AZURE_CLIENT_ID="+rs.uaClientID), rs.appID, read...)
		wantValue(t, stdout, stderr, code)
	})
	t.Run("the app's system-assigned identity has no role", func(t *testing.T) {
		stdout, stderr, code := runReaderAs(t, runEnv, rs.appID, append(read, "-managed-identity")...)
		if code != 1 || stdout != "" {
			t.Fatalf("exit %d, stdout %q: want the SDK's error and status 1", code, stdout)
		}
		for _, want := range []string{"RESPONSE 403", "ForbiddenByRbac", "oid=" + rs.systemPrincipal, `\"Key Vault Secrets User\"`} {
			if !strings.Contains(stderr, want) {
				t.Errorf("stderr lacks %q:\n%s", want, stderr)
			}
		}
	})
	t.Run("usage", func(t *testing.T) {
		_, stderr, code := runReader(t, env)
		if code != 2 || !strings.Contains(stderr, "usage: secret-reader") {
			t.Errorf("no arguments: exit %d, %s", code, stderr)
		}
	})
}
