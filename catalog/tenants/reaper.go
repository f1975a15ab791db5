package tenants

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/microfi/tenantgate/catalog"
)

// DefaultReapInterval is how often a Reaper looks for expired demos.
const DefaultReapInterval = time.Minute

// Reaper removes demo tenants past their expiry: catalog row, cache entry,
// open handle and database file, through Service.ReapIfStillExpired, so a
// demo made permanent during a pass survives. Until it runs, the proxy
// answers an expired demo with 410 Demo expired.
type Reaper struct {
	Service   *Service
	Interval  time.Duration    // between passes; 0 = DefaultReapInterval
	BackupDir string           // "" = no backup: demos are throwaway
	Now       func() time.Time // clock; nil = time.Now
	Logger    *slog.Logger
	// OnPass, when set, is called after every pass with the number of demos
	// removed and the pass's error (nil on success), e.g. to count metrics.
	OnPass func(reaped int, err error)
}

// Run reaps once at start and then every Interval until ctx is done.
func (r *Reaper) Run(ctx context.Context) {
	every := r.Interval
	if every <= 0 {
		every = DefaultReapInterval
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		n, err := r.ReapOnce(ctx)
		if err != nil && ctx.Err() == nil {
			r.logger().Error("reap expired demos", "reaped", n, "err", err)
		} else if n > 0 {
			r.logger().Info("reaped expired demos", "reaped", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// ReapOnce removes every demo tenant whose expiry is at or before now and
// returns how many it removed. A demo deleted concurrently by someone else
// is not an error. It keeps going past a failed tenant and returns all
// failures joined.
func (r *Reaper) ReapOnce(ctx context.Context) (reaped int, err error) {
	defer func() {
		if r.OnPass != nil {
			r.OnPass(reaped, err)
		}
	}()
	now := time.Now
	if r.Now != nil {
		now = r.Now
	}
	var errs []error
	failed := map[int64]bool{}
	for {
		at := now()
		demos, err := r.Service.cat.ExpiredDemos(ctx, at)
		if err != nil {
			return reaped, errors.Join(append(errs, err)...)
		}
		progress := false
		for _, t := range demos {
			if failed[t.ID] {
				continue
			}
			if err := ctx.Err(); err != nil {
				return reaped, errors.Join(append(errs, err)...)
			}
			ok, err := r.Service.ReapIfStillExpired(ctx, t, at, r.BackupDir)
			switch {
			case err == nil:
				if ok {
					reaped++
				}
				progress = true // reaped, or no longer an expired demo
			case errors.Is(err, catalog.ErrTenantNotFound):
				progress = true // gone already
			default:
				failed[t.ID] = true
				errs = append(errs, fmt.Errorf("reap demo %d (%s): %w", t.ID, t.Host, err))
			}
		}
		// ExpiredDemos returns a bounded batch: go again only while a batch
		// made progress, so a tenant that keeps failing cannot loop forever.
		if !progress {
			return reaped, errors.Join(errs...)
		}
	}
}

func (r *Reaper) logger() *slog.Logger {
	if r.Logger != nil {
		return r.Logger
	}
	return slog.Default()
}
