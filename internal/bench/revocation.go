package bench

import (
	"context"
	"fmt"
	mrand "math/rand/v2"
	"net/http"
	"net/url"
	"time"

	"github.com/mint-id/mint/internal/agent"
)

// The agent's revocation figure: the time from detaching a user-assigned identity from a
// container app to the node agent refusing to serve the token it has cached for that pairing
// (Azure's agents serve it until it expires). The server pushes the change on the node
// channel's long poll, fed by the store's revocation feed; mint dev's agent follows its own
// server over HTTPS as any node does. On SQLite the change and the agent share one server; with
// PostgreSQL the change may be made on any replica and the agent connected to another (the e2e
// tests check that path; docs/operations.md says what it adds: the other replica's poll).
//
// A container app with the identity attached; a workload registered as the app asks the agent
// for a token (the agent caches it). Then, repeatedly: attach the identity, wait until the agent
// serves a token again, detach it with an ARM PUT at a random moment, ask the agent every 2 ms
// until it refuses, and record the time from sending the PUT.

func agentRevocation(ctx context.Context, c *mgmt, rounds int) (Figure, error) {
	fx, err := newAttachment(ctx, c, "agentrevoke")
	if err != nil {
		return Figure{}, err
	}
	appID := fx.appID

	cl, err := agent.Dial(ctx, c.env["MINT_AGENT_SOCKET"])
	if err != nil {
		return Figure{}, err
	}
	defer cl.Close()
	reg, err := cl.Register(ctx, appID, 0, true)
	if err != nil {
		return Figure{}, err
	}
	hc := &http.Client{Timeout: 30 * time.Second}
	tokenURL := appServiceURL(reg.Endpoints.IdentityEndpoint, "https://vault.azure.net") + "&client_id=" + url.QueryEscape(fx.clientID)
	served := func() bool {
		_, err := agentGet(ctx, hc, tokenURL, reg.Secret)
		return err == nil
	}
	waitFor := func(want bool) error {
		began := time.Now()
		for served() != want {
			if time.Since(began) > 15*time.Second {
				return fmt.Errorf("the agent still answers served=%v after 15 s", !want)
			}
			time.Sleep(2 * time.Millisecond)
		}
		return nil
	}
	var lat []time.Duration
	for range rounds {
		if err := fx.put(true); err != nil {
			return Figure{}, err
		}
		// The agent remembers a refusal for 2 s; then it serves (and caches) a token again.
		if err := waitFor(true); err != nil {
			return Figure{}, fmt.Errorf("with the identity attached: %w", err)
		}
		time.Sleep(time.Duration(100+mrand.IntN(400)) * time.Millisecond)
		if !served() {
			return Figure{}, fmt.Errorf("the agent stopped serving before the detach")
		}
		t := time.Now()
		if err := fx.put(false); err != nil {
			return Figure{}, err
		}
		if err := waitFor(false); err != nil {
			return Figure{}, fmt.Errorf("after detaching: %w", err)
		}
		lat = append(lat, time.Since(t))
	}
	return latencyFigure("agentRevocation", "revocation at the agent (detach to the agent refusing its cached token)", lat, "< 1000 ms p99", &Target{Max: 1000, OnP99: true},
		fmt.Sprintf("%d detaches: from sending the ARM PUT to the first refusal by mint dev's agent, asked every 2 ms for the token it cached (SQLite, one server; PostgreSQL replicas add one feed poll, <= 100 ms)", len(lat))), nil
}
