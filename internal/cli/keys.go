package cli

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/mint-id/mint/internal/keys"
	"github.com/mint-id/mint/internal/server"
)

func newKeysCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "keys", Short: "Manage token-signing keys"}
	var f serveFlags
	rotate := &cobra.Command{
		Use:   "rotate",
		Short: "Rotate the token-signing key now",
		Long: `Make the next signing key (already published in JWKS) the signing key now, and publish a new
next key. Tokens signed by the previous key keep verifying until they expire. Works on the store
directly (it needs the store and the key-encryption key); running servers pick the change up
within their --key-refresh interval.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := envDefaults(cmd.Flags()); err != nil {
				return err
			}
			if f.cfg.DataDir == "" && (f.cfg.Store == "" || (f.cfg.KEKFile == "" && f.cfg.KEK == "")) {
				return fmt.Errorf("--data-dir (or --store and --kek-file) is required")
			}
			ctx := cmd.Context()
			if path, ok := sqlitePath(f.cfg); ok {
				// Never a new, empty store: the server's own must be there.
				if _, err := os.Stat(path); err != nil {
					return fmt.Errorf("no SQLite store at %s: mint keys rotate acts on the store a server uses; for a server on PostgreSQL give --store postgres://... and --kek-file", path)
				}
			}
			kek, err := server.LoadKEK(f.cfg)
			if err != nil {
				return err
			}
			st, err := server.OpenStore(ctx, f.cfg)
			if err != nil {
				return err
			}
			defer st.Close()
			m := keys.NewManager(st, kek, keys.ManagerOptions{RotationPeriod: f.cfg.KeyRotationPeriod, MaxTokenLifetime: max(f.cfg.MITokenLifetime, f.cfg.AppTokenLifetime),
				Logger: slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), &slog.HandlerOptions{Level: slog.LevelWarn}))}) // the line below says what happened
			if err := m.Ensure(ctx); err != nil {
				return err
			}
			before := m.SigningKeyID()
			if err := m.Rotate(ctx); err != nil {
				return err
			}
			// Activation times are whole seconds: a rotation within the second of the previous
			// one (or of the store's creation) activates at the next second. Wait for it, so that
			// what is printed is the key that signs, and a rotation right after this one rotates
			// again instead of re-activating this key.
			for deadline := time.Now().Add(2 * time.Second); m.SigningKeyID() == before && time.Now().Before(deadline); {
				time.Sleep(50 * time.Millisecond)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "rotated: %s now signs\n", m.SigningKeyID())
			return nil
		},
	}
	// Only the flags rotate uses (the server's listen, TLS and log flags do nothing here).
	fs := rotate.Flags()
	fs.StringVar(&f.cfg.DataDir, "data-dir", "", "the server's data directory (its KEK and, for SQLite, its store)")
	fs.StringVar(&f.cfg.Store, "store", "", "the server's store: sqlite:<path> (default <data-dir>/mint.db) or postgres://user@host:port/db")
	fs.StringVar(&f.cfg.KEKFile, "kek-file", "", "key-encryption key file (default <data-dir>/kek)")
	fs.StringVar(&f.cfg.KEK, "kek", "", "key-encryption key, base64 of 32 bytes (prefer --kek-file)")
	durationFlag(fs, &f.cfg.AppTokenLifetime, "app-token-lifetime", time.Hour, "the server's application token lifetime (old keys stay published this long)")
	durationFlag(fs, &f.cfg.MITokenLifetime, "mi-token-lifetime", 24*time.Hour, "the server's managed-identity token lifetime (old keys stay published this long)")
	durationFlag(fs, &f.cfg.KeyRotationPeriod, "key-rotation-period", 7*24*time.Hour, "how long a signing key signs before the next one takes over")
	cmd.AddCommand(rotate)
	return cmd
}

// sqlitePath returns the SQLite file cfg names, if its store is SQLite.
func sqlitePath(cfg server.Config) (string, bool) {
	if cfg.Store != "" && !strings.HasPrefix(cfg.Store, "sqlite:") {
		return "", false
	}
	path := strings.TrimPrefix(strings.TrimPrefix(cfg.Store, "sqlite:"), "//")
	if path == "" {
		path = filepath.Join(cfg.DataDir, "mint.db")
	}
	return path, true
}
