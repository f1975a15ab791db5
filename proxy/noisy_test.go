package proxy_test

import (
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/microfi/tenantgate/catalog"
	"github.com/microfi/tenantgate/proxy"
	"github.com/microfi/tenantgate/proxy/proxytest"
)

// endlessCount never finishes by itself: only the statement timeout or the
// fair CPU scheduler stops it.
const endlessCount = `{"requests":[{"type":"execute","stmt":{"sql":"WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c) SELECT count(*) FROM c"}},{"type":"close"}]}`

// One tenant running 32 concurrent CPU-bound statements barely moves
// another tenant's API latency, and the noisy tenant is refused (429 or an
// interrupted statement), never answered with a 5xx. The same noise against
// a proxy without the scheduler is measured side by side, so the bound holds
// on a loaded machine too.
func TestNoisyNeighbourCPU(t *testing.T) {
	if testing.Short() {
		t.Skip("timed")
	}
	on := noisyNeighbour(t, true)
	t.Logf("noisy tenant with the scheduler: statuses %v, %d statements interrupted", on.statuses, on.interrupted)
	for code, n := range on.statuses {
		if code >= 500 {
			t.Errorf("noisy tenant got %d × %d", n, code)
		}
	}
	if on.statuses[429] == 0 && on.interrupted == 0 {
		t.Errorf("noisy tenant was never refused: %v", on.statuses)
	}
	if raceEnabled {
		t.Logf("victim p90 %v alone, %v in the noise; latency bounds are checked without -race", on.base, on.during)
		return
	}
	off := noisyNeighbour(t, false)
	t.Logf("victim p90: without the scheduler %v alone, %v in the noise (%.1f×); with it %v alone, %v in the noise (%.1f×)",
		off.base, off.during, off.ratio(), on.base, on.during, on.ratio())
	// Generous (the benchmark carries the real goal, < 2×): within 5× of
	// its quiet latency, or, on a machine too loaded to tell, in the noise
	// at least three times faster than without the scheduler.
	if on.during > max(5*on.base, on.base+50*time.Millisecond) && 3*on.during > off.during {
		t.Errorf("victim p90 %v beside the noise (alone %v); without the scheduler %.1f×, with it %.1f×",
			on.during, on.base, off.ratio(), on.ratio())
	}
}

type noisyResult struct {
	base, during time.Duration
	statuses     map[int]int
	interrupted  int
	heavyAPI     float64 // API calls that waited for a CPU token
}

func (r noisyResult) ratio() float64 { return float64(r.during) / float64(r.base) }

func noisyNeighbour(t *testing.T, scheduler bool) noisyResult {
	return noisyRun(t, func(c *proxy.Config) {
		if !scheduler {
			c.CPU.Quantum = time.Hour // no statement is ever heavy: nothing is scheduled
		}
	}, func(s *proxytest.Server) noise {
		noisy := s.CreateTenant("noisy")
		return noise{"POST", "noisy", "/v2/pipeline", s.Token(noisy.ID, proxy.RoleService, 0), endlessCount}
	})
}

// noise is the request a noisy client sends over and over.
type noise struct{ method, host, path, token, body string }

// noisyRun measures a victim tenant's GET /api/accounts alone and then
// beside 32 clients sending the noise request as fast as they are answered.
func noisyRun(t *testing.T, configure func(*proxy.Config), setup func(*proxytest.Server) noise) noisyResult {
	s := proxytest.Start(t, proxytest.Options{Configure: func(c *proxy.Config) {
		c.Hrana.StatementTimeout = 1500 * time.Millisecond
		c.TenantRate = proxy.DefaultTenantRate // production limits, not the harness's unlimited ones
		configure(c)
	}})
	nz := setup(s)
	victim := s.CreateTenant("victim")
	victimTok := s.Token(victim.ID, proxy.RoleStaff, 0)
	client := &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	defer client.CloseIdleConnections()
	do := func(method, host, path, token, body string) (int, string, error) {
		req, err := http.NewRequest(method, s.URL+path, strings.NewReader(body))
		if err != nil {
			return 0, "", err
		}
		req.Host = proxytest.Host(host)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := client.Do(req)
		if err != nil {
			return 0, "", err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b), err
	}
	// measure runs the victim's sequential GET /api/accounts for d and
	// returns the 90th percentile latency.
	measure := func(d time.Duration) time.Duration {
		var lat []time.Duration
		for end := time.Now().Add(d); time.Now().Before(end); {
			t0 := time.Now()
			code, body, err := do("GET", "victim", "/api/accounts", victimTok, "")
			if err != nil || code != 200 {
				t.Errorf("victim: %d %s %v", code, body, err)
				return time.Hour
			}
			lat = append(lat, time.Since(t0))
			time.Sleep(2 * time.Millisecond) // a client, not a flood: well inside the tenant's rate limit
		}
		slices.Sort(lat)
		return lat[len(lat)*9/10]
	}
	measure(200 * time.Millisecond) // warm: open the database, cache the token
	res := noisyResult{base: measure(time.Second), statuses: map[int]int{}}

	var mu sync.Mutex
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				code, body, err := do(nz.method, nz.host, nz.path, nz.token, nz.body)
				if err != nil {
					continue
				}
				if code == 429 {
					// The noisy clients share this test process's two Ps with
					// the victim's client: a tight 429 loop here would measure
					// the test's own client, not the proxy.
					time.Sleep(10 * time.Millisecond)
				}
				mu.Lock()
				res.statuses[code]++
				if strings.Contains(body, "CPU share exceeded") {
					res.interrupted++
				}
				mu.Unlock()
			}
		}()
	}
	time.Sleep(200 * time.Millisecond) // the noise reaches its steady state
	res.during = measure(1500 * time.Millisecond)
	close(stop)
	wg.Wait()
	res.heavyAPI = scrape(t, s).value("tenantgate_cpu_heavy_starts_total", "kind", "api")
	return res
}

// One tenant's API calls, 32 at a time as fast as they are answered (each a
// page of its transactions), barely move another tenant's API latency: the
// calls are metered like SQL, the tenant turns heavy, its calls wait for a
// CPU token in its own bounded queue and past it get 429 with Retry-After.
// The same noise with API calls unmetered (a light share no tenant
// exceeds) is measured side by side.
func TestNoisyNeighbourAPI(t *testing.T) {
	if testing.Short() {
		t.Skip("timed")
	}
	hog := func(s *proxytest.Server) noise {
		tn, _ := s.CreateDemoTenant("apihog") // seeded: a page of transactions to encode
		return noise{"GET", "apihog", "/api/transactions?limit=200", s.Token(tn.ID, proxy.RoleService, 0), ""}
	}
	on := noisyRun(t, func(c *proxy.Config) {}, hog)
	t.Logf("API hog with metering: statuses %v, %v calls started heavy", on.statuses, on.heavyAPI)
	for code, n := range on.statuses {
		if code >= 500 {
			t.Errorf("API hog got %d × %d", n, code)
		}
	}
	// Its 32 clients are paced by its own queue (Admit holds them); the
	// 429 past it is TestHeavyTenantWaitsForToken's (shard/fairshare).
	if on.heavyAPI == 0 {
		t.Errorf("the API hog's calls never waited for a CPU token: %v", on.statuses)
	}
	if raceEnabled {
		t.Logf("victim p90 %v alone, %v in the noise; latency bounds are checked without -race", on.base, on.during)
		return
	}
	off := noisyRun(t, func(c *proxy.Config) { c.CPU.LightShare = 1e9 }, hog)
	t.Logf("victim p90: API unmetered %v alone, %v beside the hog (%.1f×); metered %v alone, %v beside it (%.1f×)",
		off.base, off.during, off.ratio(), on.base, on.during, on.ratio())
	if on.during > max(5*on.base, on.base+50*time.Millisecond) && 3*on.during > off.during {
		t.Errorf("victim p90 %v beside the API hog (alone %v); unmetered %.1f×, metered %.1f×",
			on.during, on.base, off.ratio(), on.ratio())
	}
}

// Large writes are a handful of VM steps each, so the progress handler
// barely sees them; they are charged what they cost (their running time
// and the WAL they write: zeroblob costs almost no CPU, so here the WAL),
// and after a few the writer's statements start heavy: they wait for a CPU
// token before they run. Another tenant's statements stay light.
func TestNoisyWritesStartHeavy(t *testing.T) {
	t.Parallel()
	// At nice 19 a heavy write waits for idle CPU, which a machine shared
	// with other tests may not have for seconds: this test is about which
	// statements start heavy, not how fast they run then. A larger burst
	// and write cost keep slow statements (under -race on a loaded machine
	// a CREATE TABLE has taken over 100 ms) from making the quiet tenant
	// heavy: six 1 MiB writes cost 1.2 s by their WAL alone.
	s := startMetricsServer(t, proxytest.Options{Configure: func(c *proxy.Config) {
		c.CPU.NoNice = true
		c.CPU.Burst, c.CPU.WriteCost = time.Second, 200*time.Millisecond
	}})
	writer, other := s.CreateTenant("writer"), s.CreateTenant("quiet")
	run := func(tn catalog.Tenant, sql ...string) {
		t.Helper()
		var b strings.Builder
		b.WriteString(`{"requests":[`)
		for _, q := range sql {
			b.WriteString(`{"type":"execute","stmt":{"sql":"` + q + `"}},`)
		}
		b.WriteString(`{"type":"close"}]}`)
		r := s.Do("POST", proxytest.Host(tn.Host), "/v2/pipeline", s.Token(tn.ID, proxy.RoleService, 0), b.String())
		if r.Status != 200 || strings.Contains(string(r.Body), `"type":"error"`) {
			t.Fatalf("%s: %d %s", tn.Host, r.Status, r.Body)
		}
	}
	heavy := func() float64 { return scrape(t, s).value("tenantgate_cpu_heavy_starts_total", "kind", "sql") }
	run(other, "CREATE TABLE t(x)", "INSERT INTO t VALUES (1)")
	if n := heavy(); n != 0 {
		t.Fatalf("%v statements started heavy before any large write", n)
	}
	writes := []string{"CREATE TABLE junk(b BLOB)"}
	for range 6 {
		writes = append(writes, "INSERT INTO junk VALUES (zeroblob(1048576))")
	}
	// The quiet tenant stays busy meanwhile: a heavy tenant alone on the
	// machine is never made to wait (the scheduler is work-conserving).
	done := make(chan struct{})
	var busy sync.WaitGroup
	busy.Go(func() {
		tok := s.Token(other.ID, proxy.RoleService, 0)
		q := `{"requests":[{"type":"execute","stmt":{"sql":"SELECT count(*) FROM t"}},{"type":"close"}]}`
		for {
			select {
			case <-done:
				return
			default:
			}
			s.Do("POST", proxytest.Host(other.Host), "/v2/pipeline", tok, q)
			time.Sleep(20 * time.Millisecond)
		}
	})
	run(writer, writes...)
	close(done)
	busy.Wait()
	after := heavy()
	if after == 0 {
		t.Fatal("six 1 MiB writes never made their tenant heavy")
	}
	run(other, "INSERT INTO t VALUES (2)", "SELECT count(*) FROM t")
	if n := heavy(); n != after {
		t.Errorf("another tenant's statements started heavy (%v → %v)", after, n)
	}
}

// A heavy tenant's API calls queue behind each other for a CPU token; past
// its queue (one waiting here) they are held briefly, then refused with
// 429 and Retry-After, never a 5xx. Another tenant is served meanwhile.
func TestHeavyAPICallsBounded(t *testing.T) {
	t.Parallel()
	s := proxytest.Start(t, proxytest.Options{Configure: func(c *proxy.Config) {
		c.CPU.LightShare, c.CPU.Burst = 1e-6, time.Nanosecond // heavy after its first call
		c.CPU.MaxWaiting, c.CPU.APIMaxWaiting, c.CPU.AdmitWait = 1, 1, time.Millisecond
		c.CPU.NoNice = true
	}})
	hog, quiet := s.CreateTenant("hog"), s.CreateTenant("calm")
	hogTok, quietTok := s.Token(hog.ID, proxy.RoleStaff, 0), s.Token(quiet.ID, proxy.RoleStaff, 0)
	if r := s.Do("GET", proxytest.Host("hog"), "/api/accounts", hogTok, nil); r.Status != 200 {
		t.Fatalf("first call: %d %s", r.Status, r.Body)
	}
	// The other tenant is busy too (a heavy tenant alone is never made to
	// wait): it was served within the last second.
	if r := s.Do("GET", proxytest.Host("calm"), "/api/accounts", quietTok, nil); r.Status != 200 {
		t.Fatalf("other tenant: %d %s", r.Status, r.Body)
	}
	var mu sync.Mutex
	statuses, retry := map[int]int{}, ""
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			for range 5 {
				r := s.Do("GET", proxytest.Host("hog"), "/api/transactions?limit=200", hogTok, nil)
				mu.Lock()
				statuses[r.Status]++
				if r.Status == 429 {
					retry = r.Header.Get("Retry-After")
				}
				mu.Unlock()
			}
		})
	}
	done := make(chan struct{})
	calm := make(chan int, 1)
	go func() { // the other tenant is served meanwhile, and stays busy
		worst := 200
		for {
			if r := s.Do("GET", proxytest.Host("calm"), "/api/accounts", quietTok, nil); r.Status != 200 {
				worst = r.Status
			}
			select {
			case <-done:
				calm <- worst
				return
			case <-time.After(50 * time.Millisecond):
			}
		}
	}()
	wg.Wait()
	close(done)
	if st := <-calm; st != 200 {
		t.Errorf("another tenant beside the heavy one: %d", st)
	}
	t.Logf("heavy tenant's calls: %v", statuses)
	if statuses[429] == 0 || retry != "1" {
		t.Errorf("no 429 with Retry-After: 1 past the heavy tenant's queue: %v (Retry-After %q)", statuses, retry)
	}
	for code := range statuses {
		if code != 200 && code != 429 {
			t.Errorf("heavy tenant got %d × %d", statuses[code], code)
		}
	}
}
