//go:build !linux

package redisstore_test

import "os/exec"

// dieWithTest does nothing here: servers are stopped by the tests' cleanup.
func dieWithTest(*exec.Cmd) {}
