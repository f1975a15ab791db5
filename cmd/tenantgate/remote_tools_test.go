package main

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/microfi/tenantgate/shard/transfer/transfertest"
)

// The operator tools on tenants that live on a shard (a libSQL server: here
// another tenantgate, real processes): backup reads the server's database
// into a verified local file, restore puts it back (writes fenced, one
// transaction, verified), import runs the local import on a copy and sends
// the rows, migrate and migrate status read and migrate over HTTP. The
// front keeps serving the tenant throughout.
func TestRemoteOperatorTools(t *testing.T) {
	if testing.Short() {
		t.Skip("real processes")
	}
	r := newShardRig(t)
	r.cli(t, "tenants", "create", "--host", "rtbank", "--name", "Remote Bank", "--country", "GH", "--sample-data", "--shard", "a")
	r.cli(t, "tenants", "create", "--host", "impbank", "--name", "Import Bank", "--country", "GH", "--shard", "a")
	staff := strings.TrimSpace(r.cli(t, "token", "--tenant", "rtbank", "--role", "staff", "--user", "2"))
	service := strings.TrimSpace(r.cli(t, "token", "--tenant", "rtbank", "--role", "service"))
	impService := strings.TrimSpace(r.cli(t, "token", "--tenant", "impbank", "--role", "service"))
	account := r.firstAccount(t, "rtbank", staff)
	deposit := func(amount int64) {
		t.Helper()
		st, body, err := r.do("POST", "rtbank.microfi.localhost", "/api/transactions", staff,
			fmt.Sprintf(`{"type":"deposit","account_id":%d,"amount":%d}`, account, amount))
		if err != nil || st != 201 {
			t.Fatalf("deposit: %d %s %v", st, body, err)
		}
	}
	count := func(host, tok, table string) int {
		t.Helper()
		st, body, err := r.do("POST", host+".microfi.localhost", "/v2/pipeline", tok,
			`{"requests":[{"type":"execute","stmt":{"sql":"SELECT count(*) FROM `+table+`"}},{"type":"close"}]}`)
		if err != nil || st != 200 {
			t.Fatalf("count %s: %d %s %v", table, st, body, err)
		}
		m := regexp.MustCompile(`"rows":\[\[\{"type":"integer","value":"(\d+)"\}\]\]`).FindStringSubmatch(body)
		if m == nil {
			t.Fatalf("count %s: %s", table, body)
		}
		n, _ := strconv.Atoi(m[1])
		return n
	}
	deposit(700)
	before := r.balance(t, "rtbank", staff, account)
	txBefore := count("rtbank", service, "transactions")

	// Backup: a local, checked file with the server's rows.
	dir := t.TempDir()
	file := filepath.Join(dir, "rt.db")
	out := r.cli(t, "backup", "--tenant", "rtbank", "--out", file)
	if !strings.Contains(out, "integrity ok") {
		t.Fatalf("backup: %s", out)
	}
	if n := transfertest.Count(t, file, `SELECT count(*) FROM transactions`); n != txBefore {
		t.Fatalf("backup holds %d transactions, the server %d", n, txBefore)
	}
	if res := run(t, r.front.dataDir, "backup", "--tenant", "rtbank", "--out", file, "--data-dir", r.front.dataDir); res.code == 0 || !strings.Contains(res.stderr, "never overwritten") {
		t.Fatalf("backup over an existing file: %d %s", res.code, res.stderr)
	}

	// Restore: later writes are gone, the backup's rows are back, and the
	// tenant takes writes again (the fence is lifted).
	deposit(300)
	deposit(400)
	if got := r.balance(t, "rtbank", staff, account); got != before+700 {
		t.Fatalf("balance before restore %d, want %d", got, before+700)
	}
	// Reads go on while the restore holds the write fence.
	stop := make(chan struct{})
	readErrs := make(chan string, 1)
	reads := 0
	go func() {
		defer close(readErrs)
		for {
			select {
			case <-stop:
				return
			default:
			}
			st, body, err := r.do("GET", "rtbank.microfi.localhost", fmt.Sprintf("/api/accounts/%d", account), staff, "")
			if err != nil || st != 200 {
				readErrs <- fmt.Sprintf("read during restore: %d %s %v", st, body, err)
				return
			}
			reads++
			time.Sleep(5 * time.Millisecond)
		}
	}()
	out = r.cli(t, "restore", "--tenant", "rtbank", "--from", file)
	close(stop)
	if msg := <-readErrs; msg != "" {
		t.Fatal(msg)
	}
	t.Logf("%d reads during the restore, none failed", reads)
	if !strings.Contains(out, "restored from") {
		t.Fatalf("restore: %s", out)
	}
	if got := r.balance(t, "rtbank", staff, account); got != before {
		t.Fatalf("balance after restore %d, want the backup's %d", got, before)
	}
	if n := count("rtbank", service, "transactions"); n != txBefore {
		t.Fatalf("%d transactions after restore, want %d", n, txBefore)
	}
	deposit(50)
	if got := r.balance(t, "rtbank", staff, account); got != before+50 {
		t.Fatalf("balance after a deposit on the restored tenant %d, want %d", got, before+50)
	}
	// A snapshot of another tenant is refused, nothing changed.
	other := filepath.Join(dir, "imp.db")
	r.cli(t, "backup", "--tenant", "impbank", "--out", other)
	if res := run(t, r.front.dataDir, "restore", "--tenant", "rtbank", "--from", other, "--data-dir", r.front.dataDir); res.code == 0 || !strings.Contains(res.stderr, "stamp") {
		t.Fatalf("restore of another tenant's snapshot: %d %s", res.code, res.stderr)
	}

	// Import of a legacy database into the remote tenant: every row,
	// verified; a rerun adds nothing; a conflicting import writes nothing
	// and leaves the tenant writable.
	src := filepath.Join(dir, "legacy.db")
	transfertest.WriteLegacy(t, src, transfertest.Small)
	total := transfertest.Small.Total()
	out = r.cli(t, "import", "--legacy", src, "--tenant", "impbank")
	if !strings.Contains(out, fmt.Sprintf("%d source rows, %d added, 0 already present", total, total)) {
		t.Fatalf("import: %s", out)
	}
	if n := count("impbank", impService, "transactions"); n != transfertest.Small.Transactions {
		t.Fatalf("imported tenant holds %d transactions, want %d", n, transfertest.Small.Transactions)
	}
	out = r.cli(t, "import", "--legacy", src, "--tenant", "impbank")
	if !strings.Contains(out, fmt.Sprintf("%d source rows, 0 added, %d already present", total, total)) {
		t.Fatalf("import rerun: %s", out)
	}
	if res := run(t, r.front.dataDir, "import", "--legacy", src, "--tenant", "rtbank", "--data-dir", r.front.dataDir); res.code == 0 {
		t.Fatalf("import over the sample bank's rows must conflict: %s", res.stdout)
	}
	if n := count("rtbank", service, "transactions"); n != txBefore+1 {
		t.Fatalf("a refused import changed the tenant: %d transactions, want %d", n, txBefore+1)
	}
	deposit(5)

	// A tenant whose move was killed holding its fence: restore and import
	// refuse (their own fence would lift the move's) until the move is
	// finished or aborted.
	cmd := exec.Command(os.Args[0], "tenants", "move", "rtbank", "--to", "b", "--data-dir", r.front.dataDir)
	cmd.Env = append(os.Environ(), crashAtEnv+"=fenced")
	stderr, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(stderr)
	for sc.Scan() && !strings.Contains(sc.Text(), "PAUSED fenced") {
	}
	cmd.Process.Kill()
	cmd.Wait()
	for _, args := range [][]string{{"restore", "--tenant", "rtbank", "--from", file}, {"import", "--legacy", src, "--tenant", "rtbank"}} {
		if res := run(t, r.front.dataDir, append(args, "--data-dir", r.front.dataDir)...); res.code == 0 || !strings.Contains(res.stderr, "is being moved") {
			t.Fatalf("%s during a move: exit %d %s", args[0], res.code, res.stderr)
		}
	}
	r.cli(t, "tenants", "move", "rtbank", "--abort")
	deposit(5)

	// migrate status and migrate reach the remote tenants over HTTP.
	out = r.cli(t, "migrate", "status")
	if !strings.Contains(out, "every tenant is on the newest version") {
		t.Fatalf("migrate status: %s", out)
	}
	out = r.cli(t, "migrate", "--tenant", "rtbank")
	if !strings.Contains(out, "nothing to do") {
		t.Fatalf("migrate --tenant rtbank: %s", out)
	}

	// backup --all takes the remote tenants with the local ones.
	out = r.cli(t, "backup", "--all", "--out", filepath.Join(dir, "all"))
	if !strings.Contains(out, "backed up all") {
		t.Fatalf("backup --all: %s", out)
	}
	sets, _ := filepath.Glob(filepath.Join(dir, "all", "*", "*.db"))
	if len(sets) < 2 {
		t.Fatalf("backup --all wrote %v", sets)
	}
	for _, f := range sets {
		if fi, err := os.Stat(f); err != nil || fi.Size() == 0 {
			t.Fatalf("backup file %s: %v", f, err)
		}
	}
}
