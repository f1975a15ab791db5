package shard

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"
)

// openGate bounds the opens in progress and the opens waiting for one. An
// open is CPU work (connection, schema parse, checks): more at once than
// the CPUs can run only makes each slower, and an unbounded queue turns a
// burst of cold tenants into seconds of latency for everyone. Past the
// bounds an open is shed at once with ErrOverloaded (503 with
// Retry-After), so the latency of what is admitted stays bounded.
type openGate struct {
	slots    chan struct{} // one per open in progress
	waiting  atomic.Int64
	maxQueue int64
	wait     time.Duration
	m        *metrics
}

func newOpenGate(concurrency, queue int, wait time.Duration, m *metrics) *openGate {
	return &openGate{slots: make(chan struct{}, concurrency), maxQueue: int64(queue), wait: wait, m: m}
}

// enter takes an open slot, waiting at most g.wait behind at most
// g.maxQueue others; leave gives it back.
func (g *openGate) enter(ctx context.Context, id int64) (leave func(), err error) {
	select {
	case g.slots <- struct{}{}:
		return g.leave, nil
	default:
	}
	if g.waiting.Add(1) > g.maxQueue {
		g.waiting.Add(-1)
		return nil, fmt.Errorf("%w (tenant %d: %d opens waiting)", ErrOverloaded, id, g.maxQueue)
	}
	g.m.opensWaiting.Inc()
	defer func() {
		g.waiting.Add(-1)
		g.m.opensWaiting.Dec()
	}()
	t := time.NewTimer(g.wait)
	defer t.Stop()
	select {
	case g.slots <- struct{}{}:
		return g.leave, nil
	case <-t.C:
		return nil, fmt.Errorf("%w (tenant %d: no open slot within %v)", ErrOverloaded, id, g.wait)
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (g *openGate) leave() { <-g.slots }
