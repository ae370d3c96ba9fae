//go:build unix

package sqlite

import (
	"syscall"
	"time"
)

// processCPU is the CPU time the whole process has used (every thread: the handler's and the
// background loops' such as the sign-in log's), so that a benchmark can report CPU per request
// however loaded the machine is.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
