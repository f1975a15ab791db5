package hrana_test

import (
	"context"
	"database/sql"
	"strings"
	"testing"

	"github.com/valyala/fasthttp"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/microfi/tenantgate/proxy/hrana"
)

// BenchmarkWirePointRead compares the Go client's point read over HTTP
// (Hrana 2, a new stream per query) and over WebSocket (hrana1, one
// socket and stream), over loopback, one goroutine:
//
//	go test ./proxy/hrana -run '^$' -bench WirePointRead -benchtime 3s -count 3
func BenchmarkWirePointRead(b *testing.B) {
	s := newTestServer(b, hrana.Config{})
	s.exec("CREATE TABLE acct(id INTEGER PRIMARY KEY, name TEXT NOT NULL, balance INTEGER NOT NULL)")
	s.exec("WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1000) INSERT INTO acct SELECT i, 'user' || i, i * 100 FROM n")
	for _, tr := range []struct{ name, url string }{{"http", s.URL}, {"ws", "ws" + strings.TrimPrefix(s.URL, "http")}} {
		b.Run(tr.name, func(b *testing.B) {
			db, err := sql.Open("libsql", tr.url)
			if err != nil {
				b.Fatal(err)
			}
			defer db.Close()
			db.SetMaxOpenConns(1)
			ctx := context.Background()
			var name string
			var bal int64
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if err := db.QueryRowContext(ctx, "SELECT name, balance FROM acct WHERE id = ?", int64(i%1000+1)).Scan(&name, &bal); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkWireEncoding compares /v3/pipeline (JSON) and
// /v3-protobuf/pipeline on the handler alone: one pipeline reading 100
// rows of three columns, decode to encode.
//
//	go test ./proxy/hrana -run '^$' -bench WireEncoding -benchtime 3s -count 3
func BenchmarkWireEncoding(b *testing.B) {
	s := newTestServer(b, hrana.Config{})
	s.exec("CREATE TABLE acct(id INTEGER PRIMARY KEY, name TEXT NOT NULL, balance INTEGER NOT NULL)")
	s.exec("WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1000) INSERT INTO acct SELECT i, 'user' || i, i * 100 FROM n")
	target := hrana.Target{TenantID: 1, Path: s.Paths[1], Principal: "service:1", Done: s.Done[1]}
	const q = "SELECT id, name, balance FROM acct WHERE id > ? LIMIT 100"
	jsonBody := []byte(`{"requests":[{"type":"execute","stmt":{"sql":"` + q + `","args":[{"type":"integer","value":"500"}],"want_rows":true}},{"type":"close"}]}`)
	stmt := pb{}.str(1, q).msg(3, pb{}.varint(2, protowire.EncodeZigZag(500))).varint(5, 1)
	pbBody := pb{}.msg(2, pb{}.msg(2, pb{}.msg(1, stmt))).msg(2, pb{}.msg(1, nil))
	for _, c := range []struct {
		name, path string
		body       []byte
	}{{"json", "/v3/pipeline", jsonBody}, {"protobuf", "/v3-protobuf/pipeline", pbBody}} {
		b.Run(c.name, func(b *testing.B) {
			var ctx fasthttp.RequestCtx
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				ctx.Request.Reset()
				ctx.Response.Reset()
				ctx.Request.Header.SetMethod("POST")
				ctx.Request.SetRequestURI(c.path)
				ctx.Request.SetBody(c.body)
				s.H.Serve(&ctx, target)
				if ctx.Response.StatusCode() != 200 {
					b.Fatalf("status %d: %s", ctx.Response.StatusCode(), ctx.Response.Body())
				}
			}
			b.ReportMetric(float64(len(ctx.Response.Body())), "resp-bytes")
		})
	}
}
