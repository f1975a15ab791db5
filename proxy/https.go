package proxy

import (
	"bytes"
	"errors"
	"net"
	"net/http"
	"strconv"

	"github.com/valyala/fasthttp"
	"github.com/valyala/fasthttp/fasthttpadaptor"

	"github.com/microfi/tenantgate/catalog"
	"github.com/microfi/tenantgate/proxy/httpapi"
	"github.com/microfi/tenantgate/proxy/tlsedge"
)

// hstsValue asks browsers to use HTTPS for a year. Without includeSubDomains:
// a tenant's custom domain has subdomains that are not ours to pin.
const hstsValue = "max-age=31536000"

var challengePrefix = []byte(tlsedge.ChallengePrefix)

// ServeTLS accepts HTTPS traffic on ln (a TCP listener; Config.TLS does
// the TLS) until Shutdown.
func (s *Server) ServeTLS(ln net.Listener) error {
	if s.cfg.TLS == nil {
		return errors.New("proxy: ServeTLS without Config.TLS")
	}
	s.Start()
	g, err := s.guard(ln) // connection limits under TLS: a refused connection costs no handshake
	if err != nil {
		return err
	}
	return s.http.Serve(s.cfg.TLS.Listener(g))
}

// httpsFirst applies the HTTPS rules before routing and reports whether it
// answered: HSTS on HTTPS answers; on the plain listener, ACME HTTP-01
// challenges are answered and, with RedirectHTTP, everything else is sent
// to HTTPS with 308 (method and body kept).
func (s *Server) httpsFirst(ctx *fasthttp.RequestCtx) bool {
	if ctx.IsTLS() {
		ctx.Response.Header.Set("Strict-Transport-Security", hstsValue)
		return false
	}
	if s.cfg.TLS != nil && bytes.HasPrefix(ctx.Path(), challengePrefix) {
		if s.serveChallenge(ctx) {
			return true
		}
	}
	if !s.cfg.RedirectHTTP {
		return false
	}
	host, err := catalog.NormalizeHost(string(ctx.Host()))
	if err != nil {
		s.writeError(ctx, errTenantNotFound)
		return true
	}
	target := "https://" + host
	if p := s.cfg.HTTPSPort; p != 0 && p != 443 {
		target += ":" + strconv.Itoa(p)
	}
	ctx.Response.Header.Set("Location", target+string(ctx.RequestURI()))
	httpapi.WriteJSON(ctx, http.StatusPermanentRedirect, map[string]string{"error": "Use HTTPS", "location": target + string(ctx.RequestURI())})
	return true
}

// serveChallenge answers an HTTP-01 challenge through certmagic's handler.
func (s *Server) serveChallenge(ctx *fasthttp.RequestCtx) bool {
	var handled bool
	fasthttpadaptor.NewFastHTTPHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		handled = s.cfg.TLS.ServeHTTPChallenge(w, r)
	}))(ctx)
	if !handled {
		ctx.Response.Reset()
	}
	return handled
}
