package hrana_test

import (
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/microfi/tenantgate/proxy/hrana"
)

// TestConcurrentStreams runs interactive transactions from many clients at
// once, on two tenants, while streams expire and one tenant is evicted and
// reopened: every committed row is there exactly once, nothing deadlocks,
// and no stream is left open.
func TestConcurrentStreams(t *testing.T) {
	s := newTestServer(t, hrana.Config{StreamIdleTimeout: 200 * time.Millisecond})
	for _, id := range []string{"1", "2"} {
		s.exec("CREATE TABLE c(worker INTEGER, n INTEGER, UNIQUE(worker, n))", "X-Test-Tenant", id)
	}
	const workers, rounds = 8, 15
	var wg sync.WaitGroup
	var mu sync.Mutex
	committed := map[string]int{}
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			tenant := strconv.Itoa(1 + w%2)
			for n := 0; n < rounds; n++ {
				r := s.do("POST", "/v2/pipeline", `{"requests":[{"type":"execute","stmt":{"sql":"BEGIN"}},{"type":"execute","stmt":{"sql":"INSERT INTO c VALUES (`+strconv.Itoa(w)+`, `+strconv.Itoa(n)+`)"}}]}`, "X-Test-Tenant", tenant)
				if r.Status != 200 {
					continue // e.g. the tenant was being evicted
				}
				if w%3 == 0 && n%5 == 0 {
					continue // abandon it: expiry rolls it back
				}
				c := s.do("POST", "/v2/pipeline", `{"baton":"`+r.baton()+`","requests":[{"type":"execute","stmt":{"sql":"COMMIT"}},{"type":"close"}]}`, "X-Test-Tenant", tenant)
				if c.Status == 200 && c.result(t, 0)["type"] == "ok" {
					mu.Lock()
					committed[tenant]++
					mu.Unlock()
				}
			}
		}(w)
	}
	// Meanwhile, evict tenant 2 once.
	time.Sleep(50 * time.Millisecond)
	s.evict(2)
	wg.Wait()
	waitFor(t, 3*time.Second, func() bool {
		return (&counterProbe{s: s, tb: t, name: "tenantgate_hrana_streams_open"}).value() == 0
	})
	for _, id := range []string{"1", "2"} {
		got := s.exec("SELECT count(*) FROM c", "X-Test-Tenant", id).rows(t, 0)
		want := `[[{"type":"integer","value":"` + strconv.Itoa(committed[id]) + `"}]]`
		if got != want {
			t.Errorf("tenant %s: rows %s, committed %d", id, got, committed[id])
		}
	}
}
