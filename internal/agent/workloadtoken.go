package agent

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"
)

// Workload tokens: mint is also the OIDC issuer of its workloads (internal/federation), so that
// a program started by `mint run --federated-token-file` can use WorkloadIdentityCredential
// (AZURE_FEDERATED_TOKEN_FILE) as a Kubernetes pod uses its projected service-account token.
// `mint run` asks the agent over the registration socket, naming its registration's secret;
// the agent asks the server as the node (whose broker role at the resource is what allows it),
// so the person running `mint run` needs no mint credential of their own.

// WorkloadTokens issues federated tokens about a resource. node.Upstream implements it.
type WorkloadTokens interface {
	WorkloadToken(ctx context.Context, resourceID, audience string) (WorkloadToken, error)
}

// WorkloadToken is a federated token about a resource and what a workload needs to exchange it.
type WorkloadToken struct {
	Token         string
	Issuer        string
	Subject       string
	Audience      string
	TenantID      string
	AuthorityHost string // the server's URL: AZURE_AUTHORITY_HOST for the exchange
	ExpiresOn     time.Time
}

// workloadToken answers the socket's workloadToken op for the workload registered with secret.
func (a *Agent) workloadToken(secret, audience string) (WorkloadToken, error) {
	wt, ok := a.up.(WorkloadTokens)
	if !ok {
		return WorkloadToken{}, errors.New("this agent cannot issue workload tokens")
	}
	w := a.reg.lookup(secret)
	if secret == "" || w == nil {
		return WorkloadToken{}, errUnknownSecret
	}
	ctx, cancel := context.WithTimeout(a.baseCtx, a.upTimeout)
	defer cancel()
	return wt.WorkloadToken(ctx, w.resourceID, audience)
}

// WorkloadToken asks the agent for a federated token about the resource registered with secret.
func (c *Client) WorkloadToken(ctx context.Context, secret, audience string) (WorkloadToken, error) {
	resp, err := c.do(ctx, socketRequest{Op: "workloadToken", Secret: secret, Audience: audience})
	if err != nil {
		return WorkloadToken{}, err
	}
	if resp.Token == "" {
		return WorkloadToken{}, errors.New("mint agent: the answer holds no token")
	}
	return WorkloadToken{Token: resp.Token, Issuer: resp.Issuer, Subject: resp.Subject, Audience: resp.Audience,
		TenantID: resp.TenantID, AuthorityHost: resp.AuthorityHost, ExpiresOn: time.Unix(resp.ExpiresOn, 0)}, nil
}

// FederatedTokenOptions make Run keep a federated token file for the program.
type FederatedTokenOptions struct {
	File     string // where the token is written (created owner-only; removed when the program exits)
	Audience string // its aud claim; the server's default (api://AzureADTokenExchange) when empty
	ClientID string // the identity or application whose federated credential trusts it: AZURE_CLIENT_ID
}

// startFederatedToken writes the first token and refreshes it at half-life until stop, which
// also removes the file. Each fetch uses its own connection, so it never interleaves with the
// registration connection's requests. It returns WorkloadIdentityCredential's variables.
func startFederatedToken(ctx context.Context, socketPath, secret string, o FederatedTokenOptions, stderr io.Writer) (env []string, stop func(), err error) {
	path, err := filepath.Abs(o.File)
	if err != nil {
		return nil, nil, err
	}
	fetch := func(ctx context.Context) (WorkloadToken, error) {
		ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		c, err := Dial(ctx, socketPath)
		if err != nil {
			return WorkloadToken{}, err
		}
		defer c.Close()
		return c.WorkloadToken(ctx, secret, o.Audience)
	}
	tok, err := fetch(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("mint run: a federated token for the resource: %w", err)
	}
	if err := writeTokenFile(path, tok.Token); err != nil {
		return nil, nil, err
	}
	env = []string{"AZURE_FEDERATED_TOKEN_FILE=" + path, "AZURE_CLIENT_ID=" + o.ClientID, "AZURE_TENANT_ID=" + tok.TenantID,
		"AZURE_AUTHORITY_HOST=" + tok.AuthorityHost}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		refreshTokenFile(ctx, stderr, path, tok, fetch)
	}()
	return env, func() {
		cancel()
		<-done
		os.Remove(path)
	}, nil
}

// refreshTokenFile rewrites the file at each token's half-life; a failed fetch is retried every
// 30 s while the current token is still valid, and reported on stderr.
func refreshTokenFile(ctx context.Context, stderr io.Writer, path string, tok WorkloadToken, fetch func(context.Context) (WorkloadToken, error)) {
	next := time.Now().Add(time.Until(tok.ExpiresOn) / 2)
	for {
		t := time.NewTimer(time.Until(next))
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		fresh, err := fetch(ctx)
		if err == nil {
			err = writeTokenFile(path, fresh.Token)
		}
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			fmt.Fprintf(stderr, "mint run: refreshing %s failed (retrying in 30 s): %v\n", path, err)
			next = time.Now().Add(30 * time.Second)
			continue
		}
		next = time.Now().Add(time.Until(fresh.ExpiresOn) / 2)
	}
}

// writeTokenFile replaces the file atomically (a reader never sees half a token), owner-only.
func writeTokenFile(path, token string) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, ".mint-federated-token-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.WriteString(token); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Chmod(tmp.Name(), 0o600); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
