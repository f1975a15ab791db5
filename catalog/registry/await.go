package registry

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/microfi/tenantgate/catalog"
)

// DefaultAckTimeout is how long Await waits by default: longer than a
// default proxy's dead timeout, so a proxy that died (kill -9) during the
// wait is counted dead instead of reported lagging.
const DefaultAckTimeout = 12 * time.Second

// ackPoll is how often Await re-reads the registry.
const ackPoll = 25 * time.Millisecond

// ErrNotAcknowledged is what a *LagError matches: the change is committed,
// but not every live proxy has applied it yet.
var ErrNotAcknowledged = errors.New("catalog change not acknowledged by every live proxy")

// Ack is a change every live proxy has applied.
type Ack struct {
	Target  catalog.Position
	Proxies []Proxy // the live proxies that acknowledged it
	Elapsed time.Duration
}

// LagError names the live proxies that had not applied a change in time.
type LagError struct {
	Target  catalog.Position
	Lagging []Proxy
	Live    int // live proxies when the wait ended
	Waited  time.Duration
}

func (e *LagError) Error() string {
	names := make([]string, len(e.Lagging))
	for i, p := range e.Lagging {
		names[i] = fmt.Sprintf("%s has applied changes %d/revocations %d, last heartbeat %s ago",
			p, p.Applied.Changes, p.Applied.Revocations, p.Age.Round(time.Millisecond))
	}
	return fmt.Sprintf("the change (changes %d, revocations %d) is committed, but %d of %d live proxies had not applied it after %s: %s",
		e.Target.Changes, e.Target.Revocations, len(e.Lagging), e.Live, e.Waited.Round(time.Millisecond), strings.Join(names, "; "))
}

// Is makes errors.Is(err, ErrNotAcknowledged) true.
func (e *LagError) Is(target error) bool { return target == ErrNotAcknowledged }

// Await waits until every live proxy has applied the catalog up to target,
// or until timeout (0 = DefaultAckTimeout), then returns a *LagError naming
// the laggards. A proxy that dies during the wait stops being waited for
// (its caches are no longer trusted by then; see the package comment). With
// no live proxy there is nothing to wait for.
func Await(ctx context.Context, cat *catalog.Catalog, target catalog.Position, timeout time.Duration) (Ack, error) {
	if timeout <= 0 {
		timeout = DefaultAckTimeout
	}
	start := time.Now()
	deadline := start.Add(timeout)
	t := time.NewTicker(ackPoll)
	defer t.Stop()
	for {
		all, err := List(ctx, cat)
		if err != nil {
			return Ack{}, err
		}
		live := Live(all)
		var lagging []Proxy
		for _, p := range live {
			if !p.Applied.Covers(target) {
				lagging = append(lagging, p)
			}
		}
		if len(lagging) == 0 {
			return Ack{Target: target, Proxies: live, Elapsed: time.Since(start)}, nil
		}
		if !time.Now().Before(deadline) {
			return Ack{}, &LagError{Target: target, Lagging: lagging, Live: len(live), Waited: time.Since(start)}
		}
		select {
		case <-ctx.Done():
			return Ack{}, fmt.Errorf("wait for proxies to apply the change: %w", ctx.Err())
		case <-t.C:
		}
	}
}

// AwaitLatest waits until every live proxy has applied every catalog change
// committed so far: call it right after making a change that must be in
// force everywhere before going on (a suspension, a revocation, a write
// fence).
func AwaitLatest(ctx context.Context, cat *catalog.Catalog, timeout time.Duration) (Ack, error) {
	target, err := cat.Position(ctx)
	if err != nil {
		return Ack{}, err
	}
	return Await(ctx, cat, target, timeout)
}
