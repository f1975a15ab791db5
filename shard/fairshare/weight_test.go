package fairshare

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

// spinW is spin for a tenant of weight w.
func spinW(s *Scheduler, tenant int64, w float64, d time.Duration, stop <-chan struct{}) {
	m := s.Statement(tenant, w, time.Time{})
	defer m.Done()
	if !m.Start() {
		return
	}
	for work := time.Duration(0); work < d; {
		select {
		case <-stop:
			return
		default:
		}
		t0 := time.Now()
		for time.Since(t0) < 50*time.Microsecond {
		}
		work += time.Since(t0)
		if !m.Tick() {
			return
		}
	}
}

// Two busy tenants of weights 1 and 2 sharing one token get about 1:2 of
// its time.
func TestPlanWeights(t *testing.T) {
	var mu sync.Mutex
	used := map[int64]time.Duration{}
	s := New(Config{Tokens: 1, Quantum: time.Millisecond, Slice: 5 * time.Millisecond, MaxWaiting: 8, NoNice: true,
		OnCharge: func(id int64, d time.Duration) { mu.Lock(); used[id] += d; mu.Unlock() }}, nil)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for _, tw := range []struct {
		id int64
		w  float64
	}{{1, 1}, {2, 2}} {
		for range 3 {
			wg.Go(func() {
				for {
					select {
					case <-stop:
						return
					default:
					}
					spinW(s, tw.id, tw.w, 30*time.Millisecond, stop)
				}
			})
		}
	}
	time.Sleep(1500 * time.Millisecond)
	close(stop)
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	ratio := float64(used[2]) / float64(used[1])
	t.Logf("weight 1: %v, weight 2: %v (%.2f:1)", used[1], used[2], ratio)
	// Generous: a loaded machine skews slices, never by this much.
	if ratio < 1.4 || ratio > 2.9 {
		t.Fatalf("weights 1 and 2 got %v and %v of the token (%.2f:1), want about 1:2", used[1], used[2], ratio)
	}
}

// burn is an API call of tenant that costs about d.
func burn(t *testing.T, s *Scheduler, tenant int64, d time.Duration) {
	m, err := s.Begin(t.Context(), tenant, 1)
	if err != nil {
		t.Fatalf("Begin: %v", err)
	}
	for t0 := time.Now(); time.Since(t0) < d; {
	}
	m.Done()
}

// A tenant whose API calls cost more than its light share becomes heavy:
// its next call waits for a token (held here by another tenant's long
// statement), while a light tenant's call starts at once. Past its bounded
// queue the heavy tenant is refused.
func TestHeavyTenantWaitsForToken(t *testing.T) {
	s := New(Config{Tokens: 1, Quantum: time.Millisecond, Slice: time.Hour, MaxWaiting: 1, APIMaxWaiting: 1, AdmitWait: 50 * time.Millisecond,
		LightShare: 0.01, Burst: 5 * time.Millisecond, NoNice: true}, nil)
	burn(t, s, 1, 30*time.Millisecond) // tenant 1 is now 25 ms over its burst
	if !s.heavyNow(1, 1, time.Now()) {
		t.Fatal("tenant 1 not heavy after 30 ms of work against a 5 ms burst")
	}
	holder := s.Statement(3, 1, time.Time{})
	if !holder.grab() {
		t.Fatal("holder refused")
	}
	// Tenant 2 is light: it runs now.
	start := time.Now()
	burn(t, s, 2, 0)
	if d := time.Since(start); d > 500*time.Millisecond {
		t.Fatalf("light tenant waited %v", d)
	}
	// Tenant 1 waits for the token: the first call queues, the next is
	// held (the queue of one is full) and refused after AdmitWait.
	got := make(chan time.Time, 1)
	go func() {
		m, err := s.Begin(context.Background(), 1, 1)
		if err != nil {
			t.Errorf("queued call: %v", err)
		}
		at := time.Now()
		m.Done()
		got <- at
	}()
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(time.Millisecond) {
		s.mu.Lock()
		queued := s.tenants[1] != nil && len(s.tenants[1].waiters) == 1
		s.mu.Unlock()
		if queued {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the heavy tenant's call never queued")
		}
	}
	if _, err := s.Begin(t.Context(), 1, 1); !errors.Is(err, ErrBusy) {
		t.Fatalf("second call with the queue full: %v, want ErrBusy", err)
	}
	released := time.Now()
	holder.Done()
	if at := <-got; at.Before(released) {
		t.Fatal("the heavy tenant's call ran before the token was free")
	}
	if n := s.heavy.Load(); n != 0 {
		t.Fatalf("heavy count %d after all ended", n)
	}
}

// A statement that never ticks (a large write is a handful of VM steps)
// is still charged what it cost, so its tenant's next statement starts
// heavy; a weight-2 tenant drains twice as fast.
func TestUntickedCostCounts(t *testing.T) {
	s := New(Config{Tokens: 1, LightShare: 0.05, Burst: 5 * time.Millisecond, NoNice: true}, nil)
	busy := s.Statement(99, 1, time.Time{}) // another tenant is busy: heavy work is gated
	defer busy.Done()
	for _, w := range []float64{1, 2} {
		id := int64(w)
		m := s.Statement(id, w, time.Time{})
		if !m.Start() {
			t.Fatal("refused")
		}
		for t0 := time.Now(); time.Since(t0) < 60*time.Millisecond; {
		}
		m.Done()
		next := s.Statement(id, w, time.Time{})
		if !next.Start() || next.since.IsZero() {
			t.Fatalf("weight %v: the next statement did not start heavy", w)
		}
		next.Done()
	}
	// Draining, on a clock of the test's own: 60 ms charged at 0.05 and
	// 0.1 of a core is back under the 5 ms burst after 1.1 s and 0.55 s.
	t0 := time.Unix(1e9, 0)
	s.spend(10, 1, 60*time.Millisecond, t0)
	s.spend(20, 2, 60*time.Millisecond, t0)
	at := t0.Add(700 * time.Millisecond)
	if s.heavyNow(20, 2, at) {
		t.Error("weight 2 still heavy: drains at weight 1's rate")
	}
	if !s.heavyNow(10, 1, at) {
		t.Error("weight 1 light too soon")
	}
	if !s.heavyNow(10, 1, t0.Add(1050*time.Millisecond)) || s.heavyNow(10, 1, t0.Add(1150*time.Millisecond)) {
		t.Error("weight 1 does not drain at 0.05 of a core")
	}
}

// A statement that runs briefly but writes a lot to the WAL costs its
// tenant the write too: after 16 MiB its next statement starts heavy.
func TestWritesCount(t *testing.T) {
	s := New(Config{Tokens: 1, Burst: 20 * time.Millisecond, WriteCost: 4 * time.Millisecond, NoNice: true}, nil)
	busy := s.Statement(99, 1, time.Time{}) // another tenant is busy: heavy work is gated
	defer busy.Done()
	m := s.Statement(1, 1, time.Time{})
	m.Start()
	m.Wrote(16 << 20) // 64 ms of cost at 4 ms per MiB
	m.Done()
	next := s.Statement(1, 1, time.Time{})
	if !next.Start() || next.since.IsZero() {
		t.Fatal("a tenant that wrote 16 MiB did not start heavy")
	}
	next.Done()
	other := s.Statement(2, 1, time.Time{})
	if !other.Start() || !other.since.IsZero() {
		t.Fatal("another tenant started heavy")
	}
	other.Done()
}

// What metering adds to a light API call (the hot path): Begin and Done
// for a tenant that is not heavy, 100 tenants in turn.
func BenchmarkBeginDone(b *testing.B) {
	s := New(Config{}, nil)
	ctx := context.Background()
	for i := range b.N {
		m, err := s.Begin(ctx, int64(i%100), 2)
		if err != nil {
			b.Fatal(err)
		}
		m.Done()
	}
}

// The scheduler is work-conserving: a heavy tenant alone on the machine
// is not made to wait for a token (a loaded host that makes its work look
// expensive must not turn into refusals), and is gated again as soon as
// another tenant has work in flight. A statement whose tenant's queue is
// full runs without a token rather than failing before its first step.
func TestHeavyAloneIsNotGated(t *testing.T) {
	s := New(Config{Tokens: 1, MaxWaiting: 1, Burst: 5 * time.Millisecond, NoNice: true}, nil)
	s.spend(1, 1, time.Second, time.Now())
	if !s.heavyNow(1, 1, time.Now()) {
		t.Fatal("tenant 1 not heavy")
	}
	for range 3 { // more calls than the queue holds
		m, err := s.Begin(t.Context(), 1, 1)
		if err != nil {
			t.Fatalf("heavy tenant alone refused: %v", err)
		}
		defer m.Done()
	}
	st := s.Statement(1, 1, time.Time{})
	if !st.Start() || !st.since.IsZero() {
		t.Fatal("heavy tenant alone waited for a token")
	}
	st.Done()

	other := s.Statement(2, 1, time.Time{}) // now another tenant is busy
	holder := s.Statement(3, 1, time.Time{})
	if !holder.grab() {
		t.Fatal("holder refused")
	}
	queued := s.Statement(1, 1, time.Now().Add(time.Minute))
	started := make(chan bool, 1)
	go func() { started <- queued.Start() && !queued.since.IsZero() }() // takes tenant 1's one queue place
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(time.Millisecond) {
		s.mu.Lock()
		n := 0
		if t1 := s.tenants[1]; t1 != nil {
			n = len(t1.waiters)
		}
		s.mu.Unlock()
		if n == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("tenant 1's statement never queued")
		}
	}
	full := s.Statement(1, 1, time.Now().Add(time.Minute))
	if !full.Start() || !full.since.IsZero() || full.Refused() {
		t.Fatal("a statement whose queue is full did not run untokened")
	}
	full.Done()
	holder.Done()
	if !<-started {
		t.Fatal("the queued statement did not run with the token")
	}
	queued.Done()
	other.Done()
}
