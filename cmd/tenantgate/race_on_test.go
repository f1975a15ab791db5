//go:build race

package main

// raceEnabled: the race detector slows the binary and the pure-Go SQLite
// many times over and distorts scheduling, so timed bounds are checked only
// in make test's non-race pass.
const raceEnabled = true
