package fairshare

import (
	"context"
	"runtime"
	"time"
)

// yieldEvery is how often a heavy statement gives its P (Go's processor)
// to other goroutines. Without it, goroutines queued behind a CPU-bound
// statement on the same P wait for Go's 10 ms preemption, and a request
// that hands off between a few goroutines pays that several times.
const yieldEvery = 200 * time.Microsecond

// stepAside is how long a token holder sleeps, giving its core back to
// the OS as well as to Go, while short work is in flight: on a machine
// whose cores are oversubscribed, handing over only the Go processor
// leaves the request competing with this statement's thread for CPU.
const stepAside = 100 * time.Microsecond

// asideMax is how long a token holder whose thread runs at normal priority
// (nice 19 could not be restored, or NoNice) waits for short work to end at
// one progress check before it runs one more: without the kernel's help,
// only not running gives the requests the core.
const asideMax = time.Millisecond

// Meter follows one statement or API call. It is used by the goroutine
// running the work only. A nil *Meter, and the zero Meter, are valid and
// never stop anything.
type Meter struct {
	s        *Scheduler
	tenant   int64
	weight   float64
	deadline time.Time
	start    time.Time     // when the work started
	active   int64         // requests in flight at the start (Scheduler.active)
	since    time.Time     // when the token was granted; zero when not held
	yielded  time.Time     // when the statement last yielded its P
	waited   time.Duration // time spent waiting for a token or stepping aside, not charged
	refused  bool
	heavy    bool   // counted in Scheduler.heavy
	wrote    int64  // bytes the work wrote to the WAL (Wrote)
	api      bool   // an API call, not a SQL statement (not in the SQL series)
	anon     bool   // work for the tenant by someone else (a login): charged to its series, not its usage
	counted  bool   // in Scheduler.work until Done
	restore  func() // gives the thread back its priority (nice_linux.go); nil when not lowered
}

// Start is called before the statement's first step. A statement of a
// heavy tenant (its recent work cost more than its light share, see
// usage.go) waits for a token here, before it runs at all: a statement
// that writes a large value is a handful of VM steps, and the progress
// handler may never see it. It reports false when the statement must not
// run (as Tick does).
//
// A statement that cannot get a token here because its tenant's queue is
// full runs anyway, without one: the queue is full of the tenant's own
// work (often API calls waiting on its disk or on a move's fence), Admit
// already bounds how many of its requests get this far, and a long
// statement is still stopped at its progress checks. Refusing it here
// failed short reads of a busy tenant.
func (m *Meter) Start() bool {
	if m == nil || !m.s.gated(m.tenant, m.weight, m.start) {
		return true
	}
	m.s.metrics.heavyStart("sql")
	if m.grab() {
		return true
	}
	if !m.deadline.IsZero() && !time.Now().Before(m.deadline) {
		return false // out of time: the statement would fail anyway
	}
	m.refused = false
	m.abort()
	return true
}

// Tick is called from SQLite's progress handler. It reports whether the
// statement may go on; false means interrupt it (the tenant has too many
// heavy statements waiting, or this one could not get a token before its
// deadline). It may block while the statement waits for a token.
func (m *Meter) Tick() bool {
	if m == nil {
		return true
	}
	now := time.Now()
	if m.since.IsZero() {
		if now.Sub(m.start)-m.waited < m.s.cfg.Quantum {
			return true // still light
		}
		return m.grab()
	}
	if m.s.shortWork() {
		time.Sleep(stepAside)
		if m.restore == nil {
			for time.Since(now) < asideMax && m.s.shortWork() {
				time.Sleep(stepAside)
			}
		}
		m.yielded = time.Now()
		m.waited += m.yielded.Sub(now)
	} else if now.Sub(m.yielded) >= yieldEvery {
		runtime.Gosched()
		m.yielded = now
	}
	if now.Sub(m.since) < m.s.cfg.Slice || !m.s.othersWaiting(m.tenant) {
		return true
	}
	// Offer the token to a tenant with less token time, then queue again.
	m.s.release(m.tenant, now.Sub(m.since))
	m.since = time.Time{}
	return m.grab()
}

func (m *Meter) grab() bool {
	if !m.heavy {
		// From now on the statement is heavy: its request is not short
		// work that token holders step aside for.
		m.heavy = true
		m.s.heavy.Add(1)
	}
	t0 := time.Now()
	limit := m.s.cfg.MaxWaiting
	if m.api {
		limit = m.s.cfg.APIMaxWaiting
	}
	ok := m.s.acquire(m.tenant, m.weight, m.deadline, limit)
	m.waited += time.Since(t0)
	if !ok {
		m.refused = true
		return false
	}
	m.since = time.Now()
	// An API call cannot step aside or be interrupted: at nice 19 on a busy
	// host it would hold its token for as long as the host is busy, and
	// every heavy tenant behind it would wait. It is bounded by the token.
	if m.restore == nil && !m.s.cfg.NoNice && !m.api {
		m.restore = background()
	}
	return true
}

// Pause excludes d, spent waiting for something else (a lock), from what
// the work is charged.
func (m *Meter) Pause(d time.Duration) {
	if m != nil {
		m.waited += d
	}
}

// Wrote adds bytes the work wrote to the tenant's WAL to what it costs.
func (m *Meter) Wrote(bytes int64) {
	if m != nil && bytes > 0 {
		m.wrote += bytes
	}
}

// Refused reports whether Tick stopped the statement (for its error text).
func (m *Meter) Refused() bool { return m != nil && m.refused }

// Done ends the work: it gives back a held token and charges its cost to
// its tenant: its running time (waits for a token and step-asides
// excluded), scaled by the share of a core it could have had (cpuShare).
func (m *Meter) Done() {
	if m == nil || m.s == nil {
		return
	}
	now := time.Now()
	if !m.since.IsZero() {
		m.s.release(m.tenant, now.Sub(m.since))
		m.since = time.Time{}
	}
	m.abort()
	if m.counted {
		m.counted = false
		m.s.work.end(m.tenant, now)
	}
	ran := time.Duration(float64(now.Sub(m.start)-m.waited) * m.s.cpuShare(m.active, m.s.running()))
	if !m.api {
		m.s.metrics.charge(ran)
	}
	if !m.anon {
		io := time.Duration(float64(m.wrote) / (1 << 20) * float64(m.s.cfg.WriteCost))
		m.s.spend(m.tenant, m.weight, ran+io, now)
	}
	if f := m.s.cfg.OnCharge; f != nil {
		f(m.tenant, ran)
	}
	m.s = nil // a second Done does nothing
}

// Begin starts metering one API call of tenant (of plan weight weight).
// A light tenant's call starts at once. A heavy tenant's call (see Start)
// waits for a token first, in the tenant's own bounded queue: while that
// queue is full it is held like a SQL request (Admit) and then refused
// with ErrBusy, as it is when no token comes before ctx's deadline. Call
// Done on the returned Meter when the call ends, on the same goroutine.
func (s *Scheduler) Begin(ctx context.Context, id int64, weight float64) (Meter, error) {
	if s == nil {
		return Meter{}, nil
	}
	w := normWeight(weight)
	m := Meter{s: s, tenant: id, weight: w, start: time.Now(), active: s.running(), api: true, counted: true}
	s.work.begin(id)
	if !s.gated(id, w, m.start) {
		return m, nil
	}
	s.metrics.heavyStart("api")
	if err := s.admit(ctx, id, s.cfg.APIMaxWaiting); err != nil {
		s.work.end(id, time.Now())
		return Meter{}, err
	}
	m.start, m.active = time.Now(), s.running()
	m.deadline, _ = ctx.Deadline()
	if !m.grab() {
		m.abort()
		s.work.end(id, time.Now())
		return Meter{}, ErrBusy
	}
	return m, nil
}

// Account starts metering work done for tenant by someone who is not the
// tenant (a token-less login): its cost goes to the tenant's CPU series but
// not to its usage, so strangers cannot make a tenant heavy.
func (s *Scheduler) Account(id int64) Meter {
	if s == nil {
		return Meter{}
	}
	return Meter{s: s, tenant: id, weight: 1, start: time.Now(), active: s.running(), api: true, anon: true}
}

// abort undoes a refused grab (and ends a finished one's heavy state and
// lowered priority, for Done).
func (m *Meter) abort() {
	if m.heavy {
		m.heavy = false
		m.s.heavy.Add(-1)
	}
	if m.restore != nil {
		m.restore()
		m.restore = nil
	}
}
