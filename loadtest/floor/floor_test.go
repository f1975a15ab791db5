package floor_test

import (
	"encoding/json"
	"net"
	"testing"
	"time"

	"github.com/microfi/tenantgate/loadtest/floor"
	"github.com/valyala/fasthttp"
)

func TestFloorServesPointReads(t *testing.T) {
	dir := t.TempDir()
	ctx := t.Context()
	if err := floor.Prepare(ctx, dir, "fl", 2, 3); err != nil {
		t.Fatal(err)
	}
	s := &floor.Server{DataDir: dir, Prefix: "fl"}
	if err := s.Open(ctx, 2); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go s.Serve(ln)
	hc := &fasthttp.HostClient{Addr: ln.Addr().String()}
	get := func(host, path string) (int, []byte) {
		req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
		defer fasthttp.ReleaseRequest(req)
		defer fasthttp.ReleaseResponse(resp)
		req.Header.SetRequestURI(path)
		req.Header.SetHost(host)
		if err := hc.DoTimeout(req, resp, 5*time.Second); err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode(), append([]byte(nil), resp.Body()...)
	}
	st, body := get("fl00002.microfi.localhost", "/api/accounts")
	var list struct {
		Accounts []struct {
			ID       int64
			TenantID int64 `json:"tenant_id"`
			Balance  int64
			Currency string
		}
	}
	if err := json.Unmarshal(body, &list); err != nil || st != 200 {
		t.Fatalf("GET /api/accounts: %d %s (%v)", st, body, err)
	}
	if len(list.Accounts) != 3 || list.Accounts[0].TenantID != 2 || list.Accounts[0].Currency != "GHS" {
		t.Fatalf("accounts = %+v", list.Accounts)
	}
	if st, body := get("fl00001.microfi.localhost", "/api/accounts/2"); st != 200 {
		t.Fatalf("GET /api/accounts/2: %d %s", st, body)
	}
	for _, c := range []struct {
		host, path string
		want       int
	}{
		{"fl00009.microfi.localhost", "/api/accounts", 404},
		{"fl00001.microfi.localhost", "/api/accounts/99", 404},
		{"fl00001.microfi.localhost", "/api/accounts/x", 400},
		{"fl00001.microfi.localhost", "/api/users", 404},
	} {
		if st, _ := get(c.host, c.path); st != c.want {
			t.Errorf("%s%s: %d, want %d", c.host, c.path, st, c.want)
		}
	}
}
