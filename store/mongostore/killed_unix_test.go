//go:build unix

package mongostore_test

import (
	"os/exec"
	"syscall"
)

// killed reports whether the child process ended by Process.Kill:
// SIGKILL, on Unix.
func killed(exit *exec.ExitError) bool {
	ws, ok := exit.Sys().(syscall.WaitStatus)
	return ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL
}
