package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/spf13/pflag"

	"github.com/mint-id/mint/internal/federation"
)

// federatedTokenFlags are `mint run`'s workload identity federation flags: mint writes a token
// about the resource (mint's own issuer, subject mint:resource:<resource id>) to a file and keeps
// it fresh, and the program uses it through WorkloadIdentityCredential, as a Kubernetes pod uses
// its projected service-account token. The identity trusts it through a federated identity
// credential with that issuer and subject.
type federatedTokenFlags struct {
	file     string
	audience string
	clientID string
}

func (f *federatedTokenFlags) register(fs *pflag.FlagSet) {
	fs.StringVar(&f.file, "federated-token-file", "", "write a federated token about the resource to this file, keep it fresh while the program runs, and "+
		"set AZURE_FEDERATED_TOKEN_FILE, AZURE_CLIENT_ID, AZURE_TENANT_ID and AZURE_AUTHORITY_HOST for WorkloadIdentityCredential (signs in like the other commands: $MINT_DATA_DIR/env)")
	fs.StringVar(&f.audience, "federated-audience", federation.DefaultAudience, "the aud claim of the federated token")
	fs.StringVar(&f.clientID, "client-id", "", "client id of the user-assigned identity whose federated credential trusts the token (AZURE_CLIENT_ID); required with --federated-token-file")
}

// start writes the first token and refreshes it at half-life until stop, which also removes the
// file. It returns the variables to set for the program (WorkloadIdentityCredential's); none and a
// no-op stop when the flag is unset.
func (f *federatedTokenFlags) start(ctx context.Context, stderr io.Writer, resourceID string) (env []string, stop func(), err error) {
	if f.file == "" {
		return nil, func() {}, nil
	}
	if f.clientID == "" {
		return nil, nil, errors.New("--client-id is required with --federated-token-file: the client id of the user-assigned identity whose federated identity credential trusts the token")
	}
	path, err := filepath.Abs(f.file)
	if err != nil {
		return nil, nil, err
	}
	cf := clientFlags{output: "json"}
	c, err := cf.client()
	if err != nil {
		return nil, nil, fmt.Errorf("--federated-token-file: %w", err)
	}
	fetch := func(ctx context.Context) (federation.WorkloadToken, error) {
		ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		var tok federation.WorkloadToken
		err := c.do(ctx, managementScope, "POST", federation.WorkloadTokensPath,
			federation.WorkloadTokenRequest{ResourceID: resourceID, Audience: f.audience}, &tok)
		if err == nil && tok.Token == "" {
			err = errors.New("the answer holds no token")
		}
		return tok, err
	}
	tok, err := fetch(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("get a federated token for %s: %w", resourceID, err)
	}
	if err := writeTokenFile(path, tok.Token); err != nil {
		return nil, nil, err
	}

	env = append(env, "AZURE_FEDERATED_TOKEN_FILE="+path, "AZURE_CLIENT_ID="+f.clientID, "AZURE_TENANT_ID="+tok.TenantID,
		"AZURE_AUTHORITY_HOST="+cf.endpoint)

	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		refreshTokenFile(ctx, stderr, path, tok, fetch)
	}()
	return env, func() {
		cancel()
		wg.Wait()
		os.Remove(path)
	}, nil
}

// refreshTokenFile rewrites the file at each token's half-life; a failed fetch is retried every
// 30 s while the current token is still valid, and reported on stderr.
func refreshTokenFile(ctx context.Context, stderr io.Writer, path string, tok federation.WorkloadToken, fetch func(context.Context) (federation.WorkloadToken, error)) {
	issued := time.Now()
	next := issued.Add(time.Unix(tok.ExpiresOn, 0).Sub(issued) / 2)
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
		now := time.Now()
		next = now.Add(time.Unix(fresh.ExpiresOn, 0).Sub(now) / 2)
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
