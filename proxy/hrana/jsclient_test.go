package hrana_test

import (
	"strings"
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

// TestJSClientWebSocket runs @libsql/client over ws:// (it offers hrana2
// and hrana1) through the same checks as over HTTP.
func TestJSClientWebSocket(t *testing.T) {
	s := newTestServer(t, hrana.Config{})
	hranatest.RunJSClient(t, "ws"+strings.TrimPrefix(s.URL, "http"), "", "", "jsws")
	if n := s.mustCounter(t, "tenantgate_hrana_pipelines_total", "ws").value(); n == 0 {
		t.Error("no WebSocket requests counted")
	}
}

// TestJSHrana3WebSocket runs @libsql/hrana-client asking for Hrana 3 over
// WebSocket: it offers hrana3-protobuf first and gets it, and its batches
// run through cursors (open_cursor, fetch_cursor), one of 100,001 rows.
func TestJSHrana3WebSocket(t *testing.T) {
	s := newTestServer(t, hrana.Config{MaxRowsPerResponse: 1000, StatementTimeout: time.Minute})
	hranatest.RunJSScript(t, "hrana3_test.mjs", "ws"+strings.TrimPrefix(s.URL, "http"), "", "", "h3ws")
}
