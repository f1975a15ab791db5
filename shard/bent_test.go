package shard_test

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"testing"

	"github.com/microfi/tenantgate/shard"
	"github.com/microfi/tenantgate/shard/bank"
)

// bend runs SQL on a tenant database with plain SQLite, as the old binary
// let tenant SQL do (no authorizer).
func bend(tb testing.TB, path string, stmts ...string) {
	tb.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(10000)") // Evict closes the manager's pool in the background
	if err != nil {
		tb.Fatal(err)
	}
	defer db.Close()
	for _, q := range stmts {
		if _, err := db.Exec(q); err != nil {
			tb.Fatalf("%s: %v", q, err)
		}
	}
}

func ledgerSums(tb testing.TB, db *sql.DB) map[int64][2]int64 {
	tb.Helper()
	rows, err := db.Query(`SELECT a.id, a.balance,
		coalesce((SELECT sum(CASE WHEN t.account_id = a.id AND t.type IN ('withdrawal','transfer') THEN -t.amount ELSE t.amount END)
		          FROM transactions t WHERE t.account_id = a.id OR t.to_account_id = a.id), 0) FROM accounts a`)
	if err != nil {
		tb.Fatal(err)
	}
	defer rows.Close()
	out := map[int64][2]int64{}
	for rows.Next() {
		var id, bal, sum int64
		rows.Scan(&id, &bal, &sum)
		out[id] = [2]int64{bal, sum}
	}
	return out
}

// A database bent by the old binary (the skim sequence, an expression index
// that made each posting take seconds) is caught when opened: the
// data-less objects are dropped, and a tenant table with a foreign key into
// accounts keeps the database refused until it is removed.
func TestBentDatabaseCaughtOnOpen(t *testing.T) {
	ctx := context.Background()
	m := newManager(t, 10)
	mustProvision(t, m, 4)
	h, err := m.Acquire(ctx, 4, "")
	if err != nil {
		t.Fatal(err)
	}
	st := bank.New(h.DB, 4)
	u, err := st.CreateUser(ctx, bank.NewUser{Email: "a@b.example", Name: "A", Password: "correct horse battery 7", Role: "customer"})
	if err != nil {
		t.Fatal(err)
	}
	var accts []int64
	for range 2 {
		a, err := st.CreateAccount(ctx, bank.NewAccount{UserID: u.ID, Type: "savings", Currency: "GHS"})
		if err != nil {
			t.Fatal(err)
		}
		accts = append(accts, a.ID)
	}
	path := h.Path()
	h.Release()
	m.Evict(4)
	bend(t, path,
		`CREATE UNIQUE INDEX shadow_key ON accounts(id, balance)`,
		`CREATE TABLE shadow(aid INTEGER, bal INTEGER, FOREIGN KEY(aid,bal) REFERENCES accounts(id,balance) ON UPDATE CASCADE)`,
		`CREATE TRIGGER skim AFTER UPDATE ON shadow WHEN NEW.aid <> 2 BEGIN UPDATE accounts SET balance = balance + 100 WHERE id = 2; END`,
		`INSERT INTO shadow SELECT id, balance FROM accounts`,
		`CREATE INDEX slow ON accounts(length(printf('%.*c', CASE WHEN balance > 1e10 THEN 900000000 ELSE 1 END, 'x')))`,
		`CREATE TRIGGER on_tx AFTER INSERT ON transactions BEGIN SELECT 1; END`,
		`CREATE VIEW peek AS SELECT * FROM users`,
		`CREATE VIEW peek_cte AS WITH m AS (SELECT id, balance FROM accounts) SELECT * FROM m`,
		`CREATE TRIGGER skim_cte AFTER INSERT ON shadow BEGIN SELECT * FROM (WITH q AS (SELECT balance FROM accounts) SELECT * FROM q); END`,
		`CREATE TABLE tg_squat(a)`,
	)
	_, err = m.Acquire(ctx, 4, "")
	if !errors.Is(err, shard.ErrUnavailable) || !strings.Contains(err.Error(), "shadow") {
		t.Fatalf("bent database served: %v", err)
	}
	// The operator removes the tenant's offending table; the rest is repaired on open.
	bend(t, path, `CREATE TABLE shadow2(a)`,
		`CREATE TRIGGER skim_cte2 AFTER INSERT ON shadow2 BEGIN SELECT * FROM (WITH q AS (SELECT balance FROM accounts) SELECT * FROM q); END`,
		`DROP TABLE shadow`, `DROP TABLE tg_squat`)
	h, err = m.Acquire(ctx, 4, "")
	if err != nil {
		t.Fatalf("after the operator's fix: %v", err)
	}
	defer h.Release()
	var left int
	h.DB.QueryRow(`SELECT count(*) FROM sqlite_schema WHERE name IN ('shadow_key','skim','slow','on_tx','peek','peek_cte','skim_cte2')`).Scan(&left)
	if left != 0 {
		t.Errorf("%d foreign objects left after open", left)
	}
	st = bank.New(h.DB, 4)
	for i := 0; i < 3; i++ {
		if _, err := st.Post(ctx, bank.Posting{Type: "deposit", AccountID: accts[0], Amount: 1000}, bank.PostOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	for id, v := range ledgerSums(t, h.DB) {
		if v[0] != v[1] {
			t.Errorf("account %d: balance %d, postings %d", id, v[0], v[1])
		}
	}
}

// A trigger planted while the database is open (behind the audit's back)
// fails the bank's statement instead of riding along in it.
func TestBankConnectionsRefuseForeignTriggers(t *testing.T) {
	ctx := context.Background()
	m := newManager(t, 10)
	mustProvision(t, m, 5)
	h, err := m.Acquire(ctx, 5, "")
	if err != nil {
		t.Fatal(err)
	}
	defer h.Release()
	st := bank.New(h.DB, 5)
	u, _ := st.CreateUser(ctx, bank.NewUser{Email: "a@b.example", Name: "A", Password: "correct horse battery 7", Role: "customer"})
	a, err := st.CreateAccount(ctx, bank.NewAccount{UserID: u.ID, Type: "savings", Currency: "GHS"})
	if err != nil {
		t.Fatal(err)
	}
	bend(t, h.Path(),
		`CREATE TABLE loot(n)`,
		`CREATE TRIGGER siphon AFTER UPDATE ON accounts BEGIN INSERT INTO loot VALUES (NEW.balance); END`)
	_, err = st.Post(ctx, bank.Posting{Type: "deposit", AccountID: a.ID, Amount: 500}, bank.PostOptions{})
	if err == nil {
		t.Fatal("a posting ran a tenant's trigger on accounts")
	}
	var n int
	h.DB.QueryRow(`SELECT count(*) FROM transactions`).Scan(&n)
	if n != 0 {
		t.Errorf("%d postings recorded", n)
	}
	// Limits: no value past the SQL engine's length limit on bank connections either.
	if _, err := h.DB.ExecContext(ctx, `SELECT length(zeroblob(100000000))`); err == nil {
		t.Error("a 100 MB value was built on a bank connection")
	}
	var trusted int
	if err := h.DB.QueryRow(`PRAGMA trusted_schema`).Scan(&trusted); err != nil || trusted != 0 {
		t.Errorf("trusted_schema = %d, %v", trusted, err)
	}
	var sync int
	if err := h.DB.QueryRow(`PRAGMA synchronous`).Scan(&sync); err != nil || sync != 2 {
		t.Errorf("synchronous = %d, want 2 (FULL), %v", sync, err)
	}
}
