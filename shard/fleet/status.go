package fleet

import (
	"context"
	"fmt"
	"sort"

	"golang.org/x/sync/errgroup"

	"github.com/microfi/tenantgate/migrations"
)

// TenantVersion is one tenant's schema state.
type TenantVersion struct {
	Target  Target
	Version int
	// Pending is how many migrations of the set are still to apply.
	Pending int
	// Err is set when the database could not be read or does not match the
	// set (changed checksum, newer schema, wrong stamp, missing file).
	Err error
}

// StatusReport describes the schema versions across a fleet.
type StatusReport struct {
	Latest int
	// Histogram counts readable tenants by version.
	Histogram map[int]int
	// Tenants has one entry per target, in the order given.
	Tenants []TenantVersion
}

// Versions returns the histogram's versions, ascending.
func (s StatusReport) Versions() []int {
	out := make([]int, 0, len(s.Histogram))
	for v := range s.Histogram {
		out = append(out, v)
	}
	sort.Ints(out)
	return out
}

// Behind returns the tenants that are readable but not on the newest version.
func (s StatusReport) Behind() []TenantVersion {
	var out []TenantVersion
	for _, t := range s.Tenants {
		if t.Err == nil && t.Pending > 0 {
			out = append(out, t)
		}
	}
	return out
}

// Errors returns the tenants whose state could not be read or is invalid.
func (s StatusReport) Errors() []TenantVersion {
	var out []TenantVersion
	for _, t := range s.Tenants {
		if t.Err != nil {
			out = append(out, t)
		}
	}
	return out
}

// Status reads every target's schema version without changing anything
// (local files are opened read-only), with at most concurrency databases open
// at once.
func Status(ctx context.Context, targets []Target, set migrations.Set, concurrency int) (StatusReport, error) {
	if concurrency <= 0 {
		concurrency = DefaultConcurrency
	}
	rep := StatusReport{Latest: set.Latest(), Histogram: map[int]int{}, Tenants: make([]TenantVersion, len(targets))}
	var g errgroup.Group
	g.SetLimit(concurrency)
	for i, t := range targets {
		if err := ctx.Err(); err != nil {
			g.Wait()
			return rep, fmt.Errorf("fleet status interrupted: %w", err)
		}
		g.Go(func() error {
			rep.Tenants[i] = versionOf(ctx, t, set)
			return nil
		})
	}
	g.Wait()
	for _, t := range rep.Tenants {
		if t.Err == nil {
			rep.Histogram[t.Version]++
		}
	}
	return rep, ctx.Err()
}

func versionOf(ctx context.Context, t Target, set migrations.Set) TenantVersion {
	tv := TenantVersion{Target: t}
	db, err := openTarget(ctx, t, true)
	if err != nil {
		tv.Err = err
		return tv
	}
	defer db.Close()
	if err := checkStamp(ctx, db, t); err != nil {
		tv.Err = err
		return tv
	}
	if tv.Version, err = migrations.Version(ctx, db); err != nil {
		tv.Err = err
		return tv
	}
	pending, err := migrations.Pending(ctx, db, set)
	if err != nil {
		tv.Err = err
		return tv
	}
	tv.Pending = len(pending)
	return tv
}
