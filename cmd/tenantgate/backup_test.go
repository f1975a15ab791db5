package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/microfi/tenantgate/shard/transfer"
	"github.com/microfi/tenantgate/shard/transfer/transfertest"
)

func postJSON(t *testing.T, addr, host, path, token, body string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("POST", "http://"+addr+path, strings.NewReader(body))
	req.Host = host
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestBackupRestoreWhileServing backs up the demo tenant, changes it through
// the running server, restores the backup with the server still running,
// and checks that the server serves the restored data and keeps writing.
func TestBackupRestoreWhileServing(t *testing.T) {
	dir := t.TempDir()
	addr, _ := runServer(t, dir)
	const host = "demo.microfi.localhost"
	tok := strings.TrimSpace(cli(t, "token", "--data-dir", dir, "--tenant", "demo", "--role", "staff", "--user", "1"))

	balance := func() (int64, int64) {
		t.Helper()
		code, body := get(t, addr, host, "/api/accounts", tok)
		var res struct {
			Accounts []struct{ ID, Balance int64 }
		}
		if code != 200 || json.Unmarshal([]byte(body), &res) != nil || len(res.Accounts) == 0 {
			t.Fatalf("accounts: %d %s", code, body)
		}
		return res.Accounts[0].ID, res.Accounts[0].Balance
	}
	id, before := balance()

	snap := filepath.Join(t.TempDir(), "demo.db")
	out := cli(t, "backup", "--data-dir", dir, "--tenant", "demo", "--out", snap)
	if !strings.Contains(out, "tenant 1 (demo): "+snap) || !strings.Contains(out, "integrity ok") {
		t.Fatalf("backup output: %s", out)
	}
	if code, body := postJSON(t, addr, host, "/api/transactions", tok, fmt.Sprintf(`{"type":"deposit","account_id":%d,"amount":500}`, id)); code != 201 {
		t.Fatalf("deposit: %d %s", code, body)
	}
	if _, b := balance(); b != before+500 {
		t.Fatalf("balance after deposit %d, want %d", b, before+500)
	}

	out = cli(t, "restore", "--data-dir", dir, "--tenant", "demo", "--from", snap)
	if !strings.Contains(out, "restored from") {
		t.Fatalf("restore output: %s", out)
	}
	if _, b := balance(); b != before {
		t.Fatalf("served balance after restore %d, want %d", b, before)
	}
	if code, body := postJSON(t, addr, host, "/api/transactions", tok, fmt.Sprintf(`{"type":"deposit","account_id":%d,"amount":100}`, id)); code != 201 {
		t.Fatalf("deposit after restore: %d %s", code, body)
	}
	if _, b := balance(); b != before+100 {
		t.Fatalf("balance %d, want %d", b, before+100)
	}
	if n := transfertest.Count(t, filepath.Join(dir, "tenants", "1.db"), `SELECT count(*) FROM pragma_integrity_check WHERE integrity_check != 'ok'`); n != 0 {
		t.Fatal("restored database fails integrity_check")
	}

	t.Run("All", func(t *testing.T) {
		cli(t, "tenants", "create", "--data-dir", dir, "--host", "acme", "--name", "Acme", "--country", "KE")
		bk := filepath.Join(t.TempDir(), "all")
		// Run twice, as a nightly job would: each run gets its own folder.
		var sets []string
		for range 2 {
			out := cli(t, "backup", "--data-dir", dir, "--all", "--out", bk)
			if !strings.Contains(out, "backed up all 2 tenants") {
				t.Fatalf("output: %s", out)
			}
			m := regexp.MustCompile(`into (\S+) in `).FindStringSubmatch(out)
			if m == nil {
				t.Fatalf("no backup folder in %q", out)
			}
			sets = append(sets, m[1])
			for _, name := range []string{"1.db", "2.db"} {
				if _, err := os.Stat(filepath.Join(m[1], name)); err != nil {
					t.Fatal(err)
				}
			}
		}
		if sets[0] == sets[1] || filepath.Dir(sets[0]) != bk {
			t.Fatalf("backup folders %v", sets)
		}
		bk = sets[0]
		// Tenant 2's snapshot is not tenant 1's.
		if _, err := runCLI(t, "restore", "--data-dir", dir, "--tenant", "demo", "--from", filepath.Join(bk, "2.db")); !errors.Is(err, transfer.ErrStampMismatch) {
			t.Fatalf("cross-tenant restore: %v", err)
		}
	})
	t.Run("ErrUsage", func(t *testing.T) {
		for _, args := range [][]string{
			{"backup", "--data-dir", dir, "--out", "x"},
			{"backup", "--data-dir", dir, "--tenant", "demo", "--all", "--out", "x"},
			{"backup", "--data-dir", dir, "--tenant", "demo"},
			{"restore", "--data-dir", dir, "--tenant", "demo"},
		} {
			if _, err := runCLI(t, args...); exitCode(err) != 2 {
				t.Errorf("%v: %v", args, err)
			}
		}
	})
}
