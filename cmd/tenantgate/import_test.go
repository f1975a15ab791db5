package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

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
