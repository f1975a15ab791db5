package loadtest

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// NoisyConfig is a noisy-neighbour test: the victims' run twice, first
// alone (the baseline), then beside the noise, one run per misbehaviour
// pattern, each with its own executor (k6's several scenarios at once).
type NoisyConfig struct {
	Victims RunConfig
	Noise   []RunConfig
	// Lead is how long the noise runs before the victims' second run
	// starts, so the victims meet it in its steady state. The noise
	// executors' durations should cover Lead plus the victims' run.
	Lead time.Duration
	// Pause is the quiet time between the baseline and the noise, so the
	// baseline's tail does not reach into it.
	Pause time.Duration
}

// NoisyResult holds the three parts of a noisy-neighbour test.
type NoisyResult struct {
	Baseline *Result   // the victims alone
	Noisy    *Result   // the victims beside the noise
	Noise    []*Result // each noise pattern, in NoisyConfig.Noise order
}

// RunNoisy runs the baseline, then the noise and, after Lead, the victims
// again. Cancelling ctx stops it early; the results are still complete.
func RunNoisy(ctx context.Context, cfg NoisyConfig) (*NoisyResult, error) {
	base, err := Run(ctx, cfg.Victims)
	if err != nil {
		return nil, fmt.Errorf("baseline: %w", err)
	}
	select {
	case <-time.After(cfg.Pause):
	case <-ctx.Done():
	}
	res := &NoisyResult{Baseline: base, Noise: make([]*Result, len(cfg.Noise))}
	errs := make([]error, len(cfg.Noise))
	var wg sync.WaitGroup
	for i, nc := range cfg.Noise {
		wg.Go(func() { res.Noise[i], errs[i] = Run(ctx, nc) })
	}
	select {
	case <-time.After(cfg.Lead):
	case <-ctx.Done():
	}
	res.Noisy, err = Run(ctx, cfg.Victims)
	wg.Wait()
	if err != nil {
		return nil, fmt.Errorf("victims beside the noise: %w", err)
	}
	for i, e := range errs {
		if e != nil {
			return nil, fmt.Errorf("noise %s: %w", cfg.Noise[i].Workload.ScenarioNames(), e)
		}
	}
	return res, nil
}
