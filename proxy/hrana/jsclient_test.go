package hrana_test

import (
	"testing"

	"github.com/microfi/tenantgate/proxy/hrana"
	"github.com/microfi/tenantgate/proxy/hrana/hranatest"
)

func TestJSClient(t *testing.T) {
	s := newTestServer(t, hrana.Config{})
	hranatest.RunJSClient(t, s.URL, "", "", "js")
}
