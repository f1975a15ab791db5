package executor

import (
	"context"
	"sync"
	"time"
)

// arrival is what the two arrival-rate executors share: the open model.
type arrival struct {
	Config
	// schedule returns the offset of the i-th arrival (0-based) from the
	// start, or ok=false when it lies past the end.
	schedule func(i int64) (time.Duration, bool)
	planned  time.Duration
}

// withArrivalDefaults pre-allocates at least one VU and caps at no fewer.
func withArrivalDefaults(c Config) Config {
	if c.VUs == 0 {
		c.VUs = 1
	}
	if c.MaxVUs < c.VUs {
		c.MaxVUs = c.VUs
	}
	return c
}

func (a *arrival) PlannedDuration() time.Duration { return a.planned }
func (a *arrival) MaxVUs() int                    { return a.Config.MaxVUs }

// Run is the open model: iterations start on schedule whatever the server
// does. An idle VU takes each one; with none idle a new VU is started up to
// MaxVUs, beyond that the iteration is dropped. The last arrival is
// scheduled before the end; the test still lasts its full duration, as in
// k6.
func (a *arrival) Run(ctx context.Context, env *Env, start time.Time) {
	var wg sync.WaitGroup
	a.schedulePass(ctx, env, start, &wg)
	sleepUntil(ctx, start.Add(a.planned))
	finish(a.Config, &wg)
}

func (a *arrival) schedulePass(ctx context.Context, env *Env, start time.Time, wg *sync.WaitGroup) {
	type worker struct{ work chan time.Time }
	// idle holds the VUs waiting for work. A VU returns itself here before
	// it blocks, so a VU is never both idle and unreachable.
	idle := make(chan *worker, a.Config.MaxVUs)
	var all []*worker
	spawn := func(first time.Time) {
		iterate := env.NewVU()
		env.Allocated.Add(1)
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
					iterate(t)
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
	for i := 0; i < a.Config.VUs; i++ {
		spawn(time.Time{})
	}
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	var dropped int64
	flush := func() {
		if dropped > 0 {
			env.Dropped(dropped)
			dropped = 0
		}
	}
	defer flush()
	for i := int64(0); ; i++ {
		off, ok := a.schedule(i)
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
			if env.Allocated.Load() < int64(a.Config.MaxVUs) {
				spawn(at)
			} else {
				dropped++
			}
		}
	}
}
