package hrana_test

import (
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	_ "modernc.org/sqlite"

	"github.com/microfi/tenantgate/proxy/hrana"
	"github.com/microfi/tenantgate/shard"
)

func fileHash(tb testing.TB, path string) string {
	tb.Helper()
	f, err := os.Open(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	io.Copy(h, f)
	return hex.EncodeToString(h.Sum(nil))
}

// dump returns a tenant database's schema and stamp, read outside Hrana.
func dump(tb testing.TB, path string) string {
	tb.Helper()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		tb.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Query(`SELECT type || ' ' || name || ' ' || coalesce(sql, '') FROM sqlite_schema ORDER BY name`)
	if err != nil {
		tb.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		rows.Scan(&s)
		out = append(out, s)
	}
	var stamp, users, migrationsN int64
	db.QueryRow(`SELECT tenant_id FROM tenant_stamp`).Scan(&stamp)
	db.QueryRow(`SELECT count(*) FROM users`).Scan(&users)
	db.QueryRow(`SELECT count(*) FROM schema_migrations`).Scan(&migrationsN)
	out = append(out, "stamp", itoa(int(stamp)), "users", itoa(int(users)), "migrations", itoa(int(migrationsN)))
	return strings.Join(out, "\n")
}

// TestSafetyRefusals sends each dangerous statement through Hrana: each is
// a per-request error (never an HTTP error), the stream stays usable, and
// nothing changes on disk, in this tenant's file or the neighbour's.
func TestSafetyRefusals(t *testing.T) {
	servers(t, hrana.Config{}, testSafetyRefusals)
}

func testSafetyRefusals(t *testing.T, s *testServer) {
	before := dump(t, s.Paths[1])
	otherHash := fileHash(t, s.Paths[2])
	into := filepath.Join(t.TempDir(), "stolen.db")
	cases := []struct{ sql, code, text string }{
		{"ATTACH DATABASE '" + s.Paths[2] + "' AS other", "SQLITE_AUTH", "ATTACH"},
		{"ATTACH '" + into + "' AS n", "SQLITE_AUTH", "ATTACH"},
		{"SELECT load_extension('" + into + "')", "SQLITE_AUTH", "load_extension"},
		{"VACUUM INTO '" + into + "'", "SQLITE_AUTH", "VACUUM"},
		{"DROP TABLE tenant_stamp", "SQLITE_AUTH", "tenant_stamp"},
		{"DELETE FROM tenant_stamp", "SQLITE_AUTH", "tenant_stamp"},
		{"UPDATE tenant_stamp SET tenant_id = 2", "SQLITE_AUTH", "tenant_stamp"},
		{"ALTER TABLE tenant_stamp RENAME TO x", "SQLITE_AUTH", "tenant_stamp"},
		{"DROP TRIGGER users_tenant_guard_insert", "SQLITE_AUTH", "users_tenant_guard_insert"},
		{"DROP TABLE users", "SQLITE_AUTH", "users"},
		{"DELETE FROM schema_migrations", "SQLITE_AUTH", "schema_migrations"},
		{"PRAGMA writable_schema = 1", "SQLITE_AUTH", "writable_schema"},
		{"PRAGMA journal_mode = OFF", "SQLITE_AUTH", "journal_mode"},
		{"PRAGMA trusted_schema = 1", "SQLITE_AUTH", "trusted_schema"},
		{"INSERT INTO users(tenant_id, email, name, password_hash, role) VALUES (2, 'x@y', 'X', 'h', 'staff')", "SQLITE_AUTH", "managed"},
		{"INSERT INTO accounts(tenant_id, user_id, type, currency) VALUES (2, 1, 'savings', 'GHS')", "SQLITE_AUTH", "managed"},
	}
	reqs := make([]string, 0, len(cases)+1)
	for _, c := range cases {
		b, _ := json.Marshal(c.sql)
		reqs = append(reqs, `{"type":"execute","stmt":{"sql":`+string(b)+`}}`)
	}
	reqs = append(reqs, `{"type":"execute","stmt":{"sql":"SELECT tenant_id FROM tenant_stamp"}}`)
	r := s.pipeline(`{"requests":[` + strings.Join(reqs, ",") + `]}`)
	for i, c := range cases {
		code, msg := r.errCode(t, i)
		if code != c.code || !strings.Contains(msg, c.text) {
			t.Errorf("%s: %s %q, want %s containing %q", c.sql, code, msg, c.code, c.text)
		}
	}
	eq(t, "stream still usable", r.rows(t, len(cases)), `[[{"type":"integer","value":"1"}]]`)
	if r.baton() == "" {
		t.Error("stream closed by a refusal")
	}
	if _, err := os.Stat(into); !os.IsNotExist(err) {
		t.Errorf("%s was created", into)
	}
	if after := dump(t, s.Paths[1]); after != before {
		t.Errorf("tenant database changed:\n%s\n---\n%s", before, after)
	}
	if fileHash(t, s.Paths[2]) != otherHash {
		t.Error("the other tenant's file changed")
	}
	if got := s.mustCounter(t, "tenantgate_hrana_errors_total", "refused").value(); got < 14 {
		t.Errorf("refused errors counted = %v", got)
	}
}

func (s *testServer) mustCounter(tb testing.TB, name, kind string) *counterProbe {
	return &counterProbe{s: s, tb: tb, name: name, kind: kind}
}

// counterProbe reads one labelled counter from the registry.
type counterProbe struct {
	s          *testServer
	tb         testing.TB
	name, kind string
}

func (c *counterProbe) value() float64 {
	mfs, err := c.s.Reg.Gather()
	if err != nil {
		c.tb.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != c.name {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetValue() == c.kind {
					return m.GetCounter().GetValue()
				}
			}
			if c.kind == "" {
				if m.GetCounter() != nil {
					return m.GetCounter().GetValue()
				}
				return m.GetGauge().GetValue()
			}
		}
	}
	return 0
}

func TestReadOnlyTarget(t *testing.T) { servers(t, hrana.Config{}, testReadOnlyTarget) }

func testReadOnlyTarget(t *testing.T, s *testServer) {
	s.pipeline(`{"requests":[{"type":"execute","stmt":{"sql":"CREATE TABLE notes(a)"}},{"type":"close"}]}`).ok(t, 0)
	r := s.pipeline(`{"requests":[{"type":"execute","stmt":{"sql":"INSERT INTO notes VALUES (1)"}},{"type":"execute","stmt":{"sql":"SELECT count(*) FROM notes"}}]}`, "X-Test-RO", "1")
	if code, _ := r.errCode(t, 0); code != "SQLITE_READONLY" {
		t.Errorf("write on read-only = %s", code)
	}
	eq(t, "read works", r.rows(t, 1), `[[{"type":"integer","value":"0"}]]`)
}

func TestStatementTimeoutKeepsStream(t *testing.T) {
	s := newTestServer(t, hrana.Config{StatementTimeout: 100 * time.Millisecond})
	r := s.pipeline(`{"requests":[{"type":"execute","stmt":{"sql":"WITH RECURSIVE r(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM r) SELECT count(*) FROM r"}},{"type":"execute","stmt":{"sql":"SELECT 42"}}]}`)
	code, msg := r.errCode(t, 0)
	if code != "SQLITE_INTERRUPT" || !strings.Contains(msg, "timeout") {
		t.Errorf("runaway = %s %q", code, msg)
	}
	eq(t, "next statement", r.rows(t, 1), `[[{"type":"integer","value":"42"}]]`)
	r = s.pipeline(`{"baton":"` + r.baton() + `","requests":[{"type":"execute","stmt":{"sql":"SELECT 1"}}]}`)
	r.ok(t, 0)
}

func TestLimits(t *testing.T) {
	servers(t, hrana.Config{MaxRowsPerResponse: 10, MaxResponseBytes: 4096, MaxStatementsPerRequest: 3}, testLimits)
}

func testLimits(t *testing.T, s *testServer) {
	r := s.pipeline(`{"requests":[
		{"type":"execute","stmt":{"sql":"WITH RECURSIVE r(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM r WHERE i < 11) SELECT i FROM r"}},
		{"type":"execute","stmt":{"sql":"SELECT zeroblob(8000)"}},
		{"type":"execute","stmt":{"sql":"SELECT 1"}}]}`)
	for i := 0; i < 2; i++ {
		if code, _ := r.errCode(t, i); code != "RESPONSE_TOO_LARGE" {
			t.Errorf("results[%d] = %s", i, code)
		}
	}
	r.ok(t, 2)
	r = s.pipeline(`{"requests":[{"type":"sequence","sql":"SELECT 1; SELECT 2; SELECT 3; SELECT 4"}]}`)
	if code, _ := r.errCode(t, 0); code != "STATEMENT_LIMIT" {
		t.Errorf("sequence over limit = %s", code)
	}
	big := s.do("POST", "/v2/pipeline", `{"requests":[{"type":"close"},{"type":"close"},{"type":"close"},{"type":"close"}]}`)
	if big.Status != 400 {
		t.Errorf("too many requests: %d", big.Status)
	}
}

func TestStreamCapPerTenant(t *testing.T) {
	servers(t, hrana.Config{MaxStreamsPerTenant: 2}, testStreamCapPerTenant)
}

func testStreamCapPerTenant(t *testing.T, s *testServer) {
	s.pipeline(`{"requests":[]}`)
	s.pipeline(`{"requests":[]}`)
	r := s.do("POST", "/v2/pipeline", `{"requests":[]}`)
	if r.Status != 429 || r.Body["error"] != "Too many requests" {
		t.Errorf("third stream: %d %s", r.Status, r.Raw)
	}
	// Another tenant is not affected.
	s.pipeline(`{"requests":[]}`, "X-Test-Tenant", "2")
	if got := (&counterProbe{s: s, tb: t, name: "tenantgate_hrana_streams_open"}).value(); got != 3 {
		t.Errorf("open streams gauge = %v", got)
	}
}

func TestEvictionClosesStreams(t *testing.T) { servers(t, hrana.Config{}, testEvictionClosesStreams) }

func testEvictionClosesStreams(t *testing.T, s *testServer) {
	b := s.pipeline(`{"requests":[{"type":"execute","stmt":{"sql":"BEGIN IMMEDIATE"}}]}`).baton()
	s.evict(1)
	waitFor(t, 2*time.Second, func() bool {
		return (&counterProbe{s: s, tb: t, name: "tenantgate_hrana_streams_open"}).value() == 0
	})
	// It did not expire: it was closed with its database, and says so.
	r := s.do("POST", "/v2/pipeline", `{"baton":"`+b+`","requests":[]}`)
	if r.Status != 400 || r.Body["code"] != "STREAM_CLOSED" {
		t.Errorf("evicted stream: %d %s", r.Status, r.Raw)
	}
	// The write lock was released: another connection can write.
	db, err := sql.Open("sqlite", s.Paths[1]+"?_pragma=busy_timeout(100)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	// (A remote front closes the shard's stream in the background.)
	var werr error
	waitFor(t, 5*time.Second, func() bool {
		_, werr = db.Exec(`CREATE TABLE IF NOT EXISTS after_evict(x)`)
		return werr == nil
	})
	// The tenant reopened (a new Done) works again.
	s.exec("SELECT 1")
}

func TestMetricsCount(t *testing.T) { servers(t, hrana.Config{}, testMetricsCount) }

func testMetricsCount(t *testing.T, s *testServer) {
	s.exec("SELECT 1")
	s.exec("CREATE TABLE m(x)")
	s.do("POST", "/v2/pipeline", `{"baton":"bogus","requests":[]}`)
	for _, c := range []struct {
		name, kind string
		min        float64
	}{
		{"tenantgate_hrana_pipelines_total", "v2", 3},
		{"tenantgate_hrana_statements_total", "read", 1},
		{"tenantgate_hrana_statements_total", "write", 1},
		{"tenantgate_hrana_errors_total", "baton", 1},
	} {
		if got := (&counterProbe{s: s, tb: t, name: c.name, kind: c.kind}).value(); got < c.min {
			t.Errorf("%s{%s} = %v, want >= %v", c.name, c.kind, got, c.min)
		}
	}
}

func TestRequestTimeout(t *testing.T) {
	s := newTestServer(t, hrana.Config{RequestTimeout: 200 * time.Millisecond})
	slow := `{"type":"execute","stmt":{"sql":"WITH RECURSIVE r(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM r) SELECT count(*) FROM r"}}`
	r := s.pipeline(`{"requests":[` + slow + `,` + slow + `,{"type":"execute","stmt":{"sql":"SELECT 1"}}]}`)
	if code, msg := r.errCode(t, 0); code != "SQLITE_INTERRUPT" || !strings.Contains(msg, "timeout") {
		t.Errorf("first = %s %q", code, msg)
	}
	for i := 1; i < 3; i++ {
		if code, _ := r.errCode(t, i); code != "REQUEST_TIMEOUT" {
			t.Errorf("results[%d] = %s", i, code)
		}
	}
	// The next request has its own time.
	r = s.pipeline(`{"baton":"` + r.baton() + `","requests":[{"type":"execute","stmt":{"sql":"SELECT 1"}}]}`)
	r.ok(t, 0)
}

func TestIdleConnectionsAreReaped(t *testing.T) {
	s := newTestServer(t, hrana.Config{}, func(c *shard.Config) { c.RawIdleTimeout = 200 * time.Millisecond })
	s.exec("SELECT 1")
	idle := &counterProbe{s: s, tb: t, name: "tenantgate_tenant_db_raw_connections_idle"}
	if got := idle.value(); got != 1 {
		t.Fatalf("idle connections after a request = %v", got)
	}
	waitFor(t, 3*time.Second, func() bool { return idle.value() == 0 })
	s.exec("SELECT 1") // a new connection opens on demand
}
