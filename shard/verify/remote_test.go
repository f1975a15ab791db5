package verify_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/microfi/tenantgate/proxy"
	"github.com/microfi/tenantgate/proxy/proxytest"
	"github.com/microfi/tenantgate/shard/verify"
)

// A remote tenant (here on a tenantgate proxy, as a shard) is verified
// over the libSQL client with the same checks as a local one. A server
// that does not run integrity_check (here: a forwarder refusing just that
// statement in front of the real server) gets the check reported as
// skipped, not as a finding; the other checks still run.
func TestVerifyRemote(t *testing.T) {
	ctx := context.Background()
	s := proxytest.Start(t, proxytest.Options{})
	tn, _ := s.CreateDemoTenant("far")
	tok := s.Token(tn.ID, proxy.RoleService, 0)
	direct := verify.Target{ID: tn.ID, Host: "far", URL: s.URL + "/t/far?authToken=" + url.QueryEscape(tok)}
	r, err := verify.Tenant(ctx, direct)
	if err != nil || !r.OK || !r.Remote || r.Accounts == 0 || r.Postings == 0 || len(r.Skipped) != 0 {
		t.Fatalf("remote: %v %+v\n%s", err, r, checks(r))
	}

	origin, _ := url.Parse(s.URL)
	fwd := httputil.NewSingleHostReverseProxy(origin)
	refuser := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		if bytes.Contains(bytes.ToLower(body), []byte("integrity_check")) {
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, `{"baton":null,"base_url":null,"results":[{"type":"error","error":{"message":"PRAGMA integrity_check is not supported","code":"SQLITE_ERROR"}}]}`)
			return
		}
		req.Body = io.NopCloser(bytes.NewReader(body))
		fwd.ServeHTTP(w, req)
	}))
	t.Cleanup(refuser.Close)
	via := direct
	via.URL = refuser.URL + "/t/far?authToken=" + url.QueryEscape(tok)
	r, err = verify.Tenant(ctx, via)
	if err != nil || !r.OK || len(r.Skipped) != 1 || r.Skipped[0].Check != verify.CheckIntegrity || r.Postings == 0 {
		t.Fatalf("without integrity_check: %v %+v", err, r)
	}
	// A wrong stamp is still found there.
	via.ID++
	if r, _ := verify.Tenant(ctx, via); r.OK || len(r.Findings) == 0 || r.Findings[0].String() != fmt.Sprintf("stamp: stamped %d, catalog says %d", tn.ID, tn.ID+1) {
		t.Errorf("wrong stamp over a remote: %+v", r)
	}
}

// A remote server that cannot be reached is an outage, not a bent ledger:
// the continuous audit counts it as skipped (open), never as a finding,
// while `verify` reports it (exit 1).
func TestAuditorRemoteUnreachable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	tg := verify.Target{ID: 9, Host: "gone", URL: "http://" + addr + "/t/gone"}
	r, err := verify.Tenant(context.Background(), tg)
	if err != nil || r.OK || len(r.Findings) != 1 || r.Findings[0].Check != verify.CheckOpen {
		t.Fatalf("verify: %v %+v", err, r)
	}
	reg := prometheus.NewRegistry()
	a := verify.NewAuditor(verify.AuditorConfig{Registerer: reg, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	a.AuditOne(context.Background(), tg)
	want := `
# HELP tenantgate_ledger_audit_skipped_total Checks of the continuous ledger audit that a remote tenant's libSQL server could not run: integrity_check, or open (the server could not be reached or read).
# TYPE tenantgate_ledger_audit_skipped_total counter
tenantgate_ledger_audit_skipped_total{check="integrity"} 0
tenantgate_ledger_audit_skipped_total{check="open"} 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "tenantgate_ledger_audit_skipped_total"); err != nil {
		t.Error(err)
	}
	if n, err := testutil.GatherAndCount(reg, "tenantgate_ledger_audits_total"); err != nil || n != 1 {
		t.Fatalf("audits metric: %d %v", n, err)
	}
	mfs, _ := reg.Gather()
	for _, mf := range mfs {
		if mf.GetName() == "tenantgate_ledger_audit_failures_total" {
			for _, m := range mf.GetMetric() {
				if v := m.GetCounter().GetValue(); v != 0 {
					t.Errorf("a finding was counted: %v", m)
				}
			}
		}
	}
}
