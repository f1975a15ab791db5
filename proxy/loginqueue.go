package proxy

import (
	"context"
	"runtime"
	"slices"
	"sync"
	"time"

	"github.com/microfi/tenantgate/proxy/httpapi"
)

// Password hashing is the costliest thing an anonymous client can ask for.
// Logins wait for a hashing slot in a queue per tenant, served round-robin,
// and one tenant holds at most half the slots, so a flood of logins on one
// tenant (random e-mails included: they share their tenant's queue) delays
// that tenant only: another tenant's login finds a slot free. A login that
// waits longer than the bound, or finds its tenant's queue full, gets 429.
const (
	DefaultLoginWait     = 2 * time.Second
	loginQueuePerTenant  = 64
	loginQueueRetryAfter = 1 // seconds
)

// loginQueue is a fair semaphore: slots concurrent holders, at most
// perTenant of them from one tenant, waiters queued per tenant and admitted
// one tenant at a time in turn.
type loginQueue struct {
	slots     int
	perTenant int
	maxWait   time.Duration

	mu      sync.Mutex
	busy    int
	holding map[int64]int // slots held per tenant
	queues  map[int64][]*loginWaiter
	order   []int64 // tenants with waiters, in turn order
}

type loginWaiter struct {
	ready   chan struct{} // closed when granted a slot
	granted bool
}

func newLoginQueue(maxWait time.Duration) *loginQueue {
	if maxWait <= 0 {
		maxWait = DefaultLoginWait
	}
	// As many slots as the password hasher has (bank: half the CPUs, at
	// least two), so a queued login is never also queued in there.
	slots := max(2, runtime.GOMAXPROCS(0)/2)
	return &loginQueue{slots: slots, perTenant: max(1, slots/2), maxWait: maxWait,
		holding: map[int64]int{}, queues: map[int64][]*loginWaiter{}}
}

// acquire waits for a slot for tenant. It fails with 429 when the tenant's
// queue is full or the wait exceeds the bound; release must follow success.
func (q *loginQueue) acquire(ctx context.Context, tenant int64) error {
	q.mu.Lock()
	if q.busy < q.slots && q.holding[tenant] < q.perTenant && len(q.queues[tenant]) == 0 {
		q.busy++
		q.holding[tenant]++
		q.mu.Unlock()
		return nil
	}
	if len(q.queues[tenant]) >= loginQueuePerTenant {
		q.mu.Unlock()
		return httpapi.TooManyRequests(loginQueueRetryAfter)
	}
	w := &loginWaiter{ready: make(chan struct{})}
	if len(q.queues[tenant]) == 0 {
		q.order = append(q.order, tenant)
	}
	q.queues[tenant] = append(q.queues[tenant], w)
	q.mu.Unlock()

	t := time.NewTimer(q.maxWait)
	defer t.Stop()
	select {
	case <-w.ready:
		return nil
	case <-t.C:
	case <-ctx.Done():
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if w.granted { // granted while timing out: hand the slot on
		q.put(tenant)
		return httpapi.TooManyRequests(loginQueueRetryAfter)
	}
	q.remove(tenant, w)
	return httpapi.TooManyRequests(loginQueueRetryAfter)
}

// release gives tenant's slot back to the next tenant in turn.
func (q *loginQueue) release(tenant int64) {
	q.mu.Lock()
	q.put(tenant)
	q.mu.Unlock()
}

// put frees one of tenant's slots and hands free slots on. q.mu is held.
func (q *loginQueue) put(tenant int64) {
	q.busy--
	if q.holding[tenant]--; q.holding[tenant] <= 0 {
		delete(q.holding, tenant)
	}
	q.grant()
}

// grant hands free slots to waiters, one tenant at a time in turn,
// skipping tenants already at their share. q.mu is held.
func (q *loginQueue) grant() {
	for q.busy < q.slots {
		i := slices.IndexFunc(q.order, func(t int64) bool { return q.holding[t] < q.perTenant })
		if i < 0 {
			return
		}
		tenant := q.order[i]
		ws := q.queues[tenant]
		w := ws[0]
		q.order = slices.Delete(q.order, i, i+1)
		if len(ws) == 1 {
			delete(q.queues, tenant)
		} else {
			q.queues[tenant] = ws[1:]
			q.order = append(q.order, tenant) // to the back of the turn
		}
		w.granted = true
		q.busy++
		q.holding[tenant]++
		close(w.ready)
	}
}

// remove drops a waiter that gave up. q.mu is held.
func (q *loginQueue) remove(tenant int64, w *loginWaiter) {
	ws := q.queues[tenant]
	for i, x := range ws {
		if x == w {
			ws = append(ws[:i:i], ws[i+1:]...)
			break
		}
	}
	if len(ws) > 0 {
		q.queues[tenant] = ws
		return
	}
	delete(q.queues, tenant)
	for i, id := range q.order {
		if id == tenant {
			q.order = append(q.order[:i:i], q.order[i+1:]...)
			break
		}
	}
}
