package graph

import (
	"encoding/json"
	"testing"
)

// $expand is refused in Graph's envelope, not ignored: a list without the related objects reads
// as "there are none".
func TestExpandIsRefused(t *testing.T) {
	_, _, _, call := graphEnv(t)
	for _, path := range []string{"/v1.0/groups?$expand=members", "/v1.0/groups?$expand=members($expand=memberOf)",
		"/v1.0/servicePrincipals?$expand=zzz", "/v1.0/applications?$top=1&$expand="} {
		w := call("GET", path, "")
		var env struct {
			Error struct{ Code, Message string }
		}
		if w.Code != 400 || json.Unmarshal(w.Body.Bytes(), &env) != nil || env.Error.Code != "Request_UnsupportedQuery" {
			t.Errorf("%s: %d %s", path, w.Code, w.Body)
		}
	}
	if w := call("GET", "/v1.0/groups?$top=1", ""); w.Code != 200 {
		t.Errorf("without $expand: %d %s", w.Code, w.Body)
	}
}
