package agent

import (
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"testing"
	"time"
)

// A shell that loaded mint dev's env file holds the admin application's secret; a workload
// started with `mint run` must not inherit it (EnvironmentCredential would silently sign in as
// the admin instead of the resource's identity).
func TestWorkloadEnvDropsTheCallersCredentials(t *testing.T) {
	reg := Registration{Secret: "s", Endpoints: Endpoints{IdentityEndpoint: "http://127.0.0.1:1/msi/token", MSIEndpoint: "http://127.0.0.1:1/msi/token"}}
	cases := []struct {
		name       string
		env, set   []string
		want, gone []string
	}{
		{"admin environment", []string{"PATH=/bin", "AZURE_TENANT_ID=t", "AZURE_CLIENT_ID=admin", "AZURE_CLIENT_SECRET=x", "AZURE_AUTHORITY_HOST=https://h"}, nil,
			[]string{"PATH=/bin", "AZURE_AUTHORITY_HOST=https://h", "IDENTITY_HEADER=s"}, []string{"AZURE_CLIENT_SECRET", "AZURE_CLIENT_ID", "AZURE_TENANT_ID"}},
		{"certificate credential", []string{"AZURE_CLIENT_ID=app", "AZURE_CLIENT_CERTIFICATE_PATH=/c.pem"}, nil,
			nil, []string{"AZURE_CLIENT_ID", "AZURE_CLIENT_CERTIFICATE_PATH"}},
		{"a user-assigned identity chosen for DefaultAzureCredential stays", []string{"AZURE_CLIENT_ID=ua"}, nil,
			[]string{"AZURE_CLIENT_ID=ua"}, nil},
		{"set wins over the inherited value", []string{"AZURE_CLIENT_ID=admin", "AZURE_CLIENT_SECRET=x", "HTTP_PROXY=old"},
			[]string{"AZURE_CLIENT_ID=ua", "AZURE_FEDERATED_TOKEN_FILE=/t", "HTTP_PROXY=new"},
			[]string{"AZURE_CLIENT_ID=ua", "AZURE_FEDERATED_TOKEN_FILE=/t", "HTTP_PROXY=new"}, []string{"AZURE_CLIENT_SECRET"}},
		{"inherited identity endpoints are replaced", []string{"IDENTITY_ENDPOINT=http://elsewhere", "MSI_SECRET=old"}, nil,
			[]string{"IDENTITY_ENDPOINT=http://127.0.0.1:1/msi/token", "MSI_SECRET=s"}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			env, err := workloadEnv(RunOptions{Env: tc.env, Set: tc.set}, reg)
			if err != nil {
				t.Fatal(err)
			}
			for _, w := range tc.want {
				if !slices.Contains(env, w) {
					t.Errorf("child env lacks %s: %v", w, env)
				}
			}
			for _, name := range tc.gone {
				for _, kv := range env {
					if strings.HasPrefix(kv, name+"=") && !slices.Contains(tc.want, kv) {
						t.Errorf("child env keeps %s", kv)
					}
				}
			}
			seen := map[string]bool{}
			for _, kv := range env {
				name, _, _ := strings.Cut(kv, "=")
				if seen[name] {
					t.Errorf("%s set twice: %v", name, env)
				}
				seen[name] = true
			}
		})
	}
}

// A web app (or slot) gets App Service's WEBSITE_SITE_NAME and APPSETTING_WEBSITE_SITE_NAME, which
// the Azure CLI's managed-identity code needs to choose App Service's protocol; nothing else does.
func TestWorkloadEnvNamesTheWebApp(t *testing.T) {
	reg := Registration{Secret: "s", Endpoints: Endpoints{IdentityEndpoint: "http://127.0.0.1:1/msi/token", MSIEndpoint: "http://127.0.0.1:1/msi/token"}}
	const sub = "/subscriptions/s/resourceGroups/g/providers/"
	for _, tc := range []struct {
		resource string
		inherit  []string
		want     string // the site name, "" for none
	}{
		{sub + "Microsoft.Web/sites/shop", nil, "shop"},
		{sub + "microsoft.web/Sites/shop/slots/staging", nil, "shop"},
		{sub + "Microsoft.App/containerApps/web", []string{"APPSETTING_WEBSITE_SITE_NAME=elsewhere"}, ""},
		{sub + "Microsoft.Compute/virtualMachines/vm1", nil, ""},
	} {
		env, err := workloadEnv(RunOptions{ResourceID: tc.resource, Env: append([]string{"PATH=/bin"}, tc.inherit...)}, reg)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, kv := range env {
			if strings.Contains(kv, "WEBSITE_SITE_NAME=") {
				got = append(got, kv)
			}
		}
		want := []string{}
		if tc.want != "" {
			want = []string{"WEBSITE_SITE_NAME=" + tc.want, "APPSETTING_WEBSITE_SITE_NAME=" + tc.want}
		}
		if strings.Join(got, " ") != strings.Join(want, " ") {
			t.Errorf("%s: %v, want %v", tc.resource, got, want)
		}
	}
}

// Each dialect mint run presents sets exactly the variables that make the SDKs pick that source.
func TestWorkloadEnvPerDialect(t *testing.T) {
	reg := Registration{Secret: "s3cret", Endpoints: Endpoints{IdentityEndpoint: "http://127.0.0.1:7/msi/token", MSIEndpoint: "http://127.0.0.1:7/msi/token",
		ServiceFabricEndpoint: "https://127.0.0.1:8/metadata/identity/oauth2/token", ServiceFabricThumbprint: "AB"}}
	cases := []struct {
		dialect RunDialect
		set     []string
		want    []string
		absent  []string
	}{
		{RunAppService, nil, []string{"IDENTITY_ENDPOINT=http://127.0.0.1:7/msi/token", "IDENTITY_HEADER=s3cret", "MSI_SECRET=s3cret"}, []string{"IMDS_ENDPOINT"}},
		{RunAzureML, nil, []string{"MSI_ENDPOINT=http://127.0.0.1:7/msi/token", "MSI_SECRET=s3cret"}, []string{"IDENTITY_ENDPOINT", "IDENTITY_HEADER"}},
		{RunCloudShell, nil, []string{"MSI_ENDPOINT=http://127.0.0.1:7/mint/run/s3cret/cloudshell"}, []string{"MSI_SECRET", "IDENTITY_ENDPOINT"}},
		{RunArc, nil, []string{"IDENTITY_ENDPOINT=http://127.0.0.1:7/mint/run/s3cret/arc", "IMDS_ENDPOINT=http://127.0.0.1:7"}, []string{"IDENTITY_HEADER", "MSI_ENDPOINT"}},
		{RunIMDS, nil, []string{"HTTP_PROXY=http://mint:s3cret@127.0.0.1:7", "http_proxy=http://mint:s3cret@127.0.0.1:7"}, []string{"IDENTITY_ENDPOINT", "MSI_ENDPOINT", "HTTPS_PROXY"}},
		{RunIMDS, []string{"HTTPS_PROXY=http://127.0.0.1:9", "HTTP_PROXY=http://127.0.0.1:9"},
			[]string{"HTTP_PROXY=http://mint:s3cret@127.0.0.1:7", "HTTPS_PROXY=http://mint:s3cret@127.0.0.1:9", "https_proxy=http://mint:s3cret@127.0.0.1:9"}, nil},
		{RunServiceFabric, nil, []string{"IDENTITY_ENDPOINT=https://127.0.0.1:8/metadata/identity/oauth2/token", "IDENTITY_HEADER=s3cret", "IDENTITY_SERVER_THUMBPRINT=AB"}, []string{"MSI_ENDPOINT"}},
	}
	for _, tc := range cases {
		t.Run(string(tc.dialect), func(t *testing.T) {
			env, err := workloadEnv(RunOptions{Env: []string{"PATH=/bin"}, Set: tc.set, Dialect: tc.dialect}, reg)
			if err != nil {
				t.Fatal(err)
			}
			for _, w := range tc.want {
				if !slices.Contains(env, w) {
					t.Errorf("lacks %s: %v", w, env)
				}
			}
			for _, name := range tc.absent {
				for _, kv := range env {
					if strings.HasPrefix(kv, name+"=") {
						t.Errorf("has %s: %v", kv, env)
					}
				}
			}
		})
	}
	if _, err := ParseRunDialect("lambda"); err == nil {
		t.Error("ParseRunDialect(lambda): no error")
	}
	if d, err := ParseRunDialect("CloudShell"); err != nil || d != RunCloudShell {
		t.Errorf("ParseRunDialect(CloudShell) = %q, %v", d, err)
	}
}

func TestServiceFabricCertificateIsKept(t *testing.T) {
	dir := t.TempDir()
	crt, key := dir+"/sf.crt", dir+"/sf.key"
	now := time.Now()
	first, err := LoadOrCreateServiceFabricCertificate(crt, key, now)
	if err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(key); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file %v %v", fi, err)
	}
	again, err := LoadOrCreateServiceFabricCertificate(crt, key, now.Add(time.Hour))
	if err != nil || Thumbprint(again.Certificate[0]) != Thumbprint(first.Certificate[0]) {
		t.Fatalf("reloaded certificate differs: %v", err)
	}
	// Close to its expiry, it is replaced.
	renewed, err := LoadOrCreateServiceFabricCertificate(crt, key, now.Add(350*24*time.Hour))
	if err != nil || Thumbprint(renewed.Certificate[0]) == Thumbprint(first.Certificate[0]) {
		t.Fatalf("a certificate 15 days from expiry was kept: %v", err)
	}
}

func FuzzRunSecretFromProxyAuthorization(f *testing.F) {
	for _, s := range []string{"", "Basic bWludDpzM2NyZXQ=", "basic !!", "Bearer x", "Basic "} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, h string) {
		// Only the header matters to the parser; httptest builds a server-side request, which is
		// never sent anywhere.
		r := httptest.NewRequest(http.MethodGet, "/metadata/identity/oauth2/token", nil)
		r.Header.Set("Proxy-Authorization", h)
		secret, present := runSecretFromProxyAuthorization(r)
		if !present && r.Header.Get("Proxy-Authorization") != "" {
			t.Fatalf("%q: not seen", h)
		}
		if secret != "" && !strings.HasPrefix(strings.ToLower(h), "basic ") {
			t.Fatalf("%q: secret %q from a non-Basic header", h, secret)
		}
	})
}
