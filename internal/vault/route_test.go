package vault

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
)

func TestParseRoute(t *testing.T) {
	const v = "0123456789abcdef0123456789ABCDEF"
	cases := []struct {
		method, path string
		want         route
		status       int // 0: ok
		code         string
	}{
		{"PUT", "/secrets/my-secret", route{op: opSet, name: "my-secret"}, 0, ""},
		{"GET", "/secrets/my-secret/", route{op: opGet, name: "my-secret"}, 0, ""},
		{"GET", "/secrets/my-secret", route{op: opGet, name: "my-secret"}, 0, ""},
		{"GET", "/secrets/my-secret/" + v, route{op: opGet, name: "my-secret", version: strings.ToLower(v)}, 0, ""},
		{"PATCH", "/secrets/my-secret/", route{op: opUpdate, name: "my-secret"}, 0, ""},
		{"PATCH", "/secrets/my-secret/" + v, route{op: opUpdate, name: "my-secret", version: strings.ToLower(v)}, 0, ""},
		{"DELETE", "/secrets/my-secret", route{op: opDelete, name: "my-secret"}, 0, ""},
		{"GET", "/secrets", route{op: opList}, 0, ""},
		{"GET", "/secrets/", route{op: opList}, 0, ""},
		{"GET", "//secrets", route{op: opList}, 0, ""},
		{"GET", "/secrets/my-secret/versions", route{op: opListVersions, name: "my-secret"}, 0, ""},
		{"POST", "/secrets/my-secret/backup", route{op: opBackup, name: "my-secret"}, 0, ""},
		{"POST", "/secrets/restore", route{op: opRestore}, 0, ""},
		{"PUT", "/secrets/restore", route{op: opSet, name: "restore"}, 0, ""},
		{"GET", "/deletedsecrets", route{op: opListDeleted}, 0, ""},
		{"GET", "/deletedsecrets/my-secret", route{op: opGetDeleted, name: "my-secret"}, 0, ""},
		{"DELETE", "/deletedsecrets/my-secret", route{op: opPurge, name: "my-secret"}, 0, ""},
		{"POST", "/deletedsecrets/my-secret/recover", route{op: opRecover, name: "my-secret"}, 0, ""},
		{"GET", "/Secrets/My-Secret", route{op: opGet, name: "My-Secret"}, 0, ""},
		{"PUT", "/secrets/" + strings.Repeat("a", 127), route{op: opSet, name: strings.Repeat("a", 127)}, 0, ""},

		{"PUT", "/secrets/my_secret", route{}, 400, CodeBadParameter},
		{"PUT", "/secrets/" + strings.Repeat("a", 128), route{}, 400, CodeBadParameter},
		{"GET", "/secrets/s/not-a-version", route{}, 400, CodeBadParameter},
		{"GET", "/secrets/s/" + v[:31], route{}, 400, CodeBadParameter},
		{"GET", "/secrets//x", route{}, 400, CodeBadParameter},
		{"GET", "/secrets/a b", route{}, 400, CodeBadParameter},
		{"GET", "/", route{}, 404, CodeNotFound},
		{"GET", "/keys/k", route{}, 404, CodeNotFound},
		{"GET", "/secrets/s/" + v + "/x", route{}, 404, CodeNotFound},
		{"GET", "/deletedsecrets/s/x", route{}, 404, CodeNotFound},
		{"POST", "/secrets", route{}, 405, CodeMethodNotAllowed},
		{"POST", "/secrets/s", route{}, 405, CodeMethodNotAllowed},
		{"PUT", "/secrets/s/" + v, route{}, 405, CodeMethodNotAllowed},
		{"GET", "/secrets/s/backup", route{}, 405, CodeMethodNotAllowed},
		{"POST", "/secrets/s/versions", route{}, 405, CodeMethodNotAllowed},
		{"PUT", "/deletedsecrets/s", route{}, 405, CodeMethodNotAllowed},
		{"GET", "/deletedsecrets/s/recover", route{}, 405, CodeMethodNotAllowed},
	}
	for _, tc := range cases {
		got, e := parseRoute(tc.method, tc.path)
		switch {
		case tc.status == 0 && e != nil:
			t.Errorf("%s %s: %v", tc.method, tc.path, e)
		case tc.status == 0 && got != tc.want:
			t.Errorf("%s %s: got %+v, want %+v", tc.method, tc.path, got, tc.want)
		case tc.status != 0 && (e == nil || e.Status != tc.status || e.Code != tc.code):
			t.Errorf("%s %s: got %+v, want %d %s", tc.method, tc.path, e, tc.status, tc.code)
		}
	}
	if _, e := parseRoute("PUT", "/secrets/my_secret"); e.Message != "The request URI contains an invalid name: my_secret" {
		t.Errorf("invalid name message: %q", e.Message)
	}
}

func TestCheckAPIVersion(t *testing.T) {
	for v, ok := range map[string]bool{
		"7.4": true, "7.5": true, "7.6": true, "2025-07-01": true, "2026-04-01": true, "2026-10-01-preview": true,
		"7.0": true, "": false, "6.0": false, "2016-10-01": false, "2026-13-01": false, "latest": false, "2026-04-01x": false,
	} {
		_, e := checkAPIVersion(url.Values{"api-version": {v}})
		if (e == nil) != ok {
			t.Errorf("api-version %q: error %v, want ok=%v", v, e, ok)
		}
		if e != nil && v != "" && e.Message != "The specified version ("+v+") is not recognized. Consider using the latest supported version (2026-04-01)." {
			t.Errorf("api-version %q: message %q", v, e.Message)
		}
	}
	// JS percent-encodes the parameter name; the query parser decodes it.
	q, _ := url.ParseQuery("api%2Dversion=2026-04-01")
	if v, e := checkAPIVersion(q); e != nil || v != "2026-04-01" {
		t.Errorf("api%%2Dversion: %q %v", v, e)
	}
}

func TestPageParamsAndSkipTokens(t *testing.T) {
	for _, tc := range []struct {
		q    string
		size int
		bad  bool
	}{
		{"", 25, false}, {"maxresults=1", 1, false}, {"maxresults=25", 25, false},
		{"maxresults=0", 0, true}, {"maxresults=26", 0, true}, {"maxresults=x", 0, true},
	} {
		q, _ := url.ParseQuery(tc.q)
		size, _, e := pageParams(q)
		if (e != nil) != tc.bad || (!tc.bad && size != tc.size) {
			t.Errorf("%q: size %d, error %v", tc.q, size, e)
		}
	}
	tok := encodeSkipToken('n', "my-secret")
	if got, e := decodeSkipToken('n', tok); e != nil || got != "my-secret" {
		t.Errorf("name token round trip: %q %v", got, e)
	}
	if _, e := decodeSkipToken('s', tok); e == nil {
		t.Error("a name token decoded as a seq token")
	}
	if _, e := decodeNameToken(encodeSkipToken('n', "My-Secret")); e == nil || e.Code != CodeBadParameter {
		t.Errorf("a name token with capitals (names are written lower-cased): %v", e)
	}
	if n, e := decodeSeqToken(encodeSkipToken('s', "42")); e != nil || n != 42 {
		t.Errorf("seq token: %d %v", n, e)
	}
	// One spelling per token: not CR or LF in it (the decoder skips them), other trailing bits,
	// padding, or the seq written another way.
	seq := encodeSkipToken('s', "42")
	for _, bad := range []string{"", "x", "a.b", "!!.!!", encodeSkipToken('s', "-1"), encodeSkipToken('s', "x"),
		seq[:2] + "\n" + seq[2:], seq + "=", "czo.NDJ", encodeSkipToken('s', "042"), encodeSkipToken('s', "+42")} {
		if _, e := decodeSeqToken(bad); e == nil || e.Code != CodeBadParameter {
			t.Errorf("seq token %q: %v", bad, e)
		}
	}
}

func TestNextLinkIsAbsoluteWithAPIVersion(t *testing.T) {
	q := url.Values{"maxresults": {"2"}}
	link := nextLink("kv1.vault.localhost:8443", "/secrets", "7.4", "tok", q)
	u, err := url.Parse(link)
	if err != nil || u.Scheme != "https" || u.Host != "kv1.vault.localhost:8443" || u.Path != "/secrets" {
		t.Fatalf("next link %q", link)
	}
	got := u.Query()
	if got.Get("api-version") != "7.4" || got.Get("$skiptoken") != "tok" || got.Get("maxresults") != "2" {
		t.Errorf("next link query %v", got)
	}
}

func TestMatchHost(t *testing.T) {
	s := &Server{suffixes: NormalizeSuffixes([]string{"vault.localhost", "Vault.Azure.Net.", ""})}
	for host, want := range map[string]string{
		"kv1.vault.localhost:8443":  "kv1",
		"KV1.vault.localhost":       "kv1",
		"kv1.vault.azure.net":       "kv1",
		"kv1.vault.azure.net.:443":  "kv1",
		"vault.localhost:8443":      "",
		"a.b.vault.localhost":       "",
		"kv1.vaultxlocalhost":       "",
		"kv1.othervault.localhost":  "",
		"127.0.0.1:8443":            "",
		"localhost":                 "",
		"kv1.vault.localhost.evil":  "",
		".vault.localhost":          "",
		"kv1.vault.localhost:":      "kv1",
		"[::1]:8443":                "",
		"kv-1.vault.localhost:1234": "kv-1",
	} {
		name, _, ok := s.Match(host)
		if (want != "") != ok || name != want {
			t.Errorf("Match(%q) = %q, %v; want %q", host, name, ok, want)
		}
	}
}

func TestChallengeResourceAndAudiences(t *testing.T) {
	for _, tc := range []struct{ suffix, host, want string }{
		{"vault.localhost", "kv1.vault.localhost:8443", "https://vault.localhost:8443"},
		{"vault.azure.net", "kv1.vault.azure.net", "https://vault.azure.net"},
		{"vault.azure.net", "kv1.vault.azure.net:443", "https://vault.azure.net:443"},
	} {
		if got := ChallengeResource(tc.suffix, tc.host); got != tc.want {
			t.Errorf("ChallengeResource(%q, %q) = %q, want %q", tc.suffix, tc.host, got, tc.want)
		}
		// The Go client accepts the challenge when the vault host ends with "." + resource host.
		u, _ := url.Parse(tc.want)
		if !strings.HasSuffix(tc.host, "."+u.Host) {
			t.Errorf("the Go client would refuse resource %q for host %q", tc.want, tc.host)
		}
	}
	auds := Audiences([]string{"vault.localhost"}, "8443")
	for _, want := range []string{"https://vault.azure.net", "https://vault.localhost", "https://vault.localhost:8443", "cfa8b339-82a2-471a-a3c9-0fc0be7a4093"} {
		found := false
		for _, a := range auds {
			found = found || a == want
		}
		if !found {
			t.Errorf("audiences %v lack %s", auds, want)
		}
	}
	if got := URI("KV1", "vault.localhost", "8443"); got != "https://kv1.vault.localhost:8443/" {
		t.Errorf("URI = %q", got)
	}
	if got := URI("kv1", "vault.azure.net", "443"); got != "https://kv1.vault.azure.net/" {
		t.Errorf("URI = %q", got)
	}
}

func TestRecoveryLevel(t *testing.T) {
	for _, tc := range []struct {
		soft    bool
		days    int
		protect bool
		want    string
	}{
		{true, 90, false, "Recoverable+Purgeable"},
		{true, 90, true, "Recoverable"},
		{true, 7, false, "CustomizedRecoverable+Purgeable"},
		{true, 30, true, "CustomizedRecoverable"},
		{false, 90, false, "Purgeable"},
	} {
		v := &vaultEntry{softDelete: tc.soft, retentionDays: tc.days, purgeProtection: tc.protect}
		if got := v.recoveryLevel(); got != tc.want {
			t.Errorf("%+v: %s, want %s", tc, got, tc.want)
		}
	}
}

func TestValidVaultName(t *testing.T) {
	for name, ok := range map[string]bool{"kv1": true, "a-b-c": true, "ab": false, "1kv": false, "kv-": false, "k--v": false,
		strings.Repeat("a", 24): true, strings.Repeat("a", 25): false, "kv_1": false} {
		if validVaultName(name) != ok {
			t.Errorf("validVaultName(%q) = %v", name, !ok)
		}
	}
}

// FuzzRouter drives the request router, the host matcher and the query parsing with arbitrary
// input: never a panic, and every answer either a route naming a valid secret or a Key Vault
// error with a 4xx status.
func FuzzRouter(f *testing.F) {
	for _, seed := range []struct{ method, path, host, query string }{
		{"GET", "/secrets/x/", "kv1.vault.localhost:8443", "api-version=7.4"},
		{"PUT", "/secrets/my-secret", "kv1.vault.azure.net", "api%2Dversion=2026-04-01"},
		{"POST", "/secrets/restore", "a.vault.localhost", "maxresults=25&$skiptoken=abc"},
		{"GET", "/secrets/x/0123456789abcdef0123456789abcdef", "x", ""},
		{"POST", "/deletedsecrets/x/recover", "kv1.vault.localhost.", "%zz"},
		{"DELETE", "//deletedsecrets//", "[::1]:1", "api-version="},
	} {
		f.Add(seed.method, seed.path, seed.host, seed.query)
	}
	s := &Server{suffixes: NormalizeSuffixes([]string{"vault.localhost", "vault.azure.net"})}
	f.Fuzz(func(t *testing.T, method, path, host, query string) {
		r, e := parseRoute(method, path)
		if e != nil {
			if e.Status < 400 || e.Status > 499 || e.Code == "" || e.Message == "" {
				t.Fatalf("%s %q: bad error %+v", method, path, e)
			}
		} else {
			if r.op == 0 {
				t.Fatalf("%s %q: no operation", method, path)
			}
			if r.op != opList && r.op != opListDeleted && r.op != opRestore && !validName(r.name) {
				t.Fatalf("%s %q: invalid name %q routed", method, path, r.name)
			}
			if r.version != "" && (!validVersion(r.version) || r.version != strings.ToLower(r.version)) {
				t.Fatalf("%s %q: invalid version %q routed", method, path, r.version)
			}
			if method != http.MethodGet && method != http.MethodPut && method != http.MethodPatch && method != http.MethodDelete && method != http.MethodPost {
				t.Fatalf("method %q routed", method)
			}
		}
		if name, sfx, ok := s.Match(host); ok && (name == "" || strings.Contains(name, ".") || sfx == "") {
			t.Fatalf("Match(%q) = %q %q", host, name, sfx)
		}
		q, _ := url.ParseQuery(query)
		if _, e := checkAPIVersion(q); e != nil && e.Status != 400 {
			t.Fatalf("api-version error %+v", e)
		}
		if size, tok, e := pageParams(q); e == nil {
			if size < 1 || size > maxPageSize {
				t.Fatalf("page size %d", size)
			}
			decodeSkipToken('n', tok)
			decodeSeqToken(tok)
		}
	})
}

// FuzzSkipTokens: a skip token is what this vault writes or a BadParameter; what is read
// writes back to the same token.
func FuzzSkipTokens(f *testing.F) {
	f.Add(encodeSkipToken('n', "my-secret"), "a", int64(3))
	f.Add("czo.NDI", "", int64(-1))
	f.Add("bjo.bXk", "A", int64(0))
	f.Fuzz(func(t *testing.T, tok, name string, seq int64) {
		if v, e := decodeNameToken(tok); e == nil && encodeSkipToken('n', v) != tok {
			t.Fatalf("name token %q read as %q", tok, v)
		} else if e != nil && e.Code != CodeBadParameter {
			t.Fatalf("name token %q: %+v", tok, e)
		}
		if n, e := decodeSeqToken(tok); e == nil && encodeSkipToken('s', strconv.FormatInt(n, 10)) != tok {
			t.Fatalf("seq token %q read as %d", tok, n)
		} else if e != nil && e.Code != CodeBadParameter {
			t.Fatalf("seq token %q: %+v", tok, e)
		}
		if k := strings.ToLower(name); k != "" {
			if v, e := decodeNameToken(encodeSkipToken('n', k)); e != nil || v != k {
				t.Fatalf("name %q came back as %q %v", k, v, e)
			}
		}
		if seq >= 0 {
			if n, e := decodeSeqToken(encodeSkipToken('s', strconv.FormatInt(seq, 10))); e != nil || n != seq {
				t.Fatalf("seq %d came back as %d %v", seq, n, e)
			}
		}
	})
}
