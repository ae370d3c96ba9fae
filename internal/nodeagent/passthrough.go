package nodeagent

import (
	"context"
	"fmt"
	"log/slog"
	"net"

	"github.com/mint-id/mint/internal/proxy"
)

// The values of --proxy-tls (Config.ProxyTLS).
const (
	// ProxyTLSAuto passes the workloads' TLS through to the server when the server is reached
	// directly (an https URL without a path, no HTTPS_PROXY on the way), else terminates it.
	ProxyTLSAuto = "auto"
	// ProxyTLSPassthrough passes it through, and refuses to start when it cannot.
	ProxyTLSPassthrough = "passthrough"
	// ProxyTLSTerminate terminates it at the agent with the node's proxy certificate and
	// forwards the requests over the agent's own TLS connections: for a server behind a
	// TLS-terminating load balancer, which would answer Azure's names with its own certificate.
	ProxyTLSTerminate = "terminate"
)

// ProxyTLSUsage is the --proxy-tls flag's help.
const ProxyTLSUsage = "how the Azure-name proxy serves the names the server answers: passthrough (the workload's TLS ends at the server; " +
	"the agent only copies bytes), terminate (the agent decrypts and forwards over its own TLS: for a server behind a TLS-terminating " +
	"load balancer), or auto (passthrough when the server is reached directly)"

// passthroughDialer is the proxy's Passthrough for mode: a dial of the server's address (the
// forwarder's: --server-addr fail-over included, each connection counted), or nil to terminate.
func passthroughDialer(mode string, f *forwarder, log *slog.Logger) (proxy.PassthroughDialer, error) {
	why := ""
	switch {
	case f.tls == nil:
		why = "the server is reached over http, not https"
	case !f.lean:
		why = "the server is reached through an HTTPS_PROXY or at a URL with a path"
	}
	switch mode {
	case "", ProxyTLSAuto:
		if why != "" {
			log.Info("Azure-name proxy terminates TLS at the agent", "why", why)
			return nil, nil
		}
	case ProxyTLSPassthrough:
		if why != "" {
			return nil, fmt.Errorf("--proxy-tls passthrough: %s; use --proxy-tls terminate", why)
		}
	case ProxyTLSTerminate:
		return nil, nil
	default:
		return nil, fmt.Errorf("--proxy-tls %q: want auto, passthrough or terminate", mode)
	}
	return func(ctx context.Context) (net.Conn, error) {
		c, err := f.dial(ctx, "tcp", f.addr)
		if err != nil {
			return nil, fmt.Errorf("the mint server %s is unreachable from this node: %w", f.server.Redacted(), err)
		}
		return c, nil
	}, nil
}
