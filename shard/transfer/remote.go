package transfer

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/microfi/tenantgate/migrations"
	"github.com/microfi/tenantgate/shard/move"
	"github.com/microfi/tenantgate/shard/storage"
)

// ErrVerifyRemote means a restore or import into a remote tenant committed
// but the server does not hold what was sent; the tenant's writes stay
// fenced until a rerun succeeds.
var ErrVerifyRemote = errors.New("remote tenant database does not match what was written; its writes stay fenced, run the command again")

// A remote tenant database (a libSQL server) has no file to VACUUM INTO or
// to restore pages into, so backup, restore and import work on a local
// copy and move rows over plain SQL (shard/move):
//
//   - backup reads the database in one read transaction into a local file,
//     then checks it as a local backup is checked;
//   - restore and import fence the tenant's writes (triggers in the
//     database itself, honoured by every proxy: writers get 503 Tenant
//     unavailable with Retry-After, readers go on), take a snapshot, make
//     the change on a local copy with the local code (every check a local
//     tenant gets), apply the difference in one transaction that keeps the
//     fence, verify every table's count and checksum against the copy, and
//     lift the fence. A failure before the commit lifts the fence and
//     leaves the server as it was.

// backupRemote writes a verified local snapshot of the remote database.
func backupRemote(ctx context.Context, url string, tenantID int64, out string) (Snapshot, error) {
	if _, err := os.Stat(out); err == nil {
		return Snapshot{}, fmt.Errorf("back up tenant %d: %s: %w", tenantID, out, ErrExists)
	}
	if err := checkRemoteStamp(ctx, url, tenantID); err != nil {
		return Snapshot{}, fmt.Errorf("back up tenant %d: %w", tenantID, err)
	}
	if err := os.MkdirAll(filepath.Dir(out), 0o750); err != nil {
		return Snapshot{}, fmt.Errorf("back up tenant %d: %w", tenantID, err)
	}
	tmp := storage.TempName(out)
	defer storage.RemoveFiles(tmp)
	if err := move.Snapshot(ctx, url, tmp); err != nil {
		return Snapshot{}, fmt.Errorf("back up tenant %d: %w", tenantID, err)
	}
	// One self-contained file, as VACUUM INTO writes for a local tenant.
	if err := checkpoint(ctx, tmp); err != nil {
		return Snapshot{}, fmt.Errorf("back up tenant %d: %w", tenantID, err)
	}
	snap, err := storage.Inspect(ctx, tmp, tenantID)
	if err != nil {
		return Snapshot{}, fmt.Errorf("back up tenant %d: check snapshot: %w", tenantID, err)
	}
	if err := storage.SyncPath(tmp); err != nil {
		return Snapshot{}, err
	}
	if _, err := os.Stat(out); err == nil {
		return Snapshot{}, fmt.Errorf("back up tenant %d: %s: %w", tenantID, out, ErrExists)
	}
	if err := os.Rename(tmp, out); err != nil {
		return Snapshot{}, err
	}
	if err := storage.SyncPath(filepath.Dir(out)); err != nil {
		return Snapshot{}, fmt.Errorf("sync %s: %w", filepath.Dir(out), err)
	}
	snap.Path = out
	return snap, nil
}

// restoreRemote replaces the remote database's content with the migrated
// snapshot copy at scratch.
func restoreRemote(ctx context.Context, url string, tenantID int64, scratch string) (Snapshot, error) {
	err := editRemote(ctx, url, tenantID, func(ctx context.Context, base, next string) error {
		return vacuumInto(ctx, scratch, next)
	})
	if err != nil {
		return Snapshot{}, fmt.Errorf("restore tenant %d: %w", tenantID, err)
	}
	return remoteSnapshot(ctx, url, tenantID)
}

// importRemote runs the import on a copy of the remote database and sends
// the rows it added.
func (s *Source) importRemote(ctx context.Context, tenantID int64, url string) (Report, error) {
	var rep Report
	err := editRemote(ctx, url, tenantID, func(ctx context.Context, base, next string) error {
		if err := vacuumInto(ctx, base, next); err != nil {
			return err
		}
		var err error
		rep, err = s.Import(ctx, tenantID, "file:"+next)
		return err
	})
	if err != nil {
		rep.TenantID = tenantID
		if rep.Warnings == nil {
			rep.Warnings = s.Warnings
		}
		return rep, err
	}
	return rep, nil
}

// checkRemote runs Check on a snapshot of the remote database.
func (s *Source) checkRemote(ctx context.Context, tenantID int64, url string) error {
	dir, err := os.MkdirTemp("", "tenantgate-check-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	snap := filepath.Join(dir, "tenant.db")
	if err := move.Snapshot(ctx, url, snap); err != nil {
		return fmt.Errorf("import tenant %d: %w", tenantID, err)
	}
	return s.Check(ctx, tenantID, "file:"+snap)
}

// editRemote fences the remote tenant, snapshots it to base, lets edit
// write the wanted content to next (a new file), and applies the
// difference under the fence, then verifies and unfences.
func editRemote(ctx context.Context, url string, tenantID int64, edit func(ctx context.Context, base, next string) error) (err error) {
	db, err := storage.Open(ctx, url)
	if err != nil {
		return err
	}
	defer db.Close()
	if err := storage.CheckStamp(ctx, db, tenantID); err != nil {
		return fmt.Errorf("%s: %w", storage.Redact(url), err)
	}
	dir, err := os.MkdirTemp("", "tenantgate-remote-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	base, next := filepath.Join(dir, "base.db"), filepath.Join(dir, "next.db")

	if err := move.Fence(ctx, db); err != nil {
		return fmt.Errorf("fence writes: %w", err)
	}
	committed := false
	defer func() {
		if err != nil && !committed {
			if uerr := move.Unfence(context.WithoutCancel(ctx), db); uerr != nil {
				err = fmt.Errorf("%w (and lifting the write fence failed: %v; run the command again)", err, uerr)
			}
		}
	}()
	if err := move.Snapshot(ctx, url, base); err != nil {
		return err
	}
	if err := edit(ctx, base, next); err != nil {
		return err
	}
	if err := unfenceFile(ctx, next); err != nil {
		return err
	}
	d, err := move.Diff(ctx, next, base)
	if err != nil {
		return err
	}
	if err := move.ApplyFenced(ctx, db, d); err != nil {
		return err
	}
	committed = true
	if _, err := move.Verify(ctx, next, db, tenantID); err != nil {
		return fmt.Errorf("%w: %w", ErrVerifyRemote, err)
	}
	if err := move.Unfence(ctx, db); err != nil {
		return fmt.Errorf("lift the write fence (run the command again): %w", err)
	}
	return nil
}

// unfenceFile drops fence triggers a local copy may carry (a backup taken
// of a fenced database), so the copy's own writes pass.
func unfenceFile(ctx context.Context, path string) error {
	db, err := storage.Open(ctx, "file:"+path)
	if err != nil {
		return err
	}
	defer db.Close()
	if err := move.Unfence(ctx, db); err != nil {
		return err
	}
	_, err = db.ExecContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`)
	return err
}

// remoteSnapshot reports a remote database's version; Bytes is its size
// as the server counts pages.
func remoteSnapshot(ctx context.Context, url string, tenantID int64) (Snapshot, error) {
	db, err := storage.Open(ctx, url)
	if err != nil {
		return Snapshot{}, err
	}
	defer db.Close()
	if err := storage.CheckStamp(ctx, db, tenantID); err != nil {
		return Snapshot{}, err
	}
	v, err := migrations.Version(ctx, db)
	if err != nil {
		return Snapshot{}, err
	}
	return Snapshot{Path: storage.Redact(url), TenantID: tenantID, Version: v}, nil
}

func checkRemoteStamp(ctx context.Context, url string, tenantID int64) error {
	db, err := storage.Open(ctx, url)
	if err != nil {
		return err
	}
	defer db.Close()
	if err := storage.CheckStamp(ctx, db, tenantID); err != nil {
		return fmt.Errorf("%s: %w", storage.Redact(url), err)
	}
	return nil
}

// checkpoint folds a local file's WAL into it.
func checkpoint(ctx context.Context, path string) error {
	db, err := storage.Open(ctx, "file:"+path)
	if err != nil {
		return err
	}
	defer db.Close()
	_, err = db.ExecContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`)
	return err
}
