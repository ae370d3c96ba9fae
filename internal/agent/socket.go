package agent

import (
	"bufio"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"time"
)

// The registration protocol: newline-delimited JSON objects over the agent's Unix socket, one
// response per request, in order.
//
//	{"op":"register","resourceId":"/subscriptions/.../web","pid":123,"bindToConnection":true}
//	→ {"secret":"...","identityEndpoint":"http://127.0.0.1:42356/msi/token","msiEndpoint":"...",
//	   "serviceFabricEndpoint":"https://...","serviceFabricThumbprint":"..."}
//	{"op":"unregister","secret":"..."} → {}
//	{"op":"bindHost","resourceId":"..."} → {}     {"op":"unbindHost"} → {}
//	{"op":"workloadToken","secret":"...","audience":"..."}
//	→ {"token":"...","issuer":"...","subject":"...","audience":"...","tenantId":"...",
//	   "authorityHost":"https://...","expiresOn":1767225600}   (see workloadtoken.go)
//	any failure → {"error":"..."}
//
// pid 0 means the connecting process (SO_PEERCRED). A registration is revoked by unregister,
// by the exit of its process, and, with bindToConnection, when the connection closes — so a
// `mint run` killed with SIGKILL loses its secret at once.
type socketRequest struct {
	Op               string `json:"op"`
	ResourceID       string `json:"resourceId,omitempty"`
	PID              int    `json:"pid,omitempty"`
	Secret           string `json:"secret,omitempty"`
	BindToConnection bool   `json:"bindToConnection,omitempty"`
	Audience         string `json:"audience,omitempty"`
}

type socketResponse struct {
	Secret                  string `json:"secret,omitempty"`
	IdentityEndpoint        string `json:"identityEndpoint,omitempty"`
	MSIEndpoint             string `json:"msiEndpoint,omitempty"`
	ServiceFabricEndpoint   string `json:"serviceFabricEndpoint,omitempty"`
	ServiceFabricThumbprint string `json:"serviceFabricThumbprint,omitempty"`
	// A workload token.
	Token         string `json:"token,omitempty"`
	Issuer        string `json:"issuer,omitempty"`
	Subject       string `json:"subject,omitempty"`
	Audience      string `json:"audience,omitempty"`
	TenantID      string `json:"tenantId,omitempty"`
	AuthorityHost string `json:"authorityHost,omitempty"`
	ExpiresOn     int64  `json:"expiresOn,omitempty"`

	Error string `json:"error,omitempty"`
}

const maxSocketMessage = 64 << 10

// listenSocket creates the registration socket with mode 0600 without a window in which it is
// reachable with looser permissions: it binds a hidden name, restricts it, then renames it.
func listenSocket(path string) (*net.UnixListener, error) {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("agent socket: %w", err)
	}
	if fi, err := os.Lstat(path); err == nil {
		if fi.Mode()&os.ModeSocket == 0 {
			return nil, fmt.Errorf("agent socket: %s exists and is not a socket", path)
		}
		if c, err := net.DialTimeout("unix", path, time.Second); err == nil {
			c.Close()
			return nil, fmt.Errorf("agent socket: another agent is listening on %s", path)
		}
		os.Remove(path) // left behind by an agent that died
	}
	var rnd [6]byte
	_, _ = rand.Read(rnd[:])
	tmp := filepath.Join(dir, "."+filepath.Base(path)+"."+hex.EncodeToString(rnd[:]))
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: tmp, Net: "unix"})
	if err != nil {
		return nil, fmt.Errorf("agent socket: %w", err)
	}
	l.SetUnlinkOnClose(false)
	if err := os.Chmod(tmp, 0o600); err != nil {
		l.Close()
		os.Remove(tmp)
		return nil, fmt.Errorf("agent socket: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		l.Close()
		os.Remove(tmp)
		return nil, fmt.Errorf("agent socket: %w", err)
	}
	return l, nil
}

func (a *Agent) serveSocket() {
	defer os.Remove(a.sockPath)
	for {
		c, err := a.sockLn.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			a.log.Warn("agent socket accept", "err", err)
			time.Sleep(50 * time.Millisecond)
			continue
		}
		a.connMu.Lock()
		a.conns[c] = struct{}{}
		a.connMu.Unlock()
		go a.handleSocketConn(c)
	}
}

func (a *Agent) handleSocketConn(c net.Conn) {
	defer func() {
		a.connMu.Lock()
		delete(a.conns, c)
		a.connMu.Unlock()
		c.Close()
	}()
	enc := json.NewEncoder(c)
	uid, peerPID, havePeer := peerCred(c)
	if havePeer && !a.socketPeerAllowed(uid) {
		a.log.Warn("agent socket: peer refused", "uid", uid, "pid", peerPID)
		_ = enc.Encode(socketResponse{Error: fmt.Sprintf("uid %d may not register workloads with this agent", uid)})
		return
	}
	connID := a.connSeq.Add(1)
	defer func() {
		for _, w := range a.reg.remove(func(w *workload) bool { return w.conn == connID }) {
			a.log.Info("workload connection closed; secret revoked", "resourceId", w.resourceID, "pid", w.pid)
		}
	}()
	sc := bufio.NewScanner(c)
	sc.Buffer(make([]byte, 0, 4096), maxSocketMessage)
	for sc.Scan() {
		var req socketRequest
		var resp socketResponse
		if err := json.Unmarshal(sc.Bytes(), &req); err != nil {
			resp.Error = "malformed request: " + err.Error()
		} else {
			resp = a.handleSocketRequest(req, peerPID, connID)
		}
		if err := enc.Encode(resp); err != nil {
			return
		}
	}
}

func (a *Agent) handleSocketRequest(req socketRequest, peerPID int, connID uint64) socketResponse {
	switch req.Op {
	case "register":
		pid := req.PID
		if pid == 0 {
			pid = peerPID
		}
		var conn uint64
		if req.BindToConnection {
			conn = connID
		}
		reg, err := a.register(req.ResourceID, pid, conn)
		if err != nil {
			return socketResponse{Error: err.Error()}
		}
		ep := reg.Endpoints
		return socketResponse{Secret: reg.Secret, IdentityEndpoint: ep.IdentityEndpoint, MSIEndpoint: ep.MSIEndpoint,
			ServiceFabricEndpoint: ep.ServiceFabricEndpoint, ServiceFabricThumbprint: ep.ServiceFabricThumbprint}
	case "unregister":
		if err := a.Unregister(req.Secret); err != nil {
			return socketResponse{Error: err.Error()}
		}
	case "bindHost":
		if err := a.BindHost(req.ResourceID); err != nil {
			return socketResponse{Error: err.Error()}
		}
	case "unbindHost":
		a.UnbindHost()
	case "workloadToken":
		t, err := a.workloadToken(req.Secret, req.Audience)
		if err != nil {
			return socketResponse{Error: err.Error()}
		}
		return socketResponse{Token: t.Token, Issuer: t.Issuer, Subject: t.Subject, Audience: t.Audience, TenantID: t.TenantID,
			AuthorityHost: t.AuthorityHost, ExpiresOn: t.ExpiresOn.Unix()}
	default:
		return socketResponse{Error: fmt.Sprintf("unknown op %q", req.Op)}
	}
	return socketResponse{}
}
