package node

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/mint-id/mint/internal/agent"
	"github.com/mint-id/mint/internal/nodewire"
)

// RevocationSink drops cached tokens; *agent.Agent is one.
type RevocationSink interface {
	Revoke(resourceID, principalID string) int
	RevokeAll() int
}

var _ RevocationSink = (*agent.Agent)(nil)

// pollWait is how long the server may hold one poll of the revocation feed (it caps it under its
// read timeout; the node's HTTP client allows 30 s).
const pollWait = 20 * time.Second

// FollowRevocations long-polls the server's revocation feed until ctx ends and drops from sink
// the cached tokens each entry names; an entry naming the node itself, a reset (the first poll,
// or a cursor older than what the server keeps), or a server that says the node is no longer
// one, drops them all. While the server is unreachable or failing, nothing is dropped (the agent
// keeps serving what it has, as it would without the feed) and the poll resumes from its cursor,
// so what was revoked meanwhile is dropped on reconnection.
//
// firstDone, if not nil, is called once the first poll has been answered or has failed: an agent
// that waits for it before serving has its cursor before it caches anything, so the first
// answer's reset drops nothing.
func (u *Upstream) FollowRevocations(ctx context.Context, sink RevocationSink, logger *slog.Logger, firstDone func()) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	var once sync.Once
	first := func() {
		if firstDone != nil {
			once.Do(firstDone)
		}
	}
	defer first()
	cursor := int64(-1) // none yet
	backoff := time.Duration(0)
	failing := true // until the first answer, which is logged
	for ctx.Err() == nil {
		if backoff > 0 {
			select {
			case <-ctx.Done():
				return
			case <-time.After(backoff):
			}
		}
		out, err := u.pollRevocations(ctx, cursor)
		if cursor < 0 && err == nil {
			// The first answer is a reset: apply it before telling the caller.
			if n := sink.RevokeAll(); n > 0 {
				logger.Info("revocation feed reset (first poll): every cached token dropped", "dropped", n)
			}
			out.Reset = false
		}
		first()
		var refused *nodeRefusedError
		switch {
		case ctx.Err() != nil:
			return
		case errors.As(err, &refused):
			// The server says this node may hold no token: nothing cached may be served.
			if n := sink.RevokeAll(); n > 0 || !failing {
				logger.Warn("the server refuses this node; every cached token dropped", "dropped", n, "err", err)
			}
			failing, backoff = true, 5*time.Second
			continue
		case err != nil:
			if !failing || cursor < 0 && backoff == 0 {
				logger.Warn("revocation feed unreachable; cached tokens are served until it answers", "err", err)
			}
			failing = true
			backoff = min(max(2*backoff, 500*time.Millisecond), 10*time.Second)
			continue
		}
		if failing {
			logger.Info("revocation feed reached", "cursor", out.Cursor)
		}
		failing, backoff = false, 0
		if out.Reset {
			if n := sink.RevokeAll(); n > 0 {
				logger.Info("revocation feed reset (first poll, or entries missed): every cached token dropped", "dropped", n)
			}
		}
		for _, r := range out.Revocations {
			if r.PrincipalID != "" && strings.EqualFold(r.PrincipalID, u.id.ObjectID) {
				sink.RevokeAll()
				continue
			}
			sink.Revoke(r.ResourceID, r.PrincipalID)
		}
		cursor = out.Cursor
	}
}

// nodeRefusedError: the server refused the node itself (its sign-in, or its being a node).
type nodeRefusedError struct{ msg string }

func (e *nodeRefusedError) Error() string { return e.msg }

// pollRevocations makes one long poll.
func (u *Upstream) pollRevocations(ctx context.Context, cursor int64) (nodewire.Revocations, error) {
	var out nodewire.Revocations
	bearer, err := u.managementToken(ctx)
	if err != nil {
		var ue *agent.UpstreamError
		if errors.As(err, &ue) && ue.Kind == agent.NodeNotAllowed {
			return out, &nodeRefusedError{err.Error()}
		}
		return out, err
	}
	q := url.Values{nodewire.ParamWait: {pollWait.String()}}
	if cursor >= 0 {
		q.Set(nodewire.ParamAfter, strconv.FormatInt(cursor, 10))
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.id.ServerURL+nodewire.RevocationsPath+"?"+q.Encode(), nil)
	if err != nil {
		return out, err
	}
	req.Header.Set("Authorization", "Bearer "+bearer)
	resp, err := u.hc.Do(req)
	if err != nil {
		return out, fmt.Errorf("mint server unreachable: %w", err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if err != nil {
		return out, err
	}
	switch resp.StatusCode {
	case http.StatusOK:
		if err := json.Unmarshal(data, &out); err != nil {
			return out, fmt.Errorf("malformed revocation feed answer: %w", err)
		}
		return out, nil
	case http.StatusUnauthorized:
		// The node's management token was refused (the server's keys changed?): sign in again
		// next time; if that sign-in is refused, the node is refused.
		u.mgmtMu.Lock()
		u.mgmt = ""
		u.mgmtMu.Unlock()
		return out, fmt.Errorf("the revocation feed refused the node's token: HTTP 401")
	case http.StatusForbidden:
		return out, &nodeRefusedError{fmt.Sprintf("the revocation feed refused this node: %s", strings.TrimSpace(string(data)))}
	default:
		return out, fmt.Errorf("the revocation feed answered HTTP %d", resp.StatusCode)
	}
}
