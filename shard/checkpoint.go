package shard

import (
	"context"
	"database/sql"
	"os"
	"strconv"
	"time"

	"github.com/microfi/tenantgate/shard/storage"
)

// DefaultWALCheckpointBytes is the WAL size past which the checkpointer
// folds a tenant's WAL into its database and truncates it.
const DefaultWALCheckpointBytes = 64 << 20

// checkpointEvery is how often the checkpointer looks at the open
// databases' WAL files (one stat each).
const checkpointEvery = time.Second

// checkpointBusy bounds how long a TRUNCATE checkpoint waits for readers
// and writers: the checkpointer yields to traffic and tries again later.
const checkpointBusy = 100 * time.Millisecond

// checkpointLoop runs, off the request path, until Close: it checkpoints
// every open local database whose WAL has grown past WALCheckpointBytes.
// SQLite's own automatic checkpoints are PASSIVE and never shrink the
// file; a reader holding an old snapshot stops them from catching up (the
// SQL engine cuts such readers off, see hrana.Config.MaxSnapshotAge), so
// the WAL is bounded here: PASSIVE, then TRUNCATE when nothing is left.
func (m *Manager) checkpointLoop() {
	defer m.wg.Done()
	t := time.NewTicker(checkpointEvery)
	defer t.Stop()
	for {
		select {
		case <-m.stop:
			return
		case <-t.C:
			for _, c := range m.walOver(m.cfg.WALCheckpointBytes) {
				m.checkpoint(c.id, c.db)
			}
		}
	}
}

type walTarget struct {
	id int64
	db *sql.DB
}

// walOver lists the open local databases whose WAL is bigger than limit.
func (m *Manager) walOver(limit int64) []walTarget {
	m.mu.Lock()
	var all []walTarget
	paths := map[int64]string{}
	for id, e := range m.entries {
		if e.path != "" && e.db != nil && !e.evicted {
			all = append(all, walTarget{id, e.db})
			paths[id] = e.path
		}
	}
	m.mu.Unlock()
	out := all[:0]
	for _, t := range all {
		if fi, err := os.Stat(paths[t.id] + "-wal"); err == nil && fi.Size() > limit {
			out = append(out, t)
		}
	}
	return out
}

// checkpoint folds the WAL into the database and truncates it. It runs on
// one of the tenant's pooled connections with a short busy timeout; if the
// database is closed meanwhile, the error is only counted.
func (m *Manager) checkpoint(id int64, db *sql.DB) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	result := "truncated"
	err := func() error {
		conn, err := db.Conn(ctx)
		if err != nil {
			return err
		}
		defer conn.Close()
		if _, err := conn.ExecContext(ctx, `PRAGMA busy_timeout=`+strconv.FormatInt(checkpointBusy.Milliseconds(), 10)); err != nil {
			return err
		}
		defer conn.ExecContext(context.Background(), `PRAGMA busy_timeout=`+strconv.Itoa(storage.BusyTimeoutMillis))
		var busy, log, done int64
		if err := conn.QueryRowContext(ctx, `PRAGMA wal_checkpoint(PASSIVE)`).Scan(&busy, &log, &done); err != nil {
			return err
		}
		if log != done {
			result = "partial" // a reader still needs frames: next round
			return nil
		}
		if err := conn.QueryRowContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`).Scan(&busy, &log, &done); err != nil {
			return err
		}
		if busy != 0 {
			result = "partial"
		}
		return nil
	}()
	if err != nil {
		result = "failed"
		m.log.Debug("wal checkpoint", "tenant_id", id, "err", err)
	}
	m.m.checkpoints.WithLabelValues(result).Inc()
}
