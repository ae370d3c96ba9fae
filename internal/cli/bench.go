package cli

import (
	"encoding/json"
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/mint-id/mint/internal/bench"
)

func newBenchCmd() *cobra.Command {
	var duration time.Duration
	var jsonOut string
	var short bool
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Measure mint's figures beside their ceilings, in one run",
		Long: `Start a real mint dev on loopback and measure: cold start; fresh token issuance per second
through HTTPS against raw RSA signing on the same machine in the same run; request latency
percentiles. Prints a table and, with --json, writes the report.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			opts := bench.Options{Duration: duration, Log: cmd.ErrOrStderr()}
			if short {
				opts.Duration, opts.ColdStarts = time.Second, 2
			}
			rep, err := bench.Run(cmd.Context(), opts)
			if err != nil {
				return err
			}
			rep.WriteTable(cmd.OutOrStdout())
			if jsonOut != "" {
				data, _ := json.MarshalIndent(rep, "", "  ")
				if err := os.WriteFile(jsonOut, append(data, '\n'), 0o644); err != nil {
					return err
				}
				fmt.Fprintf(cmd.ErrOrStderr(), "report written to %s\n", jsonOut)
			}
			return nil
		},
	}
	cmd.Flags().DurationVar(&duration, "duration", 10*time.Second, "length of each throughput measurement")
	cmd.Flags().StringVar(&jsonOut, "json", "", "write the report as JSON to this file")
	cmd.Flags().BoolVar(&short, "short", false, "a quick run that checks every figure is produced (CI)")
	return cmd
}
