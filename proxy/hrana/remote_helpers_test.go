package hrana_test

import (
	"bytes"
	"strconv"
	"testing"

	"github.com/valyala/fasthttp"

	"github.com/microfi/tenantgate/proxy/hrana"
	"github.com/microfi/tenantgate/shard"
	"github.com/microfi/tenantgate/shard/remote"
)

// tenantPath takes a "/t/<id>" prefix off the request path: how a front's
// remote tenants reach their databases on a shard testServer.
func tenantPath(ctx *fasthttp.RequestCtx) (int64, bool) {
	p := ctx.Path()
	if !bytes.HasPrefix(p, []byte("/t/")) {
		return 0, false
	}
	rest := p[3:]
	i := bytes.IndexByte(rest, '/')
	if i < 0 {
		i = len(rest)
	}
	id, err := strconv.ParseInt(string(rest[:i]), 10, 64)
	if err != nil {
		return 0, false
	}
	ctx.URI().SetPathBytes(append([]byte(nil), rest[i:]...))
	if len(ctx.Path()) == 0 {
		ctx.URI().SetPath("/")
	}
	return id, true
}

// newRemoteTestServer is a front whose tenants 1 and 2 live on a shard (a
// second testServer serving them over Hrana): every request is forwarded.
// Paths are the shard's files, so tests look at the real databases.
func newRemoteTestServer(tb testing.TB, cfg hrana.Config) *testServer {
	tb.Helper()
	shardSrv := newTestServer(tb, hrana.Config{})
	// The front forwards through the proxy's own client, as serve does.
	front := newTestServer(tb, cfg, func(c *shard.Config) {
		c.Remote = remote.NewTransport(remote.Options{Post: hrana.RemotePost(0)})
	})
	front.Paths = shardSrv.Paths
	front.DBURLs = map[int64]string{}
	for id := range shardSrv.Paths {
		front.DBURLs[id] = shardSrv.URL + "/t/" + strconv.FormatInt(id, 10)
	}
	return front
}

// servers runs f against a local test server and a remote one (the same
// tenants behind a forwarding front), as subtests.
func servers(t *testing.T, cfg hrana.Config, f func(t *testing.T, s *testServer)) {
	t.Run("local", func(t *testing.T) { f(t, newTestServer(t, cfg)) })
	t.Run("remote", func(t *testing.T) { f(t, newRemoteTestServer(t, cfg)) })
}
