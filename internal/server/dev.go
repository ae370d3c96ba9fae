package server

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/mint-id/mint/internal/armid"
	"github.com/mint-id/mint/internal/authz"
	"github.com/mint-id/mint/internal/directory"
	"github.com/mint-id/mint/internal/rbac"
	"github.com/mint-id/mint/internal/store"
)

// DevEnvironment bootstraps the default tenant, subscription and admin application, makes sure
// the admin has a client secret (reusing the one in <data-dir>/env while it is still valid, so
// a restarted `mint dev` keeps the same credentials), writes the CA bundle and returns the
// environment a client needs. The secret is in that environment by design: `mint dev` is for a
// developer's machine, and the env file is written mode 0600.
func (s *Server) DevEnvironment(ctx context.Context) ([]EnvVar, error) {
	in, err := s.Bootstrap(ctx)
	if err != nil {
		return nil, err
	}
	envFile := filepath.Join(s.cfg.DataDir, "env")
	previous, _ := ParseEnvFile(envFile) // none yet on a first start
	secret := previous["AZURE_CLIENT_SECRET"]
	if secret == "" || !s.Directory.AdminSecretValid(ctx, in, secret) {
		pc, err := s.Directory.AddPassword(ctx, in.Admin.ObjectID, "mint dev", 0)
		if err != nil {
			return nil, fmt.Errorf("admin secret: %w", err)
		}
		secret = pc.SecretText
	}
	env, err := s.environment(in, secret)
	if err != nil {
		return nil, err
	}
	// The developer (an Argon2id hash when it is made) and the dev node (an RSA key) are
	// independent: made side by side, on two cores the start waits for the longer only.
	devErr := make(chan error, 1)
	go func() {
		_, err := s.EnsureDeveloper(ctx, in)
		devErr <- err
	}()
	endpoints, socket, err := s.StartDevAgent(ctx, in)
	if derr := <-devErr; derr != nil {
		return nil, derr
	}
	if err != nil {
		return nil, err
	}
	proxyEnv, err := s.StartProxy(ctx)
	if err != nil {
		return nil, err
	}
	return append(append(env,
		EnvVar{"MINT_AGENT_ENDPOINT", endpoints.IMDSProxy},
		EnvVar{"MINT_AGENT_SOCKET", socket},
	), proxyEnv...), nil
}

// DeveloperFile is where mint dev keeps its developer's sign-in name and password (mode 0600),
// relative to the data directory.
const DeveloperFile = "developer.json"

// DeveloperCredentials is the content of DeveloperFile.
type DeveloperCredentials struct {
	UserPrincipalName string `json:"userPrincipalName"`
	Password          string `json:"password"`
	ObjectID          string `json:"objectId"`
	TenantID          string `json:"tenantId"`
}

// EnsureDeveloper makes sure mint dev's developer exists (a user dev@<default domain>, Owner of
// the default subscription, the directory's administrator) and that <data-dir>/developer.json
// (mode 0600) holds a password that works: the one already there, or a new one. The password is
// never logged; it returns the file's path.
func (s *Server) EnsureDeveloper(ctx context.Context, in directory.Installation) (string, error) {
	path := filepath.Join(s.cfg.DataDir, DeveloperFile)
	marker := filepath.Join(s.cfg.DataDir, developerVerifiedFile)
	var held DeveloperCredentials
	data, err := os.ReadFile(path)
	if err == nil {
		_ = json.Unmarshal(data, &held)
	}
	dev, err := s.Directory.EnsureDeveloper(ctx, in, func(u store.User) bool {
		if held.Password == "" || !strings.EqualFold(held.UserPrincipalName, u.UserPrincipalName) {
			return false
		}
		if m, err := os.ReadFile(marker); err == nil && string(m) == developerFingerprint(data, u) {
			return true // this very file was verified against this very password hash before
		}
		ok, err := s.Directory.VerifyPassword(ctx, u, held.Password)
		if err == nil && ok {
			s.markDeveloperVerified(marker, data, u)
		}
		return err == nil && ok
	})
	if err != nil {
		return "", fmt.Errorf("developer: %w", err)
	}
	if err := authz.EnsureRoleFor(ctx, s.Store, dev.User.ObjectID, "User", rbac.OwnerRoleID,
		armid.Subscription(in.Subscription.ID).String(), "mint: the developer owns the subscription"); err != nil {
		return "", err
	}
	if dev.Password == "" {
		return path, nil
	}
	data, err = json.MarshalIndent(DeveloperCredentials{UserPrincipalName: dev.User.UserPrincipalName, Password: dev.Password,
		ObjectID: dev.User.ObjectID, TenantID: in.Tenant.ID}, "", "  ")
	if err != nil {
		return "", err
	}
	data = append(data, '\n')
	if err := writeFileAtomic(path, data, 0o600); err != nil {
		return "", fmt.Errorf("write %s: %w", path, err)
	}
	s.markDeveloperVerified(marker, data, dev.User)
	return path, nil
}

// developerVerifiedFile (in the data directory) holds developerFingerprint of developer.json and
// the developer's stored password hash once the file's password is known to match that hash, so
// that a restart need not spend an Argon2id verification (~100 ms of a core) to learn it again.
// Any change to the file, or to the stored hash (a password reset draws a new salt), changes
// the fingerprint and the password is verified again. Skipping the check can only leave a
// password in place, never grant a sign-in: the marker decides whether mint dev resets its
// developer's password, nothing else.
const developerVerifiedFile = "developer.verified"

// developerFingerprint is SHA-256 over developer.json's bytes, the user's object id and their
// stored password hash (a PHC string with its salt), hex-encoded.
func developerFingerprint(file []byte, u store.User) string {
	h := sha256.New()
	h.Write(file)
	h.Write([]byte{0})
	h.Write([]byte(u.ObjectID))
	h.Write([]byte{0})
	h.Write([]byte(u.PasswordHash))
	return hex.EncodeToString(h.Sum(nil))
}

// markDeveloperVerified writes the marker; failing to is only a slower next start.
func (s *Server) markDeveloperVerified(marker string, file []byte, u store.User) {
	if u.PasswordHash == "" {
		return
	}
	if err := writeFileAtomic(marker, []byte(developerFingerprint(file, u)), 0o600); err != nil {
		s.log.Warn("could not record the developer's verified password; the next start verifies it again", "err", err)
	}
}

// AdminSecret adds a new client secret to the admin application (`mint server
// --print-admin-secret`).
func (s *Server) AdminSecret(ctx context.Context) (directory.Installation, string, error) {
	in, err := s.Bootstrap(ctx)
	if err != nil {
		return in, "", err
	}
	pc, err := s.Directory.AddPassword(ctx, in.Admin.ObjectID, "mint server", 0)
	if err != nil {
		return in, "", fmt.Errorf("admin secret: %w", err)
	}
	return in, pc.SecretText, nil
}

// AdminEnvironment adds a new client secret to the admin application and returns the complete
// environment a client of this server needs (`mint server --print-admin-secret`, which writes
// it to <data-dir>/env, mode 0600, as mint dev does): the endpoint, the CA trust, the tenant and
// the admin's credential.
func (s *Server) AdminEnvironment(ctx context.Context) ([]EnvVar, error) {
	in, secret, err := s.AdminSecret(ctx)
	if err != nil {
		return nil, err
	}
	return s.environment(in, secret)
}

func (s *Server) environment(in directory.Installation, secret string) ([]EnvVar, error) {
	caFile := filepath.Join(s.cfg.DataDir, "ca.pem")
	bundle := filepath.Join(s.cfg.DataDir, "ca-bundle.pem")
	if err := s.CA.WriteBundle(bundle); err != nil {
		return nil, fmt.Errorf("write CA bundle: %w", err)
	}
	return []EnvVar{
		{"AZURE_TENANT_ID", in.Tenant.ID},
		{"AZURE_SUBSCRIPTION_ID", in.Subscription.ID},
		{"AZURE_CLIENT_ID", in.Admin.AppID},
		{"AZURE_CLIENT_SECRET", secret},
		{"AZURE_AUTHORITY_HOST", s.BaseURL},
		{"MINT_ENDPOINT", s.BaseURL},
		{"MINT_DATA_DIR", s.cfg.DataDir},
		{"MINT_CA_FILE", caFile},
		{"SSL_CERT_FILE", bundle},
		{"NODE_EXTRA_CA_CERTS", bundle},
		{"REQUESTS_CA_BUNDLE", bundle},
	}, nil
}

// WriteEnvFile writes `export NAME=value` lines to <data-dir>/env (mode 0600), atomically.
func (s *Server) WriteEnvFile(env []EnvVar) (string, error) {
	path := filepath.Join(s.cfg.DataDir, "env")
	return path, writeFileAtomic(path, []byte(FormatEnvFile(env)), 0o600)
}

// MarkReady writes <data-dir>/ready, which scripts and tests wait for.
func (s *Server) MarkReady() error {
	return writeFileAtomic(filepath.Join(s.cfg.DataDir, "ready"), []byte(s.BaseURL+"\n"), 0o644)
}

// ClearReady removes the ready marker (at start, and at shutdown).
func (s *Server) ClearReady() { os.Remove(filepath.Join(s.cfg.DataDir, "ready")) }

func writeFileAtomic(path string, data []byte, mode os.FileMode) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, mode); err != nil {
		return err
	}
	if err := os.Chmod(tmp, mode); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
