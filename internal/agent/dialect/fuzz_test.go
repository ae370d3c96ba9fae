package dialect

import (
	"bufio"
	"bytes"
	"encoding/json"
	"net/http"
	"testing"
	"unicode/utf8"
)

// fuzzParser feeds raw HTTP/1.1 requests (as the server would read them) to parse: it must not
// panic, every refusal must be a 4xx (never 404/410) whose body is valid JSON, and an accepted
// request must carry a resource.
func fuzzParser(f *testing.F, parse func(*http.Request) (Request, *Error), seeds ...string) {
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		r, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(raw)))
		if err != nil {
			return
		}
		req, perr := parse(r)
		if perr != nil {
			if perr.Status < 400 || perr.Status > 499 || perr.Status == 404 || perr.Status == 410 {
				t.Fatalf("status %d for %q", perr.Status, raw)
			}
			if body := AppendError(nil, perr, "cid"); !json.Valid(body) {
				t.Fatalf("invalid JSON %s", body)
			}
			return
		}
		if req.Resource == "" {
			t.Fatalf("accepted without resource: %q", raw)
		}
		for _, v := range []string{req.Resource, req.Identity.ClientID, req.Identity.ObjectID, req.Identity.ResourceID, req.APIVersion} {
			if !utf8.ValidString(v) { // the token service would refuse it
				t.Fatalf("accepted %q, which is not UTF-8", v)
			}
		}
		body := AppendToken(nil, &TokenBody{AccessToken: "t", Resource: req.Resource, ClientID: req.Identity.ClientID, EchoName: "object_id", EchoValue: req.Identity.ObjectID})
		if !json.Valid(body) {
			t.Fatalf("invalid token JSON %s", body)
		}
	})
}

func FuzzParseIMDS(f *testing.F) {
	fuzzParser(f, ParseIMDS,
		"GET /metadata/identity/oauth2/token?api-version=2018-02-01&resource=https%3A%2F%2Fvault.azure.net HTTP/1.1\r\nHost: x\r\nMetadata: true\r\n\r\n",
		"GET http://169.254.169.254/metadata/identity/oauth2/token?api-version=2018-02-01&client_id=c&resource=r HTTP/1.1\r\nHost: 169.254.169.254\r\nMetadata: true\r\n\r\n",
		"GET /metadata/identity/oauth2/token HTTP/1.1\r\nHost: x\r\n\r\n",
		"GET //metadata/identity/oauth2/token/?api-version=2018-02-01&resource=r&resource=r HTTP/1.1\r\nHost: x\r\nMetadata: true\r\n\r\n",
	)
}

func FuzzParseAppService(f *testing.F) {
	fuzzParser(f, ParseAppService,
		"GET /msi/token?api-version=2019-08-01&resource=https%3A%2F%2Fvault.azure.net HTTP/1.1\r\nHost: x\r\nX-Identity-Header: s\r\n\r\n",
		"GET /msi/token?api-version=2019-08-01&principal_id=p&mi_res_id=m&resource=r HTTP/1.1\r\nHost: x\r\nX-Identity-Header: s\r\n\r\n",
	)
}

func FuzzParseAzureML(f *testing.F) {
	fuzzParser(f, ParseAzureML,
		"GET /msi/token?api-version=2017-09-01&clientid=&resource=r HTTP/1.1\r\nHost: x\r\nSecret: s\r\n\r\n",
		"GET /msi/token?api-version=2017-09-01&clientid=c&client_id=d&resource=r HTTP/1.1\r\nHost: x\r\nSecret: s\r\n\r\n",
	)
}

func FuzzParseCloudShell(f *testing.F) {
	fuzzParser(f, ParseCloudShell,
		"POST /oauth2/token HTTP/1.1\r\nHost: x\r\nMetadata: true\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 38\r\n\r\nresource=https%3A%2F%2Fvault.azure.net",
		"POST /oauth2/token HTTP/1.1\r\nHost: x\r\nMetadata: true\r\nContent-Length: 3\r\n\r\n%zz",
	)
}

func FuzzParseArc(f *testing.F) {
	fuzzParser(f, ParseArc,
		"GET /arc/token?api-version=2020-06-01&resource=r HTTP/1.1\r\nHost: x\r\nMetadata: true\r\n\r\n",
		"GET /arc/token?api-version=2020-06-01&resource=r HTTP/1.1\r\nHost: x\r\nMetadata: true\r\nAuthorization: Basic abc\r\n\r\n",
	)
}

func FuzzParseServiceFabric(f *testing.F) {
	fuzzParser(f, ParseServiceFabric,
		"GET /sf?api-version=2019-07-01-preview&resource=r HTTP/1.1\r\nHost: x\r\nSecret: s\r\n\r\n",
	)
}
