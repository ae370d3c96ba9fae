package cli

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"syscall"
	"time"
)

// Every command that cannot reach a server says which server it tried and what to do, instead
// of a bare dial or x509 error. Sign-in errors come from azidentity as text, so on a failed
// sign-in the CLI asks the server's /healthz itself and classifies what went wrong there.

// reachHelp is what a person can do when no server answers.
const reachHelp = "Start one (mint dev, or mint server), or point the CLI at a running one: mint login --endpoint <url> --ca-file <ca.pem> ..., " +
	"MINT_ENDPOINT, or a mint dev's environment (. <data-dir>/env, --env-file, MINT_DATA_DIR)"

// caHelp is what a person can do when the server's certificate is not trusted.
const caHelp = "Pass the server's CA with --ca-file (or MINT_CA_FILE, or mint login --ca-file): it is <data-dir>/ca.pem of the server " +
	"(mint init writes it; mint dev's environment names it)"

// explainReach turns a transport error talking to base into one that names the server and the
// fix; nil when err is not about reaching it.
func explainReach(base, caFile string, err error) error {
	var unknownCA x509.UnknownAuthorityError
	var verify *tls.CertificateVerificationError
	var hostname x509.HostnameError
	var netErr net.Error
	var dnsErr *net.DNSError
	var opErr *net.OpError
	trusted := "the system's roots"
	if caFile != "" {
		trusted = caFile
	}
	switch {
	case errors.As(err, &hostname):
		return fmt.Errorf("the certificate of the mint server at %s is not valid for that name (%v): use the server's public URL (its --public-url) as the endpoint, or add the name with mint server --tls-name", base, hostname)
	case errors.As(err, &unknownCA), errors.As(err, &verify):
		return fmt.Errorf("cannot verify the certificate of the mint server at %s: it is not signed by a CA this CLI trusts (%s). %s", base, trusted, caHelp)
	case errors.As(err, &dnsErr):
		return fmt.Errorf("cannot reach the mint server at %s (no address for %s: %v). %s", base, dnsErr.Name, dnsErr.Err, reachHelp)
	case errors.As(err, &opErr), errors.As(err, &netErr):
		return fmt.Errorf("cannot reach the mint server at %s (%s). %s", base, netReason(err), reachHelp)
	}
	return nil
}

// netReason is what went wrong on the network in a person's words: the operating system's
// reason ("connection refused"), not the Go request and dial that carried it, which may span
// lines when a client library quotes them.
func netReason(err error) string {
	var errno syscall.Errno
	var netErr net.Error
	switch {
	case errors.As(err, &errno):
		return errno.Error()
	case errors.As(err, &netErr) && netErr.Timeout():
		return "no answer in time"
	}
	return strings.Join(strings.Fields(err.Error()), " ")
}

// probe asks base's /healthz with hc and explains a failure to reach it (nil when it answers).
func probe(ctx context.Context, hc *http.Client, base, caFile string) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/healthz", nil)
	if err != nil {
		return fmt.Errorf("the mint endpoint %q is not a URL: %v", base, err)
	}
	resp, err := hc.Do(req)
	if err != nil {
		if e := explainReach(base, caFile, err); e != nil {
			return e
		}
		return fmt.Errorf("cannot reach the mint server at %s: %v. %s", base, err, reachHelp)
	}
	resp.Body.Close()
	return nil
}
