package transfer_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/microfi/tenantgate/migrations"
	"github.com/microfi/tenantgate/shard/storage"
	"github.com/microfi/tenantgate/shard/transfer"
	"github.com/microfi/tenantgate/shard/transfer/transfertest"
)

// TestBackupRestoreUnderLoad takes a backup while a writer commits rows as
// fast as it can, restores it while the "server" still holds the database
// open, and checks that the result is intact and has every row committed
// before the backup began.
func TestBackupRestoreUnderLoad(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	path := filepath.Join(dir, "tenants", "5.db")
	os.MkdirAll(filepath.Dir(path), 0o755)
	transfertest.ProvisionTenant(t, path, 5)

	// The serving process: its own pool on the file, open throughout.
	live, err := storage.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer live.Close()
	if _, err := live.Exec(`INSERT INTO users (id, tenant_id, email, name, password_hash, role) VALUES (1, 5, 'a@x', 'A', 'h', 'admin');
		INSERT INTO accounts (id, tenant_id, user_id, type, currency) VALUES (1, 5, 1, 'savings', 'GHS')`); err != nil {
		t.Fatal(err)
	}

	var committed atomic.Int64 // highest transaction id known committed
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var writeErr error
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := int64(1); ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			if _, err := live.Exec(`INSERT INTO transactions (id, tenant_id, account_id, type, amount, currency) VALUES (?, 5, 1, 'deposit', ?, 'GHS')`, i, i); err != nil {
				writeErr = err
				return
			}
			committed.Store(i)
		}
	}()
	// waitFor lets the writer commit n more rows (or gives up after 10 s,
	// when the writer has died; its error is reported below).
	waitFor := func(n int64) {
		target, deadline := committed.Load()+n, time.Now().Add(10*time.Second)
		for committed.Load() < target && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond)
		}
	}
	waitFor(200)
	before := committed.Load()
	out := filepath.Join(dir, "backups", "5.db")
	snap, err := transfer.Backup(ctx, path, 5, out)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(200)
	if snap.TenantID != 5 || snap.Version != migrations.Tenant.Latest() || snap.Bytes == 0 {
		t.Fatalf("snapshot %+v", snap)
	}
	inBackup := int64(transfertest.Count(t, out, `SELECT count(*) FROM transactions`))
	if inBackup < before {
		t.Fatalf("backup has %d transactions, %d were committed before it began", inBackup, before)
	}

	// Restore while the writer keeps going.
	backupHash := transfertest.FileHash(t, out)
	atRestore := committed.Load()
	restored, err := transfer.Restore(ctx, out, 5, path, migrations.Tenant)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(50)
	close(stop)
	wg.Wait()
	if writeErr != nil {
		t.Fatalf("writer: %v", writeErr)
	}
	t.Logf("committed before backup %d, in backup %d, at restore %d, at end %d", before, inBackup, atRestore, committed.Load())
	if transfertest.FileHash(t, out) != backupHash {
		t.Fatal("restore changed the backup file")
	}
	if restored.Version != migrations.Tenant.Latest() {
		t.Fatalf("restored %+v", restored)
	}
	// The live pool sees the backup's rows, every early one among them, and
	// not the rows committed after the backup and before the restore.
	var missing, stale int64
	if err := live.QueryRow(`SELECT ? - count(*) FROM transactions WHERE id <= ?`, before, before).Scan(&missing); err != nil {
		t.Fatal(err)
	}
	if err := live.QueryRow(`SELECT count(*) FROM transactions WHERE id > ? AND id <= ?`, inBackup, atRestore).Scan(&stale); err != nil {
		t.Fatal(err)
	}
	if missing != 0 || stale != 0 {
		t.Fatalf("after restore: %d of the first %d rows missing, %d rows from after the backup survived", missing, before, stale)
	}
	var check string
	if err := live.QueryRow(`PRAGMA integrity_check`).Scan(&check); err != nil || check != "ok" {
		t.Fatalf("integrity_check %q %v", check, err)
	}
	// And the server keeps writing to it.
	if _, err := live.Exec(`INSERT INTO transactions (tenant_id, account_id, type, amount, currency) VALUES (5, 1, 'deposit', 1, 'GHS')`); err != nil {
		t.Fatalf("write after restore: %v", err)
	}
	if err := live.QueryRow(`PRAGMA integrity_check`).Scan(&check); err != nil || check != "ok" {
		t.Fatalf("integrity_check after write %q %v", check, err)
	}
}

func TestBackup(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	path := filepath.Join(dir, "5.db")
	transfertest.ProvisionTenant(t, path, 5)
	out := filepath.Join(dir, "out.db")
	if _, err := transfer.Backup(ctx, path, 5, out); err != nil {
		t.Fatal(err)
	}
	t.Run("ErrExists", func(t *testing.T) {
		if _, err := transfer.Backup(ctx, path, 5, out); !errors.Is(err, transfer.ErrExists) {
			t.Fatalf("err %v", err)
		}
	})
	t.Run("ErrStampMismatch", func(t *testing.T) {
		if _, err := transfer.Backup(ctx, path, 6, filepath.Join(dir, "6.db")); !errors.Is(err, transfer.ErrStampMismatch) {
			t.Fatalf("err %v", err)
		}
	})
	t.Run("RemoteUnreachable", func(t *testing.T) {
		// A remote database is read over libSQL (see TestRemoteOperatorTools
		// in cmd/tenantgate); one that does not answer writes nothing.
		r := filepath.Join(dir, "r.db")
		if _, err := transfer.Backup(ctx, "http://127.0.0.1:1/?authToken=x", 5, r); err == nil {
			t.Fatal("backup of an unreachable server succeeded")
		}
		if _, err := os.Stat(r); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("a failed remote backup left %s: %v", r, err)
		}
	})
}

func TestRestore(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	path := filepath.Join(dir, "5.db")
	transfertest.ProvisionTenant(t, path, 5)
	db, _ := storage.Open(ctx, path)
	db.Exec(`INSERT INTO users (tenant_id, email, name, password_hash, role) VALUES (5, 'a@x', 'A', 'h', 'admin')`)
	db.Close()
	snap := filepath.Join(dir, "5.snap")
	if _, err := transfer.Backup(ctx, path, 5, snap); err != nil {
		t.Fatal(err)
	}

	t.Run("ErrStampMismatch", func(t *testing.T) {
		other := filepath.Join(dir, "6.db")
		transfertest.ProvisionTenant(t, other, 6)
		h := transfertest.FileHash(t, other)
		if _, err := transfer.Restore(ctx, snap, 6, other, migrations.Tenant); !errors.Is(err, transfer.ErrStampMismatch) {
			t.Fatalf("err %v", err)
		}
		if transfertest.FileHash(t, other) != h {
			t.Fatal("refused restore changed the target")
		}
	})
	t.Run("MigratesOldSnapshot", func(t *testing.T) {
		next := migrations.Tenant.With(migrations.Migration{Version: 90, Name: "extra", SQL: `CREATE TABLE extra (x INTEGER)`})
		got, err := transfer.Restore(ctx, snap, 5, path, next)
		if err != nil {
			t.Fatal(err)
		}
		if got.Version != 90 || transfertest.Count(t, path, `SELECT count(*) FROM users`) != 1 {
			t.Fatalf("restored %+v", got)
		}
	})
	t.Run("ErrSchemaAhead", func(t *testing.T) {
		ahead := filepath.Join(dir, "ahead.snap")
		if _, err := transfer.Backup(ctx, path, 5, ahead); err != nil { // path is on version 90 now
			t.Fatal(err)
		}
		if _, err := transfer.Restore(ctx, ahead, 5, path, migrations.Tenant); !errors.Is(err, migrations.ErrSchemaAhead) {
			t.Fatalf("err %v", err)
		}
	})
	t.Run("IntoMissingFile", func(t *testing.T) {
		lost := filepath.Join(dir, "lost", "5.db")
		got, err := transfer.Restore(ctx, snap, 5, lost, migrations.Tenant)
		if err != nil {
			t.Fatal(err)
		}
		if got.TenantID != 5 || transfertest.Count(t, lost, `SELECT count(*) FROM users`) != 1 {
			t.Fatalf("restored %+v", got)
		}
		entries, _ := os.ReadDir(filepath.Dir(lost))
		for _, e := range entries {
			if e.Name() != "5.db" && e.Name() != "5.db-wal" && e.Name() != "5.db-shm" {
				t.Errorf("left behind %s", e.Name())
			}
		}
	})
	t.Run("ErrCorrupt", func(t *testing.T) {
		junk := filepath.Join(dir, "junk.snap")
		os.WriteFile(junk, []byte(fmt.Sprintf("%0100d", 0)), 0o644)
		if _, err := transfer.Restore(ctx, junk, 5, path, migrations.Tenant); err == nil {
			t.Fatal("restored junk")
		}
	})
}
