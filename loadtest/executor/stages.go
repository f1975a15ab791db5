package executor

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Stage is one step of a ramping executor: move linearly to Target over
// Duration.
type Stage struct {
	Duration time.Duration
	Target   float64 // iterations per time unit, or VUs
}

// ParseStages parses k6's CLI stage list, "30s:100,1m:2000,30s:0".
func ParseStages(s string) ([]Stage, error) {
	var out []Stage
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		d, t, ok := strings.Cut(part, ":")
		if !ok {
			return nil, fmt.Errorf("stage %q: want DURATION:TARGET, e.g. 30s:100", part)
		}
		dur, err := time.ParseDuration(strings.TrimSpace(d))
		if err != nil || dur < 0 {
			return nil, fmt.Errorf("stage %q: bad duration", part)
		}
		target, err := strconv.ParseFloat(strings.TrimSpace(t), 64)
		if err != nil || target < 0 {
			return nil, fmt.Errorf("stage %q: bad target", part)
		}
		out = append(out, Stage{Duration: dur, Target: target})
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("stages %q: empty", s)
	}
	return out, nil
}

// stagesDuration is the sum of the stages' durations.
func stagesDuration(st []Stage) time.Duration {
	var d time.Duration
	for _, s := range st {
		d += s.Duration
	}
	return d
}

// stageValue interpolates the target at offset t (start value v0).
func stageValue(v0 float64, st []Stage, t time.Duration) float64 {
	v := v0
	for _, s := range st {
		if t < s.Duration {
			return v + (s.Target-v)*float64(t)/float64(s.Duration)
		}
		t -= s.Duration
		v = s.Target
	}
	return v
}

// maxTarget is the highest of start and the stages' targets.
func maxTarget(start float64, st []Stage) float64 {
	m := start
	for _, s := range st {
		m = math.Max(m, s.Target)
	}
	return m
}
