package e2e

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestBenchShortProducesEveryFigure runs `mint bench --short` as CI does: the figures are not
// asserted (speed is measured, not tested), but each must be produced, with its ceiling.
func TestBenchShortProducesEveryFigure(t *testing.T) {
	out := filepath.Join(t.TempDir(), "bench.json")
	cmd := exec.Command(mintBin, "bench", "--short", "--json", out)
	cmd.Env = cleanEnv()
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("mint bench: %v\n%s", err, b)
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var rep struct {
		Figures []struct {
			Name    string
			Value   float64
			Ceiling float64
		}
	}
	if err := json.Unmarshal(data, &rep); err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{
		"mint dev cold start (median)":                                   false,
		"fresh app tokens issued per second (HTTPS, client_credentials)": true,
		"token request latency p99":                                      false,
	}
	got := map[string]bool{}
	for _, f := range rep.Figures {
		if f.Value <= 0 {
			t.Errorf("figure %q has no value", f.Name)
		}
		got[f.Name] = true
		if needsCeiling, ok := want[f.Name]; ok && needsCeiling && f.Ceiling <= 0 {
			t.Errorf("figure %q has no ceiling measured beside it", f.Name)
		}
	}
	for name := range want {
		if !got[name] {
			t.Errorf("figure %q missing from the report", name)
		}
	}
}
