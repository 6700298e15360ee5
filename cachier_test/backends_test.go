package cachier_test

import (
	"testing"

	"github.com/cachier-go/cachier"
)

// A backend is how a test selects one store for the functions it decorates.
type backend struct {
	// tag is added to every tag the scenarios use, e.g.
	// "backend=file,cache_dir=/tmp/x" or "backend=sql".
	tag string
	// opts are passed to every Decorate call, e.g.
	// cachier.WithStore("sql", st).
	opts []cachier.Option
}

// A backendDef registers a backend with the shared scenarios
// (TestScenarios) and the multi-process race (TestProcessRace).
type backendDef struct {
	// open returns the backend for a test. dir is a directory that every
	// process of one race shares (a cache_dir, an SQLite file); in
	// single-process scenarios it is the test's own temporary directory.
	// open skips the test (or fails it, under CACHIER_REQUIRE_SERVICES=1)
	// when the backend's server does not answer, and registers with t.Cleanup
	// whatever it opened.
	open func(t *testing.T, dir string) backend

	// crossProcess is true for stores that processes share, so that the
	// multi-process race applies to them.
	crossProcess bool
}

// backends holds every registered backend by name; each backend's test file
// adds itself in an init function.
var backends = map[string]backendDef{}
