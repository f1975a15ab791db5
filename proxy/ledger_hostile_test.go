package proxy_test

// Regression tests for attacks on the ledger with nothing but a tenant's own
// tokens: managed tables are sealed from tenant SQL.

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/microfi/tenantgate/catalog"
	"github.com/microfi/tenantgate/proxy"
	"github.com/microfi/tenantgate/proxy/proxytest"
	"github.com/microfi/tenantgate/shard/bank"
)

// ledgerHolds checks every account's balance against its postings, read
// through the API.
func ledgerHolds(t *testing.T, f *bankFixture) {
	t.Helper()
	sum := map[int64]int64{}
	for _, tx := range f.allTransactions(t, f.tokens[proxy.RoleStaff], "") {
		switch tx.Type {
		case bank.TypeDeposit:
			sum[tx.AccountID] += tx.Amount
		case bank.TypeWithdrawal:
			sum[tx.AccountID] -= tx.Amount
		case bank.TypeTransfer:
			sum[tx.AccountID] -= tx.Amount
			sum[*tx.ToAccountID] += tx.Amount
		}
	}
	for _, id := range []int64{f.aliceAcc.ID, f.bobAcc.ID} {
		if got := f.balance(t, id); got != sum[id] {
			t.Errorf("account %d: balance %d, postings sum to %d", id, got, sum[id])
		}
	}
}

// The skim sequence (a unique index on accounts, a shadow table whose
// foreign key cascades balance changes into it, and a trigger there that
// credits another account) made every teller posting silently credit the
// attacker. Every statement of it is now refused over SQL, and postings
// keep the ledger whole.
func TestHostileSkimSequenceRefused(t *testing.T) {
	sqlTargets(t, "skim", testHostileSkimSequenceRefused)
}

func testHostileSkimSequenceRefused(t *testing.T, s *proxytest.Server, f *bankFixture, svc string) {
	victim := f.bobAcc.ID
	skim := []string{
		`CREATE UNIQUE INDEX shadow_key ON accounts(id, balance)`,
		`CREATE TABLE shadow(aid INTEGER, bal INTEGER, FOREIGN KEY(aid,bal) REFERENCES accounts(id,balance) ON UPDATE CASCADE)`,
		fmt.Sprintf(`CREATE TRIGGER skim AFTER UPDATE ON shadow WHEN NEW.aid <> %d BEGIN UPDATE accounts SET balance = balance + 100 WHERE id = %d; END`, victim, victim),
		`INSERT INTO shadow SELECT id, balance FROM accounts`,
	}
	for _, q := range skim {
		_, resp, raw := hranaDo(t, s, "skim", svc, mustJSON(map[string]any{"requests": []any{
			map[string]any{"type": "execute", "stmt": map[string]any{"sql": q}},
			map[string]any{"type": "close"},
		}}))
		if len(resp.Results) == 0 || resp.Results[0]["type"] != "error" {
			t.Errorf("%s: not refused: %s", q, raw)
		}
	}
	for i := 0; i < 5; i++ {
		r := f.s.Do("POST", f.host, "/api/transactions", f.tokens[proxy.RoleStaff], map[string]any{
			"type": "deposit", "account_id": f.aliceAcc.ID, "amount": 1000, "description": "teller deposit"})
		if r.Status != http.StatusCreated {
			t.Fatalf("deposit: %d %s", r.Status, r.Body)
		}
	}
	ledgerHolds(t, f)
}

// No statement over SQL changes a managed table, whatever it is and
// whoever sends it.
func TestHostileManagedTablesReadOnlyOverSQL(t *testing.T) {
	sqlTargets(t, "sealed", testHostileManagedTablesReadOnlyOverSQL)
}

func testHostileManagedTablesReadOnlyOverSQL(t *testing.T, s *proxytest.Server, f *bankFixture, svc string) {
	before := f.balance(t, f.aliceAcc.ID)
	for _, q := range []string{
		`UPDATE accounts SET balance = balance + 1`,
		`UPDATE accounts SET status = 'active'`,
		`INSERT INTO transactions(tenant_id, account_id, type, amount, currency) VALUES (1, 1, 'deposit', 5, 'GHS')`,
		`DELETE FROM transactions`,
		`UPDATE users SET role = 'admin'`,
		`INSERT INTO users(tenant_id, email, name, password_hash, role) SELECT tenant_id, 'x@y.z', 'X', password_hash, 'admin' FROM users LIMIT 1`,
		`DELETE FROM idempotency_keys`,
		`UPDATE sqlite_sequence SET seq = 9223372036854775807 WHERE name = 'transactions'`,
		`CREATE INDEX slow ON accounts(length(printf('%.*c', CASE WHEN balance > 1e10 THEN 900000000 ELSE 1 END, 'x')))`,
		`CREATE TABLE tg_later(a)`,
		`INSERT INTO accounts(id, tenant_id, user_id, type, currency) SELECT id, tenant_id, user_id, type, currency FROM accounts WHERE true ON CONFLICT(id) DO UPDATE SET balance = balance + 100`,
		`REPLACE INTO tenant_stamp(singleton, tenant_id) VALUES (1, 99)`,
		`INSERT OR REPLACE INTO accounts SELECT * FROM accounts`,
		`ALTER TABLE accounts RENAME COLUMN balance TO bal`,
		`ALTER TABLE transactions DROP COLUMN description`,
		`ALTER TABLE accounts ADD COLUMN shadow INTEGER`,
		`DROP INDEX idx_accounts_tenant_id`,
		`PRAGMA writable_schema = ON`,
		`ATTACH ':memory:' AS side`,
		`SELECT data FROM sqlite_dbpage WHERE pgno = 2`,
		`CREATE TABLE fk_cascade(aid INTEGER REFERENCES accounts(id) ON DELETE CASCADE ON UPDATE CASCADE)`,
		`CREATE VIRTUAL TABLE acct_fts USING fts5(status, content='accounts', content_rowid='id')`,
		`CREATE VIEW relay AS SELECT 1 AS a`,
		`CREATE TRIGGER relay_i INSTEAD OF INSERT ON relay BEGIN UPDATE accounts SET balance = balance + 100; END`,
	} {
		if q == `CREATE VIEW relay AS SELECT 1 AS a` { // the tenant's own: allowed
			_, resp, raw := hranaDo(t, s, "sealed", svc, mustJSON(map[string]any{"requests": []any{
				map[string]any{"type": "execute", "stmt": map[string]any{"sql": q}},
				map[string]any{"type": "close"},
			}}))
			if len(resp.Results) == 0 || resp.Results[0]["type"] != "ok" {
				t.Fatalf("%s: %s", q, raw)
			}
			continue
		}
		_, resp, raw := hranaDo(t, s, "sealed", svc, mustJSON(map[string]any{"requests": []any{
			map[string]any{"type": "execute", "stmt": map[string]any{"sql": q}},
			map[string]any{"type": "close"},
		}}))
		if len(resp.Results) == 0 || resp.Results[0]["type"] != "error" || !strings.Contains(raw, "not authorized") {
			t.Errorf("%s: not refused: %s", q, raw)
		}
	}
	if got := f.balance(t, f.aliceAcc.ID); got != before {
		t.Errorf("balance %d after refused SQL, was %d", got, before)
	}
	ledgerHolds(t, f)
}

// sqlTargets runs a hostile-SQL test against a local tenant and against a
// remote one: the same bank fixture on a shard (another tenantgate), its
// SQL sent through a front proxy whose tenant lives there. f is always
// the shard-side fixture (postings and balances read where the data is);
// s and svc are where the SQL goes. For the remote tenant every refusal
// must come from the front (counted there), never left to the shard.
func sqlTargets(t *testing.T, label string, f func(t *testing.T, s *proxytest.Server, fx *bankFixture, svc string)) {
	t.Run("local", func(t *testing.T) {
		s := proxytest.Start(t, proxytest.Options{})
		fx := newBankFixture(t, s, label, "GH")
		f(t, s, fx, fx.tokens[proxy.RoleService])
	})
	t.Run("remote", func(t *testing.T) {
		origin := proxytest.Start(t, proxytest.Options{})
		fx := newBankFixture(t, origin, label, "GH")
		dbURL := origin.URL + "/t/" + label + "?authToken=" + url.QueryEscape(fx.tokens[proxy.RoleService])
		edge := proxytest.Start(t, proxytest.Options{})
		if _, err := edge.Catalog.Create(context.Background(), catalog.Tenant{ID: fx.tenant.ID, Host: label, Name: "Remote " + label, CountryCode: "GH", DBURL: dbURL}); err != nil {
			t.Fatal(err)
		}
		before := metricValue(t, origin, "tenantgate_hrana_errors_total", "kind", "refused")
		f(t, edge, fx, edge.Token(fx.tenant.ID, proxy.RoleService, 0))
		if n := metricValue(t, edge, "tenantgate_hrana_errors_total", "kind", "refused"); n == 0 {
			t.Error("the front refused nothing")
		}
		if n := metricValue(t, origin, "tenantgate_hrana_errors_total", "kind", "refused"); n != before {
			t.Errorf("the shard refused %v statements: the front let them through", n-before)
		}
	})
}

// Common table expressions over managed tables are plain reads: SQLite
// names a CTE as the "view" behind a read, which the authorizer once
// refused as if the tenant had made a view. Views and triggers of the
// tenant's that read a managed table, through a CTE or not, stay refused.
func TestHostileCTEsAndViews(t *testing.T) {
	sqlTargets(t, "ctes", testHostileCTEsAndViews)
}

func testHostileCTEsAndViews(t *testing.T, s *proxytest.Server, f *bankFixture, svc string) {
	exec := func(q string) (map[string]any, string) {
		t.Helper()
		_, resp, raw := hranaDo(t, s, "ctes", svc, mustJSON(map[string]any{"requests": []any{
			map[string]any{"type": "execute", "stmt": map[string]any{"sql": q}},
			map[string]any{"type": "close"},
		}}))
		if len(resp.Results) == 0 {
			t.Fatalf("%s: %s", q, raw)
		}
		return resp.Results[0], raw
	}
	if r, raw := exec(`CREATE VIEW v AS SELECT 1 AS id`); r["type"] != "ok" {
		t.Fatalf("tenant view: %s", raw)
	}
	for _, q := range []string{
		`WITH m AS (SELECT id FROM accounts) SELECT count(*) FROM m`,
		`WITH v AS (SELECT id FROM accounts) SELECT count(*) FROM v`,
		`WITH a AS (SELECT id FROM accounts), b AS (SELECT id FROM a) SELECT count(*) FROM b`,
		`WITH o AS (WITH i AS (SELECT balance FROM accounts) SELECT * FROM i) SELECT count(*) FROM o`,
		`WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < (SELECT count(*) FROM accounts)) SELECT count(*) FROM r`,
	} {
		r, raw := exec(q)
		if r["type"] != "ok" || !strings.Contains(raw, `"rows":[[{"type":"integer","value":"2"}]]`) {
			t.Errorf("%s: %s", q, raw)
		}
	}
	for _, q := range []string{
		`CREATE VIEW peek AS SELECT * FROM accounts`,
		`CREATE VIEW peek AS WITH m AS (SELECT * FROM accounts) SELECT * FROM m`,
		`CREATE TABLE mine(a)`,
		`CREATE TRIGGER t AFTER INSERT ON mine BEGIN INSERT INTO mine WITH m AS (SELECT balance FROM accounts) SELECT * FROM m; END`,
		`WITH m AS (SELECT id FROM accounts) UPDATE accounts SET balance = balance + 1 WHERE id IN m`,
	} {
		r, raw := exec(q)
		if q == `CREATE TABLE mine(a)` {
			if r["type"] != "ok" {
				t.Fatalf("%s: %s", q, raw)
			}
			continue
		}
		if r["type"] != "error" || !strings.Contains(raw, "not authorized") {
			t.Errorf("%s: not refused: %s", q, raw)
		}
	}
	ledgerHolds(t, f)
}

// Customers, tellers and administrators have no SQL at all: every SQL
// route answers 403 to their tokens (with a write to a managed table in the
// body), a WebSocket hello with one is refused, and nothing changes.
func TestHostileSQLForTenantRoles(t *testing.T) {
	s := proxytest.Start(t, proxytest.Options{})
	f := newBankFixture(t, s, "roles", "GH")
	before := f.balance(t, f.aliceAcc.ID)
	body := mustJSON(map[string]any{"requests": []any{
		map[string]any{"type": "execute", "stmt": map[string]any{"sql": `UPDATE accounts SET balance = balance + 100`}},
	}})
	cursor := mustJSON(map[string]any{"batch": map[string]any{"steps": []any{
		map[string]any{"stmt": map[string]any{"sql": `UPDATE accounts SET balance = balance + 100`}},
	}}})
	for _, role := range []string{proxy.RoleCustomer, proxy.RoleStaff, proxy.RoleAdmin} {
		tok := f.tokens[role]
		for _, r := range []struct{ path, body string }{
			{"/v2/pipeline", body}, {"/v3/pipeline", body}, {"/v3/cursor", cursor},
			{"/v3-protobuf/pipeline", ""}, {"/v3-protobuf/cursor", ""},
		} {
			resp := s.Do("POST", f.host, r.path, tok, r.body)
			if resp.Status != http.StatusForbidden {
				t.Errorf("%s token, POST %s: %d %s", role, r.path, resp.Status, resp.Body)
			}
		}
		// Over WebSocket the token comes in the hello.
		c, resp, err := wsDial(t, s, f.host, "/", "", "hrana2")
		if err != nil {
			t.Fatalf("dial: %v (%v)", err, resp)
		}
		if r := wsRoundTrip(t, c, `{"type":"hello","jwt":"`+tok+`"}`); r["type"] != "hello_error" {
			t.Errorf("%s token, WebSocket hello: %v", role, r)
		}
		c.Close()
	}
	if got := f.balance(t, f.aliceAcc.ID); got != before {
		t.Errorf("balance %d, was %d", got, before)
	}
	ledgerHolds(t, f)
}
