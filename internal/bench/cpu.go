package bench

import (
	"context"
	"fmt"
	"os"
	"time"
)

// CPU accounting of the token figures' rounds. A rate beside its ceiling says how fast, not
// why: a ceiling can move because the bench's signatures got less of the machine, or because
// each took longer on the same CPU (the host under a virtual machine, frequency). So each round
// also counts the CPU time the bench process and the mint dev under load used, from
// /proc/<pid>/stat (procCPU), and the notes give it per token and per raw signature: figures that hold
// still under load where rates do not.

// cpuUse is CPU time (user + system) of the bench's own process and of mint dev.
type cpuUse struct{ self, server time.Duration }

func (u cpuUse) plus(o cpuUse) cpuUse  { return cpuUse{u.self + o.self, u.server + o.server} }
func (u cpuUse) minus(o cpuUse) cpuUse { return cpuUse{u.self - o.self, u.server - o.server} }

// cpuNow reads both processes' CPU time so far; a process it cannot read counts 0 (not Linux).
func (i *instance) cpuNow() cpuUse {
	u := cpuUse{self: procCPU(os.Getpid())}
	if i != nil && i.cmd != nil && i.cmd.Process != nil {
		u.server = procCPU(i.cmd.Process.Pid)
	}
	return u
}

// loadOn is loadFor against inst, with the CPU both processes used during the timed part
// (the warm-up calls included: one per worker, a few thousandths of a round).
func loadOn(ctx context.Context, inst *instance, d time.Duration, concurrency int, do func(worker int) error) (stats, error) {
	before := inst.cpuNow()
	s, err := loadFor(ctx, d, concurrency, do)
	s.cpu = inst.cpuNow().minus(before)
	return s, err
}

// cpuNote says what a token cost in CPU beside what a raw signature cost, both from the same
// run's alternating rounds, and how much of the machine the ceiling's rounds got; "" when the
// CPU times could not be read.
func cpuNote(tokens, raw stats, cores int) string {
	if tokens.n == 0 || raw.n == 0 || raw.cpu.self <= 0 || tokens.cpu.server <= 0 {
		return ""
	}
	per := func(d time.Duration, n int) float64 { return float64(d.Microseconds()) / float64(n) }
	sig := per(raw.cpu.self, raw.n)
	server, client := per(tokens.cpu.server, tokens.n), per(tokens.cpu.self, tokens.n)
	return fmt.Sprintf("CPU per token %.0f µs (mint dev %.0f, load generator %.0f) against %.0f µs per raw signature: %.2f by CPU; the ceiling's rounds used %.2f of %d cores, mint dev %.2f cores meanwhile",
		server+client, server, client, sig, sig/(server+client), raw.cpu.self.Seconds()/raw.dur.Seconds(), cores, raw.cpu.server.Seconds()/raw.dur.Seconds())
}

// joinNotes joins the non-empty parts of a figure's note.
func joinNotes(parts ...string) string {
	out := ""
	for _, p := range parts {
		if p == "" {
			continue
		}
		if out != "" {
			out += "; "
		}
		out += p
	}
	return out
}
