package arm

import (
	"fmt"
	"net/url"
	"strings"
	"testing"
)

func TestAssociatedQuery(t *testing.T) {
	all := []AzureResource{
		{ID: "/s/1/rg/b/web", Name: "web", Type: "Microsoft.Web/sites", ResourceGroup: "b"},
		{ID: "/s/1/rg/a/vm1", Name: "vm1", Type: "Microsoft.Compute/virtualMachines", ResourceGroup: "a"},
		{ID: "/s/1/rg/a/vm2", Name: "VM2", Type: "Microsoft.Compute/virtualMachines", ResourceGroup: "a"},
	}
	names := func(rs []AzureResource) (out []string) {
		for _, r := range rs {
			out = append(out, r.Name)
		}
		return out
	}
	for _, tc := range []struct{ query, want string }{
		{"", "[vm1 VM2 web]"},
		{"$orderby=name desc", "[web VM2 vm1]"},
		{"$orderby=resourceGroup desc, name", "[web vm1 VM2]"},
		{"$filter=type eq 'microsoft.compute/virtualmachines'", "[vm1 VM2]"},
		{"$filter=contains(name,'vm') and resourceGroup eq 'A'", "[vm1 VM2]"},
		{"$filter=contains(name, 'eb')", "[web]"},
	} {
		v, err := url.ParseQuery(tc.query)
		if err != nil {
			t.Fatal(err)
		}
		q, e := parseAssociatedQuery(v)
		if e != nil {
			t.Fatalf("%s: %v", tc.query, e)
		}
		if got := names(q.apply(all)); fmt.Sprint(got) != tc.want {
			t.Errorf("%s = %v, want %s", tc.query, got, tc.want)
		}
	}
	for _, bad := range []url.Values{
		{"$filter": {"location eq 'x'"}}, {"$filter": {"name ne 'x'"}}, {"$filter": {"startswith(name,'x')"}},
		{"$filter": {"name eq x"}}, {"$filter": {"name eq 'a' or name eq 'b'"}}, {"$orderby": {"name sideways"}},
		{"$orderby": {"color"}}, {"$skip": {"-1"}}, {"$top": {"1001"}}, {"$top": {"x"}},
	} {
		if _, e := parseAssociatedQuery(bad); e == nil || e.Status != 400 {
			t.Errorf("%v accepted", bad)
		}
	}
}

// $orderby is read by odata.ParseOrderByOf and refused in this API's words; with two faults in
// one input, the first from the left is the one named.
func TestAssociatedOrderByMessages(t *testing.T) {
	const notOne = "' is not one of name, type, resourceGroup, subscriptionId, subscriptionDisplayName."
	for _, tc := range []struct{ orderby, want string }{
		{"name sideways", "'sideways' is neither asc nor desc."},
		{"color", "'color" + notOne},
		{"náme", "'náme" + notOne},
		{"name,,type", "write a field name, optionally followed by asc or desc."},
		{"name desc x", "write a field name, optionally followed by asc or desc."},
		{"color sideways", "'color" + notOne},
		{"name sideways, color", "'sideways' is neither asc nor desc."},
		{"color, name sideways", "'color" + notOne},
		{"color, a b c", "'color" + notOne},
		{"a b c, color", "write a field name, optionally followed by asc or desc."},
		{strings.Repeat("name,", 205) + "name", "it is longer than 1024 characters."},
	} {
		_, e := parseAssociatedQuery(url.Values{"$orderby": {tc.orderby}})
		if want := "The $orderby '" + tc.orderby + "' is invalid: " + tc.want; e == nil || e.Status != 400 || e.Code != CodeBadRequest || e.Message != want {
			t.Errorf("%q: %+v, want %q", tc.orderby, e, want)
		}
	}
	q, e := parseAssociatedQuery(url.Values{"$orderby": {" Name DESC , type,subscriptionDisplayName asc "}})
	if e != nil || fmt.Sprint(q.order) != "[{name true} {type false} {subscriptiondisplayname false}]" {
		t.Errorf("order %v %v", q.order, e)
	}
}

// FuzzAssociatedQuery: any query is either refused with a 400 or applied without a panic.
func FuzzAssociatedQuery(f *testing.F) {
	f.Add("type eq 'microsoft.web/sites' and contains(name, 'test')", "name asc", "0", "10")
	f.Add("contains(name,'')", "resourceGroup desc, name", "5", "0")
	f.Fuzz(func(t *testing.T, filter, orderby, skip, top string) {
		q, e := parseAssociatedQuery(url.Values{"$filter": {filter}, "$orderby": {orderby}, "$skip": {skip}, "$top": {top}})
		if e != nil {
			if e.Status != 400 {
				t.Fatalf("status %d", e.Status)
			}
			return
		}
		q.apply([]AzureResource{{ID: "a", Name: "x"}, {ID: "b", Name: "y", Type: "t"}})
	})
}
