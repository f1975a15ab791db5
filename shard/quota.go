package shard

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"

	"github.com/microfi/tenantgate/shard/storage"
)

// Limits are a tenant's resource bounds, applied by the Manager to every
// connection it hands out for the tenant (bank pool and raw connections
// alike). They come with each acquire, like db_url, so every proxy of a
// fleet follows a change the catalog announces; a database opened with
// other limits is retired and reopened.
type Limits struct {
	// MaxBytes is the storage quota (PRAGMA max_page_count); 0 = none.
	// A write that would grow the database past it fails with SQLITE_FULL
	// (ErrQuotaExceeded after ClassifyFull); reads go on.
	MaxBytes int64
}

// Errors a full database turns into (Handle.ClassifyFull).
var (
	// ErrQuotaExceeded: the write would grow the database past its quota.
	ErrQuotaExceeded = errors.New("storage quota exceeded")
	// ErrDiskFull: the file system itself has no room left.
	ErrDiskFull = errors.New("disk full")
)

// AutoVacuumConvertMax bounds the databases converted to
// auto_vacuum=INCREMENTAL when they are opened: the conversion is a VACUUM,
// which rewrites the file, so a bigger one is left for an operator (and
// counted in tenantgate_tenant_db_autovacuum_total{result="pending"}).
const AutoVacuumConvertMax = 64 << 20

// minFreeDisk is the free space below which SQLITE_FULL is blamed on the
// disk rather than on the quota.
const minFreeDisk = 16 << 20

// AcquireWith is Acquire with the tenant's limits: a database open with
// other limits is retired (streams holding it finish on it) and reopened.
func (m *Manager) AcquireWith(ctx context.Context, id int64, dbURL string, lim Limits) (*Handle, error) {
	return m.acquire(ctx, id, dbURL, &lim)
}

// MaxPages is the quota of the held database in pages (0: none).
func (h *Handle) MaxPages() int64 { return h.e.maxPages }

// ClassifyFull turns SQLITE_FULL from a write on this database into
// ErrQuotaExceeded or, when the file system is nearly out of room,
// ErrDiskFull; any other error is returned as is.
func (h *Handle) ClassifyFull(err error) error {
	if !storage.IsFull(err) {
		return err
	}
	if h.e.path != "" {
		var st syscall.Statfs_t
		if serr := syscall.Statfs(filepath.Dir(h.e.path), &st); serr == nil && int64(st.Bavail)*int64(st.Bsize) < minFreeDisk {
			return fmt.Errorf("%w: tenant %d: %w", ErrDiskFull, h.TenantID, err)
		}
	}
	if h.e.maxPages == 0 {
		return fmt.Errorf("%w: tenant %d: %w", ErrDiskFull, h.TenantID, err)
	}
	return fmt.Errorf("%w: tenant %d: %w", ErrQuotaExceeded, h.TenantID, err)
}

// convertAutoVacuum runs on the maintenance connection of a local
// database being checked in full: a small database still on
// auto_vacuum=NONE becomes INCREMENTAL (a VACUUM), so space freed by
// DELETE or DROP can be handed back with PRAGMA incremental_vacuum. This is
// the fleet migration of the databases made before the template had it.
func (m *Manager) convertAutoVacuum(ctx context.Context, maint *sql.DB, path string) error {
	conn, err := maint.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	var mode int64
	if err := conn.QueryRowContext(ctx, `PRAGMA auto_vacuum`).Scan(&mode); err != nil {
		return fmt.Errorf("read auto_vacuum: %w", err)
	}
	if mode == autoVacuumIncremental {
		return nil
	}
	if fi, err := os.Stat(path); err != nil || fi.Size() > AutoVacuumConvertMax {
		m.m.autoVacuum.WithLabelValues("pending").Inc()
		return nil
	}
	// The PRAGMA and the VACUUM must run on one connection.
	if _, err := conn.ExecContext(ctx, `PRAGMA auto_vacuum=INCREMENTAL`); err != nil {
		return fmt.Errorf("set auto_vacuum: %w", err)
	}
	if _, err := conn.ExecContext(ctx, `VACUUM`); err != nil {
		return fmt.Errorf("convert to auto_vacuum=INCREMENTAL: %w", err)
	}
	m.m.autoVacuum.WithLabelValues("converted").Inc()
	return nil
}

// autoVacuumIncremental is PRAGMA auto_vacuum's value for INCREMENTAL.
const autoVacuumIncremental = 2

// quotaPages is lim.MaxBytes in pages of the database at path (0: no
// quota). The page size comes from the file header (offset 16, two bytes
// big-endian, 1 meaning 65536): it is fixed for a WAL database, and
// reading it needs no connection.
func quotaPages(path string, lim Limits) (int64, error) {
	if lim.MaxBytes <= 0 {
		return 0, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	var b [2]byte
	if _, err := f.ReadAt(b[:], 16); err != nil {
		return 0, fmt.Errorf("read page size: %w", err)
	}
	size := int64(b[0])<<8 | int64(b[1])
	if size == 1 {
		size = 65536
	}
	if size < 512 || size&(size-1) != 0 {
		return 0, fmt.Errorf("read page size: %d is not a page size", size)
	}
	return max(1, lim.MaxBytes/size), nil
}
