package e2e

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/resources/armresources"
	"github.com/jackc/pgx/v5"
)

// countRequests counts the requests an SDK client sends (its retries included).
type countRequests struct{ n atomic.Int32 }

func (c *countRequests) Do(req *policy.Request) (*http.Response, error) {
	c.n.Add(1)
	return req.Next()
}

// setDatabaseServing lets the database named in dbURL accept connections or refuses them and
// ends the ones open: a PostgreSQL outage as mint sees it, the server process staying up.
func setDatabaseServing(dbURL string, serving bool) error {
	ctx := context.Background()
	u, _ := url.Parse(dbURL)
	name := strings.TrimPrefix(u.Path, "/")
	conn, err := pgx.Connect(ctx, os.Getenv("MINT_TEST_POSTGRES_URL"))
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	if serving {
		_, err = conn.Exec(ctx, `ALTER DATABASE `+name+` ALLOW_CONNECTIONS true`)
	} else if _, err = conn.Exec(ctx, `ALTER DATABASE `+name+` ALLOW_CONNECTIONS false`); err == nil {
		_, err = conn.Exec(ctx, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1`, name)
	}
	return err
}

// While mint's PostgreSQL refuses connections, the management endpoint, Graph and the STS
// answer 503 with Retry-After in their own error shapes (before: 500, and a 401 "tenant does
// not exist" on ARM); the Go SDK retries such a 503 and its write succeeds once the database is
// back.
func TestStoreOutageAnswers503(t *testing.T) {
	if os.Getenv("MINT_TEST_POSTGRES_URL") == "" {
		if postgresRequired() {
			t.Fatal("MINT_TEST_POSTGRES_URL is not set")
		}
		t.Skip("needs PostgreSQL: run through ./test.sh or scripts/with-postgres.sh")
	}
	dbURL := freshDatabase(t)
	m := startMint(t, options{mode: "server", store: dbURL, extra: []string{"--print-admin-secret"}})
	cred := m.adminCredential(t)
	armToken := getToken(t, cred, managementScopeE2E).Token
	graphToken := getToken(t, cred, graphScopeE2E).Token
	sub := m.Env["AZURE_SUBSCRIPTION_ID"]
	groups, err := armresources.NewResourceGroupsClient(sub, cred, m.rmOptions())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := groups.CreateOrUpdate(rmCtx(t), "before", armresources.ResourceGroup{Location: to.Ptr("eastus")}, nil); err != nil {
		t.Fatal(err)
	}

	if err := setDatabaseServing(dbURL, false); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { setDatabaseServing(dbURL, true) })
	send := func(method, path, token string, form url.Values) (*http.Response, map[string]any) {
		t.Helper()
		var body io.Reader
		if form != nil {
			body = strings.NewReader(form.Encode())
		}
		req, _ := http.NewRequest(method, m.URL+path, body)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		if form != nil {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		resp, err := httpClient().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		data, _ := io.ReadAll(resp.Body)
		var out map[string]any
		if err := json.Unmarshal(data, &out); err != nil {
			t.Errorf("%s %s: %d, body is not JSON: %s", method, path, resp.StatusCode, data)
		}
		return resp, out
	}
	check := func(api string, resp *http.Response, code string) {
		t.Helper()
		if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" || code == "" {
			t.Errorf("%s during the outage: %d, Retry-After %q, code %q; want 503 with Retry-After and the API's error code",
				api, resp.StatusCode, resp.Header.Get("Retry-After"), code)
		}
	}
	errorCode := func(out map[string]any) string {
		e, _ := out["error"].(map[string]any)
		c, _ := e["code"].(string)
		return c
	}

	resp, out := send("GET", "/subscriptions/"+sub+"/resourcegroups/before?api-version=2021-04-01", armToken, nil)
	check("ARM GET", resp, errorCode(out))
	if errorCode(out) != "ServiceUnavailable" {
		t.Errorf("ARM error %v", out)
	}
	resp, out = send("GET", "/v1.0/applications", graphToken, nil)
	check("Graph GET", resp, errorCode(out))
	if errorCode(out) != "serviceNotAvailable" {
		t.Errorf("Graph error %v", out)
	}
	resp, out = send("POST", "/"+m.Env["AZURE_TENANT_ID"]+"/oauth2/v2.0/token", "", url.Values{
		"grant_type": {"client_credentials"}, "client_id": {m.Env["AZURE_CLIENT_ID"]},
		"client_secret": {m.Env["AZURE_CLIENT_SECRET"]}, "scope": {"https://vault.azure.net/.default"}})
	stsCode, _ := out["error"].(string)
	check("STS token", resp, stsCode)
	if codes, _ := out["error_codes"].([]any); stsCode != "temporarily_unavailable" || len(codes) != 1 || codes[0] != float64(90033) {
		t.Errorf("STS error %v", out)
	}

	// The SDK retries the 503 after Retry-After; the database comes back meanwhile.
	back := make(chan error, 1)
	go func() {
		time.Sleep(2 * time.Second)
		back <- setDatabaseServing(dbURL, true)
	}()
	var sent countRequests
	opts := m.rmOptions()
	opts.PerRetryPolicies = append(opts.PerRetryPolicies, &sent)
	retrying, err := armresources.NewResourceGroupsClient(sub, cred, opts)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if _, err := retrying.CreateOrUpdate(rmCtx(t), "during", armresources.ResourceGroup{Location: to.Ptr("eastus")}, nil); err != nil {
		t.Fatalf("create a group across the outage: %v", err)
	}
	if err := <-back; err != nil {
		t.Fatal(err)
	}
	if sent.n.Load() < 2 {
		t.Errorf("the SDK sent %d requests; want a 503 first, then a retry", sent.n.Load())
	}
	t.Logf("the group was created after %d requests in %v", sent.n.Load(), time.Since(start).Round(100*time.Millisecond))
	if _, err := groups.Get(rmCtx(t), "during", nil); err != nil {
		t.Errorf("the group created across the outage: %v", err)
	}
}
