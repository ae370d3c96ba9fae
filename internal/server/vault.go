package server

import (
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"

	"github.com/mint-id/mint/internal/arm"
	"github.com/mint-id/mint/internal/vault"
)

// The Key Vault wiring: the data plane answers every request whose Host is <vault>.<suffix>
// (any configured vault DNS suffix, any port) before the mux sees it; the control plane's
// vaults provider gets the vaultUri rule and the data-key sealer; the serving certificate covers
// *.<suffix>.

// vaultSuffixes are the configured vault DNS suffixes, normalized (default vault.localhost).
func (s *Server) vaultSuffixes() []string { return vault.NormalizeSuffixes(s.cfg.VaultDNSSuffixes) }

// vaultAudiences are the token audiences that name Key Vault here.
func (s *Server) vaultAudiences() []string {
	return vault.Audiences(s.vaultSuffixes(), vault.PortOf(s.BaseURL))
}

// newVault builds the data plane.
func (s *Server) newVault() *vault.Server {
	return vault.New(vault.Config{BaseURL: s.BaseURL, DNSSuffixes: s.vaultSuffixes(), Logger: s.log}, s.Store, s.KEK, s.Keys)
}

// withKeyVault connects the management endpoint's vaults provider to the data plane.
func (s *Server) withKeyVault(a *arm.Server) *arm.Server {
	suffix, port := s.vaultSuffixes()[0], vault.PortOf(s.BaseURL)
	a.ConfigureKeyVault(arm.KeyVaultConfig{
		VaultURI:    func(name string) string { return vault.URI(name, suffix, port) },
		SealDataKey: func(vaultID string) ([]byte, error) { return vault.SealDataKey(s.KEK, vaultID) },
	})
	return a
}

// withVaults routes the vault hosts to the data plane and everything else to next.
func (s *Server) withVaults(next http.Handler) http.Handler {
	vaults := s.Metrics.Instrument("vault", s.Vault)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, _, ok := s.Vault.Match(r.Host); ok {
			vaults.ServeHTTP(w, r)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// vaultCertNames are the serving certificate's names for the vault hosts.
func (s *Server) vaultCertNames() []string {
	var names []string
	for _, sfx := range s.vaultSuffixes() {
		names = append(names, "*."+sfx)
	}
	return names
}

// VaultHostsHint tells a `mint dev` user how vaults are reached: their URL, and the /etc/hosts
// line that makes a vault's name resolve when the system resolver does not (Go and Node do not
// resolve *.localhost on every system).
func (s *Server) VaultHostsHint() string {
	suffix, port := s.vaultSuffixes()[0], vault.PortOf(s.BaseURL)
	host := strings.TrimPrefix(strings.TrimSuffix(vault.URI("kv1", suffix, port), "/"), "https://")
	name, _, _ := strings.Cut(host, ":")
	ip := "127.0.0.1"
	if u, err := url.Parse(s.BaseURL); err == nil && net.ParseIP(u.Hostname()) != nil {
		ip = u.Hostname()
	}
	// kv1 is an example, not a vault that exists: the quickstart's first vault is named so.
	pattern := strings.Replace(host, "kv1.", "<vault>.", 1)
	return fmt.Sprintf("# Vaults are served at https://%s (a vault kv1 at https://%s). Where such a name does not resolve, add each vault to /etc/hosts:\n#   %s %s",
		pattern, host, ip, name)
}
