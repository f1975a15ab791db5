package tenants

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/microfi/tenantgate/audit"
	"github.com/microfi/tenantgate/catalog"
	"github.com/microfi/tenantgate/shard/storage"
)

// Deleted is what a delete did.
type Deleted struct {
	Tenant catalog.Tenant
	Backup string // the backup file, "" when none was taken
}

// Delete removes a tenant: its catalog row (so the very next request gets
// 404), its cached entry, its open handle and its database file. With a
// non-empty backupDir a verified copy is kept there first as
// <id>-<host>-<time>.db; if the backup fails nothing is deleted.
func (s *Service) Delete(ctx context.Context, id int64, backupDir string) (Deleted, error) {
	t, err := s.cat.Get(ctx, id)
	if err != nil {
		return Deleted{}, err
	}
	backup, err := s.backup(ctx, t, backupDir)
	if err != nil {
		return Deleted{}, err
	}
	// Writes between the backup and this delete are not in the backup.
	if _, err := s.cat.Delete(ctx, id); err != nil {
		s.discard(backup)
		return Deleted{}, err
	}
	if err := s.shards.Remove(ctx, t.ID, t.DBURL); err != nil {
		// The row is gone; Reconcile quarantines the file left behind.
		return Deleted{Tenant: t, Backup: backup}, fmt.Errorf("remove database of tenant %d: %w", id, err)
	}
	s.log.Info("tenant deleted", "tenant_id", t.ID, "host", t.Host, "backup", backup)
	return Deleted{Tenant: t, Backup: backup}, nil
}

// ReapIfStillExpired deletes t only if it is still a demo whose expiry is
// at or before now, decided by one conditional DELETE: a demo made
// permanent (or extended, or suspended) after t was read survives. With a
// non-empty backupDir the database is backed up first, and the backup is
// discarded again if the demo survives. It reports whether t was reaped.
func (s *Service) ReapIfStillExpired(ctx context.Context, t catalog.Tenant, now time.Time, backupDir string) (bool, error) {
	if !t.Expired(now) {
		return false, nil
	}
	backup, err := s.backup(ctx, t, backupDir)
	if err != nil {
		if _, gerr := s.cat.Get(ctx, t.ID); errors.Is(gerr, catalog.ErrTenantNotFound) {
			return false, nil // reaped or deleted by someone else meanwhile
		}
		return false, err
	}
	if _, err := s.cat.DeleteExpiredDemo(ctx, t.ID, now); err != nil {
		s.discard(backup)
		if errors.Is(err, catalog.ErrPrecondition) {
			return false, nil
		}
		return false, err
	}
	// The platform audit trail records every reap (the reaper is its
	// actor). The demo is gone either way: a failed record is logged, and
	// the removal goes on.
	details := map[string]string{"host": t.Host, "expired_at": t.ExpiresAt.UTC().Format(time.RFC3339)}
	if backup != "" {
		details["backup"] = filepath.Base(backup)
	}
	if _, err := s.cat.Audit(ctx, audit.Entry{Role: "system", ClientAddr: "reaper", Action: "demo.reap",
		TargetType: "tenant", TargetID: catalog.FormatID(t.ID), Details: details}); err != nil {
		s.log.Error("record demo reap in the platform audit trail", "tenant_id", t.ID, "err", err)
	}
	if err := s.shards.Remove(ctx, t.ID, t.DBURL); err != nil {
		return true, fmt.Errorf("remove database of demo %d: %w", t.ID, err)
	}
	return true, nil
}

// backup writes the verified copy of t's database into dir ("" = none).
func (s *Service) backup(ctx context.Context, t catalog.Tenant, dir string) (string, error) {
	if dir == "" || storage.IsRemote(s.shards.URL(t.ID, t.DBURL)) {
		return "", nil // a remote database is backed up by its libSQL server
	}
	path := filepath.Join(dir, fmt.Sprintf("%d-%s-%s.db", t.ID, t.Host, s.now().UTC().Format("20060102T150405Z")))
	if err := s.shards.Backup(ctx, t.ID, t.DBURL, path); err != nil {
		return "", err
	}
	return path, nil
}

// discard removes a backup whose tenant was not deleted after all.
func (s *Service) discard(backup string) {
	if backup != "" {
		os.Remove(backup)
	}
}
