package hrana_test

import (
	"context"
	"strconv"
	"testing"

	"github.com/valyala/fasthttp"

	"github.com/microfi/tenantgate/proxy/hrana"
)

// BenchmarkServePointRead measures the handler alone (no network): a
// single-statement pipeline point read with close, as @libsql/client sends
// execute(), on a table of 1000 rows.
//
//	go test ./proxy/hrana -run '^$' -bench ServePointRead
func BenchmarkServePointRead(b *testing.B) {
	s := newTestServer(b, hrana.Config{})
	s.exec("CREATE TABLE acct(id INTEGER PRIMARY KEY, name TEXT NOT NULL, balance INTEGER NOT NULL)")
	s.exec("WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1000) INSERT INTO acct SELECT i, 'user' || i, i * 100 FROM n")
	h, err := s.M.Acquire(context.Background(), 1, "")
	if err != nil {
		b.Fatal(err)
	}
	defer h.Release()
	target := hrana.Target{TenantID: 1, DB: h, Principal: "service:1"}
	bodies := make([][]byte, 1000)
	for i := range bodies {
		bodies[i] = []byte(`{"requests":[{"type":"execute","stmt":{"sql":"SELECT id, name, balance FROM acct WHERE id = ?","args":[{"type":"integer","value":"` + strconv.Itoa(i+1) + `"}],"want_rows":true}},{"type":"close"}]}`)
	}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		var ctx fasthttp.RequestCtx
		i := 0
		for pb.Next() {
			ctx.Request.Reset()
			ctx.Response.Reset()
			ctx.Request.Header.SetMethod("POST")
			ctx.Request.SetRequestURI("/v2/pipeline")
			ctx.Request.SetBody(bodies[i%len(bodies)])
			s.H.Serve(&ctx, target)
			if ctx.Response.StatusCode() != 200 {
				b.Fatalf("status %d: %s", ctx.Response.StatusCode(), ctx.Response.Body())
			}
			i++
		}
	})
}
