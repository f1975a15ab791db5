package proxy_test

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/microfi/tenantgate/proxy"
	"github.com/microfi/tenantgate/proxy/proxytest"
)

// Issue 14, WAL: a read-only token holding BEGIN; SELECT open with a
// keepalive every 2 s grew the WAL to 135 MB in 5 s of writes. Now the
// stream holding the snapshot is cut off after the limit with a clear
// error, and the checkpointer truncates the WAL once it passes its bound.
func TestWALBounded(t *testing.T) {
	const limit = time.Second
	// Under the race detector SQLite runs many times slower: an eighth of
	// the sizes.
	scale := int64(1)
	if raceEnabled {
		scale = 8
	}
	bound, blob := int64(1<<20)/scale, 262144/scale
	s := proxytest.Start(t, proxytest.Options{WALCheckpointBytes: bound, Configure: func(c *proxy.Config) {
		c.Hrana.MaxSnapshotAge = limit
		c.Hrana.StreamIdleTimeout = time.Minute
	}})
	tn := s.CreateTenant("walbank")
	writer := s.Token(tn.ID, proxy.RoleService, 0)
	reader, _, err := s.Auth.Issue(proxy.Claims{Role: proxy.RoleService, TenantID: proxy.Int(tn.ID), Access: "ro"}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if _, res := hranaStmt(t, s, "walbank", writer, "CREATE TABLE w(b BLOB)"); res["type"] != "ok" {
		t.Fatalf("create: %v", res)
	}
	status, r, raw := hranaDo(t, s, "walbank", reader, `{"requests":[{"type":"execute","stmt":{"sql":"BEGIN"}},{"type":"execute","stmt":{"sql":"SELECT count(*) FROM w"}}]}`)
	if status != 200 || r.Baton == nil {
		t.Fatalf("begin: %d %s", status, raw)
	}
	baton := *r.Baton
	start := time.Now()
	cut := time.Duration(0)
	wal := s.DataDir + fmt.Sprintf("/tenants/%d.db-wal", tn.ID)
	peak := int64(0)
	for i := range 100 { // 25 MB of writes (race: 3 MB), a keepalive on the reader every tenth
		if _, res := hranaStmt(t, s, "walbank", writer, fmt.Sprintf("INSERT INTO w SELECT randomblob(%d)", blob)); res["type"] != "ok" {
			t.Fatalf("write %d: %v", i, res)
		}
		if fi, err := os.Stat(wal); err == nil {
			peak = max(peak, fi.Size())
		}
		if i%10 != 9 || cut != 0 {
			continue
		}
		status, r, raw := hranaDo(t, s, "walbank", reader, `{"baton":"`+baton+`","requests":[{"type":"execute","stmt":{"sql":"SELECT 1"}}]}`)
		switch {
		case status == 200 && r.Baton != nil:
			baton = *r.Baton
		case status == 400 && r.Code == "SNAPSHOT_TOO_OLD" && strings.Contains(r.Message, "read snapshot"):
			cut = time.Since(start)
		default:
			t.Fatalf("keepalive: %d %s", status, raw)
		}
	}
	if cut == 0 {
		if took := time.Since(start); took < 3*limit {
			t.Skipf("the writes took only %v: too fast to see the cut", took)
		}
		t.Fatal("the reader held its snapshot through every write")
	}
	if cut < limit {
		t.Fatalf("cut off after %v, limit %v", cut, limit)
	}
	// The checkpointer truncates the WAL once nothing holds it.
	deadline := time.Now().Add(10 * time.Second)
	for {
		fi, err := os.Stat(wal)
		if err != nil || fi.Size() <= bound {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("WAL still %d bytes (peak %d) 10 s after the writes", fi.Size(), peak)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if v := counter(t, s, "tenantgate_hrana_snapshot_cuts_total"); v != 1 {
		t.Fatalf("snapshot cuts = %v", v)
	}
	// The checkpointer, or SQLite's own checkpoint when the last
	// connection of the file closes, brought it back under the bound.
	truncated := counter(t, s, "tenantgate_tenant_wal_checkpoints_total", "result", "truncated")
	t.Logf("WAL peak %d bytes, bound %d, cut off after %v, truncating checkpoints %v", peak, bound, cut, truncated)
	// The data is all there.
	if n := hranaInt(t, s, "walbank", writer, "SELECT count(*) FROM w"); n != 100 {
		t.Fatalf("%d rows after the checkpoints", n)
	}
}
