package agent

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"time"
)

// Client talks to an agent's registration socket.
type Client struct {
	conn net.Conn
	rd   *bufio.Scanner
}

// Dial connects to the agent's socket.
func Dial(ctx context.Context, socketPath string) (*Client, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "unix", socketPath)
	if err != nil {
		return nil, fmt.Errorf("connect to the mint agent at %s: %w", socketPath, err)
	}
	sc := bufio.NewScanner(conn)
	sc.Buffer(make([]byte, 0, 4096), maxSocketMessage)
	return &Client{conn: conn, rd: sc}, nil
}

// Close closes the connection, revoking registrations bound to it.
func (c *Client) Close() error { return c.conn.Close() }

func (c *Client) do(ctx context.Context, req socketRequest) (socketResponse, error) {
	if dl, ok := ctx.Deadline(); ok {
		_ = c.conn.SetDeadline(dl)
		defer c.conn.SetDeadline(time.Time{})
	}
	b, err := json.Marshal(req)
	if err != nil {
		return socketResponse{}, err
	}
	if _, err := c.conn.Write(append(b, '\n')); err != nil {
		return socketResponse{}, fmt.Errorf("mint agent: %w", err)
	}
	if !c.rd.Scan() {
		err := c.rd.Err()
		if err == nil {
			err = io.ErrUnexpectedEOF
		}
		return socketResponse{}, fmt.Errorf("mint agent: %w", err)
	}
	var resp socketResponse
	if err := json.Unmarshal(c.rd.Bytes(), &resp); err != nil {
		return resp, fmt.Errorf("mint agent: malformed response: %w", err)
	}
	if resp.Error != "" {
		return resp, errors.New("mint agent: " + resp.Error)
	}
	return resp, nil
}

// Register registers a workload running as resourceID (pid 0: the calling process). With
// bindToConnection the secret is also revoked when this client's connection closes.
func (c *Client) Register(ctx context.Context, resourceID string, pid int, bindToConnection bool) (Registration, error) {
	resp, err := c.do(ctx, socketRequest{Op: "register", ResourceID: resourceID, PID: pid, BindToConnection: bindToConnection})
	if err != nil {
		return Registration{}, err
	}
	return Registration{Secret: resp.Secret, ResourceID: resourceID, PID: pid, Endpoints: Endpoints{
		IdentityEndpoint: resp.IdentityEndpoint, MSIEndpoint: resp.MSIEndpoint,
		ServiceFabricEndpoint: resp.ServiceFabricEndpoint, ServiceFabricThumbprint: resp.ServiceFabricThumbprint,
	}}, nil
}

// Unregister revokes a secret.
func (c *Client) Unregister(ctx context.Context, secret string) error {
	_, err := c.do(ctx, socketRequest{Op: "unregister", Secret: secret})
	return err
}

// BindHost binds a resource to the whole host (IMDS, Cloud Shell, Arc).
func (c *Client) BindHost(ctx context.Context, resourceID string) error {
	_, err := c.do(ctx, socketRequest{Op: "bindHost", ResourceID: resourceID})
	return err
}

// UnbindHost removes the host binding.
func (c *Client) UnbindHost(ctx context.Context) error {
	_, err := c.do(ctx, socketRequest{Op: "unbindHost"})
	return err
}

// RunOptions is what `mint run` needs.
type RunOptions struct {
	SocketPath string   // the agent's registration socket
	ResourceID string   // the resource the workload runs as
	Command    []string // program and arguments
	// Env is the child's base environment (nil: this process's). Managed-identity variables in
	// it are replaced.
	Env []string
	Dir string
	// Set are NAME=value variables set for the child on top of Env, after the caller's own
	// credentials are removed from it (the federated token file, the proxy variables).
	Set []string
	// DisableMSI leaves out MSI_ENDPOINT / MSI_SECRET (Azure ML / legacy App Service dialect).
	DisableMSI bool
	// ServiceFabric points IDENTITY_ENDPOINT at the agent's Service Fabric listener and sets
	// IDENTITY_SERVER_THUMBPRINT (the agent must have one) instead of the App Service dialect.
	ServiceFabric  bool
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	// Started, if set, is called with the child's pid once it runs (tests, progress output).
	Started func(pid int)
	// FederatedToken, if set, gives the program a federated token file about the resource,
	// kept fresh while it runs, and WorkloadIdentityCredential's variables.
	FederatedToken *FederatedTokenOptions
}

// identityEnv are the variables that select a managed-identity source in the Azure SDKs and the
// Azure CLI (APPSETTING_WEBSITE_SITE_NAME: see appServiceEnv).
var identityEnv = []string{"IDENTITY_ENDPOINT", "IDENTITY_HEADER", "IDENTITY_SERVER_THUMBPRINT", "MSI_ENDPOINT", "MSI_SECRET", "IMDS_ENDPOINT",
	"APPSETTING_WEBSITE_SITE_NAME"}

// appServiceEnv is what App Service sets beside MSI_ENDPOINT / MSI_SECRET in a web app (or
// slot): WEBSITE_SITE_NAME, and, as for every app setting, APPSETTING_WEBSITE_SITE_NAME. The Azure
// CLI up to 2.5x (msrestazure's MSIAuthentication) takes its App Service path — GET MSI_ENDPOINT,
// api-version 2017-09-01, the "secret" header — only when APPSETTING_WEBSITE_SITE_NAME is set;
// otherwise, with MSI_ENDPOINT set, it POSTs a Cloud Shell form without any secret, which is why
// `az login --identity` fails in real Container Apps (Azure/azure-cli#22677) and under `mint run`
// as a container app. Nil for any other resource.
func appServiceEnv(resourceID string) []string {
	parts := strings.Split(strings.Trim(resourceID, "/"), "/")
	for i := 0; i+2 < len(parts); i++ {
		if strings.EqualFold(parts[i], "providers") && strings.EqualFold(parts[i+1], "Microsoft.Web") &&
			i+3 < len(parts) && strings.EqualFold(parts[i+2], "sites") {
			name := parts[i+3]
			return []string{"WEBSITE_SITE_NAME=" + name, "APPSETTING_WEBSITE_SITE_NAME=" + name}
		}
	}
	return nil
}

// credentialEnv are the variables that carry an application's or a user's own credential to the
// Azure SDKs' EnvironmentCredential and WorkloadIdentityCredential.
var credentialEnv = []string{"AZURE_CLIENT_SECRET", "AZURE_CLIENT_CERTIFICATE_PATH", "AZURE_CLIENT_CERTIFICATE_PASSWORD",
	"AZURE_USERNAME", "AZURE_PASSWORD", "AZURE_FEDERATED_TOKEN_FILE"}

// Run is `mint run`: it registers with the agent as opts.ResourceID, starts the command with
// IDENTITY_ENDPOINT / IDENTITY_HEADER (and, unless disabled, MSI_ENDPOINT / MSI_SECRET; the
// same per-run secret), forwards SIGINT, SIGTERM, SIGHUP and SIGQUIT to it, and returns its exit
// code (128+n if it died of signal n). The secret is revoked when the child exits (and, should
// this process die first, when its connection to the agent closes). Cancelling ctx sends the
// child SIGTERM, then SIGKILL after 10 s.
func Run(ctx context.Context, opts RunOptions) (int, error) {
	if len(opts.Command) == 0 {
		return 0, errors.New("mint run: no command given")
	}
	client, err := Dial(ctx, opts.SocketPath)
	if err != nil {
		return 0, err
	}
	defer client.Close()
	regCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	reg, err := client.Register(regCtx, opts.ResourceID, os.Getpid(), true)
	cancel()
	if err != nil {
		return 0, err
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		_ = client.Unregister(ctx, reg.Secret)
		cancel()
	}()

	if opts.FederatedToken != nil {
		fedEnv, stop, err := startFederatedToken(ctx, opts.SocketPath, reg.Secret, *opts.FederatedToken, opts.Stderr)
		if err != nil {
			return 0, err
		}
		defer stop()
		opts.Set = append(slices.Clip(opts.Set), fedEnv...)
	}
	env, err := workloadEnv(opts, reg)
	if err != nil {
		return 0, err
	}
	cmd := exec.Command(opts.Command[0], opts.Command[1:]...)
	cmd.Env, cmd.Dir = env, opts.Dir
	cmd.Stdin, cmd.Stdout, cmd.Stderr = opts.Stdin, opts.Stdout, opts.Stderr

	sigc := make(chan os.Signal, 8)
	signal.Notify(sigc, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGQUIT)
	defer signal.Stop(sigc)
	if err := cmd.Start(); err != nil {
		return 0, fmt.Errorf("mint run: %w", err)
	}
	if opts.Started != nil {
		opts.Started(cmd.Process.Pid)
	}
	waitc := make(chan error, 1)
	go func() { waitc <- cmd.Wait() }()
	var killTimer <-chan time.Time
	done := ctx.Done()
	for {
		select {
		case s := <-sigc:
			_ = cmd.Process.Signal(s)
		case <-done:
			done = nil
			_ = cmd.Process.Signal(syscall.SIGTERM)
			killTimer = time.After(10 * time.Second)
		case <-killTimer:
			_ = cmd.Process.Kill()
		case err := <-waitc:
			return exitCode(cmd.ProcessState, err)
		}
	}
}

func exitCode(ps *os.ProcessState, waitErr error) (int, error) {
	if ps == nil {
		return 0, fmt.Errorf("mint run: %w", waitErr)
	}
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 128 + int(ws.Signal()), nil
	}
	return ps.ExitCode(), nil
}

func workloadEnv(opts RunOptions, reg Registration) ([]string, error) {
	base := opts.Env
	if base == nil {
		base = os.Environ()
	}
	// A workload runs as its resource, so it must not inherit the caller's own credentials (the
	// shell that loaded `mint dev`'s env file holds the admin application's secret, which
	// EnvironmentCredential would silently prefer). When such a credential is present, the
	// AZURE_CLIENT_ID and AZURE_TENANT_ID beside it belong to it too and go with it; without one,
	// AZURE_CLIENT_ID is the workload's choice of user-assigned identity and stays.
	appCredential := false
	for _, kv := range base {
		name, value, _ := strings.Cut(kv, "=")
		if value != "" && slices.Contains(credentialEnv, name) {
			appCredential = true
		}
	}
	env := make([]string, 0, len(base)+6)
	for _, kv := range base {
		name, _, _ := strings.Cut(kv, "=")
		drop := slices.Contains(identityEnv, name) || slices.Contains(credentialEnv, name) ||
			(appCredential && (name == "AZURE_CLIENT_ID" || name == "AZURE_TENANT_ID"))
		if !drop {
			env = append(env, kv)
		}
	}
	for _, kv := range opts.Set {
		name, _, _ := strings.Cut(kv, "=")
		env = slices.DeleteFunc(env, func(e string) bool { return strings.HasPrefix(e, name+"=") })
		env = append(env, kv)
	}
	ep := reg.Endpoints
	if opts.ServiceFabric {
		if ep.ServiceFabricEndpoint == "" {
			return nil, errors.New("mint run: the agent has no Service Fabric listener")
		}
		env = append(env, "IDENTITY_ENDPOINT="+ep.ServiceFabricEndpoint, "IDENTITY_HEADER="+reg.Secret,
			"IDENTITY_SERVER_THUMBPRINT="+ep.ServiceFabricThumbprint)
	} else {
		env = append(env, "IDENTITY_ENDPOINT="+ep.IdentityEndpoint, "IDENTITY_HEADER="+reg.Secret)
	}
	if !opts.DisableMSI {
		env = append(env, "MSI_ENDPOINT="+ep.MSIEndpoint, "MSI_SECRET="+reg.Secret)
	}
	if !opts.ServiceFabric {
		for _, kv := range appServiceEnv(opts.ResourceID) {
			name, _, _ := strings.Cut(kv, "=")
			env = slices.DeleteFunc(env, func(e string) bool { return strings.HasPrefix(e, name+"=") })
			env = append(env, kv)
		}
	}
	return env, nil
}
