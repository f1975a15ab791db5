package executor

import (
	"fmt"
	"math"
	"time"
)

// RampingArrivalRate is k6's ramping-arrival-rate executor: the arrival
// rate moves linearly from StartRate through each stage's target.
const RampingArrivalRate = "ramping-arrival-rate"

func init() { register(RampingArrivalRate, newRampingArrivalRate) }

type rampingArrivalRate struct{ arrival }

func newRampingArrivalRate(c Config) (Executor, error) {
	if len(c.Stages) == 0 {
		return nil, fmt.Errorf("%s needs --stages", c.Kind)
	}
	c = withArrivalDefaults(c)
	return &rampingArrivalRate{arrival{Config: c, planned: stagesDuration(c.Stages), schedule: rampingSchedule(c)}}, nil
}

func (e *rampingArrivalRate) Kind() string { return RampingArrivalRate }

func (e *rampingArrivalRate) PeakRate() float64 {
	return maxTarget(e.StartRate, e.Stages) / e.TimeUnit.Seconds()
}

func (e *rampingArrivalRate) Describe() string {
	return fmt.Sprintf("up to %.6g iterations/%s over %d stages for %s (maxVUs: %d-%d)",
		maxTarget(e.StartRate, e.Stages), e.TimeUnit, len(e.Stages), e.planned, e.VUs, e.Config.MaxVUs)
}

// rampingSchedule places the arrivals of a piecewise-linear rate r(t):
// arrival i happens when the integral of r reaches i. Each stage's
// cumulative count is computed once.
func rampingSchedule(c Config) func(i int64) (time.Duration, bool) {
	unit := c.TimeUnit.Seconds()
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
