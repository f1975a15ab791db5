package move_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"

	"github.com/microfi/tenantgate/shard"
	"github.com/microfi/tenantgate/shard/bank"
	"github.com/microfi/tenantgate/shard/move"
)

// A fenced step's partial delta: the source's rows of the ranges whose
// sums differ from the base's, diffed and applied, leave the target equal
// to the source in full (Verify), while unchanged ranges (here 600 rows of
// filler and its blobs) never travel. A schema change is refused so the
// caller copies the whole snapshot.
func TestPartialDelta(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	src, dst := filepath.Join(dir, "src.db"), filepath.Join(dir, "dst.db")
	const id = 9
	for _, p := range []string{src, dst} {
		if err := shard.Provision(ctx, "file:"+p, id); err != nil {
			t.Fatal(err)
		}
	}
	sdb := open(t, src)
	if _, err := bank.SeedDemo(ctx, sdb, id, "GH"); err != nil {
		t.Fatal(err)
	}
	mustExec(t, sdb, `CREATE TABLE filler (id INTEGER PRIMARY KEY, b BLOB)`,
		`WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 600) INSERT INTO filler (id, b) SELECT i, randomblob(2000) FROM n`,
		`CREATE TABLE tags (name TEXT PRIMARY KEY, n INTEGER) WITHOUT ROWID`,
		`INSERT INTO tags VALUES ('a', 1), ('b', 2)`,
		`CREATE TABLE bag (a, b)`,
		`INSERT INTO bag VALUES (1, x'00ff'), (2.5, 'text')`)
	base := filepath.Join(dir, "base.db")
	if err := move.Snapshot(ctx, "file:"+src, base); err != nil {
		t.Fatal(err)
	}
	ddb := open(t, dst)
	tsnap := filepath.Join(dir, "target.db")
	if err := move.Snapshot(ctx, "file:"+dst, tsnap); err != nil {
		t.Fatal(err)
	}
	d, err := move.Diff(ctx, base, tsnap)
	if err != nil {
		t.Fatal(err)
	}
	if err := move.Apply(ctx, ddb, d); err != nil {
		t.Fatal(err)
	}
	sums, err := move.SumFile(ctx, base)
	if err != nil {
		t.Fatal(err)
	}

	// Changes of every kind since the base, in a few buckets.
	mustExec(t, sdb, `UPDATE filler SET b = x'01' WHERE id = 70`, `DELETE FROM filler WHERE id = 300`,
		`INSERT INTO filler (id, b) VALUES (10000, NULL)`,
		`UPDATE tags SET n = 5 WHERE name = 'a'`, `DELETE FROM bag WHERE a = 1`, `INSERT INTO bag VALUES (3, NULL)`,
		`UPDATE accounts SET balance = balance + 100 WHERE id = (SELECT min(id) FROM accounts)`)
	partial := filepath.Join(dir, "partial.db")
	info, err := move.Partial(ctx, "file:"+src, sums, partial)
	if err != nil {
		t.Fatal(err)
	}
	// Two filler buckets of 64 rows and the new one, not all 600.
	if info.Rows > 200 {
		t.Fatalf("partial snapshot holds %d rows, want only the changed ranges", info.Rows)
	}
	d, n, err := move.DiffPartial(ctx, partial, base)
	if err != nil {
		t.Fatal(err)
	}
	if d.Rows() != 7 {
		t.Fatalf("partial delta has %d rows, want 7: %+v", d.Rows(), d)
	}
	if err := move.Apply(ctx, ddb, d); err != nil {
		t.Fatal(err)
	}
	if _, err := move.VerifyPartial(ctx, partial, n, ddb, id); err != nil {
		t.Fatal(err)
	}
	if _, err := move.VerifyDelta(ctx, ddb, d); err != nil {
		t.Fatal(err)
	}
	full := filepath.Join(dir, "full.db")
	if err := move.Snapshot(ctx, "file:"+src, full); err != nil {
		t.Fatal(err)
	}
	if _, err := move.Verify(ctx, full, ddb, id); err != nil {
		t.Fatalf("target after the partial delta differs from the source: %v", err)
	}

	// A wrong count is caught.
	n["filler"]++
	if _, err := move.VerifyPartial(ctx, partial, n, ddb, id); !errors.Is(err, move.ErrMismatch) {
		t.Fatalf("a count off by one: %v", err)
	}
	// A schema change since the base: no partial delta.
	mustExec(t, sdb, `CREATE INDEX filler_b ON filler(b)`)
	if _, err := move.Partial(ctx, "file:"+src, sums, partial); err != nil {
		t.Fatal(err)
	}
	if _, _, err := move.DiffPartial(ctx, partial, base); !errors.Is(err, move.ErrSchemaChanged) {
		t.Fatalf("schema changed: %v", err)
	}
}
