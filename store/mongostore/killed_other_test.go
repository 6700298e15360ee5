//go:build !unix

package mongostore_test

import "os/exec"

// killed reports whether the child process ended by Process.Kill: on
// systems without Unix signals, that it did not exit successfully.
func killed(exit *exec.ExitError) bool { return !exit.Success() }
