package proxy

import (
	"math"
	"testing"
	"time"

	"github.com/microfi/tenantgate/catalog/registry"
)

// Each proxy's share of a tenant follows its share of the tenant's traffic,
// the shares of the fleet add up to one, and the throttle's bucket and
// concurrency cap follow them.
func TestFleetSharesReweight(t *testing.T) {
	loads := map[string]float64{"a": 80, "b": 15, "c": 5}
	var live []registry.Proxy
	for id, r := range loads {
		live = append(live, registry.Proxy{ID: id, State: registry.StateServing, Load: map[string]float64{"t:7": r, "t:9": 1}})
	}
	live = append(live, registry.Proxy{ID: "d", State: registry.StateDraining, Load: map[string]float64{"t:7": 500}})
	sum := 0.0
	for id, r := range loads {
		th := newTenantThrottle(RateLimit{Burst: 100, Every: 10 * time.Millisecond}, 50)
		th.enter(7, time.Now()) // a bucket exists before the shares arrive
		th.leave(7)
		th.fleet.reweight(id, live, th)
		w := th.fleet.weight(7)
		if want := r / 100; math.Abs(w-want) > 1e-9 {
			t.Errorf("%s: share %.3f, want %.3f (a draining proxy does not count)", id, w, want)
		}
		sum += w
		b, _ := th.rate.buckets.Peek(7)
		if math.Abs(float64(b.Limit())-100*w) > 1e-6 || b.Burst() != max(1, int(math.Round(100*w))) {
			t.Errorf("%s: bucket %v/%d after reweight", id, b.Limit(), b.Burst())
		}
		if got := th.localMaxInFlight(7); got != max(1, int(math.Ceil(50*w))) {
			t.Errorf("%s: in-flight cap %d", id, got)
		}
		if th.fleet.weight(8) != 1 {
			t.Errorf("a tenant no peer reports gets the whole limit")
		}
	}
	if math.Abs(sum-1) > 1e-9 {
		t.Fatalf("shares add up to %.4f", sum)
	}
	if shareOf(0, 10) != minShare || shareOf(5, 0) != 1 {
		t.Fatal("shareOf floor or sole-proxy case")
	}
}

// The load report is the offered rate per tenant, and forgets idle ones.
func TestFleetLoadReport(t *testing.T) {
	var f fleetShares
	now := time.Now()
	f.report(now)
	for range 50 {
		f.count(3)
	}
	r := f.report(now.Add(time.Second))
	if math.Abs(r["t:3"]-50) > 1e-9 {
		t.Fatalf("report = %v", r)
	}
	for i := 2; i < 20; i++ {
		r = f.report(now.Add(time.Duration(i) * time.Second))
	}
	if _, ok := r["t:3"]; ok {
		t.Fatalf("idle tenant still reported: %v", r)
	}
}
