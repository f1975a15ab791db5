package executor

import (
	"fmt"
	"time"
)

// ConstantArrivalRate is k6's constant-arrival-rate executor: Rate
// iterations per TimeUnit for Duration, whatever the server does.
const ConstantArrivalRate = "constant-arrival-rate"

func init() { register(ConstantArrivalRate, newConstantArrivalRate) }

type constantArrivalRate struct{ arrival }

func newConstantArrivalRate(c Config) (Executor, error) {
	if c.Rate <= 0 || c.Duration <= 0 {
		return nil, fmt.Errorf("%s needs --rate > 0 and --duration > 0", c.Kind)
	}
	c = withArrivalDefaults(c)
	per := c.TimeUnit.Seconds() / c.Rate // seconds between arrivals
	return &constantArrivalRate{arrival{Config: c, planned: c.Duration,
		schedule: func(i int64) (time.Duration, bool) {
			off := time.Duration(float64(i) * per * float64(time.Second))
			return off, off < c.Duration
		}}}, nil
}

func (e *constantArrivalRate) Kind() string      { return ConstantArrivalRate }
func (e *constantArrivalRate) PeakRate() float64 { return e.Rate / e.TimeUnit.Seconds() }

func (e *constantArrivalRate) Describe() string {
	return fmt.Sprintf("%.6g iterations/%s for %s (maxVUs: %d-%d)", e.Rate, e.TimeUnit, e.Duration, e.VUs, e.Config.MaxVUs)
}
