//go:build !unix

// Package cputime reads the CPU time this process has used, so that a benchmark can report CPU
// per operation, a figure that holds still when the machine's load moves the rates.
package cputime

import "time"

// Process is not measured here: 0, and the benchmarks then report wall time only.
func Process() time.Duration { return 0 }
