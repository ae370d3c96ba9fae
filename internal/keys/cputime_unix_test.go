//go:build unix

package keys

import (
	"syscall"
	"time"
)

// processCPU is the CPU time this process has used. The benchmarks report it per operation
// because on a shared machine wall time per operation measures the neighbours as much as the
// code.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
