package main

import (
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"

	"github.com/microfi/tenantgate/shard/bank"
	"github.com/microfi/tenantgate/shard/transfer"
	"github.com/microfi/tenantgate/shard/transfer/transfertest"
)

func TestImportLegacyCommand(t *testing.T) {
	dir := newFleet(t, 2) // tn1, tn2
	src := filepath.Join(t.TempDir(), "microfi.db")
	transfertest.WriteLegacy(t, src, transfertest.Small)
	hash := transfertest.FileHash(t, src)

	out, err := runCLI(t, "import", "--data-dir", dir, "--legacy", src, "--tenant", "tn2")
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	total := transfertest.Small.Total()
	for _, want := range []string{
		"tenant 2 (tn2):", "unchanged", fmt.Sprintf("%d source rows, %d added, 0 already present", total, total),
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if !regexp.MustCompile(`transactions\s+2000\s+2000\s+0\s+[0-9a-f]{16} ok`).MatchString(out) {
		t.Errorf("no verified transactions line:\n%s", out)
	}
	if n := transfertest.Count(t, filepath.Join(dir, "tenants", "2.db"), `SELECT count(*) FROM users WHERE tenant_id = 2`); n != transfertest.Small.Users {
		t.Fatalf("tenant 2 has %d users", n)
	}

	out, err = runCLI(t, "import", "--data-dir", dir, "--legacy", src, "--tenant", "2")
	if err != nil || !strings.Contains(out, fmt.Sprintf("%d source rows, 0 added, %d already present", total, total)) {
		t.Fatalf("rerun: %v\n%s", err, out)
	}
	if transfertest.FileHash(t, src) != hash {
		t.Fatal("source changed")
	}

	t.Run("RerunAfterUse", func(t *testing.T) {
		// A new tenant 3 gets the same data; one legacy user has a real bcrypt
		// password. She logs in (the hash is upgraded to argon2id) and
		// deposits (the balance moves): a rerun still adds nothing.
		src := filepath.Join(t.TempDir(), "microfi.db")
		transfertest.WriteLegacy(t, src, transfertest.Small)
		hash, err := bcrypt.GenerateFromPassword([]byte("Legacy-pw-2024"), bcrypt.MinCost)
		if err != nil {
			t.Fatal(err)
		}
		legacy, err := sql.Open("sqlite", src)
		if err != nil {
			t.Fatal(err)
		}
		var email string
		var userID int64
		if err := legacy.QueryRow(`SELECT id, email FROM users ORDER BY id LIMIT 1`).Scan(&userID, &email); err != nil {
			t.Fatal(err)
		}
		if _, err := legacy.Exec(`UPDATE users SET password_hash = ? WHERE id = ?`, string(hash), userID); err != nil {
			t.Fatal(err)
		}
		legacy.Close()
		if out, err := runCLI(t, "tenants", "create", "--data-dir", dir, "--id", "3", "--host", "third", "--name", "Tenant 3", "--country", "GH"); err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		if out, err := runCLI(t, "import", "--data-dir", dir, "--legacy", src, "--tenant", "third"); err != nil {
			t.Fatalf("%v\n%s", err, out)
		}

		db, err := sql.Open("sqlite", filepath.Join(dir, "tenants", "3.db"))
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		store := bank.New(db, 3)
		if _, err := store.Authenticate(t.Context(), email, "Legacy-pw-2024"); err != nil {
			t.Fatalf("login: %v", err)
		}
		var now string
		db.QueryRow(`SELECT password_hash FROM users WHERE id = ?`, userID).Scan(&now)
		if !strings.HasPrefix(now, "$argon2id$") {
			t.Fatalf("login did not upgrade the hash: %.10s", now)
		}
		var accountID int64
		db.QueryRow(`SELECT id FROM accounts ORDER BY id LIMIT 1`).Scan(&accountID)
		if _, err := store.Post(t.Context(), bank.Posting{Type: bank.TypeDeposit, AccountID: accountID, Amount: 500}, bank.PostOptions{}); err != nil {
			t.Fatalf("deposit: %v", err)
		}

		out, err := runCLI(t, "import", "--data-dir", dir, "--legacy", src, "--tenant", "third")
		if err != nil || !strings.Contains(out, fmt.Sprintf("%d source rows, 0 added, %d already present", total, total)) {
			t.Fatalf("rerun after a login and a deposit: %v\n%s", err, out)
		}

		// A row the import owns that really differs is a conflict, and the
		// report prints no empty table.
		if _, err := db.Exec(`UPDATE users SET name = 'Renamed' WHERE id = ?`, userID); err != nil {
			t.Fatal(err)
		}
		out, err = runCLI(t, "import", "--data-dir", dir, "--legacy", src, "--tenant", "third")
		if !errors.Is(err, transfer.ErrConflict) || !strings.Contains(err.Error(), "users: 1 rows") {
			t.Fatalf("conflict: %v", err)
		}
		if strings.Contains(out, "source rows\tadded") || strings.Contains(out, "table  ") {
			t.Errorf("conflict output prints an empty table:\n%s", out)
		}
	})
	t.Run("ErrSchema", func(t *testing.T) {
		shared := filepath.Join(t.TempDir(), "shared.db")
		transfertest.WriteShared(t, shared, []transfertest.SourceTenant{{ID: 1, Host: "tn1"}}, transfertest.Sizes{Users: 1})
		_, err := runCLI(t, "import", "--data-dir", dir, "--legacy", shared, "--tenant", "tn1")
		if !errors.Is(err, transfer.ErrSchema) {
			t.Fatalf("err %v", err)
		}
		if n := transfertest.Count(t, filepath.Join(dir, "tenants", "1.db"), `SELECT count(*) FROM users`); n != 0 {
			t.Fatalf("refused import wrote %d users", n)
		}
	})
	t.Run("ErrUsage", func(t *testing.T) {
		for _, args := range [][]string{
			{"import", "--data-dir", dir, "--legacy", src},
			{"import", "--data-dir", dir, "--legacy", src, "--shared", src, "--tenant", "tn1"},
			{"import", "--data-dir", dir, "--shared", src, "--tenant", "tn1"},
		} {
			if _, err := runCLI(t, args...); exitCode(err) != 2 {
				t.Errorf("%v: %v", args, err)
			}
		}
	})
}

func TestImportSharedCommand(t *testing.T) {
	dir := newFleet(t, 3) // tn1, tn2, tn3 with ids 1..3
	src := filepath.Join(t.TempDir(), "shared.db")
	tenants := []transfertest.SourceTenant{{ID: 3, Host: "tn3"}, {ID: 7, Host: "kofi"}, {ID: 12, Host: "ama"}}
	sz := transfertest.Sizes{Users: 50, Accounts: 100, Transactions: 800, Subscriptions: 3, Gateways: 2, Usage: 40}
	transfertest.WriteShared(t, src, tenants, sz)
	hash := transfertest.FileHash(t, src)

	out, err := runCLI(t, "import", "--data-dir", dir, "--shared", src)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	for _, want := range []string{"tenant 3 (tn3):", "tenant 7 (kofi) (created in the catalog):", "tenant 12 (ama) (created in the catalog):",
		fmt.Sprintf("imported 3 tenant(s): %d source rows, %d added", 3*sz.Total(), 3*sz.Total()), "unchanged"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	var list []struct {
		ID   int64
		Host string
	}
	if err := json.Unmarshal([]byte(cli(t, "tenants", "list", "--data-dir", dir, "--json")), &list); err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(list); got != "[{1 tn1} {2 tn2} {3 tn3} {7 kofi} {12 ama}]" {
		t.Fatalf("catalog after import: %s", got)
	}
	for _, tn := range tenants {
		if n := transfertest.Count(t, filepath.Join(dir, "tenants", fmt.Sprintf("%d.db", tn.ID)), `SELECT count(*) FROM transactions WHERE tenant_id = ?`, tn.ID); n != sz.Transactions {
			t.Fatalf("tenant %d: %d transactions", tn.ID, n)
		}
	}

	out, err = runCLI(t, "import", "--data-dir", dir, "--shared", src)
	if err != nil || !strings.Contains(out, fmt.Sprintf("%d source rows, 0 added", 3*sz.Total())) || strings.Contains(out, "created in the catalog") {
		t.Fatalf("rerun: %v\n%s", err, out)
	}
	if transfertest.FileHash(t, src) != hash {
		t.Fatal("source changed")
	}

	t.Run("ErrConflict", func(t *testing.T) {
		bad := filepath.Join(t.TempDir(), "bad.db")
		// 20 is new, but 2 is tn2 in the catalog and host tn1 belongs to id 1.
		transfertest.WriteShared(t, bad, []transfertest.SourceTenant{{ID: 20, Host: "fresh"}, {ID: 2, Host: "other"}, {ID: 30, Host: "tn1"}},
			transfertest.Sizes{Users: 2, Accounts: 2})
		out, err := runCLI(t, "import", "--data-dir", dir, "--shared", bad)
		if err == nil {
			t.Fatalf("conflicting import accepted:\n%s", out)
		}
		for _, want := range []string{"nothing was written", `id 2 belongs to catalog tenant "tn2"`, `host "tn1" belongs to catalog tenant 1`} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error lacks %q: %v", want, err)
			}
		}
		if got := cli(t, "tenants", "list", "--data-dir", dir, "--json"); strings.Contains(got, "fresh") {
			t.Fatalf("refused import created a tenant: %s", got)
		}
	})
}
