package tenants

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"golang.org/x/sync/errgroup"

	"github.com/microfi/tenantgate/catalog"
)

// DrainResult is what draining a shard did.
type DrainResult struct {
	Shard  string       `json:"shard"`
	Moved  []MoveResult `json:"moved"`
	Failed []string     `json:"failed,omitempty"`
}

// DrainShard stops placing tenants on a shard and moves every tenant off
// it, at most concurrency at a time, each to the placement policy's choice
// among the other shards. A failed move is reported and the others go on;
// rerunning drains what is left (and resumes the failed moves).
func (s *Service) DrainShard(ctx context.Context, name string, concurrency int, opt MoveOptions) (DrainResult, error) {
	res := DrainResult{Shard: name, Moved: []MoveResult{}}
	if _, err := s.reg.Drain(ctx, name); err != nil {
		return res, err
	}
	list, err := s.cat.TenantsOnShard(ctx, name)
	if err != nil {
		return res, err
	}
	var mu sync.Mutex
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(max(concurrency, 1))
	for _, t := range list {
		g.Go(func() error {
			o := opt
			o.To = ""
			if mv, err := s.cat.OpenMove(gctx, t.ID); err == nil {
				o.To = mv.ToShard // resume it where it was going
			}
			r, err := s.Move(gctx, t.ID, o)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				if errors.Is(err, context.Canceled) {
					return err
				}
				res.Failed = append(res.Failed, fmt.Sprintf("%s: %v", t.Host, err))
				return nil
			}
			res.Moved = append(res.Moved, r)
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return res, err
	}
	if len(res.Failed) > 0 {
		return res, fmt.Errorf("%d of %d tenants not moved off %s (rerun the drain)", len(res.Failed), len(list), name)
	}
	return res, nil
}

// ShardTenants lists the tenants on a shard.
func (s *Service) ShardTenants(ctx context.Context, name string) ([]catalog.Tenant, error) {
	return s.cat.TenantsOnShard(ctx, name)
}
