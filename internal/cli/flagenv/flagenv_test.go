package flagenv

import (
	"strings"
	"testing"

	"github.com/spf13/pflag"
)

func TestApplyFillsUnsetFlagsFromMintVariables(t *testing.T) {
	t.Setenv("MINT_DATA_DIR", "/var/lib/mint-agent")
	t.Setenv("MINT_PROXY_ADDR", "127.0.0.1:1")
	t.Setenv("MINT_RATE_BURST", "not a number")
	fs := pflag.NewFlagSet("agent", pflag.ContinueOnError)
	dataDir := fs.String("data-dir", "", "")
	proxy := fs.String("proxy-addr", "127.0.0.1:42357", "")
	fs.Parse([]string{"--proxy-addr", "127.0.0.1:2"})
	err := Apply(fs)
	if *dataDir != "/var/lib/mint-agent" {
		t.Errorf("--data-dir %q, want MINT_DATA_DIR's", *dataDir)
	}
	if *proxy != "127.0.0.1:2" {
		t.Errorf("--proxy-addr %q: the command line must win over MINT_PROXY_ADDR", *proxy)
	}
	if err != nil {
		t.Fatalf("no int flag was defined, so MINT_RATE_BURST is not read: %v", err)
	}
	fs.Int("rate-burst", 1, "")
	if err := Apply(fs); err == nil || !strings.Contains(err.Error(), "MINT_RATE_BURST") {
		t.Errorf("a bad MINT_RATE_BURST: %v, want an error naming it", err)
	}
}
