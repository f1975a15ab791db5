package shard_test

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/microfi/tenantgate/shard"
	"github.com/microfi/tenantgate/shard/rawsqlite"
	"github.com/microfi/tenantgate/shard/storage"
)

// TestStorageQuota: a tenant's writes stop at its quota on raw (SQL)
// connections with a clear error, reads go on, the quota cannot be raised
// from SQL, and freed space goes back to the file system with PRAGMA
// incremental_vacuum.
func TestStorageQuota(t *testing.T) {
	ctx := context.Background()
	m := newManager(t, 8)
	mustProvision(t, m, 3)
	const quota = 4 << 20
	h, err := m.AcquireWith(ctx, 3, "", shard.Limits{MaxBytes: quota})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Release()
	if h.MaxPages() != quota/4096 {
		t.Fatalf("max pages = %d, want %d", h.MaxPages(), quota/4096)
	}
	// A new database is INCREMENTAL from the template: no conversion.
	var mode int
	if err := h.DB.QueryRowContext(ctx, `PRAGMA auto_vacuum`).Scan(&mode); err != nil || mode != 2 {
		t.Fatalf("auto_vacuum = %d, %v; want 2 (INCREMENTAL)", mode, err)
	}
	// The bank pool carries the quota too, and cannot raise it.
	var pages int64
	if err := h.DB.QueryRowContext(ctx, `PRAGMA max_page_count`).Scan(&pages); err != nil || pages != quota/4096 {
		t.Fatalf("bank max_page_count = %d, %v", pages, err)
	}
	if _, err := h.DB.ExecContext(ctx, `PRAGMA max_page_count = 1000000`); err == nil || !storage.IsAuth(err) {
		t.Fatalf("bank raised its quota: %v", err)
	}

	c, err := h.Conn(ctx, false)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Release()
	if err := c.Exec(`PRAGMA max_page_count = 1000000`); err == nil || !strings.Contains(err.Error(), "not authorized") {
		t.Fatalf("SQL raised its quota: %v", err)
	}
	if err := c.Exec(`CREATE TABLE junk(b BLOB)`); err != nil {
		t.Fatal(err)
	}
	var full error
	for i := range 20 {
		if err := c.Exec(`INSERT INTO junk VALUES (randomblob(500000))`); err != nil {
			full = err
			if i < 4 {
				t.Fatalf("quota hit after only %d inserts: %v", i, err)
			}
			break
		}
	}
	var rerr *rawsqlite.Error
	if !errors.As(full, &rerr) || rerr.Primary() != rawsqlite.CodeFull || rerr.Msg != rawsqlite.QuotaMessage {
		t.Fatalf("past the quota: %v", full)
	}
	// Reads go on.
	st, _, err := c.Prepare(`SELECT count(*) FROM junk`)
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := st.Step(); !ok || err != nil {
		t.Fatalf("read past the quota: %v", err)
	}
	st.Finalize()
	// Reclaim: drop the data, then hand the pages back.
	if err := c.Exec(`DROP TABLE junk`); err != nil {
		t.Fatal(err)
	}
	if err := c.Exec(`PRAGMA incremental_vacuum`); err != nil {
		t.Fatalf("incremental_vacuum: %v", err)
	}
	if err := c.Exec(`CREATE TABLE junk2(b BLOB); INSERT INTO junk2 VALUES (randomblob(500000))`); err != nil {
		t.Fatalf("write after reclaim: %v", err)
	}
	var free int64
	if err := h.DB.QueryRowContext(ctx, `PRAGMA freelist_count`).Scan(&free); err != nil || free > 10 {
		t.Fatalf("freelist_count after incremental_vacuum = %d, %v", free, err)
	}
}

// TestQuotaChangeReopens: new limits retire the open database, so every
// connection gets the new quota.
func TestQuotaChangeReopens(t *testing.T) {
	ctx := context.Background()
	m := newManager(t, 8)
	mustProvision(t, m, 4)
	for _, q := range []int64{8 << 20, 16 << 20} {
		h, err := m.AcquireWith(ctx, 4, "", shard.Limits{MaxBytes: q})
		if err != nil {
			t.Fatal(err)
		}
		var pages int64
		err = h.DB.QueryRowContext(ctx, `PRAGMA max_page_count`).Scan(&pages)
		h.Release()
		if err != nil || pages != q/4096 {
			t.Fatalf("quota %d: max_page_count = %d, %v", q, pages, err)
		}
	}
	// A plain Acquire (tools) takes the database as it is open.
	h, err := m.Acquire(ctx, 4, "")
	if err != nil {
		t.Fatal(err)
	}
	defer h.Release()
	if h.MaxPages() != (16<<20)/4096 {
		t.Fatalf("plain acquire changed the quota: %d pages", h.MaxPages())
	}
}

// TestAutoVacuumConversion: a database made before the template had
// auto_vacuum=INCREMENTAL is converted when it is opened.
func TestAutoVacuumConversion(t *testing.T) {
	ctx := context.Background()
	m := newManager(t, 8)
	mustProvision(t, m, 5)
	db, err := storage.Open(ctx, m.Path(5))
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	if _, err := db.ExecContext(ctx, `PRAGMA auto_vacuum=NONE; VACUUM`); err != nil {
		t.Fatal(err)
	}
	var mode int
	db.QueryRowContext(ctx, `PRAGMA auto_vacuum`).Scan(&mode)
	db.Close()
	if mode != 0 {
		t.Fatalf("setup: auto_vacuum = %d", mode)
	}
	h, err := m.Acquire(ctx, 5, "")
	if err != nil {
		t.Fatal(err)
	}
	defer h.Release()
	// Read on a connection of its own (one opened before the VACUUM may
	// report its cached setting until its next transaction).
	fresh, err := storage.Open(ctx, m.Path(5))
	if err != nil {
		t.Fatal(err)
	}
	defer fresh.Close()
	if err := fresh.QueryRowContext(ctx, `PRAGMA auto_vacuum`).Scan(&mode); err != nil || mode != 2 {
		t.Fatalf("auto_vacuum after open = %d, %v", mode, err)
	}
	if got, err := storage.ReadStamp(ctx, h.DB); err != nil || got != 5 {
		t.Fatalf("stamp after conversion = %d, %v", got, err)
	}
	if _, err := os.Stat(m.Path(5)); err != nil {
		t.Fatal(err)
	}
}
