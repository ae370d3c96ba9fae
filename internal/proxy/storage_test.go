package proxy

import (
	"crypto/tls"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
)

// emulator is a stand-in for Azurite's blob service over HTTPS: it reports what reached it.
func emulator(t *testing.T) (*httptest.Server, *tls.Config) {
	t.Helper()
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		json.NewEncoder(w).Encode(map[string]string{"host": r.Host, "path": r.URL.Path, "query": r.URL.RawQuery,
			"authorization": r.Header.Get("Authorization"), "body": string(body), "method": r.Method})
	}))
	t.Cleanup(srv.Close)
	return srv, srv.Client().Transport.(*http.Transport).TLSClientConfig
}

func TestStorageNamesAreForwardedToTheEmulatorAsTheyCame(t *testing.T) {
	emu, trust := emulator(t)
	target, _ := url.Parse(emu.URL)
	f := startProxy(t, Config{Storage: []StorageForward{{Service: "blob", Target: target}}, StorageTLS: trust})
	for _, h2 := range []bool{false, true} {
		req, _ := http.NewRequest(http.MethodPut, "https://devstoreaccount1.blob.core.windows.net/c1/dir/b%201.txt?comp=block&blockid=AA%3D%3D", strings.NewReader("data"))
		req.Header.Set("Authorization", "Bearer tok.en.x")
		resp, err := f.client(h2).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var got map[string]string
		json.NewDecoder(resp.Body).Decode(&got)
		resp.Body.Close()
		want := map[string]string{"host": "devstoreaccount1.blob.core.windows.net", "path": "/c1/dir/b 1.txt", "query": "comp=block&blockid=AA%3D%3D",
			"authorization": "Bearer tok.en.x", "body": "data", "method": "PUT"}
		for k, v := range want {
			if got[k] != v {
				t.Errorf("h2=%v: the emulator saw %s %q, want %q", h2, k, got[k], v)
			}
		}
		if leaf := resp.TLS.PeerCertificates[0]; leaf.DNSNames[0] != "devstoreaccount1.blob.core.windows.net" {
			t.Errorf("certificate for %v", leaf.DNSNames)
		}
	}
	// Mint's own names still go to mint's handler.
	resp, err := f.client(false).Get("https://kv1.vault.azure.net/secrets/x")
	if err != nil {
		t.Fatal(err)
	}
	var e echoed
	json.NewDecoder(resp.Body).Decode(&e)
	resp.Body.Close()
	if e.Host != "kv1.vault.azure.net" {
		t.Errorf("vault request reached %+v", e)
	}
}

func TestStorageNamesNotForwardedAreRefusedWithoutDialing(t *testing.T) {
	var dialed atomic.Int32
	emu := httptest.NewTLSServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { dialed.Add(1) }))
	defer emu.Close()
	target, _ := url.Parse(emu.URL)
	for _, cfg := range []Config{{}, {Storage: []StorageForward{{Service: "blob", Target: target}}}} {
		f := startProxy(t, cfg)
		for _, tc := range []string{"acct1.queue.core.windows.net:443", "acct1.table.core.windows.net:443", "acct1.file.core.windows.net:443",
			"Bad_Name.blob.core.windows.net:443", "ab.blob.core.windows.net:443", "acct1.blob.core.windows.net:10000", "a.b.blob.core.windows.net:443"} {
			if cfg.Storage == nil && strings.Contains(tc, ".blob.") && !strings.HasPrefix(tc, "ab.") {
				tc = "acct1.blob.core.windows.net:443"
			}
			resp, conn, _ := rawConnect(t, f.p.Addr(), tc)
			body, _ := io.ReadAll(resp.Body)
			conn.Close()
			if resp.StatusCode != http.StatusForbidden && resp.StatusCode != http.StatusBadRequest {
				t.Errorf("storage %v: CONNECT %s: %d %s, want a refusal", cfg.Storage != nil, tc, resp.StatusCode, body)
			}
			host, _, _ := net.SplitHostPort(tc)
			if resp.StatusCode == http.StatusForbidden && (!strings.Contains(string(body), host) || !strings.Contains(string(body), "never forwards")) {
				t.Errorf("CONNECT %s: refusal %q should name the host", tc, body)
			}
		}
	}
	if n := dialed.Load(); n != 0 {
		t.Errorf("the emulator got %d requests for names not forwarded", n)
	}
}

func TestUnreachableEmulatorAnswersInStoragesShape(t *testing.T) {
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := ln.Addr().String()
	ln.Close()
	f := startProxy(t, Config{Storage: []StorageForward{{Service: "blob", Target: &url.URL{Scheme: "https", Host: addr}}}})
	resp, err := f.client(false).Get("https://acct1.blob.core.windows.net/c/b")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadGateway || !strings.Contains(string(body), "<Code>ServerBusy</Code>") || !strings.Contains(string(body), addr) ||
		resp.Header.Get("x-ms-error-code") == "" {
		t.Errorf("unreachable emulator: %d %s", resp.StatusCode, body)
	}
}

func TestParseStorageForwards(t *testing.T) {
	got, err := ParseStorageForwards([]string{"https://127.0.0.1:10000", "queue=https://127.0.0.1:10001/", " TABLE = https://localhost:10002"})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"blob https://127.0.0.1:10000", "queue https://127.0.0.1:10001", "table https://localhost:10002"}
	for i, f := range got {
		if s := f.Service + " " + f.Target.String(); i >= len(want) || s != want[i] {
			t.Errorf("forward %d: %s, want %v", i, s, want)
		}
	}
	for _, bad := range [][]string{
		{"http://127.0.0.1:10000"}, {"127.0.0.1:10000"}, {"file=https://127.0.0.1:10000"}, {"https://127.0.0.1:10000/devstoreaccount1"},
		{"https://u:p@127.0.0.1:10000"}, {"https://127.0.0.1:10000", "blob=https://127.0.0.1:10005"}, {"https://"}, {"blob="},
	} {
		if _, err := ParseStorageForwards(bad); err == nil {
			t.Errorf("ParseStorageForwards(%q) accepted", bad)
		}
	}
}

func FuzzParseStorageForwards(f *testing.F) {
	for _, s := range []string{"https://127.0.0.1:10000", "queue=https://127.0.0.1:10001", "blob=http://x", "=", "https://[::1]:1/", "x=y=z"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		fw, err := ParseStorageForwards([]string{v})
		if err != nil {
			return
		}
		for _, x := range fw {
			if _, ok := StorageServices[x.Service]; !ok || x.Target.Scheme != "https" || x.Target.Host == "" || x.Target.Path != "" {
				t.Fatalf("ParseStorageForwards(%q) = %+v", v, x)
			}
		}
	})
}
