package move_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"

	"github.com/microfi/tenantgate/shard"
	"github.com/microfi/tenantgate/shard/bank"
	"github.com/microfi/tenantgate/shard/move"
	"github.com/microfi/tenantgate/shard/storage"
)

// A local database copied to another local file in rounds (copy, catch up,
// fence, final delta), with tenant objects that must not fire while rows
// are applied, proves equal at each step and refuses writes once fenced.
func TestCopyCatchUpFenceVerify(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	src, dst := filepath.Join(dir, "src.db"), filepath.Join(dir, "dst.db")
	const id = 7
	for _, p := range []string{src, dst} {
		if err := shard.Provision(ctx, "file:"+p, id); err != nil {
			t.Fatal(err)
		}
	}
	sdb := open(t, src)
	if _, err := bank.SeedDemo(ctx, sdb, id, "GH"); err != nil {
		t.Fatal(err)
	}
	// A tenant's own table, trigger and view: the trigger must not fire
	// again on the target when the rows it made are copied.
	mustExec(t, sdb, `CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT, at DATETIME)`,
		`CREATE TABLE notes_log (n INTEGER)`,
		`CREATE TRIGGER notes_logged AFTER INSERT ON notes BEGIN INSERT INTO notes_log VALUES (NEW.id); END`,
		`CREATE VIEW note_count AS SELECT count(*) AS n FROM notes`,
		`CREATE TABLE bag (a, b)`, // no key
		`INSERT INTO notes (body, at) VALUES ('one', '2026-01-02 03:04:05'), ('two', NULL)`,
		`INSERT INTO bag VALUES (1, x'00ff'), (2.5, 'text')`)

	base := filepath.Join(dir, "base.db")
	tsnap := filepath.Join(dir, "target.db")
	if err := move.Snapshot(ctx, "file:"+src, base); err != nil {
		t.Fatal(err)
	}
	if err := move.Snapshot(ctx, "file:"+dst, tsnap); err != nil {
		t.Fatal(err)
	}
	ddb := open(t, dst)
	d, err := move.Diff(ctx, base, tsnap)
	if err != nil {
		t.Fatal(err)
	}
	if err := move.Apply(ctx, ddb, d); err != nil {
		t.Fatal(err)
	}
	if _, err := move.Verify(ctx, base, ddb, id); err != nil {
		t.Fatal(err)
	}

	// Catch up: changes of every kind since the base.
	mustExec(t, sdb, `INSERT INTO notes (body) VALUES ('three')`, `UPDATE notes SET body = 'ONE' WHERE id = 1`,
		`DELETE FROM notes WHERE id = 2`, `DELETE FROM bag WHERE a = 1`, `INSERT INTO bag VALUES (3, NULL)`,
		`UPDATE accounts SET balance = balance + 100 WHERE id = (SELECT min(id) FROM accounts)`,
		`CREATE INDEX notes_body ON notes(body)`)
	next := filepath.Join(dir, "next.db")
	if err := move.Snapshot(ctx, "file:"+src, next); err != nil {
		t.Fatal(err)
	}
	d, err = move.Diff(ctx, next, base)
	if err != nil {
		t.Fatal(err)
	}
	if d.Rows() < 6 {
		t.Fatalf("delta has %d rows, want the 6+ changes", d.Rows())
	}
	if err := move.Apply(ctx, ddb, d); err != nil {
		t.Fatal(err)
	}
	if n, err := move.VerifyDelta(ctx, ddb, d); err != nil || n == 0 {
		t.Fatalf("verify delta: %d, %v", n, err)
	}
	if _, err := move.Verify(ctx, next, ddb, id); err != nil {
		t.Fatal(err)
	}
	var logged int
	ddb.QueryRow(`SELECT count(*) FROM notes_log`).Scan(&logged)
	if logged != 3 {
		t.Fatalf("notes_log on target has %d rows, want 3 (the trigger fired during the copy?)", logged)
	}

	// Fence: writes fail with the fence message, reads go on.
	if err := move.Fence(ctx, sdb); err != nil {
		t.Fatal(err)
	}
	if err := move.Fence(ctx, sdb); err != nil {
		t.Fatal("fence is not idempotent:", err)
	}
	_, err = sdb.Exec(`INSERT INTO notes (body) VALUES ('late')`)
	if !storage.IsFenced(err) {
		t.Fatalf("write on a fenced database: %v", err)
	}
	var n int
	if err := sdb.QueryRow(`SELECT count(*) FROM notes`).Scan(&n); err != nil || n != 2 {
		t.Fatalf("read on a fenced database: %d, %v", n, err)
	}
	// The fence is not copied, and the final delta is empty.
	final := filepath.Join(dir, "final.db")
	if err := move.Snapshot(ctx, "file:"+src, final); err != nil {
		t.Fatal(err)
	}
	d, err = move.Diff(ctx, final, next)
	if err != nil || !d.Empty() {
		t.Fatalf("final delta: %+v, %v", d, err)
	}
	if ok, _ := move.Fenced(ctx, ddb); ok {
		t.Fatal("target fenced")
	}
	if _, err := move.Verify(ctx, final, ddb, id); err != nil {
		t.Fatal(err)
	}
	if err := move.Unfence(ctx, sdb); err != nil {
		t.Fatal(err)
	}
	mustExec(t, sdb, `INSERT INTO notes (body) VALUES ('after')`)
	// A stamp for another tenant is refused.
	if _, err := move.Verify(ctx, final, ddb, id+1); err == nil {
		t.Fatal("verify took a foreign stamp")
	}
}

func open(t *testing.T, path string) *sql.DB {
	t.Helper()
	db, err := storage.Open(context.Background(), "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func mustExec(t *testing.T, db *sql.DB, stmts ...string) {
	t.Helper()
	for _, s := range stmts {
		if _, err := db.Exec(s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
}
