package executor

import (
	"fmt"
	"time"
)

// ConstantVUs is k6's constant-vus executor: VUs looping for Duration.
const ConstantVUs = "constant-vus"

func init() { register(ConstantVUs, newConstantVUs) }

type constantVUs struct{ looping }

func newConstantVUs(c Config) (Executor, error) {
	if c.VUs <= 0 || c.Duration <= 0 {
		return nil, fmt.Errorf("%s needs --vus > 0 and --duration > 0", c.Kind)
	}
	return &constantVUs{looping{Config: c, planned: c.Duration, maxVUs: c.VUs,
		active: func(time.Time, time.Time) int { return c.VUs }}}, nil
}

func (e *constantVUs) Kind() string { return ConstantVUs }

func (e *constantVUs) Describe() string {
	return fmt.Sprintf("%d looping VUs for %s", e.VUs, e.Duration)
}
