package hrana_test

import (
	"strings"
	"testing"
	"time"

	"github.com/microfi/tenantgate/proxy/hrana"
)

// At the stream cap a new stream queues briefly: it gets the slot another
// stream gives up within the wait, and a clear 429 when none does.
func TestStreamCapQueuesBriefly(t *testing.T) {
	s := newTestServer(t, hrana.Config{MaxStreamsPerTenant: 1, StreamQueueWait: 20 * time.Second})
	held := s.pipeline(`{"requests":[{"type":"execute","stmt":{"sql":"SELECT 1"}}]}`).baton()
	waits := &counterProbe{s: s, tb: t, name: "tenantgate_hrana_stream_waits_total"}
	got := make(chan resp, 1)
	go func() {
		got <- s.do("POST", "/v2/pipeline", `{"requests":[{"type":"execute","stmt":{"sql":"SELECT 2"}}]}`)
	}()
	waitFor(t, 10*time.Second, func() bool { return waits.value() == 1 })
	select {
	case r := <-got:
		t.Fatalf("the second stream did not wait for the cap: %d %s", r.Status, r.Raw)
	case <-time.After(100 * time.Millisecond):
	}
	s.pipeline(`{"baton":"` + held + `","requests":[{"type":"close"}]}`)
	select {
	case r := <-got:
		if r.Status != 200 {
			t.Fatalf("queued stream: %d %s", r.Status, r.Raw)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the queued stream did not get the freed slot")
	}

	// Nothing frees within the wait: 429, Retry-After, and a message that
	// says which limit.
	s2 := newTestServer(t, hrana.Config{MaxStreamsPerTenant: 1, StreamQueueWait: 200 * time.Millisecond})
	s2.pipeline(`{"requests":[{"type":"execute","stmt":{"sql":"SELECT 1"}}]}`)
	start := time.Now()
	r := s2.do("POST", "/v2/pipeline", `{"requests":[]}`)
	if r.Status != 429 || r.Body["error"] != "Too many requests" || r.Body["code"] != "TOO_MANY_STREAMS" ||
		!strings.Contains(r.Body["message"].(string), "allows 1 at once") {
		t.Fatalf("over the cap after the wait: %d %s", r.Status, r.Raw)
	}
	if waited := time.Since(start); waited < 150*time.Millisecond {
		t.Errorf("refused after %v, before the queue wait", waited)
	}
}
