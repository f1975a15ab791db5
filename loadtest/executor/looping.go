package executor

import (
	"context"
	"sync"
	"time"
)

// looping is what the two VU executors share: the closed model, in which
// each active VU runs iterations back to back.
type looping struct {
	Config
	planned time.Duration
	maxVUs  int
	// active is how many VUs should be running at now.
	active func(now, start time.Time) int
}

func (l *looping) PlannedDuration() time.Duration { return l.planned }
func (l *looping) MaxVUs() int                    { return l.maxVUs }
func (l *looping) PeakRate() float64              { return 0 }

// Run starts MaxVUs VUs; those above the current target are parked.
func (l *looping) Run(ctx context.Context, env *Env, start time.Time) {
	var wg sync.WaitGroup
	end := start.Add(l.planned)
	for i := 0; i < l.maxVUs; i++ {
		iterate := env.NewVU()
		env.Allocated.Add(1)
		wg.Go(func() {
			for ctx.Err() == nil {
				now := time.Now()
				if !now.Before(end) {
					return
				}
				if i >= l.active(now, start) {
					// Parked: this VU is above the current target.
					select {
					case <-time.After(10 * time.Millisecond):
					case <-ctx.Done():
					}
					continue
				}
				iterate(now)
			}
		})
	}
	sleepUntil(ctx, end)
	finish(l.Config, &wg)
}
