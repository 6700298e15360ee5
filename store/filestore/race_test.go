//go:build race

package filestore

// raceEnabled is true when the race detector is on: the tests that start
// many processes start fewer, each being slower.
const raceEnabled = true
