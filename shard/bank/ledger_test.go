package bank_test

import (
	"context"
	"database/sql"
	"testing"
)

// assertLedger checks the money invariants straight from the database: no
// negative balance, every balance equals the sum of its postings, and the
// total equals deposits minus withdrawals.
func assertLedger(tb testing.TB, db *sql.DB, tenantID int64) {
	tb.Helper()
	ctx := context.Background()
	rows, err := db.QueryContext(ctx, `
		SELECT a.id, a.balance,
		  COALESCE((SELECT SUM(CASE
		      WHEN t.type = 'deposit' THEN t.amount
		      WHEN t.type = 'withdrawal' THEN -t.amount
		      WHEN t.type = 'transfer' AND t.account_id = a.id THEN -t.amount
		      ELSE t.amount END)
		    FROM transactions t WHERE t.tenant_id = a.tenant_id AND (t.account_id = a.id OR t.to_account_id = a.id)), 0)
		FROM accounts a WHERE a.tenant_id = ?`, tenantID)
	if err != nil {
		tb.Fatal(err)
	}
	defer rows.Close()
	var total int64
	for rows.Next() {
		var id, bal, sum int64
		if err := rows.Scan(&id, &bal, &sum); err != nil {
			tb.Fatal(err)
		}
		if bal < 0 {
			tb.Errorf("account %d balance %d < 0", id, bal)
		}
		if bal != sum {
			tb.Errorf("account %d balance %d != sum of postings %d", id, bal, sum)
		}
		total += bal
	}
	if err := rows.Err(); err != nil {
		tb.Fatal(err)
	}
	var net int64
	if err := db.QueryRowContext(ctx, `SELECT COALESCE(SUM(CASE type WHEN 'deposit' THEN amount WHEN 'withdrawal' THEN -amount ELSE 0 END), 0)
		FROM transactions WHERE tenant_id = ?`, tenantID).Scan(&net); err != nil {
		tb.Fatal(err)
	}
	if total != net {
		tb.Errorf("total balance %d != deposits - withdrawals %d", total, net)
	}
}
