package hrana_test

import (
	"context"
	"database/sql"
	"strings"
	"testing"
	"time"

	"github.com/microfi/tenantgate/proxy/hrana"
	"github.com/microfi/tenantgate/proxy/hrana/hranatest"
)

func TestGoClient(t *testing.T) {
	s := newTestServer(t, hrana.Config{})
	db, err := sql.Open("libsql", s.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	hranatest.RunGoClient(t, db)
}

func TestGoClientStreamExpiry(t *testing.T) {
	s := newTestServer(t, hrana.Config{StreamIdleTimeout: 300 * time.Millisecond})
	db, err := sql.Open("libsql", s.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.ExecContext(ctx, `CREATE TABLE e(x)`); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second)
	_, err = tx.ExecContext(ctx, `INSERT INTO e VALUES (1)`)
	if err == nil || !strings.Contains(err.Error(), "expired") {
		t.Errorf("after expiry: %v", err)
	}
	tx.Rollback()
}

func TestGoClientPragmas(t *testing.T) {
	s := newTestServer(t, hrana.Config{})
	db, err := sql.Open("libsql", s.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	hranatest.RunGoPragmas(t, db)
}

// TestGoClientWebSocket runs the Go client's ws:// transport (hrana1,
// JWT in the hello) through the same checks as HTTP.
func TestGoClientWebSocket(t *testing.T) {
	s := newTestServer(t, hrana.Config{})
	db, err := sql.Open("libsql", "ws"+strings.TrimPrefix(s.URL, "http"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	hranatest.RunGoClientWS(t, db)
	hranatest.RunGoPragmas(t, db)
	if n := s.mustCounter(t, "tenantgate_hrana_pipelines_total", "ws").value(); n == 0 {
		t.Error("no WebSocket requests counted")
	}
}
