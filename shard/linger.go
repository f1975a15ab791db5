package shard

import "github.com/microfi/tenantgate/shard/storage"

// Descriptors SQLite keeps after a connection closes. In WAL mode every
// connection holds a shared lock on the database file for as long as it is
// open, and the unix VFS cannot close a descriptor of a file on which the
// process holds locks (closing any descriptor drops them all): a
// connection closed while another one of the same file is open leaves its
// database descriptor pending until the file's last connection closes. The
// next connection opened on the file in the same mode (read-write or
// read-only) reuses one. Raw connections come and go under open pools, so
// without this ledger a shard serving thousands of tenants held thousands
// of descriptors the budget did not know of, and ran out (EMFILE: accept
// failed, and SQLite opened files read-only).
//
// SQLite decides when the close really happens, so connections the closer
// closes later are settled then (rawClosed, leftoversClosed): charged to
// the entry now serving the file if they stayed pending. The charge may run
// behind a close by the closer's queue, never for longer.

// connMode indexes entry.pending: SQLite reuses a pending descriptor only
// for a connection opened with the same read-write or read-only flag.
func connMode(readOnly bool) int {
	if readOnly {
		return 1
	}
	return 0
}

// chargeConnLocked charges a connection about to open on e and returns
// what it added: FDsPerConn, or one less when SQLite will reuse a pending
// descriptor of that mode (already charged, now the connection's). A
// connection the closer has not closed yet is counted pending but holds
// its descriptor still: SQLite cannot reuse it, the new one opens its own.
func (m *Manager) chargeConnLocked(e *entry, readOnly bool) int {
	add := FDsPerConn
	if mode := connMode(readOnly); e.pending[mode] > e.closing[mode] {
		e.pending[mode]--
		add--
	}
	m.fds += add
	return add
}

// refundConnLocked returns a closed connection's FDsPerConn: all of it if
// the file has no other connection left (SQLite then closes every pending
// descriptor too, so those return as well), else all but the database
// descriptor, which stays pending and charged to e until then.
// othersOpen says whether another connection of the file is still open
// (fileOpenLocked).
func (m *Manager) refundConnLocked(e *entry, readOnly, othersOpen bool) {
	m.fds -= FDsPerConn
	switch {
	case !e.charged:
		// The entry's own charge is returned already; it is closing.
	case othersOpen:
		e.pending[connMode(readOnly)]++
		m.fds++
	default:
		m.releasePendingLocked(e)
	}
	m.signalLocked()
}

// fileOpenLocked reports whether e has a connection that may hold its
// file's locks: pooled, raw, or handed to the closer and not closed yet.
func fileOpenLocked(e *entry) bool {
	return e.rawOpen > 0 || poolOpenLocked(e) > 0 || e.closing[0]+e.closing[1] > 0
}

// releasePendingLocked returns e's pending descriptors: the file has no
// connection left.
func (m *Manager) releasePendingLocked(e *entry) {
	m.fds -= e.pending[0] + e.pending[1]
	e.pending = [2]int{}
}

// rawClosed settles a raw connection of e the closer has closed: it was
// counted pending when it was handed over (it still held the file's locks),
// and if it was the file's last connection SQLite has now closed every
// pending descriptor.
func (m *Manager) rawClosed(e *entry, readOnly bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	e.closing[connMode(readOnly)]--
	if e.charged && !fileOpenLocked(e) {
		m.releasePendingLocked(e)
		m.signalLocked()
	}
	m.gaugesLocked()
}

// leftovers are the database descriptors of a closing entry's connections
// (pooled, the maintenance one, raw, pending), by connMode: what SQLite
// keeps if another connection of the file is open when they close.
func leftoversLocked(e *entry) [2]int {
	left := e.pending
	left[0] += poolOpenLocked(e)
	for _, c := range e.raw {
		left[connMode(c.readOnly)]++
	}
	return left
}

// leftoversClosed runs once the closer has closed a retired entry's
// connections. Its charge was returned when it was retired; but if the
// tenant's file was opened again meanwhile (its limits changed while it
// was held, or it was wanted again before the closer got to it), SQLite
// keeps their database descriptors pending under the new entry's locks
// until that one's last connection closes: they are charged to it.
func (m *Manager) leftoversClosed(e *entry, left [2]int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s := m.entries[e.id]
	if s == nil || s == e || e.path == "" || s.path != e.path || !s.charged {
		return
	}
	if !s.connecting || (s.db != nil && !fileOpenLocked(s)) {
		// No connection of s held the file when they closed (it had not
		// opened one yet, or they are all closed): SQLite closed them.
		// Charging them anyway would pile up, entry after entry.
		return
	}
	s.pending[0] += left[0]
	s.pending[1] += left[1]
	m.fds += left[0] + left[1]
	m.gaugesLocked()
}

// poolOpenLocked is how many of e's pooled connections are open (0 before
// the pool exists).
func poolOpenLocked(e *entry) int {
	if e.db == nil {
		return 0
	}
	return e.db.Stats().OpenConnections
}

// ClosedOutside tells the manager that a connection to tenant id's local
// database (url) opened outside it, such as the ledger audit's or a
// backup's, has closed. If the manager's connections held the file
// meanwhile, SQLite keeps that connection's database descriptor pending
// until their last one closes (or one of the same mode reuses it): it is
// charged to the tenant's entry like the manager's own. Without this, the
// continuous audit left one uncharged descriptor behind on every open
// database it visited.
func (m *Manager) ClosedOutside(id int64, url string, readOnly bool) {
	if storage.IsRemote(url) {
		return
	}
	path, err := storage.LocalPath(url)
	if err != nil {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	e := m.entries[id]
	if e == nil || e.path != path || !e.charged || !e.connecting || (e.db != nil && !fileOpenLocked(e)) {
		return // nothing of the manager held the file: SQLite closed it
	}
	e.pending[connMode(readOnly)]++
	m.fds++
	m.gaugesLocked()
}
