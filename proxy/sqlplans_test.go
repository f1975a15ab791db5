package proxy_test

import (
	"context"
	"database/sql"
	"strings"
	"testing"
	"time"

	"github.com/tursodatabase/libsql-client-go/libsql"

	"github.com/microfi/tenantgate/catalog/tenants"
	"github.com/microfi/tenantgate/proxy"
	"github.com/microfi/tenantgate/proxy/hrana"
	"github.com/microfi/tenantgate/proxy/proxytest"
)

// The SQL limits follow the tenant's plan, and a plan change applies to
// the next request. Driven with the real Go client.
func TestSQLLimitsPerPlan(t *testing.T) {
	s := proxytest.Start(t, proxytest.Options{Configure: func(c *proxy.Config) {
		c.Hrana.StreamQueueWait = 100 * time.Millisecond
		c.SQLPlans = map[string]hrana.Limits{
			"starter": {MaxRowsPerResponse: 5, MaxStreams: 1, StatementTimeout: 200 * time.Millisecond},
			"growth":  {MaxRowsPerResponse: 1000, MaxStreams: 4},
		}
	}})
	ctx := context.Background()
	starter := s.CreateTenant("planstarter")
	growth, err := s.Tenants.Create(ctx, tenants.CreateRequest{Host: "plangrowth", Name: "Plan growth", Country: "GH", Plan: "growth"})
	if err != nil {
		t.Fatal(err)
	}
	client := func(label string, id int64) *sql.DB {
		c, err := libsql.NewConnector(s.URL+"/t/"+label+"/", libsql.WithAuthToken(s.Token(id, proxy.RoleService, 0)))
		if err != nil {
			t.Fatal(err)
		}
		db := sql.OpenDB(c)
		t.Cleanup(func() { db.Close() })
		return db
	}
	const tenRows = `WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c LIMIT 10) SELECT x FROM c`
	count := func(db *sql.DB) (int, error) {
		rows, err := db.QueryContext(ctx, tenRows)
		if err != nil {
			return 0, err
		}
		defer rows.Close()
		n := 0
		for rows.Next() {
			n++
		}
		return n, rows.Err()
	}
	sdb, gdb := client("planstarter", starter.ID), client("plangrowth", growth.ID)

	// Rows per response.
	if _, err := count(sdb); err == nil || !strings.Contains(err.Error(), "too many rows (limit 5)") {
		t.Errorf("10 rows on starter: %v, want the plan's row cap", err)
	}
	if n, err := count(gdb); err != nil || n != 10 {
		t.Errorf("10 rows on growth: %d, %v", n, err)
	}

	// Statement timeout.
	start := time.Now()
	_, err = sdb.ExecContext(ctx, `WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c) SELECT count(*) FROM c`)
	if err == nil || !strings.Contains(strings.ToLower(err.Error()), "interrupt") {
		t.Errorf("endless statement on starter: %v, want it interrupted", err)
	}
	if d := time.Since(start); d > 4*time.Second {
		t.Errorf("starter's 200 ms statement timeout took %v", d)
	}

	// Streams: a transaction holds starter's only stream; a second stream
	// queues briefly, then the client reports the refusal.
	tx, err := sdb.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.ExecContext(ctx, `SELECT 1`); err != nil {
		t.Fatal(err)
	}
	_, err = count(client("planstarter", starter.ID))
	if err == nil || !strings.Contains(err.Error(), "429") || !strings.Contains(err.Error(), "Too many requests") {
		t.Errorf("second stream on starter: %v, want 429 Too many requests", err)
	}
	gtx, err := gdb.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := gtx.ExecContext(ctx, `SELECT 1`); err != nil {
		t.Fatal(err)
	}
	if n, err := count(client("plangrowth", growth.ID)); err != nil || n != 10 {
		t.Errorf("second stream on growth: %d, %v", n, err)
	}
	tx.Rollback()
	gtx.Rollback()

	// Moving starter to growth lifts its caps on the next request.
	plan := "growth"
	if _, err := s.Tenants.Update(ctx, starter.ID, tenants.Change{Plan: &plan}); err != nil {
		t.Fatal(err)
	}
	if n, err := count(sdb); err != nil || n != 10 {
		t.Errorf("after the upgrade: %d, %v", n, err)
	}
}
