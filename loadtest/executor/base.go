package loadtest

import (
	"context"
	"fmt"
	"math"
	"sync"
	"sync/atomic"
	"time"
)

// Executor names, as in k6.
const (
	ConstantArrivalRate = "constant-arrival-rate"
	RampingArrivalRate  = "ramping-arrival-rate"
	ConstantVUs         = "constant-vus"
	RampingVUs          = "ramping-vus"
)

// ExecutorConfig describes the load shape.
type ExecutorConfig struct {
	Kind         string        // one of the executor names
	Rate         float64       // constant-arrival-rate: iterations per TimeUnit
	StartRate    float64       // ramping-arrival-rate: rate at t=0
	TimeUnit     time.Duration // default 1s
	Duration     time.Duration // constant-*: how long to run
	VUs          int           // arrival-rate: pre-allocated VUs; constant-vus: VUs; ramping-vus: start VUs
	MaxVUs       int           // arrival-rate: VU cap (0 = VUs)
	Stages       []Stage       // ramping-*
	GracefulStop time.Duration // how long in-flight iterations may finish after the end
}

// Validate checks the configuration and fills defaults.
func (c *ExecutorConfig) Validate() error {
	if c.TimeUnit <= 0 {
		c.TimeUnit = time.Second
	}
	switch c.Kind {
	case ConstantArrivalRate:
		if c.Rate <= 0 || c.Duration <= 0 {
			return fmt.Errorf("%s needs --rate > 0 and --duration > 0", c.Kind)
		}
	case RampingArrivalRate:
		if len(c.Stages) == 0 {
			return fmt.Errorf("%s needs --stages", c.Kind)
		}
	case ConstantVUs:
		if c.VUs <= 0 || c.Duration <= 0 {
			return fmt.Errorf("%s needs --vus > 0 and --duration > 0", c.Kind)
		}
	case RampingVUs:
		if len(c.Stages) == 0 {
			return fmt.Errorf("%s needs --stages", c.Kind)
		}
	default:
		return fmt.Errorf("unknown executor %q (want %s, %s, %s or %s)", c.Kind, ConstantArrivalRate, RampingArrivalRate, ConstantVUs, RampingVUs)
	}
	if c.VUs < 0 || c.MaxVUs < 0 {
		return fmt.Errorf("--vus and --max-vus must be >= 0")
	}
	if c.isArrival() {
		if c.VUs == 0 {
			c.VUs = 1
		}
		if c.MaxVUs < c.VUs {
			c.MaxVUs = c.VUs
		}
	}
	return nil
}

func (c *ExecutorConfig) isArrival() bool {
	return c.Kind == ConstantArrivalRate || c.Kind == RampingArrivalRate
}

// PlannedDuration is how long the executor schedules work (without the
// graceful stop).
func (c *ExecutorConfig) PlannedDuration() time.Duration {
	if c.Kind == RampingArrivalRate || c.Kind == RampingVUs {
		return stagesDuration(c.Stages)
	}
	return c.Duration
}

// MaxVUCount is the most VUs the executor may use.
func (c *ExecutorConfig) MaxVUCount() int {
	switch c.Kind {
	case ConstantVUs:
		return c.VUs
	case RampingVUs:
		m := float64(c.VUs)
		for _, s := range c.Stages {
			m = math.Max(m, s.Target)
		}
		return int(math.Ceil(m))
	}
	return c.MaxVUs
}

// Describe is a one-line description, as in k6's scenario line.
func (c *ExecutorConfig) Describe() string {
	switch c.Kind {
	case ConstantArrivalRate:
		return fmt.Sprintf("%.6g iterations/%s for %s (maxVUs: %d-%d)", c.Rate, c.TimeUnit, c.Duration, c.VUs, c.MaxVUs)
	case RampingArrivalRate:
		return fmt.Sprintf("up to %.6g iterations/%s over %d stages for %s (maxVUs: %d-%d)", c.maxTarget(c.StartRate), c.TimeUnit, len(c.Stages), c.PlannedDuration(), c.VUs, c.MaxVUs)
	case ConstantVUs:
		return fmt.Sprintf("%d looping VUs for %s", c.VUs, c.Duration)
	case RampingVUs:
		return fmt.Sprintf("up to %d looping VUs over %d stages for %s", c.MaxVUCount(), len(c.Stages), c.PlannedDuration())
	}
	return c.Kind
}

func (c *ExecutorConfig) maxTarget(start float64) float64 {
	m := start
	for _, s := range c.Stages {
		m = math.Max(m, s.Target)
	}
	return m
}

// iterFunc runs one iteration that was scheduled to start at scheduled.
type iterFunc func(vu *VU, scheduled time.Time)

// execEnv is what an executor needs from the runner.
type execEnv struct {
	newVU     func() *VU
	iterate   iterFunc
	dropped   func(n int64)
	busy      atomic.Int64 // VUs inside an iteration
	allocated atomic.Int64 // VUs created
}

// runExecutor drives c until its planned duration has passed or ctx is
// cancelled, then waits up to GracefulStop for in-flight iterations.
func runExecutor(ctx context.Context, c *ExecutorConfig, env *execEnv, start time.Time) {
	var wg sync.WaitGroup
	switch c.Kind {
	case ConstantArrivalRate, RampingArrivalRate:
		runArrival(ctx, c, env, start, &wg)
		// The last arrival is scheduled before the end; the test still
		// lasts its full duration, as in k6.
		select {
		case <-time.After(time.Until(start.Add(c.PlannedDuration()))):
		case <-ctx.Done():
		}
	case ConstantVUs, RampingVUs:
		runLooping(ctx, c, env, start, &wg)
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	grace := time.NewTimer(c.GracefulStop)
	defer grace.Stop()
	select {
	case <-done:
	case <-grace.C:
	}
}

// arrivalSchedule returns the offset of the i-th arrival (0-based) from the
// start, or ok=false when it lies past the end.
func arrivalSchedule(c *ExecutorConfig) func(i int64) (time.Duration, bool) {
	unit := c.TimeUnit.Seconds()
	if c.Kind == ConstantArrivalRate {
		per := unit / c.Rate // seconds between arrivals
		end := c.Duration
		return func(i int64) (time.Duration, bool) {
			off := time.Duration(float64(i) * per * float64(time.Second))
			return off, off < end
		}
	}
	// Ramping: the rate r(t) is piecewise linear; arrival i happens when the
	// integral of r reaches i. Precompute each stage's cumulative count.
	type seg struct {
		t0     float64 // stage start, seconds
		c0     float64 // arrivals before the stage
		r0, r1 float64 // rate per second at both ends
		dur    float64
	}
	var segs []seg
	t, cum, r := 0.0, 0.0, c.StartRate/unit
	for _, s := range c.Stages {
		r1 := s.Target / unit
		d := s.Duration.Seconds()
		segs = append(segs, seg{t0: t, c0: cum, r0: r, r1: r1, dur: d})
		cum += (r + r1) / 2 * d
		t += d
		r = r1
	}
	total := cum
	return func(i int64) (time.Duration, bool) {
		k := float64(i)
		if k >= total {
			return 0, false
		}
		for _, s := range segs {
			n := (s.r0 + s.r1) / 2 * s.dur
			if k >= s.c0+n {
				continue
			}
			x := k - s.c0
			var off float64
			a := (s.r1 - s.r0) / s.dur
			if math.Abs(a) < 1e-12 {
				off = x / s.r0
			} else {
				off = (-s.r0 + math.Sqrt(s.r0*s.r0+2*a*x)) / a
			}
			return time.Duration((s.t0 + off) * float64(time.Second)), true
		}
		return 0, false
	}
}

// runArrival is the open model: iterations start on schedule whatever the
// server does. An idle VU takes each one; with none idle a new VU is started
// up to MaxVUs, beyond that the iteration is dropped.
func runArrival(ctx context.Context, c *ExecutorConfig, env *execEnv, start time.Time, wg *sync.WaitGroup) {
	type worker struct{ work chan time.Time }
	// idle holds the VUs waiting for work. A VU returns itself here before
	// it blocks, so a VU is never both idle and unreachable.
	idle := make(chan *worker, c.MaxVUs)
	var all []*worker
	spawn := func(first time.Time) {
		vu := env.newVU()
		env.allocated.Add(1)
		w := &worker{work: make(chan time.Time, 1)}
		all = append(all, w)
		if first.IsZero() {
			idle <- w
		} else {
			w.work <- first
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case t, ok := <-w.work:
					if !ok {
						return
					}
					env.iterate(vu, t)
					idle <- w
				case <-ctx.Done():
					return
				}
			}
		}()
	}
	defer func() {
		for _, w := range all {
			close(w.work)
		}
	}()
	for i := 0; i < c.VUs; i++ {
		spawn(time.Time{})
	}
	sched := arrivalSchedule(c)
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	var dropped int64
	flush := func() {
		if dropped > 0 {
			env.dropped(dropped)
			dropped = 0
		}
	}
	defer flush()
	for i := int64(0); ; i++ {
		off, ok := sched(i)
		if !ok {
			return
		}
		at := start.Add(off)
		if wait := time.Until(at); wait > 0 {
			flush()
			timer.Reset(wait)
			select {
			case <-timer.C:
			case <-ctx.Done():
				return
			}
		} else if ctx.Err() != nil {
			return
		}
		select {
		case w := <-idle:
			w.work <- at
		default:
			if env.allocated.Load() < int64(c.MaxVUs) {
				spawn(at)
			} else {
				dropped++
			}
		}
	}
}

// runLooping is the closed model: each active VU runs iterations back to
// back; ramping-vus changes how many are active.
func runLooping(ctx context.Context, c *ExecutorConfig, env *execEnv, start time.Time, wg *sync.WaitGroup) {
	end := start.Add(c.PlannedDuration())
	active := func(now time.Time) int {
		if c.Kind == ConstantVUs {
			return c.VUs
		}
		return int(math.Round(stageValue(float64(c.VUs), c.Stages, now.Sub(start))))
	}
	n := c.MaxVUCount()
	for i := 0; i < n; i++ {
		vu := env.newVU()
		env.allocated.Add(1)
		wg.Add(1)
		go func(idx int) {
			defer wg.Done()
			for ctx.Err() == nil {
				now := time.Now()
				if !now.Before(end) {
					return
				}
				if idx >= active(now) {
					// Parked: this VU is above the current target.
					select {
					case <-time.After(10 * time.Millisecond):
					case <-ctx.Done():
					}
					continue
				}
				env.iterate(vu, now)
			}
		}(i)
	}
	select {
	case <-time.After(time.Until(end)):
	case <-ctx.Done():
	}
}
