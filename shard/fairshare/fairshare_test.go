package fairshare

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// spin runs a CPU-bound "statement" of tenant for d, ticking like SQLite's
// progress handler, and returns whether it ran to the end.
func spin(s *Scheduler, tenant int64, d, deadline time.Duration) bool {
	var dl time.Time
	if deadline > 0 {
		dl = time.Now().Add(deadline)
	}
	m := s.Statement(tenant, 1, dl)
	defer m.Done()
	var work time.Duration
	for work < d {
		t0 := time.Now()
		for time.Since(t0) < 50*time.Microsecond {
		}
		work += time.Since(t0)
		if !m.Tick() {
			return false
		}
	}
	return true
}

// A tenant with eight heavy statements and a tenant with one share a single
// token about evenly: the lone statement is not stuck behind the eight.
func TestFairBetweenTenants(t *testing.T) {
	s := New(Config{Tokens: 1, Quantum: time.Millisecond, Slice: 5 * time.Millisecond, MaxWaiting: 16}, nil)
	var wg sync.WaitGroup
	var noisyDone atomic.Int32
	stop := make(chan struct{})
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				spin(s, 1, 20*time.Millisecond, 0)
				noisyDone.Add(1)
			}
		}()
	}
	time.Sleep(30 * time.Millisecond) // the noisy tenant owns the token
	before := noisyDone.Load()
	start := time.Now()
	if !spin(s, 2, 40*time.Millisecond, 0) {
		t.Fatal("victim statement refused")
	}
	took := time.Since(start)
	during := noisyDone.Load() - before
	close(stop)
	wg.Wait()
	// Sharing the token evenly, about 40 ms of noisy work (two of its 20 ms
	// statements, three with rounding) finishes while the victim runs. In
	// arrival order the victim would wait behind all eight.
	if during > 4 {
		t.Fatalf("%d noisy statements finished during the victim's (took %v)", during, took)
	}
	t.Logf("victim took %v for 40ms of work; %d noisy statements finished meanwhile", took, during)
}

// Past MaxWaiting a tenant's heavy statements are interrupted and Admit
// refuses its new requests; other tenants are unaffected.
func TestQueueBound(t *testing.T) {
	s := New(Config{Tokens: 1, Quantum: time.Millisecond, Slice: time.Hour, MaxWaiting: 2, AdmitWait: -1}, nil)
	var refused atomic.Int32
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if !spin(s, 1, 300*time.Millisecond, 0) {
				refused.Add(1)
			}
		}()
	}
	deadline := time.Now().Add(2 * time.Second)
	for s.Admit(t.Context(), 1) == nil && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if err := s.Admit(t.Context(), 1); err != ErrBusy {
		t.Fatalf("Admit(1) = %v with a full queue, want ErrBusy", err)
	}
	if err := s.Admit(t.Context(), 2); err != nil {
		t.Fatalf("Admit(2) = %v, want nil", err)
	}
	wg.Wait()
	if got := refused.Load(); got != 1 {
		t.Fatalf("%d statements refused, want 1 (1 running, 2 waiting)", got)
	}
	if n := len(s.tenants); n != 0 {
		t.Fatalf("%d tenants remembered after all finished", n)
	}
}

// A statement that cannot get a token before its deadline is stopped.
func TestDeadline(t *testing.T) {
	s := New(Config{Tokens: 1, Quantum: time.Millisecond, Slice: time.Hour}, nil)
	done := make(chan bool)
	go func() { done <- spin(s, 1, time.Second, 0) }() // long: a loaded machine must not end it before the deadline below
	time.Sleep(20 * time.Millisecond)
	if spin(s, 2, 50*time.Millisecond, 30*time.Millisecond) {
		t.Fatal("statement ran past its deadline without a token")
	}
	if !<-done {
		t.Fatal("holder refused")
	}
}

// Light statements never wait, and a nil scheduler is a no-op.
func TestLightAndNil(t *testing.T) {
	s := New(Config{Tokens: 1, Quantum: time.Hour}, nil)
	for range 100 {
		if !spin(s, 1, 100*time.Microsecond, 0) {
			t.Fatal("light statement refused")
		}
	}
	var nilS *Scheduler
	if nilS.Admit(t.Context(), 1) != nil || !nilS.Statement(1, 1, time.Time{}).Tick() {
		t.Fatal("nil scheduler refused")
	}
	nilS.Statement(1, 1, time.Time{}).Done()
}

// Idle time is not saved as credit: a tenant arriving while others compete
// starts level with them, not at zero.
func TestNoIdleCredit(t *testing.T) {
	s := New(Config{Tokens: 1, Quantum: time.Millisecond, Slice: time.Millisecond, NoNice: true}, nil)
	var wg sync.WaitGroup
	for _, id := range []int64{1, 3} {
		wg.Add(1)
		go func() { defer wg.Done(); spin(s, id, 150*time.Millisecond, 0) }()
	}
	// Until the token has changed hands with time used (a loaded machine
	// may take long to get there).
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		s.mu.Lock()
		floor := s.vfloor
		s.mu.Unlock()
		if floor > 0 {
			break
		}
	}
	m := s.Statement(2, 1, time.Time{})
	if !m.grab() {
		t.Fatal("grab refused")
	}
	s.mu.Lock()
	floor, vt := s.vfloor, s.tenants[2].vt
	s.mu.Unlock()
	m.Done()
	wg.Wait()
	if floor <= 0 || vt < floor {
		t.Fatalf("newcomer starts at %v with the floor at %v", vt, floor)
	}
	if n := len(s.tenants); n != 0 {
		t.Fatalf("%d tenants remembered once idle", n)
	}
}

// OnCharge receives each statement's running time, not its wait for a
// token: a statement stuck behind another for most of its life is charged
// about its own work.
func TestChargeExcludesWaits(t *testing.T) {
	var mu sync.Mutex
	charged := map[int64]time.Duration{}
	s := New(Config{Tokens: 1, Quantum: time.Millisecond, Slice: time.Hour, OnCharge: func(id int64, d time.Duration) {
		mu.Lock()
		charged[id] += d
		mu.Unlock()
	}}, nil)
	done := make(chan struct{})
	go func() { defer close(done); spin(s, 1, 150*time.Millisecond, 0) }()
	time.Sleep(20 * time.Millisecond) // tenant 1 holds the only token for its whole run
	start := time.Now()
	spin(s, 2, 20*time.Millisecond, 0)
	took := time.Since(start)
	<-done
	mu.Lock()
	defer mu.Unlock()
	if charged[2] <= 0 || took < 100*time.Millisecond {
		t.Fatalf("tenant 2 took %v and was charged %v; it should have waited for tenant 1", took, charged[2])
	}
	// Generous: the waiter did ~20 ms of work and waited ~100 ms.
	if charged[2] > took-50*time.Millisecond {
		t.Fatalf("tenant 2 was charged %v of its %v, waits included", charged[2], took)
	}
	if charged[1] < 100*time.Millisecond {
		t.Fatalf("tenant 1 was charged %v for 150 ms of work", charged[1])
	}
}

// Admit holds a request of a tenant whose queue is full until a waiter
// leaves it (here: gets the token), and refuses only after AdmitWait.
func TestAdmitWaitsForRoom(t *testing.T) {
	s := New(Config{Tokens: 1, Quantum: time.Millisecond, Slice: time.Hour, MaxWaiting: 1, AdmitWait: 10 * time.Second}, nil)
	holderEnd := make(chan time.Time, 1)
	go func() { spin(s, 1, 300*time.Millisecond, 0); holderEnd <- time.Now() }()
	waiter := make(chan struct{})
	time.Sleep(10 * time.Millisecond)
	go func() { defer close(waiter); spin(s, 1, 10*time.Millisecond, 0) }()
	deadline := time.Now().Add(5 * time.Second)
	for {
		s.mu.Lock()
		full := s.tenants[1] != nil && len(s.tenants[1].waiters) == 1
		s.mu.Unlock()
		if full {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the waiter never queued")
		}
		time.Sleep(time.Millisecond)
	}
	if err := s.Admit(t.Context(), 1); err != nil {
		t.Fatalf("Admit = %v; the queue had room once the holder finished", err)
	}
	admitted := time.Now()
	// Room came only when the holder released its token to the waiter
	// (just before it noted its end: generous slack for a loaded machine).
	if end := <-holderEnd; admitted.Before(end.Add(-100 * time.Millisecond)) {
		t.Fatalf("Admit let a request in %v before the queue had room", end.Sub(admitted))
	}
	<-waiter

	// Full for longer than AdmitWait: refused after about AdmitWait.
	s = New(Config{Tokens: 1, Quantum: time.Millisecond, Slice: time.Hour, MaxWaiting: 1, AdmitWait: 30 * time.Millisecond}, nil)
	var wg sync.WaitGroup
	wg.Go(func() { spin(s, 1, 400*time.Millisecond, 0) })
	time.Sleep(10 * time.Millisecond)
	wg.Go(func() { spin(s, 1, 10*time.Millisecond, 0) })
	time.Sleep(50 * time.Millisecond)
	start := time.Now()
	if err := s.Admit(t.Context(), 1); err != ErrBusy {
		t.Fatalf("Admit = %v with the queue full throughout, want ErrBusy", err)
	}
	if took := time.Since(start); took < 25*time.Millisecond {
		t.Fatalf("refused after %v, before AdmitWait", took)
	}
	if err := s.Admit(t.Context(), 2); err != nil {
		t.Fatalf("another tenant: %v", err)
	}
	wg.Wait()
}

// A token holder steps aside (sleeps) while a request that is not heavy is
// in flight, and runs flat out otherwise.
func TestHeavyStepsAsideForShortWork(t *testing.T) {
	s := New(Config{Tokens: 1, Quantum: time.Millisecond, Slice: time.Hour}, nil)
	run := func() time.Duration {
		s.Enter() // the heavy statement's own request
		defer s.Leave()
		start := time.Now()
		spin(s, 1, 30*time.Millisecond, 0)
		return time.Since(start)
	}
	alone := run()
	s.Enter() // a short request in flight throughout
	beside := run()
	s.Leave()
	// Each 50 µs step sleeps at least 100 µs beside short work: at least
	// twice as long. Generous either way for a loaded machine.
	if beside < 2*30*time.Millisecond || beside < alone {
		t.Fatalf("heavy statement took %v beside short work, %v alone: it did not step aside", beside, alone)
	}
	if s.active.Load() != 0 || s.heavy.Load() != 0 {
		t.Fatalf("active %d, heavy %d after all ended", s.active.Load(), s.heavy.Load())
	}
}
