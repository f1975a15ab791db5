package rawsqlite_test

import (
	"sort"
	"strings"
	"testing"

	"github.com/microfi/tenantgate/shard/rawsqlite"
)

func TestCTENames(t *testing.T) {
	for _, tc := range []struct{ sql, want string }{
		{`SELECT 1`, ``},
		{`WITH m AS (SELECT 1) SELECT * FROM m`, `m`},
		{`with RECURSIVE R(n) as (select 1 union all select n+1 from r) select * from r`, `r`},
		{`WITH a AS MATERIALIZED (SELECT 1), "B c"(x, y) AS NOT MATERIALIZED (SELECT 1, 2), [d] AS (SELECT 1) SELECT 1`, `a,b c,d`},
		{"WITH `q``x` AS (SELECT ')' AS p) SELECT 1", "q`x"},
		{`WITH o AS (WITH i AS (SELECT 1) SELECT * FROM i) SELECT * FROM (WITH s AS (SELECT 2) SELECT * FROM s), o`, `i,o,s`},
		// Not CTEs: text in strings and comments, WITHOUT ROWID, a window.
		{`SELECT 'WITH x AS (SELECT 1)' -- WITH y AS (SELECT 1)`, ``},
		{`/* WITH z AS ( */ SELECT 1`, ``},
		{`CREATE TABLE t(a) WITHOUT ROWID`, ``},
		{`SELECT sum(a) OVER w FROM t WINDOW w AS (ORDER BY a)`, ``},
		{`WITH m AS (SELECT 1`, `m`}, // unbalanced: SQLite refuses it anyway
		{`WITH`, ``},
		{"WITH \u212A AS (SELECT 1), K AS (SELECT 1) SELECT 1", "k,\u212A"}, // the Kelvin sign is not folded
	} {
		var got []string
		for n := range rawsqlite.CTENames(tc.sql) {
			got = append(got, n)
		}
		sort.Strings(got)
		if strings.Join(got, ",") != tc.want {
			t.Errorf("%s: %q, want %q", tc.sql, got, tc.want)
		}
	}
	if !rawsqlite.Mentions(`CREATE TRIGGER t AFTER INSERT ON x BEGIN SELECT * FROM "Accounts"; END`, "accounts") ||
		rawsqlite.Mentions(`SELECT 'accounts' -- accounts`, "accounts") {
		t.Error("Mentions")
	}
}

func TestContentTable(t *testing.T) {
	for sql, want := range map[string]string{
		`CREATE VIRTUAL TABLE f USING fts5(a, content='accounts', content_rowid='id')`: "accounts",
		`CREATE VIRTUAL TABLE f USING fts5(a, content = "Users")`:                      "Users",
		`CREATE VIRTUAL TABLE f USING fts5(a, content=[transactions])`:                 "transactions",
		`CREATE VIRTUAL TABLE f USING fts5(content, body)`:                             "",
		`CREATE VIRTUAL TABLE f USING fts5(a, content='')`:                             "",
		`CREATE VIRTUAL TABLE f USING fts5(a, tokenize = 'content=accounts')`:          "",
		`CREATE VIRTUAL TABLE r USING rtree(id, x0, x1)`:                               "",
	} {
		if got := rawsqlite.ContentTable(sql); got != want {
			t.Errorf("%s: %q, want %q", sql, got, want)
		}
	}
}
