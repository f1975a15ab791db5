package executor

import (
	"fmt"
	"math"
	"time"
)

// RampingVUs is k6's ramping-vus executor: the number of looping VUs moves
// linearly from VUs through each stage's target.
const RampingVUs = "ramping-vus"

func init() { register(RampingVUs, newRampingVUs) }

type rampingVUs struct{ looping }

func newRampingVUs(c Config) (Executor, error) {
	if len(c.Stages) == 0 {
		return nil, fmt.Errorf("%s needs --stages", c.Kind)
	}
	return &rampingVUs{looping{Config: c, planned: stagesDuration(c.Stages),
		maxVUs: int(math.Ceil(maxTarget(float64(c.VUs), c.Stages))),
		active: func(now, start time.Time) int {
			return int(math.Round(stageValue(float64(c.VUs), c.Stages, now.Sub(start))))
		}}}, nil
}

func (e *rampingVUs) Kind() string { return RampingVUs }

func (e *rampingVUs) Describe() string {
	return fmt.Sprintf("up to %d looping VUs over %d stages for %s", e.maxVUs, len(e.Stages), e.planned)
}
