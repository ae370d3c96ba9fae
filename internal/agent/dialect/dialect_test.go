package dialect

import (
	"bufio"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func newReq(t testing.TB, method, target string, body string, headers ...string) *http.Request {
	t.Helper()
	var r *http.Request
	if body != "" {
		r = httptest.NewRequest(method, target, strings.NewReader(body))
	} else {
		r = httptest.NewRequest(method, target, nil)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		r.Header.Set(headers[i], headers[i+1])
	}
	return r
}

// readReq parses a raw request the way net/http's server does (absolute-form targets included).
func readReq(t testing.TB, raw string) *http.Request {
	t.Helper()
	r, err := http.ReadRequest(bufio.NewReader(strings.NewReader(raw)))
	if err != nil {
		t.Fatalf("ReadRequest: %v", err)
	}
	return r
}

const vault = "https%3A%2F%2Fvault.azure.net"

func TestParseIMDS(t *testing.T) {
	md := []string{"Metadata", "true"}
	tests := []struct {
		name    string
		target  string
		method  string
		headers []string
		want    Request
		status  int
		body    string // substring of the error body
	}{
		{name: "system assigned", target: "/metadata/identity/oauth2/token?api-version=2018-02-01&resource=" + vault, headers: md,
			want: Request{Kind: IMDS, APIVersion: "2018-02-01", Resource: "https://vault.azure.net"}},
		{name: "python unencoded", target: "/metadata/identity/oauth2/token?api-version=2018-02-01&resource=https://vault.azure.net", headers: md,
			want: Request{Kind: IMDS, APIVersion: "2018-02-01", Resource: "https://vault.azure.net"}},
		{name: "client_id", target: "/x?api-version=2018-02-01&client_id=CID&resource=r", headers: md,
			want: Request{Kind: IMDS, APIVersion: "2018-02-01", Resource: "r", Identity: Selector{ClientID: "CID"}}},
		{name: "object_id", target: "/x?api-version=2021-02-01&object_id=OID&resource=r", headers: md,
			want: Request{Kind: IMDS, APIVersion: "2021-02-01", Resource: "r", Identity: Selector{ObjectID: "OID"}}},
		{name: "msi_res_id", target: "/x?api-version=2018-02-01&msi_res_id=%2Fsubscriptions%2Fs%2Fu1&resource=r", headers: md,
			want: Request{Kind: IMDS, APIVersion: "2018-02-01", Resource: "r", Identity: Selector{ResourceID: "/subscriptions/s/u1"}}},
		{name: "mi_res_id accepted", target: "/x?api-version=2018-02-01&mi_res_id=%2Fu1&resource=r", headers: md,
			want: Request{Kind: IMDS, APIVersion: "2018-02-01", Resource: "r", Identity: Selector{ResourceID: "/u1"}}},
		{name: "unknown params ignored", target: "/x?api-version=2018-02-01&resource=r&bogus=1", headers: md,
			want: Request{Kind: IMDS, APIVersion: "2018-02-01", Resource: "r"}},
		{name: "probe", target: "/metadata/identity/oauth2/token", status: 400,
			body: `{"error":"invalid_request","error_description":"Required metadata header not specified"}`},
		{name: "metadata True", target: "/x?api-version=2018-02-01&resource=r", headers: []string{"Metadata", "True"}, status: 400, body: "Required metadata header"},
		{name: "metadata false", target: "/x?api-version=2018-02-01&resource=r", headers: []string{"Metadata", "false"}, status: 400, body: "Required metadata header"},
		{name: "post", method: "POST", target: "/x?api-version=2018-02-01&resource=r", headers: md, status: 405},
		{name: "x-forwarded-for", target: "/x?api-version=2018-02-01&resource=r", headers: []string{"Metadata", "true", "X-Forwarded-For", "10.0.0.1"}, status: 400, body: "X-Forwarded-For"},
		{name: "no api-version", target: "/x?resource=r", headers: md, status: 400,
			body: `{"error":"Bad request. api-version was not specified in the request. For more information refer to aka.ms/azureimds","newest-versions":["2024-03-15","2023-11-15","2023-07-01"]}`},
		{name: "old api-version", target: "/x?api-version=2017-12-01&resource=r", headers: md, status: 400, body: "api-version is invalid"},
		{name: "bogus api-version", target: "/x?api-version=yesterday&resource=r", headers: md, status: 400, body: "newest-versions"},
		{name: "duplicate known", target: "/x?api-version=2018-02-01&resource=r&resource=s", headers: md, status: 400, body: "more than once"},
		{name: "duplicate unknown", target: "/x?api-version=2018-02-01&resource=r&foo=1&foo=1", headers: md, status: 400, body: "'foo'"},
		{name: "no resource", target: "/x?api-version=2018-02-01", headers: md, status: 400, body: "Required audience parameter not specified"},
		{name: "two selectors", target: "/x?api-version=2018-02-01&resource=r&client_id=a&object_id=b", headers: md, status: 400, body: "Only one of"},
		{name: "bad escape", target: "/x?api-version=2018-02-01&resource=%zz", headers: md, status: 400, body: "encoded"},
		// Not UTF-8: the agent's 400, not the token service's refusal reported as a 403.
		{name: "resource not UTF-8", target: "/x?api-version=2018-02-01&resource=%ff", headers: md, status: 400, body: "'resource' is not valid UTF-8"},
		{name: "client_id not UTF-8", target: "/x?api-version=2018-02-01&resource=r&client_id=a%C3", headers: md, status: 400, body: "'client_id' is not valid UTF-8"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			method := tt.method
			if method == "" {
				method = "GET"
			}
			got, err := ParseIMDS(newReq(t, method, tt.target, "", tt.headers...))
			check(t, got, err, tt.want, tt.status, tt.body)
		})
	}
}

func check(t *testing.T, got Request, err *Error, want Request, status int, body string) {
	t.Helper()
	if status == 0 {
		if err != nil {
			t.Fatalf("unexpected error %v", err)
		}
		if got != want {
			t.Fatalf("got %+v, want %+v", got, want)
		}
		return
	}
	if err == nil {
		t.Fatalf("got %+v, want status %d", got, status)
	}
	if err.Status != status {
		t.Errorf("status %d, want %d (%v)", err.Status, status, err)
	}
	b := string(AppendError(nil, err, "cid"))
	if !json.Valid([]byte(b)) {
		t.Errorf("invalid JSON %s", b)
	}
	if !strings.Contains(b, body) {
		t.Errorf("body %s does not contain %s", b, body)
	}
}

func TestAbsoluteFormAndPaths(t *testing.T) {
	// What a Go client sends through HTTP_PROXY.
	r := readReq(t, "GET http://169.254.169.254/metadata/identity/oauth2/token?api-version=2018-02-01&resource="+vault+" HTTP/1.1\r\nHost: 169.254.169.254\r\nMetadata: true\r\n\r\n")
	if !MatchPath(r.URL.Path, IMDSPath) {
		t.Errorf("absolute form path %q", r.URL.Path)
	}
	if got, err := ParseIMDS(r); err != nil || got.Resource != "https://vault.azure.net" {
		t.Errorf("absolute form: %+v %v", got, err)
	}
	// JS canonical forms.
	for _, p := range []string{"/metadata/identity/oauth2/token", "/metadata/identity/oauth2/token/", "//metadata/identity/oauth2/token/", "///METADATA/identity/oauth2/token"} {
		r := readReq(t, "GET "+p+"?api-version=2018-02-01&resource=r HTTP/1.1\r\nHost: x\r\nMetadata: true\r\n\r\n")
		if !MatchPath(r.URL.Path, IMDSPath) {
			t.Errorf("path %q (parsed %q) not matched", p, r.URL.Path)
		}
	}
	for _, p := range []string{"/", "/metadata/identity/oauth2/tokens", "/metadata/instance", ""} {
		if MatchPath(p, IMDSPath) {
			t.Errorf("path %q matched", p)
		}
	}
}

func TestParseAppServiceAndML(t *testing.T) {
	tests := []struct {
		name    string
		target  string
		headers []string
		ml      bool
		want    Request
		status  int
		body    string
	}{
		{name: "system", target: "/msi/token?api-version=2019-08-01&resource=" + vault, headers: []string{"X-IDENTITY-HEADER", "s"},
			want: Request{Kind: AppService, APIVersion: "2019-08-01", Resource: "https://vault.azure.net", Secret: "s"}},
		{name: "client_id", target: "/msi/token?api-version=2019-08-01&client_id=c&resource=r", headers: []string{"X-IDENTITY-HEADER", "s"},
			want: Request{Kind: AppService, APIVersion: "2019-08-01", Resource: "r", Secret: "s", Identity: Selector{ClientID: "c"}}},
		{name: "principal_id", target: "/msi/token?api-version=2019-08-01&principal_id=o&resource=r", headers: []string{"X-IDENTITY-HEADER", "s"},
			want: Request{Kind: AppService, APIVersion: "2019-08-01", Resource: "r", Secret: "s", Identity: Selector{ObjectID: "o"}}},
		{name: "object_id", target: "/msi/token?api-version=2019-08-01&object_id=o&resource=r", headers: []string{"X-IDENTITY-HEADER", "s"},
			want: Request{Kind: AppService, APIVersion: "2019-08-01", Resource: "r", Secret: "s", Identity: Selector{ObjectID: "o"}}},
		{name: "mi_res_id", target: "/msi/token?api-version=2019-08-01&mi_res_id=%2Fid&resource=r", headers: []string{"X-IDENTITY-HEADER", "s"},
			want: Request{Kind: AppService, APIVersion: "2019-08-01", Resource: "r", Secret: "s", Identity: Selector{ResourceID: "/id"}}},
		{name: "same id two spellings", target: "/msi/token?api-version=2019-08-01&object_id=o&principal_id=O&resource=r", headers: []string{"X-IDENTITY-HEADER", "s"},
			want: Request{Kind: AppService, APIVersion: "2019-08-01", Resource: "r", Secret: "s", Identity: Selector{ObjectID: "o"}}},
		{name: "missing header", target: "/msi/token?api-version=2019-08-01&resource=r", status: 401, body: `"statusCode":401`},
		{name: "wrong version", target: "/msi/token?api-version=2017-09-01&resource=r", headers: []string{"X-IDENTITY-HEADER", "s"}, status: 400, body: "2019-08-01"},
		{name: "no resource", target: "/msi/token?api-version=2019-08-01", headers: []string{"X-IDENTITY-HEADER", "s"}, status: 400, body: `"correlationId":"cid"`},
		{name: "two selectors", target: "/msi/token?api-version=2019-08-01&resource=r&client_id=a&mi_res_id=b", headers: []string{"X-IDENTITY-HEADER", "s"}, status: 400, body: "Only one of"},
		{name: "conflicting spellings", target: "/msi/token?api-version=2019-08-01&resource=r&object_id=a&principal_id=b", headers: []string{"X-IDENTITY-HEADER", "s"}, status: 400},
		{name: "ml default", ml: true, target: "/msi/token?api-version=2017-09-01&clientid=&resource=r", headers: []string{"secret", "s"},
			want: Request{Kind: AzureML, APIVersion: "2017-09-01", Resource: "r", Secret: "s"}},
		{name: "ml clientid", ml: true, target: "/msi/token?api-version=2017-09-01&clientid=c&resource=r", headers: []string{"secret", "s", "Metadata", "true"},
			want: Request{Kind: AzureML, APIVersion: "2017-09-01", Resource: "r", Secret: "s", Identity: Selector{ClientID: "c"}}},
		{name: "ml wrong version", ml: true, target: "/msi/token?api-version=2019-08-01&resource=r", headers: []string{"secret", "s"}, status: 400, body: "2017-09-01"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newReq(t, "GET", tt.target, "", tt.headers...)
			if IsAzureML(r) != tt.ml {
				t.Fatalf("IsAzureML = %v", !tt.ml)
			}
			var got Request
			var err *Error
			if tt.ml {
				got, err = ParseAzureML(r)
			} else {
				got, err = ParseAppService(r)
			}
			check(t, got, err, tt.want, tt.status, tt.body)
		})
	}
	if _, err := ParseAppService(newReq(t, "POST", "/msi/token?api-version=2019-08-01&resource=r", "", "X-IDENTITY-HEADER", "s")); err == nil || err.Status != 405 {
		t.Errorf("POST: %v", err)
	}
}

func TestParseCloudShell(t *testing.T) {
	form := []string{"Metadata", "true", "Content-Type", "application/x-www-form-urlencoded"}
	tests := []struct {
		name    string
		method  string
		body    string
		headers []string
		want    Request
		status  int
		errBody string
	}{
		{name: "ok", body: "resource=" + vault, headers: form, want: Request{Kind: CloudShell, Resource: "https://vault.azure.net"}},
		{name: "python client_id", body: "resource=r&client_id=c", headers: form, want: Request{Kind: CloudShell, Resource: "r", Identity: Selector{ClientID: "c"}}},
		{name: "get", method: "GET", headers: form, status: 405},
		{name: "no metadata", body: "resource=r", headers: []string{"Content-Type", "application/x-www-form-urlencoded"}, status: 400, errBody: "Required metadata header not specified"},
		{name: "json body", body: `{"resource":"r"}`, headers: []string{"Metadata", "true", "Content-Type", "application/json"}, status: 400},
		{name: "no resource", body: "foo=bar", headers: form, status: 400, errBody: "audience"},
		{name: "huge", body: "resource=" + strings.Repeat("a", MaxBodyBytes), headers: form, status: 400, errBody: "too large"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			method := tt.method
			if method == "" {
				method = "POST"
			}
			got, err := ParseCloudShell(newReq(t, method, "/oauth2/token", tt.body, tt.headers...))
			check(t, got, err, tt.want, tt.status, tt.errBody)
		})
	}
}

func TestParseArc(t *testing.T) {
	md := "Metadata"
	tests := []struct {
		name    string
		target  string
		headers []string
		want    Request
		status  int
	}{
		{name: "challenge", target: "/arc/token?api-version=2020-06-01&resource=r", headers: []string{md, "true"},
			want: Request{Kind: Arc, APIVersion: "2020-06-01", Resource: "r"}},
		{name: "python version", target: "/arc/token?api-version=2019-11-01&resource=r", headers: []string{md, "true"},
			want: Request{Kind: Arc, APIVersion: "2019-11-01", Resource: "r"}},
		{name: "key", target: "/arc/token?api-version=2020-06-01&msi_res_id=%2Fu&resource=r", headers: []string{md, "true", "Authorization", "Basic abc="},
			want: Request{Kind: Arc, APIVersion: "2020-06-01", Resource: "r", Secret: "abc=", Identity: Selector{ResourceID: "/u"}}},
		{name: "bearer", target: "/arc/token?api-version=2020-06-01&resource=r", headers: []string{md, "true", "Authorization", "Bearer x"}, status: 401},
		{name: "no metadata", target: "/arc/token?api-version=2020-06-01&resource=r", status: 400},
		{name: "imds version", target: "/arc/token?api-version=2018-02-01&resource=r", headers: []string{md, "true"}, status: 400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseArc(newReq(t, "GET", tt.target, "", tt.headers...))
			check(t, got, err, tt.want, tt.status, "")
		})
	}
}

func TestParseServiceFabric(t *testing.T) {
	got, err := ParseServiceFabric(newReq(t, "GET", "/sf?api-version=2019-07-01-preview&resource="+vault, "", "Secret", "s", "Accept", "application/json"))
	check(t, got, err, Request{Kind: ServiceFabric, APIVersion: "2019-07-01-preview", Resource: "https://vault.azure.net", Secret: "s"}, 0, "")
	_, err = ParseServiceFabric(newReq(t, "GET", "/sf?api-version=2019-07-01-preview&resource=r", ""))
	check(t, Request{}, err, Request{}, 401, `{"error":{"correlationId":"cid","code":"SecretHeaderNotFound","message":"Secret is not found in the request headers."}}`)
	_, err = ParseServiceFabric(newReq(t, "GET", "/sf?api-version=2019-08-01&resource=r", "", "Secret", "s"))
	check(t, Request{}, err, Request{}, 400, `"code":"InvalidApiVersion"`)
	_, err = ParseServiceFabric(newReq(t, "GET", "/sf?api-version=2019-07-01-preview", "", "Secret", "s"))
	check(t, Request{}, err, Request{}, 400, `"code":"ArgumentNullOrEmpty"`)
}

func TestErrorShapes(t *testing.T) {
	tests := []struct {
		err  *Error
		want string
	}{
		{IdentityNotFound(IMDS, "identity x is not attached"), `{"error":"invalid_request","error_description":"Identity not found"}`},
		{MultipleIdentities(IMDS, ""), `{"error":"invalid_request","error_description":"Multiple user assigned identities exist, please specify the clientId / resourceId of the identity in the token request"}`},
		{IdentityNotFound(AppService, "identity x is not attached"), `{"statusCode":400,"message":"Unable to load the proper Managed Identity. identity x is not attached","correlationId":"cid"}`},
		{IdentityNotFound(ServiceFabric, ""), `{"error":{"correlationId":"cid","code":"ManagedIdentityNotFound","message":"Managed identity not found for the specified application host."}}`},
		{InvalidResource(IMDS, "https://nope", ""), `{"error":"invalid_resource","error_description":"AADSTS500011: The resource principal named https://nope was not found in the tenant.`},
		{Throttled(AppService, 3, ""), `{"statusCode":429,"message":"Too many requests.","correlationId":"cid"}`},
	}
	for _, tt := range tests {
		got := string(AppendError(nil, tt.err, "cid"))
		if !strings.HasPrefix(got, tt.want) {
			t.Errorf("got  %s\nwant %s", got, tt.want)
		}
		if tt.err.Status == 404 || tt.err.Status == 410 {
			t.Errorf("status %d", tt.err.Status)
		}
	}
	if e := Forbidden(IMDS, "node unreachable"); strings.Contains(string(AppendError(nil, e, "")), "unreachable") {
		t.Error("a 403 IMDS body must not contain 'unreachable'")
	}
	w := httptest.NewRecorder()
	WriteError(w, Throttled(IMDS, 2, ""))
	if w.Code != 429 || w.Header().Get("Retry-After") != "2" {
		t.Errorf("throttled: %d %v", w.Code, w.Header())
	}
}

func TestAppendToken(t *testing.T) {
	b := TokenBody{AccessToken: "eyJ.x.y", ClientID: "cid", Resource: "https://vault.azure.net", ExpiresOn: 1795390000, NotBefore: 1795303300, Now: 1795303601}
	got := string(AppendToken(nil, &b))
	want := `{"access_token":"eyJ.x.y","client_id":"cid","expires_in":"86399","expires_on":"1795390000","ext_expires_in":"86399","not_before":"1795303300","resource":"https://vault.azure.net","token_type":"Bearer"}`
	if got != want {
		t.Errorf("IMDS body\n got %s\nwant %s", got, want)
	}
	// Each endpoint's own field set; no "refresh_in" anywhere (MSAL for Python adds it to now as a
	// number, so a string crashes azure-identity).
	for _, tt := range []struct {
		kind Kind
		want string
	}{
		{AppService, `{"access_token":"eyJ.x.y","client_id":"cid","expires_on":"1795390000","not_before":"1795303300","resource":"https://vault.azure.net","token_type":"Bearer"}`},
		{AzureML, `{"access_token":"eyJ.x.y","expires_on":"1795390000","resource":"https://vault.azure.net","token_type":"Bearer"}`},
		{ServiceFabric, `{"access_token":"eyJ.x.y","expires_on":1795390000,"resource":"https://vault.azure.net","token_type":"Bearer"}`},
		{CloudShell, want},
		{Arc, want},
		{IMDS, want},
	} {
		b.Fields = tt.kind.Fields()
		if got := string(AppendToken(nil, &b)); got != tt.want {
			t.Errorf("%v body\n got %s\nwant %s", tt.kind, got, tt.want)
		}
	}
	b.Fields, b.EchoName, b.EchoValue = FieldsIMDS, "msi_res_id", "/u\"1"
	var m map[string]any
	if err := json.Unmarshal(AppendToken(nil, &b), &m); err != nil {
		t.Fatal(err)
	}
	if m["msi_res_id"] != `/u"1` || m["token_type"] != "Bearer" {
		t.Errorf("%v", m)
	}
	// Escaping: control characters, quotes, invalid UTF-8.
	b = TokenBody{Resource: "a\"\\\n\x01<\xff\u2028"}
	if err := json.Unmarshal(AppendToken(nil, &b), &m); err != nil {
		t.Fatal(err)
	}
	if m["resource"] != "a\"\\\n\x01<\ufffd\u2028" {
		t.Errorf("resource %q", m["resource"])
	}
}

func TestCorrelationID(t *testing.T) {
	id := NewCorrelationID()
	if len(id) != 36 || id[14] != '4' || id == NewCorrelationID() {
		t.Errorf("id %s", id)
	}
}
