package agent

import (
	"slices"
	"strings"
	"testing"
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
