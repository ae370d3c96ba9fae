package agentcmd

import "testing"

// The lean binary's command line without cobra: help succeeds, anything it does not take fails
// before the agent starts.
func TestExecuteCommandLine(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want int
	}{
		{[]string{"--help"}, 0},
		{[]string{"-h"}, 0},
		{[]string{"serve"}, 1},
		{[]string{"--no-such-flag"}, 1},
		{[]string{"--rate-limit", "fast"}, 1},
	} {
		if got := Execute(tc.args); got != tc.want {
			t.Errorf("mint-agent %v: exit %d, want %d", tc.args, got, tc.want)
		}
	}
}
