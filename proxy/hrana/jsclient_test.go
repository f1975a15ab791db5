package hrana_test

import (
	"testing"
	"time"

	"github.com/microfi/tenantgate/proxy/hrana"
	"github.com/microfi/tenantgate/proxy/hrana/hranatest"
)

// TestJSClient runs @libsql/client over HTTP. The stock client (0.18,
// hrana-client 0.10) speaks Hrana 2 over HTTP whatever the server offers:
// it asks hrana-client for protocol version 2, which never probes.
func TestJSClient(t *testing.T) {
	s := newTestServer(t, hrana.Config{})
	hranatest.RunJSClient(t, s.URL, "", "", "js")
}

// TestJSHrana3HTTP runs @libsql/hrana-client asking for Hrana 3 over HTTP:
// it probes GET /v3-protobuf and speaks Protobuf, including a cursor of
// 100,001 rows (past the row cap).
func TestJSHrana3HTTP(t *testing.T) {
	// -race makes SQLite and the client's reading of a large cursor slow.
	s := newTestServer(t, hrana.Config{MaxRowsPerResponse: 1000, StatementTimeout: time.Minute, StreamIdleTimeout: time.Minute})
	hranatest.RunJSScript(t, "hrana3_test.mjs", s.URL, "", "", "h3")
	for _, ep := range []string{"v3-protobuf", "cursor-protobuf"} {
		if n := s.mustCounter(t, "tenantgate_hrana_pipelines_total", ep).value(); n == 0 {
			t.Errorf("no %s requests: the client did not negotiate Hrana 3 Protobuf", ep)
		}
	}
}
