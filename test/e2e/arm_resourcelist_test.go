package e2e

import (
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/resources/armresources"
)

// The subscription's generic resource list filtered by group, as az 2.45 asks for it (`az
// resource list -g`: $filter=resourceGroup eq 'rg1' [and resourceType eq 'T'] with
// $expand=createdTime,changedTime,provisioningState) and as armresources.Client's NewListPager
// sends a caller's Filter.
func TestResourceListFilteredByGroup(t *testing.T) {
	az := needAz(t)
	m := startMint(t, options{})
	for _, g := range []string{"rg1", "rg2"} {
		m.mustCLI("group", "create", "-n", g, "-l", "eastus")
	}
	m.mustCLI("identity", "create", "-g", "rg1", "-n", "id1")
	m.mustCLI("identity", "create", "-g", "rg2", "-n", "id2")
	m.mustCLI("resource", "create", "--type", "Microsoft.Web/sites", "-g", "rg1", "-n", "shop", "--system-assigned")

	// armresources: the caller's filter, with and without a type, and the expanded fields.
	ctx := rmCtx(t)
	client, err := armresources.NewClient(m.Env["AZURE_SUBSCRIPTION_ID"], m.adminCredential(t), m.rmOptions())
	if err != nil {
		t.Fatal(err)
	}
	list := func(filter string, expand bool) (names []string, all []*armresources.GenericResourceExpanded) {
		opts := &armresources.ClientListOptions{Filter: to.Ptr(filter)}
		if expand {
			opts.Expand = to.Ptr("createdTime,changedTime,provisioningState")
		}
		pager := client.NewListPager(opts)
		for pager.More() {
			page, err := pager.NextPage(ctx)
			if err != nil {
				t.Fatalf("list %q: %v", filter, err)
			}
			for _, r := range page.Value {
				names = append(names, *r.Name)
				all = append(all, r)
			}
		}
		sort.Strings(names)
		return names, all
	}
	for filter, want := range map[string][]string{
		"resourceGroup eq 'rg1'": {"id1", "shop"},
		"resourceGroup eq 'rg1' and resourceType eq 'Microsoft.Web/sites'":                              {"shop"},
		"resourceType eq 'Microsoft.ManagedIdentity/userAssignedIdentities' and resourceGroup eq 'rg2'": {"id2"},
	} {
		if got, _ := list(filter, false); !slices.Equal(got, want) {
			t.Errorf("NewListPager(Filter: %q) = %v, want %v", filter, got, want)
		}
	}
	_, expanded := list("resourceGroup eq 'rg1'", true)
	for _, r := range expanded {
		if r.CreatedTime == nil || r.ChangedTime == nil || r.ProvisioningState == nil || *r.ProvisioningState != "Succeeded" {
			t.Errorf("%s: $expand gave createdTime %v, changedTime %v, provisioningState %v", *r.ID, r.CreatedTime, r.ChangedTime, r.ProvisioningState)
		}
	}

	// az resource list -g, through mint's proxy, with and without --resource-type.
	admin := append(slices.Clip(m.printedEnv(t, "HTTPS_PROXY", "HTTP_PROXY", "NO_PROXY", "REQUESTS_CA_BUNDLE", "SSL_CERT_FILE")), azConfigDir(t))
	mustAz(t, admin, az, nil, "login", "--service-principal", "-u", m.Env["AZURE_CLIENT_ID"], "-p", m.Env["AZURE_CLIENT_SECRET"], "--tenant", m.Env["AZURE_TENANT_ID"], "-o", "none")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-g", "rg1"}, "id1,shop"},
		{[]string{"-g", "rg2"}, "id2"},
		{[]string{"-g", "rg1", "--resource-type", "Microsoft.Web/sites"}, "shop"},
		{[]string{"-g", "rg1", "--resource-type", "Microsoft.ManagedIdentity/userAssignedIdentities"}, "id1"},
	} {
		var out []struct {
			Name, ResourceGroup, ProvisioningState string
			CreatedTime                            *string
		}
		mustAz(t, admin, az, &out, append(append([]string{"resource", "list"}, tc.args...), "-o", "json")...)
		var names []string
		for _, r := range out {
			names = append(names, r.Name)
			if r.ProvisioningState != "Succeeded" || r.CreatedTime == nil {
				t.Errorf("az resource list %v: %+v lacks the expanded fields", tc.args, r)
			}
		}
		sort.Strings(names)
		if got := strings.Join(names, ","); got != tc.want {
			t.Errorf("az resource list %v: %s, want %s", tc.args, got, tc.want)
		}
	}
}
