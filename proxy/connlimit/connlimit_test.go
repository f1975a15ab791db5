package connlimit_test

import (
	"errors"
	"io"
	"net"
	"net/netip"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/microfi/tenantgate/proxy/connlimit"
)

// reasons counts OnReject calls.
type reasons struct {
	mu sync.Mutex
	n  map[string]int
}

func (r *reasons) add(reason string) { r.mu.Lock(); r.n[reason]++; r.mu.Unlock() }
func (r *reasons) get(reason string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.n[reason]
}

// serve accepts from l until it is closed, handing conns to the channel.
func serve(t *testing.T, cfg connlimit.Config) (*connlimit.Listener, chan *connlimit.Conn, *reasons) {
	t.Helper()
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &reasons{n: map[string]int{}}
	cfg.OnReject = r.add
	l := connlimit.New(inner, cfg)
	conns := make(chan *connlimit.Conn, 16)
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				close(conns)
				return
			}
			conns <- c.(*connlimit.Conn)
		}
	}()
	t.Cleanup(func() { l.Close() })
	return l, conns, r
}

func dial(t *testing.T, l net.Listener) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// refused reports whether the server answered c with reject and closed it.
func refused(t *testing.T, c net.Conn, reject string) bool {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	b, err := io.ReadAll(c)
	if err != nil && !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("read: %v", err)
	}
	return string(b) == reject
}

func accepted(t *testing.T, conns chan *connlimit.Conn) *connlimit.Conn {
	t.Helper()
	select {
	case c := <-conns:
		return c
	case <-time.After(5 * time.Second):
		t.Fatal("no connection accepted")
	}
	return nil
}

func TestPerIPCap(t *testing.T) {
	l, conns, r := serve(t, connlimit.Config{MaxConnsPerIP: 2, Reject: []byte("busy")})
	dial(t, l)
	dial(t, l)
	a, b := accepted(t, conns), accepted(t, conns)
	if !refused(t, dial(t, l), "busy") {
		t.Fatal("third connection from one address was not refused")
	}
	if r.get(connlimit.ReasonPerIP) != 1 {
		t.Fatalf("per_ip rejections %d, want 1", r.get(connlimit.ReasonPerIP))
	}
	a.Close()
	dial(t, l)
	accepted(t, conns) // a freed slot is reusable
	b.Close()
}

func TestPerIPExempt(t *testing.T) {
	l, conns, _ := serve(t, connlimit.Config{MaxConnsPerIP: 1, Exempt: func(netip.Addr) bool { return true }})
	for range 3 {
		dial(t, l)
		accepted(t, conns)
	}
}

// At the total cap a new connection takes the newest idle one's slot; with
// none idle it is refused.
func TestTotalCapShedsNewestIdle(t *testing.T) {
	l, conns, r := serve(t, connlimit.Config{MaxConns: 3, Reject: []byte("full")})
	client := make([]net.Conn, 3)
	server := make([]*connlimit.Conn, 3)
	for i := range client {
		client[i] = dial(t, l)
		server[i] = accepted(t, conns)
	}
	server[0].SetIdle(true) // oldest idle
	server[1].SetIdle(true) // newest idle: shed first
	dial(t, l)
	accepted(t, conns)
	if !refused(t, client[1], "") {
		t.Fatal("the newest idle connection was not closed")
	}
	if r.get(connlimit.ReasonIdleShed) != 1 {
		t.Fatalf("idle_shed %d, want 1", r.get(connlimit.ReasonIdleShed))
	}
	server[1].Close() // what the server does when its read fails
	server[0].SetIdle(false)
	if active, idle := l.Counts(); active != 3 || idle != 0 {
		t.Fatalf("counts active=%d idle=%d, want 3 and 0", active, idle)
	}
	if !refused(t, dial(t, l), "full") {
		t.Fatal("a connection over the cap with none idle was not refused")
	}
	if r.get(connlimit.ReasonMaxConns) != 1 {
		t.Fatalf("max_conns %d, want 1", r.get(connlimit.ReasonMaxConns))
	}
}

func TestIdleCap(t *testing.T) {
	l, conns, r := serve(t, connlimit.Config{MaxIdle: 1})
	c1, c2 := dial(t, l), dial(t, l)
	s1, s2 := accepted(t, conns), accepted(t, conns)
	s1.SetIdle(true)
	s2.SetIdle(true) // past the cap: closed
	if !refused(t, c2, "") {
		t.Fatal("connection past the idle cap stayed open")
	}
	if r.get(connlimit.ReasonIdleCap) != 1 {
		t.Fatalf("idle_cap %d", r.get(connlimit.ReasonIdleCap))
	}
	_ = c1
	s2.Close()
	if _, idle := l.Counts(); idle != 1 {
		t.Fatalf("idle %d, want 1", idle)
	}
}

// failing is a real listener whose Accept first fails like a process out
// of descriptors.
type failing struct {
	net.Listener
	mu    sync.Mutex
	fails int
}

func (f *failing) Accept() (net.Conn, error) {
	f.mu.Lock()
	if f.fails > 0 {
		f.fails--
		f.mu.Unlock()
		return nil, &net.OpError{Op: "accept", Net: "tcp", Err: syscall.EMFILE}
	}
	f.mu.Unlock()
	return f.Listener.Accept()
}

func TestAcceptErrorsBackOffNotReturn(t *testing.T) {
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var rejected int
	l := connlimit.New(&failing{Listener: inner, fails: 5}, connlimit.Config{OnReject: func(string) { rejected++ }})
	defer l.Close()
	go func() { c, _ := net.Dial("tcp", inner.Addr().String()); time.Sleep(3 * time.Second); c.Close() }()
	c, err := l.Accept()
	if err != nil {
		t.Fatalf("Accept returned %v; it must retry", err)
	}
	c.Close()
	if rejected != 5 {
		t.Fatalf("%d resource rejections counted, want 5", rejected)
	}
	l.Close()
	if _, err := l.Accept(); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Accept on a closed listener: %v", err)
	}
}
