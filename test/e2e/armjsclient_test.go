package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
)

// The Azure SDK for JavaScript's management libraries, unmodified: test/e2e/armjsclient is a
// small Node program using @azure/arm-authorization, @azure/arm-resources and @azure/identity
// (the versions locked in its package-lock.json), installed with `npm ci` once per test binary
// and run with guard.mjs preloaded (it ends the program before it connects beyond 127.0.0.1).
// It reaches login.microsoftonline.com and management.azure.com through mint's Azure-name proxy.

var armJSInstall = &npmProject{name: "armjsclient", files: []string{"package.json", "package-lock.json", "main.mjs", "guard.mjs"}}

// armJSResult is what one run of armjsclient printed.
type armJSResult struct {
	Event      string          `json:"event"`
	Value      json.RawMessage `json:"value"`
	StatusCode int             `json:"statusCode"`
	Code       string          `json:"code"`
	Message    string          `json:"message"`
	stderr     string
	code       int
}

// armJS runs main.mjs op args with env and parses its line.
func armJS(t *testing.T, env []string, node, dir, op string, args ...string) armJSResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	full := append([]string{"--import", filepath.Join(dir, "guard.mjs"), filepath.Join(dir, "main.mjs"), op}, args...)
	cmd := exec.CommandContext(ctx, node, full...)
	cmd.Env = env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if _, ok := err.(*exec.ExitError); err != nil && !ok {
		t.Fatalf("node armjsclient %s: %v", op, err)
	}
	if strings.Contains(stderr.String(), "mint-e2e-guard:") {
		t.Fatalf("the SDK tried to connect beyond 127.0.0.1: %s", stderr.String())
	}
	var r armJSResult
	if err := json.Unmarshal(bytes.TrimSpace(stdout.Bytes()), &r); err != nil {
		t.Fatalf("node armjsclient %s %v: output %q is not one JSON line (exit %d)\n%s", op, args, stdout.String(), cmd.ProcessState.ExitCode(), stderr.String())
	}
	r.stderr, r.code = stderr.String(), cmd.ProcessState.ExitCode()
	t.Logf("node armjsclient %s %s: exit %d: %s", op, strings.Join(args, " "), r.code, stdout.String())
	return r
}

// want decodes a successful result into v.
func (r armJSResult) want(t *testing.T, v any) {
	t.Helper()
	if r.code != 0 || r.Event != "result" {
		t.Fatalf("want a result: exit %d, %s %d %s: %s\n%s", r.code, r.Event, r.StatusCode, r.Code, r.Message, r.stderr)
	}
	if v != nil {
		if err := json.Unmarshal(r.Value, v); err != nil {
			t.Fatalf("result %s: %v", r.Value, err)
		}
	}
}

// armJSEnv is the admin application's credential for EnvironmentCredential, the subscription,
// and mint's proxy and CA as `mint dev` printed them.
func armJSEnv(t *testing.T, m *mint) []string {
	return m.printedEnv(t, "HTTPS_PROXY", "HTTP_PROXY", "NO_PROXY", "NODE_EXTRA_CA_CERTS",
		"AZURE_TENANT_ID", "AZURE_CLIENT_ID", "AZURE_CLIENT_SECRET", "AZURE_SUBSCRIPTION_ID")
}

// TestJavaScriptManagementSDKsWithScopesAndIDs: the SDKs' id- and scope-based calls take
// "/subscriptions/..." and send "https://management.azure.com//subscriptions/...". mint serves
// that path as is; a redirect would lose the Authorization header (the SDK drops it on a
// redirect) and fail with 401.
func TestJavaScriptManagementSDKsWithScopesAndIDs(t *testing.T) {
	node, npm := needNode(t)
	installed := startNPMInstall(t, npm, armJSInstall)
	m := startMint(t, options{})
	sc := seedScenario(t, m)
	dir := installed()
	env := armJSEnv(t, m)
	subScope := "/subscriptions/" + sc.sub

	var defs []struct{ ID, RoleName string }
	armJS(t, env, node, dir, "role-definitions-list", "--scope", subScope).want(t, &defs)
	reader := ""
	for _, d := range defs {
		if d.RoleName == "Reader" {
			reader = d.ID
		}
	}
	if reader == "" {
		t.Fatalf("roleDefinitions.list(%q) has no Reader: %+v", subScope, defs)
	}

	assignmentID := subScope + "/resourceGroups/app/providers/Microsoft.Authorization/roleAssignments/" + uuid.NewString()
	var ra struct {
		ID               string
		PrincipalID      string
		RoleDefinitionID string
		Scope            string
	}
	armJS(t, env, node, dir, "role-assignment-create-by-id", "--id", assignmentID, "--role-definition-id", reader, "--principal-id", sc.uaPrincipal).want(t, &ra)
	if !strings.EqualFold(ra.ID, assignmentID) || ra.PrincipalID != sc.uaPrincipal || !strings.EqualFold(ra.Scope, subScope+"/resourceGroups/app") {
		t.Errorf("createById: %+v, want %s for %s", ra, assignmentID, sc.uaPrincipal)
	}
	ra.ID = ""
	armJS(t, env, node, dir, "role-assignment-get-by-id", "--id", assignmentID).want(t, &ra)
	if !strings.EqualFold(ra.ID, assignmentID) || !strings.EqualFold(ra.RoleDefinitionID, reader) {
		t.Errorf("getById: %+v", ra)
	}

	var res struct{ ID, Name, Type string }
	armJS(t, env, node, dir, "resource-get-by-id", "--id", sc.uaID, "--api-version", "2023-01-31").want(t, &res)
	if !strings.EqualFold(res.ID, sc.uaID) || res.Name != "web-id" || !strings.EqualFold(res.Type, "Microsoft.ManagedIdentity/userAssignedIdentities") {
		t.Errorf("resources.getById(%s): %+v", sc.uaID, res)
	}

	armJS(t, env, node, dir, "role-assignment-delete-by-id", "--id", assignmentID).want(t, nil)
	if r := armJS(t, env, node, dir, "role-assignment-get-by-id", "--id", assignmentID); r.code != 1 || r.StatusCode != 404 || r.Code != "RoleAssignmentNotFound" {
		t.Errorf("getById after deleteById: want 404 RoleAssignmentNotFound, got exit %d %d %s: %s", r.code, r.StatusCode, r.Code, r.Message)
	}
}
