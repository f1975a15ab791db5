package verify

import (
	"context"
	"sync/atomic"

	"golang.org/x/sync/errgroup"
)

// DefaultConcurrency is how many databases All verifies at once.
const DefaultConcurrency = 4

// All verifies every target with at most concurrency at once and returns
// the reports in target order. progress, if set, is called after each one
// with the number done (from any goroutine, one call at a time per count).
func All(ctx context.Context, targets []Target, concurrency int, progress func(done, total int)) ([]Report, error) {
	if concurrency <= 0 {
		concurrency = DefaultConcurrency
	}
	out := make([]Report, len(targets))
	var done atomic.Int64
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(concurrency)
	for i, t := range targets {
		g.Go(func() error {
			r, err := Tenant(gctx, t)
			if err != nil {
				return err
			}
			out[i] = r
			if progress != nil {
				progress(int(done.Add(1)), len(targets))
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	return out, nil
}
