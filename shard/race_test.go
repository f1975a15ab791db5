//go:build race

package shard_test

// raceEnabled shrinks the slowest tests under the race detector, which
// makes SQLite (transpiled C) roughly ten times slower.
const raceEnabled = true
