package proxy

import (
	"net/netip"
	"testing"
	"time"
)

func TestLoginThrottle(t *testing.T) {
	l := newLoginThrottle(DefaultLoginIPLimit, DefaultLoginTenantLimit)
	now := time.Unix(1_700_000_000, 0)
	ip := netip.MustParseAddr("203.0.113.1")
	k := loginKey{tenant: 1, email: "a@example.com"}
	for i := 0; i < LoginBurst; i++ {
		if name, _ := l.take(k, ip, now); name != "" {
			t.Fatalf("attempt %d refused by %s", i, name)
		}
	}
	name, wait := l.take(k, ip, now)
	if name != "login" || wait != LoginRefill {
		t.Fatalf("6th attempt: %q wait=%v, want login for %v", name, wait, LoginRefill)
	}
	t.Run("OtherTenantSameEmail", func(t *testing.T) {
		if name, _ := l.take(loginKey{tenant: 2, email: k.email}, ip, now); name != "" {
			t.Fatal("refused by", name)
		}
	})
	t.Run("Refill", func(t *testing.T) {
		if name, _ := l.take(k, ip, now.Add(LoginRefill/2)); name == "" {
			t.Fatal("allowed after half a refill")
		}
		if name, _ := l.take(k, ip, now.Add(LoginRefill)); name != "" {
			t.Fatal("refused after a full refill by", name)
		}
		if name, _ := l.take(k, ip, now.Add(LoginRefill)); name == "" {
			t.Fatal("one refill allowed two attempts")
		}
	})
	t.Run("SuccessResets", func(t *testing.T) {
		l.succeeded(k)
		for i := 0; i < LoginBurst; i++ {
			if name, _ := l.take(k, netip.MustParseAddr("203.0.113.2"), now.Add(LoginRefill)); name != "" {
				t.Fatalf("attempt %d after success refused by %s", i, name)
			}
		}
	})
	t.Run("PerAddress", func(t *testing.T) {
		l := newLoginThrottle(RateLimit{Burst: 3, Every: time.Hour}, DefaultLoginTenantLimit)
		a := netip.MustParseAddr("2001:db8:1:2::1")
		for i := range 3 {
			if name, _ := l.take(loginKey{tenant: 1, email: string(rune('a' + i))}, a, now); name != "" {
				t.Fatal("refused within the burst by", name)
			}
		}
		// Same /64, random e-mail: still the same client.
		if name, _ := l.take(loginKey{tenant: 1, email: "z"}, netip.MustParseAddr("2001:db8:1:2:ffff::9"), now); name != "login_ip" {
			t.Fatalf("4th attempt from the /64 refused by %q, want login_ip", name)
		}
	})
	t.Run("PerTenant", func(t *testing.T) {
		l := newLoginThrottle(DefaultLoginIPLimit, RateLimit{Burst: 2, Every: time.Hour})
		for i := range 2 {
			if name, _ := l.take(loginKey{tenant: 7, email: "x"}, netip.AddrFrom4([4]byte{10, 0, 0, byte(i)}), now); name != "" {
				t.Fatal("refused within the burst by", name)
			}
		}
		if name, _ := l.take(loginKey{tenant: 7, email: "y"}, netip.MustParseAddr("10.0.1.1"), now); name != "login_tenant" {
			t.Fatalf("3rd attempt on the tenant refused by %q, want login_tenant", name)
		}
		if name, _ := l.take(loginKey{tenant: 8, email: "y"}, netip.MustParseAddr("10.0.1.1"), now); name != "" {
			t.Fatal("another tenant refused by", name)
		}
	})
}
