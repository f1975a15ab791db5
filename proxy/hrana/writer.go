package hrana

import (
	"time"
)

// codeBusy is SQLite's own code, so clients treat a refused writer like a
// lock timeout.
const codeBusy = "SQLITE_BUSY"

// enterWrite takes the tenant's writer slot (shard.Handle.LockWrites, the
// one the banking API's writers take) before a statement that writes, so
// SQL writers queue with every other writer instead of in SQLite's busy
// handler. The wait is bounded by the statement's deadline; a stream that
// holds a write transaction keeps the slot until the transaction ends.
func (r *run) enterWrite(deadline time.Time) *hranaError {
	st := r.st
	if st.unlockWrites != nil {
		return nil
	}
	wait := max(time.Until(deadline), 0)
	t0 := time.Now()
	unlock, ok := st.db.TryLockWrites(wait)
	r.meter.Pause(time.Since(t0)) // waiting for the tenant's own writer costs no CPU
	if !ok {
		r.h.metrics.errors("busy").Inc()
		return errf(codeBusy, "database is locked: another writer holds this tenant's write lock (waited %v)", wait.Round(time.Millisecond))
	}
	st.unlockWrites = unlock
	return nil
}

// leaveWrite gives the writer slot back once no transaction is open.
func (r *run) leaveWrite() {
	st := r.st
	if st.unlockWrites != nil && st.conn.Autocommit() {
		st.unlockWrites()
		st.unlockWrites = nil
	}
}
