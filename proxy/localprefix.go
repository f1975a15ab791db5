package proxy

import (
	"bytes"
	"net"

	"github.com/valyala/fasthttp"
)

// localPrefix is the local-development route for tenant hosts: Node's,
// Go's and Python's resolvers do not resolve *.localhost (only browsers and
// curl do), so a libSQL client cannot reach acme.microfi.localhost. Instead
// it may use http://127.0.0.1:8080/t/acme/ : a request to a loopback
// address literal (127.0.0.1, [::1], localhost) from a loopback peer whose
// path starts with /t/<host>/ is routed as if sent to <host>.<root domain>
// (or to <host> itself when it contains a dot, e.g. a custom domain) with
// the rest of the path. Both libSQL clients keep a base URL's path when they
// add /v2/pipeline (JS resolves it relatively, hence the trailing slash).
// It grants nothing a Host header could not, and production hosts are
// never loopback literals, so their routing is unchanged.
const localPrefix = "/t/"

// rewriteLocalPrefix applies the /t/<host>/ route; it reports whether it did.
func (s *Server) rewriteLocalPrefix(ctx *fasthttp.RequestCtx) bool {
	path := ctx.Request.URI().PathOriginal()
	if !bytes.HasPrefix(path, []byte(localPrefix)) || !isLoopbackHost(ctx.Host()) || !ctx.RemoteIP().IsLoopback() {
		return false
	}
	rest := path[len(localPrefix):]
	host, tail, _ := bytes.Cut(rest, []byte("/"))
	if len(host) == 0 {
		return false
	}
	target := string(host)
	if !bytes.Contains(host, []byte(".")) {
		target += "." + s.cfg.RootDomain
	}
	newPath := "/" + string(tail)
	ctx.Request.Header.SetHost(target)
	ctx.Request.URI().SetHost(target)
	ctx.Request.URI().SetPath(newPath)
	return true
}

// isLoopbackHost reports whether a Host header names the loopback
// interface by address or as plain "localhost".
func isLoopbackHost(raw []byte) bool {
	h := string(raw)
	if host, _, err := net.SplitHostPort(h); err == nil {
		h = host
	}
	if h == "localhost" {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}
