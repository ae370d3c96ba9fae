package cli

import (
	"fmt"
	"log/slog"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/mint-id/mint/internal/keys"
	"github.com/mint-id/mint/internal/server"
)

func newInitCmd() *cobra.Command {
	var cfg server.Config
	cmd := &cobra.Command{
		Use:   "init",
		Short: "Prepare a data directory and a store: key-encryption key, CA, first signing keys",
		Long: `Create the key-encryption key (mode 0600) and the certificate authority that a mint server needs,
and write ca-bundle.pem (the system roots plus mint's CA) for clients. Existing files are kept.
Copy the KEK file and the CA files (ca.pem, ca-key.sealed) to every replica's data directory.

Then open the store the servers will use (--store, default <data-dir>/mint.db), applying its
migrations, and create the installation's first token-signing keys (sealed under the KEK): the
key that signs and the next one. Replicas started afterwards find them and all sign with the same
key from their first token. A store that has signing keys keeps them as they are.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := envDefaults(cmd.Flags()); err != nil {
				return err
			}
			if cfg.DataDir == "" {
				return fmt.Errorf("--data-dir is required")
			}
			cfg.CreateKEK = true
			kek, err := server.LoadKEK(cfg)
			if err != nil {
				return err
			}
			ca, err := keys.LoadOrCreateCA(cfg.DataDir, kek)
			if err != nil {
				return err
			}
			bundle := filepath.Join(cfg.DataDir, "ca-bundle.pem")
			if err := ca.WriteBundle(bundle); err != nil {
				return err
			}
			ctx := cmd.Context()
			st, err := server.OpenStore(ctx, cfg)
			if err != nil {
				return fmt.Errorf("open store: %w", err)
			}
			defer st.Close()
			// The keys a server's first start would create (keys.Manager decides what they are).
			m := keys.NewManager(st, kek, keys.ManagerOptions{RotationPeriod: cfg.KeyRotationPeriod,
				Logger: slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), &slog.HandlerOptions{Level: slog.LevelWarn}))})
			created, err := m.CreateFirst(ctx)
			if err != nil {
				return fmt.Errorf("signing keys: %w", err)
			}
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "data directory %s is ready\nCA: %s\nCA bundle for clients: %s\n", cfg.DataDir, filepath.Join(cfg.DataDir, "ca.pem"), bundle)
			if created {
				fmt.Fprintf(out, "signing keys created in the store: %s signs\n", m.SigningKeyID())
			} else {
				fmt.Fprintf(out, "signing keys: the store has them already (%s signs)\n", m.SigningKeyID())
			}
			return nil
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&cfg.DataDir, "data-dir", "", "data directory to prepare (required)")
	fs.StringVar(&cfg.KEKFile, "kek-file", "", "key-encryption key file (default <data-dir>/kek)")
	fs.StringVar(&cfg.Store, "store", "", "the servers' store: sqlite:<path> (default <data-dir>/mint.db) or postgres://user@host:port/db")
	durationFlag(fs, &cfg.KeyRotationPeriod, "key-rotation-period", 7*24*time.Hour, "how long a signing key signs before the next one takes over (the next key's activation)")
	return cmd
}
