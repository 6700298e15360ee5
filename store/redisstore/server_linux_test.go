package redisstore_test

import (
	"os/exec"
	"syscall"
)

// dieWithTest has the kernel kill the server when the test binary dies
// (a timeout, a crash) before its cleanup could.
func dieWithTest(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
