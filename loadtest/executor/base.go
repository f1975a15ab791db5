// Package executor holds the load shapes, k6's way: one type per executor
// (constant-arrival-rate, ramping-arrival-rate, constant-vus,
// ramping-vus), each registering itself by name. The runner builds one
// from a Config with New and calls Run; nothing outside this package
// switches on the executor's kind.
package executor

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Config is the load shape as the command line gives it (k6's options):
// each executor reads the fields it uses.
type Config struct {
	Kind         string        // an executor name
	Rate         float64       // constant-arrival-rate: iterations per TimeUnit
	StartRate    float64       // ramping-arrival-rate: rate at t=0
	TimeUnit     time.Duration // default 1s
	Duration     time.Duration // constant-*: how long to run
	VUs          int           // arrival-rate: pre-allocated VUs; constant-vus: VUs; ramping-vus: start VUs
	MaxVUs       int           // arrival-rate: VU cap (0 = VUs)
	Stages       []Stage       // ramping-*
	GracefulStop time.Duration // how long in-flight iterations may finish after the end
}

// Executor drives iterations in one load shape.
type Executor interface {
	// Kind is the executor's name, as in k6.
	Kind() string
	// Describe is a one-line description, as in k6's scenario line.
	Describe() string
	// PlannedDuration is how long the executor schedules work (without
	// the graceful stop).
	PlannedDuration() time.Duration
	// MaxVUs is the most VUs the executor may use.
	MaxVUs() int
	// PeakRate is the highest arrival rate it schedules, per second (0
	// for executors that loop VUs instead).
	PeakRate() float64
	// Run drives iterations until the planned duration has passed or ctx
	// ends, then waits up to the graceful stop for those in flight.
	Run(ctx context.Context, env *Env, start time.Time)
}

// Iteration runs one iteration of a VU that was scheduled to start at
// scheduled.
type Iteration func(scheduled time.Time)

// Env is what an executor needs from the runner.
type Env struct {
	NewVU     func() Iteration // a new VU
	Dropped   func(n int64)    // iterations that found no free VU
	Allocated atomic.Int64     // VUs created
}

// registry maps executor names to constructors; each executor's file
// registers itself in init, as k6's lib/executor does.
var registry = map[string]func(Config) (Executor, error){}

func register(kind string, newExecutor func(Config) (Executor, error)) { registry[kind] = newExecutor }

// Kinds lists the executor names, sorted.
func Kinds() []string { return slices.Sorted(maps.Keys(registry)) }

// New validates c and returns its executor.
func New(c Config) (Executor, error) {
	newExecutor, ok := registry[c.Kind]
	if !ok {
		return nil, fmt.Errorf("unknown executor %q (want %s)", c.Kind, strings.Join(Kinds(), ", "))
	}
	if c.TimeUnit <= 0 {
		c.TimeUnit = time.Second
	}
	if c.VUs < 0 || c.MaxVUs < 0 {
		return nil, fmt.Errorf("--vus and --max-vus must be >= 0")
	}
	return newExecutor(c)
}

// finish waits for the iterations in wg, at most c.GracefulStop.
func finish(c Config, wg *sync.WaitGroup) {
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	grace := time.NewTimer(c.GracefulStop)
	defer grace.Stop()
	select {
	case <-done:
	case <-grace.C:
	}
}

// sleepUntil waits until t or until ctx ends.
func sleepUntil(ctx context.Context, t time.Time) {
	select {
	case <-time.After(time.Until(t)):
	case <-ctx.Done():
	}
}
