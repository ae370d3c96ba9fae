package identityblock

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/mint-id/mint/internal/armid"
)

const (
	id1 = "/subscriptions/s/resourceGroups/myResourceGroup/providers/Microsoft.ManagedIdentity/userAssignedIdentities/ID1"
	id2 = "/subscriptions/s/resourceGroups/myResourceGroup/providers/Microsoft.ManagedIdentity/userAssignedIdentities/ID2"
	id3 = "/subscriptions/s/resourceGroups/other/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id3"
	// id2 as the reference's PATCH example spells it: lower-case resourcegroups.
	id2Lower = "/subscriptions/s/resourcegroups/myResourceGroup/providers/Microsoft.ManagedIdentity/userAssignedIdentities/ID2"
)

func TestParseType(t *testing.T) {
	tests := []struct {
		in   string
		want Type
	}{
		{"None", None},
		{"none", None},
		{" None ", None},
		{"SystemAssigned", SystemAssigned},
		{"systemassigned", SystemAssigned},
		{"UserAssigned", UserAssigned},
		{"USERASSIGNED", UserAssigned},
		{"SystemAssigned,UserAssigned", SystemAssignedUserAssigned},
		{"SystemAssigned, UserAssigned", SystemAssignedUserAssigned},
		{"  systemAssigned ,\tuserassigned ", SystemAssignedUserAssigned},
		{"UserAssigned,SystemAssigned", SystemAssignedUserAssigned},
	}
	for _, tt := range tests {
		got, err := ParseType(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("ParseType(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
	}
	for _, bad := range []string{"", "Foo", "System Assigned", "SystemAssigned,", "None,SystemAssigned", "SystemAssigned,SystemAssigned", "SystemAssigned;UserAssigned"} {
		_, err := ParseType(bad)
		var e *Error
		if !errors.As(err, &e) || e.Code != CodeInvalidIdentityType {
			t.Fatalf("ParseType(%q) err = %v", bad, err)
		}
		want := "The identity type '" + bad + "' is invalid. The supported identity types are 'None', 'SystemAssigned', 'UserAssigned', 'SystemAssigned,UserAssigned'."
		if e.Message != want {
			t.Errorf("message %q", e.Message)
		}
	}
}

func TestCanonical(t *testing.T) {
	tests := []struct {
		t        Type
		provider string
		want     string
	}{
		{None, "Microsoft.Compute", "None"},
		{SystemAssigned, "Microsoft.Compute", "SystemAssigned"},
		{UserAssigned, "Microsoft.Compute", "UserAssigned"},
		{SystemAssignedUserAssigned, "Microsoft.Compute", "SystemAssigned, UserAssigned"},
		{SystemAssignedUserAssigned, "microsoft.compute/virtualMachines", "SystemAssigned, UserAssigned"},
		{SystemAssignedUserAssigned, "Microsoft.App", "SystemAssigned,UserAssigned"},
		{SystemAssignedUserAssigned, "Microsoft.Web/sites", "SystemAssigned, UserAssigned"},
		{SystemAssignedUserAssigned, "Microsoft.App/containerApps", "SystemAssigned,UserAssigned"},
		{SystemAssignedUserAssigned, "", "SystemAssigned,UserAssigned"},
	}
	for _, tt := range tests {
		if got := Canonical(tt.t, tt.provider); got != tt.want {
			t.Errorf("Canonical(%v, %q) = %q, want %q", tt.t, tt.provider, got, tt.want)
		}
		if back, err := ParseType(Canonical(tt.t, tt.provider)); err != nil || back != tt.t {
			t.Errorf("Canonical(%v) does not parse back: %v %v", tt.t, back, err)
		}
	}
	if SystemAssignedUserAssigned.String() != "SystemAssigned,UserAssigned" {
		t.Error("String is not the common-types spelling")
	}
}

func TestParseRequest(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want Request
	}{
		{"type only", `{"type":"SystemAssigned"}`, Request{Type: SystemAssigned}},
		{"map absent", `{"type":"UserAssigned"}`, Request{Type: UserAssigned}},
		{"map null", `{"type":"UserAssigned","userAssignedIdentities":null}`, Request{Type: UserAssigned}},
		{"map empty", `{"type":"UserAssigned","userAssignedIdentities":{}}`, Request{Type: UserAssigned, UserAssigned: []Entry{}, HasUserAssigned: true}},
		{
			"add, remove, echoed read-only values, order kept",
			`{"type":"SystemAssigned, UserAssigned","principalId":"p","tenantId":"t","userAssignedIdentities":{"` + id2 + `":{"principalId":"x","clientId":"y"},"` + id1 + `":null,"` + id3 + `":{}}}`,
			Request{Type: SystemAssignedUserAssigned, HasUserAssigned: true, UserAssigned: []Entry{{ID: id2}, {ID: id1, Remove: true}, {ID: id3}}},
		},
		{"property names ignore case", `{"TYPE":"userassigned","UserAssignedIdentities":{"` + id1 + `":{}}}`, Request{Type: UserAssigned, HasUserAssigned: true, UserAssigned: []Entry{{ID: id1}}}},
		{"duplicate keys all kept", `{"type":"UserAssigned","userAssignedIdentities":{"` + id1 + `":{},"` + id1 + `":null}}`, Request{Type: UserAssigned, HasUserAssigned: true, UserAssigned: []Entry{{ID: id1}, {ID: id1, Remove: true}}}},
		{"unknown fields ignored", `{"type":"None","identityIds":["x"],"extra":1}`, Request{Type: None}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseRequest([]byte(tt.in))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got  %#v\nwant %#v", got, tt.want)
			}
		})
	}
}

func TestParseRequestErrors(t *testing.T) {
	tests := []struct {
		name, in, code, msg string
	}{
		{"type missing", `{"userAssignedIdentities":{}}`, CodeInvalidIdentityType, "The identity type is required. The supported identity types are 'None', 'SystemAssigned', 'UserAssigned', 'SystemAssigned,UserAssigned'."},
		{"type null", `{"type":null}`, CodeInvalidIdentityType, "The identity type is required. The supported identity types are 'None', 'SystemAssigned', 'UserAssigned', 'SystemAssigned,UserAssigned'."},
		{"type unknown", `{"type":"Managed"}`, CodeInvalidIdentityType, "The identity type 'Managed' is invalid. The supported identity types are 'None', 'SystemAssigned', 'UserAssigned', 'SystemAssigned,UserAssigned'."},
		{"type not a string", `{"type":1}`, CodeInvalidRequestContent, "The request content was invalid and could not be deserialized: 'The identity type must be a string. Path 'identity.type''."},
		{"not an object", `"SystemAssigned"`, CodeInvalidRequestContent, "The request content was invalid and could not be deserialized: 'The identity property must be a JSON object'."},
		{"map is an array", `{"type":"UserAssigned","userAssignedIdentities":["` + id1 + `"]}`, CodeInvalidRequestContent, "The request content was invalid and could not be deserialized: 'userAssignedIdentities must be a JSON object keyed by user assigned identity id. Path 'identity.userAssignedIdentities''."},
		{"value is a string", `{"type":"UserAssigned","userAssignedIdentities":{"` + id1 + `":"x"}}`, CodeInvalidRequestContent, "The request content was invalid and could not be deserialized: 'The value for user assigned identity '" + id1 + "' must be an object or null. Path 'identity.userAssignedIdentities''."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseRequest([]byte(tt.in))
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("err = %v", err)
			}
			if e.Code != tt.code || e.Message != tt.msg {
				t.Errorf("got %s %q\nwant %s %q", e.Code, e.Message, tt.code, tt.msg)
			}
		})
	}
	if _, err := ParseRequest([]byte(`{"type":`)); err == nil {
		t.Error("truncated JSON accepted")
	}
}

func TestUnmarshalEmbedded(t *testing.T) {
	type body struct {
		Location string   `json:"location"`
		Identity *Request `json:"identity"`
	}
	var b body
	if err := json.Unmarshal([]byte(`{"location":"x"}`), &b); err != nil || b.Identity != nil {
		t.Fatalf("absent identity: %v %v", b.Identity, err)
	}
	if err := json.Unmarshal([]byte(`{"identity":null}`), &b); err != nil || b.Identity != nil {
		t.Fatalf("null identity: %v %v", b.Identity, err)
	}
	if err := json.Unmarshal([]byte(`{"identity":{"type":"SystemAssigned"}}`), &b); err != nil || b.Identity == nil || b.Identity.Type != SystemAssigned {
		t.Fatalf("identity: %v %v", b.Identity, err)
	}
	err := json.Unmarshal([]byte(`{"identity":{"type":"Bogus"}}`), &b)
	var e *Error
	if !errors.As(err, &e) || e.Code != CodeInvalidIdentityType {
		t.Fatalf("bad type error = %v", err)
	}
}

func req(t *testing.T, js string) Request {
	t.Helper()
	r, err := ParseRequest([]byte(js))
	if err != nil {
		t.Fatalf("ParseRequest(%s): %v", js, err)
	}
	return r
}

func TestApply(t *testing.T) {
	tests := []struct {
		name    string
		current State
		body    string
		patch   bool
		want    Change
	}{
		// https://learn.microsoft.com/entra/identity/managed-identities-azure-resources/how-to-configure-managed-identities, one case per bullet.
		{
			name:    "PATCH enable system-assigned replaces the type and drops user-assigned",
			current: State{UserAssigned: []string{id1}},
			body:    `{"type":"SystemAssigned"}`, patch: true,
			want: Change{New: State{System: true}, EnableSystem: true, Detach: []string{id1}},
		},
		{
			name:    "PATCH add a user-assigned identity while keeping the existing ones",
			current: State{System: true, UserAssigned: []string{id1}},
			body:    `{"type":"SystemAssigned, UserAssigned","userAssignedIdentities":{"` + id1 + `":{},"` + id2 + `":{}}}`, patch: true,
			want: Change{New: State{System: true, UserAssigned: []string{id1, id2}}, Attach: []string{id2}},
		},
		{
			name:    "PATCH merges: keys not sent are kept",
			current: State{System: true, UserAssigned: []string{id1}},
			body:    `{"type":"SystemAssigned,UserAssigned","userAssignedIdentities":{"` + id2 + `":{}}}`, patch: true,
			want: Change{New: State{System: true, UserAssigned: []string{id1, id2}}, Attach: []string{id2}},
		},
		{
			name:    "PATCH remove one user-assigned identity with null (lower-case resourcegroups key)",
			current: State{System: true, UserAssigned: []string{id1, id2}},
			body:    `{"type":"SystemAssigned, UserAssigned","userAssignedIdentities":{"` + id2Lower + `":null}}`, patch: true,
			want: Change{New: State{System: true, UserAssigned: []string{id1}}, Detach: []string{id2}},
		},
		{
			name:    "PATCH remove all user-assigned but keep system-assigned",
			current: State{System: true, UserAssigned: []string{id1, id2}},
			body:    `{"type":"SystemAssigned"}`, patch: true,
			want: Change{New: State{System: true}, Detach: []string{id1, id2}},
		},
		{
			name:    "PATCH None removes everything",
			current: State{System: true, UserAssigned: []string{id1, id2}},
			body:    `{"type":"None"}`, patch: true,
			want: Change{New: State{}, DisableSystem: true, Detach: []string{id1, id2}},
		},
		{
			name:    "PATCH re-enable system-assigned after None is a new principal",
			current: State{},
			body:    `{"type":"SystemAssigned"}`, patch: true,
			want: Change{New: State{System: true}, EnableSystem: true},
		},
		{
			name:    "PATCH UserAssigned without a map keeps the current identities and disables system",
			current: State{System: true, UserAssigned: []string{id1}},
			body:    `{"type":"UserAssigned"}`, patch: true,
			want: Change{New: State{UserAssigned: []string{id1}}, DisableSystem: true},
		},
		{
			name:    "PATCH key already attached in another case keeps the attached spelling",
			current: State{UserAssigned: []string{id1}},
			body:    `{"type":"UserAssigned","userAssignedIdentities":{"` + strings.ToLower(id1) + `":{}}}`, patch: true,
			want: Change{New: State{UserAssigned: []string{id1}}},
		},
		{
			name:    "PATCH null for an identity that is not attached is a no-op",
			current: State{UserAssigned: []string{id1}},
			body:    `{"type":"UserAssigned","userAssignedIdentities":{"` + id3 + `":null}}`, patch: true,
			want: Change{New: State{UserAssigned: []string{id1}}},
		},
		{
			name:    "PATCH same state is no change",
			current: State{System: true, UserAssigned: []string{id1}},
			body:    `{"type":"SystemAssigned, UserAssigned","userAssignedIdentities":{"` + id1 + `":{"principalId":"p","clientId":"c"}}}`, patch: true,
			want: Change{New: State{System: true, UserAssigned: []string{id1}}},
		},
		{
			name:    "PUT replaces the map",
			current: State{System: true, UserAssigned: []string{id1, id2}},
			body:    `{"type":"UserAssigned","userAssignedIdentities":{"` + id3 + `":{},"` + id2 + `":{}}}`,
			want:    Change{New: State{UserAssigned: []string{id3, id2}}, DisableSystem: true, Attach: []string{id3}, Detach: []string{id1}},
		},
		{
			name:    "PUT ignores null entries",
			current: State{UserAssigned: []string{id1}},
			body:    `{"type":"UserAssigned","userAssignedIdentities":{"` + id1 + `":null,"` + id2 + `":{}}}`,
			want:    Change{New: State{UserAssigned: []string{id2}}, Attach: []string{id2}, Detach: []string{id1}},
		},
		{
			name:    "PUT on a new resource with both kinds",
			current: State{},
			body:    `{"type":"SystemAssigned, UserAssigned","userAssignedIdentities":{"` + id1 + `":{}}}`,
			want:    Change{New: State{System: true, UserAssigned: []string{id1}}, EnableSystem: true, Attach: []string{id1}},
		},
		{
			name:    "keys are canonicalised and case duplicates collapse",
			current: State{},
			body:    `{"type":"UserAssigned","userAssignedIdentities":{"` + strings.ToLower(id1) + `":{},"` + strings.ToUpper(id1) + `":{}}}`,
			want: Change{
				New:    State{UserAssigned: []string{"/subscriptions/S/resourceGroups/MYRESOURCEGROUP/providers/Microsoft.ManagedIdentity/userAssignedIdentities/ID1"}},
				Attach: []string{"/subscriptions/S/resourceGroups/MYRESOURCEGROUP/providers/Microsoft.ManagedIdentity/userAssignedIdentities/ID1"},
			},
		},
		{
			name:    "case duplicates: the last value wins",
			current: State{UserAssigned: []string{id1, id2}},
			body:    `{"type":"UserAssigned","userAssignedIdentities":{"` + id1 + `":{},"` + strings.ToLower(id1) + `":null}}`, patch: true,
			want: Change{New: State{UserAssigned: []string{id2}}, Detach: []string{id1}},
		},
		{
			name:    "SystemAssigned with an empty map is accepted",
			current: State{UserAssigned: []string{id1}},
			body:    `{"type":"SystemAssigned","userAssignedIdentities":{}}`, patch: true,
			want: Change{New: State{System: true}, EnableSystem: true, Detach: []string{id1}},
		},
		{
			name:    "None with only null entries is accepted",
			current: State{UserAssigned: []string{id1}},
			body:    `{"type":"None","userAssignedIdentities":{"` + id1 + `":null}}`, patch: true,
			want: Change{New: State{}, Detach: []string{id1}},
		},
		{
			name:    "current state duplicates are collapsed",
			current: State{UserAssigned: []string{id1, strings.ToLower(id1)}},
			body:    `{"type":"UserAssigned"}`, patch: true,
			want: Change{New: State{UserAssigned: []string{id1}}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Apply(tt.current, req(t, tt.body), tt.patch)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got  %#v\nwant %#v", got, tt.want)
			}
			if got.Changed() != (tt.want.EnableSystem || tt.want.DisableSystem || len(tt.want.Attach)+len(tt.want.Detach) > 0) {
				t.Error("Changed inconsistent")
			}
		})
	}
}

func TestApplyErrors(t *testing.T) {
	const badProvider = "/subscriptions/s/resourceGroups/rg/providers/Micrososft.ManagedIdentity/userAssignedIdentities/MSI_1"
	const noRG = "/subscriptions/s/providers/Microsoft.ManagedIdentity/userAssignedIdentities/x"
	tests := []struct {
		name    string
		current State
		body    string
		patch   bool
		code    string
		msg     string
	}{
		{
			name: "malformed keys are all listed", patch: true,
			body: `{"type":"UserAssigned","userAssignedIdentities":{"` + badProvider + `":{},"` + id1 + `":{},"` + noRG + `":null}}`,
			code: "InvalidIdentityId",
			msg:  "The identity ids '" + badProvider + "," + noRG + "' are invalid. It must be of the following format: '/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/{resourceName}'.",
		},
		{
			name: "malformed key with type None is still reported",
			body: `{"type":"None","userAssignedIdentities":{"x":null}}`,
			code: "InvalidIdentityId",
			msg:  "The identity ids 'x' are invalid. It must be of the following format: '/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/{resourceName}'.",
		},
		{
			name: "user-assigned keys with type SystemAssigned",
			body: `{"type":"SystemAssigned","userAssignedIdentities":{"` + id1 + `":{}}}`,
			code: "BadRequest",
			msg:  "The request format was unexpected, a non-UserAssigned identity type should not contain: userAssignedIdentities",
		},
		{
			name: "user-assigned keys with type None", patch: true,
			body: `{"type":"None","userAssignedIdentities":{"` + id1 + `":{}}}`,
			code: "BadRequest",
			msg:  "The request format was unexpected, a non-UserAssigned identity type should not contain: userAssignedIdentities",
		},
		{
			name: "PUT UserAssigned without identities",
			body: `{"type":"UserAssigned"}`, current: State{UserAssigned: []string{id1}},
			code: "MissingIdentityIds",
			msg:  "The identity ids must not be null or empty for 'UserAssigned' identity type.",
		},
		{
			name: "PUT UserAssigned with an empty map",
			body: `{"type":"UserAssigned","userAssignedIdentities":{}}`,
			code: "MissingIdentityIds",
			msg:  "The identity ids must not be null or empty for 'UserAssigned' identity type.",
		},
		{
			name: "PATCH removing the last identity while keeping type UserAssigned", patch: true,
			current: State{System: true, UserAssigned: []string{id1}},
			body:    `{"type":"SystemAssigned, UserAssigned","userAssignedIdentities":{"` + id1 + `":null}}`,
			code:    "MissingIdentityIds",
			msg:     "The identity ids must not be null or empty for 'SystemAssigned,UserAssigned' identity type.",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Apply(tt.current, req(t, tt.body), tt.patch)
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("err = %v", err)
			}
			if e.Code != tt.code || e.Message != tt.msg {
				t.Errorf("got %s %q\nwant %s %q", e.Code, e.Message, tt.code, tt.msg)
			}
		})
	}
}

func TestNewIdentity(t *testing.T) {
	got := NewIdentity(State{System: true, UserAssigned: []string{id1}}, "Microsoft.Compute")
	got.PrincipalID, got.TenantID = "p", "t"
	got.UserAssignedIdentities[id1].PrincipalID = "up"
	got.UserAssignedIdentities[id1].ClientID = "uc"
	b, _ := json.Marshal(got)
	want := `{"type":"SystemAssigned, UserAssigned","principalId":"p","tenantId":"t","userAssignedIdentities":{"` + id1 + `":{"principalId":"up","clientId":"uc"}}}`
	if string(b) != want {
		t.Errorf("got  %s\nwant %s", b, want)
	}
	b, _ = json.Marshal(NewIdentity(State{}, "Microsoft.App"))
	if string(b) != `{"type":"None"}` {
		t.Errorf("none = %s", b)
	}
	b, _ = json.Marshal(NewIdentity(State{UserAssigned: []string{id1}}, "Microsoft.App"))
	if string(b) != `{"type":"UserAssigned","userAssignedIdentities":{"`+id1+`":{}}}` {
		t.Errorf("request-shaped = %s", b)
	}
}

var fuzzPool = []string{id1, id2, id3, strings.ToLower(id2)}

func FuzzApply(f *testing.F) {
	seeds := []string{
		`{"type":"SystemAssigned"}`,
		`{"type":"None"}`,
		`{"type":"UserAssigned"}`,
		`{"type":"SystemAssigned, UserAssigned","userAssignedIdentities":{"` + id1 + `":{},"` + id2 + `":{}}}`,
		`{"type":"SystemAssigned, UserAssigned","userAssignedIdentities":{"` + id2Lower + `":null}}`,
		`{"type":"UserAssigned","userAssignedIdentities":{"` + id3 + `":{},"` + strings.ToUpper(id3) + `":null}}`,
		`{"type":"UserAssigned","userAssignedIdentities":{"x":{},"/subscriptions/s":null}}`,
		`{"type":"systemassigned ,userassigned","userAssignedIdentities":{}}`,
		`{"type":1}`, `[]`, `{"type":"None","userAssignedIdentities":[1]}`,
	}
	for i, s := range seeds {
		f.Add([]byte(s), uint8(i), i%2 == 0)
	}
	f.Fuzz(func(t *testing.T, body []byte, cur uint8, isPatch bool) {
		current := State{System: cur&0x80 != 0}
		for i, id := range fuzzPool {
			if cur&(1<<i) != 0 {
				current.UserAssigned = append(current.UserAssigned, id)
			}
		}
		r, err := ParseRequest(body)
		if err != nil {
			if _, ok := err.(*Error); !ok {
				t.Fatalf("ParseRequest error %T %v", err, err)
			}
			return
		}
		ch, err := Apply(current, r, isPatch)
		if err != nil {
			if e, ok := err.(*Error); !ok || e.Code == "" || e.Message == "" {
				t.Fatalf("Apply error %T %v", err, err)
			}
			return
		}
		checkChange(t, current, r, ch)
	})
}

func checkChange(t *testing.T, current State, r Request, ch Change) {
	t.Helper()
	if ch.New.System != r.Type.HasSystem() {
		t.Fatalf("system %v for type %v", ch.New.System, r.Type)
	}
	if r.Type.HasUser() != (len(ch.New.UserAssigned) > 0) {
		t.Fatalf("type %v with %d user-assigned", r.Type, len(ch.New.UserAssigned))
	}
	if ch.New.Type() != r.Type {
		t.Fatalf("resulting type %v != requested %v", ch.New.Type(), r.Type)
	}
	seen := map[string]bool{}
	for _, id := range ch.New.UserAssigned {
		p, err := armid.ParseUserAssignedIdentityID(id)
		if err != nil {
			t.Fatalf("result holds malformed id %q", id)
		}
		if seen[p.Lower()] {
			t.Fatalf("result holds %q twice", id)
		}
		seen[p.Lower()] = true
	}
	if ch.EnableSystem != (!current.System && ch.New.System) || ch.DisableSystem != (current.System && !ch.New.System) {
		t.Fatal("system flags inconsistent")
	}
	for _, id := range ch.Attach {
		if current.Has(id) || !ch.New.Has(id) {
			t.Fatalf("attach %q inconsistent", id)
		}
	}
	for _, id := range ch.Detach {
		if !current.Has(id) || ch.New.Has(id) {
			t.Fatalf("detach %q inconsistent", id)
		}
	}
	for _, id := range ch.New.UserAssigned {
		if !current.Has(id) && !contains(ch.Attach, id) {
			t.Fatalf("new %q not attached", id)
		}
	}
	for _, id := range current.UserAssigned {
		if !ch.New.Has(id) && !(&State{UserAssigned: ch.Detach}).Has(id) {
			t.Fatalf("dropped %q not detached", id)
		}
	}
	if back, err := ParseType(NewIdentity(ch.New, "Microsoft.Compute").Type); err != nil || back != ch.New.Type() {
		t.Fatalf("wire type does not parse back")
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
