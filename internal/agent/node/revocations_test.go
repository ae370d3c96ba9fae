package node

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mint-id/mint/internal/nodewire"
)

// recordingSink records what the feed told the agent to drop.
type recordingSink struct {
	mu  sync.Mutex
	ops []string
}

func (s *recordingSink) Revoke(resourceID, principalID string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ops = append(s.ops, "revoke "+resourceID+" "+principalID)
	return 1
}

func (s *recordingSink) RevokeAll() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ops = append(s.ops, "all")
	return 1
}

func (s *recordingSink) list() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return strings.Join(s.ops, "; ")
}

// The agent's side of the feed: the first answer (a reset) is applied before firstDone; entries
// drop what they name, the node's own principal everything; a failing server drops nothing and
// is polled again from the same cursor; a server that refuses the node drops everything.
func TestFollowRevocations(t *testing.T) {
	f := newFakeServer(t)
	var mu sync.Mutex
	var cursors []string
	step := 0
	f.feed = func(r *http.Request) (int, any) {
		mu.Lock()
		defer mu.Unlock()
		cursors = append(cursors, r.URL.Query().Get(nodewire.ParamAfter))
		step++
		switch step {
		case 1:
			return http.StatusOK, nodewire.Revocations{Cursor: 5, Reset: true, Revocations: []nodewire.Revocation{}}
		case 2:
			return http.StatusOK, nodewire.Revocations{Cursor: 7, Revocations: []nodewire.Revocation{{ResourceID: "/r1"}, {PrincipalID: "p1"}}}
		case 3:
			return http.StatusServiceUnavailable, map[string]any{"error": map[string]string{"code": "ServiceUnavailable"}}
		case 4:
			return http.StatusOK, nodewire.Revocations{Cursor: 8, Revocations: []nodewire.Revocation{{PrincipalID: strings.ToUpper(f.id.ObjectID)}}}
		default:
			return http.StatusForbidden, map[string]any{"error": map[string]string{"code": "AuthorizationFailed", "message": "not a node"}}
		}
	}
	up := NewUpstream(f.id, f.srv.Client())
	sink := &recordingSink{}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	first := make(chan string, 1)
	go up.FollowRevocations(ctx, sink, nil, func() { first <- sink.list() })
	select {
	case got := <-first:
		if got != "all" {
			t.Errorf("at firstDone the sink had %q, want the first reset applied", got)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("firstDone never called")
	}
	want := "all; revoke /r1 ; revoke  p1; all; all"
	for deadline := time.Now().Add(10 * time.Second); !strings.HasPrefix(sink.list(), want); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("sink got %q, want it to start with %q", sink.list(), want)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if got := strings.Join(cursors[:5], ","); got != ",5,7,7,8" {
		t.Errorf("cursors polled %q, want ,5,7,7,8 (none at first; the same after a failure)", got)
	}
}
