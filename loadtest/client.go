package loadtest

import (
	"fmt"
	"net"
	"net/url"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"
)

// byteCounter counts bytes over every connection of a client.
type byteCounter struct {
	sent, received atomic.Int64
}

type countingConn struct {
	net.Conn
	c *byteCounter
}

func (c countingConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.c.received.Add(int64(n))
	return n, err
}

func (c countingConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	c.c.sent.Add(int64(n))
	return n, err
}

// newClient returns a keep-alive fasthttp client for the target base URL
// (http://host:port or https://host:port) that counts bytes on the wire.
// Every request sets its own Host header, so one client serves all tenants.
func newClient(base string, maxConns int, timeout time.Duration) (*fasthttp.HostClient, *byteCounter, error) {
	u, err := url.Parse(base)
	if err != nil {
		return nil, nil, fmt.Errorf("parse target %q: %w", base, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		return nil, nil, fmt.Errorf("target %q: want http://host:port or https://host:port", base)
	}
	addr := u.Host
	if u.Port() == "" {
		if u.Scheme == "https" {
			addr += ":443"
		} else {
			addr += ":80"
		}
	}
	bc := &byteCounter{}
	dialer := &net.Dialer{Timeout: timeout}
	hc := &fasthttp.HostClient{
		Addr:                          addr,
		IsTLS:                         u.Scheme == "https",
		MaxConns:                      max(maxConns, 1),
		ReadTimeout:                   timeout,
		WriteTimeout:                  timeout,
		MaxIdleConnDuration:           time.Minute,
		NoDefaultUserAgentHeader:      false,
		DisableHeaderNamesNormalizing: true,
		DisablePathNormalizing:        true,
		Dial: func(a string) (net.Conn, error) {
			c, err := dialer.Dial("tcp", a)
			if err != nil {
				return nil, err
			}
			return countingConn{Conn: c, c: bc}, nil
		},
	}
	return hc, bc, nil
}

// NewHostClient is a client for base (http://host:port) with up to
// maxConns connections, for setup work outside a run.
func NewHostClient(base string, maxConns int, timeout time.Duration) (*fasthttp.HostClient, error) {
	c, _, err := newClient(base, maxConns, timeout)
	return c, err
}
