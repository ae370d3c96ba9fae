//go:build unix

// Package cputime reads the CPU time this process has used, so that a benchmark can report CPU
// per operation, a figure that holds still when the machine's load moves the rates.
package cputime

import (
	"syscall"
	"time"
)

// Process is the user and system CPU time the whole process has used: every thread, the
// measured handler's and the background loops' (such as the sign-in log's) alike.
func Process() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
