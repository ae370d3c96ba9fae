package e2e

import (
	"encoding/json"
	"net"
	"os"
	"strings"
	"testing"
)

// az without the Azure-name proxy: mint serves ARM's cloud metadata document, so the real az
// registers mint as a cloud from its URL alone (with mint's CA in REQUESTS_CA_BUNDLE). Signing in
// to that cloud is where az 2.45 stops: MSAL Python 1.21 validates an authority it does not know
// by asking login.microsoftonline.com (instance discovery), and az passes it no way to skip that
// except an ADFS authority (…/adfs), which mint does not serve. The test shows both, with a
// refusing local address as the proxy so that nothing leaves the machine.
func TestAzureCLIRegistersMintAsACloud(t *testing.T) {
	az := needAz(t)
	m := startMint(t, options{})

	t.Run("the metadata document", func(t *testing.T) {
		for _, tc := range []struct {
			version string
			list    bool
		}{{"2015-01-01", false}, {"2022-09-01", true}} {
			code, body := m.get("/metadata/endpoints?api-version=" + tc.version)
			var doc any
			if code != 200 || json.Unmarshal(body, &doc) != nil {
				t.Fatalf("api-version %s: %d %s", tc.version, code, body)
			}
			if _, isList := doc.([]any); isList != tc.list {
				t.Errorf("api-version %s: %s, want a list: %v", tc.version, body, tc.list)
			}
		}
		code, body := m.get("/metadata/endpoints?api-version=1999-01-01")
		if code != 400 || !strings.Contains(string(body), "InvalidApiVersionParameter") {
			t.Errorf("unknown api-version: %d %s", code, body)
		}
		if code, body := m.get("/metadata/endpoints"); code != 400 || !strings.Contains(string(body), "MissingApiVersionParameter") {
			t.Errorf("no api-version: %d %s", code, body)
		}
	})

	// A proxy address that refuses every connection: whatever az sends anywhere but mint fails
	// here, on this machine.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "http://" + l.Addr().String()
	l.Close()
	env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(), azConfigDir(t), "REQUESTS_CA_BUNDLE=" + m.Env["REQUESTS_CA_BUNDLE"],
		"HTTPS_PROXY=" + dead, "HTTP_PROXY=" + dead, "NO_PROXY=127.0.0.1,localhost"}

	mustAz(t, env, az, nil, "cloud", "register", "-n", "mint", "--endpoint-resource-manager", m.URL+"/")
	mustAz(t, env, az, nil, "cloud", "set", "-n", "mint")
	var cloud struct {
		IsActive  bool
		Endpoints struct{ ActiveDirectory, ActiveDirectoryResourceID, ResourceManager string }
	}
	mustAz(t, env, az, &cloud, "cloud", "show", "-o", "json")
	if !cloud.IsActive || cloud.Endpoints.ActiveDirectory != m.URL+"/" || cloud.Endpoints.ResourceManager != m.URL+"/" ||
		cloud.Endpoints.ActiveDirectoryResourceID != m.URL+"/" {
		t.Errorf("az cloud show: %+v, want mint's authority, audience and resource manager at %s", cloud, m.URL)
	}

	login := runAz(t, env, az, "login", "--service-principal", "-u", m.Env["AZURE_CLIENT_ID"], "-p", m.Env["AZURE_CLIENT_SECRET"], "--tenant", m.Env["AZURE_TENANT_ID"], "-o", "none")
	if login.code == 0 || !strings.Contains(login.stderr, "login.microsoftonline.com") || !strings.Contains(login.stderr, "/common/discovery/instance") {
		t.Errorf("az login on the registered cloud: exit %d\n%s\nwant the documented failure: MSAL's instance discovery at login.microsoftonline.com (see docs/compatibility.md)", login.code, login.stderr)
	}
}
