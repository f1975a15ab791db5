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
// VM steps) through a Meter, one per statement, and by Begin and Done
// around each of a tenant's API calls.
//
// Work that never ticks (an API call, a statement that writes a large value
// in a handful of VM steps) is caught by what it costs instead: every
// finished piece of work is charged to its tenant's usage, which drains at
// the tenant's light share of a core. A tenant whose usage runs more than a
// burst ahead of that share is heavy: its next statements and API calls
// wait for a CPU token before they start, in the same fair queue and behind
// the same bound as long statements.
//
// Plans weigh in: a tenant of weight w accrues virtual time at 1/w of the
// token time it uses and drains its usage w times as fast, so under
// contention it gets w shares.
package fairshare

import (
	"container/heap"
	"context"
	"errors"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// Defaults for Config fields left zero.
const (
	DefaultQuantum       = 2 * time.Millisecond
	DefaultSlice         = 10 * time.Millisecond
	DefaultMaxWaiting    = 4
	DefaultAPIMaxWaiting = 32
	DefaultAdmitWait     = time.Second
	DefaultLightShare    = 0.1
	DefaultBurst         = 100 * time.Millisecond
	DefaultWriteCost     = 4 * time.Millisecond
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
	// APIMaxWaiting is how many API calls of one heavy tenant may wait for
	// a token. It is larger than MaxWaiting: an API call holds its token
	// through its disk writes, so a busy institution's tellers queue
	// behind each other rather than being refused, until this many wait.
	APIMaxWaiting int
	// AdmitWait is how long Admit holds a request of a tenant whose queue
	// is full, waiting for room, before refusing it. A client that retries
	// at once is paced by its own statements instead of costing the
	// machine a refusal every few milliseconds. Negative: refuse at once.
	AdmitWait time.Duration
	// LightShare is the part of one core, per unit of plan weight, that a
	// tenant's work may use on average and stay light.
	LightShare float64
	// Burst is how far a tenant's usage may run ahead of its light share
	// before its work starts heavy (waits for a token before it runs).
	Burst time.Duration
	// WriteCost is what writing one MiB to a tenant's WAL costs, added to
	// the running time of the statement that wrote it in the tenant's usage
	// (not in its CPU series): the disk is shared too.
	WriteCost time.Duration
	// NoNice never lowers a token holder's thread priority, as on a host
	// where it could not be restored: for measuring the scheduler without it.
	NoNice bool
	// OnCharge, if set, receives every finished statement's and API call's
	// running time, its waits for a token and its step-asides excluded (for
	// per-tenant CPU series). It is called on the work's goroutine without
	// locks held.
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
	if c.APIMaxWaiting <= 0 {
		c.APIMaxWaiting = DefaultAPIMaxWaiting
	}
	if c.AdmitWait == 0 {
		c.AdmitWait = DefaultAdmitWait
	}
	if c.LightShare <= 0 {
		c.LightShare = DefaultLightShare
	}
	if c.Burst <= 0 {
		c.Burst = DefaultBurst
	}
	if c.WriteCost <= 0 {
		c.WriteCost = DefaultWriteCost
	}
}

// Scheduler hands out CPU tokens fairly between tenants. A nil *Scheduler
// is valid and schedules nothing.
type Scheduler struct {
	cfg     Config
	metrics *Metrics

	// active counts requests in flight (Enter); heavy counts those of
	// them that are heavy statements or held by Admit. While active
	// exceeds heavy, short work is waiting or running, and token holders
	// step aside for it (Meter.Tick).
	active, heavy atomic.Int64
	// parked counts requests waiting in Admit or for a token: in flight,
	// but using no CPU (cpuShare).
	parked atomic.Int64

	usage usageTable // what each tenant's work cost lately (usage.go)
	work  workTable  // metered work in flight, per tenant (usage.go)
	procs float64    // GOMAXPROCS when built

	mu      sync.Mutex
	free    int               // tokens not held
	vfloor  float64           // virtual time of the latest grant
	tenants map[int64]*tenant // tenants holding, waiting, or owing time
	queue   tenantQueue       // tenants with waiters, least virtual time first
}

type tenant struct {
	id      int64
	weight  float64 // plan weight, as of the latest acquire
	vt      float64 // token seconds used, divided by weight (virtual time)
	holding int
	waiters []*waiter
	admits  []chan struct{} // Admit calls held for room, oldest first
	index   int             // in queue; -1 when not queued
}

type waiter struct {
	ready   chan struct{} // closed on grant
	granted bool          // under Scheduler.mu
}

// New builds a Scheduler; m may be nil.
func New(cfg Config, m *Metrics) *Scheduler {
	cfg.withDefaults()
	return &Scheduler{cfg: cfg, metrics: m, free: cfg.Tokens, tenants: map[int64]*tenant{},
		usage: usageTable{m: map[int64]*usage{}}, procs: float64(runtime.GOMAXPROCS(0))}
}

// Admit reports ErrBusy when tenant has MaxWaiting statements waiting for
// a token and none leaves the queue within AdmitWait (or ctx ends first);
// new SQL requests from it should then be refused. Held requests are let
// in one per waiter that leaves, in arrival order, so room for one
// statement never wakes a herd.
func (s *Scheduler) Admit(ctx context.Context, id int64) error {
	if s == nil {
		return nil
	}
	return s.admit(ctx, id, s.cfg.MaxWaiting)
}

// admit is Admit with limit waiters in place of MaxWaiting.
func (s *Scheduler) admit(ctx context.Context, id int64, limit int) error {
	var timeout <-chan time.Time
	for {
		s.mu.Lock()
		t := s.tenants[id]
		if t == nil || len(t.waiters) < limit {
			s.mu.Unlock()
			return nil
		}
		if s.cfg.AdmitWait < 0 {
			s.mu.Unlock()
			s.metrics.refused("admit")
			return ErrBusy
		}
		room := make(chan struct{})
		t.admits = append(t.admits, room)
		s.mu.Unlock()
		if timeout == nil {
			s.heavy.Add(1) // held, not running: no short work
			s.parked.Add(1)
			defer s.heavy.Add(-1)
			defer s.parked.Add(-1)
		}
		if timeout == nil {
			timer := time.NewTimer(s.cfg.AdmitWait)
			defer timer.Stop()
			timeout = timer.C
		}
		select {
		case <-room:
			continue
		case <-timeout:
		case <-ctx.Done():
		}
		s.mu.Lock()
		woken := !t.removeAdmit(room)
		s.forgetLocked(t)
		s.mu.Unlock()
		if woken {
			return nil // room was handed over as the wait ended: take it
		}
		s.metrics.refused("admit")
		return ErrBusy
	}
}

// admitOneLocked lets the longest-held Admit of t re-check for room: a
// waiter just left t's queue.
func (t *tenant) admitOneLocked() {
	if len(t.admits) > 0 {
		close(t.admits[0])
		t.admits[0] = nil
		t.admits = t.admits[1:]
	}
}

func (t *tenant) removeAdmit(ch chan struct{}) bool {
	for i, x := range t.admits {
		if x == ch {
			t.admits = append(t.admits[:i], t.admits[i+1:]...)
			return true
		}
	}
	return false
}

// Enter marks a request in flight until Leave. Heavy statements step
// aside while requests that are not heavy run, so short work (an API call,
// a point read) comes first. Both are no-ops on a nil Scheduler.
func (s *Scheduler) Enter() {
	if s != nil {
		s.active.Add(1)
	}
}

// Leave ends what Enter began.
func (s *Scheduler) Leave() {
	if s != nil {
		s.active.Add(-1)
	}
}

// running counts the requests in flight that the scheduler does not hold.
func (s *Scheduler) running() int64 { return s.active.Load() - s.parked.Load() }

// shortWork reports whether a request that is not heavy is in flight.
func (s *Scheduler) shortWork() bool { return s.active.Load() > s.heavy.Load() }

// Statement starts metering one statement of tenant (of plan weight
// weight; <= 0 counts as 1) that must finish by deadline (zero: none). Call
// Start before the first step, Tick from the progress handler and Done when
// the statement ends. A nil Scheduler returns a nil *Meter, which is valid.
func (s *Scheduler) Statement(id int64, weight float64, deadline time.Time) *Meter {
	if s == nil {
		return nil
	}
	m := &Meter{s: s, tenant: id, weight: normWeight(weight), deadline: deadline, start: time.Now(), counted: true}
	m.active = s.running()
	s.work.begin(id)
	return m
}

func normWeight(w float64) float64 {
	if w > 0 {
		return w
	}
	return 1
}

// acquire waits for a token for tenant until deadline. It reports whether
// the token was granted; false means the statement must stop.
func (s *Scheduler) acquire(id int64, weight float64, deadline time.Time, limit int) bool {
	s.mu.Lock()
	t := s.tenants[id]
	if t == nil {
		t = &tenant{id: id, index: -1}
		s.tenants[id] = t
	}
	t.weight = weight
	if len(t.waiters) >= limit {
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
	s.parked.Add(1)
	defer s.parked.Add(-1)
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
	t.admitOneLocked()
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
	t.vt += held.Seconds() / t.weight
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
		t.admitOneLocked()
	}
}

// forgetLocked drops a tenant's state once it holds nothing, waits for
// nothing and owes nothing, so the map is bounded by the busy tenants. When
// no token is held or wanted, all history goes: debts matter only while
// tenants compete.
func (s *Scheduler) forgetLocked(t *tenant) {
	if s.free == s.cfg.Tokens && len(s.queue) == 0 {
		for _, x := range s.tenants {
			for len(x.admits) > 0 {
				x.admitOneLocked()
			}
		}
		clear(s.tenants)
		s.vfloor = 0
		return
	}
	if t.holding == 0 && len(t.waiters) == 0 && len(t.admits) == 0 && t.vt <= s.vfloor {
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
