package proxy

import (
	"context"
	"testing"
	"time"
)

// A tenant with a long queue does not delay another tenant's login by more
// than one turn, and waits are bounded.
func TestLoginQueueFairAndBounded(t *testing.T) {
	q := newLoginQueue(time.Second)
	q.slots, q.perTenant = 1, 1
	ctx := context.Background()
	if err := q.acquire(ctx, 1); err != nil { // tenant 1 holds the only slot
		t.Fatal(err)
	}
	granted := make(chan int64, 100)
	for range 10 { // tenant 1's flood queues up
		go func() {
			if q.acquire(ctx, 1) == nil {
				granted <- 1
			}
		}()
	}
	waitQueued(t, q, 1, 10)
	go func() {
		if q.acquire(ctx, 2) == nil {
			granted <- 2
		}
	}()
	waitQueued(t, q, 2, 1)
	q.release(1)
	first := <-granted // tenant 1's next waiter: it was first in turn
	q.release(1)
	if second := <-granted; first != 1 || second != 2 {
		t.Fatalf("turns went to tenants %d then %d, want 1 then 2", first, second)
	}
	// Tenant 1's queue is bounded: past loginQueuePerTenant waiters, 429 at once.
	for range loginQueuePerTenant {
		go q.acquire(ctx, 1)
	}
	waitQueued(t, q, 1, loginQueuePerTenant)
	start := time.Now()
	if err := q.acquire(ctx, 1); err == nil || time.Since(start) > 100*time.Millisecond {
		t.Fatalf("full queue: %v after %v, want an immediate 429", err, time.Since(start))
	}
	// With two slots, one tenant holds at most one: another tenant's login
	// gets the other at once, however long the first tenant's queue.
	q2 := newLoginQueue(time.Second)
	q2.slots, q2.perTenant = 2, 1
	if err := q2.acquire(ctx, 1); err != nil {
		t.Fatal(err)
	}
	for range 5 {
		go q2.acquire(ctx, 1)
	}
	waitQueued(t, q2, 1, 5)
	start = time.Now()
	if err := q2.acquire(ctx, 2); err != nil || time.Since(start) > 100*time.Millisecond {
		t.Fatalf("second tenant: %v after %v, want a slot at once", err, time.Since(start))
	}
	// And a wait past the bound is a 429, not a hang.
	start = time.Now()
	if err := q.acquire(ctx, 3); err == nil || time.Since(start) < time.Second {
		t.Fatalf("bounded wait: %v after %v", err, time.Since(start))
	}
}

func waitQueued(t *testing.T, q *loginQueue, tenant int64, n int) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); ; {
		q.mu.Lock()
		got := len(q.queues[tenant])
		q.mu.Unlock()
		if got >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("tenant %d has %d waiters, want %d", tenant, got, n)
		}
		time.Sleep(time.Millisecond)
	}
}
