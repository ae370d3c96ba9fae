package cli

import (
	"context"
	"crypto/x509"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestUnreachableServersAreNamedWithTheFix(t *testing.T) {
	tls := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	tls.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshakes are the point
	tls.StartTLS()
	defer tls.Close()
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	closed := "https://" + l.Addr().String()
	l.Close()

	plain := &http.Client{} // trusts only the system roots, not the test server's certificate
	for _, tc := range []struct {
		name, base string
		hc         *http.Client
		want       []string
	}{
		{"unknown CA", tls.URL, plain, []string{"cannot verify the certificate of the mint server at " + tls.URL, "--ca-file", "ca.pem"}},
		{"nothing listening", closed, plain, []string{"cannot reach the mint server at " + closed + " (connection refused). Start one", "mint dev", "mint login"}},
		{"not a URL", "https://[::1", plain, []string{"is not a URL"}},
	} {
		err := probe(context.Background(), tc.hc, tc.base, "")
		for _, w := range tc.want {
			if err == nil || !strings.Contains(err.Error(), w) {
				t.Errorf("%s: %v, want %q", tc.name, err, w)
			}
		}
	}
	if err := probe(context.Background(), tls.Client(), tls.URL, ""); err != nil {
		t.Errorf("a trusted server that answers: %v", err)
	}
	if explainReach("https://x", "", errors.New("some other failure")) != nil {
		t.Error("an error that is not about reaching the server was explained as one")
	}
	if err := explainReach("https://x", "", x509.HostnameError{Certificate: &x509.Certificate{}, Host: "x"}); err == nil || !strings.Contains(err.Error(), "not valid for that name") {
		t.Errorf("a certificate for another name: %v", err)
	}
}
