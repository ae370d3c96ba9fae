package cli

import (
	"fmt"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/mint-id/mint/internal/keys"
	"github.com/mint-id/mint/internal/server"
)

func newInitCmd() *cobra.Command {
	var dataDir, kekFile string
	cmd := &cobra.Command{
		Use:   "init",
		Short: "Prepare a data directory: key-encryption key and CA",
		Long: `Create the key-encryption key (mode 0600) and the certificate authority that a mint server needs,
and write ca-bundle.pem (the system roots plus mint's CA) for clients. Existing files are kept.
Copy the KEK file and the CA files (ca.pem, ca-key.sealed) to every replica's data directory.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := envDefaults(cmd.Flags()); err != nil {
				return err
			}
			if dataDir == "" {
				return fmt.Errorf("--data-dir is required")
			}
			kek, err := server.LoadKEK(server.Config{DataDir: dataDir, KEKFile: kekFile, CreateKEK: true})
			if err != nil {
				return err
			}
			ca, err := keys.LoadOrCreateCA(dataDir, kek)
			if err != nil {
				return err
			}
			bundle := filepath.Join(dataDir, "ca-bundle.pem")
			if err := ca.WriteBundle(bundle); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "data directory %s is ready\nCA: %s\nCA bundle for clients: %s\n", dataDir, filepath.Join(dataDir, "ca.pem"), bundle)
			return nil
		},
	}
	cmd.Flags().StringVar(&dataDir, "data-dir", "", "data directory to prepare (required)")
	cmd.Flags().StringVar(&kekFile, "kek-file", "", "key-encryption key file (default <data-dir>/kek)")
	return cmd
}
