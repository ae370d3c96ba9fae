package revocation

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mint-id/mint/internal/bearer"
	"github.com/mint-id/mint/internal/store"
)

// fakeStore is an in-memory Store that counts reads.
type fakeStore struct {
	principals map[string]store.ServicePrincipal
	users      map[string]store.User
	resources  map[string]store.Resource
	reads      atomic.Int64
	fail       error
}

func (f *fakeStore) GetPrincipal(_ context.Context, id string) (store.ServicePrincipal, error) {
	f.reads.Add(1)
	if f.fail != nil {
		return store.ServicePrincipal{}, f.fail
	}
	if sp, ok := f.principals[id]; ok {
		return sp, nil
	}
	return store.ServicePrincipal{}, store.ErrNotFound
}

func (f *fakeStore) GetUser(_ context.Context, id string) (store.User, error) {
	if u, ok := f.users[id]; ok {
		return u, nil
	}
	return store.User{}, store.ErrNotFound
}

func (f *fakeStore) GetResource(_ context.Context, id string) (store.Resource, error) {
	if r, ok := f.resources[strings.ToLower(id)]; ok {
		return r, nil
	}
	return store.Resource{}, store.ErrNotFound
}

const (
	tenant = "11111111-1111-1111-1111-111111111111"
	uaID   = "/subscriptions/s/resourceGroups/g/providers/Microsoft.ManagedIdentity/userAssignedIdentities/ua"
	appID  = "/subscriptions/s/resourceGroups/g/providers/Microsoft.App/containerApps/app"
)

func world() *fakeStore {
	return &fakeStore{
		principals: map[string]store.ServicePrincipal{
			"ua-p":  {ObjectID: "ua-p", TenantID: tenant},
			"sys-p": {ObjectID: "sys-p", TenantID: tenant},
			"app-p": {ObjectID: "app-p", TenantID: tenant},
		},
		users: map[string]store.User{
			"alice": {ObjectID: "alice", TenantID: tenant, AccountEnabled: true, UserPrincipalName: "alice@x"},
			"bob":   {ObjectID: "bob", TenantID: tenant, UserPrincipalName: "bob@x"},
		},
		resources: map[string]store.Resource{
			strings.ToLower(uaID):  {ID: uaID, Type: "Microsoft.ManagedIdentity/userAssignedIdentities", PrincipalID: "ua-p"},
			strings.ToLower(appID): {ID: appID, Type: "Microsoft.App/containerApps", PrincipalID: "sys-p", UserAssignedIdentities: []string{uaID}},
		},
	}
}

func TestReason(t *testing.T) {
	ua := bearer.Claims{TenantID: tenant, ObjectID: "ua-p", XmsMirid: uaID, XmsAzRid: appID}
	sys := bearer.Claims{TenantID: tenant, ObjectID: "sys-p", XmsMirid: appID}
	tests := []struct {
		name   string
		claims bearer.Claims
		change func(f *fakeStore)
		want   string // substring of the reason; "" means accepted
	}{
		{"an application", bearer.Claims{TenantID: tenant, ObjectID: "app-p"}, nil, ""},
		{"a user", bearer.Claims{TenantID: tenant, ObjectID: "alice"}, nil, ""},
		{"a disabled user", bearer.Claims{TenantID: tenant, ObjectID: "bob"}, nil, "is disabled"},
		{"no oid", bearer.Claims{TenantID: tenant}, nil, "names no principal"},
		{"a deleted principal", bearer.Claims{TenantID: tenant, ObjectID: "gone"}, nil, "no longer exists"},
		{"another tenant", bearer.Claims{TenantID: "other", ObjectID: "app-p"}, nil, "is not in tenant"},
		{"a user-assigned identity attached", ua, nil, ""},
		{"a user-assigned identity detached", ua, func(f *fakeStore) {
			r := f.resources[strings.ToLower(appID)]
			r.UserAssignedIdentities = nil
			f.resources[strings.ToLower(appID)] = r
		}, "no longer attached"},
		{"a user-assigned identity deleted", ua, func(f *fakeStore) { delete(f.resources, strings.ToLower(uaID)) }, "no longer exists"},
		{"its resource deleted", ua, func(f *fakeStore) { delete(f.resources, strings.ToLower(appID)) }, "which the token was issued to, no longer exists"},
		{"a system-assigned identity", sys, nil, ""},
		{"a system-assigned identity disabled", sys, func(f *fakeStore) {
			r := f.resources[strings.ToLower(appID)]
			r.PrincipalID = ""
			f.resources[strings.ToLower(appID)] = r
		}, "no longer has the system-assigned identity"},
		{"a malformed xms_mirid", bearer.Claims{TenantID: tenant, ObjectID: "sys-p", XmsMirid: "nope"}, nil, "is not a resource id"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := world()
			if tc.change != nil {
				tc.change(f)
			}
			got, err := Reason(t.Context(), f, tc.claims)
			if err != nil {
				t.Fatal(err)
			}
			if (tc.want == "") != (got == "") || !strings.Contains(got, tc.want) {
				t.Errorf("Reason = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestCheckerDecidesAtMostEveryHalfSecond(t *testing.T) {
	f := world()
	now := time.Unix(1000, 0)
	k := NewChecker(f, func() time.Time { return now })
	c := bearer.Claims{TenantID: tenant, ObjectID: "app-p", TokenID: "a"}
	for i := 0; i < 10; i++ {
		c.TokenID = string(rune('a' + i)) // other tokens of the same principal share the decision
		if r, err := k.Check(t.Context(), c); err != nil || r != "" {
			t.Fatalf("Check = %q, %v", r, err)
		}
	}
	if n := f.reads.Load(); n != 1 {
		t.Errorf("%d principal reads for ten checks within the cache time, want 1", n)
	}
	delete(f.principals, "app-p")
	now = now.Add(MaxCacheTTL - time.Millisecond)
	if r, _ := k.Check(t.Context(), c); r != "" {
		t.Errorf("refused before the cache time: %q", r)
	}
	now = now.Add(time.Millisecond)
	if r, _ := k.Check(t.Context(), c); !strings.Contains(r, "no longer exists") {
		t.Errorf("after the cache time: %q, want the deletion counted", r)
	}
}

func TestCheckerKeepsNoFailure(t *testing.T) {
	f := world()
	f.fail = errors.New("store down")
	k := NewChecker(f, nil)
	c := bearer.Claims{TenantID: tenant, ObjectID: "app-p"}
	if _, err := k.Check(t.Context(), c); err == nil {
		t.Fatal("a store failure was not an error")
	}
	f.fail = nil
	if r, err := k.Check(t.Context(), c); err != nil || r != "" {
		t.Errorf("after the store recovered: %q, %v", r, err)
	}
}
