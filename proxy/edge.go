package proxy

import (
	"bytes"
	"net"
	"net/netip"
	"time"

	"github.com/pires/go-proxyproto"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
	"github.com/valyala/fasthttp"

	"github.com/microfi/tenantgate/proxy/connlimit"
	"github.com/microfi/tenantgate/proxy/token"
)

// Edge defaults: what an anonymous client may hold before it has proved
// anything.
const (
	DefaultHeaderTimeout = 5 * time.Second  // a request's headers must arrive within this
	DefaultBodyTimeout   = 30 * time.Second // its body within this, after the headers
	DefaultIdleTimeout   = 2 * time.Minute  // keep-alive wait for the next request
	DefaultMaxConnsPerIP = 256
	// AnonymousBodyLimit caps every request body except authenticated SQL
	// pipelines: the public site, the admin API and the banking API take
	// small JSON objects.
	AnonymousBodyLimit = 64 << 10
)

// EdgeLimits are the connection and request-size limits of the public
// listener. Zero fields take the defaults; a negative cap is unlimited.
type EdgeLimits struct {
	MaxConns      int // concurrent connections; 0 = unlimited (serve sizes it from the fd limit)
	MaxConnsPerIP int // per client address (IPv6 by /64); 0 = DefaultMaxConnsPerIP
	MaxIdleConns  int // idle keep-alive connections; 0 = MaxConns/2 (unlimited if MaxConns is)
	HeaderTimeout time.Duration
	BodyTimeout   time.Duration
	IdleTimeout   time.Duration
	// ProxyProtocol expects a PROXY protocol v1/v2 header from the trusted
	// proxies (Config.TrustedProxies); other peers are served as is.
	ProxyProtocol bool
}

func (l *EdgeLimits) withDefaults() {
	if l.MaxConnsPerIP == 0 {
		l.MaxConnsPerIP = DefaultMaxConnsPerIP
	}
	if l.MaxIdleConns == 0 && l.MaxConns > 0 {
		l.MaxIdleConns = max(l.MaxConns/2, 1)
	}
	if l.HeaderTimeout <= 0 {
		l.HeaderTimeout = DefaultHeaderTimeout
	}
	if l.BodyTimeout <= 0 {
		l.BodyTimeout = DefaultBodyTimeout
	}
	if l.IdleTimeout <= 0 {
		l.IdleTimeout = DefaultIdleTimeout
	}
}

// tooManyConns is written to a connection refused at accept time.
var tooManyConns = []byte("HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nRetry-After: 1\r\n" +
	"Connection: close\r\nContent-Length: 34\r\n\r\n{\"error\":\"Too many connections\"}\r\n")

// guard wraps a public listener (plain or, under TLS, HTTPS): PROXY
// protocol (when enabled) inside the connection limits, so a refused
// connection costs no header read.
func (s *Server) guard(ln net.Listener) (net.Listener, error) {
	lim := s.cfg.Edge
	if lim.ProxyProtocol {
		ranges := make([]string, len(s.cfg.TrustedProxies))
		for i, p := range s.cfg.TrustedProxies {
			ranges[i] = p.String()
		}
		policy, err := proxyproto.PolicyFromRanges(ranges, proxyproto.REQUIRE, proxyproto.SKIP)
		if err != nil {
			return nil, err
		}
		ln = &proxyproto.Listener{Listener: ln, ConnPolicy: policy, ReadHeaderTimeout: lim.HeaderTimeout}
	}
	return s.conns.Listen(ln), nil
}

// newConnPool is the connection limits shared by the plain and the HTTPS
// listener.
func (s *Server) newConnPool() *connlimit.Pool {
	lim := s.cfg.Edge
	return connlimit.NewPool(connlimit.Config{
		MaxConns:      max(lim.MaxConns, 0),
		MaxConnsPerIP: max(lim.MaxConnsPerIP, 0),
		MaxIdle:       max(lim.MaxIdleConns, 0),
		Exempt:        s.trusted.contains,
		Reject:        tooManyConns,
		OnReject:      func(reason string) { s.metrics.connsRejected.WithLabelValues(reason).Inc() },
		Logger:        s.log,
	})
}

// connState tells the connection guard which connections are idle.
func connState(c net.Conn, st fasthttp.ConnState) {
	switch st {
	case fasthttp.StateIdle:
		if g := guarded(c); g != nil {
			g.SetIdle(true)
		}
	case fasthttp.StateActive, fasthttp.StateHijacked:
		if g := guarded(c); g != nil {
			g.SetIdle(false)
		}
	}
}

// guarded finds the connection guard's Conn under TLS and other wrappers
// (each exposing what it wraps as NetConn), or nil.
func guarded(c net.Conn) *connlimit.Conn {
	for range 4 {
		switch v := c.(type) {
		case *connlimit.Conn:
			return v
		case interface{ NetConn() net.Conn }:
			c = v.NetConn()
		default:
			return nil
		}
	}
	return nil
}

// headerReceived sets each request's body limit from its headers alone,
// before a byte of body is read: the full Hrana cap only for an SQL route
// on a tenant host with a valid token, AnonymousBodyLimit for everything
// else. A larger Content-Length is refused with 413 unread.
func (s *Server) headerReceived(h *fasthttp.RequestHeader) fasthttp.RequestConfig {
	m := h.Method()
	if !bytes.Equal(m, strPost) {
		return fasthttp.RequestConfig{MaxRequestBodySize: AnonymousBodyLimit}
	}
	conf := fasthttp.RequestConfig{MaxRequestBodySize: AnonymousBodyLimit, ReadTimeout: s.cfg.Edge.BodyTimeout}
	if s.sqlBodyAllowed(h) {
		conf.MaxRequestBodySize = MaxRequestBody
	}
	return conf
}

var strPost = []byte("POST")

// sqlBodyAllowed reports whether the request is an SQL route on a tenant
// host carrying a valid token of a role the route admits.
func (s *Server) sqlBodyAllowed(h *fasthttp.RequestHeader) bool {
	path := h.RequestURI()
	if i := bytes.IndexByte(path, '?'); i >= 0 {
		path = path[:i]
	}
	if rest, ok := bytes.CutPrefix(path, []byte(localPrefix)); ok && isLoopbackHost(h.Host()) {
		// The local path prefix (localprefix.go), as libSQL clients on
		// this machine and front proxies of a loopback shard send it.
		_, tail, _ := bytes.Cut(rest, []byte("/"))
		path = append([]byte("/"), tail...)
	} else if kind, _ := s.classifyHost(h.Host()); kind != hostTenant && kind != hostDomain {
		return false
	}
	rt, _, err := s.tenantTable.match("POST", string(path))
	if err != nil || rt.class != classSQL || rt.roles == nil {
		return false
	}
	if len(h.PeekAll(fasthttp.HeaderAuthorization)) != 1 {
		return false
	}
	tok, ok := token.Bearer(h.Peek(fasthttp.HeaderAuthorization))
	if !ok {
		return false
	}
	claims, err := s.auth.VerifyBytes(tok)
	if err != nil {
		return false
	}
	for _, r := range rt.roles {
		if claims.Role == r {
			return true
		}
	}
	return false
}

// trustedProxies is the set of peers whose forwarding headers are believed.
type trustedProxies []netip.Prefix

func (t trustedProxies) contains(a netip.Addr) bool {
	a = a.Unmap()
	for _, p := range t {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// registerConnGauges exports tenantgate_connections{state}: idle keep-alive
// connections and the rest (reading or being served).
func (s *Server) registerConnGauges(reg prometheus.Registerer) {
	for _, state := range []string{"active", "idle"} {
		promauto.With(reg).NewGaugeFunc(prometheus.GaugeOpts{
			Name:        "tenantgate_connections",
			Help:        "Open connections on the public listener by state: idle (keep-alive, between requests) or active.",
			ConstLabels: prometheus.Labels{"state": state},
		}, func() float64 {
			active, idle := s.conns.Counts()
			if state == "idle" {
				return float64(idle)
			}
			return float64(active)
		})
	}
}
