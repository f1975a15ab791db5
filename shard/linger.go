package shard

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
// descriptor of that mode (already charged, now the connection's).
func (m *Manager) chargeConnLocked(e *entry, readOnly bool) int {
	add := FDsPerConn
	if mode := connMode(readOnly); e.pending[mode] > 0 {
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
// othersOpen says whether another connection of the file is still open.
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

// releasePendingLocked returns e's pending descriptors: the file has no
// connection left.
func (m *Manager) releasePendingLocked(e *entry) {
	m.fds -= e.pending[0] + e.pending[1]
	e.pending = [2]int{}
}

// poolOpenLocked is how many of e's pooled connections are open (0 before
// the pool exists).
func poolOpenLocked(e *entry) int {
	if e.db == nil {
		return 0
	}
	return e.db.Stats().OpenConnections
}
