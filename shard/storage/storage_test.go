package storage_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/microfi/tenantgate/shard"
	"github.com/microfi/tenantgate/shard/storage"
)

// tenantDB provisions a stamped tenant database file for id.
func tenantDB(t *testing.T, id int64) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "t.db")
	if err := shard.Provision(context.Background(), "file:"+path, id); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestPredicatesUseDriverCodes(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "p.db")
	db, err := storage.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`CREATE TABLE u (k TEXT PRIMARY KEY, v TEXT UNIQUE)`); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`INSERT INTO u VALUES ('a', 'x')`); err != nil {
		t.Fatal(err)
	}
	_, errPK := db.Exec(`INSERT INTO u VALUES ('a', 'y')`)
	_, errUnique := db.Exec(`INSERT INTO u VALUES ('b', 'x')`)
	_, errTable := db.Exec(`SELECT * FROM missing`)
	_, errSyntax := db.Exec(`SELEC 1`)
	for _, c := range []struct {
		name string
		err  error
		pred func(error) bool
		want bool
	}{
		{"primary key is unique", errPK, storage.IsUnique, true},
		{"unique column is unique", errUnique, storage.IsUnique, true},
		{"wrapped unique", errors.Join(errors.New("ctx"), errUnique), storage.IsUnique, true},
		{"no such table", errTable, storage.IsNoSuchTable, true},
		{"syntax error is not no such table", errSyntax, storage.IsNoSuchTable, false},
		{"no such table is not unique", errTable, storage.IsUnique, false},
		{"unique is not busy", errUnique, storage.IsBusy, false},
		{"nil", nil, storage.IsBusy, false},
		// A coded error is judged by its code, never its text.
		{"text alone on a coded error", errSyntax, func(error) bool { return storage.IsUnique(errSyntax) }, false},
		// Remote libSQL errors are text only.
		{"remote busy", errors.New("SQLite error: database is locked"), storage.IsBusy, true},
		{"remote unique", errors.New("SQLITE_CONSTRAINT: UNIQUE constraint failed: u.k"), storage.IsUnique, true},
		{"remote no such table", errors.New("SQLite input error: no such table: x"), storage.IsNoSuchTable, true},
	} {
		if c.want && c.err == nil && c.name != "nil" {
			t.Fatalf("%s: statement did not fail", c.name)
		}
		if got := c.pred(c.err); got != c.want {
			t.Errorf("%s: got %v, want %v (err %v)", c.name, got, c.want, c.err)
		}
	}

	// SQLITE_BUSY from a real lock held by another connection.
	tx, err := db.Begin() // BEGIN IMMEDIATE: holds the write lock
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	other, err := storage.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if _, err := other.Exec(`PRAGMA busy_timeout = 1`); err != nil {
		t.Fatal(err)
	}
	other.SetMaxOpenConns(1)
	_, errBusy := other.Exec(`INSERT INTO u VALUES ('c', 'z')`)
	if !storage.IsBusy(errBusy) {
		t.Fatalf("IsBusy(%v) = false", errBusy)
	}
}

func TestModes(t *testing.T) {
	ctx := context.Background()
	path := tenantDB(t, 3)
	ro, err := storage.OpenMode(ctx, path, storage.ReadOnly)
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	if _, err := ro.Exec(`CREATE TABLE x (a)`); err == nil {
		t.Fatal("read-only open accepted a write")
	}
	if err := storage.CheckStamp(ctx, ro, 3); err != nil {
		t.Fatal(err)
	}
	if err := storage.CheckStamp(ctx, ro, 4); !errors.Is(err, storage.ErrStampMismatch) {
		t.Fatalf("CheckStamp(4) = %v, want ErrStampMismatch", err)
	}

	// At rest: no -wal/-shm appear next to the file.
	dir := t.TempDir()
	rest := filepath.Join(dir, "rest.db")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(rest, data, 0o600); err != nil {
		t.Fatal(err)
	}
	db, err := storage.OpenMode(ctx, rest, storage.AtRest)
	if err != nil {
		t.Fatal(err)
	}
	if err := storage.CheckStamp(ctx, db, 3); err != nil {
		t.Fatal(err)
	}
	db.Close()
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Fatalf("at-rest open left files behind: %v", entries)
	}

	// Not a tenant database: a mismatch, not a raw "no such table".
	plain := filepath.Join(dir, "plain.db")
	pdb, err := storage.Open(ctx, plain)
	if err != nil {
		t.Fatal(err)
	}
	defer pdb.Close()
	if _, err := storage.ReadStamp(ctx, pdb); !errors.Is(err, storage.ErrStampMismatch) {
		t.Fatalf("ReadStamp(plain) = %v, want ErrStampMismatch", err)
	}
}

func TestBackupIsVerified(t *testing.T) {
	ctx := context.Background()
	path := tenantDB(t, 5)
	out := filepath.Join(t.TempDir(), "b", "5.db")
	snap, err := storage.Backup(ctx, path, 5, out)
	if err != nil {
		t.Fatal(err)
	}
	if snap.Path != out || snap.TenantID != 5 || snap.Version == 0 || snap.Bytes == 0 {
		t.Fatalf("snapshot %+v", snap)
	}
	if _, err := storage.Inspect(ctx, out, 5); err != nil {
		t.Fatal(err)
	}
	// Never overwrites.
	if _, err := storage.Backup(ctx, path, 5, out); !errors.Is(err, storage.ErrExists) {
		t.Fatalf("second backup = %v, want ErrExists", err)
	}
	// A database stamped for another tenant is refused, and nothing is left.
	other := filepath.Join(t.TempDir(), "o.db")
	if _, err := storage.Backup(ctx, path, 6, other); !errors.Is(err, storage.ErrStampMismatch) {
		t.Fatalf("foreign backup = %v, want ErrStampMismatch", err)
	}
	// A corrupt database is refused, and neither out nor a temp file stays.
	bad := filepath.Join(t.TempDir(), "bad.db")
	data, _ := os.ReadFile(out)
	for i := 4096; i < len(data) && i < 4096*3; i++ {
		data[i] ^= 0x5a
	}
	os.WriteFile(bad, data, 0o600)
	dst := filepath.Join(t.TempDir(), "bad-copy.db")
	if _, err := storage.Backup(ctx, bad, 5, dst); err == nil {
		t.Fatal("backup of a corrupt database succeeded")
	}
	if entries, _ := os.ReadDir(filepath.Dir(dst)); len(entries) != 0 {
		t.Fatalf("failed backup left %v", entries)
	}
}

func TestRemoveFilesAndRedact(t *testing.T) {
	path := tenantDB(t, 8)
	for _, s := range []string{"-wal", "-shm"} {
		os.WriteFile(path+s, nil, 0o600)
	}
	if err := storage.RemoveFiles(path); err != nil {
		t.Fatal(err)
	}
	if entries, _ := os.ReadDir(filepath.Dir(path)); len(entries) != 0 {
		t.Fatalf("left %v", entries)
	}
	if err := storage.RemoveFiles(path); err != nil {
		t.Fatalf("removing missing files: %v", err)
	}
	r := storage.Redact("libsql://user:pw@db.example.test/x?authToken=secret")
	if strings.Contains(r, "secret") || strings.Contains(r, "pw") {
		t.Fatalf("Redact left credentials: %s", r)
	}
}
