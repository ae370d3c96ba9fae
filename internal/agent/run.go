package agent

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
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
	// ServiceFabric is Dialect RunServiceFabric (kept for callers that set it).
	ServiceFabric bool
	// Dialect is how the agent is presented to the program ("": RunAppService).
	Dialect        RunDialect
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	// Started, if set, is called with the child's pid once it runs (tests, progress output).
	Started func(pid int)
	// FederatedToken, if set, gives the program a federated token file about the resource,
	// kept fresh while it runs, and WorkloadIdentityCredential's variables.
	FederatedToken *FederatedTokenOptions
}

// RunDialect is the managed-identity protocol `mint run` presents to the program, as the Azure
// host it would run on does.
type RunDialect string

// The dialects `mint run` can present.
const (
	// RunAppService: IDENTITY_ENDPOINT / IDENTITY_HEADER, and MSI_ENDPOINT / MSI_SECRET unless
	// DisableMSI (App Service, Functions, Container Apps). The default.
	RunAppService RunDialect = "appservice"
	// RunAzureML: MSI_ENDPOINT / MSI_SECRET only (Azure ML, App Service's 2017-09-01 protocol).
	RunAzureML RunDialect = "azureml"
	// RunCloudShell: MSI_ENDPOINT alone, a per-run URL (Cloud Shell's POST protocol).
	RunCloudShell RunDialect = "cloudshell"
	// RunArc: IDENTITY_ENDPOINT (a per-run URL) and IMDS_ENDPOINT (Azure Arc, with its key-file
	// challenge; system-assigned identity only).
	RunArc RunDialect = "arc"
	// RunIMDS: no identity variable; HTTP_PROXY is the agent, carrying the run's secret as proxy
	// credentials, so http://169.254.169.254 reaches the agent as the run (a VM).
	RunIMDS RunDialect = "imds"
	// RunServiceFabric: IDENTITY_ENDPOINT (the agent's https Service Fabric listener),
	// IDENTITY_HEADER and IDENTITY_SERVER_THUMBPRINT, and NODE_EXTRA_CA_CERTS naming a file that
	// holds the listener's certificate.
	RunServiceFabric RunDialect = "servicefabric"
)

// RunDialects lists every dialect, for flags and messages.
var RunDialects = []RunDialect{RunAppService, RunAzureML, RunCloudShell, RunArc, RunIMDS, RunServiceFabric}

// ParseRunDialect reads a dialect name (case-insensitive; "" is RunAppService).
func ParseRunDialect(s string) (RunDialect, error) {
	if s == "" {
		return RunAppService, nil
	}
	for _, d := range RunDialects {
		if strings.EqualFold(s, string(d)) {
			return d, nil
		}
	}
	names := make([]string, len(RunDialects))
	for i, d := range RunDialects {
		names[i] = string(d)
	}
	return "", fmt.Errorf("unknown dialect %q: use one of %s", s, strings.Join(names, ", "))
}

// identityEnv are the variables that select a managed-identity source in the Azure SDKs and the
// Azure CLI (APPSETTING_WEBSITE_SITE_NAME: see appServiceEnv).
var identityEnv = []string{"IDENTITY_ENDPOINT", "IDENTITY_HEADER", "IDENTITY_SERVER_THUMBPRINT", "MSI_ENDPOINT", "MSI_SECRET", "IMDS_ENDPOINT",
	"APPSETTING_WEBSITE_SITE_NAME", "AZURE_POD_IDENTITY_AUTHORITY_HOST"}

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
	if opts.ServiceFabric {
		opts.Dialect = RunServiceFabric
	}
	if opts.Dialect == RunServiceFabric {
		caFile, err := serviceFabricTrustFile(ctx, reg.Endpoints, opts)
		if err != nil {
			return 0, err
		}
		defer os.Remove(caFile)
		opts.Set = append(slices.Clip(opts.Set), "NODE_EXTRA_CA_CERTS="+caFile)
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
	d := opts.Dialect
	if opts.ServiceFabric {
		d = RunServiceFabric
	}
	if d == "" {
		d = RunAppService
	}
	agentURL, err := agentBase(ep.IdentityEndpoint)
	if err != nil {
		return nil, err
	}
	switch d {
	case RunAppService:
		env = append(env, "IDENTITY_ENDPOINT="+ep.IdentityEndpoint, "IDENTITY_HEADER="+reg.Secret)
		if !opts.DisableMSI {
			env = append(env, "MSI_ENDPOINT="+ep.MSIEndpoint, "MSI_SECRET="+reg.Secret)
		}
		for _, kv := range appServiceEnv(opts.ResourceID) {
			name, _, _ := strings.Cut(kv, "=")
			env = slices.DeleteFunc(env, func(e string) bool { return strings.HasPrefix(e, name+"=") })
			env = append(env, kv)
		}
	case RunAzureML:
		env = append(env, "MSI_ENDPOINT="+ep.MSIEndpoint, "MSI_SECRET="+reg.Secret)
	case RunCloudShell:
		env = append(env, "MSI_ENDPOINT="+agentURL.String()+RunPathPrefix+reg.Secret+"/"+runCloudShellSuffix)
	case RunArc:
		env = append(env, "IDENTITY_ENDPOINT="+agentURL.String()+RunPathPrefix+reg.Secret+"/"+runArcSuffix, "IMDS_ENDPOINT="+agentURL.String())
	case RunIMDS:
		// The run's secret rides as proxy credentials on every proxy variable that can carry the
		// IMDS request: HTTP_PROXY (the agent itself), and, under --proxy, HTTPS_PROXY too (Node
		// sends plain http through it; mint's proxy hands IMDS requests to the agent unchanged).
		agentProxy := *agentURL
		agentProxy.User = url.UserPassword("mint", reg.Secret)
		env = setProxyVar(env, "HTTP_PROXY", agentProxy.String())
		for _, name := range []string{"HTTPS_PROXY", "ALL_PROXY"} {
			if v := lookupEnv(env, name); v != "" {
				if u, err := url.Parse(v); err == nil && u.Host != "" {
					u.User = url.UserPassword("mint", reg.Secret)
					env = setProxyVar(env, name, u.String())
				}
			}
		}
	case RunServiceFabric:
		if ep.ServiceFabricEndpoint == "" {
			return nil, errors.New("mint run: the agent has no Service Fabric listener (mint agent --service-fabric-addr, mint dev --service-fabric-addr)")
		}
		env = append(env, "IDENTITY_ENDPOINT="+ep.ServiceFabricEndpoint, "IDENTITY_HEADER="+reg.Secret,
			"IDENTITY_SERVER_THUMBPRINT="+ep.ServiceFabricThumbprint)
	default:
		return nil, fmt.Errorf("mint run: unknown dialect %q", d)
	}
	return env, nil
}

// agentBase is the scheme and host of the agent's http listener, from its App Service URL.
func agentBase(identityEndpoint string) (*url.URL, error) {
	u, err := url.Parse(identityEndpoint)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("mint run: the agent's identity endpoint %q is not a URL", identityEndpoint)
	}
	return &url.URL{Scheme: u.Scheme, Host: u.Host}, nil
}

func lookupEnv(env []string, name string) string {
	for i := len(env) - 1; i >= 0; i-- {
		if v, ok := strings.CutPrefix(env[i], name+"="); ok {
			return v
		}
	}
	return ""
}

// setProxyVar sets a proxy variable in both spellings (Python and curl read the lower-case one
// first).
func setProxyVar(env []string, name, value string) []string {
	for _, n := range []string{name, strings.ToLower(name)} {
		env = slices.DeleteFunc(env, func(e string) bool { return strings.HasPrefix(e, n+"=") })
		env = append(env, n+"="+value)
	}
	return env
}

// serviceFabricTrustFile writes a file for NODE_EXTRA_CA_CERTS: the certificate the agent's
// Service Fabric listener presents (fetched from it and checked against the thumbprint the agent
// gave over its socket, which Go's and Python's clients pin), after the CA file the program
// would otherwise have trusted (NODE_EXTRA_CA_CERTS in opts.Set or the environment). Node,
// unlike the other SDKs, verifies the listener's certificate as any https server's. The caller
// removes the file when the program exits.
func serviceFabricTrustFile(ctx context.Context, ep Endpoints, opts RunOptions) (string, error) {
	if ep.ServiceFabricEndpoint == "" {
		return "", errors.New("mint run: the agent has no Service Fabric listener (mint agent --service-fabric-addr, mint dev --service-fabric-addr)")
	}
	u, err := url.Parse(ep.ServiceFabricEndpoint)
	if err != nil || u.Host == "" {
		return "", fmt.Errorf("mint run: the Service Fabric endpoint %q is not a URL", ep.ServiceFabricEndpoint)
	}
	var leaf []byte
	d := tls.Dialer{Config: &tls.Config{
		InsecureSkipVerify: true, // #nosec G402 -- verified below: the thumbprint the agent named over its root-only socket.
		VerifyPeerCertificate: func(raw [][]byte, _ [][]*x509.Certificate) error {
			if len(raw) == 0 || !strings.EqualFold(Thumbprint(raw[0]), ep.ServiceFabricThumbprint) {
				return errors.New("the Service Fabric listener's certificate does not have the thumbprint the agent gave")
			}
			leaf = raw[0]
			return nil
		},
	}}
	dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	conn, err := d.DialContext(dctx, "tcp", u.Host)
	if err != nil {
		return "", fmt.Errorf("mint run: read the Service Fabric listener's certificate: %w", err)
	}
	conn.Close()
	var data []byte
	existing := lookupEnv(opts.Set, "NODE_EXTRA_CA_CERTS")
	if existing == "" {
		base := opts.Env
		if base == nil {
			base = os.Environ()
		}
		existing = lookupEnv(base, "NODE_EXTRA_CA_CERTS")
	}
	if existing != "" {
		if data, err = os.ReadFile(existing); err != nil {
			return "", fmt.Errorf("mint run: NODE_EXTRA_CA_CERTS: %w", err)
		}
		if len(data) > 0 && data[len(data)-1] != '\n' {
			data = append(data, '\n')
		}
	}
	data = append(data, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: leaf})...)
	f, err := os.CreateTemp("", "mint-run-service-fabric-*.pem")
	if err != nil {
		return "", fmt.Errorf("mint run: %w", err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		os.Remove(f.Name())
		return "", fmt.Errorf("mint run: %w", err)
	}
	if err := f.Close(); err != nil {
		os.Remove(f.Name())
		return "", fmt.Errorf("mint run: %w", err)
	}
	return f.Name(), nil
}
