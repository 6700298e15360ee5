// Package testenv lets tests find the real servers they run against.
//
// A test that needs a server reads its address from an environment variable
// with a local default, and calls Unavailable when the server does not
// answer: the test is skipped with a message saying how to start it, or
// fails when CACHIER_REQUIRE_SERVICES=1 (as in CI), where a skipped backend
// would pass for a tested one.
package testenv

import (
	"os"
	"testing"
)

// Getenv returns the value of the environment variable key, or def when it
// is unset or empty.
func Getenv(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

// Required reports whether CACHIER_REQUIRE_SERVICES=1 is set.
func Required() bool { return os.Getenv("CACHIER_REQUIRE_SERVICES") == "1" }

// Unavailable ends the test because service (at addr) could not be reached:
// a skip normally, a failure when services are required.
func Unavailable(t testing.TB, service, addr string, err error) {
	t.Helper()
	msg := service + " not reachable at " + addr + ": " + err.Error() +
		" (run `make services` to start it, or set the address variable)"
	if Required() {
		t.Fatal(msg + "; CACHIER_REQUIRE_SERVICES=1, so this is a failure")
	}
	t.Skip(msg)
}
