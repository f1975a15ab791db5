package tenants

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/microfi/tenantgate/catalog"
	"github.com/microfi/tenantgate/shard"
	"github.com/microfi/tenantgate/shard/storage"
)

// Report is what Reconcile repaired.
type Report struct {
	Finished    []int64  // provisioning rows whose database was complete: made visible
	Removed     []int64  // provisioning rows without a complete database: deleted
	Quarantined []string // database files moved to <data-dir>/quarantine/<date>/
	TempRemoved []string // leftover temp files of crashed creates
	// Missing lists visible tenants whose local database file is absent
	// (left by an older binary's crash, or a data dir mounted wrong). They
	// are reported, never deleted: `tenantgate tenants delete --no-backup`
	// removes one on purpose.
	Missing []int64
}

// Empty reports whether there was nothing to repair.
func (r Report) Empty() bool {
	return len(r.Finished)+len(r.Removed)+len(r.Quarantined)+len(r.TempRemoved)+len(r.Missing) == 0
}

// Reconcile repairs what crashed creates and deletes left behind, so that
// every tenant is whole or absent. `serve` runs it before serving and the
// CLI before creating; it is safe beside live processes, whose creates hold
// their owner locks and are left alone.
//
//   - A provisioning row of a dead create is finished when its database is in
//     place and stamped with its id, and deleted otherwise (with its temp
//     file). A remote database is left to its libSQL server.
//   - A database file in the data dir with no catalog row, or stamped for
//     another tenant, is moved into quarantine, never deleted: it may be
//     the only copy of someone's data.
//   - Temp files of creates that are not running are deleted: they were
//     never in place, so nothing but that create could have used them.
func (s *Service) Reconcile(ctx context.Context) (Report, error) {
	var rep Report
	// The directory is listed before the catalog is read: a create inserts
	// its row before it writes any file, so every file seen here that a
	// live create owns already has its row.
	files, err := s.listTenantFiles()
	if err != nil {
		return rep, err
	}
	pending, err := s.cat.Provisioning(ctx)
	if err != nil {
		return rep, err
	}
	live := map[int64]bool{}
	var errs []error
	for _, p := range pending {
		if s.ownerAlive(p.Owner, p.CreatedAt) {
			live[p.ID] = true
			continue
		}
		if err := s.repairPending(ctx, p, &rep); err != nil {
			errs = append(errs, err)
		}
	}
	ids, err := s.cat.IDs(ctx)
	if err != nil {
		return rep, errors.Join(append(errs, err)...)
	}
	for _, f := range files {
		switch {
		case f.temp && !live[f.id]:
			if err := storage.RemoveFiles(f.path); err != nil {
				errs = append(errs, err)
				continue
			}
			rep.TempRemoved = append(rep.TempRemoved, f.path)
		case !f.temp:
			if _, ok := ids[f.id]; ok {
				continue
			}
			if _, err := os.Stat(f.path); err != nil {
				continue // finished or removed above
			}
			if err := s.quarantine(f.path, &rep); err != nil {
				errs = append(errs, err)
			}
		}
	}
	for id, dbURL := range ids {
		if live[id] {
			continue
		}
		path, err := storage.LocalPath(s.shards.URL(id, dbURL))
		if storage.IsRemote(s.shards.URL(id, dbURL)) || err != nil {
			continue
		}
		if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
			rep.Missing = append(rep.Missing, id)
		}
	}
	slices.Sort(rep.Missing)
	s.removeStaleLocks()
	if !rep.Empty() {
		s.log.Warn("reconciled tenant storage", "finished", rep.Finished, "removed", rep.Removed,
			"quarantined", rep.Quarantined, "temp_removed", len(rep.TempRemoved), "missing_database", rep.Missing)
	}
	return rep, errors.Join(errs...)
}

// repairPending finishes or removes the provisioning row of a dead create.
func (s *Service) repairPending(ctx context.Context, p catalog.Pending, rep *Report) error {
	url := s.shards.URL(p.ID, p.DBURL)
	if storage.IsRemote(url) {
		// Seeding may not have finished, and the remote database is the
		// libSQL server's to keep: drop the row only.
		return s.removePending(ctx, p.ID, rep)
	}
	path, err := storage.LocalPath(url)
	if err != nil {
		return s.removePending(ctx, p.ID, rep)
	}
	// A temp file was never linked into place: the create did not finish.
	if err := storage.RemoveFiles(shard.TempPath(path)); err != nil {
		return err
	}
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		return s.removePending(ctx, p.ID, rep)
	}
	// The file is linked into place only once built, stamped and synced:
	// if it carries this tenant's stamp, the create got that far.
	stamped, err := s.stampedFor(ctx, path, p.ID)
	if err != nil {
		return err
	}
	if !stamped {
		if err := s.quarantine(path, rep); err != nil {
			return err
		}
		return s.removePending(ctx, p.ID, rep)
	}
	if _, err := s.cat.FinishProvisioning(ctx, p.ID); err != nil {
		return fmt.Errorf("finish tenant %d: %w", p.ID, err)
	}
	rep.Finished = append(rep.Finished, p.ID)
	return nil
}

func (s *Service) removePending(ctx context.Context, id int64, rep *Report) error {
	ok, err := s.cat.DeleteProvisioning(ctx, id)
	if err != nil {
		return err
	}
	if ok {
		rep.Removed = append(rep.Removed, id)
	}
	return nil
}

// stampedFor reports whether the database at path is stamped for id. An
// unstamped or foreign file is false; failing to read it is an error.
func (s *Service) stampedFor(ctx context.Context, path string, id int64) (bool, error) {
	db, err := storage.OpenMode(ctx, "file:"+path, storage.ReadOnly)
	if err != nil {
		return false, err
	}
	defer db.Close()
	err = storage.CheckStamp(ctx, db, id)
	if errors.Is(err, shard.ErrStampMismatch) {
		return false, nil
	}
	return err == nil, err
}

// quarantine moves a database file and its companions into
// <data-dir>/quarantine/<date>/.
func (s *Service) quarantine(path string, rep *Report) error {
	dir := filepath.Join(s.dataDir, "quarantine", s.now().UTC().Format("2006-01-02"))
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return err
	}
	dst := filepath.Join(dir, filepath.Base(path))
	for i := 1; ; i++ {
		if _, err := os.Lstat(dst); errors.Is(err, fs.ErrNotExist) {
			break
		}
		dst = filepath.Join(dir, fmt.Sprintf("%s.%d", filepath.Base(path), i))
	}
	for _, suffix := range []string{"-wal", "-shm", "-journal", ""} {
		if err := os.Rename(path+suffix, dst+suffix); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("quarantine %s: %w", path, err)
		}
	}
	s.log.Warn("quarantined tenant database without a catalog entry", "file", path, "moved_to", dst)
	rep.Quarantined = append(rep.Quarantined, dst)
	return nil
}

// removeStaleLocks deletes owner lock files nobody holds (left by crashes).
func (s *Service) removeStaleLocks() {
	entries, _ := os.ReadDir(s.lockDir())
	for _, e := range entries {
		p := filepath.Join(s.lockDir(), e.Name())
		if strings.HasSuffix(e.Name(), ".lock") && !locked(p) {
			os.Remove(p)
		}
	}
}

// tenantFile is a database file in the tenants directory.
type tenantFile struct {
	id   int64
	path string
	temp bool
}

// listTenantFiles lists <id>.db and .<id>.db.tmp files (companions
// -wal/-shm/-journal travel with their database).
func (s *Service) listTenantFiles() ([]tenantFile, error) {
	dir := s.tenantsDir()
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list tenant databases: %w", err)
	}
	var out []tenantFile
	for _, e := range entries {
		name := e.Name()
		if !e.Type().IsRegular() {
			continue
		}
		temp := false
		if t, ok := strings.CutPrefix(name, "."); ok {
			if name, ok = strings.CutSuffix(t, shard.TempSuffix); !ok {
				continue
			}
			temp = true
		}
		base, ok := strings.CutSuffix(name, ".db")
		if !ok {
			continue
		}
		id, err := strconv.ParseInt(base, 10, 64)
		if err != nil || id <= 0 || strconv.FormatInt(id, 10) != base {
			continue
		}
		out = append(out, tenantFile{id: id, path: filepath.Join(dir, e.Name()), temp: temp})
	}
	return out, nil
}
