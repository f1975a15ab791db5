package proxy

import (
	"testing"
	"time"
)

func TestLoginThrottle(t *testing.T) {
	var l loginThrottle
	now := time.Unix(1_700_000_000, 0)
	k := loginKey{tenant: 1, email: "a@example.com"}
	for i := 0; i < LoginBurst; i++ {
		if ok, _ := l.take(k, now); !ok {
			t.Fatalf("attempt %d refused", i)
		}
	}
	ok, wait := l.take(k, now)
	if ok || wait != LoginRefill {
		t.Fatalf("6th attempt: ok=%v wait=%v, want refused for %v", ok, wait, LoginRefill)
	}
	t.Run("OtherTenantSameEmail", func(t *testing.T) {
		if ok, _ := l.take(loginKey{tenant: 2, email: k.email}, now); !ok {
			t.Fatal("refused")
		}
	})
	t.Run("Refill", func(t *testing.T) {
		if ok, _ := l.take(k, now.Add(LoginRefill/2)); ok {
			t.Fatal("allowed after half a refill")
		}
		if ok, _ := l.take(k, now.Add(LoginRefill)); !ok {
			t.Fatal("refused after a full refill")
		}
		if ok, _ := l.take(k, now.Add(LoginRefill)); ok {
			t.Fatal("one refill allowed two attempts")
		}
	})
	t.Run("SuccessResets", func(t *testing.T) {
		l.succeeded(k)
		for i := 0; i < LoginBurst; i++ {
			if ok, _ := l.take(k, now); !ok {
				t.Fatalf("attempt %d after success refused", i)
			}
		}
	})
	t.Run("SweepKeepsLimited", func(t *testing.T) {
		var l loginThrottle
		l.take(k, now)
		l.sweep(now.Add(LoginBurst * LoginRefill))
		if len(l.buckets) != 0 {
			t.Fatalf("refilled bucket kept: %d", len(l.buckets))
		}
		for i := 0; i <= LoginBurst; i++ {
			l.take(k, now)
		}
		l.sweep(now)
		if len(l.buckets) != 1 {
			t.Fatal("an exhausted bucket was swept")
		}
	})
}
