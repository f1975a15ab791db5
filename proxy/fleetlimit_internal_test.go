package proxy

import (
	"fmt"
	"math"
	"net/netip"
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
		th.fleet.reweight(id, live)
		th.rescale(time.Now())
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
	f := fleetShares{class: shareTenant}
	now := time.Now()
	f.report(now, map[string]float64{})
	for range 50 {
		f.count(3)
	}
	r := map[string]float64{}
	f.report(now.Add(time.Second), r)
	if math.Abs(r["t:3"]-50) > 1e-9 {
		t.Fatalf("report = %v", r)
	}
	for i := 2; i < 20; i++ {
		r = map[string]float64{}
		f.report(now.Add(time.Duration(i)*time.Second), r)
	}
	if _, ok := r["t:3"]; ok {
		t.Fatalf("idle tenant still reported: %v", r)
	}
}

// The per-tenant login limit and the creation budgets follow the same
// shares, each from its own class of the load report: a proxy's login
// bucket for a tenant is its share of the tenant's login attempts, and a
// budget is split by the proxies' shares of its requests, or equally
// while nobody asks for it.
func TestFleetSharesLoginAndBudgets(t *testing.T) {
	now := time.Now()
	s := &Server{logins: newLoginThrottle(RateLimit{Burst: 30, Every: time.Second}, RateLimit{Burst: 100, Every: 10 * time.Millisecond}),
		budgets:     newBudgets(Budgets{DemoGlobal: RateLimit{Burst: 20, Every: 100 * time.Millisecond}, SignupGlobal: RateLimit{Burst: 30, Every: time.Second}}),
		tenantLimit: newTenantThrottle(RateLimit{Burst: 10, Every: time.Millisecond}, 5)}
	// Before any reweighting: the whole limits, as a lone proxy.
	s.logins.take(loginKey{tenant: 7, email: "a@b.c"}, netip.MustParseAddr("10.0.0.1"), now)
	if err := s.signupBudget(); err != nil {
		t.Fatal(err)
	}
	s.budgets.demoGlobal.allow(struct{}{}, now)
	load := s.FleetLoad() // first report: the clock starts
	if len(load) != 0 {
		t.Fatalf("first report %v", load)
	}
	s.logins.take(loginKey{tenant: 7, email: "a@b.c"}, netip.MustParseAddr("10.0.0.1"), now)
	s.signupBudget()
	time.Sleep(10 * time.Millisecond)
	load = s.FleetLoad()
	if load["l:7"] <= 0 || load["b:signup"] <= 0 || load["b:demo"] != 0 || load["t:7"] != 0 {
		t.Fatalf("load report %v: want l:7 and b:signup only", load)
	}
	live := []registry.Proxy{
		{ID: "me", State: registry.StateServing, Load: map[string]float64{"l:7": 20, "b:signup": 1, "t:7": 50}},
		{ID: "p2", State: registry.StateServing, Load: map[string]float64{"l:7": 60, "b:signup": 3, "t:7": 50, "b:bogus": 9}},
		{ID: "p3", State: registry.StateServing, Load: map[string]float64{}},
	}
	s.Reweight("me", live)
	if w := s.logins.shares.weight(7); math.Abs(w-0.25) > 1e-9 {
		t.Errorf("login share of tenant 7 = %v, want 0.25", w)
	}
	if w := s.logins.shares.weight(8); w != 1 {
		t.Errorf("login share of a tenant nobody reports = %v, want 1", w)
	}
	b, _ := s.logins.tenant.buckets.Peek(7)
	if math.Abs(float64(b.Limit())-25) > 1e-6 || b.Burst() != 25 {
		t.Errorf("login bucket of tenant 7 after reweight: %v/s burst %d, want 25/s burst 25", b.Limit(), b.Burst())
	}
	if w := s.budgets.shares.weight(budgetSignup); math.Abs(w-0.25) > 1e-9 {
		t.Errorf("signup share = %v, want 0.25", w)
	}
	// Nobody asked for demos: a third each, so three proxies asked at
	// once admit the budget, not three times it.
	if w := s.budgets.shares.weight(budgetDemo); math.Abs(w-1.0/3) > 1e-9 {
		t.Errorf("demo share = %v, want 1/3", w)
	}
	d, _ := s.budgets.demoGlobal.buckets.Peek(struct{}{})
	if d.Burst() != 7 || math.Abs(float64(d.Limit())-10.0/3) > 1e-6 {
		t.Errorf("demo bucket after reweight: %v/s burst %d", d.Limit(), d.Burst())
	}
	sg, _ := s.budgets.signupGlobal.buckets.Peek(struct{}{})
	if sg.Burst() != 8 { // round(30 × 0.25)
		t.Errorf("signup bucket burst %d, want 8", sg.Burst())
	}
	// Tokens above the smaller burst are gone: 8 signups, then 429.
	admitted := 0
	for range 20 {
		if ok, _ := s.budgets.signupGlobal.allow(struct{}{}, time.Now()); ok {
			admitted++
		}
	}
	if admitted > 8 {
		t.Errorf("admitted %d signups after the share shrank to 8", admitted)
	}
	// Asked only here: the whole budget again.
	live[1].Load = map[string]float64{}
	live[0].Load = map[string]float64{"b:demo": 2}
	s.Reweight("me", live)
	if w := s.budgets.shares.weight(budgetDemo); w != 1 {
		t.Errorf("demo share when only this proxy is asked = %v, want 1", w)
	}
}

// BenchmarkFleetReweight is the proxy's side of one heartbeat at its
// busiest: the load report of 1,000 active tenants (requests and logins)
// and both creation budgets, then the shares recomputed from three such
// reports and every existing bucket rescaled. Off the request path, once
// per --heartbeat-interval (BENCHMARKS.md).
func BenchmarkFleetReweight(b *testing.B) {
	s := &Server{logins: newLoginThrottle(DefaultLoginIPLimit, DefaultLoginTenantLimit),
		budgets: newBudgets(Budgets{}), tenantLimit: newTenantThrottle(DefaultTenantRate, DefaultTenantMaxInFlight)}
	now := time.Now()
	addr := netip.MustParseAddr("10.0.0.1")
	var live []registry.Proxy
	for _, id := range []string{"self", "p2", "p3"} {
		load := map[string]float64{"b:demo": 0.1, "b:signup": 0.05}
		for t := int64(1); t <= 1000; t++ {
			load[fmt.Sprintf("t:%d", t)] = float64(t%50 + 1)
			load[fmt.Sprintf("l:%d", t)] = 0.2
		}
		live = append(live, registry.Proxy{ID: id, State: registry.StateServing, Load: load})
	}
	b.ReportAllocs()
	for b.Loop() {
		b.StopTimer()
		for t := int64(1); t <= 1000; t++ { // the interval's traffic (not timed): every bucket exists
			s.tenantLimit.enter(t, now)
			s.tenantLimit.leave(t)
			s.logins.take(loginKey{tenant: t, email: "a@b.c"}, addr, now)
		}
		b.StartTimer()
		s.FleetLoad()
		s.Reweight("self", live)
	}
}

// A report over registry.MaxLoadKeys keeps the budgets however slow they
// are, and shares the rest between the tenants' requests and logins.
func TestFleetLoadReportBounded(t *testing.T) {
	s := &Server{logins: newLoginThrottle(DefaultLoginIPLimit, DefaultLoginTenantLimit),
		budgets: newBudgets(Budgets{}), tenantLimit: newTenantThrottle(DefaultTenantRate, DefaultTenantMaxInFlight)}
	s.FleetLoad() // the interval starts
	addr := netip.MustParseAddr("10.0.0.1")
	for id := int64(1); id <= 1500; id++ {
		for range 3 {
			s.tenantLimit.fleet.count(id)
		}
		s.logins.take(loginKey{tenant: id, email: "a@b.c"}, addr, time.Now())
	}
	s.budgets.shares.count(budgetDemo)
	time.Sleep(5 * time.Millisecond)
	load := s.FleetLoad()
	tenants, logins := 0, 0
	for k := range load {
		switch k[0] {
		case 't':
			tenants++
		case 'l':
			logins++
		}
	}
	if len(load) != registry.MaxLoadKeys || load["b:demo"] <= 0 || tenants < 450 || logins < 450 {
		t.Fatalf("%d keys (%d tenants, %d logins), b:demo %v", len(load), tenants, logins, load["b:demo"])
	}
}

// A tenant this proxy serves but left out of its bounded report keeps its
// real share, not the floor, while a peer reports it.
func TestFleetShareOfUnreportedKey(t *testing.T) {
	f := fleetShares{class: shareTenant}
	now := time.Now()
	f.report(now, map[string]float64{})
	for range 50 {
		f.count(7)
	}
	f.report(now.Add(time.Second), map[string]float64{}) // t:7 at 50/s, crowded out of the report
	live := []registry.Proxy{
		{ID: "me", State: registry.StateServing, Load: map[string]float64{"t:1": 900}},
		{ID: "p2", State: registry.StateServing, Load: map[string]float64{"t:7": 450}},
	}
	f.reweight("me", live)
	if w := f.weight(7); math.Abs(w-0.1) > 1e-9 {
		t.Fatalf("share of a tenant left out of this proxy's report = %v, want 0.1 (50 of 500/s)", w)
	}
}
