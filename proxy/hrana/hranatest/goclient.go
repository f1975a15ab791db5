// Package hranatest holds the real-client checks shared by the Hrana
// handler's tests and the proxy's end-to-end tests: libsql-client-go run in
// process, and @libsql/client run with the machine's node.
package hranatest

import (
	"bytes"
	"context"
	"database/sql"
	"strings"
	"testing"
	"time"

	_ "github.com/tursodatabase/libsql-client-go/libsql" // registers the "libsql" driver
)

// RunGoClient exercises libsql-client-go (the real client, over HTTP)
// against a Hrana endpoint: every value type, prepared statements, named
// args, multi-statement batches, sql.Tx commit and rollback, and errors.
// It is shared by the direct test here and the end-to-end proxy test.
func RunGoClient(t *testing.T, db *sql.DB) {
	t.Helper()
	runGoClient(t, db, false)
}

// RunGoClientWS is RunGoClient for the client's ws:// transport, which
// leaves DATETIME text as text and sends a multi-statement Exec as one
// statement (refused with SQL_MANY_STATEMENTS, as by sqld): those two
// checks differ.
func RunGoClientWS(t *testing.T, db *sql.DB) {
	t.Helper()
	runGoClient(t, db, true)
}

func runGoClient(t *testing.T, db *sql.DB, ws bool) {
	t.Helper()
	ctx := context.Background()
	mustExec := func(q string, args ...any) sql.Result {
		t.Helper()
		res, err := db.ExecContext(ctx, q, args...)
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		return res
	}
	mustExec(`CREATE TABLE vals(id INTEGER PRIMARY KEY, i INTEGER, f REAL, s TEXT, b BLOB, n, at DATETIME, ok BOOLEAN)`)

	// Every value type round-trips with its storage class.
	big := int64(9007199254740993)
	res := mustExec(`INSERT INTO vals(i, f, s, b, n, at, ok) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		big, 3.25, "héllo \"q\"\n", []byte{0, 1, 2, 0xff}, nil, "2024-01-02 03:04:05", 1)
	if id, err := res.LastInsertId(); err != nil || id != 1 {
		t.Errorf("LastInsertId = %d, %v", id, err)
	}
	if n, err := res.RowsAffected(); err != nil || n != 1 {
		t.Errorf("RowsAffected = %d, %v", n, err)
	}
	var (
		i    int64
		f    float64
		s    string
		b    []byte
		n    sql.NullString
		at   any
		okv  int64
		kind string
	)
	err := db.QueryRowContext(ctx, `SELECT i, f, s, b, n, at, ok, typeof(at) FROM vals WHERE id = ?`, 1).Scan(&i, &f, &s, &b, &n, &at, &okv, &kind)
	if err != nil {
		t.Fatal(err)
	}
	if i != big || f != 3.25 || s != "héllo \"q\"\n" || !bytes.Equal(b, []byte{0, 1, 2, 0xff}) || n.Valid || okv != 1 || kind != "text" {
		t.Errorf("row = %d %v %q %x %v %d %s", i, f, s, b, n, okv, kind)
	}
	// The client itself turns TEXT in a DATETIME column into time.Time (it
	// reads decltype); what matters is that the value arrives as text.
	if tm, ok := at.(time.Time); !ws && (!ok || tm.Year() != 2024) || ws && at != "2024-01-02 03:04:05" {
		t.Errorf("DATETIME text = %#v", at)
	}
	var empty []byte
	if err := db.QueryRowContext(ctx, `SELECT x''`).Scan(&empty); err != nil || empty == nil || len(empty) != 0 {
		t.Errorf("empty blob = %#v, %v", empty, err)
	}

	// Named args (the client sends them without prefix).
	var got int64
	if err := db.QueryRowContext(ctx, `SELECT :a + @b + $c`, sql.Named("a", 1), sql.Named("b", 2), sql.Named("c", 3)).Scan(&got); err != nil || got != 6 {
		t.Errorf("named = %d, %v", got, err)
	}

	// Prepared statement reused.
	st, err := db.PrepareContext(ctx, `INSERT INTO vals(i, s) VALUES (?, ?)`)
	if err != nil {
		t.Fatal(err)
	}
	for k := 0; k < 3; k++ {
		if _, err := st.ExecContext(ctx, k, "p"); err != nil {
			t.Fatal(err)
		}
	}
	st.Close()
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM vals WHERE s = 'p'`).Scan(&got); err != nil || got != 3 {
		t.Errorf("prepared inserts = %d, %v", got, err)
	}

	// A multi-statement Exec goes as a batch (over HTTP).
	if ws {
		if _, err := db.ExecContext(ctx, `SELECT 1; SELECT 2`); err == nil || !strings.Contains(err.Error(), "more than one statement") {
			t.Errorf("multi-statement over ws: %v", err)
		}
		mustExec(`CREATE TABLE multi(x UNIQUE)`)
		mustExec(`INSERT INTO multi VALUES (1)`)
		mustExec(`INSERT INTO multi VALUES (2)`)
	} else {
		mustExec(`CREATE TABLE multi(x UNIQUE); INSERT INTO multi VALUES (1); INSERT INTO multi VALUES (2)`)
	}
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM multi`).Scan(&got); err != nil || got != 2 {
		t.Errorf("batch = %d, %v", got, err)
	}
	if ws {
		mustExec(`INSERT INTO multi VALUES (3)`)
	}
	if _, err := db.ExecContext(ctx, map[bool]string{false: `INSERT INTO multi VALUES (3); INSERT INTO multi VALUES (1)`, true: `INSERT INTO multi VALUES (1)`}[ws]); err == nil || !strings.Contains(err.Error(), "UNIQUE") {
		t.Errorf("failing batch: %v", err)
	}

	// sql.Tx commit and rollback.
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO multi VALUES (10)`); err != nil {
		t.Fatal(err)
	}
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM multi WHERE x = 10`).Scan(&got); err != nil || got != 1 {
		t.Errorf("inside tx = %d, %v", got, err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	tx, err = db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO multi VALUES (11)`); err != nil {
		t.Fatal(err)
	}
	if err := tx.Rollback(); err != nil {
		t.Fatal(err)
	}
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM multi WHERE x IN (10, 11)`).Scan(&got); err != nil || got != 1 {
		t.Errorf("after commit+rollback = %d, %v", got, err)
	}

	// Errors surface as Go errors.
	if _, err := db.ExecContext(ctx, `INSERT INTO multi VALUES (1)`); err == nil || !strings.Contains(err.Error(), "UNIQUE constraint failed") {
		t.Errorf("constraint: %v", err)
	}
	if _, err := db.QueryContext(ctx, `SELEC 1`); err == nil {
		t.Error("syntax error not reported")
	}
	if _, err := db.ExecContext(ctx, `ATTACH DATABASE '/tmp/x.db' AS x`); err == nil || !strings.Contains(err.Error(), "not authorized") {
		t.Errorf("ATTACH: %v", err)
	}
}
