package fairshare

import (
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

// Meter follows one statement. It is used by the goroutine running the
// statement only. A nil *Meter is valid and never stops a statement.
type Meter struct {
	s        *Scheduler
	tenant   int64
	deadline time.Time
	start    time.Time     // when the statement started
	since    time.Time     // when the token was granted; zero when not held
	yielded  time.Time     // when the statement last yielded its P
	waited   time.Duration // time spent waiting for a token, not charged
	refused  bool
	heavy    bool   // counted in Scheduler.heavy
	restore  func() // gives the thread back its priority (nice_linux.go); nil when not lowered
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
		if now.Sub(m.start) < m.s.cfg.Quantum {
			return true // still light
		}
		return m.grab()
	}
	if m.s.shortWork() {
		time.Sleep(stepAside)
		m.yielded = time.Now()
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
	ok := m.s.acquire(m.tenant, m.deadline)
	m.waited += time.Since(t0)
	if !ok {
		m.refused = true
		return false
	}
	m.since = time.Now()
	if m.restore == nil {
		m.restore = background()
	}
	return true
}

// Refused reports whether Tick stopped the statement (for its error text).
func (m *Meter) Refused() bool { return m != nil && m.refused }

// Done ends the statement: it gives back a held token and charges the
// statement's run time, its waits for a token excluded, to its tenant.
func (m *Meter) Done() {
	if m == nil {
		return
	}
	now := time.Now()
	if !m.since.IsZero() {
		m.s.release(m.tenant, now.Sub(m.since))
		m.since = time.Time{}
	}
	if m.heavy {
		m.heavy = false
		m.s.heavy.Add(-1)
	}
	if m.restore != nil {
		m.restore()
		m.restore = nil
	}
	ran := now.Sub(m.start) - m.waited
	m.s.metrics.charge(ran)
	if f := m.s.cfg.OnCharge; f != nil {
		f(m.tenant, ran)
	}
}
