package e2e

import (
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// az's output habits on mint's CLI: for the same data, `mint … -o tsv|yaml|table|json|jsonc|none`
// and `--query` print what the real az prints, and both refuse a malformed query, an unknown
// format and a misspelled subcommand the same way (exit status 2).
func TestCLIOutputMatchesAzureCLI(t *testing.T) {
	az := needAz(t)
	m := startMint(t, options{})
	admin := append(slices.Clip(m.printedEnv(t, "HTTPS_PROXY", "HTTP_PROXY", "NO_PROXY", "REQUESTS_CA_BUNDLE", "SSL_CERT_FILE")), azConfigDir(t))
	mustAz(t, admin, az, nil, "login", "--service-principal", "-u", m.Env["AZURE_CLIENT_ID"], "-p", m.Env["AZURE_CLIENT_SECRET"], "--tenant", m.Env["AZURE_TENANT_ID"], "-o", "none")
	m.mustCLI("group", "create", "-n", "app", "-o", "none")
	for _, n := range []string{"web-id", "api-id", "job-id"} {
		m.mustCLI("identity", "create", "-g", "app", "-n", n, "-o", "none")
	}

	mintRun := func(args ...string) azRun {
		cmd := exec.Command(mintBin, args...)
		cmd.Env = append(cleanEnv(), "MINT_DATA_DIR="+m.dataDir, "SSL_CERT_FILE="+os.Getenv("SSL_CERT_FILE"))
		var stdout, stderr strings.Builder
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		cmd.Run()
		return azRun{cmdline: "mint " + strings.Join(args, " "), stdout: stdout.String(), stderr: stderr.String(), code: cmd.ProcessState.ExitCode()}
	}
	same := func(t *testing.T, args ...string) {
		t.Helper()
		a, b := runAz(t, admin, az, args...), mintRun(args...)
		if a.code != 0 || b.code != 0 || a.stdout != b.stdout {
			t.Errorf("%s\n  az (exit %d):\n%s\n  mint (exit %d):\n%s\n%s", strings.Join(args, " "), a.code, a.stdout, b.code, b.stdout, b.stderr)
		}
	}

	t.Run("the brief's example", func(t *testing.T) {
		same(t, "identity", "list", "--query", "[].clientId", "-o", "tsv")
	})
	// Fields both CLIs print (az 2.45's identity model has no isolationScope), with numbers,
	// booleans, nulls, lists and objects in them, in the query's own order.
	q := "[].{name:name, clientId:clientId, tags:tags, location:location, count:`3`, enabled:`true`, missing:no_such_field, pair:[name, 'a:b']}"
	for _, format := range []string{"tsv", "yaml", "table", "json", "jsonc", "none"} {
		t.Run(format, func(t *testing.T) { same(t, "identity", "list", "--query", q, "-o", format) })
	}
	t.Run("filter, pipe and az's -g", func(t *testing.T) {
		same(t, "identity", "list", "--query", "[?name=='api-id'] | [0].{principal:principalId, group:resourceGroup}", "-o", "tsv")
		same(t, "group", "show", "-g", "app", "--query", "{name:name, location:location, state:properties.provisioningState}", "-o", "yaml")
		same(t, "group", "list", "--query", "length(@)", "-o", "tsv")
	})
	t.Run("account show and az's spellings of flag values", func(t *testing.T) {
		same(t, "account", "show", "--query", "{id:id, name:name, tenantId:tenantId, isDefault:isDefault, state:state, user:user}", "-o", "json")
		same(t, "group", "create", "-n", "tagged", "-l", "eastus", "--tags", "env=dev", "team=web", "--query", "tags", "-o", "json")
	})

	refused := func(t *testing.T, want string, args ...string) {
		t.Helper()
		a, b := runAz(t, admin, az, args...), mintRun(args...)
		if a.code != 2 || !strings.Contains(a.stderr, want) {
			t.Fatalf("az %s: exit %d, %s (the test's expectation of az is wrong)", strings.Join(args, " "), a.code, a.stderr)
		}
		if b.code != 2 || !strings.Contains(b.stderr, want) || b.stdout != "" {
			t.Errorf("mint %s: exit %d, stdout %q, stderr %s; want exit 2 and %q as az", strings.Join(args, " "), b.code, b.stdout, b.stderr, want)
		}
	}
	t.Run("refusals", func(t *testing.T) {
		refused(t, `argument --query: invalid jmespath_type value: "[?name=='x'"`, "identity", "list", "--query", "[?name=='x'")
		refused(t, "'xml' is not a valid value for '--output'. Allowed values: json, jsonc, yaml, yamlc, table, tsv, none.", "identity", "list", "-o", "xml")
		refused(t, "'craete' is misspelled or not recognized by the system.\nDid you mean 'create' ?", "group", "craete", "-n", "x")
		refused(t, "'craete' is misspelled or not recognized by the system.\nDid you mean 'create' ?", "group", "craete")
		refused(t, "'lst' is misspelled or not recognized by the system.\nDid you mean 'list' ?", "identity", "lst")
		refused(t, "the following arguments are required: --resource-group/-g", "identity", "create", "-n", "x")
	})
}
