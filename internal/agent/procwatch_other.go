//go:build !linux

package agent

import "syscall"

// processStart reports whether process pid exists; without /proc there is no start time to
// tell a reused pid apart, so it is always 1.
func processStart(pid int) (uint64, bool) {
	if pid <= 0 {
		return 0, false
	}
	err := syscall.Kill(pid, 0)
	return 1, err == nil || err == syscall.EPERM
}
