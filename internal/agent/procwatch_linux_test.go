//go:build linux

package agent

import (
	"os"
	"testing"
)

func TestStatStartTime(t *testing.T) {
	for _, tc := range []struct {
		line string
		want uint64
		ok   bool
	}{
		{"1234 (sleep) S 1 1234 1234 0 -1 4194304 95 0 0 0 0 0 0 0 20 0 1 0 987654 8286208 224 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0\n", 987654, true},
		{"1234 (a b) c) R 1 1234 1234 0 -1 4194304 95 0 0 0 0 0 0 0 20 0 1 0 42 8286208 224\n", 42, true},
		{"1234 (sleep) Z 1 1234 1234 0 -1 4194304 95 0 0 0 0 0 0 0 20 0 1 0 987654 0 0\n", 0, false},
		{"1234 (sleep) S 1 1234", 0, false},
		{"no parenthesis", 0, false},
		{"1234 (x) S 1 1234 1234 0 -1 4194304 95 0 0 0 0 0 0 0 20 0 1 0 98x7 0 0\n", 0, false},
	} {
		got, ok := statStartTime([]byte(tc.line))
		if got != tc.want || ok != tc.ok {
			t.Errorf("statStartTime(%q) = %d, %v, want %d, %v", tc.line, got, ok, tc.want, tc.ok)
		}
	}
	start, ok := processStart(os.Getpid())
	if !ok || start == 0 {
		t.Fatalf("processStart(self) = %d, %v", start, ok)
	}
	if again, _ := processStart(os.Getpid()); again != start {
		t.Errorf("processStart(self) = %d then %d", start, again)
	}
	if n := testing.AllocsPerRun(100, func() { processStart(os.Getpid()) }); n > 6 {
		t.Errorf("processStart allocates %.0f times, want at most 6 (the path and os.Open's file)", n)
	}
}
