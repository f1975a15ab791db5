package shards

import (
	"context"
	"errors"
	"fmt"

	"github.com/microfi/tenantgate/catalog"
)

// ErrNoShard: no shard can take a new tenant.
var ErrNoShard = errors.New("no shard can take a new tenant: every shard is draining, full or has weight 0")

// UnlimitedCapacity is the capacity a shard without one (capacity 0) is
// weighed as: it stands for "as big as a big shard", so a shard with a
// capacity of 10,000 and one without fill alike.
const UnlimitedCapacity = 10_000

// Place chooses the shard for a new tenant: pin when given (it must exist,
// be active and have room), else the least loaded shard by Choose.
func (r *Registry) Place(ctx context.Context, pin string) (catalog.Shard, error) {
	loads, err := r.cat.ShardLoads(ctx)
	if err != nil {
		return catalog.Shard{}, err
	}
	if pin != "" {
		for _, l := range loads {
			if l.Name != pin {
				continue
			}
			if !eligible(l, true) {
				return catalog.Shard{}, fmt.Errorf("%w: shard %q is %s with %d of %s tenants", catalog.ErrShardFull, pin, l.Status, l.Tenants, capText(l.Capacity))
			}
			return l.Shard, nil
		}
		return catalog.Shard{}, fmt.Errorf("%w: %q", catalog.ErrShardNotFound, pin)
	}
	best, ok := Choose(loads)
	if !ok {
		return catalog.Shard{}, ErrNoShard
	}
	return best.Shard, nil
}

// Choose is the placement policy: among active shards with room and a
// weight above 0, the one with the lowest load relative to its size.
//
// A shard's load is its tenant count and its bytes, the bytes counted in
// tenants of average size (total bytes / total tenants), averaged: so a
// shard of few but big tenants is as loaded as one of many small ones. Its
// size is its capacity (UnlimitedCapacity when it has none) times its
// weight. Lowest load/size wins; ties go to fewer tenants, then the name.
// With tenants of equal size, new tenants spread in proportion to capacity
// × weight; a draining or full shard gets none.
func Choose(loads []catalog.ShardLoad) (catalog.ShardLoad, bool) {
	var tenants int
	var bytes int64
	for _, l := range loads {
		tenants += l.Tenants
		bytes += l.Bytes
	}
	avg := 0.0
	if tenants > 0 && bytes > 0 {
		avg = float64(bytes) / float64(tenants)
	}
	var best catalog.ShardLoad
	bestScore, found := 0.0, false
	for _, l := range loads {
		if !eligible(l, false) {
			continue
		}
		load := float64(l.Tenants)
		if avg > 0 {
			load = (load + float64(l.Bytes)/avg) / 2
		}
		size := float64(l.Capacity)
		if size == 0 {
			size = UnlimitedCapacity
		}
		score := load / (size * l.Weight)
		if !found || score < bestScore || (score == bestScore && (l.Tenants < best.Tenants ||
			(l.Tenants == best.Tenants && l.Name < best.Name))) {
			best, bestScore, found = l, score, true
		}
	}
	return best, found
}

// eligible: active, with room, and (unless pinned) a weight above 0.
func eligible(l catalog.ShardLoad, pinned bool) bool {
	return l.Status == catalog.ShardActive && (l.Capacity == 0 || l.Tenants < l.Capacity) && (pinned || l.Weight > 0)
}

func capText(c int) string {
	if c == 0 {
		return "unlimited"
	}
	return fmt.Sprint(c)
}
