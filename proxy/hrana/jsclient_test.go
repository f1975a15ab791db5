package hrana_test

import (
	"testing"

	"github.com/microfi/tenantgate/proxy/hrana"
	"github.com/microfi/tenantgate/proxy/hrana/hranatest"
)

// TestJSClient runs @libsql/client over HTTP. It probes GET /v3-protobuf
// and, finding it, speaks Hrana 3 with Protobuf, as it does with sqld.
func TestJSClient(t *testing.T) {
	s := newTestServer(t, hrana.Config{})
	hranatest.RunJSClient(t, s.URL, "", "", "js")
	pbf := s.mustCounter(t, "tenantgate_hrana_pipelines_total", "v3-protobuf").value()
	v2 := s.mustCounter(t, "tenantgate_hrana_pipelines_total", "v2").value()
	if pbf == 0 || v2 != 0 {
		t.Errorf("the JS client did not negotiate Hrana 3 Protobuf: v3-protobuf %v, v2 %v pipelines", pbf, v2)
	}
}
