package server

import (
	"context"
	"slices"

	"github.com/mint-id/mint/internal/proxy"
	"github.com/mint-id/mint/internal/vault"
)

// StartProxy starts the Azure-name proxy on cfg.ProxyAddr (nothing when it is empty) until ctx
// ends. Tunnels to Azure's names are served by this process's own handler, in-process, and
// http://169.254.169.254 by the in-process agent (so StartDevAgent comes first). It returns the
// environment that sends a program's Azure traffic through the proxy.
func (s *Server) StartProxy(ctx context.Context) ([]EnvVar, error) {
	if s.cfg.ProxyAddr == "" {
		return nil, nil
	}
	storage, err := proxy.ParseStorageForwards(s.cfg.ForwardStorage)
	if err != nil {
		return nil, err
	}
	storageTLS, err := proxy.StorageTLS(s.cfg.ForwardStorageCAFile)
	if err != nil {
		return nil, err
	}
	p, err := proxy.New(proxy.Config{
		Addr:       s.cfg.ProxyAddr,
		CA:         s.CA,
		Handler:    s.http.Handler,
		IMDS:       s.devAgent,
		Vaults:     s.proxyVaults(),
		Storage:    storage,
		StorageTLS: storageTLS,
		Logger:     s.log.With("component", "proxy"),
	})
	if err != nil {
		return nil, err
	}
	go func() {
		if err := p.Serve(ctx); err != nil {
			s.log.Error("Azure-name proxy stopped", "err", err)
		}
	}()
	s.log.Info("Azure-name proxy listening", "url", p.URL())
	return ProxyEnvironment(p.URL(), s.BaseURL), nil
}

// proxyVaults are the vault hosts the proxy answers for: <vault>.vault.azure.net on 443, and
// the vaultUri names of the other suffixes (<vault>.vault.localhost:<port>). Go and Python read
// NO_PROXY's "localhost" as covering *.localhost and connect directly; Node does not and sends
// them to the proxy, where they then work without an /etc/hosts entry.
func (s *Server) proxyVaults() []proxy.VaultHosts {
	port := vault.PortOf(s.BaseURL)
	if port == "" {
		port = "443"
	}
	var out []proxy.VaultHosts
	for i, suffix := range s.cfg.VaultDNSSuffixes {
		var ports []string
		if suffix == proxy.AzureVaultSuffix {
			ports = append(ports, "443") // Azure's own URLs
		}
		if suffix != proxy.AzureVaultSuffix || i == 0 {
			ports = append(ports, port) // the vaultUri mint hands out (first suffix)
		}
		out = append(out, proxy.VaultHosts{Suffix: suffix, Ports: ports})
	}
	return out
}

// withAzureVaultSuffix is cfg's vault DNS suffixes (defaults applied) plus Key Vault's own,
// vault.azure.net: an Azure-name proxy (mint dev's, or any node agent's) sends
// https://<vault>.vault.azure.net to this process, and the vault data plane must answer for it.
// The first suffix (the one in vaultUri) stays the configured one.
func withAzureVaultSuffix(cfg Config) []string {
	suffixes := vault.NormalizeSuffixes(cfg.VaultDNSSuffixes)
	if !slices.Contains(suffixes, proxy.AzureVaultSuffix) {
		suffixes = append(suffixes, proxy.AzureVaultSuffix)
	}
	return suffixes
}
