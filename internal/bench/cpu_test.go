package bench

import (
	"strings"
	"testing"
	"time"
)

func TestCPUNote(t *testing.T) {
	raw := stats{n: 2000, dur: time.Second, cpu: cpuUse{self: 1900 * time.Millisecond, server: 10 * time.Millisecond}}
	tokens := stats{n: 1400, dur: time.Second, cpu: cpuUse{self: 210 * time.Millisecond, server: 1750 * time.Millisecond}}
	got := cpuNote(tokens, raw, 2)
	for _, want := range []string{"CPU per token 1400 µs (mint dev 1250, load generator 150)", "950 µs per raw signature", "0.68 by CPU", "used 1.90 of 2 cores", "mint dev 0.01 cores"} {
		if !strings.Contains(got, want) {
			t.Errorf("cpuNote = %q, want it to contain %q", got, want)
		}
	}
	if got := cpuNote(tokens, stats{n: 10}, 2); got != "" {
		t.Errorf("cpuNote without CPU times = %q, want empty", got)
	}
}

func TestLoadOnCountsThisProcess(t *testing.T) {
	s, err := loadOn(t.Context(), nil, 300*time.Millisecond, 2, func(int) error {
		for i := 0; i < 100_000; i++ {
			_ = strings.Repeat("x", i%7)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if s.cpu.self <= 0 || s.cpu.server != 0 {
		t.Errorf("cpu = %+v, want this process's CPU and no server's", s.cpu)
	}
}
