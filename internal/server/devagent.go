package server

import (
	"context"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/mint-id/mint/internal/agent"
	"github.com/mint-id/mint/internal/agent/node"
	"github.com/mint-id/mint/internal/directory"
	"github.com/mint-id/mint/internal/store"
)

// devNodeFile keeps `mint dev`'s own node: its identity and its key sealed under the KEK (so the
// key is never on disk in clear), reused across restarts of the same data directory.
const devNodeFile = "dev-node.json"

type devNode struct {
	Identity  *node.Identity `json:"identity"`
	SealedKey []byte         `json:"sealedKey"`
	CertDER   []byte         `json:"certificate"`
}

// StartDevAgent runs a node agent in this process, joined as `mint dev`'s own node with the
// broker role over the default subscription, until ctx ends. It serves the managed-identity
// endpoints on cfg.AgentAddr and takes `mint run` registrations on <data-dir>/agent.sock.
func (s *Server) StartDevAgent(ctx context.Context, in directory.Installation) (agent.Endpoints, string, error) {
	id, err := s.devNode(ctx, in)
	if err != nil {
		return agent.Endpoints{}, "", fmt.Errorf("dev node: %w", err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(s.CA.Certificate())
	hc := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, MaxIdleConnsPerHost: 16}}
	socket := filepath.Join(s.cfg.DataDir, "agent.sock")
	os.Remove(socket) // a stale socket of a killed run
	up := node.NewUpstream(id, hc)
	cfg := agent.Config{
		Upstream:          up,
		ListenAddr:        s.cfg.AgentAddr,
		ServiceFabricAddr: s.cfg.ServiceFabricAddr,
		SocketPath:        socket,
		Logger:            s.log.With("component", "agent"),
		Metrics:           s.Metrics.Agent(),
	}
	if s.cfg.ServiceFabricAddr != "" {
		cert, err := s.devServiceFabricCertificate()
		if err != nil {
			return agent.Endpoints{}, "", fmt.Errorf("service fabric certificate: %w", err)
		}
		cfg.ServiceFabricCertificate = &cert
	}
	a, err := agent.New(cfg)
	if err != nil {
		return agent.Endpoints{}, "", err
	}
	if s.cfg.BindHost != "" {
		if err := a.BindHost(s.cfg.BindHost); err != nil {
			a.Close()
			return agent.Endpoints{}, "", fmt.Errorf("--bind-host: %w", err)
		}
	}
	s.devAgent = a.Handler()
	// Not waited for: the server this agent follows is this process, which serves only later.
	go up.FollowRevocations(ctx, a, s.log.With("component", "revocations"), nil)
	go func() {
		if err := a.Serve(ctx); err != nil && ctx.Err() == nil {
			s.log.Error("agent stopped", "err", err)
		}
	}()
	return a.Endpoints(), socket, nil
}

// devNode loads `mint dev`'s node, or registers it when missing (or when its principal is gone).
func (s *Server) devNode(ctx context.Context, in directory.Installation) (*node.Identity, error) {
	path := filepath.Join(s.cfg.DataDir, devNodeFile)
	if data, err := os.ReadFile(path); err == nil {
		var dn devNode
		if err := json.Unmarshal(data, &dn); err == nil && dn.Identity != nil {
			if _, err := s.Store.GetPrincipal(ctx, dn.Identity.ObjectID); err == nil {
				keyDER, err := s.KEK.Open(dn.SealedKey, []byte(devNodeFile))
				if err != nil {
					return nil, fmt.Errorf("open the dev node key (was the key-encryption key changed?): %w", err)
				}
				k, err := x509.ParsePKCS8PrivateKey(keyDER)
				if err != nil {
					return nil, err
				}
				cert, err := x509.ParseCertificate(dn.CertDER)
				if err != nil {
					return nil, err
				}
				rk, ok := k.(*rsa.PrivateKey)
				if !ok {
					return nil, errors.New("dev node key is not RSA")
				}
				dn.Identity.ServerURL = s.BaseURL // the port may differ between runs
				return dn.Identity.WithKey(rk, cert), nil
			} else if !errors.Is(err, store.ErrNotFound) {
				return nil, err
			}
		}
	}
	key, cert, err := node.NewKey("dev")
	if err != nil {
		return nil, err
	}
	res, err := s.Nodes.RegisterLocal(ctx, in.Tenant.ID, "dev", "/subscriptions/"+in.Subscription.ID, cert.Raw)
	if err != nil {
		return nil, err
	}
	id := (&node.Identity{ServerURL: s.BaseURL, TenantID: res.TenantID, ClientID: res.ClientID, ObjectID: res.ObjectID, Name: res.Name}).WithKey(key, cert)
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, err
	}
	sealed, err := s.KEK.Seal(keyDER, []byte(devNodeFile))
	if err != nil {
		return nil, err
	}
	data, _ := json.Marshal(devNode{Identity: id, SealedKey: sealed, CertDER: cert.Raw})
	if err := writeFileAtomic(path, data, 0o600); err != nil {
		return nil, err
	}
	return id, nil
}

// devServiceFabricFile keeps the in-process agent's Service Fabric certificate with its key
// sealed under the KEK, so that its thumbprint (which Go and Python clients pin) and the
// certificate Node is given to trust stay the same across restarts of the data directory.
const devServiceFabricFile = "dev-service-fabric.json"

type devServiceFabric struct {
	CertDER   []byte `json:"certificate"`
	SealedKey []byte `json:"sealedKey"`
}

func (s *Server) devServiceFabricCertificate() (tls.Certificate, error) {
	path := filepath.Join(s.cfg.DataDir, devServiceFabricFile)
	now := time.Now()
	if data, err := os.ReadFile(path); err == nil {
		var kept devServiceFabric
		if err := json.Unmarshal(data, &kept); err != nil {
			return tls.Certificate{}, fmt.Errorf("%s: %w", path, err)
		}
		keyDER, err := s.KEK.Open(kept.SealedKey, []byte(devServiceFabricFile))
		if err != nil {
			return tls.Certificate{}, fmt.Errorf("open the Service Fabric key (was the key-encryption key changed?): %w", err)
		}
		key, err := x509.ParsePKCS8PrivateKey(keyDER)
		if err != nil {
			return tls.Certificate{}, err
		}
		leaf, err := x509.ParseCertificate(kept.CertDER)
		if err != nil {
			return tls.Certificate{}, err
		}
		if agent.UsableServiceFabricCertificate(leaf, now) {
			return tls.Certificate{Certificate: [][]byte{kept.CertDER}, PrivateKey: key, Leaf: leaf}, nil
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return tls.Certificate{}, err
	}
	cert, err := agent.NewServiceFabricCertificate(now)
	if err != nil {
		return tls.Certificate{}, err
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(cert.PrivateKey)
	if err != nil {
		return tls.Certificate{}, err
	}
	sealed, err := s.KEK.Seal(keyDER, []byte(devServiceFabricFile))
	if err != nil {
		return tls.Certificate{}, err
	}
	data, _ := json.Marshal(devServiceFabric{CertDER: cert.Certificate[0], SealedKey: sealed})
	if err := writeFileAtomic(path, data, 0o600); err != nil {
		return tls.Certificate{}, err
	}
	return cert, nil
}
