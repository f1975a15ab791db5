package proxy

import (
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
)

func TestIPLimiter(t *testing.T) {
	t0 := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	l := newIPLimiter(RateLimit{Burst: 3, Every: time.Minute})
	a, b, c := netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("192.0.2.2"), netip.MustParseAddr("192.0.2.3")

	t.Run("Burst", func(t *testing.T) {
		for i := range 3 {
			if ok, _ := l.allow(a, t0); !ok {
				t.Fatalf("request %d refused within the burst", i+1)
			}
		}
		ok, wait := l.allow(a, t0)
		if ok || wait != time.Minute {
			t.Fatalf("4th: ok=%v wait=%v, want refused for 1m", ok, wait)
		}
	})
	t.Run("PerKey", func(t *testing.T) {
		if ok, _ := l.allow(b, t0); !ok {
			t.Fatal("another address shares the bucket")
		}
	})
	t.Run("Refill", func(t *testing.T) {
		ok, wait := l.allow(a, t0.Add(45*time.Second))
		if ok || wait < 14*time.Second || wait > 16*time.Second {
			t.Fatalf("after 45s: ok=%v wait=%v, want refused for 15s", ok, wait)
		}
		if ok, _ := l.allow(a, t0.Add(61*time.Second)); !ok {
			t.Fatal("not refilled after a minute")
		}
		if ok, _ := l.allow(a, t0.Add(62*time.Second)); ok {
			t.Fatal("one minute refilled more than one request")
		}
		for i := range 4 { // a long pause refills to the burst, not beyond
			ok, _ := l.allow(a, t0.Add(time.Hour))
			if want := i < 3; ok != want {
				t.Fatalf("after an hour, request %d: ok=%v", i+1, ok)
			}
		}
	})
	t.Run("ClockBackwards", func(t *testing.T) {
		if ok, _ := l.allow(c, t0); !ok {
			t.Fatal("fresh key refused")
		}
		l.allow(c, t0.Add(-time.Hour)) // must not panic or mint tokens
	})
	t.Run("Disabled", func(t *testing.T) {
		off := newIPLimiter(RateLimit{Burst: -1})
		for range 100 {
			if ok, _ := off.allow(a, t0); !ok {
				t.Fatal("a disabled limit refused a request")
			}
		}
	})
	t.Run("NeverRefills", func(t *testing.T) {
		once := newIPLimiter(RateLimit{Burst: 1})
		if ok, _ := once.allow(a, t0); !ok {
			t.Fatal("first refused")
		}
		if ok, wait := once.allow(a, t0.Add(time.Hour)); ok || wait <= 0 {
			t.Fatalf("second: ok=%v wait=%v", ok, wait)
		}
	})
	t.Run("BoundedLRU", func(t *testing.T) {
		small := newLimiter[int](RateLimit{Burst: 1, Every: time.Hour}, 4)
		small.allow(0, t0) // spent
		for k := 1; k <= 3; k++ {
			small.allow(k, t0)
		}
		if ok, _ := small.allow(0, t0); ok {
			t.Fatal("spent key allowed while it is remembered")
		}
		for k := 10; k < 1000; k++ { // spraying keys never grows it past its size
			small.allow(k, t0)
		}
		if n := small.buckets.Len(); n != 4 {
			t.Fatalf("%d buckets, want 4", n)
		}
	})
}

func TestClientAddr(t *testing.T) {
	trusted, err := ParseTrustedProxies("10.0.0.0/8, 2001:db8:ffff::/48,192.0.2.10")
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{trusted: trusted}
	for _, c := range []struct{ peer, xff, fwd, want string }{
		{"203.0.113.7:5555", "", "", "203.0.113.7"},
		{"203.0.113.7:5555", "198.51.100.1", "", "203.0.113.7"}, // untrusted peer: header ignored
		{"[::ffff:198.51.100.2]:80", "", "", "198.51.100.2"},
		{"10.1.2.3:80", "198.51.100.1", "", "198.51.100.1"},
		{"10.1.2.3:80", "6.6.6.6, 198.51.100.1, 10.9.9.9", "", "198.51.100.1"}, // spoofed left entry skipped
		{"192.0.2.10:80", "2001:db8::5", "", "2001:db8::5"},
		{"10.1.2.3:80", "", `for="[2001:db8::7]:4711";proto=https, for=10.0.0.2`, "2001:db8::7"},
		{"10.1.2.3:80", "1.1.1.1", `for=198.51.100.9`, "198.51.100.9"}, // Forwarded wins
		{"10.1.2.3:80", "garbage", "", "10.1.2.3"},
		{"10.1.2.3:80", "10.0.0.1", "", "10.0.0.1"}, // all hops trusted: the first
	} {
		addr, err := net.ResolveTCPAddr("tcp", c.peer)
		if err != nil {
			t.Fatal(err)
		}
		var ctx fasthttp.RequestCtx
		ctx.Init(&fasthttp.Request{}, addr, nil)
		if c.xff != "" {
			ctx.Request.Header.Set("X-Forwarded-For", c.xff)
		}
		if c.fwd != "" {
			ctx.Request.Header.Set("Forwarded", c.fwd)
		}
		if got := s.clientAddr(&ctx).String(); got != c.want {
			t.Errorf("peer %s xff %q fwd %q: client %s, want %s", c.peer, c.xff, c.fwd, got, c.want)
		}
	}
	if k := clientKey(netip.MustParseAddr("2001:db8:1:2:aaaa::1")); k != clientKey(netip.MustParseAddr("2001:db8:1:2:bbbb::9")) {
		t.Error("one /64 gives two keys")
	}
}

// BenchmarkFleetCount is what fleet-wide limits add to each tenant
// request: counting it for the heartbeat's load report.
func BenchmarkFleetCount(b *testing.B) {
	var f fleetShares
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			f.count(7)
		}
	})
}
