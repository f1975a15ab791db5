package proxy_test

import (
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fasthttp/websocket"

	"github.com/microfi/tenantgate/proxy"
	"github.com/microfi/tenantgate/proxy/proxytest"
)

// wsDial opens a Hrana WebSocket to a tenant host through the proxy
// (TCP to the proxy, Host header naming the tenant).
func wsDial(t *testing.T, s *proxytest.Server, host, path, token string, protos ...string) (*websocket.Conn, *http.Response, error) {
	t.Helper()
	d := websocket.Dialer{HandshakeTimeout: 5 * time.Second, Subprotocols: protos}
	h := http.Header{"Host": {host}}
	if token != "" {
		h.Set("Authorization", "Bearer "+token)
	}
	return d.Dial("ws://"+s.Addr+path, h)
}

func wsRoundTrip(t *testing.T, c *websocket.Conn, msg string) map[string]any {
	t.Helper()
	if err := c.WriteMessage(websocket.TextMessage, []byte(msg)); err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	var out map[string]any
	if err := c.ReadJSON(&out); err != nil {
		t.Fatalf("after %s: %v", msg, err)
	}
	return out
}

// TestHranaWebSocketThroughProxy: a Hrana 2 session on a tenant host's /,
// authenticated by the hello's JWT, runs SQL on that tenant's database;
// a token of another tenant is refused in the hello; upgrades anywhere
// else get a JSON 400, never the dashboard page.
func TestHranaWebSocketThroughProxy(t *testing.T) {
	s := proxytest.Start(t, proxytest.Options{})
	tn := s.CreateTenant("wsco")
	other := s.CreateTenant("wsother")
	tok := s.Token(tn.ID, proxy.RoleService, 0)

	c, resp, err := wsDial(t, s, proxytest.Host("wsco"), "/", "", "hrana2")
	if err != nil {
		t.Fatalf("dial: %v (%v)", err, resp)
	}
	defer c.Close()
	if c.Subprotocol() != "hrana2" {
		t.Errorf("subprotocol %q", c.Subprotocol())
	}
	if r := wsRoundTrip(t, c, `{"type":"hello","jwt":"`+tok+`"}`); r["type"] != "hello_ok" {
		t.Fatalf("hello: %v", r)
	}
	wsRoundTrip(t, c, `{"type":"request","request_id":1,"request":{"type":"open_stream","stream_id":7}}`)
	r := wsRoundTrip(t, c, `{"type":"request","request_id":2,"request":{"type":"execute","stream_id":7,"stmt":{"sql":"SELECT tenant_id FROM tenant_stamp"}}}`)
	if r["type"] != "response_ok" || !strings.Contains(mustJSON(r), `"value":"`+strconv.FormatInt(tn.ID, 10)+`"`) {
		t.Errorf("execute: %v", r)
	}

	// Another tenant's token: hello_error, then the socket closes.
	c2, _, err := wsDial(t, s, proxytest.Host("wsco"), "/", "", "hrana2")
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	if r := wsRoundTrip(t, c2, `{"type":"hello","jwt":"`+s.Token(other.ID, proxy.RoleService, 0)+`"}`); r["type"] != "hello_error" {
		t.Errorf("foreign token hello: %v", r)
	}

	// A bad bearer token on the upgrade itself is refused before it.
	if _, resp, err := wsDial(t, s, proxytest.Host("wsco"), "/", "wrong", "hrana2"); err == nil || resp == nil || resp.StatusCode != 401 {
		t.Errorf("bad bearer upgrade: %v %v", err, resp)
	}
	// Upgrades where no WebSocket is served: JSON 400.
	for _, c := range []struct{ host, path string }{
		{proxytest.Host("wsco"), "/api/accounts"}, {proxytest.Host("wsco"), "/v2/pipeline"},
		{proxytest.RootDomain, "/"}, {proxytest.Host("admin"), "/"},
	} {
		_, resp, err := wsDial(t, s, c.host, c.path, tok, "hrana2")
		if err == nil || resp == nil || resp.StatusCode != 400 || resp.Header.Get("Content-Type") != "application/json" {
			t.Errorf("upgrade %s%s: %v %v", c.host, c.path, err, resp)
		}
	}
	// No offered subprotocol we speak: JSON 400, as sqld answers.
	if _, resp, err := wsDial(t, s, proxytest.Host("wsco"), "/", tok, "chat"); err == nil || resp == nil || resp.StatusCode != 400 {
		t.Errorf("unknown subprotocol: %v %v", err, resp)
	}
}
