package cli

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/mint-id/mint/internal/bench"
)

func newBenchCmd() *cobra.Command {
	var duration time.Duration
	var jsonOut, markdownOut, svgOut, postgresURL, agentBinary string
	var short, scale bool
	var scaleSizes []int
	var only []string
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Measure mint's figures beside their ceilings, in one run",
		Long: `Start real mint processes on loopback and measure every figure, each beside its ceiling
measured in the same run:

  mint dev cold start;
  fresh token issuance per second through HTTPS, against raw RSA signing;
  vault secret GETs per second, against a bare net/http TLS handler;
  time from detaching a user-assigned identity to the vault refusing its token;
  identity creates per second through ARM on SQLite (and on PostgreSQL with --postgres-url);
  cached token requests per second through a standalone mint agent, against a bare handler;
  time from mint run to the workload's first token; the agent's RSS with 1,000 cached tokens;
  refresh-token redemptions per second, against raw RSA signing; password sign-ins per second, and
  other clients' token rate under a password spray;
  RBAC decision time and memory with 1,000,000 assignments, and through 50 nested groups (in process);
  identity list latency at 100,000 identities;
  with --scale, the scale curve: at 1,000, 100,000 and 1,000,000 identities (each with a role
  assignment; on SQLite, and on PostgreSQL with --postgres-url) the fresh-token, vault GET and
  first-page list p99s and the server's RSS, against the goal of p99 within 1.3x of the smallest.

Prints a table of values, p50s, p99s and ratios and, with --json, writes the report. A full run
takes about a minute and a half on two cores; --short (CI) produces every figure at small scales in
well under one. docs/benchmarks.md explains each figure.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if postgresURL == "" {
				postgresURL = os.Getenv("MINT_TEST_POSTGRES_URL")
			}
			opts := bench.Options{ScaleCurve: scale, Scale: bench.Scale{ScaleSizes: scaleSizes}, AgentBinary: agentBinary, Duration: duration, Log: cmd.ErrOrStderr(), Short: short, PostgresURL: postgresURL, Only: only}
			if short {
				opts.ColdStarts = 2
				if !cmd.Flags().Changed("duration") {
					opts.Duration = time.Second
				}
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
			if markdownOut != "" {
				var b strings.Builder
				rep.WriteMarkdown(&b)
				if err := os.WriteFile(markdownOut, []byte(b.String()), 0o644); err != nil {
					return err
				}
				fmt.Fprintf(cmd.ErrOrStderr(), "table written to %s\n", markdownOut)
			}
			if svgOut != "" {
				var b strings.Builder
				if err := rep.WriteSVG(&b); err != nil {
					return err
				}
				if err := os.WriteFile(svgOut, []byte(b.String()), 0o644); err != nil {
					return err
				}
				fmt.Fprintf(cmd.ErrOrStderr(), "chart written to %s\n", svgOut)
			}
			return nil
		},
	}
	cmd.Flags().DurationVar(&duration, "duration", 5*time.Second, "length of each throughput measurement")
	cmd.Flags().StringVar(&jsonOut, "json", "", "write the report as JSON to this file")
	cmd.Flags().StringVar(&markdownOut, "markdown", "", "write the figures as a Markdown table to this file (as docs/benchmarks.md shows them)")
	cmd.Flags().StringVar(&svgOut, "svg", "", "draw each figure against its ceiling or goal as an SVG chart in this file (docs/benchmarks.svg)")
	cmd.Flags().BoolVar(&short, "short", false, "a quick run at small scales that checks every figure is produced (CI)")
	cmd.Flags().StringVar(&postgresURL, "postgres-url", "", "PostgreSQL superuser URL; the run creates and drops a database there for the PostgreSQL figure (default $MINT_TEST_POSTGRES_URL)")
	cmd.Flags().StringVar(&agentBinary, "agent-binary", "", "the lean node agent whose RSS is the agent figure (default: mint-agent beside this mint, if there; else `mint agent` is measured)")
	cmd.Flags().BoolVar(&scale, "scale", false, "also measure the scale curve (minutes: it loads up to a million identities per store)")
	cmd.Flags().IntSliceVar(&scaleSizes, "scale-sizes", nil, "directory sizes of the scale curve (default 1000,100000,1000000; --short 100,1000)")
	cmd.Flags().StringSliceVar(&only, "only", nil, "measure only these groups: "+strings.Join(bench.Groups, ", "))
	return cmd
}
