package tlsedge

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/microfi/tenantgate/catalog"
)

// orderTimeout bounds an on-demand order started by a handshake. It runs
// past the handshake's own deadline on purpose: a first order can take
// longer than a client waits, and the next handshake then finds it done.
const orderTimeout = 3 * time.Minute

// getCertificate picks the certificate for a ClientHello: the operator's
// for R and *.R, else (for names the catalog allows) certmagic's, loaded
// from the shared storage or obtained on demand. A name the catalog does
// not allow gets no certificate: the handshake ends with unrecognized_name
// and nothing is ordered.
func (e *Edge) getCertificate(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
	if hello.ServerName == "" {
		if e.cfg.Certificate != nil {
			return e.cfg.Certificate, nil
		}
		return e.reject(hello)
	}
	host, err := catalog.NormalizeHost(hello.ServerName)
	if err != nil {
		return e.reject(hello)
	}
	if e.cfg.Certificate != nil && e.covered(host) {
		return e.cfg.Certificate, nil
	}
	if e.magic == nil {
		return e.reject(hello)
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(hello.Context()), orderTimeout)
	defer cancel()
	if _, err := e.decide(ctx, host); errors.Is(err, ErrNotAllowed) {
		return e.reject(hello)
	} else if err != nil {
		return nil, err
	}
	return e.magic.GetCertificateWithContext(ctx, hello)
}

// covered reports whether the operator's certificate serves host: R and
// one label below it (what a certificate for R and *.R covers).
func (e *Edge) covered(host string) bool {
	root := e.cfg.RootDomain
	if host == root {
		return true
	}
	label, ok := strings.CutSuffix(host, "."+root)
	return ok && !strings.Contains(label, ".")
}

func (e *Edge) reject(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
	if c, ok := hello.Conn.(*rawConn); ok {
		c.rejected.Store(true)
	}
	return nil, nil // no certificate: the handshake fails with unrecognized_name
}

// Listener wraps ln (the HTTPS listener's TCP listener) in TLS, with a
// deadline on each handshake and its result counted.
func (e *Edge) Listener(ln net.Listener) net.Listener { return &listener{Listener: ln, e: e} }

type listener struct {
	net.Listener
	e *Edge
}

func (l *listener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	raw := &rawConn{Conn: c}
	return &Conn{Conn: tls.Server(raw, l.e.tlsConfig), raw: raw, e: l.e}, nil
}

// rawConn is the TCP side of a TLS connection; getCertificate marks it
// when it refuses the name.
type rawConn struct {
	net.Conn
	rejected atomic.Bool
	read     atomic.Int64 // bytes received
}

func (c *rawConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	c.read.Add(int64(n))
	return n, err
}

// NetConn is the connection rawConn wraps (the proxy's connection guard
// finds its own wrapper through it).
func (c *rawConn) NetConn() net.Conn { return c.Conn }

// Conn is a server-side TLS connection whose handshake happens once, on
// first use, within the configured deadline. It keeps *tls.Conn's methods,
// so HTTP servers still see a TLS connection.
type Conn struct {
	*tls.Conn
	raw  *rawConn
	e    *Edge
	once sync.Once
	err  error
}

// Handshake runs the TLS handshake (once) and counts its result.
func (c *Conn) Handshake() error {
	c.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), c.e.cfg.HandshakeTimeout)
		defer cancel()
		c.err = c.Conn.HandshakeContext(ctx)
		result := handshakeFull
		switch {
		case c.err != nil && c.raw.read.Load() == 0:
			// Connected and closed without a byte: a load balancer's TCP
			// health check or certmagic probing its challenge port, not
			// a TLS client.
			return
		case c.err == nil && c.Conn.ConnectionState().DidResume:
			result = handshakeResumed
		case c.err == nil:
		case c.raw.rejected.Load():
			result = handshakeRejected
		default:
			result = handshakeFailed
			c.e.log.Debug("tls handshake failed", "remote", c.raw.RemoteAddr().String(), "err", c.err)
		}
		c.e.metrics.byResult[result].Inc()
	})
	return c.err
}

func (c *Conn) Read(b []byte) (int, error) {
	if err := c.Handshake(); err != nil {
		return 0, err
	}
	return c.Conn.Read(b)
}

func (c *Conn) Write(b []byte) (int, error) {
	if err := c.Handshake(); err != nil {
		return 0, err
	}
	return c.Conn.Write(b)
}
