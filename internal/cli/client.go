package cli

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/spf13/pflag"

	"github.com/mint-id/mint/internal/server"
)

// clientFlags say where mint is and who the CLI signs in as. By default they come from the
// environment `mint dev` prints (AZURE_*, MINT_ENDPOINT, MINT_CA_FILE), or from --env-file.
type clientFlags struct {
	envFile  string
	endpoint string
	caFile   string
	tenant   string
	clientID string
	secret   string
	certFile string   // PEM certificate and key (a mint login profile's certificate credential)
	person   *profile // a person's mint login profile: tokens from its refresh token
	output   outputSpec
}

func (f *clientFlags) register(fs *pflag.FlagSet) {
	fs.StringVar(&f.envFile, "env-file", "", "env file written by mint dev (default $MINT_DATA_DIR/env when the variables below are unset)")
	fs.StringVar(&f.endpoint, "endpoint", "", "mint base URL (default $MINT_ENDPOINT)")
	fs.StringVar(&f.caFile, "ca-file", "", "PEM file of mint's CA (default $MINT_CA_FILE)")
	fs.StringVar(&f.tenant, "tenant", "", "tenant id (default $AZURE_TENANT_ID)")
	fs.StringVar(&f.clientID, "client-id", "", "client id to sign in as (default $AZURE_CLIENT_ID)")
	fs.StringVar(&f.secret, "client-secret", "", "client secret (default $AZURE_CLIENT_SECRET)")
	fs.StringVarP(&f.output.Format, "output", "o", "json", "output format: "+strings.Join(outputFormats, ", "))
	fs.StringVar(&f.output.Query, "query", "", "JMESPath query applied to the result before it is formatted (as az's --query)")
}

// resolve fills empty settings from the env file or the environment.
func (f *clientFlags) resolve() error {
	if err := f.output.check(); err != nil { // az refuses these before it signs in
		return err
	}
	file := f.envFile
	if file == "" && os.Getenv("MINT_ENDPOINT") == "" && os.Getenv("MINT_DATA_DIR") != "" {
		file = filepath.Join(os.Getenv("MINT_DATA_DIR"), "env")
	}
	vars := map[string]string{}
	if file != "" {
		var err error
		if vars, err = server.ParseEnvFile(file); errors.Is(err, fs.ErrNotExist) {
			dir := filepath.Dir(file)
			return fmt.Errorf("no environment at %s: no mint dev has run with --data-dir %s. Start one ('mint dev --data-dir %s'), "+
				"or point MINT_DATA_DIR (or --env-file) at the data directory of the mint dev that is running (it prints it)", file, dir, dir)
		} else if err != nil {
			return fmt.Errorf("read env file: %w", err)
		}
	}
	get := func(name string) string {
		if v, ok := vars[name]; ok {
			return v
		}
		return os.Getenv(name)
	}
	fill := func(p *string, name string) {
		if *p == "" {
			*p = get(name)
		}
	}
	fill(&f.endpoint, "MINT_ENDPOINT")
	fill(&f.caFile, "MINT_CA_FILE")
	fill(&f.tenant, "AZURE_TENANT_ID")
	fill(&f.clientID, "AZURE_CLIENT_ID")
	fill(&f.secret, "AZURE_CLIENT_SECRET")
	fill(&f.certFile, "AZURE_CLIENT_CERTIFICATE_PATH")
	if f.tenant == "" || f.clientID == "" || f.secret == "" && f.certFile == "" {
		p, err := loadProfile()
		if err != nil {
			return err
		}
		if p != nil {
			f.fromProfile(p)
		}
	}
	if f.secret == "" && f.certFile != "" {
		f.secret = "-" // the certificate signs in; AZURE_CLIENT_SECRET is not missing
	}
	var missing []string
	for name, v := range map[string]string{"MINT_ENDPOINT": f.endpoint, "AZURE_TENANT_ID": f.tenant, "AZURE_CLIENT_ID": f.clientID, "AZURE_CLIENT_SECRET": f.secret} {
		if v == "" {
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		sort.Strings(missing)
		return fmt.Errorf("not signed in: %s unset. Start mint dev and use the environment it prints: 'export MINT_DATA_DIR=<its data dir>' "+
			"(or load it: . <data-dir>/env, or pass --env-file); or sign in to a server with mint login", strings.Join(missing, ", "))
	}
	f.endpoint = strings.TrimSuffix(f.endpoint, "/")
	return nil
}

// apiClient calls mint's HTTP APIs with a token from the real azidentity client.
type apiClient struct {
	base   string
	caFile string
	http   *http.Client
	cred   azcore.TokenCredential
}

func (f *clientFlags) client() (*apiClient, error) {
	if err := f.resolve(); err != nil {
		return nil, err
	}
	return f.connect()
}

// clientFor is a client signed in with a profile's settings (mint login, before it keeps them).
func (f *clientFlags) clientFor(p *profile) (*apiClient, error) {
	f.endpoint, f.caFile, f.tenant = p.Endpoint, p.CAFile, p.TenantID
	f.clientID, f.secret, f.certFile = p.Credential.ClientID, p.Credential.Secret, p.Credential.CertificateFile
	return f.connect()
}

// connect builds the HTTP client and the credential from resolved settings.
func (f *clientFlags) connect() (*apiClient, error) {
	httpClient, err := f.httpClient()
	if err != nil {
		return nil, err
	}
	cred, err := f.credential(httpClient)
	if err != nil {
		return nil, err
	}
	return &apiClient{base: f.endpoint, caFile: f.caFile, http: httpClient, cred: cred}, nil
}

// httpClient is the client of the server: system roots, plus the CA file when one is set.
func (f *clientFlags) httpClient() (*http.Client, error) {
	httpClient := &http.Client{Timeout: 60 * time.Second}
	if f.caFile != "" {
		pem, err := os.ReadFile(f.caFile)
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("the CA file %s (of the mint server at %s) does not exist: run mint init --data-dir <dir> on the server, which writes <dir>/ca.pem, and pass that file with --ca-file", f.caFile, f.endpoint)
		}
		if err != nil {
			return nil, fmt.Errorf("read CA file: %w", err)
		}
		pool, err := x509.SystemCertPool()
		if err != nil || pool == nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("%s holds no PEM certificate", f.caFile)
		}
		httpClient.Transport = &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, Proxy: http.ProxyFromEnvironment}
	}
	return httpClient, nil
}

// credential is the azidentity credential of the settings: a certificate when one is named,
// else the client secret.
func (f *clientFlags) credential(hc *http.Client) (azcore.TokenCredential, error) {
	if f.person != nil {
		return newPersonCredential(context.Background(), f.person, hc, true)
	}
	opts := azcore.ClientOptions{Cloud: cloud.Configuration{ActiveDirectoryAuthorityHost: f.endpoint + "/"}, Transport: hc}
	if f.certFile != "" {
		data, err := os.ReadFile(f.certFile)
		if err != nil {
			return nil, fmt.Errorf("the service principal's certificate: %w", err)
		}
		certs, key, err := azidentity.ParseCertificates(data, nil)
		if err != nil {
			return nil, fmt.Errorf("the service principal's certificate %s: %w", f.certFile, err)
		}
		return azidentity.NewClientCertificateCredential(f.tenant, f.clientID, certs, key,
			&azidentity.ClientCertificateCredentialOptions{ClientOptions: opts, DisableInstanceDiscovery: true})
	}
	return azidentity.NewClientSecretCredential(f.tenant, f.clientID, f.secret,
		&azidentity.ClientSecretCredentialOptions{ClientOptions: opts, DisableInstanceDiscovery: true})
}

// apiError is an error answer of one of mint's endpoints, with its message.
type apiError struct {
	Status  int
	Code    string
	Message string
}

func (e *apiError) Error() string {
	return fmt.Sprintf("%s (HTTP %d): %s", e.Code, e.Status, e.Message)
}

// do sends a JSON request with a token for scope and decodes a JSON answer into out.
func (c *apiClient) do(ctx context.Context, scope, method, path string, body, out any) error {
	tok, err := c.token(ctx, scope)
	if err != nil {
		return err
	}
	var rd io.Reader
	if body != nil {
		data, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+tok.Token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		if e := explainReach(c.base, c.caFile, err); e != nil {
			return e
		}
		return err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode >= 400 {
		var env struct {
			Error struct{ Code, Message string } `json:"error"`
		}
		if json.Unmarshal(data, &env) == nil && env.Error.Code != "" {
			return &apiError{Status: resp.StatusCode, Code: env.Error.Code, Message: env.Error.Message}
		}
		return &apiError{Status: resp.StatusCode, Code: http.StatusText(resp.StatusCode), Message: strings.TrimSpace(string(data))}
	}
	if out != nil && len(bytes.TrimSpace(data)) > 0 {
		return json.Unmarshal(data, out)
	}
	return nil
}

// token signs in for scope; when that fails because the server cannot be reached or trusted,
// the error says so and what to do.
func (c *apiClient) token(ctx context.Context, scope string) (azcore.AccessToken, error) {
	tok, err := c.cred.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{scope}})
	if err != nil {
		if e := probe(ctx, c.http, c.base, c.caFile); e != nil {
			return tok, e
		}
		return tok, fmt.Errorf("sign in to %s: %w", c.base, err)
	}
	return tok, nil
}

const graphScope = "https://graph.microsoft.com/.default"

// managementScope asks for a token for the management endpoint (Azure Resource Manager).
const managementScope = "https://management.azure.com//.default"
