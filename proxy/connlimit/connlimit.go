// Package connlimit guards a listener: it caps concurrent connections in
// total and per client address, keeps the number of idle keep-alive
// connections bounded, and survives accept errors (out of file descriptors,
// out of buffers) by shedding idle connections and backing off instead of
// returning. An HTTP server on top of it never sees those errors, so they
// cannot end its Serve loop.
//
// The server reports each connection's state through SetIdle (idle = waiting
// for its next request); shedding takes the newest idle connections first:
// established clients keep their pools, and a flood of fresh connections
// pays for itself.
package connlimit

import (
	"container/list"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/pires/go-proxyproto"
)

// Reasons label tenantgate_connections_rejected_total.
const (
	ReasonMaxConns  = "max_conns" // the total cap was reached and no idle connection could be shed
	ReasonPerIP     = "per_ip"    // the client address already has its share
	ReasonResources = "resources" // accept failed: out of file descriptors or kernel buffers
	ReasonIdleShed  = "idle_shed" // an idle keep-alive connection was closed to make room
	ReasonIdleCap   = "idle_cap"  // a connection going idle past the idle cap was closed
)

// Reasons lists every rejection reason, for pre-registering metric labels.
var Reasons = []string{ReasonMaxConns, ReasonPerIP, ReasonResources, ReasonIdleShed, ReasonIdleCap}

// Config sets the limits. Zero or negative caps are unlimited.
type Config struct {
	MaxConns      int // concurrent connections in total
	MaxConnsPerIP int // concurrent connections per client address (IPv6 by /64)
	MaxIdle       int // idle keep-alive connections
	// Exempt reports peers the per-address cap does not apply to (trusted
	// proxies: every client behind them shares their address).
	Exempt func(netip.Addr) bool
	// Reject is written to a refused connection before it is closed (for
	// example an HTTP 503); nil closes it silently.
	Reject []byte
	// OnReject is called once per refused or shed connection.
	OnReject func(reason string)
	Logger   *slog.Logger
}

// Pool holds the limits' state: one Pool can guard several listeners (plain
// HTTP and HTTPS), which then share its caps.
type Pool struct {
	cfg Config

	mu    sync.Mutex
	total int
	perIP map[netip.Addr]int
	idle  list.List // *Conn, oldest first

	lastLog  atomic.Int64 // unix nanos of the last rejection log line
	rejected atomic.Int64 // rejections since then
}

// NewPool returns a Pool with cfg's limits. It starts nothing.
func NewPool(cfg Config) *Pool {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Pool{cfg: cfg, perIP: map[netip.Addr]int{}}
}

// Listen wraps inner with the pool's limits.
func (l *Pool) Listen(inner net.Listener) *Listener { return &Listener{inner: inner, l: l} }

// Listener is a net.Listener within a Pool's limits.
type Listener struct {
	inner net.Listener
	l     *Pool
}

// New wraps inner with a Pool of its own.
func New(inner net.Listener, cfg Config) *Listener { return NewPool(cfg).Listen(inner) }

// Addr is the inner listener's address.
func (ln *Listener) Addr() net.Addr { return ln.inner.Addr() }

// Close closes the inner listener; open connections stay open.
func (ln *Listener) Close() error { return ln.inner.Close() }

// Counts reports the listener's pool's open connections.
func (ln *Listener) Counts() (active, idle int) { return ln.l.Counts() }

// Counts reports open connections: idle ones and the rest.
func (l *Pool) Counts() (active, idle int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.total - l.idle.Len(), l.idle.Len()
}

// Accept returns the next connection within the limits. It returns an error
// only when the inner listener is closed.
func (ln *Listener) Accept() (net.Conn, error) {
	l := ln.l
	var backoff time.Duration
	for {
		c, err := ln.inner.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return nil, err
			}
			// Anything else is transient from a server's point of view:
			// EMFILE/ENFILE (descriptors), ENOBUFS/ENOMEM (kernel memory),
			// ECONNABORTED (the client gave up). Free what we can and retry.
			if isResourceErr(err) {
				l.reject(ReasonResources, err)
				l.shedIdle(16)
			}
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			time.Sleep(backoff)
			continue
		}
		backoff = 0
		if conn := l.admit(c); conn != nil {
			return conn, nil
		}
	}
}

// admit takes a slot for c or refuses it.
func (l *Pool) admit(c net.Conn) net.Conn {
	key, exempt := l.peer(c)
	var victim *Conn
	l.mu.Lock()
	if l.cfg.MaxConnsPerIP > 0 && !exempt && l.perIP[key] >= l.cfg.MaxConnsPerIP {
		l.mu.Unlock()
		l.refuse(c, ReasonPerIP)
		return nil
	}
	if l.cfg.MaxConns > 0 && l.total >= l.cfg.MaxConns {
		victim = l.popNewestIdle()
		if victim == nil {
			l.mu.Unlock()
			l.refuse(c, ReasonMaxConns)
			return nil
		}
	}
	l.total++
	if !exempt {
		l.perIP[key]++
	}
	l.mu.Unlock()
	if victim != nil {
		l.reject(ReasonIdleShed, nil)
		victim.Conn.Close() // its server goroutine sees the close and releases the slot
	}
	return &Conn{Conn: c, l: l, key: key, counted: !exempt}
}

// peer is the key a connection counts against: the TCP peer, with IPv6
// grouped by /64 (one subscriber usually holds a whole /64).
func (l *Pool) peer(c net.Conn) (netip.Addr, bool) {
	ap, err := netip.ParseAddrPort(raw(c).RemoteAddr().String())
	if err != nil {
		return netip.Addr{}, true
	}
	a := ap.Addr().Unmap()
	if l.cfg.Exempt != nil && l.cfg.Exempt(a) {
		return a, true
	}
	return KeyOf(a), false
}

// KeyOf is the address a client is counted by: IPv4 as is, IPv6 by /64.
func KeyOf(a netip.Addr) netip.Addr {
	a = a.Unmap()
	if a.Is6() {
		p, _ := a.Prefix(64)
		return p.Addr()
	}
	return a
}

// raw is the TCP connection under a PROXY-protocol wrapper: the peer that
// connected, not the client the header names (reading the header would
// block the accept loop).
func raw(c net.Conn) net.Conn {
	if pc, ok := c.(*proxyproto.Conn); ok {
		return pc.Raw()
	}
	return c
}

// refuse answers and closes a connection that gets no slot.
func (l *Pool) refuse(c net.Conn, reason string) {
	l.reject(reason, nil)
	if len(l.cfg.Reject) > 0 {
		r := raw(c)
		_ = r.SetWriteDeadline(time.Now().Add(50 * time.Millisecond))
		_, _ = r.Write(l.cfg.Reject) // a fresh socket's send buffer is empty: this does not block
	}
	c.Close()
}

// reject counts one rejection and logs at most once a second.
func (l *Pool) reject(reason string, err error) {
	if l.cfg.OnReject != nil {
		l.cfg.OnReject(reason)
	}
	n := l.rejected.Add(1)
	now := time.Now().UnixNano()
	last := l.lastLog.Load()
	if now-last < int64(time.Second) || !l.lastLog.CompareAndSwap(last, now) {
		return
	}
	l.rejected.Add(-n)
	active, idle := l.Counts()
	args := []any{"reason", reason, "rejected_since_last_log", n, "active", active, "idle", idle}
	if err != nil {
		args = append(args, "err", err)
	}
	l.cfg.Logger.Warn("connection refused or shed", args...)
}

// popNewestIdle removes the newest idle connection from the idle list
// (the caller closes it). l.mu is held.
func (l *Pool) popNewestIdle() *Conn {
	e := l.idle.Back()
	if e == nil {
		return nil
	}
	c := e.Value.(*Conn)
	l.idle.Remove(e)
	c.elem = nil
	return c
}

// shedIdle closes up to n of the newest idle connections.
func (l *Pool) shedIdle(n int) {
	var victims []*Conn
	l.mu.Lock()
	for range n {
		c := l.popNewestIdle()
		if c == nil {
			break
		}
		victims = append(victims, c)
	}
	l.mu.Unlock()
	for _, c := range victims {
		l.reject(ReasonIdleShed, nil)
		c.Conn.Close()
	}
}

// Conn is an admitted connection. Close releases its slot once.
type Conn struct {
	net.Conn
	l       *Pool
	key     netip.Addr
	counted bool // counted against key's per-address cap
	elem    *list.Element
	closed  bool
	once    sync.Once
	linger  atomic.Bool
}

// Linger makes Close half-close the connection and discard what the client
// is still sending (at most lingerBytes, for at most lingerTime, as nginx's
// lingering close) before it closes: a response written just before — a
// 413 for a body left unread — then reaches a client still busy writing,
// instead of being destroyed by the reset a close with unread input sends.
// Discarding costs a small pooled buffer, not the body's size.
func (c *Conn) Linger() { c.linger.Store(true) }

const (
	lingerBytes = 16 << 20
	lingerTime  = 2 * time.Second
)

// Unwrap is the connection Conn wraps.
func (c *Conn) Unwrap() net.Conn { return c.Conn }

// SetIdle records whether the connection waits for its next request. An
// idle connection past the idle cap is closed at once.
func (c *Conn) SetIdle(idle bool) {
	l := c.l
	l.mu.Lock()
	switch {
	case c.closed:
	case idle && c.elem == nil:
		if l.cfg.MaxIdle > 0 && l.idle.Len() >= l.cfg.MaxIdle {
			l.mu.Unlock()
			l.reject(ReasonIdleCap, nil)
			c.Conn.Close()
			return
		}
		c.elem = l.idle.PushBack(c)
	case !idle && c.elem != nil:
		l.idle.Remove(c.elem)
		c.elem = nil
	}
	l.mu.Unlock()
}

// Close closes the connection and gives back its slot.
func (c *Conn) Close() error {
	if c.linger.Load() {
		c.once.Do(func() { go c.drainAndClose() })
		return nil
	}
	err := c.Conn.Close()
	c.once.Do(c.release)
	return err
}

func (c *Conn) drainAndClose() {
	if tc, ok := raw(c.Conn).(*net.TCPConn); ok {
		_ = tc.CloseWrite()
		_ = tc.SetReadDeadline(time.Now().Add(lingerTime))
		_, _ = io.CopyN(io.Discard, tc, lingerBytes)
	}
	c.Conn.Close()
	c.release()
}

// release gives back the connection's slot.
func (c *Conn) release() {
	l := c.l
	l.mu.Lock()
	defer l.mu.Unlock()
	c.closed = true
	if c.elem != nil {
		l.idle.Remove(c.elem)
		c.elem = nil
	}
	l.total--
	if c.counted {
		if l.perIP[c.key]--; l.perIP[c.key] <= 0 {
			delete(l.perIP, c.key)
		}
	}
}

func isResourceErr(err error) bool {
	return errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE) ||
		errors.Is(err, syscall.ENOBUFS) || errors.Is(err, syscall.ENOMEM)
}
