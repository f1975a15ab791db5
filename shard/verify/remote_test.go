package verify_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"testing"

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
