package proxy

import (
	"net"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
)

func TestIPLimiter(t *testing.T) {
	t0 := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	l := newIPLimiter(RateLimit{Burst: 3, Every: time.Minute})

	t.Run("Burst", func(t *testing.T) {
		for i := range 3 {
			if ok, _ := l.allow("a", t0); !ok {
				t.Fatalf("request %d refused within the burst", i+1)
			}
		}
		ok, wait := l.allow("a", t0)
		if ok || wait != time.Minute {
			t.Fatalf("4th: ok=%v wait=%v, want refused for 1m", ok, wait)
		}
	})
	t.Run("PerKey", func(t *testing.T) {
		if ok, _ := l.allow("b", t0); !ok {
			t.Fatal("another address shares the bucket")
		}
	})
	t.Run("Refill", func(t *testing.T) {
		ok, wait := l.allow("a", t0.Add(45*time.Second))
		if ok || wait != 15*time.Second {
			t.Fatalf("after 45s: ok=%v wait=%v, want refused for 15s", ok, wait)
		}
		if ok, _ := l.allow("a", t0.Add(61*time.Second)); !ok {
			t.Fatal("not refilled after a minute")
		}
		if ok, _ := l.allow("a", t0.Add(62*time.Second)); ok {
			t.Fatal("one minute refilled more than one request")
		}
		// A long pause refills to the burst, not beyond.
		for i := range 4 {
			ok, _ := l.allow("a", t0.Add(time.Hour))
			if want := i < 3; ok != want {
				t.Fatalf("after an hour, request %d: ok=%v", i+1, ok)
			}
		}
	})
	t.Run("ClockBackwards", func(t *testing.T) {
		if ok, _ := l.allow("c", t0); !ok {
			t.Fatal("fresh key refused")
		}
		l.allow("c", t0.Add(-time.Hour)) // must not panic or mint tokens
	})
	t.Run("Disabled", func(t *testing.T) {
		off := newIPLimiter(RateLimit{})
		for range 100 {
			if ok, _ := off.allow("a", t0); !ok {
				t.Fatal("a zero limit refused a request")
			}
		}
	})
	t.Run("Sweep", func(t *testing.T) {
		s := newIPLimiter(RateLimit{Burst: 1, Every: time.Second})
		s.allow("old", t0)
		s.allow("new", t0.Add(time.Hour-time.Millisecond))
		s.sweep(t0.Add(time.Hour))
		if _, ok := s.buckets["old"]; ok {
			t.Error("a refilled bucket survived the sweep")
		}
		if _, ok := s.buckets["new"]; !ok {
			t.Error("a spent bucket was swept (it would forget the limit)")
		}
	})
}

func TestClientKey(t *testing.T) {
	for _, c := range []struct{ addr, want string }{
		{"203.0.113.7:5555", "203.0.113.7"},
		{"[2001:db8:1:2:aaaa::1]:443", "2001:db8:1:2::/64"},
		{"[2001:db8:1:2:bbbb::9]:443", "2001:db8:1:2::/64"},
		{"[::ffff:198.51.100.2]:80", "198.51.100.2"},
	} {
		addr, err := net.ResolveTCPAddr("tcp", c.addr)
		if err != nil {
			t.Fatal(err)
		}
		var ctx fasthttp.RequestCtx
		ctx.Init(&fasthttp.Request{}, addr, nil)
		ctx.Request.Header.Set("X-Forwarded-For", "192.0.2.99") // ignored
		if got := clientKey(&ctx); got != c.want {
			t.Errorf("clientKey(%s) = %q, want %q", c.addr, got, c.want)
		}
	}
}
