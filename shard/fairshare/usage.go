package fairshare

import (
	"sync"
	"time"
)

// usageTable remembers, per tenant, what its recent work cost beyond its
// light share: a bucket that fills with each finished statement's and API
// call's cost and drains at LightShare cores per unit of plan weight. A
// tenant whose bucket holds more than Burst is heavy. Empty buckets are
// dropped, so the table holds the tenants that are busy now.
type usageTable struct {
	mu    sync.Mutex
	m     map[int64]*usage
	sweep int // charges since the last sweep of drained buckets
}

type usage struct {
	level float64 // seconds of work beyond the light share
	at    time.Time
}

// sweepEvery is how many charges pass between sweeps of drained buckets.
const sweepEvery = 4096

// drained is u's level at now, drained at rate (seconds per second).
func (u *usage) drained(now time.Time, rate float64) float64 {
	return max(0, u.level-now.Sub(u.at).Seconds()*rate)
}

func (s *Scheduler) drainRate(weight float64) float64 { return s.cfg.LightShare * weight }

// heavyNow reports whether tenant's usage is more than Burst ahead of its
// light share.
func (s *Scheduler) heavyNow(id int64, weight float64, now time.Time) bool {
	t := &s.usage
	t.mu.Lock()
	u := t.m[id]
	heavy := u != nil && u.drained(now, s.drainRate(weight)) > s.cfg.Burst.Seconds()
	t.mu.Unlock()
	return heavy
}

// spend charges cost to tenant's usage.
func (s *Scheduler) spend(id int64, weight float64, cost time.Duration, now time.Time) {
	if cost <= 0 {
		return
	}
	t := &s.usage
	rate := s.drainRate(weight)
	t.mu.Lock()
	defer t.mu.Unlock()
	u := t.m[id]
	if u == nil {
		u = &usage{}
		t.m[id] = u
	}
	u.level = u.drained(now, rate) + cost.Seconds()
	u.at = now
	if t.sweep++; t.sweep >= sweepEvery {
		t.sweep = 0
		for k, x := range t.m {
			// The least weight drains slowest: a bucket empty at weight 1
			// is empty at any weight.
			if x.drained(now, s.drainRate(1)) == 0 {
				delete(t.m, k)
			}
		}
	}
}

// cpuShare estimates the part of its running time that work had a core
// for: when more requests are in flight than Go has processors, each had
// about GOMAXPROCS/active of one (requests parked by the scheduler do not
// count; those blocked in I/O do, so this errs low). The samples are taken
// at the work's start and end.
func (s *Scheduler) cpuShare(startActive, endActive int64) float64 {
	active := float64(startActive+endActive) / 2
	if active <= s.procs {
		return 1
	}
	return s.procs / active
}

// workTable counts metered work in flight (statements and API calls), per
// tenant, and remembers who finished work last. A heavy tenant is made to
// wait for a token only while another tenant is busy (has work in flight,
// or finished some within recentWork): alone on the machine, a busy tenant
// takes all of it (the scheduler is work-conserving), and a loaded host
// that makes its work look expensive does not turn into refusals.
type workTable struct {
	mu    sync.Mutex
	m     map[int64]int
	total int
	// last is the latest work to end; prev the latest to end of a tenant
	// other than last's. Between them they name, for any tenant, the
	// latest work of another tenant.
	last, prev workEnd
}

type workEnd struct {
	tenant int64
	at     time.Time
}

// recentWork is how long after its last work ended a tenant still counts
// as busy: a client sending one request at a time is busy between them.
const recentWork = time.Second

func (w *workTable) begin(id int64) {
	w.mu.Lock()
	if w.m == nil {
		w.m = map[int64]int{}
	}
	w.m[id]++
	w.total++
	w.mu.Unlock()
}

func (w *workTable) end(id int64, now time.Time) {
	w.mu.Lock()
	if n := w.m[id] - 1; n > 0 {
		w.m[id] = n
	} else {
		delete(w.m, id)
	}
	w.total--
	if w.last.tenant != id {
		w.prev = w.last
	}
	w.last = workEnd{id, now}
	w.mu.Unlock()
}

// others reports whether a tenant other than id is busy.
func (w *workTable) others(id int64, now time.Time) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.total > w.m[id] {
		return true
	}
	e := w.last
	if e.tenant == id {
		e = w.prev
	}
	return !e.at.IsZero() && e.tenant != id && now.Sub(e.at) < recentWork
}

// gated reports whether tenant's next work must wait for a token before
// it starts: it is heavy, and another tenant is busy.
func (s *Scheduler) gated(id int64, weight float64, now time.Time) bool {
	return s.heavyNow(id, weight, now) && s.work.others(id, now)
}
