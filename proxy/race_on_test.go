//go:build race

package proxy_test

// raceEnabled: the race detector slows SQLite's VM many times over and
// distorts scheduling, so timed bounds are checked only without it.
const raceEnabled = true
