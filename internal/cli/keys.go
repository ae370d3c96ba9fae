package cli

import (
	"fmt"

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
			kek, err := server.LoadKEK(f.cfg)
			if err != nil {
				return err
			}
			st, err := server.OpenStore(ctx, f.cfg)
			if err != nil {
				return err
			}
			defer st.Close()
			m := keys.NewManager(st, kek, keys.ManagerOptions{RotationPeriod: f.cfg.KeyRotationPeriod, MaxTokenLifetime: max(f.cfg.MITokenLifetime, f.cfg.AppTokenLifetime)})
			if err := m.Ensure(ctx); err != nil {
				return err
			}
			if err := m.Rotate(ctx); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "rotated: %s now signs\n", m.SigningKeyID())
			return nil
		},
	}
	f.register(rotate.Flags(), "")
	cmd.AddCommand(rotate)
	return cmd
}
