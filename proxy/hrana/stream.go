package hrana

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"sync"
	"time"

	"github.com/microfi/tenantgate/shard"
	"github.com/microfi/tenantgate/shard/remote"
)

// A stream is one held connection with its own transaction state and
// stored SQL texts. Successive requests name it with a baton:
//
//	base64url(stream id [8] ‖ sequence [8] ‖ HMAC-SHA256(key, id ‖ seq ‖ tenant ‖ principal)[:16])
//
// The MAC makes batons unguessable and binds them to the tenant and the
// token subject that opened the stream; the sequence makes each one
// single-use (a replayed or stale baton fails the sequence check).
type stream struct {
	mu sync.Mutex // held while a request runs on the stream

	id        uint64
	seq       uint64 // the sequence number the next baton must carry
	tenantID  int64
	principal string
	db        *shard.Handle  // pins the tenant database while the stream lives
	conn      *shard.RawConn // nil once released
	sqls      map[int32]string
	lastUsed  time.Time
	closed    bool // closed, expired or evicted: its baton is dead
	// unlockWrites is set while the stream holds the tenant's writer slot
	// (from its first write until its transaction ends).
	unlockWrites func()
	ws           bool // a WebSocket session's stream: lives as long as the socket, no idle expiry
	// txSince is when the open transaction began (zero: none open between
	// requests); reqStart is when the current request began (snapshot.go).
	txSince, reqStart time.Time
	// reason is why the server closed the stream (nil: the client did).
	reason error

	// rs is the stream on a remote tenant's libSQL server (forward.go),
	// instead of conn; readOnly is the token's read-only claim, checked
	// here for such a stream.
	rs       *remote.Stream
	readOnly bool
}

// live reports whether the stream still holds its connection (or its
// server stream): it has not been released.
func (st *stream) live() bool { return st.conn != nil || st.rs != nil }

// Baton errors, each answered with HTTP 400.
var (
	errBatonInvalid = errors.New("Received an invalid baton")
	errBatonUsed    = errors.New("Received a baton that has already been used")
	errExpired      = errors.New("The stream has expired due to inactivity")
	errStreamClosed = errors.New("The stream was closed because its tenant database was closed (suspended, deleted, restored or shutting down)")
	errTooMany      = errors.New("too many open streams for this tenant")
	errTenantClosed = errors.New("the tenant database was closed")
)

const (
	batonRawLen   = 8 + 8 + 16
	tombstoneLife = 5 * time.Minute
)

// streams is the table of open streams.
type streams struct {
	key []byte

	mu         sync.Mutex
	nextID     uint64
	open       map[uint64]*stream
	perTenant  map[int64]int           // stream slots taken, streams still in their first request included
	freed      map[int64]chan struct{} // closed when a slot of the tenant frees (reserveWait)
	tombstones map[uint64]tombstone
}

// tombstone remembers why a stream ended, for its late batons.
type tombstone struct {
	at     time.Time
	reason error // errExpired or errStreamClosed
}

func newStreams() *streams {
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		panic(err)
	}
	var seed [8]byte
	rand.Read(seed[:])
	return &streams{
		key:        key,
		nextID:     binary.LittleEndian.Uint64(seed[:]) >> 1,
		open:       make(map[uint64]*stream),
		perTenant:  make(map[int64]int),
		freed:      make(map[int64]chan struct{}),
		tombstones: make(map[uint64]tombstone),
	}
}

func (s *streams) mac(id, seq uint64, tenantID int64, principal string) []byte {
	m := hmac.New(sha256.New, s.key)
	var buf [24]byte
	binary.BigEndian.PutUint64(buf[0:], id)
	binary.BigEndian.PutUint64(buf[8:], seq)
	binary.BigEndian.PutUint64(buf[16:], uint64(tenantID))
	m.Write(buf[:])
	m.Write([]byte(principal))
	return m.Sum(nil)[:16]
}

// baton issues the baton for the stream's current sequence number.
func (s *streams) baton(st *stream) string {
	var raw [batonRawLen]byte
	binary.BigEndian.PutUint64(raw[0:], st.id)
	binary.BigEndian.PutUint64(raw[8:], st.seq)
	copy(raw[16:], s.mac(st.id, st.seq, st.tenantID, st.principal))
	return base64.RawURLEncoding.EncodeToString(raw[:])
}

// reserve takes one of a tenant's max stream slots, or reports false.
// Taking the slot before the stream exists is what makes the cap hold
// under concurrency.
func (s *streams) reserve(tenantID int64, max int) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.perTenant[tenantID] >= max {
		return false
	}
	s.perTenant[tenantID]++
	return true
}

// reserveWait waits up to wait for one of a tenant's max stream slots
// (the brief queue in front of the cap, so a client opening a few more
// connections than its plan allows waits instead of failing), or reports
// false when none freed in time or stop closed. Waiters race for a freed
// slot; the number waiting is bounded by the requests the proxy admits.
func (s *streams) reserveWait(tenantID int64, max int, wait time.Duration, stop <-chan struct{}) bool {
	if wait <= 0 {
		return s.reserve(tenantID, max)
	}
	timer := time.NewTimer(wait)
	defer timer.Stop()
	for {
		s.mu.Lock()
		if s.perTenant[tenantID] < max {
			s.perTenant[tenantID]++
			s.mu.Unlock()
			return true
		}
		ch, ok := s.freed[tenantID]
		if !ok {
			ch = make(chan struct{})
			s.freed[tenantID] = ch
		}
		s.mu.Unlock()
		select {
		case <-ch:
		case <-timer.C:
			return false
		case <-stop:
			return false
		}
	}
}

// unreserve gives a slot back.
func (s *streams) unreserve(tenantID int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.unreserveLocked(tenantID)
}

func (s *streams) unreserveLocked(tenantID int64) {
	if s.perTenant[tenantID]--; s.perTenant[tenantID] <= 0 {
		delete(s.perTenant, tenantID)
	}
	if ch, ok := s.freed[tenantID]; ok {
		close(ch) // wake the tenant's waiters
		delete(s.freed, tenantID)
	}
}

// register gives a stream (whose slot is reserved) an id for its batons.
func (s *streams) register(st *stream) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.nextID++
	st.id = s.nextID
	s.open[st.id] = st
}

// forget removes a stream and frees its slot. A non-nil reason leaves a
// tombstone, so late batons learn why the stream is gone.
func (s *streams) forget(st *stream, reason error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.unreserveLocked(st.tenantID)
	if st.id == 0 {
		return
	}
	delete(s.open, st.id)
	if reason != nil {
		s.tombstones[st.id] = tombstone{at: time.Now(), reason: reason}
	}
}

// acquire resolves a baton to its stream, locked for this request. The
// stream must belong to the same tenant and principal.
func (s *streams) acquire(baton string, tenantID int64, principal string) (*stream, error) {
	raw, err := base64.RawURLEncoding.DecodeString(baton)
	if err != nil || len(raw) != batonRawLen {
		return nil, errBatonInvalid
	}
	id := binary.BigEndian.Uint64(raw[0:])
	seq := binary.BigEndian.Uint64(raw[8:])
	if !hmac.Equal(raw[16:], s.mac(id, seq, tenantID, principal)) {
		return nil, errBatonInvalid
	}
	s.mu.Lock()
	st, ok := s.open[id]
	tomb, ended := s.tombstones[id]
	s.mu.Unlock()
	if !ok {
		if ended {
			return nil, tomb.reason
		}
		return nil, errBatonInvalid
	}
	if st.tenantID != tenantID || st.principal != principal {
		return nil, errBatonInvalid
	}
	if !st.mu.TryLock() {
		return nil, errBatonUsed
	}
	switch {
	case st.closed:
		st.mu.Unlock()
		return nil, errBatonInvalid
	case seq != st.seq:
		st.mu.Unlock()
		return nil, errBatonUsed
	}
	return st, nil
}

// idle returns the streams unused since before cutoff, and prunes old
// tombstones.
func (s *streams) idle(cutoff time.Time) []*stream {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*stream
	for _, st := range s.open {
		if st.ws {
			continue
		}
		if st.mu.TryLock() {
			if st.lastUsed.Before(cutoff) {
				out = append(out, st) // returned locked
				continue
			}
			st.mu.Unlock()
		}
	}
	old := time.Now().Add(-tombstoneLife)
	for id, t := range s.tombstones {
		if t.at.Before(old) {
			delete(s.tombstones, id)
		}
	}
	return out
}

// ofDB returns the streams on the database whose Done channel is done.
func (s *streams) ofDB(done <-chan struct{}) []*stream {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*stream
	for _, st := range s.open {
		if st.db.Done() == done {
			out = append(out, st)
		}
	}
	return out
}

// count is the number of open streams.
func (s *streams) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.open)
}

// tenantStreams is the number of open streams of one tenant.
func (s *streams) tenantStreams(tenantID int64) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.perTenant[tenantID]
}

// all returns every open stream.
func (s *streams) all() []*stream {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]*stream, 0, len(s.open))
	for _, st := range s.open {
		out = append(out, st)
	}
	return out
}
