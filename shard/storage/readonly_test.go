package storage_test

import (
	"context"
	"os/exec"
	"testing"

	"github.com/microfi/tenantgate/shard/storage"
)

// immutable makes path immutable (chattr +i: not even root may open it for
// writing, so SQLite falls back to read-only) until the test ends.
func immutable(t *testing.T, path string) {
	t.Helper()
	if out, err := exec.Command("chattr", "+i", path).CombinedOutput(); err != nil {
		t.Skipf("chattr +i: %v %s", err, out)
	}
	t.Cleanup(func() { exec.Command("chattr", "-i", path).Run() })
}

// A pooled connection SQLite could only open read-only (its fallback when
// the file cannot be opened for writing: out of descriptors, a read-only
// file) is refused, as a raw connection is: kept in the pool, it would fail
// every write that lands on it for as long as it lives (a busy tenant's
// connection never idles out). The refusal is 503 material
// (IsServerUnavailable), and a connection opens again once it can.
func TestBankPoolRefusesReadOnlyFallback(t *testing.T) {
	ctx := context.Background()
	path := tenantDB(t, 1)
	db, err := storage.OpenBank(ctx, path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	first, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer first.Close()
	immutable(t, path)
	second, err := db.Conn(ctx) // a new connection: the file is read-only now
	if err == nil {
		_, err = second.ExecContext(ctx, `PRAGMA user_version = 7`)
		second.Close()
		t.Fatalf("a read-only fallback connection joined the pool (a write on it: %v)", err)
	}
	if !storage.IsServerUnavailable(err) {
		t.Fatalf("refused connection: %v, want IsServerUnavailable", err)
	}
	exec.Command("chattr", "-i", path).Run()
	second, err = db.Conn(ctx)
	if err != nil {
		t.Fatalf("once the file is writable again: %v", err)
	}
	defer second.Close()
	if _, err := second.ExecContext(ctx, `PRAGMA user_version = 7`); err != nil {
		t.Fatal(err)
	}
}
