package e2e

import (
	"strings"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
)

func TestMetricsExposeTokensCacheAndLatency(t *testing.T) {
	m := startMint(t, options{})
	getToken(t, m.adminCredential(t), "https://vault.azure.net/.default")
	bad := m.secretCredential(t, m.Env["AZURE_CLIENT_ID"], "wrong")
	if _, err := bad.GetToken(t.Context(), tokenOptions("https://vault.azure.net/.default")); err == nil {
		t.Fatal("wrong secret accepted")
	}
	sc := seedScenario(t, m)
	for i := 0; i < 2; i++ {
		if claims, stderr := m.runWorkload(t, m.Env["MINT_AGENT_SOCKET"], sc.appID); claims == nil {
			t.Fatal(stderr)
		}
	}
	status, body := m.get("/metrics")
	if status != 200 {
		t.Fatalf("/metrics answered %d", status)
	}
	text := string(body)
	for _, want := range []string{
		`mint_tokens_total{error_code="",grant="client_secret",result="success"}`,
		`mint_tokens_total{error_code="AADSTS7000215",grant="client_secret",result="failure"}`,
		`mint_tokens_total{error_code="",grant="managed_identity",result="success"}`,
		`mint_agent_token_requests_total{cache="hit",code="200",dialect="AppService"}`,
		`mint_agent_token_requests_total{cache="miss",code="200",dialect="AppService"}`,
		`mint_agent_upstream_duration_seconds_count{result="ok"}`,
		`mint_http_request_duration_seconds_bucket{code="2xx",family="sts",method="POST"`,
		`mint_http_request_duration_seconds_bucket{code="2xx",family="arm",method="PUT"`,
		`mint_store_operation_duration_seconds_count{operation="GetPrincipalByAppID",result="ok"}`,
		`mint_store_operation_duration_seconds_count{operation="PutResource",result="ok"}`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	for _, path := range []string{"/healthz", "/readyz"} {
		if status, _ := m.get(path); status != 200 {
			t.Errorf("%s answered %d", path, status)
		}
	}
}

func tokenOptions(scope string) policy.TokenRequestOptions {
	return policy.TokenRequestOptions{Scopes: []string{scope}}
}
