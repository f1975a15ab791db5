package seal_test

import (
	"context"
	"database/sql"
	"strings"
	"testing"

	"github.com/microfi/tenantgate/shard/rawsqlite"
	"github.com/microfi/tenantgate/shard/seal"
)

// count runs a one-value query on the SQL engine.
func count(tb testing.TB, c *rawsqlite.Conn, q string) string {
	tb.Helper()
	st, _, err := c.Prepare(q)
	if err != nil {
		tb.Fatalf("%s: %v", q, err)
	}
	defer st.Finalize()
	row, err := st.Step()
	if err != nil || !row {
		tb.Fatalf("%s: row %v, %v", q, row, err)
	}
	return st.ColumnText(0)
}

// SQLite names a common table expression as the "view" behind a read, like
// a real view. Reading a managed table through the statement's own CTEs is
// a plain read and is allowed (managed tables are read-only, not hidden);
// a view or trigger of the tenant's that reads one, through a CTE or not,
// stays refused.
func TestCTEReadsOfManagedTables(t *testing.T) {
	path := tenantDB(t, 4)
	before := schema(t, path)
	c := engine(t, path)
	mustExec(t, c, `CREATE TABLE mine(id INTEGER PRIMARY KEY, v INTEGER)`)
	// A view of the tenant's own that CTEs below shadow by name.
	mustExec(t, c, `CREATE VIEW v AS SELECT id FROM mine`)
	mustExec(t, c, `INSERT INTO mine(v) VALUES (1), (2)`)
	for _, q := range []string{
		`WITH m AS (SELECT id FROM accounts) SELECT count(*) FROM m`,
		`WITH M AS (SELECT id FROM accounts) SELECT count(*) FROM m`,
		`WITH "odd name" AS (SELECT balance FROM accounts) SELECT count(*) FROM [odd name]`,
		`WITH v AS (SELECT id FROM accounts) SELECT count(*) FROM v`,              // shadows the view v
		`WITH v(n) AS MATERIALIZED (SELECT id FROM users) SELECT count(*) FROM v`, // and again, materialized
		`WITH a AS (SELECT id FROM accounts), b AS NOT MATERIALIZED (SELECT id FROM a) SELECT count(*) FROM b`,
		`WITH o AS (WITH i AS (SELECT balance FROM accounts) SELECT * FROM i) SELECT count(*) FROM o`,
		`SELECT (SELECT count(*) FROM (WITH s AS (SELECT amount FROM transactions) SELECT * FROM s)) + (SELECT count(*) FROM mine)`,
		`WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < (SELECT count(*) + 3 FROM accounts)) SELECT count(*) FROM r`,
		`WITH RECURSIVE r(id) AS (SELECT min(id) FROM users UNION SELECT u.id FROM users u JOIN r ON u.id > r.id) SELECT count(*) FROM r`,
		`/* WITH x AS (SELECT 1) */ WITH m AS (SELECT id FROM accounts) SELECT count(*) FROM m -- WITH`,
		`WITH m AS (SELECT id FROM accounts) SELECT count(*) FROM m JOIN v ON v.id = m.id`, // the real view, beside the CTE
	} {
		count(t, c, q)
	}
	// Writes through a CTE stay refused.
	refused(t, c, `WITH m AS (SELECT id FROM accounts) UPDATE accounts SET balance = 0 WHERE id IN (SELECT id FROM m)`)
	refused(t, c, `WITH m AS (SELECT id FROM accounts) INSERT INTO accounts SELECT * FROM accounts WHERE id IN m`)
	// The tenant's objects may not read a managed table through a CTE of
	// their own either.
	refused(t, c, `CREATE VIEW cv AS WITH m AS (SELECT id FROM accounts) SELECT * FROM m`)
	refused(t, c, `CREATE VIEW cv AS WITH v AS (SELECT id FROM accounts) SELECT * FROM v`)
	refused(t, c, `CREATE TEMP VIEW cv AS WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < (SELECT count(*) FROM accounts)) SELECT * FROM r`)
	refused(t, c, `CREATE TRIGGER ct AFTER INSERT ON mine BEGIN INSERT INTO mine(v) WITH m AS (SELECT balance FROM accounts) SELECT count(*) FROM m; END`)
	refused(t, c, `CREATE TRIGGER ct AFTER INSERT ON mine WHEN (WITH q AS (SELECT balance FROM accounts) SELECT count(*) FROM q) > 0 BEGIN SELECT 1; END`)
	refused(t, c, `CREATE VIEW cv AS SELECT count(*) AS n FROM accounts`)
	// Temporary objects of the tenant's own, also on main tables.
	mustExec(t, c, `CREATE TEMP TRIGGER tt AFTER INSERT ON main.mine BEGIN SELECT 1; END`)
	mustExec(t, c, `CREATE TEMP VIEW tv AS SELECT * FROM main.mine`)
	mustExec(t, c, `INSERT INTO mine(v) VALUES (3)`)
	refused(t, c, `CREATE TEMP TRIGGER tt2 AFTER INSERT ON main.mine BEGIN SELECT count(*) FROM accounts; END`)
	refused(t, c, `CREATE TEMP TRIGGER tt2 AFTER DELETE ON main.mine BEGIN SELECT * FROM (WITH x AS (SELECT id FROM users) SELECT * FROM x); END`)
	mustExec(t, c, `DROP TRIGGER tt`)
	mustExec(t, c, `DROP VIEW tv`)
	// A cached statement compiled again after a schema change (SQLite
	// re-prepares it inside Step) keeps its CTE exemption.
	st, _, err := c.Prepare(`WITH m AS (SELECT id FROM accounts) SELECT count(*) FROM m`)
	if err != nil {
		t.Fatal(err)
	}
	mustExec(t, c, `CREATE TABLE later(a)`)
	if row, err := st.Step(); err != nil || !row {
		t.Errorf("after a schema change: row %v, %v", row, err)
	}
	st.Finalize()
	mustExec(t, c, `DROP TABLE later`)
	mustExec(t, c, `DROP VIEW v`)
	mustExec(t, c, `DROP TABLE mine`)
	if got := schema(t, path); got != before {
		t.Errorf("schema changed:\n%s\nwant\n%s", got, before)
	}
}

// A database bent with plain SQLite so that a view and triggers of the
// tenant's read accounts through CTEs: the SQL engine refuses to run them,
// and the audit names the view and triggers themselves (the CTE names are
// what SQLite reports), so repairing drops the right objects.
func TestBentCTEObjects(t *testing.T) {
	path := tenantDB(t, 4)
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		`CREATE TABLE mine(id INTEGER PRIMARY KEY, v INTEGER)`,
		`CREATE TABLE hop(a)`,
		`CREATE VIEW ok AS SELECT id FROM mine`,
		`CREATE TRIGGER ok_t AFTER INSERT ON mine BEGIN INSERT INTO hop VALUES (NEW.v); END`,
		`CREATE VIEW bv AS WITH m AS (SELECT id FROM accounts) SELECT * FROM m`,
		`CREATE VIEW bc AS SELECT count(*) AS n FROM accounts`,
		`CREATE TRIGGER bt AFTER INSERT ON mine WHEN (WITH q AS (SELECT balance FROM accounts) SELECT count(*) FROM q) > 0 BEGIN SELECT 1; END`,
		`CREATE TRIGGER bt2 AFTER UPDATE ON mine BEGIN SELECT * FROM (WITH z AS (SELECT email FROM users) SELECT * FROM z); END`,
		`CREATE TRIGGER hop_t AFTER INSERT ON hop BEGIN SELECT * FROM (WITH y AS (SELECT amount FROM transactions) SELECT * FROM y); END`,
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	db.Close()
	// The engine without the audit that runs on open.
	c, err := rawsqlite.Open(path, rawsqlite.Options{SchemaCheck: seal.Check})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	refused(t, c, `SELECT * FROM bv`)
	refused(t, c, `WITH x AS (SELECT 1) SELECT * FROM bv`)
	refused(t, c, `INSERT INTO mine(v) VALUES (1)`)
	refused(t, c, `UPDATE mine SET v = 2`)
	count(t, c, `SELECT count(*) FROM ok`)
	found, err := seal.Audit(context.Background(), seal.Raw(c))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range found {
		got = append(got, f.Type+" "+f.Object+" "+f.Table)
	}
	want := "view bc accounts|trigger bt accounts|trigger bt2 users|view bv accounts|trigger hop_t transactions"
	if strings.Join(got, "|") != want {
		t.Errorf("findings:\n%s\nwant\n%s", strings.Join(got, "|"), want)
	}
	for _, f := range found {
		if err := c.Internal(func() error { return c.Exec(f.DropSQL()) }); err != nil {
			t.Fatal(err)
		}
	}
	if found, err := seal.Audit(context.Background(), seal.Raw(c)); err != nil || len(found) != 0 {
		t.Errorf("after repair: %v, %v", found, err)
	}
	mustExec(t, c, `INSERT INTO mine(v) VALUES (1)`)
	count(t, c, `SELECT count(*) FROM hop`)
}
