package managedidentity

import (
	"strings"
	"testing"

	"github.com/mint-id/mint/internal/store"
)

func TestRefusal(t *testing.T) {
	const (
		uaID   = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id1"
		hostID = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.App/containerApps/app1"
	)
	ua := store.Resource{ID: uaID, Type: UserAssignedType, PrincipalID: "p-ua"}
	host := store.Resource{ID: hostID, Type: "Microsoft.App/containerApps", PrincipalID: "p-sys", UserAssignedIdentities: []string{strings.ToUpper(uaID) + "/"}}
	other := store.Resource{ID: hostID + "2", Type: "Microsoft.App/containerApps", PrincipalID: "p-other"}
	for _, tt := range []struct {
		name      string
		principal string
		identity  store.Resource
		host      store.Resource
		want      string // a part of the refusal; "" when it stands
	}{
		{"user-assigned attached", "P-UA", ua, host, ""},
		{"user-assigned alone", "p-ua", ua, store.Resource{}, ""},
		{"user-assigned detached", "p-ua", ua, other, "no longer attached"},
		{"user-assigned re-created", "p-new", ua, host, "no longer has principal"},
		{"user-assigned without principal", "", store.Resource{ID: uaID, Type: UserAssignedType}, host, "no longer has principal"},
		{"system-assigned", "p-sys", host, host, ""},
		{"system-assigned alone", "p-sys", host, store.Resource{}, ""},
		{"system-assigned replaced", "p-old", host, host, "no longer has the system-assigned identity"},
		{"system-assigned disabled", "", store.Resource{ID: hostID, Type: host.Type}, store.Resource{}, "no longer has the system-assigned identity"},
		{"another resource's system-assigned", "p-other", other, host, "cannot use the system-assigned identity"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got := Refusal(tt.principal, tt.identity, tt.host)
			if (tt.want == "") != (got == "") || !strings.Contains(got, tt.want) {
				t.Fatalf("Refusal = %q, want %q", got, tt.want)
			}
		})
	}
}
