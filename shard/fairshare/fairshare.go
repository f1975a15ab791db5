// Package fairshare shares the machine's cores fairly between tenants'
// long-running SQL.
//
// Most tenant work is short: an API call or a point read finishes in well
// under a millisecond and never meets the scheduler. A statement that keeps
// SQLite's VM busy past a small quantum is CPU-bound by definition, so from
// then on it runs only while it holds one of a few CPU tokens (by default one
// fewer than the cores, so short work always has a core). Tokens go to the
// waiting tenant that has used the least token time (start-time fair
// queueing over per-tenant virtual time), and a holder offers its token back
// every slice while anyone else waits. A tenant that floods the machine with
// heavy SQL therefore queues behind itself, one statement at a time, and
// other tenants' work keeps its latency.
//
// The scheduler is driven from SQLite's progress handler (every few thousand
// VM steps) through a Meter, one per statement.
package fairshare

import (
	"container/heap"
	"errors"
	"runtime"
	"sync"
	"time"
)

// Defaults for Config fields left zero.
const (
	DefaultQuantum    = 2 * time.Millisecond
	DefaultSlice      = 10 * time.Millisecond
	DefaultMaxWaiting = 4
)

// ErrBusy is returned by Admit when a tenant already has as many heavy
// statements waiting as it may: its new SQL requests are refused (429)
// instead of joining a queue that only grows.
var ErrBusy = errors.New("fairshare: tenant is over its CPU share")

// Config tunes a Scheduler. Zero fields take the defaults.
type Config struct {
	// Tokens is how many heavy statements run at once, machine-wide.
	// Default: GOMAXPROCS-1, at least 1.
	Tokens int
	// Quantum is the VM time a statement runs before it needs a token.
	Quantum time.Duration
	// Slice is how long a token is held before it is offered to a waiting
	// tenant.
	Slice time.Duration
	// MaxWaiting is how many statements of one tenant may wait for a token;
	// one more is interrupted, and Admit refuses the tenant's new requests.
	MaxWaiting int
	// OnCharge, if set, receives every finished statement's running time,
	// its waits for a token excluded (for per-tenant CPU series). It is
	// called on the statement's goroutine without locks held.
	OnCharge func(tenant int64, d time.Duration)
}

func (c *Config) withDefaults() {
	if c.Tokens <= 0 {
		c.Tokens = max(1, runtime.GOMAXPROCS(0)-1)
	}
	if c.Quantum <= 0 {
		c.Quantum = DefaultQuantum
	}
	if c.Slice <= 0 {
		c.Slice = DefaultSlice
	}
	if c.MaxWaiting <= 0 {
		c.MaxWaiting = DefaultMaxWaiting
	}
}

// Scheduler hands out CPU tokens fairly between tenants. A nil *Scheduler
// is valid and schedules nothing.
type Scheduler struct {
	cfg     Config
	metrics *Metrics

	mu      sync.Mutex
	free    int               // tokens not held
	vfloor  float64           // virtual time of the latest grant
	tenants map[int64]*tenant // tenants holding, waiting, or owing time
	queue   tenantQueue       // tenants with waiters, least virtual time first
}

type tenant struct {
	id      int64
	vt      float64 // token seconds used (virtual time)
	holding int
	waiters []*waiter
	index   int // in queue; -1 when not queued
}

type waiter struct {
	ready   chan struct{} // closed on grant
	granted bool          // under Scheduler.mu
}

// New builds a Scheduler; m may be nil.
func New(cfg Config, m *Metrics) *Scheduler {
	cfg.withDefaults()
	return &Scheduler{cfg: cfg, metrics: m, free: cfg.Tokens, tenants: map[int64]*tenant{}}
}

// Admit reports ErrBusy when tenant already has MaxWaiting statements
// waiting for a token; new SQL requests from it should be refused.
func (s *Scheduler) Admit(id int64) error {
	if s == nil {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if t := s.tenants[id]; t != nil && len(t.waiters) >= s.cfg.MaxWaiting {
		s.metrics.refused("admit")
		return ErrBusy
	}
	return nil
}

// Statement starts metering one statement of tenant that must finish by
// deadline (zero: none). Call Tick from the progress handler and Done when
// the statement ends. A nil Scheduler returns a nil *Meter, which is valid.
func (s *Scheduler) Statement(id int64, deadline time.Time) *Meter {
	if s == nil {
		return nil
	}
	return &Meter{s: s, tenant: id, deadline: deadline, start: time.Now()}
}

// acquire waits for a token for tenant until deadline. It reports whether
// the token was granted; false means the statement must stop.
func (s *Scheduler) acquire(id int64, deadline time.Time) bool {
	s.mu.Lock()
	t := s.tenants[id]
	if t == nil {
		t = &tenant{id: id, index: -1}
		s.tenants[id] = t
	}
	if len(t.waiters) >= s.cfg.MaxWaiting {
		s.mu.Unlock()
		s.metrics.refused("queue_full")
		return false
	}
	if t.holding == 0 && len(t.waiters) == 0 && t.vt < s.vfloor {
		// A tenant coming back from idle starts level with the others: idle
		// time is not saved up as credit.
		t.vt = s.vfloor
	}
	w := &waiter{ready: make(chan struct{})}
	t.waiters = append(t.waiters, w)
	if t.index < 0 {
		heap.Push(&s.queue, t)
	}
	s.dispatchLocked()
	granted := w.granted // a free token went to us at once
	s.mu.Unlock()
	if granted {
		return true
	}
	s.metrics.wait(1)
	defer s.metrics.wait(-1)
	var timeout <-chan time.Time
	if !deadline.IsZero() {
		timer := time.NewTimer(time.Until(deadline))
		defer timer.Stop()
		timeout = timer.C
	}
	select {
	case <-w.ready:
		return true
	case <-timeout:
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if w.granted { // granted while the timer fired: keep it, the caller releases
		return true
	}
	t.removeWaiter(w)
	if len(t.waiters) == 0 && t.index >= 0 {
		heap.Remove(&s.queue, t.index)
	} else if t.index >= 0 {
		heap.Fix(&s.queue, t.index)
	}
	s.forgetLocked(t)
	s.metrics.refused("deadline")
	return false
}

// release gives a token back, charging held to tenant's virtual time.
func (s *Scheduler) release(id int64, held time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.tenants[id]
	t.holding--
	t.vt += held.Seconds()
	if t.index >= 0 {
		heap.Fix(&s.queue, t.index)
	}
	s.free++
	s.dispatchLocked()
	s.forgetLocked(t)
}

// othersWaiting reports whether a tenant other than tenant waits for a
// token.
func (s *Scheduler) othersWaiting(id int64) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.queue) > 1 || (len(s.queue) == 1 && s.queue[0].id != id)
}

// dispatchLocked grants free tokens to the waiting tenants with the least
// virtual time, each tenant's waiters in arrival order.
func (s *Scheduler) dispatchLocked() {
	for s.free > 0 && len(s.queue) > 0 {
		t := s.queue[0]
		w := t.waiters[0]
		t.waiters[0] = nil
		t.waiters = t.waiters[1:]
		if len(t.waiters) == 0 {
			heap.Pop(&s.queue)
		}
		s.free--
		t.holding++
		if t.vt > s.vfloor {
			s.vfloor = t.vt
		}
		w.granted = true
		close(w.ready)
	}
}

// forgetLocked drops a tenant's state once it holds nothing, waits for
// nothing and owes nothing, so the map is bounded by the busy tenants. When
// no token is held or wanted, all history goes: debts matter only while
// tenants compete.
func (s *Scheduler) forgetLocked(t *tenant) {
	if s.free == s.cfg.Tokens && len(s.queue) == 0 {
		clear(s.tenants)
		s.vfloor = 0
		return
	}
	if t.holding == 0 && len(t.waiters) == 0 && t.vt <= s.vfloor {
		delete(s.tenants, t.id)
	}
}

func (t *tenant) removeWaiter(w *waiter) {
	for i, x := range t.waiters {
		if x == w {
			t.waiters = append(t.waiters[:i], t.waiters[i+1:]...)
			return
		}
	}
}

// tenantQueue is a min-heap of tenants by virtual time.
type tenantQueue []*tenant

func (q tenantQueue) Len() int           { return len(q) }
func (q tenantQueue) Less(i, j int) bool { return q[i].vt < q[j].vt }
func (q tenantQueue) Swap(i, j int) {
	q[i], q[j] = q[j], q[i]
	q[i].index, q[j].index = i, j
}
func (q *tenantQueue) Push(x any) {
	t := x.(*tenant)
	t.index = len(*q)
	*q = append(*q, t)
}
func (q *tenantQueue) Pop() any {
	old := *q
	t := old[len(old)-1]
	old[len(old)-1] = nil
	t.index = -1
	*q = old[:len(old)-1]
	return t
}
