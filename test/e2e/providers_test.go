package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestResourceProviderMetadata: az 2.45, the JS SDK and the Python SDK read the resource
// provider metadata (GET .../providers[/{namespace}], POST .../register) through mint's proxy,
// and az uses it to pick the api-version of `az resource show|tag|delete --ids` when none is given.
func TestResourceProviderMetadata(t *testing.T) {
	az := needAz(t)
	node, npm := needNode(t)
	installed := startNPMInstall(t, npm, armJSInstall)
	m := startMint(t, options{})
	sc := seedScenario(t, m)
	tenant, adminID := m.Env["AZURE_TENANT_ID"], m.Env["AZURE_CLIENT_ID"]
	admin := append(m.printedEnv(t, "HTTPS_PROXY", "HTTP_PROXY", "NO_PROXY", "REQUESTS_CA_BUNDLE", "SSL_CERT_FILE"), azConfigDir(t))
	mustAz(t, admin, az, nil, "login", "--service-principal", "-u", adminID, "-p", m.Env["AZURE_CLIENT_SECRET"], "--tenant", tenant, "-o", "none")

	type resourceType struct {
		ResourceType string
		APIVersions  []string
		Locations    []string
	}
	type provider struct {
		ID, Namespace, RegistrationState string
		ResourceTypes                    []resourceType
	}
	var mi provider
	mustAz(t, admin, az, &mi, "provider", "show", "-n", "Microsoft.ManagedIdentity", "-o", "json")
	i := slices.IndexFunc(mi.ResourceTypes, func(rt resourceType) bool { return rt.ResourceType == "userAssignedIdentities" })
	if mi.Namespace != "Microsoft.ManagedIdentity" || mi.RegistrationState != "Registered" || i < 0 ||
		!slices.Contains(mi.ResourceTypes[i].APIVersions, "2023-01-31") || !slices.Contains(mi.ResourceTypes[i].Locations, "East US") {
		t.Errorf("az provider show -n Microsoft.ManagedIdentity: %+v", mi)
	}
	var all []provider
	mustAz(t, admin, az, &all, "provider", "list", "-o", "json")
	if !slices.ContainsFunc(all, func(p provider) bool {
		return p.Namespace == "Microsoft.KeyVault" && p.RegistrationState == "Registered"
	}) {
		t.Errorf("az provider list lacks Microsoft.KeyVault: %+v", all)
	}
	mustAz(t, admin, az, nil, "provider", "register", "-n", "Microsoft.KeyVault", "--wait")

	// az resource without --api-version: az reads Microsoft.ManagedIdentity's metadata and takes
	// the newest api-version that is not a preview.
	var res struct {
		ID, Name string
		Tags     map[string]string
	}
	show := mustAz(t, admin, az, &res, "resource", "show", "--ids", sc.uaID, "-o", "json", "--debug")
	if !strings.EqualFold(res.ID, sc.uaID) || res.Name != "web-id" {
		t.Errorf("az resource show --ids %s: %+v", sc.uaID, res)
	}
	if !strings.Contains(show.stderr, "/providers/Microsoft.ManagedIdentity?api-version=") || !strings.Contains(show.stderr, "userAssignedIdentities/web-id?api-version=2024-11-30") {
		t.Errorf("az resource show did not pick the api-version from the provider metadata:\n%s", show.stderr)
	}
	mustAz(t, admin, az, &res, "resource", "tag", "--ids", sc.uaID, "--tags", "team=payments", "-o", "json")
	if res.Tags["team"] != "payments" {
		t.Errorf("az resource tag: %+v", res)
	}

	// The JS SDK's providers.get and register.
	dir := installed()
	var jp provider
	armJS(t, armJSEnv(t, m), node, dir, "provider-get", "--namespace", "Microsoft.ManagedIdentity").want(t, &jp)
	if jp.Namespace != "Microsoft.ManagedIdentity" || jp.RegistrationState != "Registered" || !slices.ContainsFunc(jp.ResourceTypes, func(rt resourceType) bool { return rt.ResourceType == "userAssignedIdentities" }) {
		t.Errorf("JS providers.get: %+v", jp)
	}
	armJS(t, armJSEnv(t, m), node, dir, "provider-register", "--namespace", "Microsoft.KeyVault").want(t, &jp)
	if jp.RegistrationState != "Registered" {
		t.Errorf("JS providers.register: %+v", jp)
	}

	// Python's ResourceManagementClient (Debian's python3-azure).
	py := runPython(t, m.printedEnv(t, "HTTPS_PROXY", "HTTP_PROXY", "NO_PROXY", "REQUESTS_CA_BUNDLE",
		"AZURE_TENANT_ID", "AZURE_CLIENT_ID", "AZURE_CLIENT_SECRET", "AZURE_SUBSCRIPTION_ID"), "pyclient/providers.py", "Microsoft.KeyVault")
	var pp struct {
		Namespace, RegistrationState, RegisteredState string
		ResourceTypes                                 map[string][]string
		Providers                                     []string
	}
	if err := json.Unmarshal([]byte(py), &pp); err != nil {
		t.Fatalf("providers.py printed %q: %v", py, err)
	}
	if pp.Namespace != "Microsoft.KeyVault" || pp.RegistrationState != "Registered" || pp.RegisteredState != "Registered" ||
		!slices.Contains(pp.ResourceTypes["vaults"], "2024-11-01") || !slices.Contains(pp.Providers, "Microsoft.ManagedIdentity") {
		t.Errorf("Python providers.get/register/list: %+v", pp)
	}

	// Last: delete through az (api-version from the metadata too), then it is gone.
	mustAz(t, admin, az, nil, "resource", "delete", "--ids", sc.uaID)
	if r := runAz(t, admin, az, "resource", "show", "--ids", sc.uaID); r.code == 0 || !strings.Contains(r.stderr, "ResourceNotFound") {
		t.Errorf("az resource show after delete: exit %d\n%s", r.code, r.stderr)
	}
}

// runPython runs a program with Debian's /usr/bin/python3 (python3-azure) and exactly env, and
// returns its stdout, or fails the test.
func runPython(t *testing.T, env []string, args ...string) string {
	t.Helper()
	const python = "/usr/bin/python3"
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, python, args...)
	cmd.Env = env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("python3 %s: %v\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), err, stdout.String(), stderr.String())
	}
	t.Logf("python3 %s: %s", strings.Join(args, " "), stdout.String())
	return stdout.String()
}
