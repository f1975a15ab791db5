package main

import (
	"context"
	"database/sql"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tursodatabase/libsql-client-go/libsql"
)

// Turso's own engine as a libSQL server: `tursodb FILE --sync-server
// ADDR` from the npm package turso (make test-deps: npm ci in
// proxy/hrana/testdata/turso). What it serves, as of turso 0.6.0, and so what these
// tests rely on:
//   - POST /v2/pipeline with execute and batch requests (batch conditions
//     included);
// and its gaps, each checked below so a change is noticed:
//   - no streams: every response has "baton": null, so a transaction
//     cannot span two requests (an interactive transaction fails), and one
//     connection serves everyone (an unfinished BEGIN would hold the
//     database: tenantgate ends every forwarded request that controls a
//     transaction with a ROLLBACK there);
//   - no "close", "sequence", "describe", "store_sql" or
//     "get_autocommit" requests, no GET /v2 or /v3, no /v3/cursor
//     (tenantgate runs a cursor as a batch there);
//   - affected_row_count is 0 and last_insert_rowid null for writes.

// tursodb returns the tursodb binary, or skips (fails with CI=true).
func tursodb(t *testing.T) string {
	t.Helper()
	bin, _ := filepath.Abs(filepath.Join("..", "..", "proxy", "hrana", "testdata", "turso", "node_modules", "@tursodatabase", "cli-linux-x64-gnu", "tursodb"))
	if _, err := os.Stat(bin); err != nil {
		msg := "tursodb missing (run: npm ci --prefix proxy/hrana/testdata/turso): " + err.Error()
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return bin
}

// startTursodb serves file with tursodb --sync-server on a loopback port
// until the test ends and returns its base URL.
func startTursodb(t *testing.T, file string) string {
	t.Helper()
	bin := tursodb(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	var logs syncBuffer
	cmd := exec.Command(bin, file, "--sync-server", addr)
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			t.Logf("tursodb log (tail):\n%s", tail(logs.String(), 3000))
		}
	})
	base := "http://" + addr
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Post(base+"/v2/pipeline", "application/json", strings.NewReader(`{"requests":[]}`))
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return base
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("tursodb did not start: %v\n%s", err, logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestRemoteCatalog: two proxies and the CLI share one catalog on a libSQL
// server (tursodb), and a change made by any of them reaches the others
// through the catalog's change log, polled over HTTP.
func TestRemoteCatalog(t *testing.T) {
	dir := t.TempDir()
	// The catalog is made (migrated) by the CLI, then served.
	must(t, dir, "tenants", "create", "--data-dir", dir, "--host", "acme", "--name", "Acme Bank", "--country", "GH")
	catalogURL := startTursodb(t, filepath.Join(dir, "catalog.db"))
	p1 := startServeIn(t, dir, 0, "--catalog-url", catalogURL, "--seed-demo=false")
	p2 := startServeIn(t, dir, 0, "--catalog-url", catalogURL, "--seed-demo=false")
	cli := func(args ...string) string {
		return strings.TrimSpace(must(t, dir, append(args, "--data-dir", dir, "--catalog-url", catalogURL)...))
	}
	status := func(p *proc, host, tok string) int {
		code, _, err := request(p.addr, "GET", host+".microfi.localhost", "/api/accounts", tok, "")
		if err != nil {
			t.Fatal(err)
		}
		return code
	}
	within := func(what string, ok func() bool) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for !ok() {
			if time.Now().After(deadline) {
				t.Fatalf("%s: not seen within 5s", what)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	acme := cli("token", "--tenant", "acme", "--role", "staff", "--ttl", "1h")
	for _, p := range []*proc{p1, p2} {
		if code := status(p, "acme", acme); code != 200 {
			t.Fatalf("acme on %s: %d", p.addr, code)
		}
		if code := status(p, "beta", acme); code != 404 { // cached as unknown
			t.Fatalf("beta before it exists on %s: %d", p.addr, code)
		}
	}
	// A tenant created by the CLI is served by both proxies.
	cli("tenants", "create", "--host", "beta", "--name", "Beta Bank", "--country", "KE")
	beta := cli("token", "--tenant", "beta", "--role", "staff", "--ttl", "1h")
	for _, p := range []*proc{p1, p2} {
		within("beta created, on "+p.addr, func() bool { return status(p, "beta", beta) == 200 })
	}
	// A suspension by the CLI reaches both.
	cli("tenants", "suspend", "acme")
	for _, p := range []*proc{p1, p2} {
		within("acme suspended, on "+p.addr, func() bool { return status(p, "acme", acme) == 403 })
	}
	cli("tenants", "resume", "acme")
	for _, p := range []*proc{p1, p2} {
		within("acme resumed, on "+p.addr, func() bool { return status(p, "acme", acme) == 200 })
	}
	if out := cli("tenants", "list"); !strings.Contains(out, "acme") || !strings.Contains(out, "beta") {
		t.Errorf("tenants list over the remote catalog:\n%s", out)
	}
}

// TestTursoSyncServerTenant: a tenant whose database Turso's engine serves
// (tursodb --sync-server), reached through a front proxy: what the server
// serves works through the front, with the same refusals as a local
// tenant; its gaps (see the top of this file) are asserted, not hidden.
func TestTursoSyncServerTenant(t *testing.T) {
	tursodb(t)
	// The tenant database is provisioned by tenantgate (migrated, stamped
	// 1), then served by tursodb.
	src := t.TempDir()
	must(t, src, "tenants", "create", "--data-dir", src, "--host", "src", "--name", "Source", "--country", "GH", "--id", "1")
	// A gap of tursodb's: it opens a database with incremental auto-vacuum
	// (tenantgate's template) read-only, so the file is turned back to none.
	file := filepath.Join(src, "tenants", "1.db")
	plain, err := sql.Open("sqlite", file)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := plain.Exec(`PRAGMA auto_vacuum = NONE; VACUUM`); err != nil {
		t.Fatal(err)
	}
	plain.Close()
	serverURL := startTursodb(t, file)
	frontDir := t.TempDir()
	must(t, frontDir, "tenants", "create", "--data-dir", frontDir, "--host", "far", "--name", "Far Bank", "--country", "GH", "--db-url", serverURL, "--id", "1")
	front := startServeIn(t, frontDir, 0, "--seed-demo=false")
	tok := strings.TrimSpace(must(t, frontDir, "token", "--data-dir", frontDir, "--tenant", "far", "--role", "service", "--ttl", "1h"))

	c, err := libsql.NewConnector("http://"+front.addr+"/t/far", libsql.WithAuthToken(tok))
	if err != nil {
		t.Fatal(err)
	}
	db := sql.OpenDB(c)
	defer db.Close()
	ctx := context.Background()
	for _, q := range []string{
		`CREATE TABLE notes(id INTEGER PRIMARY KEY, body TEXT, n INTEGER)`,
		`INSERT INTO notes(body, n) VALUES ('a', 1), ('b', 2)`,
	} {
		if _, err := db.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	var n, sum int64
	if err := db.QueryRowContext(ctx, `SELECT count(*), sum(n) FROM notes WHERE body <> ?`, "z").Scan(&n, &sum); err != nil || n != 2 || sum != 3 {
		t.Fatalf("select: %d %d %v", n, sum, err)
	}
	// A multi-statement Exec is a batch (one request: it works there).
	if _, err := db.ExecContext(ctx, `INSERT INTO notes(body, n) VALUES ('c', 3); INSERT INTO notes(body, n) VALUES ('d', 4)`); err != nil {
		t.Fatalf("batch: %v", err)
	}
	// Refused at the front, exactly as for a local tenant.
	for _, q := range []string{
		`UPDATE accounts SET balance = balance + 100`,
		`ATTACH DATABASE '/tmp/x.db' AS x`,
		`CREATE TRIGGER t AFTER INSERT ON notes BEGIN UPDATE accounts SET balance = 0; END`,
		`PRAGMA writable_schema = 1`,
	} {
		if _, err := db.ExecContext(ctx, q); err == nil || !strings.Contains(err.Error(), "not authorized") {
			t.Errorf("%s: %v, want a refusal", q, err)
		}
	}
	// Gap: no streams, so no interactive transaction.
	tx, err := db.BeginTx(ctx, nil)
	if err == nil {
		_, err = tx.ExecContext(ctx, `INSERT INTO notes(body, n) VALUES ('tx', 9)`)
		if err == nil {
			err = tx.Commit()
		} else {
			tx.Rollback()
		}
	}
	if err == nil {
		t.Error("an interactive transaction worked on tursodb: update the documented gaps")
	}
	// …and the failed attempt left no transaction open on the server.
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM notes`).Scan(&n); err != nil || n != 4 {
		t.Fatalf("after the transaction attempt: %d %v", n, err)
	}
	if _, err := db.ExecContext(ctx, `INSERT INTO notes(body, n) VALUES ('e', 5)`); err != nil {
		t.Fatalf("write after the transaction attempt: %v", err)
	}
	// Gap: a write's counts are not reported.
	res, err := db.ExecContext(ctx, `INSERT INTO notes(body, n) VALUES ('f', 6)`)
	if err != nil {
		t.Fatal(err)
	}
	if k, _ := res.RowsAffected(); k != 0 {
		t.Logf("tursodb now reports affected rows (%d): update the documented gaps", k)
	}
	// A cursor (Hrana 3) is run as a batch there.
	body := `{"batch":{"steps":[{"stmt":{"sql":"SELECT body FROM notes ORDER BY id"}}]}}`
	code, out, err := request(front.addr, "POST", "far.microfi.localhost", "/v3/cursor", tok, body)
	if err != nil || code != 200 || !strings.Contains(out, `"step_end"`) || strings.Count(out, `"type":"row"`) != 6 {
		t.Fatalf("cursor: %d %v\n%s", code, err, out)
	}
	if n := front.metric(t, `tenantgate_hrana_remote_round_trips_total{outcome="ok"}`); n == 0 {
		t.Error("no round trips counted")
	}
}
