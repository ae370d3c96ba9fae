package bench

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/mint-id/mint/internal/agent"
	"github.com/mint-id/mint/internal/rbac"
)

// The revocation figure: the time from detaching a user-assigned identity from a container app
// to the vault refusing a token issued for it (Azure honours such tokens until they expire).
//
// A container app with a user-assigned identity holding Key Vault Secrets User on a vault; a
// managed-identity token for that identity, fetched through mint dev's agent as a workload
// registered as the app; a secret GET with it succeeds. Then, repeatedly: detach the identity
// with an ARM PUT at a random moment, GET the secret every 2 ms until it is refused with 401 and
// record the time from sending the PUT; attach it again and wait for the GET to succeed.

func detachToRefusal(ctx context.Context, c *mgmt, detaches int) (Figure, error) {
	fx, err := newAttachment(ctx, c, "detach")
	if err != nil {
		return Figure{}, err
	}
	groupID, appID := fx.groupID, fx.appID
	if err := fx.put(true); err != nil {
		return Figure{}, err
	}

	var suffix [4]byte
	rand.Read(suffix[:])
	vaultID := groupID + "/providers/Microsoft.KeyVault/vaults/detach" + hex.EncodeToString(suffix[:])
	var vault struct {
		Properties struct {
			VaultURI string `json:"vaultUri"`
		} `json:"properties"`
	}
	if err := c.arm(ctx, http.MethodPut, vaultID+"?api-version=2024-11-01", map[string]any{"location": "westeurope",
		"properties": map[string]any{"tenantId": c.env["AZURE_TENANT_ID"], "sku": map[string]string{"family": "A", "name": "standard"}}}, &vault); err != nil {
		return Figure{}, fmt.Errorf("create vault: %w", err)
	}
	vu, err := url.Parse(vault.Properties.VaultURI)
	if err != nil || vu.Host == "" {
		return Figure{}, fmt.Errorf("vaultUri %q", vault.Properties.VaultURI)
	}
	_, audienceHost, _ := strings.Cut(vu.Host, ".") // the challenge's resource: https://<suffix>[:port]
	audience := "https://" + audienceHost
	adminToken, err := c.token(ctx, managementScope)
	if err != nil {
		return Figure{}, err
	}
	adminOID, err := jwtOID(adminToken)
	if err != nil {
		return Figure{}, err
	}
	if err := c.assignRole(ctx, vaultID, rbac.KeyVaultSecretsOfficerRoleID, adminOID); err != nil {
		return Figure{}, err
	}
	if err := c.assignRole(ctx, vaultID, rbac.KeyVaultSecretsUserRoleID, fx.principalID); err != nil {
		return Figure{}, err
	}
	adminVault, err := c.token(ctx, audience+"/.default")
	if err != nil {
		return Figure{}, err
	}
	base := "https://" + vu.Host
	if _, err := c.do(ctx, adminVault, http.MethodPut, base+"/secrets/detach?api-version=2026-04-01", map[string]string{"value": "detach me"}, nil); err != nil {
		return Figure{}, fmt.Errorf("set secret: %w", err)
	}

	// The workload's token, through mint dev's agent.
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
	raw, err := agentGet(ctx, hc, appServiceURL(reg.Endpoints.IdentityEndpoint, audience)+"&client_id="+url.QueryEscape(fx.clientID), reg.Secret)
	if err != nil {
		return Figure{}, err
	}
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.Unmarshal(raw, &tok); err != nil || tok.AccessToken == "" {
		return Figure{}, fmt.Errorf("agent token: %s", truncate(raw, 200))
	}
	get := func() (int, error) {
		status, err := c.do(ctx, tok.AccessToken, http.MethodGet, base+"/secrets/detach/?api-version=2026-04-01", nil, nil)
		if status == http.StatusOK || status == http.StatusUnauthorized {
			return status, nil
		}
		return status, err
	}
	waitFor := func(want int) (time.Duration, error) {
		began := time.Now()
		for {
			status, err := get()
			if err != nil {
				return 0, err
			}
			if status == want {
				return time.Since(began), nil
			}
			if time.Since(began) > 10*time.Second {
				return 0, fmt.Errorf("secret GET still %d after 10 s, want %d", status, want)
			}
			time.Sleep(2 * time.Millisecond)
		}
	}
	var lat, puts []time.Duration
	for i := range detaches {
		if i > 0 {
			if err := fx.put(true); err != nil {
				return Figure{}, err
			}
		}
		if _, err := waitFor(http.StatusOK); err != nil {
			return Figure{}, fmt.Errorf("with the identity attached: %w", err)
		}
		// Detach at a random moment of the vault's authorization cache (entries live up to
		// 500 ms), as a real detach would be, rather than always just after a refresh.
		time.Sleep(time.Duration(mrand.IntN(600)) * time.Millisecond)
		t := time.Now()
		if err := fx.put(false); err != nil {
			return Figure{}, err
		}
		puts = append(puts, time.Since(t))
		if _, err := waitFor(http.StatusUnauthorized); err != nil {
			return Figure{}, fmt.Errorf("after detaching: %w", err)
		}
		lat = append(lat, time.Since(t))
	}
	return latencyFigure("detachToRefusal", "detach to refusal (vault GET with the detached identity's token)", lat, "< 1000 ms p99", &Target{Max: 1000, OnP99: true},
		fmt.Sprintf("%d detaches: from sending the ARM PUT that detaches the user-assigned identity (median %.1f ms to answer) to the first 401, polling every 2 ms; token from mint dev's agent",
			len(lat), ms(median(puts)))), nil
}

// jwtOID reads the oid claim of a JWT without verifying it (it is our own admin's token).
func jwtOID(token string) (string, error) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return "", errors.New("malformed token")
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return "", err
	}
	var c struct {
		OID string `json:"oid"`
	}
	if err := json.Unmarshal(payload, &c); err != nil || c.OID == "" {
		return "", errors.New("token has no oid")
	}
	return c.OID, nil
}

// attachment is the fixture of the revocation figures: a resource group, a user-assigned
// identity and a container app it can be attached to and detached from with ARM PUTs.
type attachment struct {
	groupID, uaID, appID  string
	principalID, clientID string
	put                   func(attached bool) error
}

// newAttachment creates the group name, its identity and its container app (the identity not
// yet attached).
func newAttachment(ctx context.Context, c *mgmt, name string) (attachment, error) {
	groupID, err := c.createGroup(ctx, name)
	if err != nil {
		return attachment{}, err
	}
	a := attachment{groupID: groupID, uaID: groupID + "/providers/" + uaType + "/" + name + "-id", appID: groupID + "/providers/" + appType + "/" + name + "-app"}
	var ua struct {
		Properties struct{ PrincipalID, ClientID string } `json:"properties"`
	}
	if err := c.arm(ctx, http.MethodPut, a.uaID+"?api-version="+msiAPIVersion, map[string]any{"location": "westeurope"}, &ua); err != nil {
		return attachment{}, err
	}
	a.principalID, a.clientID = ua.Properties.PrincipalID, ua.Properties.ClientID
	attach := map[string]any{"location": "westeurope", "identity": map[string]any{"type": "UserAssigned", "userAssignedIdentities": map[string]any{a.uaID: map[string]any{}}}}
	detach := map[string]any{"location": "westeurope", "identity": map[string]any{"type": "None"}}
	a.put = func(attached bool) error {
		body := detach
		if attached {
			body = attach
		}
		return c.arm(ctx, http.MethodPut, a.appID+"?api-version="+computeAPIVersion, body, nil)
	}
	return a, nil
}
