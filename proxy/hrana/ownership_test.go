package hrana_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/microfi/tenantgate/proxy/hrana"
	"github.com/microfi/tenantgate/shard"
)

// post sends a pipeline from any goroutine (s.do may only run on the test's).
func post(url, body string) (int, map[string]any, error) {
	res, err := http.Post(url+"/v2/pipeline", "application/json", strings.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	var m map[string]any
	json.Unmarshal(raw, &m)
	return res.StatusCode, m, nil
}

// 150 concurrent new streams on one tenant: at most the cap get batons,
// the rest get 429 (the slot is taken before the stream runs).
func TestStreamCapUnderConcurrency(t *testing.T) {
	const streamCap, clients = 10, 150
	s := newTestServer(t, hrana.Config{MaxStreamsPerTenant: streamCap})
	var start, done sync.WaitGroup
	start.Add(1)
	var mu sync.Mutex
	status := map[int]int{}
	batons := 0
	var errs []error
	for range clients {
		done.Add(1)
		go func() {
			defer done.Done()
			start.Wait()
			code, body, err := post(s.URL, `{"requests":[{"type":"execute","stmt":{"sql":"SELECT 1"}}]}`)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, err)
				return
			}
			status[code]++
			if b, _ := body["baton"].(string); b != "" {
				batons++
			}
		}()
	}
	start.Done()
	done.Wait()
	if len(errs) > 0 {
		t.Fatal(errs[0])
	}
	if batons > streamCap || batons == 0 {
		t.Fatalf("%d of %d concurrent new streams got batons, cap %d (statuses %v)", batons, clients, streamCap, status)
	}
	if status[200]+status[429] != clients || status[200] != batons {
		t.Fatalf("statuses %v, batons %d", status, batons)
	}
	if got := (&counterProbe{s: s, tb: t, name: "tenantgate_hrana_streams_open"}).value(); got > streamCap {
		t.Fatalf("open streams gauge %v > cap %d", got, streamCap)
	}
}

// Raw connections count against the manager's fd budget: when it is spent
// by streams, a new stream waits PinWait and gets 503 with Retry-After,
// and gets its connection once a stream closes.
func TestStreamsCountAgainstFDBudget(t *testing.T) {
	const conns = 3
	// Each database's first open runs the full schema check, whose
	// maintenance descriptor SQLite keeps while the pool is open (+1); the
	// first read-write connection of each database reuses it (-1 twice).
	const budget = 2*(shard.FDsPerDatabase+1) + conns*shard.FDsPerConn - 2
	s := newTestServer(t, hrana.Config{}, func(c *shard.Config) {
		c.FDBudget = budget
		c.PinWait = 200 * time.Millisecond
	})
	// Streams pin both databases (so neither can be evicted for room) and
	// hold every raw connection the budget allows.
	s.pipeline(`{"requests":[{"type":"execute","stmt":{"sql":"SELECT 1"}}]}`, "X-Test-Tenant", "2")
	var held []string
	for range conns - 1 {
		held = append(held, s.pipeline(`{"requests":[{"type":"execute","stmt":{"sql":"SELECT 1"}}]}`).baton())
	}
	r := s.do("POST", "/v2/pipeline", `{"requests":[{"type":"execute","stmt":{"sql":"SELECT 1"}}]}`)
	if r.Status != 503 || r.Body["code"] != "TENANT_UNAVAILABLE" {
		t.Fatalf("stream past the fd budget: %d %s", r.Status, r.Raw)
	}
	if fds := (&counterProbe{s: s, tb: t, name: "tenantgate_tenant_db_fds"}).value(); fds > budget {
		t.Fatalf("fds charged %v exceed the budget", fds)
	}
	s.pipeline(`{"baton":"` + held[0] + `","requests":[{"type":"close"}]}`)
	s.exec("SELECT 1") // the closed stream's connection serves it
}

// SQL writers take the tenant's writer slot, the one the banking API's
// writers take: a Hrana write transaction holds it until COMMIT, and a
// Hrana writer waits (bounded by its statement timeout) while an API
// writer holds it, then fails with SQLITE_BUSY and a clear message.
func TestSQLWritersTakeTheWriterSlot(t *testing.T) {
	s := newTestServer(t, hrana.Config{StatementTimeout: 300 * time.Millisecond, StreamIdleTimeout: 500 * time.Millisecond})
	s.exec("CREATE TABLE w(x)")
	ctx := context.Background()
	h, err := s.M.Acquire(ctx, 1, "")
	if err != nil {
		t.Fatal(err)
	}
	defer h.Release()
	tryLock := func() (func(), error) {
		c, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
		defer cancel()
		return h.LockWrites(c)
	}

	// A Hrana transaction that wrote holds the slot across requests.
	b := s.pipeline(`{"requests":[{"type":"execute","stmt":{"sql":"BEGIN"}},{"type":"execute","stmt":{"sql":"INSERT INTO w VALUES (1)"}}]}`).baton()
	if unlock, err := tryLock(); err == nil {
		unlock()
		t.Fatal("an API writer got the writer slot while a Hrana transaction held it")
	} else if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatal(err)
	}
	s.pipeline(`{"baton":"` + b + `","requests":[{"type":"execute","stmt":{"sql":"COMMIT"}},{"type":"close"}]}`)
	unlock, err := tryLock()
	if err != nil {
		t.Fatalf("writer slot not given back after COMMIT: %v", err)
	}

	// While the API writer holds it, a Hrana write waits, then is refused.
	r := s.exec("INSERT INTO w VALUES (2)")
	if code, msg := r.errCode(t, 0); code != "SQLITE_BUSY" || !strings.Contains(msg, "write lock") {
		t.Fatalf("Hrana write while the slot is held: %s %q", code, msg)
	}
	// Reads are not gated.
	s.exec("SELECT count(*) FROM w").ok(t, 0)
	unlock()
	s.exec("INSERT INTO w VALUES (3)").ok(t, 0)

	// A stream that expires mid-transaction gives the slot back.
	s.pipeline(`{"requests":[{"type":"execute","stmt":{"sql":"BEGIN IMMEDIATE"}}]}`)
	if unlock, err := tryLock(); err == nil {
		unlock()
		t.Fatal("BEGIN IMMEDIATE did not take the writer slot")
	}
	c, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	unlock, err = h.LockWrites(c)
	if err != nil {
		t.Fatalf("writer slot after the stream expired: %v", err)
	}
	unlock()
}
